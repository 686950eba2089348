/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/rbtree.h - a red-black tree ordered by u64 keys, in arena memory.
 *
 * Intrusive, like list.h: the node lives inside the caller's own struct and
 * the tree never allocates:
 *
 *	struct task_ctx {
 *		u64 pid;
 *		struct scx_arena_rb_node rb;    // rb.key is the sort key
 *	};
 *
 *	SCX_ARENA_RBTREE_DEFINE(runq, struct task_ctx, rb);
 *
 *	struct scx_arena_rbtree __arena_global vtime_q;  // zeroed: empty
 *
 *	runq_insert_key(&vtime_q, taskc, vtime);          // O(log n)
 *	taskc = runq_first(&vtime_q);                     // O(1), or NULL
 *	taskc = runq_pop_first(&vtime_q);                 // O(log n)
 *	runq_update_key(&vtime_q, taskc, new_vtime);      // in place if it can
 *
 * Keys may repeat: an equal key goes after the equal keys already in the
 * tree, so equal keys come out in insertion order (FIFO). lookup and
 * lower_bound return the first of equal keys. The tree caches its first and
 * last node and counts its nodes, so first, last, len and empty are O(1).
 * update_key gives the same order as a remove and an insert with the new key,
 * but changes only the key when the node's position stays the same.
 *
 * Links are arena addresses (0 for none), so userspace follows them as is
 * (scx_arena::rbtree). A node's parent address and colour share one word,
 * parent | SCX_ARENA_RB_BLACK. Zeroed memory is an empty tree, and a zeroed
 * node is an unlinked node (in a tree, only the root has no parent, and the
 * root is black, so no linked node has a zero word). Removal poisons a node's
 * links with SCX_ARENA_RB_POISON: removing it again, or a node never added, is
 * refused with -EINVAL, and inserting a node still in a tree with -EEXIST. A
 * node in a *different* tree passes the check that its parent (or the tree's
 * root) points at it: keep each node in one tree at a time. Nodes from
 * scx_arena_alloc() (not zeroed) need scx_arena_rb_node_init() first.
 *
 * Every loop is bounded by SCX_ARENA_RB_MAX_DEPTH (64) iterations. A red-black
 * tree of n nodes is at most 2*log2(n+1) deep; the arena spans at most 4 GiB,
 * so it holds fewer than 2^27 nodes (32 bytes each), at most 54 levels. A
 * tree that runs into the bound can only be corrupt: the operation reports it
 * with scx_arena_error() and returns -ELOOP (a search returns NULL). The
 * read-only walks are may_goto loops (cheaper than bpf_for); should a
 * program exhaust its may_goto budget (8M iterations per run), they end
 * early in the same way, before anything is changed.
 *
 * The work is done by global functions in bpf/lib/rbtree.bpf.c (link with
 * .lib("rbtree")): the verifier checks each once per program, however many
 * call sites the program has. The functions here are thin wrappers.
 *
 * In checked mode (SCX_ARENA_CHECKED, check.h) every access to a node or the
 * tree goes through scx_arena_ld()/scx_arena_st(), so a freed node still in a
 * tree is reported.
 *
 * struct scx_arena_rbtree is not thread-safe. struct scx_arena_rbtree_locked
 * pairs it with an arena spin lock (lock.h); its operations return
 * -ETIMEDOUT, after scx_arena_error(), when the lock stays held past its
 * bound.
 *
 * struct scx_arena_rbmap is the allocating variant: a map from u64 keys
 * (repeats allowed) to u64 values whose nodes come from scx_arena_alloc().
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/alloc.h>
#include <scx_arena/check.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef ELOOP
#define ELOOP 40
#endif

/* Pins @p in a register (see __scx_list_pin in list.h). */
#define __scx_rb_pin(p) asm volatile("" : "+r"(p))

/* The links of a removed node: no arena (or canonical) address. */
#define SCX_ARENA_RB_POISON 0x5c7a4b7700de2000ull
/* Colour bit of parent_color; clear means red. */
#define SCX_ARENA_RB_BLACK 1ull
/* Iterations of any loop over the tree (see above). */
#define SCX_ARENA_RB_MAX_DEPTH 64
/* Most steps of scx_arena_rbmap_destroy() (2 per node), BPF_MAX_LOOPS. */
#define SCX_ARENA_RBMAP_MAX_STEPS (8ull << 20)

/**
 * struct scx_arena_rb_node - the links embedded in a tree element.
 * @left: arena address of the left child (smaller keys), 0 for none.
 * @right: arena address of the right child (larger or equal keys), 0 for none.
 * @parent_color: arena address of the parent (0 at the root), or'ed with
 *	SCX_ARENA_RB_BLACK for a black node. 0 in a node never added,
 *	SCX_ARENA_RB_POISON (as are @left and @right) in a removed one.
 * @key: the sort key. Set it before an insert, or pass it to
 *	scx_arena_rbtree_insert_key(); change it only with
 *	scx_arena_rbtree_update_key() while the node is in a tree.
 */
struct scx_arena_rb_node {
	struct scx_arena_rb_node __arena *left;
	struct scx_arena_rb_node __arena *right;
	u64 parent_color;
	u64 key;
};

/**
 * struct scx_arena_rbtree - a tree root.
 * @root: arena address of the root node, 0 when empty.
 * @first: the node with the smallest key (the first of equal ones), 0 when empty.
 * @last: the node with the largest key (the last of equal ones), 0 when empty.
 * @nr: number of nodes in the tree.
 */
struct scx_arena_rbtree {
	struct scx_arena_rb_node __arena *root;
	struct scx_arena_rb_node __arena *first;
	struct scx_arena_rb_node __arena *last;
	u64 nr;
};

/**
 * struct scx_arena_rbtree_locked - a tree with its own arena spin lock.
 * @lock: taken by every scx_arena_rbtree_locked_*() operation.
 * @__pad: keeps @tree 8-byte aligned (explicit for the Rust mirror).
 * @tree: the tree; touch it directly only while holding @lock.
 */
struct scx_arena_rbtree_locked {
	struct scx_arena_lock lock;
	u32 __pad;
	struct scx_arena_rbtree tree;
};

/**
 * struct scx_arena_rbmap_node - a node the allocating map allocates.
 * @rb: the tree links and the key.
 * @value: the value stored with the key.
 */
struct scx_arena_rbmap_node {
	struct scx_arena_rb_node rb;
	u64 value;
};

/**
 * struct scx_arena_rbmap - a map from u64 keys to u64 values that allocates
 * its own nodes; zeroed memory is an empty map.
 * @tree: the tree of struct scx_arena_rbmap_node.
 */
struct scx_arena_rbmap {
	struct scx_arena_rbtree tree;
};

/* bpf/lib/rbtree.bpf.c. Nodes come back as arena addresses (0 for none). */
int __scx_arena_rbtree_insert(struct scx_arena_rbtree __arena *t __arg_arena,
			      struct scx_arena_rb_node __arena *n __arg_arena, u64 key);
int __scx_arena_rbtree_remove(struct scx_arena_rbtree __arena *t __arg_arena,
			      struct scx_arena_rb_node __arena *n __arg_arena);
int __scx_arena_rbtree_update_key(struct scx_arena_rbtree __arena *t __arg_arena,
				  struct scx_arena_rb_node __arena *n __arg_arena, u64 key);
u64 __scx_arena_rbtree_lower_bound(struct scx_arena_rbtree __arena *t __arg_arena, u64 key);
u64 __scx_arena_rbtree_upper_bound(struct scx_arena_rbtree __arena *t __arg_arena, u64 key);
u64 __scx_arena_rbtree_next(struct scx_arena_rb_node __arena *n __arg_arena);
u64 __scx_arena_rbtree_prev(struct scx_arena_rb_node __arena *n __arg_arena);
s64 __scx_arena_rbmap_destroy(struct scx_arena_rbtree __arena *t __arg_arena);

#define __scx_rb_node(addr) scx_arena_from_u64(struct scx_arena_rb_node, (addr))

/**
 * scx_arena_rbtree_init - make @t an empty tree.
 * @t: the tree root, in arena memory. Zeroed memory already is an empty tree.
 *
 * The nodes @t held are not unlinked: call this only when they are no longer
 * needed (or re-initialise them with scx_arena_rb_node_init()).
 */
static __always_inline void scx_arena_rbtree_init(struct scx_arena_rbtree __arena *t)
{
	__scx_rb_pin(t);
	/* Barriers: no memset (clang-19 emits it without the arena cast). */
	scx_arena_st(&t->root, NULL);
	barrier();
	scx_arena_st(&t->first, NULL);
	barrier();
	scx_arena_st(&t->last, NULL);
	barrier();
	scx_arena_st(&t->nr, 0);
}

/**
 * scx_arena_rb_node_init - mark @n as not in any tree (poisoned links).
 * @n: the node. Needed for nodes in memory that was not zeroed.
 */
static __always_inline void scx_arena_rb_node_init(struct scx_arena_rb_node __arena *n)
{
	__scx_rb_pin(n);
	scx_arena_st(&n->left, __scx_rb_node(SCX_ARENA_RB_POISON));
	scx_arena_st(&n->right, __scx_rb_node(SCX_ARENA_RB_POISON));
	scx_arena_st(&n->parent_color, SCX_ARENA_RB_POISON);
}

/**
 * scx_arena_rb_node_linked - whether @n is in a tree.
 * @n: the node.
 *
 * False for a zeroed, initialised or removed node.
 */
static __always_inline bool scx_arena_rb_node_linked(struct scx_arena_rb_node __arena *n)
{
	u64 pc;

	__scx_rb_pin(n);
	pc = scx_arena_ld(&n->parent_color);
	return pc && pc != SCX_ARENA_RB_POISON;
}

/**
 * scx_arena_rb_node_removed - whether @n carries the removal poison.
 * @n: the node.
 *
 * True after scx_arena_rb_node_init() and after a removal.
 */
static __always_inline bool scx_arena_rb_node_removed(struct scx_arena_rb_node __arena *n)
{
	__scx_rb_pin(n);
	return scx_arena_ld(&n->parent_color) == SCX_ARENA_RB_POISON;
}

/**
 * scx_arena_rb_key - the key of node @n.
 * @n: the node.
 */
static __always_inline u64 scx_arena_rb_key(struct scx_arena_rb_node __arena *n)
{
	__scx_rb_pin(n);
	return scx_arena_ld(&n->key);
}

/**
 * scx_arena_rbtree_len - the number of nodes in @t.
 * @t: the tree.
 */
static __always_inline u64 scx_arena_rbtree_len(struct scx_arena_rbtree __arena *t)
{
	__scx_rb_pin(t);
	return scx_arena_ld(&t->nr);
}

/**
 * scx_arena_rbtree_empty - whether @t has no nodes.
 * @t: the tree.
 */
static __always_inline bool scx_arena_rbtree_empty(struct scx_arena_rbtree __arena *t)
{
	__scx_rb_pin(t);
	return !scx_arena_ld(&t->root);
}

/**
 * scx_arena_rbtree_first - the node with the smallest key, O(1).
 * @t: the tree.
 *
 * Of equal smallest keys, the one inserted first. NULL when @t is empty.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_first(struct scx_arena_rbtree __arena *t)
{
	__scx_rb_pin(t);
	return scx_arena_ld(&t->first);
}

/**
 * scx_arena_rbtree_last - the node with the largest key, O(1).
 * @t: the tree.
 *
 * Of equal largest keys, the one inserted last. NULL when @t is empty.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_last(struct scx_arena_rbtree __arena *t)
{
	__scx_rb_pin(t);
	return scx_arena_ld(&t->last);
}

/**
 * scx_arena_rbtree_insert_key - set @n's key to @key and insert it into @t.
 * @t: the tree.
 * @n: a node not in any tree (zeroed, initialised or removed).
 * @key: its key; it goes after the nodes with an equal key.
 *
 * O(log n). Returns 0, -EINVAL for a NULL @n, -EEXIST (nothing changed, key
 * included) when @n is in a tree, or -ELOOP for a corrupt tree.
 */
static __always_inline int scx_arena_rbtree_insert_key(struct scx_arena_rbtree __arena *t,
						       struct scx_arena_rb_node __arena *n,
						       u64 key)
{
	return __scx_arena_rbtree_insert(t, n, key);
}

/**
 * scx_arena_rbtree_insert - insert @n into @t with the key already in @n->key.
 * @t: the tree.
 * @n: a node not in any tree, its key set.
 *
 * Returns as scx_arena_rbtree_insert_key().
 */
static __always_inline int scx_arena_rbtree_insert(struct scx_arena_rbtree __arena *t,
						   struct scx_arena_rb_node __arena *n)
{
	__scx_rb_pin(n);
	if (!n)
		return -EINVAL;
	return __scx_arena_rbtree_insert(t, n, scx_arena_ld(&n->key));
}

/**
 * scx_arena_rbtree_remove - remove node @n from @t.
 * @t: the tree @n is in.
 * @n: the node; its links are poisoned afterwards, its key kept.
 *
 * O(log n). Returns 0, -EINVAL (nothing changed) when @n is NULL, not in a
 * tree (removed before, never added), or its parent (or @t's root) does not
 * point at it, or -ELOOP for a corrupt tree.
 */
static __always_inline int scx_arena_rbtree_remove(struct scx_arena_rbtree __arena *t,
						   struct scx_arena_rb_node __arena *n)
{
	return __scx_arena_rbtree_remove(t, n);
}

/**
 * scx_arena_rbtree_pop_first - remove and return the first node of @t.
 * @t: the tree.
 *
 * Returns the node with the smallest key (its links poisoned), or NULL when
 * @t is empty (or corrupt, reported).
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_pop_first(struct scx_arena_rbtree __arena *t)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_first(t);

	__scx_rb_pin(n);
	if (!n || __scx_arena_rbtree_remove(t, n))
		return NULL;
	return n;
}

/**
 * scx_arena_rbtree_pop_last - remove and return the last node of @t.
 * @t: the tree.
 *
 * Returns the node with the largest key, or NULL when @t is empty.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_pop_last(struct scx_arena_rbtree __arena *t)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_last(t);

	__scx_rb_pin(n);
	if (!n || __scx_arena_rbtree_remove(t, n))
		return NULL;
	return n;
}

/**
 * scx_arena_rbtree_lower_bound - the first node with a key >= @key.
 * @t: the tree.
 * @key: the key.
 *
 * O(log n). NULL when every key is smaller.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_lower_bound(struct scx_arena_rbtree __arena *t, u64 key)
{
	return __scx_rb_node(__scx_arena_rbtree_lower_bound(t, key));
}

/**
 * scx_arena_rbtree_upper_bound - the first node with a key > @key.
 * @t: the tree.
 * @key: the key.
 *
 * O(log n). NULL when no key is larger.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_upper_bound(struct scx_arena_rbtree __arena *t, u64 key)
{
	return __scx_rb_node(__scx_arena_rbtree_upper_bound(t, key));
}

/**
 * scx_arena_rbtree_lookup - the first node with key @key.
 * @t: the tree.
 * @key: the key.
 *
 * O(log n). Of equal keys, the one inserted first; NULL when none has @key.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_lookup(struct scx_arena_rbtree __arena *t, u64 key)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_lower_bound(t, key);

	__scx_rb_pin(n);
	if (n && scx_arena_ld(&n->key) == key)
		return n;
	return NULL;
}

/**
 * scx_arena_rbtree_next - the node after @n in key order.
 * @n: a node in a tree.
 *
 * Amortised O(1) over a whole walk. NULL after the last node, or when @n is
 * NULL or not in a tree.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_next(struct scx_arena_rb_node __arena *n)
{
	return __scx_rb_node(__scx_arena_rbtree_next(n));
}

/**
 * scx_arena_rbtree_prev - the node before @n in key order.
 * @n: a node in a tree.
 *
 * NULL before the first node, or when @n is NULL or not in a tree.
 */
static __always_inline struct scx_arena_rb_node __arena *
scx_arena_rbtree_prev(struct scx_arena_rb_node __arena *n)
{
	return __scx_rb_node(__scx_arena_rbtree_prev(n));
}

/**
 * scx_arena_rbtree_update_key - change the key of node @n in @t.
 * @t: the tree @n is in.
 * @n: the node.
 * @key: the new key.
 *
 * The tree ends up as after a remove and an insert with @key (so @n goes
 * after nodes with an equal key), but when @n's position does not change
 * (previous key <= @key < next key) only the key is written. Returns 0, or
 * as scx_arena_rbtree_remove() (-EINVAL: @n not in a tree).
 */
static __always_inline int scx_arena_rbtree_update_key(struct scx_arena_rbtree __arena *t,
						       struct scx_arena_rb_node __arena *n,
						       u64 key)
{
	return __scx_arena_rbtree_update_key(t, n, key);
}

/**
 * scx_arena_rbtree_entry - the struct of @type containing node @n as @member.
 * @n: a node pointer, or NULL (gives NULL).
 * @type: the containing struct type, e.g. struct task_ctx.
 * @member: the name of the node in @type.
 */
#define scx_arena_rbtree_entry(n, type, member)                                \
	((type __arena *)__scx_arena_rbtree_entry((n), offsetof(type, member)))

static __always_inline void __arena *
__scx_arena_rbtree_entry(struct scx_arena_rb_node __arena *n, u64 off)
{
	__scx_rb_pin(n);
	return n ? (void __arena *)((char __arena *)n - off) : NULL;
}

/**
 * scx_arena_rbtree_for_each - iterate over the nodes of @tree in key order.
 * @pos: a struct scx_arena_rb_node __arena * variable, the cursor.
 * @tree: the tree (struct scx_arena_rbtree __arena *).
 * @max: at most this many nodes are visited (at most 8M, BPF_MAX_LOOPS).
 *
 * The body must not remove @pos; break and continue work as usual. @pos is
 * NULL after a loop that ran out of nodes.
 */
#define scx_arena_rbtree_for_each(pos, tree, max)                              \
	for (struct bpf_iter_num ___scx_it                                     \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_p __attribute__((unused)) =                              \
		     (bpf_iter_num_new(&___scx_it, 0, (max)),                  \
		      (void)bpf_iter_num_destroy, (pos) = NULL, (void *)0);    \
	     bpf_iter_num_next(&___scx_it) &&                                  \
	     ((pos) = (pos) ? scx_arena_rbtree_next(pos) : scx_arena_rbtree_first(tree));)

/* ---------------------------------------------------------------------------
 * The locked tree.
 */

/* Internal: takes @tl's lock, reporting a timeout. */
#define __scx_arena_rbtree_lock(tl) scx_arena_lock_acquire_or_error(&(tl)->lock, "rbtree")

/**
 * scx_arena_rbtree_locked_init - make @tl an empty tree with a free lock.
 * @tl: the locked tree; zeroed memory already is one.
 */
static __always_inline void scx_arena_rbtree_locked_init(struct scx_arena_rbtree_locked __arena *tl)
{
	__scx_rb_pin(tl);
	scx_arena_lock_init(&tl->lock);
	scx_arena_rbtree_init(&tl->tree);
}

/**
 * scx_arena_rbtree_locked_len - the number of nodes in @tl (lock-free snapshot).
 * @tl: the locked tree.
 */
static __always_inline u64 scx_arena_rbtree_locked_len(struct scx_arena_rbtree_locked __arena *tl)
{
	__scx_rb_pin(tl);
	return *(volatile u64 __arena *)&tl->tree.nr;
}

/**
 * scx_arena_rbtree_locked_empty - whether @tl looked empty (lock-free snapshot).
 * @tl: the locked tree.
 */
static __always_inline bool scx_arena_rbtree_locked_empty(struct scx_arena_rbtree_locked __arena *tl)
{
	__scx_rb_pin(tl);
	return *(volatile u64 __arena *)&tl->tree.root == 0;
}

/**
 * scx_arena_rbtree_locked_insert_key - scx_arena_rbtree_insert_key() under the lock.
 * @tl: the locked tree.
 * @n: a node not in any tree.
 * @key: its key.
 *
 * Returns 0, -EINVAL, -EEXIST, -ELOOP, or -ETIMEDOUT (reported with
 * scx_arena_error(); nothing changed) when the lock could not be taken.
 */
static __always_inline int
scx_arena_rbtree_locked_insert_key(struct scx_arena_rbtree_locked __arena *tl,
				   struct scx_arena_rb_node __arena *n, u64 key)
{
	int ret;

	__scx_rb_pin(tl);
	ret = __scx_arena_rbtree_lock(tl);
	if (ret)
		return ret;
	ret = __scx_arena_rbtree_insert(&tl->tree, n, key);
	scx_arena_lock_release(&tl->lock);
	return ret;
}

/**
 * scx_arena_rbtree_locked_insert - scx_arena_rbtree_insert() under the lock.
 * @tl: the locked tree.
 * @n: a node not in any tree, its key set.
 *
 * Returns as scx_arena_rbtree_locked_insert_key().
 */
static __always_inline int scx_arena_rbtree_locked_insert(struct scx_arena_rbtree_locked __arena *tl,
							  struct scx_arena_rb_node __arena *n)
{
	__scx_rb_pin(n);
	if (!n)
		return -EINVAL;
	return scx_arena_rbtree_locked_insert_key(tl, n, scx_arena_ld(&n->key));
}

/**
 * scx_arena_rbtree_locked_remove - scx_arena_rbtree_remove() under the lock.
 * @tl: the locked tree.
 * @n: the node to remove.
 *
 * Returns 0, -EINVAL (not in a tree), -ELOOP, or -ETIMEDOUT.
 */
static __always_inline int scx_arena_rbtree_locked_remove(struct scx_arena_rbtree_locked __arena *tl,
							  struct scx_arena_rb_node __arena *n)
{
	int ret;

	__scx_rb_pin(tl);
	ret = __scx_arena_rbtree_lock(tl);
	if (ret)
		return ret;
	ret = __scx_arena_rbtree_remove(&tl->tree, n);
	scx_arena_lock_release(&tl->lock);
	return ret;
}

/**
 * scx_arena_rbtree_locked_update_key - scx_arena_rbtree_update_key() under the lock.
 * @tl: the locked tree.
 * @n: the node.
 * @key: the new key.
 *
 * Returns 0, -EINVAL, -ELOOP, or -ETIMEDOUT.
 */
static __always_inline int
scx_arena_rbtree_locked_update_key(struct scx_arena_rbtree_locked __arena *tl,
				   struct scx_arena_rb_node __arena *n, u64 key)
{
	int ret;

	__scx_rb_pin(tl);
	ret = __scx_arena_rbtree_lock(tl);
	if (ret)
		return ret;
	ret = __scx_arena_rbtree_update_key(&tl->tree, n, key);
	scx_arena_lock_release(&tl->lock);
	return ret;
}

/*
 * The locked node getters: @op (pop_first, pop_last, first, last) of the
 * inner tree under the lock, the node in *@out (NULL when the tree is
 * empty). They return 0, or -ETIMEDOUT (then *@out is NULL). A node from
 * first/last stays in the tree, and another CPU may remove it once the lock
 * is dropped.
 */
#define __SCX_ARENA_RBTREE_LOCKED_GET(op)                                       \
	static __always_inline int scx_arena_rbtree_locked_##op(                \
		struct scx_arena_rbtree_locked __arena *tl,                     \
		struct scx_arena_rb_node __arena **out)                         \
	{                                                                       \
		int ret;                                                        \
									        \
		__scx_rb_pin(tl);                                               \
		ret = __scx_arena_rbtree_lock(tl);                              \
		*out = NULL;                                                    \
		if (ret)                                                        \
			return ret;                                             \
		*out = scx_arena_rbtree_##op(&tl->tree);                        \
		scx_arena_lock_release(&tl->lock);                              \
		return 0;                                                       \
	}

/** scx_arena_rbtree_locked_pop_first - scx_arena_rbtree_pop_first() under the lock. */
__SCX_ARENA_RBTREE_LOCKED_GET(pop_first)
/** scx_arena_rbtree_locked_pop_last - scx_arena_rbtree_pop_last() under the lock. */
__SCX_ARENA_RBTREE_LOCKED_GET(pop_last)
/** scx_arena_rbtree_locked_first - the first node of @tl, left in the tree. */
__SCX_ARENA_RBTREE_LOCKED_GET(first)
/** scx_arena_rbtree_locked_last - the last node of @tl, left in the tree. */
__SCX_ARENA_RBTREE_LOCKED_GET(last)

/* ---------------------------------------------------------------------------
 * The allocating map.
 */

/* The map node holding tree node @n (the first member); NULL for NULL. */
#define scx_arena_rbmap_entry(n) ((struct scx_arena_rbmap_node __arena *)(n))

/**
 * scx_arena_rbmap_len - the number of entries in @m.
 * @m: the map.
 */
static __always_inline u64 scx_arena_rbmap_len(struct scx_arena_rbmap __arena *m)
{
	return scx_arena_rbtree_len(&m->tree);
}

/**
 * scx_arena_rbmap_empty - whether @m has no entries.
 * @m: the map.
 */
static __always_inline bool scx_arena_rbmap_empty(struct scx_arena_rbmap __arena *m)
{
	return scx_arena_rbtree_empty(&m->tree);
}

/**
 * scx_arena_rbmap_insert - add the entry @key -> @value to @m.
 * @m: the map.
 * @key: the key; after entries with an equal key.
 * @value: the value.
 *
 * O(log n) plus one allocation. Returns 0, -ENOMEM (map unchanged) when the
 * arena is exhausted, or -ELOOP for a corrupt map (the node is freed).
 */
static __always_inline int scx_arena_rbmap_insert(struct scx_arena_rbmap __arena *m, u64 key,
						  u64 value)
{
	struct scx_arena_rbmap_node __arena *e = scx_arena_alloc(sizeof(*e));
	int ret;

	__scx_rb_pin(e);
	if (!e)
		return -ENOMEM;
	scx_arena_st(&e->value, value);
	scx_arena_st(&e->rb.parent_color, 0);
	ret = __scx_arena_rbtree_insert(&m->tree, &e->rb, key);
	if (ret)
		scx_arena_free(e);
	return ret;
}

/* Internal: key and value of map node @e into *@key and *@value (if not NULL). */
static __always_inline void __scx_arena_rbmap_out(struct scx_arena_rbmap_node __arena *e,
						  u64 *key, u64 *value)
{
	__scx_rb_pin(e);
	if (key)
		*key = scx_arena_ld(&e->rb.key);
	if (value)
		*value = scx_arena_ld(&e->value);
}

/**
 * scx_arena_rbmap_lookup - the value of the first entry with key @key.
 * @m: the map.
 * @key: the key.
 * @value: where the value goes (may be NULL).
 *
 * Returns 0, or -ENOENT when no entry has @key.
 */
static __always_inline int scx_arena_rbmap_lookup(struct scx_arena_rbmap __arena *m, u64 key,
						  u64 *value)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_lookup(&m->tree, key);

	__scx_rb_pin(n);
	if (!n)
		return -ENOENT;
	__scx_arena_rbmap_out(scx_arena_rbmap_entry(n), NULL, value);
	return 0;
}

/**
 * scx_arena_rbmap_lower_bound - the first entry with a key >= @key.
 * @m: the map.
 * @key: the bound.
 * @found: where its key goes (may be NULL).
 * @value: where its value goes (may be NULL).
 *
 * Returns 0, or -ENOENT when every key is smaller.
 */
static __always_inline int scx_arena_rbmap_lower_bound(struct scx_arena_rbmap __arena *m, u64 key,
						       u64 *found, u64 *value)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_lower_bound(&m->tree, key);

	__scx_rb_pin(n);
	if (!n)
		return -ENOENT;
	__scx_arena_rbmap_out(scx_arena_rbmap_entry(n), found, value);
	return 0;
}

/**
 * scx_arena_rbmap_first - the entry with the smallest key, O(1).
 * @m: the map.
 * @key: where its key goes (may be NULL).
 * @value: where its value goes (may be NULL).
 *
 * Returns 0, or -ENOENT when @m is empty.
 */
static __always_inline int scx_arena_rbmap_first(struct scx_arena_rbmap __arena *m, u64 *key,
						 u64 *value)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_first(&m->tree);

	__scx_rb_pin(n);
	if (!n)
		return -ENOENT;
	__scx_arena_rbmap_out(scx_arena_rbmap_entry(n), key, value);
	return 0;
}

/* Internal: removes map node @n from @m, reports it and frees it. */
static __always_inline int __scx_arena_rbmap_take(struct scx_arena_rbmap __arena *m,
						  struct scx_arena_rb_node __arena *n, u64 *key,
						  u64 *value)
{
	int ret;

	__scx_rb_pin(n);
	if (!n)
		return -ENOENT;
	ret = __scx_arena_rbtree_remove(&m->tree, n);
	if (ret)
		return ret;
	__scx_arena_rbmap_out(scx_arena_rbmap_entry(n), key, value);
	scx_arena_free(scx_arena_rbmap_entry(n));
	return 0;
}

/**
 * scx_arena_rbmap_remove - remove the first entry with key @key.
 * @m: the map.
 * @key: the key.
 * @value: where its value goes (may be NULL).
 *
 * The node goes back to the allocator. Returns 0, -ENOENT when no entry has
 * @key, or -ELOOP for a corrupt map.
 */
static __always_inline int scx_arena_rbmap_remove(struct scx_arena_rbmap __arena *m, u64 key,
						  u64 *value)
{
	return __scx_arena_rbmap_take(m, scx_arena_rbtree_lookup(&m->tree, key), NULL, value);
}

/**
 * scx_arena_rbmap_pop_first - remove the entry with the smallest key.
 * @m: the map.
 * @key: where its key goes (may be NULL).
 * @value: where its value goes (may be NULL).
 *
 * Returns 0, or -ENOENT when @m is empty.
 */
static __always_inline int scx_arena_rbmap_pop_first(struct scx_arena_rbmap __arena *m, u64 *key,
						     u64 *value)
{
	return __scx_arena_rbmap_take(m, scx_arena_rbtree_first(&m->tree), key, value);
}

/**
 * scx_arena_rbmap_destroy - free every entry of @m; @m is then empty.
 * @m: the map.
 *
 * O(n), at most SCX_ARENA_RBMAP_MAX_STEPS steps (2 per entry): maps of up to
 * 4M entries. Returns the number of entries freed, or -ELOOP (reported) when
 * the tree holds more nodes than its count says (then some are left).
 */
static __always_inline s64 scx_arena_rbmap_destroy(struct scx_arena_rbmap __arena *m)
{
	return __scx_arena_rbmap_destroy(&m->tree);
}

/* ---------------------------------------------------------------------------
 * Typed trees.
 */

/**
 * SCX_ARENA_RBTREE_DEFINE - typed operations for trees of @type.
 * @name: prefix of the generated functions.
 * @type: the element struct, e.g. struct task_ctx.
 * @member: the name of its struct scx_arena_rb_node.
 *
 * Generates, with T = @type __arena *, t a struct scx_arena_rbtree __arena *
 * and tl a struct scx_arena_rbtree_locked __arena *, and the returns of the
 * untyped operations:
 *
 *	T    name_entry(struct scx_arena_rb_node __arena *n)    (NULL -> NULL)
 *	u64  name_key(T)
 *	int  name_insert(t, T)              key from T->member.key
 *	int  name_insert_key(t, T, u64 key)
 *	int  name_remove(t, T)
 *	int  name_update_key(t, T, u64 key)
 *	T    name_first(t)     / name_last(t)           O(1), NULL if empty
 *	T    name_pop_first(t) / name_pop_last(t)
 *	T    name_lookup(t, key) / name_lower_bound(t, key) / name_upper_bound(t, key)
 *	T    name_next(T)      / name_prev(T)           NULL at the end
 *	int  name_locked_insert(tl, T) / name_locked_insert_key(tl, T, key)
 *	int  name_locked_remove(tl, T) / name_locked_update_key(tl, T, key)
 *	int  name_locked_pop_first(tl, T *out) / name_locked_first(tl, T *out)
 *
 * A NULL element makes insert, remove and update_key return -EINVAL.
 */
#define SCX_ARENA_RBTREE_DEFINE(name, type, member)                            \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_entry(struct scx_arena_rb_node __arena *n)                       \
	{                                                                      \
		return scx_arena_rbtree_entry(n, type, member);                \
	}                                                                      \
	static __always_inline __attribute__((unused)) u64                     \
	name##_key(type __arena *e)                                            \
	{                                                                      \
		return scx_arena_rb_key(&e->member);                           \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_insert(struct scx_arena_rbtree __arena *t, type __arena *e)      \
	{                                                                      \
		return e ? scx_arena_rbtree_insert(t, &e->member) : -EINVAL;   \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_insert_key(struct scx_arena_rbtree __arena *t, type __arena *e, u64 key) \
	{                                                                      \
		return e ? scx_arena_rbtree_insert_key(t, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_remove(struct scx_arena_rbtree __arena *t, type __arena *e)      \
	{                                                                      \
		return e ? scx_arena_rbtree_remove(t, &e->member) : -EINVAL;   \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_update_key(struct scx_arena_rbtree __arena *t, type __arena *e, u64 key) \
	{                                                                      \
		return e ? scx_arena_rbtree_update_key(t, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_first(struct scx_arena_rbtree __arena *t)                        \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_first(t));                \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_last(struct scx_arena_rbtree __arena *t)                         \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_last(t));                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop_first(struct scx_arena_rbtree __arena *t)                    \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_pop_first(t));            \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop_last(struct scx_arena_rbtree __arena *t)                     \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_pop_last(t));             \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_lookup(struct scx_arena_rbtree __arena *t, u64 key)              \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_lookup(t, key));          \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_lower_bound(struct scx_arena_rbtree __arena *t, u64 key)         \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_lower_bound(t, key));     \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_upper_bound(struct scx_arena_rbtree __arena *t, u64 key)         \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_upper_bound(t, key));     \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_next(type __arena *e)                                           \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_next(e ? &e->member : NULL)); \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_prev(type __arena *e)                                           \
	{                                                                      \
		return name##_entry(scx_arena_rbtree_prev(e ? &e->member : NULL)); \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_insert(struct scx_arena_rbtree_locked __arena *tl, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_rbtree_locked_insert(tl, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_insert_key(struct scx_arena_rbtree_locked __arena *tl,    \
				 type __arena *e, u64 key)                     \
	{                                                                      \
		return e ? scx_arena_rbtree_locked_insert_key(tl, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_remove(struct scx_arena_rbtree_locked __arena *tl, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_rbtree_locked_remove(tl, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_update_key(struct scx_arena_rbtree_locked __arena *tl,    \
				 type __arena *e, u64 key)                     \
	{                                                                      \
		return e ? scx_arena_rbtree_locked_update_key(tl, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_pop_first(struct scx_arena_rbtree_locked __arena *tl,     \
				type __arena **out)                            \
	{                                                                      \
		struct scx_arena_rb_node __arena *___n;                        \
		int ___ret = scx_arena_rbtree_locked_pop_first(tl, &___n);      \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_first(struct scx_arena_rbtree_locked __arena *tl,         \
			    type __arena **out)                                \
	{                                                                      \
		struct scx_arena_rb_node __arena *___n;                        \
		int ___ret = scx_arena_rbtree_locked_first(tl, &___n);          \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}
