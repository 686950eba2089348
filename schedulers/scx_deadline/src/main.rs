//! scx_deadline: userspace half. Loads the virtual-deadline scheduler with
//! the chosen queue back end, prints its statistics from arena memory, and
//! detaches cleanly on SIGINT/SIGTERM.

mod bpf_skel {
    include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
}
#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
mod bpf_intf {
    include!(concat!(env!("OUT_DIR"), "/bpf_intf.rs"));
}

use std::mem::MaybeUninit;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::runtime::{require_sched_ext, shutdown_flag, stats_line, watch};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use bpf_skel::{BpfSkel, BpfSkelBuilder};

// SAFETY: arrays of u64 counters; every bit pattern is valid.
unsafe impl ArenaPod for bpf_intf::deadline_stats {}

/// Where waiting tasks are kept, in deadline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Queue {
    /// The arena run queue: a locked binary heap (rq.h).
    Heap,
    /// The arena red-black tree (rbtree.h).
    Rbtree,
    /// The kernel's own vtime dispatch queue.
    Dsq,
}

impl Queue {
    fn kind(self) -> u32 {
        match self {
            Queue::Heap => bpf_intf::deadline_queue_DEADLINE_QUEUE_HEAP,
            Queue::Rbtree => bpf_intf::deadline_queue_DEADLINE_QUEUE_RBTREE,
            Queue::Dsq => bpf_intf::deadline_queue_DEADLINE_QUEUE_DSQ,
        }
    }
}

/// A latency-oriented virtual-deadline scheduler: the earliest deadline
/// runs first, tasks that sleep often get earlier deadlines than CPU hogs,
/// and a waking task preempts a CPU running a later deadline.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Time slice, and the request behind each deadline, in microseconds
    /// (100..=1000000).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// How much earlier, in microseconds of virtual time, a waking task's
    /// deadline must be than a running task's for it to preempt that task
    /// (0..=1000000; 0: any earlier deadline preempts).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    preempt_us: u64,

    /// Queue back end for waiting tasks (load time only).
    #[arg(long, value_enum, default_value_t = Queue::Heap)]
    queue: Queue,

    /// Print statistics every SECS seconds (0: only at exit).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    stats: f64,
}

/// Totals over all CPUs, plus the gauges.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    local: u64,
    enqueue: u64,
    dispatch: u64,
    preempt: u64,
    fallback: u64,
    /// Tasks waiting in the queue at the last dispatch (a gauge).
    queued: u64,
    /// The live knobs, as the BPF side reads them.
    slice_us: u64,
    preempt_us: u64,
}

fn read_totals(skel: &BpfSkel) -> Result<Totals> {
    let bss = skel.maps.bss_data.as_ref().context("no .bss")?;
    let view = ArenaView::of_object(skel.object())?;
    let stats: bpf_intf::deadline_stats = view.read(bss.stats as u64)?;
    let mut t = stats.cpu.iter().fold(Totals::default(), |t, c| Totals {
        local: t.local + c.local,
        enqueue: t.enqueue + c.enqueue,
        dispatch: t.dispatch + c.dispatch,
        preempt: t.preempt + c.preempt,
        fallback: t.fallback + c.fallback,
        ..t
    });
    t.queued = stats.queued;
    t.slice_us = bss.tune.slice_ns / 1000;
    t.preempt_us = bss.tune.preempt_ns / 1000;
    Ok(t)
}

fn print_totals(prefix: &str, t: Totals) {
    println!(
        "{}",
        stats_line(
            prefix,
            &[
                ("local", t.local),
                ("enqueue", t.enqueue),
                ("dispatch", t.dispatch),
                ("preempt", t.preempt),
                ("fallback", t.fallback),
                ("queued", t.queued),
                ("slice_us", t.slice_us),
                ("preempt_us", t.preempt_us),
            ]
        )
    );
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    if !(opts.stats >= 0.0 && opts.stats.is_finite()) {
        bail!(
            "--stats must be a non-negative number of seconds, not {}",
            opts.stats
        );
    }
    require_sched_ext()?;
    let shutdown = shutdown_flag()?;

    loop {
        let mut open_object = MaybeUninit::<OpenObject>::uninit();
        let mut skel = scx_ops_open!(
            BpfSkelBuilder::default(),
            &mut open_object,
            deadline_ops,
            None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
        )?;
        skel.maps
            .rodata_data
            .as_mut()
            .context("no .rodata")?
            .queue_kind = opts.queue.kind();
        let tune = &mut skel.maps.bss_data.as_mut().context("no .bss")?.tune;
        tune.slice_ns = opts.slice_us * 1000;
        tune.preempt_ns = opts.preempt_us * 1000;
        let mut skel = scx_ops_load!(skel, deadline_ops, uei)?;
        let link = scx_ops_attach!(skel, deadline_ops)?;
        println!(
            "scx_deadline: attached (queue {:?}, slice {} us, preempt {} us)",
            opts.queue, opts.slice_us, opts.preempt_us
        );

        let interval = Duration::from_secs_f64(opts.stats);
        watch(
            &shutdown,
            interval,
            || uei_exited!(&skel, uei),
            || {
                print_totals("stats:", read_totals(&skel)?);
                anyhow::Ok(())
            },
        )?;
        print_totals("stats-final:", read_totals(&skel)?);
        drop(link);
        let exit = uei_report!(&skel, uei)?;
        if !exit.should_restart() {
            return Ok(());
        }
        println!("scx_deadline: the kernel asked for a restart");
    }
}
