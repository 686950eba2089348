//! scx_fair: userspace half. Reads the LLC topology, loads the BPF
//! scheduler with one run queue per LLC domain, prints its statistics from
//! arena memory, and detaches cleanly on SIGINT/SIGTERM.

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

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::runtime::{require_sched_ext, shutdown_flag, stats_line, watch};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report, Topology};

use bpf_skel::{BpfSkel, BpfSkelBuilder};

// SAFETY: arrays of u64 counters; every bit pattern is valid.
unsafe impl ArenaPod for bpf_intf::fair_stats {}

const MAX_CPUS: usize = bpf_intf::FAIR_MAX_CPUS as usize;
const MAX_DOMS: usize = bpf_intf::FAIR_MAX_DOMS as usize;

/// Where runnable tasks wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Queue {
    /// One arena RB-tree per LLC domain.
    Rbtree,
    /// One kernel vtime DSQ per LLC domain.
    Dsq,
}

/// Weighted-fair (vtime) scheduler: one run queue per LLC domain, idle CPUs
/// near the waker first, work stealing between domains.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Time slice of every task, in microseconds (100..=1000000).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Run queue back end (load time only).
    #[arg(long, value_enum, default_value_t = Queue::Rbtree)]
    queue: Queue,

    /// Print statistics every SECS seconds (0: only at exit).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    stats: f64,
}

/// The LLC domain of each CPU (dense ids from 0) and the number of domains.
fn domains() -> Result<(Vec<u32>, u32)> {
    let topo = Topology::new().context("reading the CPU topology")?;
    let mut ids = BTreeMap::new();
    let mut cpu_dom = Vec::new();
    for (&cpu, c) in &topo.all_cpus {
        if cpu >= MAX_CPUS {
            bail!("CPU {cpu} is beyond the {MAX_CPUS} CPUs scx_fair supports");
        }
        let next = ids.len() as u32;
        let d = *ids.entry(c.llc_id).or_insert(next);
        if cpu_dom.len() <= cpu {
            cpu_dom.resize(cpu + 1, 0);
        }
        cpu_dom[cpu] = d;
    }
    if ids.is_empty() {
        bail!("the topology lists no CPUs");
    }
    if ids.len() > MAX_DOMS {
        bail!(
            "{} LLC domains, more than the {MAX_DOMS} scx_fair supports",
            ids.len()
        );
    }
    Ok((cpu_dom, ids.len() as u32))
}

/// Totals over all CPUs and domains.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    enqueues: u64,
    dispatches: u64,
    local: u64,
    remote: u64,
    stolen: u64,
    fallback: u64,
    /// Tasks waiting in the domains' queues (a gauge, not a counter).
    queued: u64,
}

fn read_totals(skel: &BpfSkel, nr_doms: u32) -> Result<Totals> {
    let bss = skel.maps.bss_data.as_ref().context("no .bss")?;
    let view = ArenaView::of_object(skel.object())?;
    let stats: bpf_intf::fair_stats = view.read(bss.stats as u64)?;
    let mut t = stats.cpu.iter().fold(Totals::default(), |t, c| Totals {
        enqueues: t.enqueues + c.enqueues,
        dispatches: t.dispatches + c.dispatches,
        local: t.local + c.local,
        remote: t.remote + c.remote,
        stolen: t.stolen + c.stolen,
        fallback: t.fallback + c.fallback,
        queued: 0,
    });
    t.queued = stats.dom[..nr_doms as usize].iter().map(|d| d.queued).sum();
    Ok(t)
}

fn print_totals(prefix: &str, t: Totals, nr_doms: u32, slice_ns: u64) {
    println!(
        "{}",
        stats_line(
            prefix,
            &[
                ("enqueues", t.enqueues),
                ("dispatches", t.dispatches),
                ("local", t.local),
                ("remote", t.remote),
                ("stolen", t.stolen),
                ("fallback", t.fallback),
                ("queued", t.queued),
                ("domains", nr_doms as u64),
                ("slice_us", slice_ns / 1000),
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
        let (cpu_dom, nr_doms) = domains()?;
        let mut open_object = MaybeUninit::<OpenObject>::uninit();
        let mut skel = scx_ops_open!(
            BpfSkelBuilder::default(),
            &mut open_object,
            fair_ops,
            None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
        )?;
        let rodata = skel.maps.rodata_data.as_mut().context("no .rodata")?;
        rodata.nr_doms = nr_doms;
        rodata.nr_cpus = cpu_dom.len() as u32;
        rodata.cpu_dom[..cpu_dom.len()].copy_from_slice(&cpu_dom);
        rodata.queue_kind = match opts.queue {
            Queue::Rbtree => bpf_intf::fair_queue_FAIR_QUEUE_RBTREE,
            Queue::Dsq => bpf_intf::fair_queue_FAIR_QUEUE_DSQ,
        };
        skel.maps
            .bss_data
            .as_mut()
            .context("no .bss")?
            .tune
            .slice_ns = opts.slice_us * 1000;
        let mut skel = scx_ops_load!(skel, fair_ops, uei)?;
        let link = scx_ops_attach!(skel, fair_ops)?;
        println!(
            "scx_fair: attached ({} LLC domains, queue {:?}, slice {} us)",
            nr_doms, opts.queue, opts.slice_us
        );

        let slice = || skel.maps.bss_data.as_ref().map_or(0, |b| b.tune.slice_ns);
        let interval = Duration::from_secs_f64(opts.stats);
        watch(
            &shutdown,
            interval,
            || uei_exited!(&skel, uei),
            || {
                print_totals("stats:", read_totals(&skel, nr_doms)?, nr_doms, slice());
                anyhow::Ok(())
            },
        )?;
        print_totals(
            "stats-final:",
            read_totals(&skel, nr_doms)?,
            nr_doms,
            slice(),
        );
        drop(link);
        let exit = uei_report!(&skel, uei)?;
        if !exit.should_restart() {
            return Ok(());
        }
        println!("scx_fair: the kernel asked for a restart");
    }
}
