//! A scheduler's statistics as one snapshot, and the formats it leaves the
//! process in: the one-line `key=value` form (`--stats`, logs, tests), JSON
//! (the `scx_stats` socket) and OpenMetrics text (Prometheus).
//!
//! Every scheduler builds a [`Snapshot`] from what it reads through the
//! arena (counters, queue depths, allocator use, the wake-to-run latency
//! histogram) and its current tunables; [`crate::serve`] hands it out.

use scx_stats::serde_json::{json, Map, Value};

use crate::alloc::AllocStats;
use crate::lathist::LatHist;

/// Whether a metric only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic since the scheduler attached.
    Counter,
    /// A level now (queue depth, bytes in use).
    Gauge,
}

/// One named figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// `snake_case` name, unique in the snapshot.
    pub name: &'static str,
    /// One line for `# HELP` and `--help`-style listings.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The value.
    pub value: u64,
}

impl Metric {
    /// A counter.
    pub fn counter(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: Kind::Counter,
            value,
        }
    }

    /// A gauge.
    pub fn gauge(name: &'static str, help: &'static str, value: u64) -> Self {
        Self {
            name,
            help,
            kind: Kind::Gauge,
            value,
        }
    }
}

/// The percentiles every format reports, with their key suffixes.
pub const PERCENTILES: [(f64, &str); 4] =
    [(50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99_9")];

/// Everything a scheduler reports at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The scheduler's name (`scx_template`), a label in OpenMetrics.
    pub scheduler: String,
    /// Counters and gauges, in display order.
    pub metrics: Vec<Metric>,
    /// Wake-to-run latency, merged over CPUs.
    pub wake_to_run: Option<LatHist>,
    /// Current values of the live tunables, by name.
    pub tunables: Vec<(String, u64)>,
}

impl Snapshot {
    /// An empty snapshot of `scheduler`.
    pub fn new(scheduler: impl Into<String>) -> Self {
        Self {
            scheduler: scheduler.into(),
            ..Self::default()
        }
    }

    /// Adds a metric.
    pub fn push(&mut self, m: Metric) -> &mut Self {
        self.metrics.push(m);
        self
    }

    /// Adds the allocator's use as gauges: bytes in slab objects, buddy
    /// pages in use and their peak, and failed allocations (a counter).
    pub fn push_alloc(&mut self, a: &AllocStats) -> &mut Self {
        let slab_bytes: i64 = a.classes.iter().map(|c| c.bytes_in_use).sum();
        let failed =
            a.buddy.failed + a.bump.failed + a.classes.iter().map(|c| c.failed).sum::<u64>();
        self.push(Metric::gauge(
            "alloc_slab_bytes",
            "bytes in slab objects handed out by the arena allocator",
            slab_bytes.max(0) as u64,
        ));
        self.push(Metric::gauge(
            "alloc_pages",
            "arena pages the buddy allocator has handed out",
            a.buddy.pages_used,
        ));
        self.push(Metric::gauge(
            "alloc_pages_peak",
            "high-water mark of alloc_pages",
            a.buddy.pages_used_peak,
        ));
        self.push(Metric::counter(
            "alloc_failed",
            "arena allocations that found no memory",
            failed,
        ));
        self
    }

    /// Wake-to-run figures as (key, ns): count, mean and [`PERCENTILES`]
    /// and max; empty when nothing was recorded.
    fn latency_pairs(&self) -> Vec<(String, u64)> {
        let Some(h) = self.wake_to_run.as_ref().filter(|h| h.count > 0) else {
            return Vec::new();
        };
        let mut v = vec![
            ("wake_to_run_count".to_string(), h.count),
            (
                "wake_to_run_mean_ns".to_string(),
                h.mean().unwrap_or(0.0).round() as u64,
            ),
        ];
        for (p, key) in PERCENTILES {
            v.push((
                format!("wake_to_run_{key}_ns"),
                h.percentile(p).unwrap_or(0),
            ));
        }
        v.push(("wake_to_run_max_ns".to_string(), h.max_ns));
        v
    }

    /// `<prefix> key=value ...`: metrics, then latency, then tunables
    /// (each tunable as `tune_<name>`), parsed back by
    /// [`crate::runtime::parse_stats_line`].
    pub fn line(&self, prefix: &str) -> String {
        let mut line = prefix.to_string();
        for m in &self.metrics {
            line.push_str(&format!(" {}={}", m.name, m.value));
        }
        for (k, v) in self.latency_pairs() {
            line.push_str(&format!(" {k}={v}"));
        }
        for (k, v) in &self.tunables {
            line.push_str(&format!(" tune_{k}={v}"));
        }
        line
    }

    /// The JSON object the `scx_stats` socket serves: every metric and
    /// latency figure by name, plus `"tunables": {name: value}`.
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("scheduler".into(), json!(self.scheduler));
        for m in &self.metrics {
            obj.insert(m.name.into(), json!(m.value));
        }
        for (k, v) in self.latency_pairs() {
            obj.insert(k, json!(v));
        }
        let tunables: Map<String, Value> = self
            .tunables
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        obj.insert("tunables".into(), Value::Object(tunables));
        Value::Object(obj)
    }

    /// The snapshot as OpenMetrics text (what Prometheus scrapes), ending
    /// with `# EOF`. Metric families are prefixed `scx_`, labelled with
    /// the scheduler; latency is a summary in seconds.
    pub fn openmetrics(&self) -> String {
        let label = format!("scheduler=\"{}\"", escape_label(&self.scheduler));
        let mut out = String::new();
        for m in &self.metrics {
            let name = format!("scx_{}", m.name);
            out.push_str(&format!("# HELP {name} {}\n", escape_help(m.help)));
            match m.kind {
                Kind::Counter => {
                    out.push_str(&format!("# TYPE {name} counter\n"));
                    out.push_str(&format!("{name}_total{{{label}}} {}\n", m.value));
                }
                Kind::Gauge => {
                    out.push_str(&format!("# TYPE {name} gauge\n"));
                    out.push_str(&format!("{name}{{{label}}} {}\n", m.value));
                }
            }
        }
        if let Some(h) = &self.wake_to_run {
            let name = "scx_wake_to_run_seconds";
            out.push_str(&format!(
                "# HELP {name} time from a task waking to it running, measured in BPF\n"
            ));
            out.push_str(&format!("# TYPE {name} summary\n"));
            for (p, _) in PERCENTILES {
                if let Some(ns) = h.percentile(p) {
                    out.push_str(&format!(
                        "{name}{{{label},quantile=\"{}\"}} {}\n",
                        p / 100.0,
                        ns as f64 / 1e9
                    ));
                }
            }
            out.push_str(&format!("{name}_count{{{label}}} {}\n", h.count));
            out.push_str(&format!(
                "{name}_sum{{{label}}} {}\n",
                h.sum_ns as f64 / 1e9
            ));
        }
        if !self.tunables.is_empty() {
            let name = "scx_tunable";
            out.push_str(&format!("# HELP {name} current value of a live tunable\n"));
            out.push_str(&format!("# TYPE {name} gauge\n"));
            for (k, v) in &self.tunables {
                out.push_str(&format!(
                    "{name}{{{label},name=\"{}\"}} {v}\n",
                    escape_label(k)
                ));
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// A label value with `\`, `"` and newlines escaped (OpenMetrics).
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A HELP text with `\` and newlines escaped (OpenMetrics).
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::parse_stats_line;

    fn sample() -> Snapshot {
        let mut s = Snapshot::new("scx_test");
        s.push(Metric::counter("enqueues", "tasks queued", 10));
        s.push(Metric::gauge("queued", "tasks waiting", 2));
        let mut h = LatHist::default();
        for ns in [1_000, 2_000, 3_000, 1_000_000] {
            h.record(ns);
        }
        s.wake_to_run = Some(h);
        s.tunables.push(("slice_us".into(), 5000));
        s
    }

    #[test]
    fn line_parses_back() {
        let s = sample();
        let pairs = parse_stats_line("stats:", &s.line("stats:")).expect("parses");
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(get("enqueues"), Some(10));
        assert_eq!(get("queued"), Some(2));
        assert_eq!(get("wake_to_run_count"), Some(4));
        assert_eq!(get("wake_to_run_max_ns"), Some(1_000_000));
        assert_eq!(get("tune_slice_us"), Some(5000));
    }

    #[test]
    fn json_has_every_figure() {
        let v = sample().to_json();
        assert_eq!(v["enqueues"], 10);
        assert_eq!(v["wake_to_run_count"], 4);
        assert_eq!(v["tunables"]["slice_us"], 5000);
    }

    #[test]
    fn openmetrics_is_well_formed() {
        let text = sample().openmetrics();
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE scx_enqueues counter\n"));
        assert!(text.contains("scx_enqueues_total{scheduler=\"scx_test\"} 10\n"));
        assert!(text.contains("scx_queued{scheduler=\"scx_test\"} 2\n"));
        assert!(text.contains("scx_wake_to_run_seconds_count{scheduler=\"scx_test\"} 4\n"));
        assert!(text.contains("scx_tunable{scheduler=\"scx_test\",name=\"slice_us\"} 5000\n"));
        // Every sample line belongs to a family announced by a TYPE line.
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().expect("a name");
            assert!(
                families.iter().any(|f| name.starts_with(f)),
                "{l} has no TYPE"
            );
        }
    }
}
