//! scx_template: userspace half. Loads the BPF scheduler, serves its
//! statistics (read from arena memory) and live retuning through the shared
//! runtime, and detaches cleanly on SIGINT/SIGTERM.

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
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::alloc::AllocView;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::lathist::LatHist;
use scx_arena::rq::RqView;
use scx_arena::runtime::{self, CommonOpts, SchedError};
use scx_arena::serve::Tunable;
use scx_arena::stats::{Metric, Snapshot};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use bpf_skel::{BpfSkel, BpfSkelBuilder};

// SAFETY: arrays of u64 counters; every bit pattern is valid.
unsafe impl ArenaPod for bpf_intf::template_stats {}

/// The live tunables: the same names and ranges as the flags.
const TUNABLES: &[Tunable] = &[Tunable {
    name: "slice_us",
    min: 100,
    max: 1_000_000,
}];

/// The smallest complete scx-arena scheduler: one global FIFO, idle CPUs
/// taken directly.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Time slice of every task, in microseconds (100..=1000000). Live:
    /// --tune slice_us=N changes it while the scheduler runs.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    #[command(flatten)]
    common: CommonOpts,
}

/// The loaded scheduler, as the shared runtime sees it.
struct Template<'a, 'obj> {
    skel: &'a mut BpfSkel<'obj>,
}

impl runtime::Scheduler for Template<'_, '_> {
    fn tunables(&self) -> &'static [Tunable] {
        TUNABLES
    }

    fn snapshot(&mut self) -> Result<Snapshot, SchedError> {
        let skel = &*self.skel;
        let bss = skel.maps.bss_data.as_ref().ok_or("no .bss")?;
        let data = skel.maps.data_data.as_ref().ok_or("no .data")?;
        let view = ArenaView::of_object(skel.object())?;
        let stats: bpf_intf::template_stats = view.read(bss.stats as u64)?;
        let sum = |f: fn(&bpf_intf::template_cpu_stats) -> u64| stats.cpu.iter().map(f).sum();

        let mut s = Snapshot::new("scx_template");
        s.push(Metric::counter(
            "local",
            "wakeups that found an idle CPU and ran there directly",
            sum(|c| c.local),
        ))
        .push(Metric::counter(
            "global",
            "tasks queued on the shared arena run queue",
            sum(|c| c.global),
        ))
        .push(Metric::counter(
            "dispatch",
            "tasks moved from the shared queue to a CPU",
            sum(|c| c.dispatch),
        ))
        .push(Metric::counter(
            "fallback",
            "tasks the arena queue refused, sent to SCX_DSQ_GLOBAL",
            sum(|c| c.fallback),
        ))
        .push(Metric::gauge(
            "queued",
            "tasks waiting in the shared queue now",
            RqView::new(view, bss.shared_rq_addr).nr_queued()?,
        ))
        .push_alloc(&AllocView::of_object(skel.object())?.stats()?);
        s.wake_to_run = Some(LatHist::read_per_cpu(
            &view,
            bss.wake_lat as u64,
            bss.nr_cpus as usize,
        )?);
        s.tunables
            .push(("slice_us".into(), data.tune.slice_ns / 1000));
        Ok(s)
    }

    fn tune(&mut self, name: &'static str, value: u64) -> Result<(), SchedError> {
        let data = self.skel.maps.data_data.as_mut().ok_or("no .data")?;
        match name {
            "slice_us" => data.tune.slice_ns = value * 1000,
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
        "scx_template",
        &opts.common,
        |service, shutdown| {
            let mut open_object = MaybeUninit::<OpenObject>::uninit();
            let mut skel = scx_ops_open!(
                BpfSkelBuilder::default(),
                &mut open_object,
                template_ops,
                None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
            )?;
            skel.maps
                .data_data
                .as_mut()
                .context("no .data")?
                .tune
                .slice_ns = opts.slice_us * 1000;
            opts.common.size_arena(&mut skel.maps.arena)?;
            let mut skel = scx_ops_load!(skel, template_ops, uei).map_err(runtime::load_error)?;
            let link = scx_ops_attach!(skel, template_ops)?;
            println!("scx_template: attached (slice {} us)", opts.slice_us);

            let mut sched = Template { skel: &mut skel };
            runtime::serve(&mut sched, opts.common.interval(), Some(service), shutdown)?;
            drop(link);
            Ok(uei_report!(&skel, uei)?.should_restart())
        },
    ))
}
