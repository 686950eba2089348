//! The dispatch-latency benchmark's contenders, its guest workload and the
//! figures one VM run of it produced (the `bench` binary runs it, and
//! [`crate::report`] sums it up).
//!
//! Every contender runs the same script, in a VM booted from the same
//! initramfs but for the scheduler: the wakeup workload (`wakelat`) under the
//! wake-to-run probe (`wakeprobe`), `hackbench`, `cyclictest` under
//! `stress-ng --cpu <vCPUs>`, the fork/exec storm (`forkexec`) and, with BPF
//! run-time statistics on, a short mix of hackbench and wakelat under
//! `bpfcost` for the scheduler's per-callback cost. The statistics are on
//! in that phase only, so that their own overhead (two clock reads per
//! callback, which EEVDF does not pay) stays out of the latency figures.
//! The first phase waits for the same guest uptime for every contender
//! ([`SETTLE_UPTIME_SECS`]). Each phase starts with a
//! `bench-phase: <name> uptime=<guest s> sched_ext=<state>` line in the
//! console log; [`phase_state_failure`] checks from those lines that a
//! scheduler ran every phase (and that EEVDF's guest had none). No other
//! process polls sched_ext's state: the guest runs the workload alone.
//!
//! Last, the same VM takes every vCPU but the first offline and runs
//! cyclictest once more beside one CPU hog ([`Params::one_cpu_phase`]).
//! With two vCPUs online the deterministic mode's round robin distorts
//! cyclictest: a vCPU that reprograms its timer is switched out, and the
//! other vCPU then runs up to the next timer deadline, up to a whole tick
//! (4 ms), while the woken cyclictest counts as running on the frozen vCPU
//! (guest traces in the README). An offline vCPU stays halted, so with one
//! vCPU online there is no round robin, and that figure is the scheduler's
//! wakeup preemption alone. A sched_ext scheduler without hotplug callbacks
//! is ended by the kernel when a CPU goes offline and restarted by its
//! runtime; the phase waits for that before it starts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use scx_arena::run::HOTPLUG_WAIT_SH;

use crate::forkexec;
use crate::probe::ProbeSummary;
use crate::progstats::{CallbackCost, EMPTY_LINE_PREFIX};
use crate::resultline::{ParseError, ResultLine};
use crate::wakelat::{self, WORKER_COMM};

/// A scheduler under test: the kernel's default, or a bundled one with
/// its flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contender {
    /// The label in the report (`scx_fair/dsq`).
    pub label: String,
    /// The scheduler's package and binary name; `None` for EEVDF.
    pub scheduler: Option<String>,
    /// Its flags.
    pub args: Vec<String>,
}

/// The label of the kernel's default scheduler, every ratio's reference.
pub const EEVDF: &str = "EEVDF";

impl Contender {
    /// The kernel's own scheduler (no sched_ext scheduler attached).
    pub fn eevdf() -> Self {
        Contender {
            label: EEVDF.into(),
            scheduler: None,
            args: Vec::new(),
        }
    }

    /// Bundled scheduler `name` with its default flags.
    pub fn bundled(name: &str) -> Self {
        Contender {
            label: name.into(),
            scheduler: Some(name.into()),
            args: Vec::new(),
        }
    }

    /// Bundled scheduler `name` with `--queue <queue>`.
    pub fn queue(name: &str, queue: &str) -> Self {
        Contender {
            label: format!("{name}/{queue}"),
            scheduler: Some(name.into()),
            args: vec!["--queue".into(), queue.into()],
        }
    }

    /// EEVDF, then every bundled scheduler and each queue back end.
    pub fn all() -> Vec<Contender> {
        vec![
            Contender::eevdf(),
            Contender::bundled("scx_template"),
            Contender::queue("scx_fair", "rbtree"),
            Contender::queue("scx_fair", "dsq"),
            Contender::queue("scx_deadline", "heap"),
            Contender::queue("scx_deadline", "rbtree"),
            Contender::queue("scx_deadline", "dsq"),
        ]
    }
}

/// How long and how big each workload is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// vCPUs of every VM.
    pub cpus: u32,
    /// wakelat: measured seconds.
    pub wakelat_secs: f64,
    /// wakelat: warmup seconds.
    pub wakelat_warmup_secs: f64,
    /// wakelat: message threads.
    pub wakelat_message_threads: usize,
    /// wakelat: workers per message thread.
    pub wakelat_workers: usize,
    /// wakelat: work loop iterations per request (fixed, so every contender
    /// does the same work).
    pub wakelat_work_loops: u64,
    /// hackbench: groups (`-g`).
    pub hackbench_groups: u32,
    /// hackbench: loops (`-l`).
    pub hackbench_loops: u32,
    /// cyclictest: seconds (`-D`).
    pub cyclictest_secs: u32,
    /// cyclictest: seconds the CPU hogs run before it starts (reports
    /// written before this field existed used 1 s).
    #[serde(default = "default_hog_warmup_secs")]
    pub hog_warmup_secs: f64,
    /// forkexec: children.
    pub fork_count: u64,
    /// wakelat seconds in the cost phase.
    pub cost_wakelat_secs: f64,
}

impl Params {
    /// The full benchmark on `cpus` vCPUs.
    pub fn full(cpus: u32) -> Self {
        Params {
            cpus,
            wakelat_secs: 3.0,
            wakelat_warmup_secs: 0.5,
            wakelat_message_threads: 2,
            wakelat_workers: 4,
            wakelat_work_loops: 10_000,
            hackbench_groups: 2,
            hackbench_loops: 100,
            cyclictest_secs: 5,
            hog_warmup_secs: 1.0,
            fork_count: 300,
            cost_wakelat_secs: 0.5,
        }
    }

    /// Shorter workloads for a smoke run.
    /// The phases under CPU load cost the most host time (a busy guest
    /// second is several host seconds under TCG), so cyclictest and the
    /// hogs' warm-up are the shortest that still give every figure (1,000
    /// cyclictest samples).
    pub fn quick(cpus: u32) -> Self {
        Params {
            wakelat_secs: 0.6,
            wakelat_warmup_secs: 0.1,
            hackbench_groups: 1,
            hackbench_loops: 30,
            cyclictest_secs: 1,
            hog_warmup_secs: 0.25,
            fork_count: 60,
            cost_wakelat_secs: 0.2,
            ..Params::full(cpus)
        }
    }

    /// The guest script every contender runs.
    pub fn script(&self) -> String {
        let wakelat = |secs: f64, warmup: f64| {
            format!(
                "wakelat --runtime {secs} --warmup {warmup} --message-threads {} --workers {} --work-loops {}",
                self.wakelat_message_threads, self.wakelat_workers, self.wakelat_work_loops
            )
        };
        let hackbench = format!(
            "hackbench -g {} -l {}",
            self.hackbench_groups, self.hackbench_loops
        );
        format!(
            r#"phase() {{ echo "{PHASE_PREFIX} $1 uptime=$(cut -d' ' -f1 /proc/uptime) sched_ext=$(cat /sys/kernel/sched_ext/state)"; }}
phase settle
until awk '{{ exit !($1 >= {SETTLE_UPTIME_SECS}) }}' /proc/uptime; do sleep 0.1; done
phase wakelat
wakeprobe --comm {WORKER_COMM} -- {wakelat}
phase hackbench
{hackbench} | sed -n 's/^Time: */{HACKBENCH_PREFIX} secs=/p'
{cyclictest}phase forkexec
forkexec --count {fork_count} --parallel {fork_parallel}
phase costs
bpfcost -- sh -c '{hackbench} >/dev/null && {cost_wakelat} >/dev/null'
{one_cpu}phase end
"#,
            wakelat = wakelat(self.wakelat_secs, self.wakelat_warmup_secs),
            cost_wakelat = wakelat(self.cost_wakelat_secs, 0.0),
            cyclictest = self.cyclictest(self.cpus, CYCLICTEST_PREFIX),
            one_cpu = self.one_cpu_phase(),
            fork_count = self.fork_count,
            fork_parallel = 2 * self.cpus,
        )
    }

    /// The script's last phase: every vCPU but the first goes offline (a
    /// running sched_ext scheduler is ended by the kernel and restarted by
    /// its runtime: wait until it is enabled again, as
    /// [`scx_arena::run::SchedRun::hotplug_cycle`] does), then cyclictest beside
    /// one CPU hog. With a second vCPU still online, it prints why instead of
    /// the cyclictest line.
    pub fn one_cpu_phase(&self) -> String {
        format!(
            r#"phase offline
{HOTPLUG_WAIT_SH}
was=$(st)
for c in /sys/devices/system/cpu/cpu[1-9]*/online; do [ -e "$c" ] && echo 0 > "$c"; done
if [ "$was" = enabled ]; then
	hp_wait
	echo "bench-offline: sched_ext $(st) again"
fi
if [ "$(grep -c '^processor' /proc/cpuinfo)" = 1 ] && [ "$(st)" = "$was" ]; then
{cyclictest}else
	echo "bench-offline: failed: $(grep -c '^processor' /proc/cpuinfo) vCPUs online, sched_ext $(st) (was $was)"
fi
"#,
            cyclictest = self.cyclictest(1, CYCLICTEST_1CPU_PREFIX)
        )
    }

    /// `cyclictest` under `stress-ng --cpu <hogs>` (once the hogs have run
    /// for [`Params::hog_warmup_secs`]), summed up on one `<prefix> avg_us=…`
    /// line.
    fn cyclictest(&self, hogs: u32, prefix: &str) -> String {
        format!(
            r#"stress-ng --cpu {hogs} --timeout {stress_secs}s >/dev/null 2>&1 &
SNG=$!
sleep {warmup}
phase {phase}
cyclictest --policy=other -t1 -i 1000 -D {ct_secs} -q -h {CT_HIST_US} --histfile=/tmp/ct.hist >/dev/null
kill $SNG; wait $SNG
grep -v '[[:space:]]0*$' /tmp/ct.hist | awk 'function d(x) {{ sub(/^0+/, "", x); return x + 0 }}
/^# Total:/ {{ n = d($3) }}
/^# Avg Latencies:/ {{ avg = d($4) }}
/^# Max Latencies:/ {{ max = d($4) }}
!/^#/ {{ k++; lat[k] = d($1); cnt[k] = d($2) }}
END {{
	p99 = max; t = 0
	for (i = 1; i <= k; i++) {{
		t += cnt[i]
		if (t * 100 >= n * 99) {{ p99 = lat[i]; break }}
	}}
	print "{prefix} avg_us=" avg " p99_us=" p99 " max_us=" max " samples=" n
}}'
"#,
            stress_secs = self.cyclictest_secs + 30,
            warmup = self.hog_warmup_secs,
            phase = prefix.trim_end_matches(':'),
            ct_secs = self.cyclictest_secs,
        )
    }
}

fn default_hog_warmup_secs() -> f64 {
    1.0
}

/// Every contender's first phase starts at this guest uptime (s). Right
/// after boot the guest is not yet quiet: on one vCPU, EEVDF's cyclictest
/// p99 read 756 us started at 2.7 s of uptime and 57 us from 4.8 s on. A
/// scheduler's workload starts once it is loaded (4.3-5.3 s), EEVDF's at
/// 2.5 s: without the wait EEVDF would be measured at its worst moment.
/// Waiting idle costs no host time in the deterministic mode.
pub const SETTLE_UPTIME_SECS: u32 = 6;

/// The prefix of the line that starts each phase of the script
/// (`bench-phase: <name> uptime=<guest s> sched_ext=<state>`).
pub const PHASE_PREFIX: &str = "bench-phase:";

/// The prefix of the hackbench line the script prints.
pub const HACKBENCH_PREFIX: &str = "hackbench:";
/// The prefix of the cyclictest summary the script prints.
pub const CYCLICTEST_PREFIX: &str = "cyclictest:";
/// The prefix of the one-vCPU cyclictest summary.
pub const CYCLICTEST_1CPU_PREFIX: &str = "cyclictest-1cpu:";
/// cyclictest's histogram range in us (p99 beyond it reads as the max).
const CT_HIST_US: u32 = 100_000;

/// A figure of the benchmark: its key in the JSON, what it is, its unit,
/// and which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// The key (`probe_p99_us`).
    pub key: &'static str,
    /// What it is, for the report.
    pub label: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// True when a larger value is better (requests per second).
    pub higher_is_better: bool,
}

const fn fig(key: &'static str, label: &'static str, unit: &'static str) -> Figure {
    Figure {
        key,
        label,
        unit,
        higher_is_better: false,
    }
}

/// Every figure each contender must produce, in report order.
pub const FIGURES: &[Figure] = &[
    fig("probe_p50_us", "wake-to-run p50 (probe)", "us"),
    fig("probe_p90_us", "wake-to-run p90 (probe)", "us"),
    fig("probe_p99_us", "wake-to-run p99 (probe)", "us"),
    fig("probe_p99_9_us", "wake-to-run p99.9 (probe)", "us"),
    fig("wakelat_p50_us", "wakelat p50", "us"),
    fig("wakelat_p90_us", "wakelat p90", "us"),
    fig("wakelat_p99_us", "wakelat p99", "us"),
    fig("wakelat_p99_9_us", "wakelat p99.9", "us"),
    Figure {
        key: "wakelat_rps",
        label: "wakelat requests/s",
        unit: "1/s",
        higher_is_better: true,
    },
    fig("hackbench_s", "hackbench time", "s"),
    fig("cyclictest_avg_us", "cyclictest avg (CPU load)", "us"),
    fig("cyclictest_p99_us", "cyclictest p99 (CPU load)", "us"),
    fig("cyclictest_max_us", "cyclictest max (CPU load)", "us"),
    fig(
        "cyclictest_1cpu_avg_us",
        "cyclictest avg (1 vCPU, 1 hog)",
        "us",
    ),
    fig(
        "cyclictest_1cpu_p99_us",
        "cyclictest p99 (1 vCPU, 1 hog)",
        "us",
    ),
    fig(
        "cyclictest_1cpu_max_us",
        "cyclictest max (1 vCPU, 1 hog)",
        "us",
    ),
    fig("forkexec_us", "fork+exec+wait per child", "us"),
];

/// The callbacks whose BPF cost is reported, by their suffix in the
/// program's name (`<scheduler>_<callback>`).
pub const CALLBACKS: &[&str] = &["select_cpu", "enqueue", "dispatch", "running", "stopping"];

/// cyclictest's summary, as the script prints it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cyclictest {
    /// Average latency.
    pub avg_us: f64,
    /// 99th percentile (the max when beyond the histogram).
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Samples.
    pub samples: u64,
}

/// One callback's cost in one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CallbackFigure {
    /// Runs counted.
    pub runs: u64,
    /// ns per run as the statistics charged it.
    pub ns_per_run: f64,
}

/// What one VM run produced; a figure is missing when its workload failed
/// (the reasons are in `errors`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    /// Figures by [`Figure::key`].
    pub figures: BTreeMap<String, f64>,
    /// Per-callback cost by callback name ([`CALLBACKS`]); empty for EEVDF.
    pub costs: BTreeMap<String, CallbackFigure>,
    /// What an empty BPF program reads (the statistics' overhead), ns.
    pub empty_ns: Option<f64>,
    /// Why figures are missing.
    pub errors: Vec<String>,
}

/// Why a run's phases did not all run under the expected scheduler: every
/// `bench-phase:` line of `log` must show sched_ext `enabled` when a
/// scheduler is measured (`scheduler`), `disabled` for EEVDF. None when
/// they all do and there is at least one.
pub fn phase_state_failure(log: &str, scheduler: bool) -> Option<String> {
    let expect = if scheduler { "enabled" } else { "disabled" };
    let mut phases = 0;
    for (rest, line) in ResultLine::all(log, PHASE_PREFIX) {
        phases += 1;
        let state: String = line.get("sched_ext").unwrap_or_else(|_| "unknown".into());
        if state != expect {
            let name = rest.split_whitespace().next().unwrap_or("?");
            return Some(format!(
                "phase {name} began with sched_ext {state}, expected {expect}"
            ));
        }
    }
    (phases == 0).then(|| format!("no {PHASE_PREFIX} line in the log"))
}

impl RunFigures {
    /// Reads every result line out of a run's console `log`.
    pub fn parse(log: &str) -> Self {
        let mut r = RunFigures::default();
        let put =
            |r: &mut RunFigures, what: &str, res: Result<Vec<(&str, f64)>, ParseError>| match res {
                Ok(v) => r
                    .figures
                    .extend(v.into_iter().map(|(k, x)| (k.to_string(), x))),
                Err(e) => r.errors.push(format!("{what}: {e}")),
            };
        let probe = ProbeSummary::parse(log).map(|p| {
            vec![
                ("probe_p50_us", p.p50_us),
                ("probe_p90_us", p.p90_us),
                ("probe_p99_us", p.p99_us),
                ("probe_p99_9_us", p.p99_9_us),
            ]
        });
        put(&mut r, "wakeprobe", probe);
        let own = wakelat::Summary::parse(log).map(|w| {
            vec![
                ("wakelat_p50_us", w.p50_us),
                ("wakelat_p90_us", w.p90_us),
                ("wakelat_p99_us", w.p99_us),
                ("wakelat_p99_9_us", w.p99_9_us),
                ("wakelat_rps", w.rps),
            ]
        });
        put(&mut r, "wakelat", own);
        let hb = ResultLine::find(log, HACKBENCH_PREFIX)
            .and_then(|l| l.get::<f64>("secs"))
            .map(|s| vec![("hackbench_s", s)]);
        put(&mut r, "hackbench", hb);
        let ct = parse_cyclictest(log, CYCLICTEST_PREFIX).map(|c| {
            vec![
                ("cyclictest_avg_us", c.avg_us),
                ("cyclictest_p99_us", c.p99_us),
                ("cyclictest_max_us", c.max_us),
            ]
        });
        put(&mut r, "cyclictest", ct);
        let ct1 = parse_cyclictest(log, CYCLICTEST_1CPU_PREFIX).map(|c| {
            vec![
                ("cyclictest_1cpu_avg_us", c.avg_us),
                ("cyclictest_1cpu_p99_us", c.p99_us),
                ("cyclictest_1cpu_max_us", c.max_us),
            ]
        });
        put(&mut r, "cyclictest (1 vCPU)", ct1);
        let fe = forkexec::Summary::parse(log).map(|f| vec![("forkexec_us", f.per_exec_us)]);
        put(&mut r, "forkexec", fe);
        match ResultLine::find(log, EMPTY_LINE_PREFIX).and_then(|l| l.get::<f64>("ns_per_run")) {
            Ok(ns) => r.empty_ns = Some(ns),
            Err(e) => r.errors.push(format!("bpfcost: {e}")),
        }
        match CallbackCost::parse_all(log) {
            Ok(costs) => {
                for c in costs {
                    if let Some(cb) = callback_of(&c.name) {
                        r.costs.insert(
                            cb.into(),
                            CallbackFigure {
                                runs: c.run_cnt,
                                ns_per_run: c.ns_per_run(),
                            },
                        );
                    }
                }
            }
            Err(e) => r.errors.push(format!("bpfcost: {e}")),
        }
        r
    }

    /// The keys of [`FIGURES`] this run lacks.
    pub fn missing(&self) -> Vec<&'static str> {
        FIGURES
            .iter()
            .map(|f| f.key)
            .filter(|k| !self.figures.get(*k).is_some_and(|v| v.is_finite()))
            .collect()
    }
}

/// The callback of [`CALLBACKS`] a program named `<scheduler>_<callback>`
/// implements.
pub fn callback_of(prog: &str) -> Option<&'static str> {
    CALLBACKS
        .iter()
        .copied()
        .find(|cb| prog.strip_suffix(cb).is_some_and(|p| p.ends_with('_')))
}

/// A script's cyclictest line, the one starting with `prefix`
/// ([`CYCLICTEST_PREFIX`] or [`CYCLICTEST_1CPU_PREFIX`]).
pub fn parse_cyclictest(log: &str, prefix: &'static str) -> Result<Cyclictest, ParseError> {
    let l = ResultLine::find(log, prefix)?;
    Ok(Cyclictest {
        avg_us: l.get("avg_us")?,
        p99_us: l.get("p99_us")?,
        max_us: l.get("max_us")?,
        samples: l.get("samples")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_must_all_run_under_the_expected_scheduler() {
        let ok = "bench-phase: settle uptime=1.00 sched_ext=enabled\n\
                  x\n\
                  bench-phase: end uptime=9.00 sched_ext=enabled\n";
        assert_eq!(phase_state_failure(ok, true), None);
        let why = phase_state_failure(ok, false).expect("EEVDF's guest must have no scheduler");
        assert!(
            why.contains("phase settle") && why.contains("expected disabled"),
            "{why}"
        );
        let lost = "bench-phase: settle uptime=1.00 sched_ext=enabled\n\
                    bench-phase: hackbench uptime=5.00 sched_ext=disabled\n";
        let why = phase_state_failure(lost, true).expect("a lost scheduler must fail");
        assert!(
            why.contains("phase hackbench began with sched_ext disabled"),
            "{why}"
        );
        assert!(phase_state_failure("bench-phase: settle uptime=1.00\n", false).is_some());
        assert!(phase_state_failure("no phases here\n", true).is_some());
    }

    #[test]
    fn callbacks_are_found_by_suffix() {
        assert_eq!(callback_of("deadline_select_cpu"), Some("select_cpu"));
        assert_eq!(callback_of("fair_enqueue"), Some("enqueue"));
        assert_eq!(callback_of("template_runnable"), None);
        assert_eq!(callback_of("enqueue"), None);
    }

    #[test]
    fn a_full_log_gives_every_figure() {
        let log = "\
wakelat: p50_us=5.000 p90_us=9.000 p99_us=20.000 p99_9_us=40.000 max_us=50.000 rps=1000.0 samples=900
wakeprobe: p50_us=4.000 p90_us=8.000 p99_us=19.000 p99_9_us=39.000 max_us=49.000 samples=900 wakeups=950 dropped=3
hackbench: secs=1.250
cyclictest: avg_us=700 p99_us=2000 max_us=4000 samples=3000
cyclictest-1cpu: avg_us=60 p99_us=300 max_us=900 samples=2000
forkexec: n=100 total_ms=50.000 per_exec_us=500.000
bpfcost-empty: ns_per_run=86.0
bpfcost-prog: name=fair_enqueue runs=10 run_time_ns=2500 ns_per_run=250.0
bpfcost-prog: name=fair_runnable runs=10 run_time_ns=1000 ns_per_run=100.0
";
        let r = RunFigures::parse(log);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert!(r.missing().is_empty(), "{:?}", r.missing());
        assert_eq!(r.figures["cyclictest_p99_us"], 2000.0);
        assert_eq!(r.figures["cyclictest_1cpu_p99_us"], 300.0);
        assert_eq!(r.figures["forkexec_us"], 500.0);
        assert_eq!(r.empty_ns, Some(86.0));
        assert_eq!(r.costs.len(), 1);
        assert_eq!(r.costs["enqueue"].ns_per_run, 250.0);

        let partial = RunFigures::parse("hackbench: secs=1.0\n");
        assert!(partial.missing().contains(&"probe_p99_us"));
        assert!(!partial.missing().contains(&"hackbench_s"));
        assert!(!partial.errors.is_empty());
    }
}
