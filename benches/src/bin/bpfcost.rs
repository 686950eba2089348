//! bpfcost: runs a command with BPF run-time statistics on and prints what
//! each callback of the attached sched_ext scheduler (every struct_ops
//! program on the machine) cost while it ran, and what an empty program
//! costs (the statistics' own overhead, to subtract):
//!
//! `bpfcost-empty: ns_per_run=..`
//! `bpfcost-prog: name=<function> runs=.. run_time_ns=.. ns_per_run=..`
//!
//! Needs root. `bpfcost -- hackbench -g 2 -l 50`

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Parser;
use scx_arena_benches::progstats::{
    empty_program_cost, struct_ops_costs, RunTimeStats, EMPTY_LINE_PREFIX,
};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Per-callback BPF cost of the attached scheduler while a command runs")]
struct Args {
    /// Runs of the empty program measuring the statistics' overhead.
    #[arg(long, default_value_t = 1000)]
    empty_runs: u32,
    /// The command to run, after `--`.
    #[arg(trailing_var_arg = true, required = true)]
    command: Vec<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let _stats = RunTimeStats::enable()?;
    let empty = empty_program_cost(args.empty_runs.max(1))?;
    let before = struct_ops_costs();
    let (prog, rest) = args.command.split_first().context("no command given")?;
    let status = Command::new(prog)
        .args(rest)
        .status()
        .with_context(|| format!("running {prog}"))?;
    println!("{EMPTY_LINE_PREFIX} ns_per_run={empty:.1}");
    for after in struct_ops_costs() {
        let cost = match before.iter().find(|b| b.name == after.name) {
            Some(b) => after.since(b),
            None => after,
        };
        println!("{}", cost.line());
    }
    if !status.success() {
        bail!("{prog} failed: {status}");
    }
    Ok(())
}
