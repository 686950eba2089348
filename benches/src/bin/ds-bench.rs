//! ds-bench: the scx-arena data structures side by side with the kernel's
//! `bpf_rbtree` and Rust's own `BinaryHeap`/`BTreeMap`, on this machine, in
//! one run.
//!
//! Two models (benches/bpf/ds_bench.h), at several resident sizes N:
//! - **hold**: pop the minimum, insert the popped key plus a random
//!   increment (priority-queue churn);
//! - **remove**: remove an arbitrary element (by handle for intrusive
//!   structures, by key otherwise), then insert it with a random key.
//!
//! The key streams are generated here once per N and copied into the arena,
//! so every contender — BPF or native — runs the same operations; each run
//! must report the checksum of the keys it popped or removed that the Rust
//! reference computes, or the benchmark fails. BPF programs time their own
//! loop with `bpf_ktime_get_ns()` (`BPF_PROG_TEST_RUN` has no `repeat` for
//! syscall programs); the overhead of the bare loop, measured the same way,
//! is subtracted from BPF and native figures alike. Repetitions interleave
//! the contenders and report median [min-max]. Single thread, pinned.
//!
//! Needs root and a kernel with BPF arena and `bpf_rbtree_root/left/right`
//! (6.16+). Never asserts timings.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use scx_arena::testing::{LoadedObject, TestObject};
use scx_arena_benches::{
    ctx_bytes, ctx_words, kernel_release, max, median, min, pin_to_cpu, ratio_cell, verdict,
};
use serde::Serialize;

/// benches/bpf/ds_bench.bpf.c, built by build.rs.
const OBJECT: TestObject = TestObject {
    source: "ds_bench.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/ds_bench.bpf.o")),
};

/// `DS_ARGS_WORDS`.
const ARGS_WORDS: usize = 8;
/// `DS_MAX_N`.
const MAX_N: usize = 16384;
/// `DS_SLOT_BITS`.
const SLOT_BITS: u32 = 14;
/// `DS_MAX_ITERS`.
const MAX_ITERS: usize = 65536;
/// Mean hold-model increment, in units of `1 << SLOT_BITS`; initial keys
/// spread over twice that, like the hold model's steady state.
const MEAN_INC: u64 = 1 << 20;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Arena heap/RB-tree/B-tree vs bpf_rbtree vs BinaryHeap/BTreeMap: ns per operation"
)]
struct Args {
    /// Resident elements, comma-separated (at most 16384).
    #[arg(long, value_delimiter = ',', default_value = "64,1024,16384")]
    sizes: Vec<usize>,
    /// Timed operations per measurement (at most 65536).
    #[arg(long, default_value_t = 50_000)]
    iters: usize,
    /// Repetitions of every measurement (median, min and max reported).
    /// Many, because this host's noise comes in bursts that can slow
    /// several runs in a row; a full run still takes well under a minute.
    #[arg(long, default_value_t = 15)]
    reps: usize,
    /// Seed of the key streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A benchmark model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum Model {
    /// Pop the minimum, push it back with a larger key.
    Hold,
    /// Remove an arbitrary element, insert it with a new key.
    Remove,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Hold => "hold",
            Model::Remove => "remove",
        }
    }
}

/// How a contender runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// A BPF program: `bench_<prefix>_<model>`.
    Bpf(&'static str),
    /// `std::collections::BinaryHeap` (hold model only).
    BinaryHeap,
    /// `std::collections::BTreeMap`.
    BTreeMap,
}

/// One contender.
#[derive(Debug, Clone, Copy)]
struct Contender {
    name: &'static str,
    runner: Runner,
    /// Models it runs.
    models: &'static [Model],
}

const BOTH: &[Model] = &[Model::Hold, Model::Remove];

/// Every contender, in table order. The first BPF one is the baseline of
/// the "vs bpf_rbtree" column, the native ones of "vs native".
const CONTENDERS: &[Contender] = &[
    Contender {
        name: "kernel bpf_rbtree, nodes reused",
        runner: Runner::Bpf("kern_rb_reuse"),
        models: BOTH,
    },
    Contender {
        name: "kernel bpf_rbtree, new+drop per op",
        runner: Runner::Bpf("kern_rb_newdrop"),
        models: BOTH,
    },
    Contender {
        name: "scx heap",
        runner: Runner::Bpf("scx_heap"),
        models: BOTH,
    },
    Contender {
        name: "scx RB-tree",
        runner: Runner::Bpf("scx_rb"),
        models: BOTH,
    },
    Contender {
        name: "scx B+tree",
        runner: Runner::Bpf("scx_bt"),
        models: BOTH,
    },
    Contender {
        name: "scx task rq (vtime, locked)",
        runner: Runner::Bpf("scx_rq"),
        models: BOTH,
    },
    Contender {
        name: "Rust BinaryHeap (userspace)",
        runner: Runner::BinaryHeap,
        models: &[Model::Hold],
    },
    Contender {
        name: "Rust BTreeMap (userspace)",
        runner: Runner::BTreeMap,
        models: BOTH,
    },
];

/// The baseline contenders of the ratio columns.
const KERN_BASELINE: &str = "kernel bpf_rbtree, nodes reused";
fn native_baseline(model: Model) -> &'static str {
    match model {
        Model::Hold => "Rust BinaryHeap (userspace)",
        Model::Remove => "Rust BTreeMap (userspace)",
    }
}

/// The streams of one N (see ds_bench.h).
struct Streams {
    n: usize,
    init: Vec<u64>,
    /// Hold model: the increments.
    inc: Vec<u64>,
    /// Remove model: the new key of each operation.
    new: Vec<u64>,
    /// Remove model: the key removed by each operation.
    old: Vec<u64>,
    /// Expected checksums.
    hold_sum: u64,
    remove_sum: u64,
}

/// splitmix64: a small, fixed generator, so a seed names the same streams
/// everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0; the bias is negligible here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

impl Streams {
    fn new(n: usize, iters: usize, seed: u64) -> Streams {
        let mut rng = Rng(seed ^ (n as u64).rotate_left(32));
        let key = |hi: u64, slot: usize| (hi << SLOT_BITS) | slot as u64;
        let init: Vec<u64> = (0..n).map(|s| key(rng.below(2 * MEAN_INC), s)).collect();
        let inc: Vec<u64> = (0..iters)
            .map(|_| (1 + rng.below(2 * MEAN_INC)) << SLOT_BITS)
            .collect();
        let mut cur = init.clone();
        let mut new = Vec::with_capacity(iters);
        let mut old = Vec::with_capacity(iters);
        for _ in 0..iters {
            let s = rng.below(n as u64) as usize;
            old.push(cur[s]);
            cur[s] = key(rng.below(2 * MEAN_INC), s);
            new.push(cur[s]);
        }
        // The reference results, computed the plain way.
        let mut set: std::collections::BTreeSet<u64> = init.iter().copied().collect();
        let mut hold_sum = 0u64;
        for d in &inc {
            let k = set.pop_first().unwrap_or(0);
            hold_sum = hold_sum.wrapping_add(k);
            set.insert(k + d);
        }
        let remove_sum = old.iter().fold(0u64, |a, k| a.wrapping_add(*k));
        Streams {
            n,
            init,
            inc,
            new,
            old,
            hold_sum,
            remove_sum,
        }
    }

    fn expected(&self, model: Model) -> u64 {
        match model {
            Model::Hold => self.hold_sum,
            Model::Remove => self.remove_sum,
        }
    }

    /// Copies the streams of `model` into the object's arena buffers.
    fn load_into(&self, obj: &LoadedObject, model: Model) -> Result<()> {
        let mut w = [0u64; ARGS_WORDS];
        w[0] = self.n as u64;
        let mut ctx = ctx_bytes(&w);
        let ret = obj.run_raw("bench_ds_setup", Some(&mut ctx))?;
        if ret != 0 {
            bail!("bench_ds_setup returned {}", ret as i32);
        }
        let w: [u64; ARGS_WORDS] = ctx_words(&ctx);
        let view = obj.arena()?;
        view.write_array(w[5], &self.init)?;
        match model {
            Model::Hold => view.write_array(w[6], &self.inc)?,
            Model::Remove => {
                view.write_array(w[6], &self.new)?;
                view.write_array(w[7], &self.old)?;
            }
        }
        Ok(())
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct RunResult {
    elapsed_ns: u64,
    checksum: u64,
    errors: u64,
}

/// Runs `bench_<prefix>_<model>` (or `bench_ds_empty` for prefix "").
fn run_bpf(obj: &LoadedObject, prog: &str, n: usize, iters: usize) -> Result<RunResult> {
    let mut w = [0u64; ARGS_WORDS];
    w[0] = n as u64;
    w[1] = iters as u64;
    let mut ctx = ctx_bytes(&w);
    let ret = obj.run_raw(prog, Some(&mut ctx))?;
    if ret != 0 {
        bail!("{prog} returned {}", ret as i32);
    }
    let w: [u64; ARGS_WORDS] = ctx_words(&ctx);
    Ok(RunResult {
        elapsed_ns: w[2],
        checksum: w[3],
        errors: w[4],
    })
}

fn nanos(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The bare native loop over the streams.
fn native_empty(s: &Streams) -> RunResult {
    let t0 = Instant::now();
    let mut sum = 0u64;
    for (a, b) in s.new.iter().zip(&s.old) {
        sum = black_box(sum.wrapping_add(a ^ b));
    }
    RunResult {
        elapsed_ns: nanos(t0),
        checksum: sum,
        errors: 0,
    }
}

fn native_binary_heap(s: &Streams) -> RunResult {
    let mut h: BinaryHeap<Reverse<u64>> = s.init.iter().map(|&k| Reverse(k)).collect();
    let mut sum = 0u64;
    let mut errors = 0;
    let t0 = Instant::now();
    for d in &s.inc {
        let Some(Reverse(k)) = h.pop() else {
            errors += 1;
            break;
        };
        sum = sum.wrapping_add(k);
        h.push(Reverse(k + d));
    }
    let elapsed_ns = nanos(t0);
    black_box(&h);
    RunResult {
        elapsed_ns,
        checksum: sum,
        errors,
    }
}

fn native_btree_map(s: &Streams, model: Model) -> RunResult {
    let mut m: BTreeMap<u64, u32> = s
        .init
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();
    let mut sum = 0u64;
    let mut errors = 0;
    let t0 = Instant::now();
    match model {
        Model::Hold => {
            for d in &s.inc {
                let Some((k, v)) = m.pop_first() else {
                    errors += 1;
                    break;
                };
                sum = sum.wrapping_add(k);
                m.insert(k + d, v);
            }
        }
        Model::Remove => {
            for (old, new) in s.old.iter().zip(&s.new) {
                let Some(v) = m.remove(old) else {
                    errors += 1;
                    break;
                };
                sum = sum.wrapping_add(*old);
                m.insert(*new, v);
            }
        }
    }
    let elapsed_ns = nanos(t0);
    black_box(&m);
    RunResult {
        elapsed_ns,
        checksum: sum,
        errors,
    }
}

/// One line of the results table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    model: &'static str,
    n: usize,
    contender: &'static str,
    /// Net ns per operation: median, min, max over repetitions.
    ns_median: f64,
    ns_min: f64,
    ns_max: f64,
    /// The loop overhead subtracted (ns per operation, median).
    loop_ns: f64,
    /// Net ns per operation of every repetition, in run order (repetition
    /// r of every contender ran side by side with repetition r of the
    /// others).
    ns_reps: Vec<f64>,
    /// ns / ns of the kernel's bpf_rbtree with reused nodes (< 1 = faster).
    vs_bpf_rbtree: Option<f64>,
    /// ns / ns of the native baseline (BinaryHeap for hold, BTreeMap for
    /// remove).
    vs_native: Option<f64>,
}

/// Everything the run produced (the JSON output).
#[derive(Debug, Serialize)]
struct Report {
    kernel: String,
    iters: usize,
    reps: usize,
    seed: u64,
    rows: Vec<Row>,
    /// The targets at [`TARGET_N`], when it was measured.
    targets: Vec<TargetResult>,
}

/// The size the targets are set at.
const TARGET_N: usize = 1024;

/// A performance target: `contender`'s time against `baseline`'s in one
/// model at [`TARGET_N`].
struct Target {
    what: &'static str,
    model: Model,
    contender: &'static str,
    baseline: &'static str,
    /// `Faster(k)`: at least k times faster; `Within(k)`: at most k times
    /// the baseline's time.
    bound: Bound,
}

#[derive(Debug, Clone, Copy, Serialize)]
enum Bound {
    Faster(f64),
    Within(f64),
}

impl Bound {
    /// The figure compared with the bound: speed-up or time ratio.
    fn figure(self, ns: f64, base_ns: f64) -> f64 {
        match self {
            Bound::Faster(_) => base_ns / ns,
            Bound::Within(_) => ns / base_ns,
        }
    }

    fn met(self, figure: f64) -> bool {
        match self {
            Bound::Faster(k) => figure >= k,
            Bound::Within(k) => figure <= k,
        }
    }
}

/// The targets (at N = 1,024).
const TARGETS: &[Target] = &[
    Target {
        what: "heap hold churn vs bpf_rbtree (nodes reused): at least 4x faster",
        model: Model::Hold,
        contender: "scx heap",
        baseline: KERN_BASELINE,
        bound: Bound::Faster(4.0),
    },
    Target {
        what: "heap hold churn vs BinaryHeap: within 2x its time",
        model: Model::Hold,
        contender: "scx heap",
        baseline: "Rust BinaryHeap (userspace)",
        bound: Bound::Within(2.0),
    },
    Target {
        what: "RB-tree remove+insert vs bpf_rbtree (nodes reused): at least 3x faster",
        model: Model::Remove,
        contender: "scx RB-tree",
        baseline: KERN_BASELINE,
        bound: Bound::Faster(3.0),
    },
];

/// One target as measured: judged on the medians (the statistic),
/// with the spread of the same figure over the side-by-side repetitions.
#[derive(Debug, Clone, Serialize)]
struct TargetResult {
    what: &'static str,
    bound: Bound,
    /// The figure from the two medians.
    figure: f64,
    /// The figure of each repetition: min, max, and how many met the bound.
    reps_min: f64,
    reps_max: f64,
    reps_met: usize,
    reps: usize,
    met: bool,
}

/// Each target whose rows were measured.
fn judge_targets(rows: &[Row]) -> Vec<TargetResult> {
    let row = |model: Model, name: &str| {
        rows.iter()
            .find(|r| r.model == model.name() && r.n == TARGET_N && r.contender == name)
    };
    TARGETS
        .iter()
        .filter_map(|t| {
            let (c, b) = (row(t.model, t.contender)?, row(t.model, t.baseline)?);
            if c.ns_median <= 0.0 || b.ns_median <= 0.0 {
                return None;
            }
            let figure = t.bound.figure(c.ns_median, b.ns_median);
            let per_rep: Vec<f64> = c
                .ns_reps
                .iter()
                .zip(&b.ns_reps)
                .filter(|(x, y)| **x > 0.0 && **y > 0.0)
                .map(|(x, y)| t.bound.figure(*x, *y))
                .collect();
            Some(TargetResult {
                what: t.what,
                bound: t.bound,
                figure,
                reps_min: min(&per_rep),
                reps_max: max(&per_rep),
                reps_met: per_rep.iter().filter(|f| t.bound.met(**f)).count(),
                reps: per_rep.len(),
                met: t.bound.met(figure),
            })
        })
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.iters == 0 || args.iters > MAX_ITERS || args.reps == 0 {
        bail!("--iters must be 1..={MAX_ITERS} and --reps at least 1");
    }
    if let Some(&n) = args.sizes.iter().find(|&&n| n == 0 || n > MAX_N) {
        bail!("--sizes {n}: must be 1..={MAX_N}");
    }
    pin_to_cpu(0);
    let obj = OBJECT
        .load(&[])
        .context("loading the benchmark BPF object (needs root, BPF arena, Linux 6.16+)")?;

    let mut rows = Vec::new();
    for &n in &args.sizes {
        let streams = Streams::new(n, args.iters, args.seed);
        for model in [Model::Hold, Model::Remove] {
            streams.load_into(&obj, model)?;
            rows.extend(measure(&obj, &streams, model, &args)?);
        }
    }
    add_ratios(&mut rows);
    let targets = judge_targets(&rows);
    let report = Report {
        kernel: kernel_release(),
        iters: args.iters,
        reps: args.reps,
        seed: args.seed,
        rows,
        targets,
    };
    print!("{}", markdown(&report));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Every contender of `model` at one N, interleaved over the repetitions.
fn measure(obj: &LoadedObject, s: &Streams, model: Model, args: &Args) -> Result<Vec<Row>> {
    let contenders: Vec<&Contender> = CONTENDERS
        .iter()
        .filter(|c| c.models.contains(&model))
        .collect();
    let iters = args.iters as f64;
    let run = |c: &Contender| -> Result<RunResult> {
        match c.runner {
            Runner::Bpf(prefix) => run_bpf(
                obj,
                &format!("bench_{prefix}_{}", model.name()),
                s.n,
                s.inc.len(),
            ),
            Runner::BinaryHeap => Ok(native_binary_heap(s)),
            Runner::BTreeMap => Ok(native_btree_map(s, model)),
        }
    };
    // Warm-up, and the check that every contender computes the same thing.
    for c in &contenders {
        let r = run(c)?;
        if r.errors != 0 || r.checksum != s.expected(model) {
            bail!(
                "{} ({}, N={}): checksum {:#x} (expected {:#x}), {} errors",
                c.name,
                model.name(),
                s.n,
                r.checksum,
                s.expected(model),
                r.errors
            );
        }
    }
    let mut bpf_loop = Vec::new();
    let mut native_loop = Vec::new();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for rep in 0..args.reps {
        eprintln!("{} N={} rep {}/{}", model.name(), s.n, rep + 1, args.reps);
        bpf_loop.push(run_bpf(obj, "bench_ds_empty", s.n, s.inc.len())?.elapsed_ns as f64 / iters);
        native_loop.push(native_empty(s).elapsed_ns as f64 / iters);
        for (i, c) in contenders.iter().enumerate() {
            let r = run(c)?;
            if r.errors != 0 || r.checksum != s.expected(model) {
                bail!(
                    "{} ({}, N={}): wrong result on rep {rep}",
                    c.name,
                    model.name(),
                    s.n
                );
            }
            samples[i].push(r.elapsed_ns as f64 / iters);
        }
    }
    let (bpf_loop, native_loop) = (median(&bpf_loop), median(&native_loop));
    Ok(contenders
        .iter()
        .zip(samples)
        .map(|(c, v)| {
            let loop_ns = if matches!(c.runner, Runner::Bpf(_)) {
                bpf_loop
            } else {
                native_loop
            };
            let net: Vec<f64> = v.iter().map(|x| x - loop_ns).collect();
            Row {
                model: model.name(),
                n: s.n,
                contender: c.name,
                ns_median: median(&net),
                ns_min: min(&net),
                ns_max: max(&net),
                loop_ns,
                ns_reps: net,
                vs_bpf_rbtree: None,
                vs_native: None,
            }
        })
        .collect())
}

/// Fills in each row's ratios against its baselines.
fn add_ratios(rows: &mut [Row]) {
    let base = |rows: &[Row], name: &str, r: &Row| {
        rows.iter()
            .find(|o| o.contender == name && o.model == r.model && o.n == r.n)
            .map(|o| o.ns_median)
            .filter(|d| *d > 0.0)
    };
    let ratios: Vec<(Option<f64>, Option<f64>)> = rows
        .iter()
        .map(|r| {
            let model = if r.model == Model::Hold.name() {
                Model::Hold
            } else {
                Model::Remove
            };
            (
                base(rows, KERN_BASELINE, r).map(|d| r.ns_median / d),
                base(rows, native_baseline(model), r).map(|d| r.ns_median / d),
            )
        })
        .collect();
    for (row, (k, n)) in rows.iter_mut().zip(ratios) {
        row.vs_bpf_rbtree = k;
        row.vs_native = n;
    }
}

/// The report as markdown.
fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Data-structure benchmark (kernel {}, {} ops x {} reps, seed {}, one thread)\n",
        r.kernel, r.iters, r.reps, r.seed
    );
    let _ = writeln!(
        s,
        "ns per operation (hold: pop-min + insert; remove: remove + insert), net of the \
         loop overhead; median [min-max] over reps. Ratios: ns / ns of the kernel's \
         bpf_rbtree with reused nodes, and of the native baseline (BinaryHeap for hold, \
         BTreeMap for remove); < 1 = faster.\n"
    );
    let _ = writeln!(
        s,
        "| model | N | contender | ns/op median [min-max] | vs bpf_rbtree | vs native |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for row in &r.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} [{:.1}-{:.1}] | {} | {} |",
            row.model,
            row.n,
            row.contender,
            row.ns_median,
            row.ns_min,
            row.ns_max,
            ratio_cell(row.vs_bpf_rbtree),
            ratio_cell(row.vs_native),
        );
    }
    if !r.targets.is_empty() {
        let _ = writeln!(
            s,
            "\nTargets at N = {TARGET_N}, judged on the medians; in brackets the same figure \
             over the {} side-by-side repetitions (min-max, and how many met it):\n",
            r.reps
        );
        for t in &r.targets {
            let _ = writeln!(
                s,
                "- {}: {:.2}x [{:.2}-{:.2}x, {}/{}]: {}",
                t.what,
                t.figure,
                t.reps_min,
                t.reps_max,
                t.reps_met,
                t.reps,
                verdict(t.met)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: Model, n: usize, contender: &'static str, reps: &[f64]) -> Row {
        Row {
            model: model.name(),
            n,
            contender,
            ns_median: median(reps),
            ns_min: min(reps),
            ns_max: max(reps),
            loop_ns: 0.0,
            ns_reps: reps.to_vec(),
            vs_bpf_rbtree: None,
            vs_native: None,
        }
    }

    #[test]
    fn targets_are_judged_on_the_medians_with_the_paired_repetitions_beside() {
        let rows = vec![
            row(Model::Hold, TARGET_N, KERN_BASELINE, &[400.0, 400.0, 400.0]),
            // Speed-ups 8, 2 and 5 per repetition; 400 / 80 = 5 on the medians.
            row(Model::Hold, TARGET_N, "scx heap", &[50.0, 200.0, 80.0]),
            // Time ratios 1.67, 6.67, 2.67; 80 / 30 = 2.67 on the medians.
            row(
                Model::Hold,
                TARGET_N,
                "Rust BinaryHeap (userspace)",
                &[30.0, 30.0, 30.0],
            ),
            // Another N does not count; without its remove rows the
            // RB-tree target is left out.
            row(Model::Remove, 64, KERN_BASELINE, &[400.0]),
            row(Model::Remove, 64, "scx RB-tree", &[10.0]),
        ];
        let t = judge_targets(&rows);
        assert_eq!(t.len(), 2);
        assert!((t[0].figure - 5.0).abs() < 1e-9);
        assert!(t[0].met);
        assert_eq!((t[0].reps_met, t[0].reps), (2, 3));
        assert!((t[0].reps_min - 2.0).abs() < 1e-9 && (t[0].reps_max - 8.0).abs() < 1e-9);
        assert!((t[1].figure - 80.0 / 30.0).abs() < 1e-9);
        assert!(!t[1].met);
        assert_eq!(t[1].reps_met, 1);
        let md = markdown(&Report {
            kernel: "k".into(),
            iters: 1,
            reps: 3,
            seed: 1,
            rows,
            targets: t,
        });
        assert!(
            md.contains("at least 4x faster: 5.00x [2.00-8.00x, 2/3]: met"),
            "{md}"
        );
        assert!(
            md.contains("within 2x its time: 2.67x [1.67-6.67x, 1/3]: missed"),
            "{md}"
        );
    }
}
