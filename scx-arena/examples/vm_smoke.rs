//! Smoke test for `scx_arena::vm`: fetch the kernel, build the initramfs,
//! boot 2 vCPUs, run a few commands and print the structured result.
//!
//! `cargo run -p scx-arena --example vm_smoke [-- --quiet] [-- MODE]`
//!
//! Modes (default `smoke`):
//! - `smoke`: `uname -r`, the sched_ext state, `stress-ng --cpu 2` for 3 s;
//! - `crash`: panics the guest (sysrq-c) to show problem detection;
//! - `watchdog`: a command outlives the 15 s in-guest deadline;
//! - `timeout`: the host wall-clock timeout (5 s) kills qemu;
//! - `topology`: 2 sockets x 2 cores on 2 NUMA nodes, prints the LLCs;
//! - `deterministic`: the smoke commands in instruction-counted mode.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use scx_arena::vm::{sched_ext_kernel, KernelOptions, Topology, VmConfig, VmError};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vm_smoke: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn smoke(cfg: VmConfig) -> VmConfig {
    cfg.command("uname", "uname -r")
        .command("state", "cat /sys/kernel/sched_ext/state")
        .command("stress", "stress-ng --cpu 2 --timeout 3s")
}

fn run() -> Result<ExitCode, VmError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quiet = args.iter().any(|a| a == "--quiet");
    let mode = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("smoke");
    let t = Instant::now();
    let kernel = sched_ext_kernel(&KernelOptions::default())?;
    println!(
        "kernel: {} ({}) in {:.2}s",
        kernel.release,
        kernel.vmlinuz.display(),
        t.elapsed().as_secs_f64()
    );
    let mut cfg = VmConfig::new()
        .kernel(kernel)
        .cpus(2)
        .timeout(Duration::from_secs(120))
        .watch_state(true);
    cfg = match mode {
        "smoke" => smoke(cfg),
        "deterministic" => smoke(cfg.deterministic(42)),
        "crash" => cfg
            .command("uname", "uname -r")
            .command("crash", "echo c > /proc/sysrq-trigger"),
        "watchdog" => cfg
            .guest_deadline(Duration::from_secs(15))
            .command("sleepy", "sleep 600"),
        "timeout" => cfg
            .timeout(Duration::from_secs(5))
            .command("uname", "uname -r"),
        "topology" => cfg.topology(Topology::llcs(2, 2)).command(
            "llc",
            "nproc; for c in /sys/devices/system/cpu/cpu[0-9]*; do \
             echo ${c##*/} node=$(ls -d $c/node* | sed 's/.*node//') \
             llc=$(cat $c/cache/index3/shared_cpu_list); done",
        ),
        other => {
            return Err(VmError::Config(format!("unknown mode `{other}`")));
        }
    };
    if !quiet {
        cfg = cfg.stream("  | ");
    }
    let t = Instant::now();
    let run = cfg.run()?;
    let prep = t.elapsed().saturating_sub(run.total_time);
    println!(
        "host preparation (initramfs etc.): {:.2}s",
        prep.as_secs_f64()
    );
    println!("accel: {:?}", run.accel);
    println!(
        "boot time (qemu start -> first command): {:?}",
        run.boot_time.map(|d| format!("{:.2}s", d.as_secs_f64()))
    );
    println!("total time: {:.2}s", run.total_time.as_secs_f64());
    for c in &run.commands {
        println!(
            "command {:<8} exit={:?} output={:?}",
            c.name, c.exit_code, c.output
        );
    }
    for e in &run.sched_ext {
        println!("sched_ext: {e:?}");
    }
    for p in &run.problems {
        println!("problem: {p}");
    }
    println!("done={} watchdog={}", run.done, run.watchdog_fired);
    match run.check() {
        Ok(()) => {
            println!("RESULT: PASS");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("RESULT: FAIL: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
