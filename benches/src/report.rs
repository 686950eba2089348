//! The dispatch-latency benchmark's report: each figure's min, median and
//! max over seeds per contender, its ratio against EEVDF from the same run
//! (significant only when the min–max ranges do not overlap), the
//! per-callback BPF cost of each scheduler against the template's, as a
//! markdown table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::suite::{Contender, Params, RunFigures, CALLBACKS, EEVDF, FIGURES};

/// What the deterministic VM mode measures, and what it cannot.
pub const LIMITS: &str = "Deterministic VM mode (QEMU TCG, `-icount shift=0`): the guest clock \
counts instructions (1 ns = 1 instruction), so the same seed gives the same figures whatever the \
host load. Its limits: no real parallelism (the vCPUs share one instruction clock), and cache \
misses, IPIs and idle exit cost nothing. It measures code-path length and scheduling policy, not \
hardware latency.";

/// The label of the template scheduler, the baseline of callback costs.
pub const TEMPLATE: &str = "scx_template";

/// min, median and max of one figure over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `v`; `None` when empty.
    pub fn of(v: &[f64]) -> Option<Self> {
        if v.is_empty() {
            return None;
        }
        Some(Spread {
            min: crate::min(v),
            median: crate::median(v),
            max: crate::max(v),
        })
    }

    /// True when the two min–max ranges do not overlap.
    pub fn apart(&self, other: &Spread) -> bool {
        self.max < other.min || other.max < self.min
    }
}

/// A figure against EEVDF's in the same run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// median / EEVDF's median.
    pub ratio: f64,
    /// The min–max ranges do not overlap (and there were at least two
    /// seeds).
    pub significant: bool,
    /// The contender is better than EEVDF on this figure (by the median).
    pub better: bool,
}

/// One VM run of one contender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The deterministic mode's seed.
    pub seed: u64,
    /// What it produced.
    pub figures: RunFigures,
    /// Why the run itself failed (VM error, unclean exit), if it did.
    pub failure: Option<String>,
}

/// One contender's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContenderReport {
    /// Who.
    pub contender: Contender,
    /// Each run, by seed.
    pub runs: Vec<Run>,
    /// Each figure's spread over the runs, by [`crate::suite::Figure::key`].
    pub figures: BTreeMap<String, Spread>,
    /// Each figure against EEVDF (absent for EEVDF itself).
    pub ratios: BTreeMap<String, Ratio>,
    /// Each callback's ns per run, the empty program's reading subtracted,
    /// over the runs.
    pub callback_ns: BTreeMap<String, Spread>,
    /// enqueue + dispatch (net ns per run, medians), the cost the template's
    /// is the baseline for.
    pub enqueue_dispatch_ns: Option<f64>,
    /// That against the template's.
    pub enqueue_dispatch_vs_template: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The workloads' sizes.
    pub params: Params,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Quick mode (shorter workloads).
    pub quick: bool,
    /// The guest kernel.
    pub kernel: String,
    /// [`LIMITS`].
    pub limits: String,
    /// An empty BPF program's reading, ns per run (median over runs).
    pub empty_program_ns: Option<f64>,
    /// Every contender, EEVDF first.
    pub contenders: Vec<ContenderReport>,
    /// The host micro-benchmarks' JSON, by tool, when they ran.
    pub host: BTreeMap<String, serde_json::Value>,
    /// The host micro-benchmarks' tables, by tool.
    pub host_tables: BTreeMap<String, String>,
}

impl Report {
    /// Sums up `runs` (per contender, EEVDF among them).
    pub fn new(
        params: Params,
        seeds: Vec<u64>,
        quick: bool,
        kernel: String,
        runs: Vec<(Contender, Vec<Run>)>,
    ) -> Self {
        let empties: Vec<f64> = runs
            .iter()
            .flat_map(|(_, r)| r.iter().filter_map(|r| r.figures.empty_ns))
            .collect();
        let empty = (!empties.is_empty()).then(|| crate::median(&empties));
        let mut contenders: Vec<ContenderReport> = runs
            .into_iter()
            .map(|(contender, runs)| summarize(contender, runs, empty.unwrap_or(0.0)))
            .collect();
        let eevdf = contenders
            .iter()
            .find(|c| c.contender.label == EEVDF)
            .map(|c| c.figures.clone());
        let template = contenders
            .iter()
            .find(|c| c.contender.label == TEMPLATE)
            .and_then(|c| c.enqueue_dispatch_ns);
        for c in &mut contenders {
            if let Some(base) = &eevdf {
                if c.contender.label != EEVDF {
                    c.ratios = ratios(&c.figures, base, c.runs.len());
                }
            }
            if let (Some(t), Some(own)) = (template, c.enqueue_dispatch_ns) {
                c.enqueue_dispatch_vs_template = (t > 0.0).then(|| own / t);
            }
        }
        Report {
            params,
            seeds,
            quick,
            kernel,
            limits: LIMITS.into(),
            empty_program_ns: empty,
            contenders,
            host: BTreeMap::new(),
            host_tables: BTreeMap::new(),
        }
    }

    /// `(contender, figure key)` pairs with no value, and the runs that
    /// failed: what a complete report lacks.
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        for c in &self.contenders {
            for r in &c.runs {
                if let Some(f) = &r.failure {
                    gaps.push(format!("{} seed {}: {f}", c.contender.label, r.seed));
                }
                for k in r.figures.missing() {
                    gaps.push(format!("{} seed {}: no {k}", c.contender.label, r.seed));
                }
            }
            if c.contender.scheduler.is_some() {
                for cb in ["enqueue", "dispatch"] {
                    if !c.callback_ns.contains_key(cb) {
                        gaps.push(format!("{}: no {cb} cost", c.contender.label));
                    }
                }
            }
        }
        gaps
    }

    /// The contenders whose medians are at or below EEVDF's on cyclictest
    /// avg and p99, the probe's and wakelat's p99 wake-to-run latency and
    /// hackbench time (the benchmark's target), with cyclictest's figures
    /// from the two-vCPU VM (`one_cpu` false) or from the one-vCPU VM.
    pub fn target_met(&self, one_cpu: bool) -> Vec<String> {
        let keys = [
            if one_cpu {
                "cyclictest_1cpu_avg_us"
            } else {
                "cyclictest_avg_us"
            },
            if one_cpu {
                "cyclictest_1cpu_p99_us"
            } else {
                "cyclictest_p99_us"
            },
            "probe_p99_us",
            "wakelat_p99_us",
            "hackbench_s",
        ];
        self.contenders
            .iter()
            .filter(|c| c.contender.scheduler.is_some())
            .filter(|c| {
                keys.iter()
                    .all(|k| c.ratios.get(*k).is_some_and(|r| r.ratio <= 1.0))
            })
            .map(|c| c.contender.label.clone())
            .collect()
    }

    /// The report as markdown: the figures table, the callback costs, the
    /// mode's limits, the host micro-benchmarks.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        if !self.contenders.is_empty() {
            self.vm_markdown(&mut s);
        }
        for (tool, table) in &self.host_tables {
            // The tools' own headings become bold lines inside this section.
            let table: Vec<String> = table
                .trim_end()
                .lines()
                .map(|l| match l.strip_prefix('#') {
                    Some(h) => format!("**{}**", h.trim_start_matches('#').trim()),
                    None => l.to_string(),
                })
                .collect();
            let _ = writeln!(
                s,
                "\nHost micro-benchmark `{tool}` (this machine, real time):\n\n{}",
                table.join("\n")
            );
        }
        s
    }

    /// The VM benchmark's part of [`Report::markdown`].
    fn vm_markdown(&self, s: &mut String) {
        let seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(
            s,
            "{} run: {} vCPUs, seeds {} (min/median/max over seeds), guest kernel {}.\n",
            if self.quick {
                "Quick (`--quick`, short workloads)"
            } else {
                "Full"
            },
            self.params.cpus,
            seeds.join(", "),
            self.kernel
        );
        let _ = writeln!(
            s,
            "Each cell: median (min–max, when the seeds differ); below it the ratio against EEVDF's median from the \
same run, **bold** when significant (min–max ranges do not overlap{}), ✓ when better. \
Every seed's figures are in report.json.\n",
            if self.seeds.len() < 2 {
                "; never with one seed"
            } else {
                ""
            }
        );
        let met = |one_cpu: bool| {
            let met = self.target_met(one_cpu);
            if met.is_empty() {
                "met by none".to_string()
            } else {
                format!("met by {}", met.join(", "))
            }
        };
        let _ = writeln!(
            s,
            "Target (cyclictest avg and p99 under load and wake-to-run p99, probe's and \
wakelat's, at or below EEVDF's, hackbench at least as fast): with cyclictest on 2 vCPUs \
and 2 hogs, {}; with cyclictest on 1 vCPU beside 1 hog, {}. On 2 vCPUs the deterministic \
mode's round robin freezes a vCPU for up to a tick (4 ms) while its woken task counts as \
running, so that figure follows how the guest programs its timers more than the \
scheduler's policy; on 1 vCPU there is no round robin.\n",
            met(false),
            met(true)
        );
        let mut header = String::from("| figure |");
        let mut rule = String::from("|---|");
        for c in &self.contenders {
            let _ = write!(header, " {} |", c.contender.label);
            rule.push_str("---|");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for f in FIGURES {
            let _ = write!(s, "| {} ({}) |", f.label, f.unit);
            for c in &self.contenders {
                let cell = match c.figures.get(f.key) {
                    None => "-".to_string(),
                    Some(sp) => {
                        let mut cell = if sp.min == sp.max {
                            num(sp.median)
                        } else {
                            format!("{} ({}–{})", num(sp.median), num(sp.min), num(sp.max))
                        };
                        if let Some(r) = c.ratios.get(f.key) {
                            let ratio = format!("{:.2}x", r.ratio);
                            let ratio = if r.significant {
                                format!("**{ratio}**")
                            } else {
                                ratio
                            };
                            let _ = write!(cell, "<br>{ratio}{}", if r.better { " ✓" } else { "" });
                        }
                        cell
                    }
                };
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "\nPer-callback BPF cost (ns per run, median over seeds, the empty program's {} ns \
subtracted; BPF run-time statistics on only in their own phase, so the latency figures do \
not pay for them):\n",
            self.empty_program_ns.map_or_else(|| "-".into(), num)
        );
        let mut header = String::from("| scheduler |");
        let mut rule = String::from("|---|");
        for cb in CALLBACKS {
            let _ = write!(header, " {cb} |");
            rule.push_str("---|");
        }
        let _ = writeln!(
            s,
            "{header} enqueue+dispatch | vs {TEMPLATE} |\n{rule}---|---|"
        );
        for c in self
            .contenders
            .iter()
            .filter(|c| c.contender.scheduler.is_some())
        {
            let _ = write!(s, "| {} |", c.contender.label);
            for cb in CALLBACKS {
                let cell = c
                    .callback_ns
                    .get(*cb)
                    .map_or_else(|| "-".into(), |sp| num(sp.median));
                let _ = write!(s, " {cell} |");
            }
            let _ = writeln!(
                s,
                " {} | {} |",
                c.enqueue_dispatch_ns.map_or_else(|| "-".into(), num),
                crate::ratio_cell(c.enqueue_dispatch_vs_template)
            );
        }
        let _ = writeln!(s, "\n{}", self.limits);
    }
}

/// A number with three significant digits (plain integers from 1000 up).
pub fn num(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        "-".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A contender's spreads and costs.
fn summarize(contender: Contender, runs: Vec<Run>, empty_ns: f64) -> ContenderReport {
    let mut figures = BTreeMap::new();
    for f in FIGURES {
        let v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.figures.figures.get(f.key).copied())
            .filter(|v| v.is_finite())
            .collect();
        if let Some(sp) = Spread::of(&v) {
            figures.insert(f.key.to_string(), sp);
        }
    }
    let mut callback_ns = BTreeMap::new();
    for cb in CALLBACKS {
        let v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.figures.costs.get(*cb))
            .filter(|c| c.runs > 0)
            .map(|c| (c.ns_per_run - empty_ns).max(0.0))
            .collect();
        if let Some(sp) = Spread::of(&v) {
            callback_ns.insert(cb.to_string(), sp);
        }
    }
    let enqueue_dispatch_ns = match (callback_ns.get("enqueue"), callback_ns.get("dispatch")) {
        (Some(e), Some(d)) => Some(e.median + d.median),
        _ => None,
    };
    ContenderReport {
        contender,
        runs,
        figures,
        ratios: BTreeMap::new(),
        callback_ns,
        enqueue_dispatch_ns,
        enqueue_dispatch_vs_template: None,
    }
}

/// Each figure of `own` against `base`'s.
fn ratios(
    own: &BTreeMap<String, Spread>,
    base: &BTreeMap<String, Spread>,
    nr_runs: usize,
) -> BTreeMap<String, Ratio> {
    FIGURES
        .iter()
        .filter_map(|f| {
            let (o, b) = (own.get(f.key)?, base.get(f.key)?);
            if b.median == 0.0 {
                return None;
            }
            let better = if f.higher_is_better {
                o.median > b.median
            } else {
                o.median < b.median
            };
            Some((
                f.key.to_string(),
                Ratio {
                    ratio: o.median / b.median,
                    significant: nr_runs >= 2 && o.apart(b),
                    better,
                },
            ))
        })
        .collect()
}

/// `text` with the part between the lines `begin` and `end` replaced by
/// `body`; `None` when the markers are not both there, in that order.
pub fn replace_between(text: &str, begin: &str, end: &str, body: &str) -> Option<String> {
    let b = text.find(begin)? + begin.len();
    let e = b + text[b..].find(end)?;
    Some(format!("{}\n{}\n{}", &text[..b], body.trim(), &text[e..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::CallbackFigure;

    fn run(seed: u64, p99: f64, enqueue_ns: Option<f64>) -> Run {
        let mut figures = RunFigures::default();
        figures.figures.insert("probe_p99_us".into(), p99);
        figures.figures.insert("wakelat_rps".into(), 1000.0 / p99);
        figures.empty_ns = Some(80.0);
        if let Some(ns) = enqueue_ns {
            for cb in ["enqueue", "dispatch"] {
                figures.costs.insert(
                    cb.into(),
                    CallbackFigure {
                        runs: 10,
                        ns_per_run: ns,
                    },
                );
            }
        }
        Run {
            seed,
            figures,
            failure: None,
        }
    }

    #[test]
    fn ratios_are_significant_only_when_ranges_do_not_overlap() {
        let runs = vec![
            (
                Contender::eevdf(),
                vec![run(1, 10.0, None), run(2, 12.0, None), run(3, 11.0, None)],
            ),
            (
                Contender::bundled(TEMPLATE),
                vec![
                    run(1, 20.0, Some(280.0)),
                    run(2, 22.0, Some(280.0)),
                    run(3, 21.0, Some(280.0)),
                ],
            ),
            (
                Contender::queue("scx_fair", "dsq"),
                vec![
                    run(1, 9.0, Some(180.0)),
                    run(2, 11.5, Some(180.0)),
                    run(3, 10.0, Some(180.0)),
                ],
            ),
        ];
        let r = Report::new(Params::quick(2), vec![1, 2, 3], true, "k".into(), runs);
        let t = &r.contenders[1];
        let p99 = t.ratios["probe_p99_us"];
        assert_eq!(p99.ratio, 21.0 / 11.0);
        assert!(p99.significant && !p99.better);
        assert!(t.ratios["wakelat_rps"].significant && !t.ratios["wakelat_rps"].better);
        let f = &r.contenders[2];
        assert!(!f.ratios["probe_p99_us"].significant);
        assert!(f.ratios["probe_p99_us"].better);
        assert!(r.contenders[0].ratios.is_empty());
        // Costs net of the empty program (80 ns): 200 + 200 and 100 + 100.
        assert_eq!(t.enqueue_dispatch_ns, Some(400.0));
        assert_eq!(f.enqueue_dispatch_vs_template, Some(0.5));
        let md = r.markdown();
        assert!(md.contains("| figure | EEVDF | scx_template | scx_fair/dsq |"));
        assert!(md.contains("**1.91x**"));
        assert!(md.contains("| scx_fair/dsq |"));
        assert!(r.gaps().iter().any(|g| g.contains("no hackbench_s")));
        // No contender has every target figure (only p99 and rps here).
        assert!(r.target_met(false).is_empty() && r.target_met(true).is_empty());
        assert!(
            md.contains("2 hogs, met by none; with cyclictest on 1 vCPU beside 1 hog, met by none")
        );
    }

    #[test]
    fn target_needs_every_figure_at_or_below_eevdf() {
        // v: the wake-to-run and 2-vCPU cyclictest figures; v1: 1-vCPU cyclictest.
        let run = |v: f64, v1: f64, hackbench: f64| {
            let mut figures = RunFigures::default();
            for k in [
                "cyclictest_avg_us",
                "cyclictest_p99_us",
                "probe_p99_us",
                "wakelat_p99_us",
            ] {
                figures.figures.insert(k.into(), v);
            }
            for k in ["cyclictest_1cpu_avg_us", "cyclictest_1cpu_p99_us"] {
                figures.figures.insert(k.into(), v1);
            }
            figures.figures.insert("hackbench_s".into(), hackbench);
            Run {
                seed: 1,
                figures,
                failure: None,
            }
        };
        let runs = vec![
            (Contender::eevdf(), vec![run(10.0, 10.0, 1.0)]),
            (Contender::bundled(TEMPLATE), vec![run(10.0, 11.0, 1.0)]),
            (
                Contender::queue("scx_fair", "dsq"),
                vec![run(5.0, 5.0, 1.1)],
            ),
            (
                Contender::queue("scx_deadline", "heap"),
                vec![run(11.0, 5.0, 0.9)],
            ),
        ];
        let r = Report::new(Params::quick(2), vec![1], true, "k".into(), runs);
        // The template ties EEVDF on 2 vCPUs but loses on 1; fair loses
        // hackbench; deadline wins on 1 vCPU but loses wake-to-run.
        assert_eq!(r.target_met(false), vec![TEMPLATE.to_string()]);
        assert!(r.target_met(true).is_empty());
        let runs = vec![
            (Contender::eevdf(), vec![run(10.0, 10.0, 1.0)]),
            (
                Contender::queue("scx_deadline", "heap"),
                vec![run(10.0, 5.0, 0.9)],
            ),
        ];
        let r = Report::new(Params::quick(2), vec![1], true, "k".into(), runs);
        assert_eq!(r.target_met(true), vec!["scx_deadline/heap".to_string()]);
    }

    #[test]
    fn one_seed_is_never_significant() {
        let runs = vec![
            (Contender::eevdf(), vec![run(1, 10.0, None)]),
            (Contender::bundled(TEMPLATE), vec![run(1, 20.0, Some(90.0))]),
        ];
        let r = Report::new(Params::quick(2), vec![1], true, "k".into(), runs);
        assert!(!r.contenders[1].ratios["probe_p99_us"].significant);
    }

    #[test]
    fn readme_section_is_replaced_between_markers() {
        let text = "a\n<!-- b -->\nold\n<!-- e -->\nz\n";
        assert_eq!(
            replace_between(text, "<!-- b -->", "<!-- e -->", "new\n").as_deref(),
            Some("a\n<!-- b -->\nnew\n<!-- e -->\nz\n")
        );
        assert_eq!(replace_between("a", "<!-- b -->", "<!-- e -->", "x"), None);
    }
}
