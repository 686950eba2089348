//! scx_template: userspace half. Loads the BPF scheduler, prints its
//! statistics from arena memory, and detaches cleanly on SIGINT/SIGTERM.

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
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::OpenObject;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::rq::RqView;
use scx_arena::runtime::{require_sched_ext, shutdown_flag, stats_line, watch};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use bpf_skel::{BpfSkel, BpfSkelBuilder};

// SAFETY: arrays of u64 counters; every bit pattern is valid.
unsafe impl ArenaPod for bpf_intf::template_stats {}

/// The smallest complete scx-arena scheduler: one global FIFO, idle CPUs
/// taken directly.
#[derive(Debug, Parser)]
#[command(version)]
struct Opts {
    /// Time slice of every task, in microseconds (100..=1000000).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    slice_us: u64,

    /// Print statistics every SECS seconds (0: only at exit).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    stats: f64,
}

/// Totals over all CPUs.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    local: u64,
    global: u64,
    dispatch: u64,
    fallback: u64,
    /// Tasks waiting in the shared queue now (a gauge, not a counter).
    queued: u64,
}

fn read_totals(skel: &BpfSkel) -> Result<Totals> {
    let bss = skel.maps.bss_data.as_ref().context("no .bss")?;
    let view = ArenaView::of_object(skel.object())?;
    let stats: bpf_intf::template_stats = view.read(bss.stats as u64)?;
    let queued = RqView::new(view, bss.shared_rq_addr).nr_queued()?;
    let mut t = stats.cpu.iter().fold(Totals::default(), |t, c| Totals {
        local: t.local + c.local,
        global: t.global + c.global,
        dispatch: t.dispatch + c.dispatch,
        fallback: t.fallback + c.fallback,
        queued: 0,
    });
    t.queued = queued;
    Ok(t)
}

fn print_totals(prefix: &str, t: Totals) {
    println!(
        "{}",
        stats_line(
            prefix,
            &[
                ("local", t.local),
                ("global", t.global),
                ("dispatch", t.dispatch),
                ("fallback", t.fallback),
                ("queued", t.queued)
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
            template_ops,
            None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
        )?;
        skel.maps
            .rodata_data
            .as_mut()
            .context("no .rodata")?
            .slice_ns = opts.slice_us * 1000;
        let mut skel = scx_ops_load!(skel, template_ops, uei)?;
        let link = scx_ops_attach!(skel, template_ops)?;
        println!("scx_template: attached (slice {} us)", opts.slice_us);

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
        println!("scx_template: the kernel asked for a restart");
    }
}
