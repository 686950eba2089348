/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_list.bpf.c and tests/list.rs: the element type of the
 * driven lists and the contexts of the list_ops and list_churn programs.
 * Naturally aligned, no implicit padding: the Rust side mirrors them byte
 * for byte.
 */
#pragma once

/*
 * The element of every driven list (struct list_item in test_list.bpf.c):
 *	u64 val; struct scx_arena_list_node node; u64 tag;
 * The node is not the first member, so the typed wrappers' container_of is
 * exercised with a nonzero offset.
 */
#define LIST_ITEM_SIZE 32
/* Byte offset of the node in struct list_item. */
#define LIST_ITEM_NODE_OFF 8

/* Operations of one list_ops run. */
#define LIST_OPS_MAX 1024

enum list_op_kind {
	LIST_OP_NOP = 0,
	LIST_OP_PUSH_BACK = 1,  /* allocate an item with val, push it; addr = item */
	LIST_OP_PUSH_FRONT = 2, /* ... at the head */
	LIST_OP_POP_FRONT = 3,  /* addr = popped item or 0, val = its val */
	LIST_OP_POP_BACK = 4,   /* ... from the tail */
	LIST_OP_DEL = 5,        /* ret = del of the item at addr */
	LIST_OP_LEN = 6,        /* val = length */
	LIST_OP_RELINK = 7,     /* ret = push_back of the (removed) item at addr */
	LIST_OP_FREE = 8,       /* ret = scx_arena_free(addr) of a removed item */
	LIST_OP_PEEK_FRONT = 9, /* addr = head item or 0, val = its val */
	LIST_OP_PEEK_BACK = 10, /* ... tail */
};

struct list_op {
	__u32 op;   /* in: enum list_op_kind */
	__u32 __pad;
	__u64 addr; /* in (del, relink, free) or out (push, pop, peek) */
	__u64 val;  /* in (push) or out (pop, peek, len) */
	__s64 ret;  /* out: 0 or a negative error */
};

/*
 * Context of list_ops. The operations sit in the arena buffer list_ops_buf
 * (LIST_OPS_MAX entries); the list is the arena global list_ops_list.
 */
struct list_ops_args {
	__u32 nr;   /* in: operations to run, at most LIST_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 list; /* out: arena address of the struct scx_arena_list */
};

/*
 * Context of list_churn: iters and seed in, the rest out; all __u64, read
 * by Rust as [u64; 10]. Each step pushes a new item (tag = seed << 32 | seq,
 * val = LIST_CHURN_VAL(tag)) on the shared locked list or pops one and
 * checks its val against its tag.
 */
struct list_churn_args {
	__u64 iters;      /* in: push-or-pop steps */
	__u64 seed;       /* in: distinct per thread, >= 1 */
	__u64 pushes;     /* out: items pushed */
	__u64 pops;       /* out: items popped (and freed) */
	__u64 mismatches; /* out: popped items whose val did not match the tag */
	__u64 unpoisoned; /* out: popped items whose links were not poisoned */
	__u64 timeouts;   /* out: operations that failed on the lock */
	__u64 failed;     /* out: allocations that failed */
	__u64 list;       /* out: arena address of the struct scx_arena_list_locked */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
};

#define LIST_CHURN_VAL(tag) ((tag) ^ 0x9e3779b97f4a7c15ull)
