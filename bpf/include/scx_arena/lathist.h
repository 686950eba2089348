/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/lathist.h - latency histograms in arena memory.
 *
 * A scheduler records a duration in nanoseconds (wake-to-run latency, say)
 * and userspace reads the whole histogram through the arena's mmap, without
 * a syscall per sample, to compute percentiles:
 *
 *	struct scx_arena_lathist __arena *lat;	// one per CPU, allocated at init
 *
 *	void BPF_STRUCT_OPS(x_running, struct task_struct *p)
 *	{
 *		...
 *		scx_arena_lathist_record_wake(lat, nr_cpus, &taskc->runnable_at, now);
 *	}
 *
 * Buckets are log-linear, like HDR histograms: values below 8 ns have a
 * bucket each; above, every power of two [2^k, 2^(k+1)) is cut into 8 equal
 * buckets, so a bucket is at most 12.5% wide relative to its values, at any
 * scale. Values of 2^40 ns (18 minutes) and more share the last bucket. The
 * Rust view (scx_arena::lathist) maps buckets back to value ranges.
 *
 * Recording is a handful of shifts and three plain stores: not atomic. A
 * histogram must have one writer at a time - a per-CPU slot written from
 * callbacks that do not nest (ops.running, ops.stopping, ...), or a lock.
 * Readers see counts that are at most a few samples apart from each other.
 */
#pragma once

#include <scx_arena/arena.h>

/* Sub-buckets per power of two, as a shift: 8 buckets, 12.5% wide. */
#define SCX_ARENA_LATHIST_SUB_SHIFT 3
#define SCX_ARENA_LATHIST_SUB (1u << SCX_ARENA_LATHIST_SUB_SHIFT)
/* Values at or above 2^SCX_ARENA_LATHIST_MAX_LOG2 ns go in the last bucket. */
#define SCX_ARENA_LATHIST_MAX_LOG2 40
/* Buckets in a histogram: 8 exact ones, then 8 per power of two from 2^3. */
#define SCX_ARENA_LATHIST_BUCKETS \
	((SCX_ARENA_LATHIST_MAX_LOG2 - SCX_ARENA_LATHIST_SUB_SHIFT + 1) * SCX_ARENA_LATHIST_SUB)

struct scx_arena_lathist {
	u64 count;		/* samples recorded */
	u64 sum_ns;		/* their sum (wraps after 584 years of latency) */
	u64 max_ns;		/* the largest */
	u64 buckets[SCX_ARENA_LATHIST_BUCKETS];
};

/**
 * scx_arena_lathist_alloc - allocate @n zeroed histograms (one per CPU, say).
 * @n: how many; consecutive in the arena, so userspace reads them as one
 *     array (scx_arena::lathist::LatHist::read_per_cpu).
 *
 * Returns them, or NULL when the arena has no room. Sleepable context only
 * (ops.init, syscall programs), like scx_arena_pages_alloc().
 */
static __always_inline struct scx_arena_lathist __arena *scx_arena_lathist_alloc(u32 n)
{
	u64 bytes = (u64)n * sizeof(struct scx_arena_lathist);

	return scx_arena_pages_alloc((bytes + __PAGE_SIZE - 1) / __PAGE_SIZE);
}

/* floor(log2(@v)) for @v > 0, by binary search (BPF has no count-leading-zeros). */
static __always_inline u32 __scx_arena_lathist_log2(u64 v)
{
	u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1)
		r += 1;
	return r;
}

/**
 * scx_arena_lathist_bucket - the bucket @ns falls in.
 * @ns: the value, in nanoseconds.
 *
 * Returns an index below SCX_ARENA_LATHIST_BUCKETS.
 */
static __always_inline u32 scx_arena_lathist_bucket(u64 ns)
{
	u32 k;

	if (ns < SCX_ARENA_LATHIST_SUB)
		return ns;
	k = __scx_arena_lathist_log2(ns);
	if (k >= SCX_ARENA_LATHIST_MAX_LOG2)
		return SCX_ARENA_LATHIST_BUCKETS - 1;
	/* The top SUB_SHIFT bits below the leading one pick the sub-bucket. */
	return (k - SCX_ARENA_LATHIST_SUB_SHIFT + 1) * SCX_ARENA_LATHIST_SUB +
	       ((ns >> (k - SCX_ARENA_LATHIST_SUB_SHIFT)) & (SCX_ARENA_LATHIST_SUB - 1));
}

/**
 * scx_arena_lathist_record - count one sample of @ns nanoseconds in @h.
 * @h: the histogram, in arena memory; NULL is ignored.
 * @ns: the sample.
 *
 * One writer at a time per histogram (see the top of this header).
 */
static __always_inline void scx_arena_lathist_record(struct scx_arena_lathist __arena *h, u64 ns)
{
	u32 b = scx_arena_lathist_bucket(ns);

	if (!h)
		return;
	/* Keep the index provably in range for the verifier. */
	if (b >= SCX_ARENA_LATHIST_BUCKETS)
		b = SCX_ARENA_LATHIST_BUCKETS - 1;
	h->buckets[b]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/**
 * scx_arena_lathist_record_wake - count a task's wake-to-run wait as it runs.
 * @per_cpu: @nr histograms, one per CPU (scx_arena_lathist_alloc()).
 * @nr: how many there are.
 * @woke_at: the task's wakeup stamp, set in ops.runnable; 0 when this run
 *	does not follow a wakeup (a preempted task running again). Cleared.
 * @now: when it starts to run (ops.running).
 *
 * Records into this CPU's histogram: one writer per histogram, as
 * scx_arena_lathist_record() needs.
 */
static __always_inline void scx_arena_lathist_record_wake(struct scx_arena_lathist __arena *per_cpu,
							  u32 nr, u64 __arena *woke_at, u64 now)
{
	u32 cpu = bpf_get_smp_processor_id();
	u64 at = *woke_at;

	if (!at)
		return;
	*woke_at = 0;
	if (cpu < nr)
		scx_arena_lathist_record(&per_cpu[cpu], now - at);
}
