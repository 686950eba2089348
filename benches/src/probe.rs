//! An independent wake-to-run latency probe (runqlat-style) that measures
//! every scheduler the same way, the kernel's EEVDF included: BPF programs on
//! the `sched_wakeup`, `sched_wakeup_new` and `sched_switch` tracepoints
//! (benches/bpf/wake_probe.bpf.c) stamp a woken task and count the time until
//! it is switched in, into per-CPU histograms in arena memory
//! (`scx_arena/lathist.h`), read here through the arena's mmap.
//!
//! ```no_run
//! # fn f() -> Result<(), scx_arena_benches::probe::ProbeError> {
//! use scx_arena_benches::probe::{Filter, WakeProbe};
//! let probe = WakeProbe::attach(Filter::Watched)?;
//! let child = std::process::Command::new("true").spawn().expect("spawn");
//! probe.watch(child.id())?;
//! // ... let the workload run ...
//! let hist = probe.snapshot()?;
//! println!("p99 {:?} ns over {} wakeups", hist.percentile(99.0), hist.count);
//! # Ok(()) }
//! ```
//!
//! Dropping the probe detaches it. Needs root (CAP_BPF, CAP_PERFMON) and a
//! kernel with BPF arena and `tp_btf` programs (6.9+).

use libbpf_rs::{Link, MapCore, MapFlags, Object, ObjectBuilder, ProgramInput, ProgramType};
use scx_arena::arena::{ArenaError, ArenaView};
use scx_arena::globals::{read_global, GlobalError};
use scx_arena::lathist::LatHist;
use serde::{Deserialize, Serialize};

use crate::resultline::{ParseError, ResultLine};

/// benches/bpf/wake_probe.bpf.c, built by build.rs.
const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wake_probe.bpf.o"));

/// `WP_MAX_CPUS` (wake_probe.h).
pub const MAX_CPUS: usize = 512;
/// `WP_INIT_WORDS` (wake_probe.h).
const INIT_WORDS: usize = 6;
/// Longest comm prefix (`WP_COMM_LEN` - 1: a comm is 15 bytes and a NUL).
pub const MAX_COMM_PREFIX: usize = 15;
/// The program that allocates the histograms.
const INIT_PROG: &str = "wake_probe_init";
/// The tgid filter map.
const TGIDS_MAP: &str = "wp_tgids";

/// Why the probe could not be set up or read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// libbpf could not open the embedded object.
    #[error("cannot open the wake probe's BPF object: {0}")]
    Open(libbpf_rs::Error),
    /// The kernel refused to load the object.
    #[error(
        "cannot load the wake probe (root and a kernel with BPF arena and tp_btf needed): {0}"
    )]
    Load(libbpf_rs::Error),
    /// The comm prefix is longer than [`MAX_COMM_PREFIX`] bytes.
    #[error("comm prefix '{0}' is longer than {MAX_COMM_PREFIX} bytes")]
    CommPrefix(String),
    /// The number of possible CPUs is unknown or above [`MAX_CPUS`].
    #[error("possible CPUs: {0}")]
    Cpus(String),
    /// `wake_probe_init` failed to run or returned an error.
    #[error("wake_probe_init failed: {0}")]
    Init(String),
    /// A program could not be attached to its tracepoint.
    #[error("cannot attach {prog}: {err}")]
    Attach {
        /// The program.
        prog: String,
        /// libbpf's error.
        err: libbpf_rs::Error,
    },
    /// The object lacks a map or program this code expects.
    #[error("the wake probe's object has no {0}")]
    Missing(&'static str),
    /// Updating the tgid filter failed.
    #[error("cannot watch tgid {tgid}: {err}")]
    Watch {
        /// The process.
        tgid: u32,
        /// libbpf's error.
        err: libbpf_rs::Error,
    },
    /// The histograms could not be read through the arena.
    #[error(transparent)]
    Arena(#[from] ArenaError),
    /// A global counter could not be read.
    #[error(transparent)]
    Global(#[from] GlobalError),
}

/// Which tasks the probe counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every task on the machine.
    AllTasks,
    /// Only the threads of processes passed to [`WakeProbe::watch`].
    Watched,
}

/// The probe's event counters, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeCounts {
    /// Wakeups stamped (`sched_wakeup` + `sched_wakeup_new` of counted tasks).
    pub wakeups: u64,
    /// Stamps dropped: the task was woken while still on its CPU and
    /// switched out later without waiting to be switched in.
    pub dropped: u64,
}

/// An attached wake-to-run probe; dropping it detaches the programs.
#[derive(Debug)]
pub struct WakeProbe {
    // Declared before `obj`: links are dropped (detached) first.
    links: Vec<Link>,
    obj: Object,
    hists: u64,
    nr_cpus: usize,
}

impl WakeProbe {
    /// Loads the probe, allocates its histograms and attaches it to the
    /// scheduler tracepoints.
    pub fn attach(filter: Filter) -> Result<Self, ProbeError> {
        Self::attach_comm(filter, "")
    }

    /// [`WakeProbe::attach`], counting only tasks whose comm (thread name)
    /// starts with `comm_prefix` (every task when it is empty): the worker
    /// threads of a workload, say.
    pub fn attach_comm(filter: Filter, comm_prefix: &str) -> Result<Self, ProbeError> {
        if comm_prefix.len() > MAX_COMM_PREFIX {
            return Err(ProbeError::CommPrefix(comm_prefix.into()));
        }
        let nr_cpus =
            libbpf_rs::num_possible_cpus().map_err(|e| ProbeError::Cpus(e.to_string()))?;
        if nr_cpus == 0 || nr_cpus > MAX_CPUS {
            return Err(ProbeError::Cpus(format!(
                "{nr_cpus} (the probe handles 1 to {MAX_CPUS})"
            )));
        }
        let obj = ObjectBuilder::default()
            .open_memory(OBJECT)
            .map_err(ProbeError::Open)?
            .load()
            .map_err(ProbeError::Load)?;
        let hists = init(&obj, nr_cpus, filter, comm_prefix)?;
        let mut links = Vec::new();
        for prog in obj.progs_mut() {
            if prog.prog_type() != ProgramType::Tracing {
                continue;
            }
            let link = prog.attach().map_err(|err| ProbeError::Attach {
                prog: prog.name().to_string_lossy().into_owned(),
                err,
            })?;
            links.push(link);
        }
        Ok(WakeProbe {
            links,
            obj,
            hists,
            nr_cpus,
        })
    }

    /// Counts the threads of process `tgid` from now on (with
    /// [`Filter::Watched`]; without a filter every task counts anyway).
    pub fn watch(&self, tgid: u32) -> Result<(), ProbeError> {
        let map = self
            .obj
            .maps()
            .find(|m| m.name() == TGIDS_MAP)
            .ok_or(ProbeError::Missing("wp_tgids map"))?;
        map.update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .map_err(|err| ProbeError::Watch { tgid, err })
    }

    /// The wake-to-run latencies counted since attach, merged over CPUs.
    pub fn snapshot(&self) -> Result<LatHist, ProbeError> {
        let view = ArenaView::of_object(&self.obj)?;
        Ok(LatHist::read_per_cpu(&view, self.hists, self.nr_cpus)?)
    }

    /// The wakeups stamped and stamps dropped since attach.
    pub fn counts(&self) -> Result<ProbeCounts, ProbeError> {
        let wakeups: [u64; MAX_CPUS] = read_global(&self.obj, "wp_nr_wakeups")?;
        let dropped: [u64; MAX_CPUS] = read_global(&self.obj, "wp_nr_dropped")?;
        Ok(ProbeCounts {
            wakeups: wakeups.iter().sum(),
            dropped: dropped.iter().sum(),
        })
    }

    /// The loaded BPF object (for [`crate::progstats::callback_costs`]: the
    /// probe's own cost per event).
    pub fn object(&self) -> &Object {
        &self.obj
    }

    /// Programs attached (three: wakeup, wakeup_new, switch).
    pub fn nr_attached(&self) -> usize {
        self.links.len()
    }
}

/// Runs `wake_probe_init`: allocates the histograms, sets the filters, and
/// returns the histograms' arena address.
fn init(obj: &Object, nr_cpus: usize, filter: Filter, comm: &str) -> Result<u64, ProbeError> {
    let prog = obj
        .progs_mut()
        .find(|p| p.name() == INIT_PROG)
        .ok_or(ProbeError::Missing("wake_probe_init program"))?;
    let mut comm_bytes = [0u8; 16];
    comm_bytes[..comm.len()].copy_from_slice(comm.as_bytes());
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&comm_bytes[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    let words: [u64; INIT_WORDS] = [
        nr_cpus as u64,
        u64::from(filter == Filter::Watched),
        0,
        comm.len() as u64,
        word(0),
        word(1),
    ];
    let mut ctx = crate::ctx_bytes(&words);
    let input = ProgramInput {
        context_in: Some(&mut ctx),
        ..Default::default()
    };
    let ret = prog
        .test_run(input)
        .map_err(|e| ProbeError::Init(e.to_string()))?
        .return_value;
    if ret != 0 {
        return Err(ProbeError::Init(format!("returned {}", ret as i32)));
    }
    // The kernel copies a syscall program's context back into context_in.
    let hists = crate::ctx_words::<INIT_WORDS>(&ctx)[2];
    if hists == 0 {
        return Err(ProbeError::Init("no histogram address".into()));
    }
    Ok(hists)
}

/// The prefix of [`ProbeSummary::line`].
pub const LINE_PREFIX: &str = "wakeprobe:";

/// The probe's figures in one line (latencies in microseconds), the
/// percentiles named as in the workload's line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeSummary {
    /// Median wake-to-run latency.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Wakeups that ended with the task switched in (latency samples).
    pub samples: u64,
    /// Wakeups stamped.
    pub wakeups: u64,
    /// Stamps dropped (see [`ProbeCounts::dropped`]).
    pub dropped: u64,
}

impl ProbeSummary {
    /// The percentiles of `hist` (0 when empty) and the counters.
    pub fn of(hist: &LatHist, counts: &ProbeCounts) -> Self {
        let us = |p: f64| hist.percentile(p).unwrap_or(0) as f64 / 1000.0;
        ProbeSummary {
            p50_us: us(50.0),
            p90_us: us(90.0),
            p99_us: us(99.0),
            p99_9_us: us(99.9),
            max_us: hist.max_ns as f64 / 1000.0,
            samples: hist.count,
            wakeups: counts.wakeups,
            dropped: counts.dropped,
        }
    }

    /// `wakeprobe: p50_us=.. p90_us=.. p99_us=.. p99_9_us=.. max_us=..
    /// samples=.. wakeups=.. dropped=..` (latencies to the ns).
    pub fn line(&self) -> String {
        format!(
            "{LINE_PREFIX} p50_us={:.3} p90_us={:.3} p99_us={:.3} p99_9_us={:.3} max_us={:.3} samples={} wakeups={} dropped={}",
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.p99_9_us,
            self.max_us,
            self.samples,
            self.wakeups,
            self.dropped
        )
    }

    /// Reads the line out of `output` (the first line that starts with
    /// [`LINE_PREFIX`]).
    pub fn parse(output: &str) -> Result<Self, ParseError> {
        let l = ResultLine::find(output, LINE_PREFIX)?;
        Ok(ProbeSummary {
            p50_us: l.get("p50_us")?,
            p90_us: l.get("p90_us")?,
            p99_us: l.get("p99_us")?,
            p99_9_us: l.get("p99_9_us")?,
            max_us: l.get("max_us")?,
            samples: l.get("samples")?,
            wakeups: l.get("wakeups")?,
            dropped: l.get("dropped")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips() {
        let mut h = LatHist::default();
        for ns in [900, 1500, 70_000] {
            h.record(ns);
        }
        let counts = ProbeCounts {
            wakeups: 4,
            dropped: 1,
        };
        let s = ProbeSummary::of(&h, &counts);
        assert_eq!(s.samples, 3);
        assert_eq!(s.max_us, 70.0);
        let out = format!("workload output\n{}\n", s.line());
        assert_eq!(ProbeSummary::parse(&out), Ok(s));
    }
}
