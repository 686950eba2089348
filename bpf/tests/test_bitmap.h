/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_bitmap.bpf.c and tests/bitmap.rs: the contexts of
 * the bitmap_ops and bitmap_claim programs. Naturally aligned, no implicit
 * padding: the Rust side mirrors them byte for byte.
 */
#pragma once

/* Operations of one bitmap_ops run. */
#define BM_OPS_MAX 1024
/* Bitmaps bitmap_ops works on (indices 0..BM_NR-1). */
#define BM_NR 3
/* Bits of the shared bitmap of bitmap_claim. */
#define BM_CLAIM_BITS 4096
/* Threads (record bitmaps) of bitmap_claim. */
#define BM_CLAIM_THREADS 2

enum bm_op_kind {
	BM_OP_NOP = 0,
	BM_OP_ALLOC = 1,          /* bitmap dst = a new one of arg bits (old one freed) */
	BM_OP_SET = 2,            /* ret = set(dst, arg) */
	BM_OP_CLEAR = 3,          /* ret = clear(dst, arg) */
	BM_OP_TEST = 4,           /* ret = test(dst, arg) */
	BM_OP_TEST_AND_SET = 5,   /* ret = test_and_set(dst, arg) */
	BM_OP_TEST_AND_CLEAR = 6, /* ret = test_and_clear(dst, arg) */
	BM_OP_FILL = 7,           /* ret = fill(dst) */
	BM_OP_ZERO = 8,           /* ret = zero(dst) */
	BM_OP_AND = 9,            /* ret = and(dst, a, b) */
	BM_OP_OR = 10,            /* ret = or(dst, a, b) */
	BM_OP_ANDNOT = 11,        /* ret = andnot(dst, a, b) */
	BM_OP_COPY = 12,          /* ret = copy(dst, a) */
	BM_OP_EQUAL = 13,         /* ret = equal(a, b) */
	BM_OP_SUBSET = 14,        /* ret = subset(a, b) */
	BM_OP_INTERSECTS = 15,    /* ret = intersects(a, b) */
	BM_OP_EMPTY = 16,         /* ret = empty(dst) */
	BM_OP_FULL = 17,          /* ret = full(dst) */
	BM_OP_FIRST = 18,         /* ret = first(dst) */
	BM_OP_NEXT = 19,          /* ret = next(dst, arg) */
	BM_OP_FIRST_ZERO = 20,    /* ret = first_zero(dst) */
	BM_OP_WEIGHT = 21,        /* ret = weight(dst) */
};

struct bm_op {
	__u32 op;  /* in: enum bm_op_kind */
	__u32 dst; /* in: bitmap index */
	__u32 a;   /* in: bitmap index */
	__u32 b;   /* in: bitmap index */
	__s64 arg; /* in: bit, size, or n */
	__s64 ret; /* out */
};

/*
 * Context of bitmap_ops. The operations sit in the arena buffer bm_ops_buf;
 * the bitmaps' addresses in the arena array bm_ops_maps[BM_NR] (0 until
 * allocated).
 */
struct bm_ops_args {
	__u32 nr;   /* in: operations to run, at most BM_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 maps; /* out: arena address of bm_ops_maps */
};

/*
 * Context of bitmap_claim: all __u64, read by Rust as [u64; 6]. Walks bits
 * 0..BM_CLAIM_BITS-1 of the shared bitmap; mode 0 claims each with
 * test_and_set, mode 1 releases each with test_and_clear. Bits this run won
 * are recorded in its own bitmap (zeroed first), thread in [0, 2).
 */
struct bm_claim_args {
	__u64 mode;   /* in: 0 claim, 1 release */
	__u64 thread; /* in: which record bitmap */
	__u64 won;    /* out: bits this run won (weight of its record) */
	__u64 shared; /* out: arena address of the shared bitmap */
	__u64 mine;   /* out: arena address of this run's record bitmap */
	__u64 errors; /* out: calls that returned an error */
};
