/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_btree.bpf.c and tests/btree.rs: the contexts of the
 * btree_ops and btree_churn programs. Naturally aligned, no implicit
 * padding: the Rust side mirrors them byte for byte.
 */
#pragma once

/* Operations of one btree_ops run. */
#define BTREE_OPS_MAX 1024

enum btree_op_kind {
	BTREE_OP_NOP = 0,
	BTREE_OP_INSERT = 1,      /* ret = insert(key, val) */
	BTREE_OP_UPSERT = 2,      /* ret = upsert(key, val) */
	BTREE_OP_REMOVE = 3,      /* ret = remove(key), out_val = its value */
	BTREE_OP_LOOKUP = 4,      /* ret = lookup(key), out_val */
	BTREE_OP_LOWER_BOUND = 5, /* ret = seek(key), out_key/out_val there */
	BTREE_OP_FIRST = 6,       /* ret, out_key, out_val */
	BTREE_OP_LAST = 7,        /* ret, out_key, out_val */
	BTREE_OP_POP_FIRST = 8,   /* ret, out_key, out_val */
	BTREE_OP_POP_LAST = 9,    /* ret, out_key, out_val */
	BTREE_OP_RANGE = 10,      /* keys in [key, hi), at most max: out_val = count,
				   * out_key = BTREE_RANGE_HASH over (key, val) */
	BTREE_OP_LEN = 11,        /* out_val = len */
	BTREE_OP_DESTROY = 12,    /* ret = nodes freed */
	BTREE_OP_RANGE_BACK = 13, /* seek_last, then prev while key >= key: count
				   * and hash of at most max keys, descending */
	BTREE_OP_INSERT_FAULT = 14, /* insert with node allocation number max
				     * failing; on -ENOMEM (tree checked unchanged,
				     * else ret = BTREE_FAULT_CHANGED) insert again:
				     * ret = that insert, out_key = 1 if the first
				     * attempt failed */
};

/* ret of an INSERT_FAULT whose failed attempt changed the tree. */
#define BTREE_FAULT_CHANGED (-1000)

struct btree_op {
	__u32 op;  /* in: enum btree_op_kind */
	__u32 max; /* in (range): most keys visited */
	__u64 key; /* in: key, or range start */
	__u64 val; /* in: value */
	__u64 hi;  /* in: range end (exclusive) */
	__s64 ret; /* out: result */
	__u64 out_key;
	__u64 out_val;
};

/* Hash step of a range scan: h = (h ^ key) * P + val. */
#define BTREE_RANGE_P 0x100000001b3ull
#define BTREE_RANGE_HASH(h, k, v) ((((h) ^ (k)) * BTREE_RANGE_P) + (v))

/*
 * Context of btree_ops. The operations sit in the arena buffer
 * btree_ops_buf (BTREE_OPS_MAX entries); the tree is the arena global
 * btree_ops_tree.
 */
struct btree_ops_args {
	__u32 nr;   /* in: operations to run, at most BTREE_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 tree; /* out: arena address of the struct scx_arena_btree */
};

/*
 * Context of btree_churn: iters, seed and keys in, the rest out; all
 * __u64, read by Rust as [u64; 11]. Each step inserts, removes, looks up
 * or pops a random key below keys on the shared locked tree; every value
 * is BTREE_CHURN_VAL(key), which each result is checked against.
 */
struct btree_churn_args {
	__u64 iters;      /* in: steps */
	__u64 seed;       /* in: distinct per thread */
	__u64 keys;       /* in: key space (keys are 0 .. keys - 1) */
	__u64 inserts;    /* out: successful inserts */
	__u64 removes;    /* out: successful removes and pops */
	__u64 mismatches; /* out: values found that did not match their key */
	__u64 timeouts;   /* out: operations that failed on the lock */
	__u64 failed;     /* out: inserts that failed with -ENOMEM */
	__u64 tree;       /* out: arena address of the struct scx_arena_btree_locked */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
	__u64 lookups;    /* out: successful lookups */
};

#define BTREE_CHURN_VAL(key) ((key) ^ 0x9e3779b97f4a7c15ull)
