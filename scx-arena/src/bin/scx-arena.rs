//! `scx-arena`: the command-line front end.
//!
//! `scx-arena run <scheduler> [-- <scheduler flags>]` builds a bundled
//! scheduler and runs it under a workload: directly on a host with sched_ext
//! (as root), otherwise in a VM booted on a Debian sched_ext kernel. Its
//! statistics stream live; at the end it prints how the scheduler exited.
//!
//! `scx-arena new <name>` forks `schedulers/scx_template` into
//! `schedulers/<name>`, renamed, with its own README and smoke test.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use scx_arena::fork::{fork, Forked, TEMPLATE};
use scx_arena::run::{build_scheduler, workspace_root, SchedRun, SchedRunResult};
use scx_arena::runtime::require_sched_ext;
use scx_arena::vm::qemu::{QEMU, QEMU_PACKAGE};
use scx_arena::vm::{require_tool, sched_ext_kernel, KernelOptions, Topology, VmConfig};

/// scx-arena: build, run and measure sched_ext schedulers.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build a bundled scheduler and run it under a workload (in a VM when
    /// this kernel has no sched_ext).
    Run(RunOpts),
    /// Fork schedulers/scx_template into a new scheduler, schedulers/<NAME>:
    /// crate, binary, BPF identifiers and sched_ext ops name renamed.
    New(NewOpts),
}

#[derive(Debug, clap::Args)]
struct NewOpts {
    /// The new scheduler's name: scx_ then lowercase letters, digits, '_'
    /// (its crate, binary and directory; the ops name drops the scx_).
    name: String,

    /// The workspace to add it to (default: the one this binary was built in).
    #[arg(long)]
    workspace: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunOpts {
    /// Scheduler to run: a directory name under schedulers/.
    #[arg(default_value = "scx_template")]
    scheduler: String,

    /// Where to run: auto (the host if it has sched_ext, else a VM), vm or host.
    #[arg(long, value_enum, default_value_t = Where::Auto)]
    on: Where,

    /// Seconds the default workload (stress-ng CPU hogs) runs.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,

    /// Shell snippet to run as the workload instead of stress-ng.
    #[arg(long)]
    workload: Option<String>,

    /// VM: number of vCPUs.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    cpus: u32,

    /// VM: memory in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(256..=65536))]
    memory_mb: u32,

    /// VM: NUMA nodes (each its own socket and LLC); vCPUs are split evenly.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    nodes: u32,

    /// Run this many times in a row (a flakiness check); fails unless all are clean.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    repeat: u32,

    /// Build the scheduler in debug mode instead of release.
    #[arg(long)]
    debug: bool,

    /// Flags for the scheduler itself, after `--`.
    #[arg(last = true)]
    sched_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Where {
    Auto,
    Vm,
    Host,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run(opts) => run(opts),
        Cmd::New(opts) => new(opts),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scx-arena: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn new(o: NewOpts) -> Result<ExitCode> {
    let workspace = o.workspace.unwrap_or_else(workspace_root);
    let Forked { dir, names } = fork(&workspace, &o.name)?;
    println!(
        "created {} from {TEMPLATE}: crate and binary {}, sched_ext ops name '{}'",
        dir.display(),
        names.crate_name,
        names.prefix
    );
    println!("its policy: {}", dir.join("src/bpf/main.bpf.c").display());
    println!("run it:     tools/run {}", names.crate_name);
    println!("test it:    cargo test -p {}", names.crate_name);
    Ok(ExitCode::SUCCESS)
}

/// Names of the bundled schedulers (directories under schedulers/).
fn bundled() -> Result<Vec<String>> {
    let dir = workspace_root().join("schedulers");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

fn run(o: RunOpts) -> Result<ExitCode> {
    let names = bundled()?;
    if !names.contains(&o.scheduler) {
        bail!(
            "no bundled scheduler '{}' (have: {})",
            o.scheduler,
            names.join(", ")
        );
    }
    if !o.cpus.is_multiple_of(o.nodes) {
        bail!(
            "--cpus {} does not split evenly over --nodes {}",
            o.cpus,
            o.nodes
        );
    }
    let on = match o.on {
        Where::Auto if require_sched_ext().is_ok() => Where::Host,
        Where::Auto => Where::Vm,
        other => other,
    };
    let mut vm = VmConfig::new();
    if on == Where::Vm {
        // Fail before a long build when the VM cannot run.
        require_tool(QEMU, QEMU_PACKAGE)?;
        vm = vm.kernel(sched_ext_kernel(&KernelOptions::default())?);
    }
    eprintln!("scx-arena: building {}", o.scheduler);
    let binary = build_scheduler(&o.scheduler, !o.debug)?;

    vm = vm
        .cpus(o.cpus)
        .memory_mb(o.memory_mb)
        .timeout(Duration::from_secs(o.duration + 120))
        .stream("vm| ");
    if o.nodes > 1 {
        vm = vm.topology(Topology {
            sockets: o.nodes,
            cores: o.cpus / o.nodes,
            threads: 1,
            numa_nodes: o.nodes,
        });
    }
    let workload = o
        .workload
        .clone()
        .unwrap_or_else(|| SchedRun::stress_ng_cpu(Duration::from_secs(o.duration)));
    let job = SchedRun::new(&binary)
        .args(o.sched_args.clone())
        .workload(workload)
        .vm_config(vm);
    let mut passed = 0;
    for i in 1..=o.repeat {
        if o.repeat > 1 {
            println!("=== run {i}/{}", o.repeat);
        }
        let result = if on == Where::Host {
            job.host()
        } else {
            job.vm()
        }?;
        report(&o.scheduler, &result);
        match result.check_clean() {
            Ok(()) => {
                passed += 1;
                println!("{}: clean run", o.scheduler);
            }
            Err(e) => eprintln!("{}: FAILED: {e}", o.scheduler),
        }
    }
    if o.repeat > 1 {
        println!("{}: {passed} of {} runs clean", o.scheduler, o.repeat);
    }
    Ok(if passed == o.repeat {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report(name: &str, r: &SchedRunResult) {
    println!("---");
    if let Some(t) = r.enabled_after {
        println!("{name}: enabled {:.1} s after start", t.as_secs_f64());
    }
    println!("{name}: sched_ext states: {}", r.states.join(" -> "));
    if let Some(ops) = r.workload_ops {
        println!("{name}: workload made {ops} bogo ops");
    }
    if !r.final_stats.is_empty() {
        let stats: Vec<String> = r
            .final_stats
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("{name}: final stats: {}", stats.join(" "));
    }
    let reason = r.kernel_exit_reason.as_ref().or(r.exit_reason.as_ref());
    println!(
        "{name}: exit status {}, reason: {}",
        r.sched_rc.map_or("none".into(), |c| c.to_string()),
        reason.map_or("none", String::as_str)
    );
}
