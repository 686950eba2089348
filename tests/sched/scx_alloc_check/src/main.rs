//! scx_alloc_check: userspace half of the allocator test scheduler. At exit
//! it prints its counters and checks the allocator's metadata from
//! userspace (`scx_arena::alloc`), after real scheduling.

mod bpf_skel {
    include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
}

use std::mem::MaybeUninit;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::alloc::AllocView;
use scx_arena::arena::ArenaView;
use scx_arena::runtime::{self, require_sched_ext, shutdown_flag, SchedError};
use scx_arena::serve::Tunable;
use scx_arena::stats::{Metric, Snapshot};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use bpf_skel::{BpfSkel, BpfSkelBuilder};

/// Test scheduler: allocates and frees arena memory in ops.enqueue.
#[derive(Debug, Parser)]
struct Opts {
    /// Hold the allocator's buddy lock forever after the first enqueue, so
    /// the next buddy operation times out and the scheduler must exit with
    /// that error.
    #[arg(long)]
    break_lock: bool,

    /// Load a program the verifier must reject (an invalid memory access
    /// behind a load-time constant), to test how a rejection is reported.
    #[arg(long)]
    break_verifier: bool,

    /// Never dispatch tasks named COMM (at most 15 bytes), so the sched_ext
    /// watchdog must end the scheduler and name the stalled task.
    #[arg(long, value_name = "COMM", value_parser = parse_comm)]
    stall_comm: Option<String>,

    /// Hold a library lock in ops.init_task() with a preemption of its CPU
    /// pending, and take the same lock in ops.enqueue(): the lock must
    /// keep the holder from being preempted.
    #[arg(long)]
    preempt_holder: bool,

    /// The sched_ext watchdog timeout (ops.timeout_ms), in milliseconds
    /// (100..=30000; default: the kernel's, 30 s).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u32).range(100..=30_000))]
    timeout_ms: Option<u32>,
}

/// A task name that fits the kernel's comm (15 bytes and a NUL).
fn parse_comm(s: &str) -> Result<String, String> {
    match s.len() {
        1..=15 => Ok(s.to_string()),
        _ => Err(format!("'{s}' is not a task name of 1 to 15 bytes")),
    }
}

/// Per-CPU words: enq, allocs, failed, then the ring (see main.bpf.c).
const CPU_WORDS: u64 = 3 + 16;
const MAX_CPUS: u64 = 512;

fn main() -> std::process::ExitCode {
    runtime::report(run(Opts::parse()))
}

fn run(opts: Opts) -> Result<()> {
    require_sched_ext()?;
    runtime::capture_libbpf_log();
    let shutdown = shutdown_flag()?;

    let mut open_object = MaybeUninit::<OpenObject>::uninit();
    let mut skel = scx_ops_open!(
        BpfSkelBuilder::default(),
        &mut open_object,
        check_ops,
        None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
    )?;
    let rodata = skel.maps.rodata_data.as_mut().context("no .rodata")?;
    rodata.break_lock = opts.break_lock;
    rodata.break_verifier = opts.break_verifier;
    rodata.preempt_holder = opts.preempt_holder;
    if let Some(comm) = &opts.stall_comm {
        for (dst, src) in rodata.stall_comm.iter_mut().zip(comm.bytes()) {
            *dst = src as _;
        }
    }
    if let Some(ms) = opts.timeout_ms {
        skel.struct_ops.check_ops_mut().timeout_ms = ms;
    }
    let mut skel = scx_ops_load!(skel, check_ops, uei).map_err(runtime::load_error)?;
    let link = scx_ops_attach!(skel, check_ops)?;
    println!("scx_alloc_check: attached (break_lock={})", opts.break_lock);
    runtime::serve(
        &mut AllocCheck { skel: &mut skel },
        Duration::ZERO,
        None,
        &shutdown,
    )?;
    drop(link);

    // Nothing allocates any more: the metadata is at rest.
    match AllocView::of_object(skel.object())?.check() {
        Ok(_) => println!("alloc-check: ok"),
        Err(v) => {
            for violation in v.iter().take(10) {
                println!("alloc-check: violation: {violation:?}");
            }
        }
    }
    uei_report!(&skel, uei)?;
    Ok(())
}

/// The loaded test scheduler, as the shared runtime sees it.
struct AllocCheck<'a, 'obj> {
    skel: &'a mut BpfSkel<'obj>,
}

impl runtime::Scheduler for AllocCheck<'_, '_> {
    fn tunables(&self) -> &'static [Tunable] {
        &[]
    }

    fn snapshot(&mut self) -> Result<Snapshot, SchedError> {
        let skel = &*self.skel;
        let view = ArenaView::of_object(skel.object())?;
        let bss = skel.maps.bss_data.as_ref().ok_or("no .bss")?;
        let (cpus, holder_rounds) = (bss.cpus as u64, bss.holder_rounds);
        let (mut allocs, mut failed) = (0u64, 0u64);
        for cpu in 0..MAX_CPUS {
            let base = cpus + cpu * CPU_WORDS * 8;
            allocs += view.read::<u64>(base + 8)?;
            failed += view.read::<u64>(base + 16)?;
        }
        let alloc = AllocView::of_object(skel.object())?.stats()?;
        let in_use: i64 = alloc.classes.iter().map(|c| c.objs_in_use).sum();
        let mut s = Snapshot::new("scx_alloc_check");
        s.push(Metric::counter(
            "allocs",
            "allocations in ops.enqueue",
            allocs,
        ))
        .push(Metric::counter("failed", "allocations that failed", failed))
        .push(Metric::counter(
            "holder_rounds",
            "lock holds in ops.init_task (--preempt-holder)",
            holder_rounds,
        ))
        .push(Metric::gauge(
            "slab_in_use",
            "slab objects allocated now",
            in_use.max(0) as u64,
        ));
        Ok(s)
    }

    fn tune(&mut self, name: &'static str, _: u64) -> Result<(), SchedError> {
        Err(format!("no tunable {name}").into())
    }

    fn exited(&mut self) -> bool {
        uei_exited!(&*self.skel, uei)
    }
}
