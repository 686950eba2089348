/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_alloc_ops.bpf.c and tests/alloc.rs: the contexts of
 * the alloc_ops and alloc_churn programs. Every field is naturally aligned
 * and the structs have no implicit padding, so the Rust side builds them
 * byte for byte.
 */
#pragma once

/* Operations of one alloc_ops run. */
#define ALLOC_OPS_MAX 1024

enum alloc_op_kind {
	ALLOC_OP_NOP = 0,
	ALLOC_OP_ALLOC = 1,  /* addr = scx_arena_alloc(size); then as FILL if arg != 0 */
	ALLOC_OP_FREE = 2,   /* ret = scx_arena_free(addr) */
	ALLOC_OP_ZALLOC = 3, /* addr = scx_arena_zalloc(size) */
	ALLOC_OP_BUMP = 4,   /* addr = scx_arena_bump_alloc(size, arg) */
	ALLOC_OP_FILL = 5,   /* the words covering [addr, addr + size) = arg */
};

struct alloc_op {
	__u32 op;   /* in: enum alloc_op_kind */
	__u32 size; /* in: bytes */
	__u64 addr; /* in (free, fill) or out (alloc, zalloc, bump) */
	__u64 arg;  /* in: bump alignment, fill pattern (alloc, fill) */
	__s64 ret;  /* out: 0, or the negative error of a free; -EINVAL for an unknown op */
};

/*
 * Context of alloc_ops. The operations themselves sit in an arena buffer
 * (alloc_ops_buf, ALLOC_OPS_MAX entries) that userspace fills through the
 * arena mmap and reads the results from: a program may index its context
 * only at constant offsets, and no helper takes a context as memory.
 */
struct alloc_ops_args {
	__u32 nr;   /* in: operations to run from the buffer, at most ALLOC_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the buffer (set by every run) */
};

/*
 * Context of alloc_churn: iters and seed in, the rest out. Every field is a
 * __u64 so the Rust side reads it as [u64; 12].
 */
struct alloc_churn_args {
	__u64 iters;      /* in: random alloc-or-free steps */
	__u64 seed;       /* in: mixed into every tag; distinct per thread */
	__u64 allocs;     /* out: successful allocations */
	__u64 frees;      /* out: frees, including the final drain */
	__u64 failed;     /* out: allocations that returned NULL */
	__u64 mismatches; /* out: objects whose tag pattern changed while live */
	__u64 free_errors;/* out: frees that returned an error */
	__u64 bad_addr;   /* out: the first object with a changed pattern, or 0 */
	__u64 misaligned; /* out: allocations not aligned to their size class */
	__u64 start_ns;   /* out: bpf_ktime_get_ns() at the first step */
	__u64 end_ns;     /* out: ... after the drain */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
};
