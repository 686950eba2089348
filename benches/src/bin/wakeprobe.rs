//! wakeprobe: runs a command under the wake-to-run BPF probe
//! (benches/src/probe.rs) and prints the wake-to-run latency of the
//! command's tasks as the scheduler tracepoints see it, the same way for
//! EEVDF and for sched_ext schedulers:
//!
//! `wakeprobe: p50_us=.. p90_us=.. p99_us=.. p99_9_us=.. max_us=.. samples=.. wakeups=.. dropped=..`
//!
//! With `--costs`, also the probe's own BPF cost per event
//! (`wakeprobe-cost: <program> runs=.. ns_per_run=..`). Needs root.
//!
//! `wakeprobe -- wakelat --runtime 5`

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Parser;
use scx_arena_benches::probe::{Filter, ProbeSummary, WakeProbe};
use scx_arena_benches::progstats::{callback_costs, RunTimeStats};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Wake-to-run latency of a command's tasks, from the scheduler tracepoints")]
struct Args {
    /// Count every task on the machine, not only the command's.
    #[arg(long)]
    all: bool,
    /// Count only tasks whose thread name starts with this (at most 15
    /// bytes), e.g. `wl-worker` for wakelat's workers.
    #[arg(long, default_value = "")]
    comm: String,
    /// Also print the probe's BPF cost per event (enables BPF run-time
    /// statistics while the command runs).
    #[arg(long)]
    costs: bool,
    /// The command to run, after `--`.
    #[arg(trailing_var_arg = true, required = true)]
    command: Vec<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let stats = if args.costs {
        Some(RunTimeStats::enable()?)
    } else {
        None
    };
    let filter = if args.all {
        Filter::AllTasks
    } else {
        Filter::Watched
    };
    let probe = WakeProbe::attach_comm(filter, &args.comm)?;
    let (prog, rest) = args.command.split_first().context("no command given")?;
    let mut child = Command::new(prog)
        .args(rest)
        .spawn()
        .with_context(|| format!("running {prog}"))?;
    // The command's first instant runs unwatched; its threads come later.
    probe.watch(child.id())?;
    let status = child.wait()?;
    let hist = probe.snapshot()?;
    let counts = probe.counts()?;
    println!("{}", ProbeSummary::of(&hist, &counts).line());
    if stats.is_some() {
        for c in callback_costs(probe.object())? {
            println!(
                "wakeprobe-cost: {} runs={} ns_per_run={:.1}",
                c.name,
                c.run_cnt,
                c.ns_per_run()
            );
        }
    }
    if !status.success() {
        bail!("{prog} failed: {status}");
    }
    Ok(())
}
