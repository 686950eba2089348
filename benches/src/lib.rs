//! What the benchmark binaries share: statistics, CPU pinning, BPF context
//! words and the machine's description; and the building blocks of the
//! dispatch-latency benchmark:
//!
//! - [`clock`]: the monotonic clock BPF's `bpf_ktime_get_ns()` reads.
//! - [`futex`]: futex wait and wake on an atomic word.
//! - [`wakelat`]: the wakeup-latency workload (message threads waking
//!   workers) and its result line.
//! - [`probe`]: the wake-to-run BPF probe on the scheduler tracepoints.
//! - [`progstats`]: per-program BPF cost from the kernel's program stats.
//! - [`forkexec`]: the fork/exec storm.
//! - [`resultline`]: reads the tools' one-line results back.
//! - [`suite`]: the benchmark's contenders, guest script and per-run figures.
//! - [`report`]: min/median/max over seeds, ratios against EEVDF, markdown.
//! - [`svg`]: the latency plot.

pub mod clock;
pub mod forkexec;
pub mod futex;
pub mod probe;
pub mod progstats;
pub mod report;
pub mod resultline;
pub mod suite;
pub mod svg;
pub mod wakelat;

/// Median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Smallest value of `v` (infinity when empty).
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Largest value of `v` (negative infinity when empty).
pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Pins the calling thread to `cpu`; a failure leaves it unpinned.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; CPU_SET and sched_setaffinity on the
    // calling thread only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The running kernel's release string.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A BPF program context of `N` u64 words as bytes.
pub fn ctx_bytes<const N: usize>(words: &[u64; N]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// A context buffer as `N` u64 words (missing bytes read as 0).
pub fn ctx_words<const N: usize>(ctx: &[u8]) -> [u64; N] {
    let mut out = [0u64; N];
    for (w, chunk) in out.iter_mut().zip(ctx.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_ne_bytes(b);
    }
    out
}

/// `r` as a ratio cell ("1.23x"), or "-" when absent.
pub fn ratio_cell(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

/// How a benchmark's output states a target's outcome.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "missed"
    }
}
