//! forkexec: a fork/exec storm (benches/src/forkexec.rs). Prints
//! `forkexec: n=.. total_ms=.. per_exec_us=..`. Runs unprivileged.
//!
//! `forkexec --count 2000 --parallel 4`

use anyhow::Result;
use clap::Parser;
use scx_arena_benches::forkexec::storm;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Fork/exec storm: wall time of N fork+exec+wait of a program")]
struct Args {
    /// Children to run in all.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Threads forking at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// The program each child execs (no arguments).
    #[arg(long, default_value = "/bin/true")]
    program: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    println!(
        "{}",
        storm(&args.program, args.count, args.parallel)?.line()
    );
    Ok(())
}
