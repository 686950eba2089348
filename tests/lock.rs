//! The arena spin lock under real concurrency: several threads run
//! `lock_counter_churn` (bpf/tests/test_lock.bpf.c) on one loaded object at
//! once, each incrementing a shared arena counter with a plain read and
//! write under the lock; not one increment may be lost. Also times how long
//! a default-bound acquisition of a held lock waits before it gives up.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_lock.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_lock.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_lock.bpf.o")),
};

const CHURN: &str = "lock_counter_churn";
const TIMEOUT_PROG: &str = "lock_timeout_ns";
const ETIMEDOUT: i64 = 110;

/// Tries at getting all runs to overlap (met at the BPF start barrier).
const ATTEMPTS: usize = 5;

/// The tests here measure concurrency on the host's few CPUs, so they take
/// turns rather than compete with each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `struct lock_churn_args` of bpf/tests/test_lock.h: nine u64s.
#[derive(Debug, Default, Clone, Copy)]
struct ChurnArgs {
    iters: u64,
    nthreads: u64,
    unlocked: u64,
    counter: u64,
    counter_addr: u64,
    timeouts: u64,
    errors: u64,
    barrier_ok: u64,
    elapsed_ns: u64,
}

impl ChurnArgs {
    const WORDS: usize = 9;

    fn to_words(self) -> [u64; Self::WORDS] {
        [
            self.iters,
            self.nthreads,
            self.unlocked,
            self.counter,
            self.counter_addr,
            self.timeouts,
            self.errors,
            self.barrier_ok,
            self.elapsed_ns,
        ]
    }

    fn from_words(w: [u64; Self::WORDS]) -> Self {
        ChurnArgs {
            iters: w[0],
            nthreads: w[1],
            unlocked: w[2],
            counter: w[3],
            counter_addr: w[4],
            timeouts: w[5],
            errors: w[6],
            barrier_ok: w[7],
            elapsed_ns: w[8],
        }
    }
}

/// One run of the churn program.
fn churn(obj: &LoadedObject, iters: u64, nthreads: u64, unlocked: bool) -> ChurnArgs {
    let mut w = ChurnArgs {
        iters,
        nthreads,
        unlocked: u64::from(unlocked),
        ..Default::default()
    }
    .to_words();
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    obj.outcome(CHURN, ret).unwrap_or_else(|e| panic!("{e}"));
    ChurnArgs::from_words(w)
}

/// What `threads` concurrent runs of `iters` rounds each left behind.
struct Outcome {
    /// The shared counter afterwards.
    counter: u64,
    /// The counter read through the arena mmap instead of by BPF.
    counter_via_mmap: u64,
    /// scx_arena_last_error.count afterwards.
    errors: u64,
    /// Acquisitions that timed out (and were retried).
    timeouts: u64,
    /// Runs that met all the others at the start barrier.
    barrier_met: u64,
    /// Longest time one run spent in its rounds.
    max_run_ns: u64,
    /// Wall time of the whole concurrent phase.
    wall_ms: f64,
}

/// Runs `threads` copies of the churn program at once on one loaded object.
fn run_concurrently(threads: u64, iters: u64, unlocked: bool) -> Outcome {
    let obj = OBJ.load(&[CHURN]).unwrap_or_else(|e| panic!("{e}"));
    // The BPF-side barrier waits for as many runs as can be on CPU at once:
    // a run spinning there keeps its CPU (the host kernel may not preempt
    // it), so waiting for more than that would only wait out the bound.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let meet = threads.min(cpus);
    let start = Instant::now();
    let runs: Vec<ChurnArgs> =
        run_at_once(threads as usize, |_| churn(&obj, iters, meet, unlocked));
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;

    // A zero-round run reads the final state (no barrier: nthreads 0).
    let last = churn(&obj, 0, 0, false);
    let counter_via_mmap = obj
        .arena()
        .and_then(|view| Ok(view.read::<u64>(last.counter_addr)?))
        .unwrap_or_else(|e| panic!("{e}"));
    Outcome {
        counter: last.counter,
        counter_via_mmap,
        errors: last.errors,
        timeouts: runs.iter().map(|r| r.timeouts).sum(),
        barrier_met: runs.iter().map(|r| r.barrier_ok).sum(),
        max_run_ns: runs.iter().map(|r| r.elapsed_ns).max().unwrap_or(0),
        wall_ms,
    }
}

fn report(what: &str, threads: u64, iters: u64, out: &Outcome) {
    eprintln!(
        "{what}: {threads} threads x {iters} rounds: {:.1} ms wall, longest run {:.1} ms \
         ({:.0} ns/round), {}/{threads} met at the barrier, {} timeouts retried, counter {}",
        out.wall_ms,
        out.max_run_ns as f64 / 1e6,
        out.max_run_ns as f64 / iters as f64,
        out.barrier_met,
        out.timeouts,
        out.counter
    );
}

fn check_mutual_exclusion(threads: u64, iters: u64) {
    if !host_ready(module_path!()) {
        return;
    }
    let _turn = serial();
    let total = threads * iters;
    for _ in 0..ATTEMPTS {
        let out = run_concurrently(threads, iters, false);
        report("locked", threads, iters, &out);
        assert_eq!(
            out.counter,
            total,
            "lost {} of {total} increments under the lock",
            total as i64 - out.counter as i64
        );
        assert_eq!(out.counter_via_mmap, total, "counter read through the mmap");
        assert_eq!(out.errors, 0, "the library recorded an error");
        if out.barrier_met == threads {
            return;
        }
    }
    eprintln!(
        "note: the runs never met at the start barrier in {ATTEMPTS} attempts (a busy host); \
         exclusion held, but overlap was not proven"
    );
}

#[test]
fn lock_excludes_two_threads() {
    check_mutual_exclusion(2, 200_000);
}

#[test]
fn lock_excludes_four_threads() {
    check_mutual_exclusion(4, 200_000);
}

/// The same churn without the lock loses increments once two runs overlap:
/// the check above can see a broken lock. Skips when the runs never meet at
/// the start barrier (one CPU, or a host too busy to run both at once).
#[test]
fn churn_without_lock_loses_increments() {
    if !host_ready(module_path!()) {
        return;
    }
    let _turn = serial();
    let (threads, iters) = (2u64, 1_000_000u64);
    for _ in 0..ATTEMPTS {
        let out = run_concurrently(threads, iters, true);
        report("unlocked control", threads, iters, &out);
        if out.barrier_met < threads {
            continue;
        }
        assert!(
            out.counter < threads * iters,
            "two overlapping unlocked runs lost no increment: the churn cannot see races"
        );
        return;
    }
    eprintln!("SKIPPED: the unlocked runs never overlapped in {ATTEMPTS} attempts");
}

/// How long a default-bound acquisition of a held lock waits before it
/// returns -ETIMEDOUT (SCX_ARENA_LOCK_TIMEOUT_NS: lock.h promises a second).
#[test]
fn default_bound_times_out_after_a_second() {
    if !host_ready(module_path!()) {
        return;
    }
    let _turn = serial();
    let obj = OBJ.load(&[TIMEOUT_PROG]).unwrap_or_else(|e| panic!("{e}"));
    let mut samples = Vec::new();
    for _ in 0..3 {
        // struct lock_timeout_args { s64 ret; u64 elapsed_ns; }
        let mut ctx = [0u8; 16];
        obj.run(TIMEOUT_PROG, Some(&mut ctx))
            .unwrap_or_else(|e| panic!("{e}"));
        let ret = i64::from_ne_bytes(ctx[..8].try_into().expect("8 bytes"));
        let ns = u64::from_ne_bytes(ctx[8..].try_into().expect("8 bytes"));
        assert_eq!(ret, -ETIMEDOUT);
        samples.push(ns);
    }
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    eprintln!(
        "default-bound timeout: median {:.2} ms (samples {:?} ns)",
        median as f64 / 1e6,
        samples
    );
    // The timeout, overshot by at most a host time slice or so.
    assert!(
        (1_000_000_000..1_200_000_000).contains(&median),
        "timeout took {median} ns"
    );
}
