/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/btree.h - an ordered map from u64 keys to u64 values in arena
 * memory, for large sets (tens of thousands of keys and more).
 *
 *	struct scx_arena_btree __arena_global tree;   // zeroed: an empty map
 *
 *	scx_arena_btree_insert(&tree, key, val);      // 0, -EEXIST, -ENOMEM
 *	scx_arena_btree_lookup(&tree, key, &val);     // 0 or -ENOENT
 *	scx_arena_btree_pop_first(&tree, &key, &val); // the minimum
 *
 *	struct scx_arena_btree_cursor cur;
 *	scx_arena_btree_for_each_range(&cur, &tree, lo, hi, 64)
 *		use(scx_arena_btree_cursor_key(&cur), scx_arena_btree_cursor_val(&cur));
 *
 * Shape: a B+tree. Values live only in the leaves; inner nodes hold
 * separator keys and child addresses. All nodes of one level are linked in
 * key order (next/prev), so ordered iteration and range scans walk the leaf
 * chain without going back up, first/last are O(1) (the header keeps the
 * leftmost and rightmost leaf), and destroy frees level by level without
 * recursion.
 *
 * Nodes: one struct scx_arena_btree_node of 512 bytes (8 cache lines, the
 * 512-byte slab class) for both kinds, with up to SCX_ARENA_BTREE_MAX = 30
 * keys. A leaf holds 30 key/value pairs, an inner node 30 separators and 31
 * children. Every node except the root holds at least
 * SCX_ARENA_BTREE_MIN_LEAF = 15 (leaves) or SCX_ARENA_BTREE_MIN_INNER = 14
 * (inner nodes) keys; the root holds at least 1 (an inner root at least 2
 * children). Within a node, keys are found by a binary search without
 * jumps (five probes).
 *
 * Keys are unique: insert returns -EEXIST for a key already present, and
 * upsert replaces its value instead. Inner separators are lower bounds of
 * their right subtree: child i holds keys k with sep[i-1] <= k < sep[i].
 * A separator may be a key that was removed since (it still separates).
 *
 * Algorithms: single top-down passes, no parent pointers and no path
 * stack. Insert splits every full node on its way down; before that it
 * counts the nodes the splits need and allocates them all, so an
 * allocation failure returns -ENOMEM with the tree unchanged. Remove makes
 * every node on its way down hold more than the minimum first (borrowing
 * from a sibling, else merging with one), so the removal from the leaf
 * never underflows; a root left with one child is replaced by it. Removal
 * allocates nothing.
 *
 * Bounds: every loop is bounded. A node has at most 30 keys; the height is
 * at most 7 for any tree that fits the 4 GiB an arena can span (height h
 * needs at least 2 * 15^(h-2) leaves of 512 bytes), and descents stop at
 * SCX_ARENA_BTREE_MAX_HEIGHT = 10 levels (a taller tree is corrupt and is
 * reported with scx_arena_error()).
 *
 * Memory: nodes come from scx_arena_alloc(); an empty tree owns none.
 * scx_arena_btree_destroy() frees every node. Link the "btree" library
 * unit (BpfBuild::lib("btree")): the operations are global functions in
 * bpf/lib/btree.bpf.c, verified once each, called through the inline
 * wrappers below; a call costs the caller up to 5 of the verifier's 8
 * frames, allocator included (an insert: itself, then the allocator's 4).
 *
 * Cursors are plain structs in the caller's memory (stack or arena). Any
 * insert, remove or destroy invalidates every cursor of the tree.
 *
 * Links are arena addresses stored as u64 (0 for none), so userspace reads
 * a tree through the arena mmap as is (scx_arena::btree::BTreeView).
 *
 * In checked mode (SCX_ARENA_CHECKED, check.h) header and node accesses go
 * through scx_arena_ld()/scx_arena_st().
 *
 * struct scx_arena_btree is not thread-safe: one CPU at a time. struct
 * scx_arena_btree_locked pairs it with an arena spin lock (lock.h); its
 * operations return -ETIMEDOUT, after reporting with scx_arena_error(),
 * when the lock stays held past its bound.
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/check.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOENT
#define ENOENT 2
#endif

/* Most keys of a node. */
#define SCX_ARENA_BTREE_MAX 30
/* Fewest keys of a leaf that is not the root. */
#define SCX_ARENA_BTREE_MIN_LEAF (SCX_ARENA_BTREE_MAX / 2)
/* Fewest keys of an inner node that is not the root. */
#define SCX_ARENA_BTREE_MIN_INNER ((SCX_ARENA_BTREE_MAX - 1) / 2)
/* Bound of every descent; real trees stay at or below 7 levels. */
#define SCX_ARENA_BTREE_MAX_HEIGHT 10
/* Node size: the 512-byte slab class. */
#define SCX_ARENA_BTREE_NODE_SIZE 512

/**
 * struct scx_arena_btree_node - a node, leaf or inner.
 * @nr: keys in @keys (0..SCX_ARENA_BTREE_MAX).
 * @leaf: 1 for a leaf, 0 for an inner node.
 * @next: arena address of the next node of the same level, 0 at the end.
 * @prev: arena address of the previous node of the same level, 0 at the start.
 * @keys: keys (leaf) or separators (inner), ascending.
 * @slots: values (leaf: @nr of them) or child addresses (inner: @nr + 1).
 */
struct scx_arena_btree_node {
	u32 nr;
	u32 leaf;
	u64 next;
	u64 prev;
	u64 keys[SCX_ARENA_BTREE_MAX];
	u64 slots[SCX_ARENA_BTREE_MAX + 1];
};

_Static_assert(sizeof(struct scx_arena_btree_node) == SCX_ARENA_BTREE_NODE_SIZE,
	       "a B-tree node fills the 512-byte slab class");

/**
 * struct scx_arena_btree - a B+tree map; zeroed memory is an empty one.
 * @root: arena address of the root node, 0 when empty.
 * @first: arena address of the leftmost leaf, 0 when empty.
 * @last: arena address of the rightmost leaf, 0 when empty.
 * @nr: number of keys.
 * @height: levels (0 when empty, 1 when the root is a leaf).
 * @nr_nodes: nodes allocated.
 * @out_key: internal: the key the last remove took out.
 * @out_val: internal: its value.
 * @nr_spare: internal: nodes reserved by an insert in progress (0 between
 *	operations).
 * @__pad: explicit padding (the Rust mirror is byte for byte).
 * @spare: internal: those nodes.
 */
struct scx_arena_btree {
	u64 root;
	u64 first;
	u64 last;
	u64 nr;
	u32 height;
	u32 nr_nodes;
	u64 out_key;
	u64 out_val;
	u32 nr_spare;
	u32 __pad;
	u64 spare[SCX_ARENA_BTREE_MAX_HEIGHT + 2];
};

/**
 * struct scx_arena_btree_locked - a B-tree with its own arena spin lock.
 * @lock: taken by every scx_arena_btree_locked_*() operation.
 * @__pad: keeps @tree 8-byte aligned (explicit for the Rust mirror).
 * @tree: the tree; touch it directly only while holding @lock.
 */
struct scx_arena_btree_locked {
	struct scx_arena_lock lock;
	u32 __pad;
	struct scx_arena_btree tree;
};

/**
 * struct scx_arena_btree_cursor - a position in a tree, in caller memory.
 * @leaf: arena address of the leaf, 0 when the cursor is past the end.
 * @idx: index of the key in the leaf.
 * @started: internal: set by the iteration macros after their first step.
 *
 * Valid until the tree is next modified.
 */
struct scx_arena_btree_cursor {
	u64 leaf;
	u32 idx;
	u32 started;
};

/*
 * The global functions of bpf/lib/btree.bpf.c. Called through the inline
 * wrappers below; see those for their contracts.
 */
int __scx_arena_btree_insert(struct scx_arena_btree __arena *t __arg_arena, u64 key, u64 val,
			     u32 replace);
int __scx_arena_btree_remove(struct scx_arena_btree __arena *t __arg_arena, u64 key);
u64 __scx_arena_btree_find(struct scx_arena_btree __arena *t __arg_arena, u64 key);
u64 __scx_arena_btree_seek(struct scx_arena_btree __arena *t __arg_arena, u64 key);
s64 __scx_arena_btree_destroy(struct scx_arena_btree __arena *t __arg_arena);

/*
 * Tests only: when nonzero, node allocations count it down and the one that
 * brings it to 0 fails (as in an exhausted arena). 0, no effect, otherwise.
 */
extern u32 scx_arena_btree_fail_alloc;

/* A position packed in one u64 by __scx_arena_btree_seek(): leaf | idx << 56. */
#define __SCX_BTREE_POS_SHIFT 56
#define __SCX_BTREE_POS_MASK ((1ull << __SCX_BTREE_POS_SHIFT) - 1)

/* See __scx_list_pin in list.h: keeps an arena pointer's cast in force. */
#define __scx_btree_pin(p) asm volatile("" : "+r"(p))

#define __scx_bt_ld(p) scx_arena_ld(p)
#define __scx_bt_st(p, v) scx_arena_st(p, (v))

/* Internal: the node at arena address @a. */
#define __scx_bt_node(a) scx_arena_from_u64(struct scx_arena_btree_node, (a))

/**
 * scx_arena_btree_init - make @t an empty tree.
 * @t: the tree header, in arena memory.
 *
 * Zeroed memory already is an empty tree. Nodes @t still owns are not
 * freed (use scx_arena_btree_destroy() for that).
 */
static __always_inline void scx_arena_btree_init(struct scx_arena_btree __arena *t)
{
	__scx_btree_pin(t);
	/* Barriers: no memset of arena memory (clang-19 miscompiles it). */
	__scx_bt_st(&t->root, 0);
	barrier();
	__scx_bt_st(&t->first, 0);
	barrier();
	__scx_bt_st(&t->last, 0);
	barrier();
	__scx_bt_st(&t->nr, 0);
	barrier();
	__scx_bt_st(&t->height, 0);
	barrier();
	__scx_bt_st(&t->nr_nodes, 0);
	barrier();
	__scx_bt_st(&t->nr_spare, 0);
}

/**
 * scx_arena_btree_len - the number of keys in @t.
 * @t: the tree.
 */
static __always_inline u64 scx_arena_btree_len(struct scx_arena_btree __arena *t)
{
	__scx_btree_pin(t);
	return __scx_bt_ld(&t->nr);
}

/**
 * scx_arena_btree_empty - whether @t holds no key.
 * @t: the tree.
 */
static __always_inline bool scx_arena_btree_empty(struct scx_arena_btree __arena *t)
{
	__scx_btree_pin(t);
	return !__scx_bt_ld(&t->root);
}

/**
 * scx_arena_btree_height - the number of levels of @t (0 when empty).
 * @t: the tree.
 */
static __always_inline u32 scx_arena_btree_height(struct scx_arena_btree __arena *t)
{
	__scx_btree_pin(t);
	return __scx_bt_ld(&t->height);
}

/**
 * scx_arena_btree_insert - add @key with @val to @t.
 * @t: the tree.
 * @key: the key.
 * @val: its value.
 *
 * Returns 0, -EEXIST (tree unchanged) when @key is present, or -ENOMEM
 * (tree unchanged) when the nodes the insertion needs could not be
 * allocated.
 */
static __always_inline int scx_arena_btree_insert(struct scx_arena_btree __arena *t, u64 key,
						  u64 val)
{
	return __scx_arena_btree_insert(t, key, val, 0);
}

/**
 * scx_arena_btree_upsert - set the value of @key in @t, adding it if absent.
 * @t: the tree.
 * @key: the key.
 * @val: its new value.
 *
 * Returns 0 when @key was added, 1 when its value was replaced, or -ENOMEM
 * (tree unchanged).
 */
static __always_inline int scx_arena_btree_upsert(struct scx_arena_btree __arena *t, u64 key,
						  u64 val)
{
	return __scx_arena_btree_insert(t, key, val, 1);
}

/**
 * scx_arena_btree_lookup_slot - where the value of @key is stored.
 * @t: the tree.
 * @key: the key.
 *
 * Returns the value's arena address, which the caller may read or write
 * until the next insert or remove, or NULL when @key is absent.
 */
static __always_inline u64 __arena *scx_arena_btree_lookup_slot(struct scx_arena_btree __arena *t,
								 u64 key)
{
	return scx_arena_from_u64(u64, __scx_arena_btree_find(t, key));
}

/**
 * scx_arena_btree_lookup - the value of @key.
 * @t: the tree.
 * @key: the key.
 * @val: receives the value (may be NULL).
 *
 * Returns 0, or -ENOENT when @key is absent.
 */
static __always_inline int scx_arena_btree_lookup(struct scx_arena_btree __arena *t, u64 key,
						  u64 *val)
{
	u64 a = __scx_arena_btree_find(t, key);

	if (!a)
		return -ENOENT;
	if (val)
		*val = __scx_bt_ld(scx_arena_from_u64(u64, a));
	return 0;
}

/**
 * scx_arena_btree_contains - whether @key is in @t.
 * @t: the tree.
 * @key: the key.
 */
static __always_inline bool scx_arena_btree_contains(struct scx_arena_btree __arena *t, u64 key)
{
	return __scx_arena_btree_find(t, key) != 0;
}

/**
 * scx_arena_btree_remove - take @key out of @t.
 * @t: the tree.
 * @key: the key.
 * @val: receives its value (may be NULL).
 *
 * Rebalances on the way (borrow or merge) and frees emptied nodes. Returns
 * 0, or -ENOENT when @key is absent (the keys are unchanged; nodes may have
 * been rebalanced).
 */
static __always_inline int scx_arena_btree_remove(struct scx_arena_btree __arena *t, u64 key,
						  u64 *val)
{
	int ret;

	__scx_btree_pin(t);
	ret = __scx_arena_btree_remove(t, key);
	if (!ret && val)
		*val = __scx_bt_ld(&t->out_val);
	return ret;
}

/* Internal: key and value at index @idx of the leaf at @leaf; -ENOENT for no leaf. */
static __always_inline int __scx_btree_leaf_get(u64 leaf, u32 idx, u64 *key, u64 *val)
{
	struct scx_arena_btree_node __arena *n = __scx_bt_node(leaf);

	__scx_btree_pin(n);
	if (!leaf)
		return -ENOENT;
	if (key)
		*key = __scx_bt_ld(&n->keys[idx]);
	if (val)
		*val = __scx_bt_ld(&n->slots[idx]);
	return 0;
}

/**
 * scx_arena_btree_first - the smallest key of @t and its value, in O(1).
 * @t: the tree.
 * @key: receives the key (may be NULL).
 * @val: receives the value (may be NULL).
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_first(struct scx_arena_btree __arena *t, u64 *key,
						 u64 *val)
{
	__scx_btree_pin(t);
	return __scx_btree_leaf_get(__scx_bt_ld(&t->first), 0, key, val);
}

/**
 * scx_arena_btree_last - the largest key of @t and its value, in O(1).
 * @t: the tree.
 * @key: receives the key (may be NULL).
 * @val: receives the value (may be NULL).
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_last(struct scx_arena_btree __arena *t, u64 *key,
						u64 *val)
{
	u64 leaf;

	__scx_btree_pin(t);
	leaf = __scx_bt_ld(&t->last);
	if (!leaf)
		return -ENOENT;
	return __scx_btree_leaf_get(leaf, __scx_bt_ld(&__scx_bt_node(leaf)->nr) - 1, key, val);
}

/**
 * scx_arena_btree_pop_first - remove the smallest key of @t.
 * @t: the tree.
 * @key: receives the key (may be NULL).
 * @val: receives its value (may be NULL).
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_pop_first(struct scx_arena_btree __arena *t, u64 *key,
						     u64 *val)
{
	u64 k;
	int ret;

	__scx_btree_pin(t);
	ret = scx_arena_btree_first(t, &k, NULL);
	if (ret)
		return ret;
	ret = scx_arena_btree_remove(t, k, val);
	if (!ret && key)
		*key = k;
	return ret;
}

/**
 * scx_arena_btree_pop_last - remove the largest key of @t.
 * @t: the tree.
 * @key: receives the key (may be NULL).
 * @val: receives its value (may be NULL).
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_pop_last(struct scx_arena_btree __arena *t, u64 *key,
						    u64 *val)
{
	u64 k;
	int ret;

	__scx_btree_pin(t);
	ret = scx_arena_btree_last(t, &k, NULL);
	if (ret)
		return ret;
	ret = scx_arena_btree_remove(t, k, val);
	if (!ret && key)
		*key = k;
	return ret;
}

/**
 * scx_arena_btree_destroy - free every node of @t and make it empty.
 * @t: the tree.
 *
 * Returns the number of nodes freed, or a negative error (-EFAULT, after
 * scx_arena_error()) when the tree is found corrupt on the way.
 */
static __always_inline s64 scx_arena_btree_destroy(struct scx_arena_btree __arena *t)
{
	return __scx_arena_btree_destroy(t);
}

/* ---------------------------------------------------------------------------
 * Cursors: ordered iteration and range scans.
 */

/* Internal: sets @cur from a position packed by __scx_arena_btree_seek(). */
static __always_inline int __scx_btree_cursor_set(struct scx_arena_btree_cursor *cur, u64 pos)
{
	cur->leaf = pos & __SCX_BTREE_POS_MASK;
	cur->idx = pos >> __SCX_BTREE_POS_SHIFT;
	cur->started = 0;
	return cur->leaf ? 0 : -ENOENT;
}

/**
 * scx_arena_btree_seek - put @cur on the smallest key >= @key (lower bound).
 * @t: the tree.
 * @key: the bound.
 * @cur: the cursor.
 *
 * Returns 0, or -ENOENT (the cursor past the end) when every key is
 * smaller than @key.
 */
static __always_inline int scx_arena_btree_seek(struct scx_arena_btree __arena *t, u64 key,
						struct scx_arena_btree_cursor *cur)
{
	return __scx_btree_cursor_set(cur, __scx_arena_btree_seek(t, key));
}

/**
 * scx_arena_btree_seek_first - put @cur on the smallest key of @t.
 * @t: the tree.
 * @cur: the cursor.
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_seek_first(struct scx_arena_btree __arena *t,
						      struct scx_arena_btree_cursor *cur)
{
	__scx_btree_pin(t);
	return __scx_btree_cursor_set(cur, __scx_bt_ld(&t->first));
}

/**
 * scx_arena_btree_seek_last - put @cur on the largest key of @t.
 * @t: the tree.
 * @cur: the cursor.
 *
 * Returns 0, or -ENOENT when @t is empty.
 */
static __always_inline int scx_arena_btree_seek_last(struct scx_arena_btree __arena *t,
						     struct scx_arena_btree_cursor *cur)
{
	u64 leaf;

	__scx_btree_pin(t);
	leaf = __scx_bt_ld(&t->last);
	cur->leaf = leaf;
	cur->idx = leaf ? __scx_bt_ld(&__scx_bt_node(leaf)->nr) - 1 : 0;
	cur->started = 0;
	return leaf ? 0 : -ENOENT;
}

/**
 * scx_arena_btree_cursor_valid - whether @cur is on a key.
 * @cur: the cursor.
 */
static __always_inline bool scx_arena_btree_cursor_valid(struct scx_arena_btree_cursor *cur)
{
	return cur->leaf != 0;
}

/**
 * scx_arena_btree_cursor_key - the key under @cur.
 * @cur: a valid cursor.
 *
 * Returns 0 for a cursor past the end.
 */
static __always_inline u64 scx_arena_btree_cursor_key(struct scx_arena_btree_cursor *cur)
{
	u64 k = 0;

	__scx_btree_leaf_get(cur->leaf, cur->idx, &k, NULL);
	return k;
}

/**
 * scx_arena_btree_cursor_val - the value under @cur.
 * @cur: a valid cursor.
 *
 * Returns 0 for a cursor past the end.
 */
static __always_inline u64 scx_arena_btree_cursor_val(struct scx_arena_btree_cursor *cur)
{
	u64 v = 0;

	__scx_btree_leaf_get(cur->leaf, cur->idx, NULL, &v);
	return v;
}

/**
 * scx_arena_btree_cursor_slot - where the value under @cur is stored.
 * @cur: a valid cursor.
 *
 * The caller may update the value in place. NULL past the end.
 */
static __always_inline u64 __arena *
scx_arena_btree_cursor_slot(struct scx_arena_btree_cursor *cur)
{
	u64 leaf = cur->leaf;

	if (!leaf)
		return NULL;
	return &__scx_bt_node(leaf)->slots[cur->idx];
}

/**
 * scx_arena_btree_cursor_next - move @cur to the next larger key.
 * @cur: a valid cursor.
 *
 * Returns 0, or -ENOENT when @cur was on the largest key (it is then past
 * the end) or already past the end. O(1): follows the leaf chain.
 */
static __always_inline int scx_arena_btree_cursor_next(struct scx_arena_btree_cursor *cur)
{
	u64 leaf = cur->leaf;
	struct scx_arena_btree_node __arena *n = __scx_bt_node(leaf);

	__scx_btree_pin(n);
	if (!leaf)
		return -ENOENT;
	if (cur->idx + 1 < __scx_bt_ld(&n->nr)) {
		cur->idx++;
		return 0;
	}
	cur->leaf = __scx_bt_ld(&n->next);
	cur->idx = 0;
	return cur->leaf ? 0 : -ENOENT;
}

/**
 * scx_arena_btree_cursor_prev - move @cur to the next smaller key.
 * @cur: a valid cursor.
 *
 * Returns 0, or -ENOENT when @cur was on the smallest key (it is then past
 * the end) or already past the end.
 */
static __always_inline int scx_arena_btree_cursor_prev(struct scx_arena_btree_cursor *cur)
{
	u64 leaf = cur->leaf, prev;

	if (!leaf)
		return -ENOENT;
	if (cur->idx > 0) {
		cur->idx--;
		return 0;
	}
	prev = __scx_bt_ld(&__scx_bt_node(leaf)->prev);
	cur->leaf = prev;
	cur->idx = prev ? __scx_bt_ld(&__scx_bt_node(prev)->nr) - 1 : 0;
	return prev ? 0 : -ENOENT;
}

/*
 * Internal: one step of a range walk: the first call leaves @cur where the
 * seek put it, later ones advance it. True while @cur is on a key < @hi.
 */
static __always_inline bool __scx_btree_range_step(struct scx_arena_btree_cursor *cur, u64 hi)
{
	if (cur->started)
		scx_arena_btree_cursor_next(cur);
	cur->started = 1;
	return cur->leaf && scx_arena_btree_cursor_key(cur) < hi;
}

/**
 * scx_arena_btree_for_each_range - visit the keys k of @t with @lo <= k < @hi,
 * in ascending order.
 * @cur: a struct scx_arena_btree_cursor * (caller memory): the position;
 *	read it with scx_arena_btree_cursor_key()/_val()/_slot().
 * @t: the tree.
 * @lo: smallest key visited.
 * @hi: first key not visited.
 * @max: at most this many keys are visited (at most 8M, BPF_MAX_LOOPS).
 *
 * No callback: the body is the loop body; break and continue work. Built
 * on a BPF numeric iterator, so the verifier accepts it whatever the tree
 * holds. The body must not modify the tree. After a loop that ran out of
 * keys, scx_arena_btree_cursor_valid(@cur) is false or its key is >= @hi.
 */
#define scx_arena_btree_for_each_range(cur, t, lo, hi, max)                    \
	for (struct bpf_iter_num ___scx_bt_it                                  \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_bt_p __attribute__((unused)) =                           \
		     (bpf_iter_num_new(&___scx_bt_it, 0, (max)),               \
		      (void)bpf_iter_num_destroy, scx_arena_btree_seek((t), (lo), (cur)), \
		      (void *)0);                                              \
	     bpf_iter_num_next(&___scx_bt_it) && __scx_btree_range_step((cur), (hi));)

/**
 * scx_arena_btree_for_each - visit every key of @t in ascending order.
 * @cur: the cursor, as for scx_arena_btree_for_each_range().
 * @t: the tree.
 * @max: at most this many keys are visited.
 */
#define scx_arena_btree_for_each(cur, t, max)                                  \
	for (struct bpf_iter_num ___scx_bt_it                                  \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_bt_p __attribute__((unused)) =                           \
		     (bpf_iter_num_new(&___scx_bt_it, 0, (max)),               \
		      (void)bpf_iter_num_destroy, scx_arena_btree_seek_first((t), (cur)), \
		      (void *)0);                                              \
	     bpf_iter_num_next(&___scx_bt_it) && __scx_btree_range_step((cur), ~0ull);)

/* ---------------------------------------------------------------------------
 * The locked tree.
 */

/* Internal: takes @bl's lock, reporting a timeout. */
#define __scx_arena_btree_lock(bl) scx_arena_lock_acquire_or_error(&(bl)->lock, "btree")

/**
 * scx_arena_btree_locked_init - make @bl an empty tree with a free lock.
 * @bl: the locked tree; zeroed memory already is one.
 */
static __always_inline void scx_arena_btree_locked_init(struct scx_arena_btree_locked __arena *bl)
{
	__scx_btree_pin(bl);
	scx_arena_lock_init(&bl->lock);
	scx_arena_btree_init(&bl->tree);
}

/**
 * scx_arena_btree_locked_len - the number of keys in @bl.
 * @bl: the locked tree.
 *
 * Read without the lock: a snapshot that may be stale at once.
 */
static __always_inline u64 scx_arena_btree_locked_len(struct scx_arena_btree_locked __arena *bl)
{
	__scx_btree_pin(bl);
	return *(volatile u64 __arena *)&bl->tree.nr;
}

/**
 * scx_arena_btree_locked_insert - scx_arena_btree_insert() under the lock.
 * @bl: the locked tree.
 * @key: the key.
 * @val: its value.
 *
 * Returns 0, -EEXIST, -ENOMEM, or -ETIMEDOUT (reported with
 * scx_arena_error(); nothing changed) when the lock could not be taken.
 */
static __always_inline int scx_arena_btree_locked_insert(struct scx_arena_btree_locked __arena *bl,
							 u64 key, u64 val)
{
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_insert(&bl->tree, key, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_upsert - scx_arena_btree_upsert() under the lock.
 * @bl: the locked tree.
 * @key: the key.
 * @val: its new value.
 *
 * Returns 0 (added), 1 (replaced), -ENOMEM or -ETIMEDOUT.
 */
static __always_inline int scx_arena_btree_locked_upsert(struct scx_arena_btree_locked __arena *bl,
							 u64 key, u64 val)
{
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_upsert(&bl->tree, key, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_lookup - scx_arena_btree_lookup() under the lock.
 * @bl: the locked tree.
 * @key: the key.
 * @val: receives the value (may be NULL).
 *
 * Returns 0, -ENOENT or -ETIMEDOUT.
 */
static __always_inline int scx_arena_btree_locked_lookup(struct scx_arena_btree_locked __arena *bl,
							 u64 key, u64 *val)
{
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_lookup(&bl->tree, key, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_remove - scx_arena_btree_remove() under the lock.
 * @bl: the locked tree.
 * @key: the key.
 * @val: receives its value (may be NULL).
 *
 * Returns 0, -ENOENT or -ETIMEDOUT.
 */
static __always_inline int scx_arena_btree_locked_remove(struct scx_arena_btree_locked __arena *bl,
							 u64 key, u64 *val)
{
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_remove(&bl->tree, key, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_pop_first - scx_arena_btree_pop_first() under the lock.
 * @bl: the locked tree.
 * @key: receives the key (may be NULL).
 * @val: receives its value (may be NULL).
 *
 * Returns 0, -ENOENT (empty) or -ETIMEDOUT.
 */
static __always_inline int
scx_arena_btree_locked_pop_first(struct scx_arena_btree_locked __arena *bl, u64 *key, u64 *val)
{
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_pop_first(&bl->tree, key, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_lower_bound - the smallest key >= @key, under the lock.
 * @bl: the locked tree.
 * @key: the bound.
 * @found: receives that key (may be NULL).
 * @val: receives its value (may be NULL).
 *
 * Returns 0, -ENOENT (no such key) or -ETIMEDOUT.
 */
static __always_inline int
scx_arena_btree_locked_lower_bound(struct scx_arena_btree_locked __arena *bl, u64 key, u64 *found,
				   u64 *val)
{
	struct scx_arena_btree_cursor cur;
	int ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_seek(&bl->tree, key, &cur);
	if (!ret)
		ret = __scx_btree_leaf_get(cur.leaf, cur.idx, found, val);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/**
 * scx_arena_btree_locked_destroy - scx_arena_btree_destroy() under the lock.
 * @bl: the locked tree.
 *
 * Returns the number of nodes freed, -EFAULT or -ETIMEDOUT.
 */
static __always_inline s64 scx_arena_btree_locked_destroy(struct scx_arena_btree_locked __arena *bl)
{
	s64 ret;

	__scx_btree_pin(bl);
	ret = __scx_arena_btree_lock(bl);
	if (ret)
		return ret;
	ret = scx_arena_btree_destroy(&bl->tree);
	scx_arena_lock_release(&bl->lock);
	return ret;
}

/* ---------------------------------------------------------------------------
 * Typed trees: values that are arena objects.
 */

/**
 * SCX_ARENA_BTREE_DEFINE - typed operations for trees whose values are
 * arena pointers to @type.
 * @name: prefix of the generated functions.
 * @type: the value struct, e.g. struct task_ctx.
 *
 * Generates, with T = @type __arena * (stored as its arena address; NULL
 * means "none" in the returns) and the same error codes as the untyped
 * operations:
 *
 *	int  name_insert(t, u64 key, T)         0, -EEXIST, -ENOMEM
 *	T    name_lookup(t, u64 key)            NULL when absent
 *	T    name_remove(t, u64 key)            NULL when absent
 *	T    name_pop_first(t, u64 *key)        NULL when empty (@key may be NULL)
 *	T    name_first(t, u64 *key)            left in the tree
 *	T    name_cursor_entry(cur)             the value under a cursor
 *	int  name_locked_insert(bl, u64 key, T)
 *	int  name_locked_remove(bl, u64 key, T *out)
 *	int  name_locked_pop_first(bl, u64 *key, T *out)
 *
 * where t is a struct scx_arena_btree __arena * and bl a struct
 * scx_arena_btree_locked __arena *; the locked ones return 0, -ENOENT
 * (then *out is NULL), -EEXIST, -ENOMEM or -ETIMEDOUT.
 */
#define SCX_ARENA_BTREE_DEFINE(name, type)                                     \
	static __always_inline __attribute__((unused)) int                     \
	name##_insert(struct scx_arena_btree __arena *t, u64 key, type __arena *e) \
	{                                                                      \
		return scx_arena_btree_insert(t, key, (u64)e);                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_lookup(struct scx_arena_btree __arena *t, u64 key)               \
	{                                                                      \
		u64 ___v = 0;                                                  \
									       \
		scx_arena_btree_lookup(t, key, &___v);                         \
		return scx_arena_from_u64(type, ___v);                         \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_remove(struct scx_arena_btree __arena *t, u64 key)               \
	{                                                                      \
		u64 ___v = 0;                                                  \
									       \
		scx_arena_btree_remove(t, key, &___v);                         \
		return scx_arena_from_u64(type, ___v);                         \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop_first(struct scx_arena_btree __arena *t, u64 *key)           \
	{                                                                      \
		u64 ___v = 0;                                                  \
									       \
		scx_arena_btree_pop_first(t, key, &___v);                      \
		return scx_arena_from_u64(type, ___v);                         \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_first(struct scx_arena_btree __arena *t, u64 *key)               \
	{                                                                      \
		u64 ___v = 0;                                                  \
									       \
		scx_arena_btree_first(t, key, &___v);                          \
		return scx_arena_from_u64(type, ___v);                         \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_cursor_entry(struct scx_arena_btree_cursor *cur)                 \
	{                                                                      \
		return scx_arena_from_u64(type, scx_arena_btree_cursor_val(cur)); \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_insert(struct scx_arena_btree_locked __arena *bl, u64 key, \
			     type __arena *e)                                  \
	{                                                                      \
		return scx_arena_btree_locked_insert(bl, key, (u64)e);         \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_remove(struct scx_arena_btree_locked __arena *bl, u64 key, \
			     type __arena **out)                               \
	{                                                                      \
		u64 ___v = 0;                                                  \
		int ___ret = scx_arena_btree_locked_remove(bl, key, &___v);    \
									       \
		*out = ___ret ? NULL : scx_arena_from_u64(type, ___v);         \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_pop_first(struct scx_arena_btree_locked __arena *bl,     \
				u64 *key, type __arena **out)                  \
	{                                                                      \
		u64 ___v = 0;                                                  \
		int ___ret = scx_arena_btree_locked_pop_first(bl, key, &___v); \
									       \
		*out = ___ret ? NULL : scx_arena_from_u64(type, ___v);         \
		return ___ret;                                                 \
	}
