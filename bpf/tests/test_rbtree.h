/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_rbtree.bpf.c and tests/rbtree.rs: the element type of
 * the driven trees and the contexts of the rb_ops and rb_churn programs.
 * Naturally aligned, no implicit padding: the Rust side mirrors them byte
 * for byte.
 */
#pragma once

/*
 * The element of every driven tree (struct rb_item in test_rbtree.bpf.c):
 *	u64 id; struct scx_arena_rb_node node; u64 tag;
 * The node is not the first member, so the typed wrappers' container_of is
 * exercised with a nonzero offset.
 */
#define RB_ITEM_SIZE 48
/* Byte offset of the node in struct rb_item. */
#define RB_ITEM_NODE_OFF 8

/* Operations of one rb_ops run. */
#define RB_OPS_MAX 1024

enum rb_op_kind {
	RB_OP_NOP = 0,
	RB_OP_INSERT = 1,      /* allocate an item with id val, insert it with key; addr = item */
	RB_OP_REINSERT = 2,    /* ret = insert_key of the item at addr with key */
	RB_OP_REMOVE = 3,      /* ret = remove of the item at addr */
	RB_OP_LOOKUP = 4,      /* addr/key/val = first item with key, or 0 */
	RB_OP_LOWER_BOUND = 5, /* ... first item with a key >= key */
	RB_OP_FIRST = 6,       /* ... first item */
	RB_OP_LAST = 7,        /* ... last item */
	RB_OP_NEXT = 8,        /* ... the item after the one at addr */
	RB_OP_PREV = 9,        /* ... the item before the one at addr */
	RB_OP_UPDATE_KEY = 10, /* ret = update_key of the item at addr to key */
	RB_OP_FREE = 11,       /* ret = scx_arena_free(addr) of a removed item */
	RB_OP_LEN = 12,        /* val = length */
	RB_OP_POP_FIRST = 13,  /* addr/key/val = removed first item, or 0 */
	RB_OP_POP_LAST = 14,   /* ... last item */
	RB_OP_UPPER_BOUND = 15,/* ... first item with a key > key */
};

/*
 * One operation. Results that name an item set addr to the item, key to
 * its key and val to its id (all 0 for none).
 */
struct rb_op {
	__u32 op;   /* in: enum rb_op_kind */
	__u32 __pad;
	__u64 addr; /* in or out */
	__u64 key;  /* in or out */
	__u64 val;  /* in (insert: id) or out */
	__s64 ret;  /* out: 0 or a negative error */
};

/*
 * Context of rb_ops. The operations sit in the arena buffer rb_ops_buf
 * (RB_OPS_MAX entries); the tree is the arena global rb_ops_tree.
 */
struct rb_ops_args {
	__u32 nr;   /* in: operations to run, at most RB_OPS_MAX */
	__u32 done; /* out: operations run */
	__u64 buf;  /* out: arena address of the op buffer */
	__u64 tree; /* out: arena address of the struct scx_arena_rbtree */
};

/*
 * Context of rb_churn: iters and seed in, the rest out; all __u64, read by
 * Rust as [u64; 10]. Each step inserts a new item (tag = seed << 32 | seq,
 * id = RB_CHURN_ID(tag), key random below RB_CHURN_KEYS) into the shared
 * locked tree, or pops the first or last one and checks its id against its
 * tag.
 */
struct rb_churn_args {
	__u64 iters;      /* in: steps */
	__u64 seed;       /* in: distinct per thread, >= 1 */
	__u64 inserts;    /* out: items inserted */
	__u64 pops;       /* out: items popped (and freed) */
	__u64 mismatches; /* out: popped items whose id did not match the tag */
	__u64 unpoisoned; /* out: popped items whose links were not poisoned */
	__u64 timeouts;   /* out: operations that failed on the lock */
	__u64 failed;     /* out: allocations (or inserts) that failed */
	__u64 tree;       /* out: arena address of the struct scx_arena_rbtree_locked */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
};

#define RB_CHURN_ID(tag) ((tag) ^ 0x9e3779b97f4a7c15ull)
#define RB_CHURN_KEYS 4096
