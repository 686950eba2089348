//! bench: the dispatch-latency benchmark, every scheduler against the
//! kernel's default (EEVDF) side by side, in one command (`tools/bench`).
//!
//! For each contender and seed it boots one VM in deterministic mode (same
//! topology, same initramfs but for the scheduler) and runs the workloads of
//! [`scx_arena_benches::suite`], the last of them cyclictest beside one hog
//! with one vCPU online (why: [`scx_arena_benches::suite`]); then it sums
//! the runs up
//! ([`scx_arena_benches::report`]): a markdown table, JSON with every figure
//! and an SVG plot of the latency percentiles, in the output directory. The
//! host micro-benchmarks (alloc-bench, ds-bench: the library's allocators
//! and data structures beside the kernel's) run from here too.
//!
//! The guest tools (wakelat, wakeprobe, bpfcost, forkexec) and the host
//! micro-benchmarks are this package's binaries, taken from the directory
//! this binary is in (`cargo build -p scx-arena-benches --bins`).

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use scx_arena::run::{build_scheduler, workspace_root, SchedRun};
use scx_arena::vm::VmConfig;
use scx_arena_benches::report::{replace_between, Report, Run};
use scx_arena_benches::suite::{phase_state_failure, Contender, Params, RunFigures};
use scx_arena_benches::svg::latency_plot;

/// The guest tools copied into every VM.
const GUEST_TOOLS: &[&str] = &["wakelat", "wakeprobe", "bpfcost", "forkexec"];
/// The README's performance section markers.
const README_BEGIN: &str = "<!-- bench:begin -->";
const README_END: &str = "<!-- bench:end -->";

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Dispatch-latency benchmark: every bundled scheduler against EEVDF, \
in deterministic VMs, plus the host micro-benchmarks"
)]
struct Args {
    /// Short workloads and one seed: a smoke run (all contenders, a few
    /// minutes).
    #[arg(long)]
    quick: bool,
    /// Seeds of the deterministic mode, comma-separated (default: 1,2,3;
    /// with --quick: 1).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// vCPUs of every VM.
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// VMs run at once (deterministic results do not depend on it).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=2))]
    jobs: u32,
    /// Only these contenders (labels, comma-separated, e.g.
    /// `EEVDF,scx_fair/dsq`); EEVDF is always run, as the reference.
    #[arg(long, value_delimiter = ',')]
    contenders: Vec<String>,
    /// Output directory (default: target/bench).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the VM benchmark.
    #[arg(long, conflicts_with = "host_only")]
    vm_only: bool,
    /// Only the host micro-benchmarks.
    #[arg(long)]
    host_only: bool,
    /// Take the VM part from an earlier run's report.json instead of booting
    /// VMs, and run the host micro-benchmarks now: refreshes those alone
    /// (with --update-readme, the README keeps that run's VM tables).
    #[arg(long, value_name = "REPORT_JSON", conflicts_with_all = ["vm_only", "host_only"])]
    vm_report: Option<PathBuf>,
    /// Debug builds of the schedulers (their BPF code is the same; they
    /// build faster).
    #[arg(long)]
    debug: bool,
    /// Host wall-clock limit per VM, in seconds.
    #[arg(long, default_value_t = 900)]
    vm_timeout: u64,
    /// Rewrite the README's performance section (between `<!-- bench:begin
    /// -->` and `<!-- bench:end -->`) with the fresh table.
    #[arg(long)]
    update_readme: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.cpus >= 1, "--cpus must be at least 1");
    let seeds = match (&args.seeds[..], args.quick) {
        ([], true) => vec![1],
        ([], false) => vec![1, 2, 3],
        (s, _) => s.to_vec(),
    };
    let params = if args.quick {
        Params::quick(args.cpus)
    } else {
        Params::full(args.cpus)
    };
    let out = args.out.clone().unwrap_or_else(default_out_dir);
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("creating {}", out.display()))?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("this binary's directory")?
        .to_path_buf();

    let mut report = if let Some(path) = &args.vm_report {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str::<Report>(&text)
            .with_context(|| format!("{} is not a bench report.json", path.display()))?
    } else if args.host_only {
        Report::new(params, seeds, args.quick, String::new(), Vec::new())
    } else {
        vm_benchmark(&args, params, seeds, &bin_dir, &out)?
    };
    if !args.vm_only {
        host_benchmarks(&mut report, &bin_dir, args.quick, &out);
    }

    let md = report.markdown();
    std::fs::write(out.join("report.md"), &md)?;
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if !args.host_only {
        std::fs::write(out.join("latency.svg"), latency_plot(&report))?;
    }
    println!("{md}");
    println!(
        "written: {}/report.md, report.json{}, logs/",
        out.display(),
        if args.host_only { "" } else { ", latency.svg" }
    );
    if args.update_readme {
        update_readme(&md)?;
    }
    let gaps = report.gaps();
    if !gaps.is_empty() {
        bail!("figures missing:\n{}", gaps.join("\n"));
    }
    Ok(())
}

/// target/bench in this workspace (or under `CARGO_TARGET_DIR`).
fn default_out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("bench")
}

/// One VM run to do.
#[derive(Debug, Clone)]
struct Job {
    contender: usize,
    seed: u64,
}

/// Builds the schedulers, runs every contender with every seed (at most
/// `--jobs` VMs at once) and sums the runs up.
fn vm_benchmark(
    args: &Args,
    params: Params,
    seeds: Vec<u64>,
    bin_dir: &Path,
    out: &Path,
) -> Result<Report> {
    let contenders: Vec<Contender> = Contender::all()
        .into_iter()
        .filter(|c| {
            args.contenders.is_empty()
                || c.scheduler.is_none()
                || args.contenders.contains(&c.label)
        })
        .collect();
    if let Some(unknown) = args
        .contenders
        .iter()
        .find(|l| !contenders.iter().any(|c| &c.label == *l))
    {
        let known: Vec<String> = Contender::all().into_iter().map(|c| c.label).collect();
        bail!("unknown contender {unknown}: one of {}", known.join(", "));
    }
    let tools: Vec<PathBuf> = GUEST_TOOLS.iter().map(|t| bin_dir.join(t)).collect();
    if let Some(t) = tools.iter().find(|t| !t.exists()) {
        bail!(
            "{} is missing: build the guest tools first (cargo build --release -p scx-arena-benches --bins)",
            t.display()
        );
    }
    let mut sched_bins = BTreeMap::new();
    for name in contenders.iter().filter_map(|c| c.scheduler.as_deref()) {
        if !sched_bins.contains_key(name) {
            eprintln!("building {name}");
            sched_bins.insert(name.to_string(), build_scheduler(name, !args.debug)?);
        }
    }

    let script = params.script();
    let jobs: VecDeque<Job> = seeds
        .iter()
        .flat_map(|&seed| (0..contenders.len()).map(move |contender| Job { contender, seed }))
        .collect();
    let progress = Progress::new(jobs.len());
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    let kernel = Mutex::new(String::new());
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            // The guard is dropped inside and_then: the queue is not held
            // while the VM runs.
            s.spawn(|| {
                while let Some(job) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let c = &contenders[job.contender];
                    let what = format!("{} seed {}", c.label, job.seed);
                    progress.start(&what);
                    let vm = VmConfig::new()
                        .cpus(args.cpus)
                        .deterministic(job.seed)
                        .timeout(Duration::from_secs(args.vm_timeout));
                    let vm = tools.iter().fold(vm, |vm, t| vm.binary(t));
                    let bin = c.scheduler.as_ref().and_then(|n| sched_bins.get(n));
                    let (log, release, failure) = boot(c, bin, vm, &script);
                    let run = Run {
                        seed: job.seed,
                        figures: RunFigures::parse(&log),
                        failure,
                    };
                    let log_name = format!("{}-seed{}.log", c.label.replace('/', "-"), job.seed);
                    let _ = std::fs::write(out.join("logs").join(log_name), log);
                    if let (Some(r), Ok(mut k)) = (release, kernel.lock()) {
                        *k = r;
                    }
                    progress.finish(
                        &what,
                        run.failure.is_none() && run.figures.missing().is_empty(),
                    );
                    if let Ok(mut r) = results.lock() {
                        r.push((job, run));
                    }
                }
            });
        }
    });
    progress.done();
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(j, _)| (j.contender, j.seed));
    let runs = contenders
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let runs = results
                .iter()
                .filter(|(j, _)| j.contender == i)
                .map(|(_, r)| r.clone())
                .collect();
            (c.clone(), runs)
        })
        .collect();
    Ok(Report::new(
        params,
        seeds,
        args.quick,
        kernel.into_inner().unwrap_or_default(),
        runs,
    ))
}

/// One VM boot of contender `c` (its binary `bin`) running `script`: its
/// console log, the guest kernel's release and why it failed, if it did.
fn boot(
    c: &Contender,
    bin: Option<&PathBuf>,
    vm: VmConfig,
    script: &str,
) -> (String, Option<String>, Option<String>) {
    // No guest runs /init's state watcher (a shell polling sched_ext's
    // state every 100 ms): the workload runs alone, and the script's phase
    // lines carry the state instead (phase_state_failure).
    let (log, release, failure) = match bin {
        None => match vm.watch_state(false).command("bench", script).run() {
            Ok(run) => {
                let failure = run.check().err().map(|e| e.to_string());
                (run.console, Some(run.kernel_release), failure)
            }
            Err(e) => (String::new(), None, Some(e.to_string())),
        },
        Some(bin) => match SchedRun::new(bin)
            .args(c.args.clone())
            .workload(script)
            .vm_config(vm)
            .watch_state(false)
            .vm()
        {
            Ok(result) => {
                let failure = result.check_clean().err().map(|e| e.to_string());
                let release = result.vm.as_ref().map(|v| v.kernel_release.clone());
                (result.log, release, failure)
            }
            Err(e) => (String::new(), None, Some(e.to_string())),
        },
    };
    let failure = failure.or_else(|| phase_state_failure(&log, bin.is_some()));
    (log, release, failure)
}

/// The progress line: runs done, running, elapsed.
struct Progress {
    state: Mutex<(usize, Vec<String>)>,
    total: usize,
    start: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            state: Mutex::new((0, Vec::new())),
            total,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn start(&self, what: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.1.push(what.to_string());
            self.print(&s);
        }
    }

    fn finish(&self, what: &str, complete: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.0 += 1;
            s.1.retain(|w| w != what);
            if !complete {
                self.clear();
                eprintln!("{what}: figures missing (see the report)");
            }
            self.print(&s);
        }
    }

    fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }

    fn print(&self, s: &(usize, Vec<String>)) {
        let t = self.start.elapsed().as_secs();
        let line = format!(
            "[bench] {}/{} runs done, {}:{:02} elapsed; running: {}",
            s.0,
            self.total,
            t / 60,
            t % 60,
            if s.1.is_empty() {
                "-".to_string()
            } else {
                s.1.join(", ")
            }
        );
        if self.tty {
            self.clear();
            eprint!("{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Runs alloc-bench and ds-bench (the library's allocators and data
/// structures beside the kernel's and Rust's) and adds their tables and
/// JSON to the report; a failure is reported in place of the table.
fn host_benchmarks(report: &mut Report, bin_dir: &Path, quick: bool, out: &Path) {
    let runs: [(&str, &[&str]); 2] = if quick {
        [
            (
                "alloc-bench",
                &[
                    "--iters",
                    "2000",
                    "--reps",
                    "1",
                    "--threads",
                    "1",
                    "--sizes",
                    "64,16384",
                    "--mem-objects",
                    "1000",
                ],
            ),
            (
                "ds-bench",
                &["--sizes", "64,1024", "--iters", "2000", "--reps", "1"],
            ),
        ]
    } else {
        [("alloc-bench", &[]), ("ds-bench", &[])]
    };
    for (tool, flags) in runs {
        eprintln!("[bench] host: {tool}");
        let json = out.join(format!("{tool}.json"));
        let res = Command::new(bin_dir.join(tool))
            .args(flags)
            .arg("--json")
            .arg(&json)
            .output();
        let table = match res {
            Ok(o) if o.status.success() => {
                let value = std::fs::read_to_string(&json)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
                if let Some(v) = value {
                    report.host.insert(tool.to_string(), v);
                }
                String::from_utf8_lossy(&o.stdout).into_owned()
            }
            Ok(o) => format!(
                "{tool} failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => format!("cannot run {tool}: {e}"),
        };
        report.host_tables.insert(tool.to_string(), table);
    }
}

/// Rewrites the README's performance section with `md`.
fn update_readme(md: &str) -> Result<()> {
    let path = workspace_root().join("README.md");
    let text = std::fs::read_to_string(&path)?;
    let body = format!(
        "{md}\nRefreshed by `tools/bench --update-readme`; the plot and the JSON are in \
target/bench/."
    );
    let new = replace_between(&text, README_BEGIN, README_END, &body).with_context(|| {
        format!(
            "{} has no {README_BEGIN} ... {README_END} section",
            path.display()
        )
    })?;
    std::fs::write(&path, new)?;
    eprintln!("updated {}", path.display());
    Ok(())
}
