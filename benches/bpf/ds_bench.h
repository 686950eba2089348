/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Context and buffers of the ds_bench.bpf.c programs, shared with
 * benches/src/bin/ds-bench.rs. Every context field is a __u64, so the Rust
 * side passes it as [u64; DS_ARGS_WORDS].
 *
 * Keys: the low DS_SLOT_BITS bits of every key are the slot (0..n-1) of the
 * element that carries it, and the hold model's increments are multiples
 * of 1 << DS_SLOT_BITS, so the n resident keys are always distinct and a
 * key names its element. Structures that keep duplicates (heaps, RB-trees)
 * and those that do not (B-trees, maps) run the same streams.
 */
#pragma once

#define DS_ARGS_WORDS 8
/* Most resident elements. */
#define DS_MAX_N 16384
#define DS_SLOT_BITS 14
/* Most operations of one run (stream entries). */
#define DS_MAX_ITERS 65536

struct ds_args {
	__u64 n;          /* in: resident elements, <= DS_MAX_N */
	__u64 iters;      /* in: timed operations, <= DS_MAX_ITERS */
	__u64 elapsed_ns; /* out: bpf_ktime_get_ns() around the timed loop */
	__u64 checksum;   /* out: sum of the keys popped or removed */
	__u64 errors;     /* out: operations that failed or found a wrong key */
	__u64 init;       /* out: arena address of ds_init (n keys) */
	__u64 stream;     /* out: arena address of ds_stream (iters words) */
	__u64 old;        /* out: arena address of ds_old (iters words) */
};

/*
 * ds_init[i]: the initial key of slot i.
 * Hold model (bench_*_hold): pop the minimum k, push k + ds_stream[i].
 * Remove model (bench_*_remove): remove the element whose key is ds_old[i]
 * (slot ds_old[i] & DS_SLOT_MASK: by handle for intrusive structures, by
 * key otherwise), then insert it again with key ds_stream[i], which has the
 * same slot bits.
 */
#define DS_SLOT_MASK ((1ull << DS_SLOT_BITS) - 1)
