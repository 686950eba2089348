//! alloc-bench: the scx-arena allocators (slab, buddy, bump) side by side
//! with the kernel's `bpf_obj_new`/`bpf_obj_drop` and glibc
//! `malloc`/`free`, on this machine, in one run.
//!
//! The BPF side (`benches/bpf/alloc_bench.bpf.c`) runs through
//! `BPF_PROG_TEST_RUN`, which takes no `repeat` for syscall programs: each
//! program loops `--iters` times itself and times the loop with
//! `bpf_ktime_get_ns()`. The loop overhead, measured by a program running
//! the same loop without allocating (and, for glibc, a Rust loop), is
//! subtracted to give the net figures. Every measurement is repeated
//! (`--reps`), interleaved with the others, and reported as median
//! [min-max] over the repetitions.
//!
//! Patterns: `once` allocates and frees at once; `hold` keeps a ring of 64
//! live objects per thread and each step frees the oldest and allocates a
//! new one. With several threads, each runs the program concurrently on the
//! same loaded object (pinned to CPU `thread % nr_cpus`); ns/pair is per
//! thread, throughput the aggregate.
//!
//! Needs root and a kernel with BPF arena (6.9+). Never asserts timings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use scx_arena::testing::{LoadedObject, TestObject};
use scx_arena_benches::{
    ctx_bytes, ctx_words, kernel_release, max, median, min, pin_to_cpu, ratio_cell, verdict,
};
use serde::Serialize;

/// benches/bpf/alloc_bench.bpf.c, built by build.rs.
const OBJECT: TestObject = TestObject {
    source: "alloc_bench.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/alloc_bench.bpf.o")),
};

/// `BENCH_RING` of alloc_bench.h: live objects per thread in the hold model.
const RING: usize = 64;
/// `BENCH_MAX_THREADS` of alloc_bench.h.
const MAX_THREADS: usize = 8;
/// `BENCH_ARGS_WORDS` of alloc_bench.h.
const ARGS_WORDS: usize = 12;
/// Largest slab object.
const SLAB_MAX: u64 = 2048;
/// Largest buddy block.
const BUDDY_MAX: u64 = 512 << 10;
/// Sizes with a `bench_objnew_*_<size>` program (the kernel's allocator
/// serves at most 4 KiB including an 8-byte header).
const OBJNEW_SIZES: [u64; 8] = [16, 32, 64, 128, 256, 512, 1024, 2048];
/// Bump memory is never freed: each bump run allocates at most this much.
const BUMP_BYTES_PER_RUN: u64 = 2 << 20;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Arena allocator vs bpf_obj_new vs glibc malloc: ns per alloc+free pair")]
struct Args {
    /// Loop iterations per measurement (per thread).
    #[arg(long, default_value_t = 100_000)]
    iters: u32,
    /// Thread counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Object sizes in bytes, comma-separated (slab up to 2 KiB, buddy up
    /// to 512 KiB).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16,64,256,2048,16384,131072"
    )]
    sizes: Vec<u64>,
    /// Repetitions of every measurement (median, min and max reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// 64-byte objects allocated for the memory-overhead measurement.
    #[arg(long, default_value_t = 100_000)]
    mem_objects: u32,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// An allocator under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum Allocator {
    /// scx_arena_alloc/scx_arena_free (slab sizes).
    Slab,
    /// scx_arena_buddy_alloc/scx_arena_buddy_free.
    Buddy,
    /// scx_arena_bump_alloc (no free).
    Bump,
    /// bpf_obj_new/bpf_obj_drop.
    ObjNew,
    /// glibc malloc/free from Rust.
    Glibc,
}

impl Allocator {
    fn name(self) -> &'static str {
        match self {
            Allocator::Slab => "scx slab",
            Allocator::Buddy => "scx buddy",
            Allocator::Bump => "scx bump (alloc only)",
            Allocator::ObjNew => "bpf_obj_new+drop",
            Allocator::Glibc => "glibc malloc+free",
        }
    }
}

/// An allocation pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum Pattern {
    /// Allocate, then free at once.
    Once,
    /// Ring of RING live objects: free the oldest, allocate a new one.
    Hold,
    /// Allocate only (bump).
    AllocOnly,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::Once => "once",
            Pattern::Hold => "hold64",
            Pattern::AllocOnly => "alloc",
        }
    }
}

/// One configuration to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Config {
    threads: usize,
    size: u64,
    alloc: Allocator,
    pattern: Pattern,
}

impl Config {
    /// The BPF program, or None for glibc.
    fn prog(&self) -> Option<String> {
        let pat = match self.pattern {
            Pattern::Once => "once",
            Pattern::Hold => "hold",
            Pattern::AllocOnly => "",
        };
        match self.alloc {
            Allocator::Slab => Some(format!("bench_slab_{pat}")),
            Allocator::Buddy => Some(format!("bench_buddy_{pat}")),
            Allocator::Bump => Some("bench_bump".into()),
            Allocator::ObjNew => Some(format!("bench_objnew_{pat}_{}", self.size)),
            Allocator::Glibc => None,
        }
    }

    /// Iterations of one run: bump runs are capped by BUMP_BYTES_PER_RUN.
    fn iters(&self, iters: u32) -> u32 {
        match self.alloc {
            Allocator::Bump => {
                let cap = (BUMP_BYTES_PER_RUN / self.size.max(1)).max(1);
                iters.min(u32::try_from(cap).unwrap_or(u32::MAX))
            }
            _ => iters,
        }
    }
}

/// What one thread measured in one run.
#[derive(Debug, Clone, Copy, Default)]
struct ThreadRun {
    elapsed_ns: u64,
    iters: u64,
    ops: u64,
    failed: u64,
}

/// One repetition of one configuration, all threads.
#[derive(Debug, Clone)]
struct Sample {
    /// Mean over threads of ns per iteration, loop overhead included.
    raw_ns: f64,
    /// Successful operations of all threads per second of the slowest.
    mops: f64,
    failed: u64,
}

impl Sample {
    fn of(runs: &[ThreadRun]) -> Sample {
        let per_thread: Vec<f64> = runs
            .iter()
            .map(|r| r.elapsed_ns as f64 / r.iters.max(1) as f64)
            .collect();
        let wall = runs.iter().map(|r| r.elapsed_ns).max().unwrap_or(0).max(1);
        let ops: u64 = runs.iter().map(|r| r.ops).sum();
        Sample {
            raw_ns: per_thread.iter().sum::<f64>() / per_thread.len().max(1) as f64,
            mops: ops as f64 * 1e3 / wall as f64,
            failed: runs.iter().map(|r| r.failed).sum(),
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    allocator: &'static str,
    size: u64,
    pattern: &'static str,
    threads: usize,
    iters: u32,
    /// Raw ns per pair (per alloc for bump), per thread, median.
    raw_ns_median: f64,
    /// The loop overhead subtracted.
    loop_ns: f64,
    /// Net ns per pair: median, min, max over repetitions.
    net_ns_median: f64,
    net_ns_min: f64,
    net_ns_max: f64,
    /// Aggregate throughput, million pairs per second, median.
    mops_median: f64,
    /// Allocations that failed, all repetitions.
    failed: u64,
    /// net / net of bpf_obj_new (same size, pattern, threads).
    ratio_vs_obj_new: Option<f64>,
    /// net / net of glibc (same size, pattern, threads).
    ratio_vs_glibc: Option<f64>,
}

/// The memory-overhead measurement.
#[derive(Debug, Clone, Serialize)]
struct MemOverhead {
    objects: u64,
    object_size: u64,
    failed: u64,
    slabs: u64,
    slab_bytes: u64,
    /// slabs × slab_bytes / (objects × size) - 1, in percent.
    slab_overhead_pct: f64,
    buddy_pages: u64,
    /// buddy pages × 4 KiB / (objects × size) - 1, in percent (includes
    /// the CPU cache page and any other page the allocator took).
    pages_overhead_pct: f64,
}

/// Everything the run produced (the JSON output).
#[derive(Debug, Serialize)]
struct Report {
    kernel: String,
    cpus: usize,
    iters: u32,
    reps: usize,
    ring: usize,
    rows: Vec<Row>,
    memory: Option<MemOverhead>,
    /// The targets for the slab, one line per size measured.
    targets: Vec<SlabTarget>,
}

/// The slab must be at least this many times cheaper than bpf_obj_new...
const TARGET_VS_OBJ_NEW: f64 = 10.0;
/// ...and take at most this many times glibc's time...
const TARGET_VS_GLIBC: f64 = 3.0;
/// ...and 64-byte objects may cost at most this much memory on top.
const TARGET_OVERHEAD_PCT: f64 = 12.5;

/// The slab's targets at one size, over every pattern and thread count
/// measured there (each judged on medians).
#[derive(Debug, Clone, Serialize)]
struct SlabTarget {
    size: u64,
    /// How many times cheaper than bpf_obj_new+drop: least and most.
    vs_obj_new_min: f64,
    vs_obj_new_max: f64,
    /// Times glibc's time: least and most.
    vs_glibc_min: f64,
    vs_glibc_max: f64,
    /// Every row at this size meets the bound.
    obj_new_met: bool,
    glibc_met: bool,
}

/// The slab rows' ratios gathered per size.
fn slab_targets(rows: &[Row]) -> Vec<SlabTarget> {
    let mut by_size: BTreeMap<u64, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.allocator == Allocator::Slab.name())
    {
        let e = by_size.entry(r.size).or_default();
        // ratio_vs_obj_new is our time over its: its inverse is the speed-up.
        if let Some(x) = r.ratio_vs_obj_new.filter(|x| *x > 0.0) {
            e.0.push(1.0 / x);
        }
        if let Some(x) = r.ratio_vs_glibc {
            e.1.push(x);
        }
    }
    by_size
        .into_iter()
        .filter(|(_, (o, g))| !o.is_empty() && !g.is_empty())
        .map(|(size, (o, g))| SlabTarget {
            size,
            vs_obj_new_min: min(&o),
            vs_obj_new_max: max(&o),
            vs_glibc_min: min(&g),
            vs_glibc_max: max(&g),
            obj_new_met: min(&o) >= TARGET_VS_OBJ_NEW,
            glibc_met: max(&g) <= TARGET_VS_GLIBC,
        })
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    validate(&args)?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let memory = measure_memory(args.mem_objects).context("memory-overhead measurement")?;

    let obj = OBJECT
        .load(&[])
        .context("loading the benchmark BPF object (needs root and BPF arena)")?;
    let configs = configs(&args);
    let mut samples: BTreeMap<Config, Vec<Sample>> = BTreeMap::new();
    let mut empty_bpf: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut empty_rust: BTreeMap<usize, Vec<f64>> = BTreeMap::new();

    // Warm-up (untimed): the allocators grow their caches and chunks here.
    for c in &configs {
        run(&obj, c, (c.iters(args.iters) / 10).max(1))?;
    }
    // Repetitions interleave the configurations, so slow phases of a noisy
    // machine hit them all alike.
    for rep in 0..args.reps {
        eprintln!("rep {}/{}", rep + 1, args.reps);
        for &t in &args.threads {
            let e = run_threads(t, |i| run_bpf(&obj, "bench_empty", 8, i, args.iters))?;
            empty_bpf.entry(t).or_default().push(Sample::of(&e).raw_ns);
            let e = run_threads(t, |_| Ok(glibc_empty(args.iters)))?;
            empty_rust.entry(t).or_default().push(Sample::of(&e).raw_ns);
        }
        for c in &configs {
            let runs = run(&obj, c, c.iters(args.iters))?;
            samples.entry(*c).or_default().push(Sample::of(&runs));
        }
    }

    let mut rows = Vec::new();
    for (c, s) in &samples {
        let empty = if c.alloc == Allocator::Glibc {
            &empty_rust
        } else {
            &empty_bpf
        };
        let loop_ns = empty.get(&c.threads).map_or(0.0, |v| median(v));
        let net: Vec<f64> = s.iter().map(|x| x.raw_ns - loop_ns).collect();
        let raw: Vec<f64> = s.iter().map(|x| x.raw_ns).collect();
        let mops: Vec<f64> = s.iter().map(|x| x.mops).collect();
        rows.push(Row {
            allocator: c.alloc.name(),
            size: c.size,
            pattern: c.pattern.name(),
            threads: c.threads,
            iters: c.iters(args.iters),
            raw_ns_median: median(&raw),
            loop_ns,
            net_ns_median: median(&net),
            net_ns_min: min(&net),
            net_ns_max: max(&net),
            mops_median: median(&mops),
            failed: s.iter().map(|x| x.failed).sum(),
            ratio_vs_obj_new: None,
            ratio_vs_glibc: None,
        });
    }
    add_ratios(&mut rows);
    rows.sort_by(|a, b| {
        (a.threads, a.size, a.pattern, order(a.allocator)).cmp(&(
            b.threads,
            b.size,
            b.pattern,
            order(b.allocator),
        ))
    });

    let report = Report {
        kernel: kernel_release(),
        cpus,
        iters: args.iters,
        reps: args.reps,
        ring: RING,
        targets: slab_targets(&rows),
        rows,
        memory: Some(memory),
    };
    print!("{}", markdown(&report, &empty_bpf, &empty_rust));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn validate(args: &Args) -> Result<()> {
    if args.iters == 0 || args.reps == 0 {
        bail!("--iters and --reps must be at least 1");
    }
    if let Some(&t) = args.threads.iter().find(|&&t| t == 0 || t > MAX_THREADS) {
        bail!("--threads {t}: must be 1..={MAX_THREADS}");
    }
    if let Some(&s) = args.sizes.iter().find(|&&s| s == 0 || s > BUDDY_MAX) {
        bail!("--sizes {s}: must be 1..={BUDDY_MAX}");
    }
    Ok(())
}

/// Every configuration the flags ask for.
fn configs(args: &Args) -> Vec<Config> {
    let mut out = Vec::new();
    for &threads in &args.threads {
        for &size in &args.sizes {
            let mut add = |alloc, pattern| {
                out.push(Config {
                    threads,
                    size,
                    alloc,
                    pattern,
                })
            };
            for pattern in [Pattern::Once, Pattern::Hold] {
                if size <= SLAB_MAX {
                    add(Allocator::Slab, pattern);
                } else {
                    add(Allocator::Buddy, pattern);
                }
                if OBJNEW_SIZES.contains(&size) {
                    add(Allocator::ObjNew, pattern);
                }
                add(Allocator::Glibc, pattern);
            }
            add(Allocator::Bump, Pattern::AllocOnly);
        }
    }
    out
}

/// Runs one configuration with all its threads.
fn run(obj: &LoadedObject, c: &Config, iters: u32) -> Result<Vec<ThreadRun>> {
    match c.prog() {
        Some(prog) => run_threads(c.threads, |t| run_bpf(obj, &prog, c.size, t, iters)),
        None => {
            let (size, hold) = (c.size, c.pattern == Pattern::Hold);
            run_threads(c.threads, |_| Ok(glibc(size, iters, hold)))
        }
    }
}

/// Runs `f(thread index)` on `n` threads pinned to CPUs, started together.
fn run_threads<F>(n: usize, f: F) -> Result<Vec<ThreadRun>>
where
    F: Fn(usize) -> Result<ThreadRun> + Sync,
{
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                let (f, barrier) = (&f, &barrier);
                s.spawn(move || {
                    pin_to_cpu(t % cpus);
                    barrier.wait();
                    f(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))?
            })
            .collect()
    })
}

/// Runs BPF program `prog` once with a `struct bench_args` context.
fn run_bpf(
    obj: &LoadedObject,
    prog: &str,
    size: u64,
    thread: usize,
    iters: u32,
) -> Result<ThreadRun> {
    let mut args = [0u64; ARGS_WORDS];
    args[0] = u64::from(iters);
    args[1] = size;
    args[2] = thread as u64;
    let mut ctx = ctx_bytes(&args);
    let ret = obj.run_raw(prog, Some(&mut ctx))?;
    if ret != 0 {
        bail!("{prog} returned {}", ret as i32);
    }
    let out: [u64; ARGS_WORDS] = ctx_words(&ctx);
    Ok(ThreadRun {
        elapsed_ns: out[3],
        iters: u64::from(iters),
        ops: out[4],
        failed: out[5],
    })
}

/// glibc malloc/free, `once` or `hold` pattern.
fn glibc(size: u64, iters: u32, hold: bool) -> ThreadRun {
    let size = size as libc::size_t;
    let mut failed = 0u64;
    let elapsed;
    if hold {
        let mut ring = [std::ptr::null_mut::<libc::c_void>(); RING];
        for slot in ring.iter_mut() {
            // SAFETY: plain malloc; freed below.
            *slot = unsafe { libc::malloc(size) };
        }
        let t0 = Instant::now();
        for i in 0..iters as usize {
            let slot = &mut ring[i & (RING - 1)];
            // SAFETY: *slot is null or a live malloc() block of this thread.
            unsafe { libc::free(*slot) };
            // SAFETY: plain malloc; the ring frees it later.
            let p = unsafe { libc::malloc(size) };
            if p.is_null() {
                failed += 1;
            }
            *slot = black_box(p);
        }
        elapsed = t0.elapsed();
        for slot in ring.iter_mut() {
            // SAFETY: as above; each block is freed once.
            unsafe { libc::free(*slot) };
            *slot = std::ptr::null_mut();
        }
    } else {
        let t0 = Instant::now();
        for _ in 0..iters {
            // SAFETY: plain malloc, freed right away.
            let p = black_box(unsafe { libc::malloc(size) });
            if p.is_null() {
                failed += 1;
                continue;
            }
            // SAFETY: p is a live malloc() block.
            unsafe { libc::free(p) };
        }
        elapsed = t0.elapsed();
    }
    ThreadRun {
        elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        iters: u64::from(iters),
        ops: u64::from(iters) - failed,
        failed,
    }
}

/// The Rust loop of `glibc` with the ring bookkeeping and no allocation.
fn glibc_empty(iters: u32) -> ThreadRun {
    let mut ring = [0usize; RING];
    let t0 = Instant::now();
    for i in 0..iters as usize {
        let slot = &mut ring[i & (RING - 1)];
        *slot = black_box(*slot + 1);
    }
    let elapsed = t0.elapsed();
    black_box(&ring);
    ThreadRun {
        elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        iters: u64::from(iters),
        ops: u64::from(iters),
        failed: 0,
    }
}

/// Allocates `n` 64-byte objects in a fresh instance of the object and
/// reads the slab and page counts from the allocator root.
fn measure_memory(n: u32) -> Result<MemOverhead> {
    const SIZE: u64 = 64;
    let obj = OBJECT.load(&["bench_mem"])?;
    let mut args = [0u64; ARGS_WORDS];
    args[0] = u64::from(n);
    args[1] = SIZE;
    let mut ctx = ctx_bytes(&args);
    let ret = obj.run_raw("bench_mem", Some(&mut ctx))?;
    if ret != 0 {
        bail!("bench_mem returned {}", ret as i32);
    }
    let w: [u64; ARGS_WORDS] = ctx_words(&ctx);
    let (ops, failed) = (w[4], w[5]);
    let slabs = w[7].saturating_sub(w[6]);
    let pages = w[9].saturating_sub(w[8]);
    let slab_bytes = w[11];
    let payload = (ops * SIZE).max(1) as f64;
    Ok(MemOverhead {
        objects: ops,
        object_size: SIZE,
        failed,
        slabs,
        slab_bytes,
        slab_overhead_pct: ((slabs * slab_bytes) as f64 / payload - 1.0) * 100.0,
        buddy_pages: pages,
        pages_overhead_pct: ((pages * 4096) as f64 / payload - 1.0) * 100.0,
    })
}

/// Fills in each row's ratios against bpf_obj_new and glibc.
fn add_ratios(rows: &mut [Row]) {
    let net_of = |rows: &[Row], name: &str, r: &Row| {
        rows.iter()
            .find(|o| {
                o.allocator == name
                    && o.size == r.size
                    && o.pattern == r.pattern
                    && o.threads == r.threads
            })
            .map(|o| o.net_ns_median)
    };
    let ratios: Vec<(Option<f64>, Option<f64>)> = rows
        .iter()
        .map(|r| {
            let objnew = net_of(rows, Allocator::ObjNew.name(), r);
            let glibc = net_of(rows, Allocator::Glibc.name(), r);
            let ratio = |d: Option<f64>| d.filter(|d| *d > 0.0).map(|d| r.net_ns_median / d);
            (ratio(objnew), ratio(glibc))
        })
        .collect();
    for (row, (o, g)) in rows.iter_mut().zip(ratios) {
        row.ratio_vs_obj_new = o;
        row.ratio_vs_glibc = g;
    }
}

fn order(name: &str) -> usize {
    [
        Allocator::Slab,
        Allocator::Buddy,
        Allocator::ObjNew,
        Allocator::Glibc,
        Allocator::Bump,
    ]
    .iter()
    .position(|a| a.name() == name)
    .unwrap_or(usize::MAX)
}

fn size_cell(s: u64) -> String {
    if s >= 1024 && s.is_multiple_of(1024) {
        format!("{} KiB", s / 1024)
    } else {
        format!("{s} B")
    }
}

/// The report as markdown.
fn markdown(
    r: &Report,
    empty_bpf: &BTreeMap<usize, Vec<f64>>,
    empty_rust: &BTreeMap<usize, Vec<f64>>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Allocator benchmark (kernel {}, {} CPUs, {} iterations x {} reps, hold ring {})\n",
        r.kernel, r.cpus, r.iters, r.reps, r.ring
    );
    let _ = writeln!(
        s,
        "ns per alloc+free pair per thread (bump: per alloc, it has no free), net of the \
         loop overhead; median [min-max] over reps. Ratios: net / net of bpf_obj_new or \
         glibc for the same size, pattern and threads (< 1 = faster).\n"
    );
    let _ = writeln!(
        s,
        "| allocator | size | pattern | threads | ns/pair median [min-max] | raw | Mpairs/s total | vs bpf_obj_new | vs glibc |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for row in &r.rows {
        let failed = if row.failed > 0 {
            format!(" ({} failed)", row.failed)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} [{:.1}-{:.1}]{} | {:.1} | {:.2} | {} | {} |",
            row.allocator,
            size_cell(row.size),
            row.pattern,
            row.threads,
            row.net_ns_median,
            row.net_ns_min,
            row.net_ns_max,
            failed,
            row.raw_ns_median,
            row.mops_median,
            ratio_cell(row.ratio_vs_obj_new),
            ratio_cell(row.ratio_vs_glibc),
        );
    }
    let _ = writeln!(s, "\nLoop overhead subtracted (ns/iteration, median):");
    for (t, v) in empty_bpf {
        let rust = empty_rust.get(t).map_or(f64::NAN, |v| median(v));
        let _ = writeln!(
            s,
            "- {t} thread(s): BPF loop {:.1}, Rust loop {:.1}",
            median(v),
            rust
        );
    }
    if let Some(m) = &r.memory {
        let _ = writeln!(
            s,
            "\nMemory overhead, {} live {}-byte slab objects{}: {} slabs x {} KiB = {:.2}% over \
             the payload; buddy pages in use {} x 4 KiB = {:.2}% (includes the CPU cache page).",
            m.objects,
            m.object_size,
            if m.failed > 0 {
                format!(" ({} allocations failed)", m.failed)
            } else {
                String::new()
            },
            m.slabs,
            m.slab_bytes / 1024,
            m.slab_overhead_pct,
            m.buddy_pages,
            m.pages_overhead_pct,
        );
    }
    if !r.targets.is_empty() {
        let _ = writeln!(
            s,
            "\nTargets for the slab, per size over its patterns and thread counts \
             (least-most, each on medians):\n"
        );
        for t in &r.targets {
            let _ = writeln!(
                s,
                "- {}: {:.1}-{:.1}x cheaper than bpf_obj_new+drop (target >= {TARGET_VS_OBJ_NEW}x): \
                 {}; {:.2}-{:.2}x glibc's time (target <= {TARGET_VS_GLIBC}x): {}",
                size_cell(t.size),
                t.vs_obj_new_min,
                t.vs_obj_new_max,
                verdict(t.obj_new_met),
                t.vs_glibc_min,
                t.vs_glibc_max,
                verdict(t.glibc_met),
            );
        }
        if let Some(m) = r.memory.as_ref().filter(|m| m.object_size == 64) {
            let _ = writeln!(
                s,
                "- memory for {} live 64-byte objects: {:.2}% over the payload \
                 (target <= {TARGET_OVERHEAD_PCT}%): {}",
                m.objects,
                m.pages_overhead_pct,
                verdict(m.pages_overhead_pct <= TARGET_OVERHEAD_PCT)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slab_row(size: u64, threads: usize, vs_obj_new: f64, vs_glibc: f64) -> Row {
        Row {
            allocator: Allocator::Slab.name(),
            size,
            pattern: "hold64",
            threads,
            iters: 1,
            raw_ns_median: 0.0,
            loop_ns: 0.0,
            net_ns_median: 0.0,
            net_ns_min: 0.0,
            net_ns_max: 0.0,
            mops_median: 0.0,
            failed: 0,
            ratio_vs_obj_new: Some(vs_obj_new),
            ratio_vs_glibc: Some(vs_glibc),
        }
    }

    #[test]
    fn a_size_meets_a_target_only_when_every_row_does() {
        let rows = vec![
            slab_row(16, 1, 0.2, 1.8),   // 5x cheaper
            slab_row(16, 2, 0.125, 3.5), // 8x, over 3x glibc
            slab_row(256, 1, 0.08, 2.0), // 12.5x
            slab_row(256, 2, 0.05, 2.9), // 20x
        ];
        let t = slab_targets(&rows);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].size, 16);
        assert!((t[0].vs_obj_new_min - 5.0).abs() < 1e-9);
        assert!((t[0].vs_obj_new_max - 8.0).abs() < 1e-9);
        assert!(!t[0].obj_new_met && !t[0].glibc_met);
        assert!(t[1].obj_new_met && t[1].glibc_met);
        let md = markdown(
            &Report {
                kernel: "k".into(),
                cpus: 2,
                iters: 1,
                reps: 1,
                ring: RING,
                rows,
                memory: None,
                targets: t,
            },
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        assert!(
            md.contains("- 16 B: 5.0-8.0x cheaper than bpf_obj_new+drop (target >= 10x): missed"),
            "{md}"
        );
        assert!(
            md.contains("- 256 B: 12.5-20.0x cheaper than bpf_obj_new+drop (target >= 10x): met"),
            "{md}"
        );
    }
}
