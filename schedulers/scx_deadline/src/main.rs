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

use anyhow::Context;
use clap::{Parser, ValueEnum};
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::alloc::AllocView;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::lathist::LatHist;
use scx_arena::runtime::{self, CommonOpts, SchedError};
use scx_arena::serve::Tunable;
use scx_arena::stats::{Metric, Snapshot};
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
    /// (100..=1000000). Live: --tune slice_us=N.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// How much earlier, in microseconds of virtual time, a waking task's
    /// deadline must be than a running task's for it to preempt that task
    /// (0..=1000000; 0: any earlier deadline preempts). Live: --tune preempt_us=N.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    preempt_us: u64,

    /// Queue back end for waiting tasks (load time only).
    #[arg(long, value_enum, default_value_t = Queue::Heap)]
    queue: Queue,

    #[command(flatten)]
    common: CommonOpts,
}

/// The live tunables: the same names and ranges as the flags.
const TUNABLES: &[Tunable] = &[
    Tunable {
        name: "slice_us",
        min: 100,
        max: 1_000_000,
    },
    Tunable {
        name: "preempt_us",
        min: 0,
        max: 1_000_000,
    },
];

/// The loaded scheduler, as the shared runtime sees it.
struct Deadline<'a, 'obj> {
    skel: &'a mut BpfSkel<'obj>,
}

impl runtime::Scheduler for Deadline<'_, '_> {
    fn tunables(&self) -> &'static [Tunable] {
        TUNABLES
    }

    fn snapshot(&mut self) -> Result<Snapshot, SchedError> {
        let skel = &*self.skel;
        let bss = skel.maps.bss_data.as_ref().ok_or("no .bss")?;
        let view = ArenaView::of_object(skel.object())?;
        let stats: bpf_intf::deadline_stats = view.read(bss.stats as u64)?;
        let sum = |f: fn(&bpf_intf::deadline_cpu_stats) -> u64| stats.cpu.iter().map(f).sum();

        let mut s = Snapshot::new("scx_deadline");
        s.push(Metric::counter(
            "local",
            "wakeups that found an idle CPU and ran there directly",
            sum(|c| c.local),
        ))
        .push(Metric::counter(
            "enqueue",
            "tasks queued by deadline",
            sum(|c| c.enqueue),
        ))
        .push(Metric::counter(
            "dispatch",
            "tasks moved from the queue to the CPU that asked",
            sum(|c| c.dispatch),
        ))
        .push(Metric::counter(
            "preempt",
            "wakeups that preempted a task with a later deadline",
            sum(|c| c.preempt),
        ))
        .push(Metric::counter(
            "fallback",
            "tasks the arena queue refused, sent to SCX_DSQ_GLOBAL",
            sum(|c| c.fallback),
        ))
        .push(Metric::gauge(
            "queued",
            "tasks waiting in the queue, sampled at each dispatch",
            stats.queued,
        ))
        .push_alloc(&AllocView::of_object(skel.object())?.stats()?);
        s.wake_to_run = Some(LatHist::read_per_cpu(
            &view,
            bss.wake_lat as u64,
            bss.nr_lat as usize,
        )?);
        s.tunables
            .push(("slice_us".into(), bss.tune.slice_ns / 1000));
        s.tunables
            .push(("preempt_us".into(), bss.tune.preempt_ns / 1000));
        Ok(s)
    }

    fn tune(&mut self, name: &'static str, value: u64) -> Result<(), SchedError> {
        let bss = self.skel.maps.bss_data.as_mut().ok_or("no .bss")?;
        match name {
            "slice_us" => bss.tune.slice_ns = value * 1000,
            "preempt_us" => bss.tune.preempt_ns = value * 1000,
            _ => return Err(format!("no tunable {name}").into()),
        }
        Ok(())
    }

    fn exited(&mut self) -> bool {
        uei_exited!(&*self.skel, uei)
    }
}

fn main() -> std::process::ExitCode {
    let opts = Opts::parse();
    runtime::report(runtime::run(
        "scx_deadline",
        &opts.common,
        |service, shutdown| {
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
            opts.common.size_arena(&mut skel.maps.arena)?;
            let mut skel = scx_ops_load!(skel, deadline_ops, uei).map_err(runtime::load_error)?;
            let link = scx_ops_attach!(skel, deadline_ops)?;
            println!(
                "scx_deadline: attached (queue {:?}, slice {} us, preempt {} us)",
                opts.queue, opts.slice_us, opts.preempt_us
            );

            let mut sched = Deadline { skel: &mut skel };
            runtime::serve(&mut sched, opts.common.interval(), Some(service), shutdown)?;
            drop(link);
            Ok(uei_report!(&skel, uei)?.should_restart())
        },
    ))
}
