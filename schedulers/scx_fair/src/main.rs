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

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::alloc::AllocView;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::lathist::LatHist;
use scx_arena::runtime::{self, CommonOpts, SchedError};
use scx_arena::serve::Tunable;
use scx_arena::stats::{Metric, Snapshot};
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
    /// Time slice of every task, in microseconds (100..=1000000). Live:
    /// --tune slice_us=N.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Run queue back end (load time only).
    #[arg(long, value_enum, default_value_t = Queue::Rbtree)]
    queue: Queue,

    #[command(flatten)]
    common: CommonOpts,
}

/// The live tunables: the same names and ranges as the flags.
const TUNABLES: &[Tunable] = &[Tunable {
    name: "slice_us",
    min: 100,
    max: 1_000_000,
}];

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

/// The loaded scheduler, as the shared runtime sees it.
struct Fair<'a, 'obj> {
    skel: &'a mut BpfSkel<'obj>,
    nr_doms: u32,
}

impl runtime::Scheduler for Fair<'_, '_> {
    fn tunables(&self) -> &'static [Tunable] {
        TUNABLES
    }

    fn snapshot(&mut self) -> Result<Snapshot, SchedError> {
        let skel = &*self.skel;
        let bss = skel.maps.bss_data.as_ref().ok_or("no .bss")?;
        let view = ArenaView::of_object(skel.object())?;
        let stats: bpf_intf::fair_stats = view.read(bss.stats as u64)?;
        let sum = |f: fn(&bpf_intf::fair_cpu_stats) -> u64| stats.cpu.iter().map(f).sum();
        let queued = stats.dom[..self.nr_doms as usize]
            .iter()
            .map(|d| d.queued)
            .sum();

        let mut s = Snapshot::new("scx_fair");
        s.push(Metric::counter(
            "enqueues",
            "tasks queued on a domain's run queue",
            sum(|c| c.enqueues),
        ))
        .push(Metric::counter(
            "dispatches",
            "tasks moved from a run queue to a CPU",
            sum(|c| c.dispatches),
        ))
        .push(Metric::counter(
            "local",
            "wakeups placed on an idle CPU in the waker's or prev_cpu's domain",
            sum(|c| c.local),
        ))
        .push(Metric::counter(
            "remote",
            "wakeups placed on an idle CPU in another domain",
            sum(|c| c.remote),
        ))
        .push(Metric::counter(
            "stolen",
            "tasks a CPU took from another domain's queue",
            sum(|c| c.stolen),
        ))
        .push(Metric::counter(
            "fallback",
            "tasks the arena queue refused, sent to SCX_DSQ_GLOBAL",
            sum(|c| c.fallback),
        ))
        .push(Metric::gauge(
            "queued",
            "tasks waiting in the domains' queues now",
            queued,
        ))
        .push(Metric::gauge(
            "domains",
            "LLC domains, one run queue each",
            u64::from(self.nr_doms),
        ))
        .push_alloc(&AllocView::of_object(skel.object())?.stats()?);
        s.wake_to_run = Some(LatHist::read_per_cpu(
            &view,
            bss.wake_lat as u64,
            bss.nr_lat as usize,
        )?);
        s.tunables
            .push(("slice_us".into(), bss.tune.slice_ns / 1000));
        Ok(s)
    }

    fn tune(&mut self, name: &'static str, value: u64) -> Result<(), SchedError> {
        let bss = self.skel.maps.bss_data.as_mut().ok_or("no .bss")?;
        match name {
            "slice_us" => bss.tune.slice_ns = value * 1000,
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
        "scx_fair",
        &opts.common,
        |service, shutdown| {
            // Read again on every (re)start: a hotplug restart may change it.
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
            opts.common.size_arena(&mut skel.maps.arena)?;
            let mut skel = scx_ops_load!(skel, fair_ops, uei).map_err(runtime::load_error)?;
            let link = scx_ops_attach!(skel, fair_ops)?;
            println!(
                "scx_fair: attached ({} LLC domains, queue {:?}, slice {} us)",
                nr_doms, opts.queue, opts.slice_us
            );

            let mut sched = Fair {
                skel: &mut skel,
                nr_doms,
            };
            runtime::serve(&mut sched, opts.common.interval(), Some(service), shutdown)?;
            drop(link);
            Ok(uei_report!(&skel, uei)?.should_restart())
        },
    ))
}
