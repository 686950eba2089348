//! wakelat: a wakeup-latency workload in the spirit of schbench. Message
//! threads wake worker threads through futexes; each worker measures the
//! time from the wake to running, does a request's worth of CPU work and
//! replies (benches/src/wakelat.rs). Prints one line:
//!
//! `wakelat: p50_us=.. p90_us=.. p99_us=.. p99_9_us=.. max_us=.. rps=.. samples=..`
//!
//! (`samples`: requests that woke a sleeping worker; `rps`: all requests)
//! and with `--json` a JSON object on the next line. Runs unprivileged, on
//! the host or inside the VM. Never asserts timings.

use std::time::Duration;

use anyhow::{ensure, Result};
use clap::Parser;
use scx_arena_benches::wakelat::{calibrate_loops_per_us, run, Config};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Wakeup latency: message threads wake workers; wake-to-run percentiles and requests/s"
)]
struct Args {
    /// Message threads (each wakes its own workers).
    #[arg(long, short = 'm', default_value_t = 2)]
    message_threads: usize,
    /// Worker threads per message thread.
    #[arg(long, short = 't', default_value_t = 4)]
    workers: usize,
    /// Measured time, in seconds (after the warmup).
    #[arg(long, short = 'r', default_value_t = 10.0)]
    runtime: f64,
    /// Warmup time, in seconds; its samples are discarded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// CPU work per request, in microseconds (converted to loop iterations
    /// by a calibration at start).
    #[arg(long, default_value_t = 50.0)]
    work_us: f64,
    /// CPU work per request as a fixed number of loop iterations instead
    /// (skips the calibration; the same work on every run).
    #[arg(long)]
    work_loops: Option<u64>,
    /// Also print the full result as one JSON object (latencies in us,
    /// histogram buckets in ns).
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.message_threads > 0 && args.workers > 0,
        "--message-threads and --workers must be at least 1"
    );
    ensure!(
        args.runtime > 0.0 && args.warmup >= 0.0 && args.work_us >= 0.0,
        "--runtime must be positive, --warmup and --work-us not negative"
    );
    let (work_loops, loops_per_us) = match args.work_loops {
        Some(l) => (l, None),
        None => {
            let per_us = calibrate_loops_per_us();
            ((per_us * args.work_us).round() as u64, Some(per_us))
        }
    };
    let config = Config {
        message_threads: args.message_threads,
        workers: args.workers,
        runtime: Duration::from_secs_f64(args.runtime),
        warmup: Duration::from_secs_f64(args.warmup),
        work_loops,
    };
    let report = run(&config)?;
    println!("{}", report.summary().line());
    if args.json {
        let mut v = report.json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("work_us".into(), args.work_us.into());
            obj.insert("loops_per_us".into(), loops_per_us.into());
        }
        println!("{v}");
    }
    Ok(())
}
