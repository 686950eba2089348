/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Context of the alloc_bench.bpf.c programs, shared with
 * benches/src/bin/alloc-bench.rs. Every field is a __u64, so the Rust side
 * passes it as [u64; BENCH_ARGS_WORDS].
 */
#pragma once

/* Threads that may run a hold-model program at once (one ring each). */
#define BENCH_MAX_THREADS 8
/* Live objects per thread in the hold model. */
#define BENCH_RING 64

#define BENCH_ARGS_WORDS 12

struct bench_args {
	__u64 iters;      /* in: loop iterations (alloc+free pairs, or allocs) */
	__u64 size;       /* in: object size in bytes */
	__u64 thread;     /* in: ring index, < BENCH_MAX_THREADS */
	__u64 elapsed_ns; /* out: bpf_ktime_get_ns() around the timed loop */
	__u64 ops;        /* out: iterations whose allocation succeeded */
	__u64 failed;     /* out: allocations that returned NULL */
	/* out, bench_mem only: */
	__u64 slabs_before;  /* the size class's slabs before allocating */
	__u64 slabs_after;   /* ... with all objects live */
	__u64 pages_before;  /* buddy pages_used before allocating */
	__u64 pages_after;   /* ... with all objects live */
	__u64 head;          /* scratch: list of live objects */
	__u64 slab_bytes;    /* bytes per slab */
};
