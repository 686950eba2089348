//! Per-program BPF cost from the kernel's program statistics: while run-time
//! statistics are enabled, the kernel adds each run of a program to its
//! `run_cnt` and the time it took to its `run_time_ns`
//! (`bpf_prog_info`), for every program type: a scheduler's callbacks, a
//! tracing probe, a syscall program run through `BPF_PROG_TEST_RUN`.
//!
//! ```no_run
//! # fn f(obj: &libbpf_rs::Object) -> Result<(), scx_arena_benches::progstats::StatsError> {
//! use scx_arena_benches::progstats::{callback_costs, RunTimeStats};
//! let _stats = RunTimeStats::enable()?; // kept alive while measuring
//! // ... run the workload ...
//! for c in callback_costs(obj)? {
//!     println!("{}: {} runs, {:.0} ns each", c.name, c.run_cnt, c.ns_per_run());
//! }
//! # Ok(()) }
//! ```
//!
//! The figures include the kernel's own timing overhead (two clock reads
//! per run, tens of ns): compare programs measured the same way, or
//! subtract an empty program's figure.

use std::os::fd::{FromRawFd, OwnedFd};

use libbpf_rs::btf::{Btf, BtfType, TypeId};
use libbpf_rs::libbpf_sys;
use libbpf_rs::query::{ProgInfoIter, ProgInfoQueryOptions};
use libbpf_rs::{AsRawLibbpf, Object, ObjectBuilder, ProgramInput, ProgramType};

use crate::resultline::{ParseError, ResultLine};

/// benches/bpf/empty.bpf.c, built by build.rs.
const EMPTY_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/empty.bpf.o"));
/// Its program.
const EMPTY_PROG: &str = "empty";

/// The prefix of [`CallbackCost::line`].
pub const PROG_LINE_PREFIX: &str = "bpfcost-prog:";
/// The prefix of the `bpfcost` tool's empty-program line
/// (`bpfcost-empty: ns_per_run=..`).
pub const EMPTY_LINE_PREFIX: &str = "bpfcost-empty:";

/// Why statistics could not be enabled or read.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// `BPF_ENABLE_STATS` failed.
    #[error("cannot enable BPF run-time statistics (root needed): {0}")]
    Enable(std::io::Error),
    /// `BPF_OBJ_GET_INFO_BY_FD` failed for a program.
    #[error("cannot read the info of BPF program {prog}: {err}")]
    Info {
        /// The program.
        prog: String,
        /// The error.
        err: std::io::Error,
    },
    /// The empty program could not be loaded or run.
    #[error("empty program: {0}")]
    Empty(String),
}

/// Run-time statistics switched on (`BPF_ENABLE_STATS`), for as long as
/// this value lives; the sysctl `kernel.bpf_stats_enabled` is left alone.
#[derive(Debug)]
pub struct RunTimeStats {
    _fd: OwnedFd,
}

impl RunTimeStats {
    /// Switches run-time statistics on until the returned value is dropped.
    pub fn enable() -> Result<Self, StatsError> {
        // SAFETY: plain syscall wrapper without pointers.
        let fd = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
        if fd < 0 {
            return Err(StatsError::Enable(std::io::Error::last_os_error()));
        }
        // SAFETY: the kernel just returned this fd to us; we own it.
        Ok(RunTimeStats {
            _fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }
}

/// One program's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCost {
    /// The program's name (the BPF function's).
    pub name: String,
    /// Runs counted while statistics were on.
    pub run_cnt: u64,
    /// Their total run time, in ns.
    pub run_time_ns: u64,
}

impl CallbackCost {
    /// Mean ns per run (0 when it never ran).
    pub fn ns_per_run(&self) -> f64 {
        if self.run_cnt == 0 {
            0.0
        } else {
            self.run_time_ns as f64 / self.run_cnt as f64
        }
    }

    /// `bpfcost-prog: name=.. runs=.. ns_per_run=..`, one program's line of
    /// the `bpfcost` tool.
    pub fn line(&self) -> String {
        format!(
            "{PROG_LINE_PREFIX} name={} runs={} run_time_ns={} ns_per_run={:.1}",
            self.name,
            self.run_cnt,
            self.run_time_ns,
            self.ns_per_run()
        )
    }

    /// Every [`CallbackCost::line`] in `output`, in order.
    pub fn parse_all(output: &str) -> Result<Vec<CallbackCost>, ParseError> {
        output
            .lines()
            .filter(|l| l.trim_start().starts_with(PROG_LINE_PREFIX))
            .map(|l| {
                let l = ResultLine::find(l, PROG_LINE_PREFIX)?;
                Ok(CallbackCost {
                    name: l.get("name")?,
                    run_cnt: l.get("runs")?,
                    run_time_ns: l.get("run_time_ns")?,
                })
            })
            .collect()
    }

    /// The runs and time since `before` (an earlier reading of the same
    /// program).
    pub fn since(&self, before: &CallbackCost) -> CallbackCost {
        CallbackCost {
            name: self.name.clone(),
            run_cnt: self.run_cnt.saturating_sub(before.run_cnt),
            run_time_ns: self.run_time_ns.saturating_sub(before.run_time_ns),
        }
    }
}

/// The statistics of every loaded program of `obj`, in the object's order
/// (programs left out of the load are skipped).
pub fn callback_costs(obj: &Object) -> Result<Vec<CallbackCost>, StatsError> {
    let mut costs = Vec::new();
    for p in obj.progs() {
        // SAFETY: the program pointer is valid while obj lives; libbpf
        // returns its fd, or a negative error when it was not loaded.
        let fd = unsafe { libbpf_sys::bpf_program__fd(p.as_libbpf_object().as_ptr()) };
        if fd < 0 {
            continue;
        }
        let name = p.name().to_string_lossy().into_owned();
        let (run_cnt, run_time_ns) = prog_stats(fd).map_err(|err| StatsError::Info {
            prog: name.clone(),
            err,
        })?;
        costs.push(CallbackCost {
            name,
            run_cnt,
            run_time_ns,
        });
    }
    Ok(costs)
}

/// The statistics of every struct_ops program loaded on the machine (the
/// callbacks of an attached sched_ext scheduler, whoever loaded it), each
/// named by its BPF function's full name, read from the program's BTF (the
/// kernel keeps only 15 bytes of a program's name).
pub fn struct_ops_costs() -> Vec<CallbackCost> {
    let opts = ProgInfoQueryOptions::default().include_func_info(true);
    ProgInfoIter::with_query_opts(opts)
        .filter(|info| info.ty == ProgramType::StructOps)
        .map(|info| {
            let name = info
                .func_info
                .first()
                .and_then(|f| btf_func_name(info.id, f.type_id))
                .unwrap_or_else(|| info.name.to_string_lossy().into_owned());
            CallbackCost {
                name,
                run_cnt: info.run_cnt,
                run_time_ns: info.run_time_ns,
            }
        })
        .collect()
}

/// The name of type `type_id` in the BTF of program `prog_id`.
fn btf_func_name(prog_id: u32, type_id: u32) -> Option<String> {
    let btf = Btf::from_prog_id(prog_id).ok()?;
    let ty: BtfType<'_> = btf.type_by_id(TypeId::from(type_id))?;
    Some(ty.name()?.to_string_lossy().into_owned())
}

/// What run-time statistics charge a program that does nothing, in ns per
/// run: the mean of `runs` runs of an empty program (benches/bpf/empty.bpf.c)
/// through `BPF_PROG_TEST_RUN`. Statistics must be on ([`RunTimeStats`]).
/// Subtract it from a callback's [`CallbackCost::ns_per_run`] for the
/// callback's own cost.
pub fn empty_program_cost(runs: u32) -> Result<f64, StatsError> {
    let err = |e: libbpf_rs::Error| StatsError::Empty(e.to_string());
    let obj = ObjectBuilder::default()
        .open_memory(EMPTY_OBJECT)
        .map_err(err)?
        .load()
        .map_err(err)?;
    let prog = obj
        .progs_mut()
        .find(|p| p.name() == EMPTY_PROG)
        .ok_or_else(|| StatsError::Empty("no program named empty".into()))?;
    for _ in 0..runs {
        prog.test_run(ProgramInput::default()).map_err(err)?;
    }
    let cost = callback_costs(&obj)?
        .into_iter()
        .find(|c| c.name == EMPTY_PROG)
        .ok_or_else(|| StatsError::Empty("the program was not loaded".into()))?;
    Ok(cost.ns_per_run())
}

/// `(run_cnt, run_time_ns)` of the program behind `fd`.
fn prog_stats(fd: i32) -> Result<(u64, u64), std::io::Error> {
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: info is a zeroed bpf_prog_info of `len` bytes (no pointers to
    // arrays requested, so the kernel writes only into it).
    let ret = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
    if ret != 0 {
        return Err(std::io::Error::from_raw_os_error(-ret));
    }
    Ok((info.run_cnt, info.run_time_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let costs = vec![
            CallbackCost {
                name: "fair_enqueue".into(),
                run_cnt: 10,
                run_time_ns: 2500,
            },
            CallbackCost {
                name: "fair_dispatch".into(),
                run_cnt: 0,
                run_time_ns: 0,
            },
        ];
        let out: String = costs
            .iter()
            .map(|c| format!("noise\n{}\n", c.line()))
            .collect();
        assert_eq!(CallbackCost::parse_all(&out), Ok(costs));
        assert_eq!(CallbackCost::parse_all("nothing"), Ok(vec![]));
    }
}
