/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_htab.bpf.c and tests/htab.rs: the element type of
 * the driven tables and the contexts of the htab_ops and htab_churn
 * programs. Naturally aligned, no implicit padding: the Rust side mirrors
 * them byte for byte.
 */
#pragma once

/*
 * The element of every driven table (struct htab_item in test_htab.bpf.c):
 *	u64 val; struct scx_arena_htab_node node; u64 tag;
 * The node is not the first member, so container_of has a nonzero offset.
 */
#define HTAB_ITEM_SIZE 32
#define HTAB_ITEM_NODE_OFF 8

/* The val of the item inserted under key k (ops and churn alike). */
#define HTAB_VAL(k) ((k) ^ 0x9e3779b97f4a7c15ull)

/* Operations of one htab_ops run. */
#define HTAB_OPS_MAX 1024

enum htab_op_kind {
	HTAB_OP_NOP = 0,
	HTAB_OP_INIT = 1,     /* ret = init(tab, val = capacity) */
	HTAB_OP_INSERT = 2,   /* new item (val HTAB_VAL(key)); ret, addr = item (freed on error) */
	HTAB_OP_LOOKUP = 3,   /* addr = item or 0, val = its val */
	HTAB_OP_DELETE = 4,   /* ret; addr = item taken off (then freed) */
	HTAB_OP_LEN = 5,      /* val = len */
	HTAB_OP_ITER = 6,     /* val = items walked, addr = xor of their keys; ret = items
			       * whose val did not match their key */
	HTAB_OP_ITER_DEL = 7, /* walk, deleting (and freeing) items with key % 3 == val;
			       * val = items deleted */
	HTAB_OP_DESTROY = 8,  /* ret = destroy(tab), freeing every item */
	HTAB_OP_REMOVE = 9,   /* ret = remove(tab, item at addr); freed on success */
};

struct htab_op {
	__u32 op;  /* in: enum htab_op_kind */
	__u32 __pad;
	__u64 key; /* in */
	__u64 addr; /* in (remove) or out */
	__u64 val; /* in (init, iter_del) or out */
	__s64 ret; /* out */
};

/*
 * Context of htab_ops. The operations sit in the arena buffer htab_ops_buf;
 * the table is the arena global htab_ops_tab.
 */
struct htab_ops_args {
	__u32 nr;   /* in: operations to run, at most HTAB_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 tab;  /* out: arena address of the struct scx_arena_htab */
};

/*
 * Context of htab_churn: iters and seed in, the rest out; all __u64, read
 * by Rust as [u64; 12]. Each step inserts a new item under key
 * seed << 32 | seq on the shared locked table htab_churn_tab, deletes one of
 * this run's keys, or looks up a key of either run and checks its val under
 * the lock. htab_churn_init (context: one __u64 capacity) initialises the
 * table first.
 */
struct htab_churn_args {
	__u64 iters;      /* in: steps */
	__u64 seed;       /* in: 1 or 2 */
	__u64 inserts;    /* out: items inserted */
	__u64 deletes;    /* out: items deleted (and freed) */
	__u64 found;      /* out: lookups that found an item */
	__u64 mismatches; /* out: items whose val or key did not match */
	__u64 timeouts;   /* out: operations that failed on the lock */
	__u64 full;       /* out: inserts refused with -ENOSPC */
	__u64 failed;     /* out: allocations that failed, or unexpected errors */
	__u64 seq;        /* out: keys this run used (seq after the last) */
	__u64 tab;        /* out: arena address of the struct scx_arena_htab_locked */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
};
