//! Latency histograms (bpf/include/scx_arena/lathist.h) from userspace:
//! BPF counts samples into log-linear buckets in arena memory, and this
//! reads them through the mmap (no syscall per sample), merges per-CPU
//! copies and answers percentiles.
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::lathist::LatHist;
//! fn p99_us(view: &ArenaView<'_>, per_cpu: u64, nr_cpus: usize) -> Option<f64> {
//!     let h = LatHist::read_per_cpu(view, per_cpu, nr_cpus).ok()?;
//!     h.percentile(99.0).map(|ns| ns as f64 / 1000.0)
//! }
//! ```
//!
//! A bucket covers at most 12.5% of its values, so a percentile is exact to
//! within that: it is reported as the upper end of the bucket holding the
//! sample of that rank (never below the true value).

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// Sub-buckets per power of two, as a shift (`SCX_ARENA_LATHIST_SUB_SHIFT`).
pub const SUB_SHIFT: u32 = 3;
/// Sub-buckets per power of two.
pub const SUB: u64 = 1 << SUB_SHIFT;
/// Values at or above `2^MAX_LOG2` ns share the last bucket.
pub const MAX_LOG2: u32 = 40;
/// Buckets in a histogram (`SCX_ARENA_LATHIST_BUCKETS`).
pub const BUCKETS: usize = ((MAX_LOG2 - SUB_SHIFT + 1) as usize) * SUB as usize;

/// `struct scx_arena_lathist`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct RawLatHist {
    /// Samples recorded.
    pub count: u64,
    /// Their sum, in ns.
    pub sum_ns: u64,
    /// The largest, in ns.
    pub max_ns: u64,
    /// Samples per bucket.
    pub buckets: [u64; BUCKETS],
}
// SAFETY: u64s only; every bit pattern is valid.
unsafe impl ArenaPod for RawLatHist {}

/// The bucket a value of `ns` nanoseconds falls in (what BPF computes).
pub fn bucket_of(ns: u64) -> usize {
    if ns < SUB {
        return ns as usize;
    }
    let k = 63 - ns.leading_zeros();
    if k >= MAX_LOG2 {
        return BUCKETS - 1;
    }
    let sub = (ns >> (k - SUB_SHIFT)) & (SUB - 1);
    ((k - SUB_SHIFT + 1) as u64 * SUB + sub) as usize
}

/// The values bucket `b` holds: `[low, high]`, inclusive. The last bucket
/// also holds everything above its range; its `high` is `u64::MAX`.
pub fn bucket_range(b: usize) -> (u64, u64) {
    let b = b.min(BUCKETS - 1) as u64;
    if b < SUB {
        return (b, b);
    }
    let k = b / SUB + SUB_SHIFT as u64 - 1;
    let width = 1u64 << (k - SUB_SHIFT as u64);
    let low = (1u64 << k) + (b % SUB) * width;
    if b as usize == BUCKETS - 1 {
        return (low, u64::MAX);
    }
    (low, low + width - 1)
}

/// A latency histogram, read from the arena (or merged from several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatHist {
    /// Samples recorded.
    pub count: u64,
    /// Their sum, in ns.
    pub sum_ns: u64,
    /// The largest sample, in ns (0 when empty).
    pub max_ns: u64,
    /// Samples per bucket; `bucket_range(i)` gives bucket `i`'s values.
    pub buckets: Vec<u64>,
}

impl Default for LatHist {
    fn default() -> Self {
        Self {
            count: 0,
            sum_ns: 0,
            max_ns: 0,
            buckets: vec![0; BUCKETS],
        }
    }
}

impl From<&RawLatHist> for LatHist {
    fn from(raw: &RawLatHist) -> Self {
        Self {
            count: raw.count,
            sum_ns: raw.sum_ns,
            max_ns: raw.max_ns,
            buckets: raw.buckets.to_vec(),
        }
    }
}

impl LatHist {
    /// Reads one `struct scx_arena_lathist` at `addr`.
    pub fn read(view: &ArenaView<'_>, addr: u64) -> Result<Self, ArenaError> {
        let raw: RawLatHist = view.read(addr)?;
        Ok(Self::from(&raw))
    }

    /// Reads `n` consecutive histograms (one per CPU) at `addr` and merges them.
    pub fn read_per_cpu(view: &ArenaView<'_>, addr: u64, n: usize) -> Result<Self, ArenaError> {
        let mut all = Self::default();
        for raw in view.read_array::<RawLatHist>(addr, n)? {
            all.merge(&Self::from(&raw));
        }
        Ok(all)
    }

    /// Adds `other`'s samples to these.
    pub fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum_ns = self.sum_ns.wrapping_add(other.sum_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
    }

    /// Counts one sample, as BPF's `scx_arena_lathist_record()` does (for
    /// models and tests).
    pub fn record(&mut self, ns: u64) {
        self.buckets[bucket_of(ns)] += 1;
        self.count += 1;
        self.sum_ns = self.sum_ns.wrapping_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Mean sample in ns, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns as f64 / self.count as f64)
    }

    /// The `p`-th percentile (0 < p <= 100) in ns: the upper end of the
    /// bucket holding the sample of rank ceil(p% of the samples), capped at
    /// the largest sample. `None` when empty.
    ///
    /// The buckets are summed, not `count`: BPF updates them without a lock,
    /// so a histogram read mid-update may disagree with itself by a sample.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let p = p.clamp(f64::MIN_POSITIVE, 100.0);
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_range(b).1.min(self.max_ns.max(bucket_range(b).0)));
            }
        }
        Some(self.max_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_values_without_gaps() {
        let mut next = 0u64;
        for b in 0..BUCKETS {
            let (low, high) = bucket_range(b);
            assert_eq!(low, next, "bucket {b} starts where {} ended", b.max(1) - 1);
            assert_eq!(bucket_of(low), b);
            assert_eq!(bucket_of(high), b);
            if b >= SUB as usize && b < BUCKETS - 1 {
                // At most 12.5% wide relative to its smallest value.
                assert!((high - low + 1) * 8 <= low, "bucket {b}: {low}..={high}");
            }
            next = high.wrapping_add(1);
        }
        assert_eq!(next, 0, "the last bucket reaches u64::MAX");
    }

    #[test]
    fn percentiles_of_a_known_set() {
        let mut h = LatHist::default();
        for ns in 1..=100u64 {
            h.record(ns * 1000);
        }
        assert_eq!(h.count, 100);
        assert_eq!(h.mean(), Some(50_500.0));
        let p50 = h.percentile(50.0).expect("not empty");
        assert!((50_000..=50_000 * 9 / 8).contains(&p50), "p50 {p50}");
        assert_eq!(h.percentile(100.0), Some(100_000));
        assert_eq!(LatHist::default().percentile(50.0), None);
    }
}
