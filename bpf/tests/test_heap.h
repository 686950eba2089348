/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_heap.bpf.c and tests/heap.rs: the element type of the
 * driven heaps and the contexts of the heap_ops and heap_churn programs.
 * Naturally aligned, no implicit padding: the Rust side mirrors them byte
 * for byte.
 */
#pragma once

/*
 * The element of every driven heap (struct heap_item in test_heap.bpf.c):
 *	u64 val; struct scx_arena_heap_node node; u64 tag;
 * The node is not the first member, so the typed wrappers' container_of is
 * exercised with a nonzero offset.
 */
#define HEAP_ITEM_SIZE 40
/* Byte offset of the node in struct heap_item. */
#define HEAP_ITEM_NODE_OFF 8

/* Operations of one heap_ops run. */
#define HEAP_OPS_MAX 1024

enum heap_op_kind {
	HEAP_OP_NOP = 0,
	HEAP_OP_PUSH = 1,    /* allocate an item with val, push it with key; addr = item */
	HEAP_OP_POP = 2,     /* addr = popped item or 0, key and val = its key and val */
	HEAP_OP_PEEK = 3,    /* ... left in the heap */
	HEAP_OP_REMOVE = 4,  /* ret = remove of the item at addr */
	HEAP_OP_UPDATE = 5,  /* ret = update_key of the item at addr to key */
	HEAP_OP_LEN = 6,     /* val = length */
	HEAP_OP_REPUSH = 7,  /* ret = push of the (removed) item at addr with key */
	HEAP_OP_FREE = 8,    /* ret = scx_arena_free(addr) of a removed item */
	HEAP_OP_DESTROY = 9, /* ret = destroy; the heap is empty after */
};

struct heap_op {
	__u32 op;   /* in: enum heap_op_kind */
	__u32 __pad;
	__u64 addr; /* in (remove, update, repush, free) or out (push, pop, peek) */
	__u64 key;  /* in (push, update, repush) or out (pop, peek) */
	__u64 val;  /* in (push) or out (pop, peek, len) */
	__s64 ret;  /* out: 0 or a negative error */
};

/*
 * Context of heap_ops. The operations sit in the arena buffer heap_ops_buf
 * (HEAP_OPS_MAX entries); the heap is the arena global heap_ops_heap.
 */
struct heap_ops_args {
	__u32 nr;   /* in: operations to run, at most HEAP_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 heap; /* out: arena address of the struct scx_arena_heap */
};

/*
 * Context of heap_churn: iters and seed in, the rest out; all __u64, read
 * by Rust as [u64; 10]. Each step pushes a new item (tag = seed << 32 | seq,
 * val = HEAP_CHURN_VAL(tag), a random key) on the shared locked heap (1 in
 * 4), or pops one, checks its val against its tag and frees it (1 in 4), or
 * pops one and pushes it back with its key plus a random increment (the
 * hold model, 2 in 4).
 */
struct heap_churn_args {
	__u64 iters;      /* in: steps */
	__u64 seed;       /* in: distinct per thread, >= 1 */
	__u64 pushes;     /* out: items pushed (new) */
	__u64 pops;       /* out: items popped and freed */
	__u64 mismatches; /* out: popped items whose val did not match the tag */
	__u64 unmarked;   /* out: popped items whose index was not NONE */
	__u64 timeouts;   /* out: operations that failed on the lock */
	__u64 failed;     /* out: allocations or pushes that failed */
	__u64 heap;       /* out: arena address of the struct scx_arena_heap_locked */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
};

/* Capacity the churn reserves: pushes beyond it count as failed. */
#define HEAP_CHURN_CAP 32768

#define HEAP_CHURN_VAL(tag) ((tag) ^ 0x9e3779b97f4a7c15ull)

/*
 * Context of heap_bench: the hold model on one plain heap of n items,
 * iters pop + push(key + increment) pairs, keys and increments from an
 * xorshift stream seeded with seed; out: the time and a checksum of the
 * popped keys. All __u64, read by Rust as [u64; 6].
 */
struct heap_bench_args {
	__u64 n;     /* in: resident items, at most HEAP_OPS_MAX * 16 */
	__u64 iters; /* in: pop + push pairs */
	__u64 seed;  /* in: nonzero */
	__u64 ns;    /* out: time of the pairs */
	__u64 sum;   /* out: sum of popped keys */
	__u64 ret;   /* out: 0, or the first failed push's error */
};
