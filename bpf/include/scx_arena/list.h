/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/list.h - an intrusive doubly linked FIFO list in arena memory.
 *
 * The node lives inside the caller's own struct; the list never allocates:
 *
 *	struct task_ctx {
 *		u64 pid;
 *		struct scx_arena_list_node node;
 *	};
 *
 *	SCX_ARENA_LIST_DEFINE(rq, struct task_ctx, node);
 *
 *	struct scx_arena_list __arena_global runq;   // zeroed: an empty list
 *
 *	rq_push(&runq, taskc);                       // at the tail
 *	taskc = rq_pop(&runq);                       // from the head, or NULL
 *
 * Links are arena addresses stored as u64 (0 ends the list), so userspace
 * can walk a list through the arena mmap as is. Every
 * operation is O(1) and loop-free, except the bounded iteration macros.
 *
 * Zeroed memory is an empty list, and a zeroed node is an unlinked node.
 * Removal (pop, del) poisons a node's links with SCX_ARENA_LIST_POISON, so a
 * second del of the same node, or a del of a node that was never added, is
 * refused with -EINVAL instead of corrupting the list; a push of a node that
 * is still linked is refused with -EEXIST. A node on a *different* list
 * cannot be told apart from one on this list, except when it is that list's
 * only element: keep each node on at most one list at a time. Nodes taken
 * from scx_arena_alloc() (not zeroed) must go through
 * scx_arena_list_node_init() before their first push.
 *
 * In checked mode (SCX_ARENA_CHECKED, check.h) every access to a node or list
 * header goes through scx_arena_ld()/scx_arena_st(), so a freed node still
 * on a list (use after free) is reported; otherwise those are plain accesses.
 *
 * struct scx_arena_list is not thread-safe: one CPU at a time. struct
 * scx_arena_list_locked pairs it with an arena spin lock (lock.h; link with
 * .lib("lock")); its operations return -ETIMEDOUT, after reporting with
 * scx_arena_error(), when the lock stays held past its bound.
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/check.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>

#ifndef EEXIST
#define EEXIST 17
#endif

/*
 * Both links of a node that was removed from a list. Not an address any
 * arena (or canonical x86-64 pointer) can have.
 */
/*
 * Keeps @p in one register from here on. clang-19 sometimes rebuilds an
 * arena pointer from an older, uncast copy of the same value and stores
 * through that ("Rn invalid mem access 'scalar'"); making the value opaque
 * at each operation's entry keeps its address-space cast in force.
 */
#define __scx_list_pin(p) asm volatile("" : "+r"(p))

#define SCX_ARENA_LIST_POISON 0x5c7a115700de1000ull

/**
 * struct scx_arena_list_node - the links embedded in a list element.
 * @next: arena address of the next node, 0 at the tail.
 * @prev: arena address of the previous node, 0 at the head.
 *
 * Both are SCX_ARENA_LIST_POISON after removal, and 0 in a zeroed node that
 * was never added.
 */
struct scx_arena_list_node {
	struct scx_arena_list_node __arena *next;
	struct scx_arena_list_node __arena *prev;
};

/**
 * struct scx_arena_list - a list head.
 * @first: arena address of the head node, 0 when empty.
 * @last: arena address of the tail node, 0 when empty.
 * @nr: number of nodes on the list.
 */
struct scx_arena_list {
	struct scx_arena_list_node __arena *first;
	struct scx_arena_list_node __arena *last;
	u64 nr;
};

/**
 * struct scx_arena_list_locked - a list with its own arena spin lock.
 * @lock: taken by every scx_arena_list_locked_*() operation.
 * @__pad: keeps @list 8-byte aligned (explicit for the Rust mirror).
 * @list: the list; touch it directly only while holding @lock.
 */
struct scx_arena_list_locked {
	struct scx_arena_lock lock;
	u32 __pad;
	struct scx_arena_list list;
};

/* Internal: the poison as a link, and checked loads/stores of a field. */
#define __SCX_LP ((struct scx_arena_list_node __arena *)SCX_ARENA_LIST_POISON)
#define __scx_ld(p) scx_arena_ld(p)
#define __scx_st(p, v) scx_arena_st(p, (v))

/**
 * scx_arena_list_init - make @l an empty list.
 * @l: the list head, in arena memory.
 *
 * Zeroed memory already is an empty list; call this to reset a head whose
 * nodes are no longer needed (they are not unlinked).
 */
static __always_inline void scx_arena_list_init(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	/*
	 * Barriers keep clang from merging the three zero stores into a
	 * memset, which clang-19 emits without the arena address-space cast.
	 */
	__scx_st(&l->first, NULL);
	barrier();
	__scx_st(&l->last, NULL);
	barrier();
	__scx_st(&l->nr, 0);
}

/**
 * scx_arena_list_node_init - mark @n as not on any list.
 * @n: the node, in arena memory.
 *
 * Needed for nodes in memory that was not zeroed (scx_arena_alloc()).
 */
static __always_inline void scx_arena_list_node_init(struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(n);
	__scx_st(&n->next, __SCX_LP);
	__scx_st(&n->prev, __SCX_LP);
}

/**
 * scx_arena_list_node_unlinked - whether @n was removed or initialised.
 * @n: the node.
 *
 * True after scx_arena_list_node_init(), pop and del; false while @n is on a
 * list. (A zeroed, never added node also reads false: its links look like
 * those of a list's only element.)
 */
static __always_inline bool scx_arena_list_node_unlinked(struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(n);
	return __scx_ld(&n->next) == __SCX_LP && __scx_ld(&n->prev) == __SCX_LP;
}

/**
 * scx_arena_list_empty - whether @l has no nodes.
 * @l: the list.
 */
static __always_inline bool scx_arena_list_empty(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	return !__scx_ld(&l->first);
}

/**
 * scx_arena_list_len - the number of nodes on @l.
 * @l: the list.
 */
static __always_inline u64 scx_arena_list_len(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	return __scx_ld(&l->nr);
}

/**
 * scx_arena_list_peek_front - the head node of @l, left on the list.
 * @l: the list.
 *
 * Returns NULL when @l is empty.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_peek_front(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	return __scx_ld(&l->first);
}

/**
 * scx_arena_list_peek_back - the tail node of @l, left on the list.
 * @l: the list.
 *
 * Returns NULL when @l is empty.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_peek_back(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	return __scx_ld(&l->last);
}

/**
 * scx_arena_list_next - the node after @n, or NULL at the tail.
 * @n: a node on a list.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_next(struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(n);
	return __scx_ld(&n->next);
}

/**
 * scx_arena_list_prev - the node before @n, or NULL at the head.
 * @n: a node on a list.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_prev(struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(n);
	return __scx_ld(&n->prev);
}

/*
 * Internal: whether node @n may be pushed on @l: it must be poisoned, or
 * zeroed and not @l's only element.
 */
static __always_inline bool __scx_arena_list_can_push(struct scx_arena_list __arena *l,
						      struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(l);
	__scx_list_pin(n);
	struct scx_arena_list_node __arena *next = __scx_ld(&n->next);
	struct scx_arena_list_node __arena *prev = __scx_ld(&n->prev);

	if (next == __SCX_LP && prev == __SCX_LP)
		return true;
	return !next && !prev && __scx_ld(&l->first) != n;
}

/**
 * scx_arena_list_push_back - add @n at the tail of @l.
 * @l: the list.
 * @n: a node not on any list (zeroed, initialised or removed).
 *
 * Returns 0, -EINVAL for a NULL @n, or -EEXIST (list untouched) when @n is
 * still linked.
 */
static __always_inline int scx_arena_list_push_back(struct scx_arena_list __arena *l,
						    struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(l);
	__scx_list_pin(n);
	struct scx_arena_list_node __arena *last;

	if (!n)
		return -EINVAL;
	if (!__scx_arena_list_can_push(l, n))
		return -EEXIST;
	last = __scx_ld(&l->last);
	__scx_st(&n->next, NULL);
	__scx_st(&n->prev, last);
	if (last)
		__scx_st(&last->next, n);
	else
		__scx_st(&l->first, n);
	__scx_st(&l->last, n);
	__scx_st(&l->nr, __scx_ld(&l->nr) + 1);
	return 0;
}

/**
 * scx_arena_list_push_front - add @n at the head of @l.
 * @l: the list.
 * @n: a node not on any list.
 *
 * Returns 0, -EINVAL for a NULL @n, or -EEXIST when @n is still linked.
 */
static __always_inline int scx_arena_list_push_front(struct scx_arena_list __arena *l,
						     struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(l);
	__scx_list_pin(n);
	struct scx_arena_list_node __arena *first;

	if (!n)
		return -EINVAL;
	if (!__scx_arena_list_can_push(l, n))
		return -EEXIST;
	first = __scx_ld(&l->first);
	__scx_st(&n->prev, NULL);
	__scx_st(&n->next, first);
	if (first)
		__scx_st(&first->prev, n);
	else
		__scx_st(&l->last, n);
	__scx_st(&l->first, n);
	__scx_st(&l->nr, __scx_ld(&l->nr) + 1);
	return 0;
}

/* Internal: unlinks node @n whose links are @next and @prev; poisons it. */
static __always_inline void __scx_arena_list_unlink(struct scx_arena_list __arena *l,
						    struct scx_arena_list_node __arena *n,
						    struct scx_arena_list_node __arena *next,
						    struct scx_arena_list_node __arena *prev)
{
	__scx_list_pin(l);
	__scx_list_pin(n);
	if (prev)
		__scx_st(&prev->next, next);
	else
		__scx_st(&l->first, next);
	if (next)
		__scx_st(&next->prev, prev);
	else
		__scx_st(&l->last, prev);
	__scx_st(&l->nr, __scx_ld(&l->nr) - 1);
	scx_arena_list_node_init(n);
}

/**
 * scx_arena_list_del - remove node @n from @l.
 * @l: the list @n is on.
 * @n: the node.
 *
 * Checks first that @n's neighbours (or @l's head and tail) point back at
 * it. Returns 0, or -EINVAL with nothing changed when @n is NULL or not
 * linked as an element of @l: removed before, never added, or its links do
 * not agree with its neighbours'.
 */
static __always_inline int scx_arena_list_del(struct scx_arena_list __arena *l,
					      struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(l);
	__scx_list_pin(n);
	struct scx_arena_list_node __arena *next, *prev;

	if (!n)
		return -EINVAL;
	next = __scx_ld(&n->next);
	prev = __scx_ld(&n->prev);
	if (next == __SCX_LP || prev == __SCX_LP)
		return -EINVAL;
	if (prev ? __scx_ld(&prev->next) != n : __scx_ld(&l->first) != n)
		return -EINVAL;
	if (next ? __scx_ld(&next->prev) != n : __scx_ld(&l->last) != n)
		return -EINVAL;
	__scx_arena_list_unlink(l, n, next, prev);
	return 0;
}

/**
 * scx_arena_list_pop_front - remove and return the head node of @l.
 * @l: the list.
 *
 * Returns the node (its links poisoned), or NULL when @l is empty.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_pop_front(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	struct scx_arena_list_node __arena *n = __scx_ld(&l->first);

	if (!n)
		return NULL;
	__scx_arena_list_unlink(l, n, __scx_ld(&n->next), NULL);
	return n;
}

/**
 * scx_arena_list_pop_back - remove and return the tail node of @l.
 * @l: the list.
 *
 * Returns the node (its links poisoned), or NULL when @l is empty.
 */
static __always_inline struct scx_arena_list_node __arena *
scx_arena_list_pop_back(struct scx_arena_list __arena *l)
{
	__scx_list_pin(l);
	struct scx_arena_list_node __arena *n = __scx_ld(&l->last);

	if (!n)
		return NULL;
	__scx_arena_list_unlink(l, n, NULL, __scx_ld(&n->prev));
	return n;
}

/**
 * scx_arena_list_entry - the struct of @type containing node @n as @member.
 * @n: a node pointer, or NULL (gives NULL).
 * @type: the containing struct type, e.g. struct task_ctx.
 * @member: the name of the node in @type.
 */
#define scx_arena_list_entry(n, type, member)                                  \
	((type __arena *)__scx_arena_list_entry((n), offsetof(type, member)))

static __always_inline void __arena *
__scx_arena_list_entry(struct scx_arena_list_node __arena *n, u64 off)
{
	__scx_list_pin(n);
	return n ? (void __arena *)((char __arena *)n - off) : NULL;
}

/**
 * scx_arena_list_for_each - iterate over the nodes of @list, head to tail.
 * @pos: a struct scx_arena_list_node __arena * variable, the cursor.
 * @list: the list (struct scx_arena_list __arena *).
 * @max: at most this many nodes are visited (at most 8M, BPF_MAX_LOOPS).
 *
 * Built on a BPF numeric iterator, so the verifier accepts it whatever the
 * list holds. The body must not remove @pos (see _safe below); break and
 * continue work as usual. @pos is NULL after a loop that ran out of nodes.
 */
#define scx_arena_list_for_each(pos, list, max)                                \
	for (struct bpf_iter_num ___scx_it                                     \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_p __attribute__((unused)) =                              \
		     (bpf_iter_num_new(&___scx_it, 0, (max)),                  \
		      (void)bpf_iter_num_destroy, (pos) = NULL, (void *)0);    \
	     bpf_iter_num_next(&___scx_it) &&                                  \
	     ((pos) = (pos) ? scx_arena_list_next(pos) : scx_arena_list_peek_front(list));)

/**
 * scx_arena_list_for_each_safe - scx_arena_list_for_each(), where the body
 * may remove (and free) @pos.
 * @pos: the cursor, as for scx_arena_list_for_each().
 * @tmp: another node pointer variable, holding the next node.
 * @list: the list.
 * @max: at most this many nodes are visited.
 */
#define scx_arena_list_for_each_safe(pos, tmp, list, max)                      \
	for (struct bpf_iter_num ___scx_it                                     \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_p __attribute__((unused)) =                              \
		     (bpf_iter_num_new(&___scx_it, 0, (max)),                  \
		      (void)bpf_iter_num_destroy, (pos) = NULL, (tmp) = NULL,  \
		      (void *)0);                                              \
	     bpf_iter_num_next(&___scx_it) &&                                  \
	     ((pos) = (pos) ? (tmp) : scx_arena_list_peek_front(list)) &&      \
	     ((tmp) = scx_arena_list_next(pos), 1);)

/* ---------------------------------------------------------------------------
 * The locked list.
 */

/* Internal: takes @ll's lock, reporting a timeout. */
#define __scx_arena_list_lock(ll) scx_arena_lock_acquire_or_error(&(ll)->lock, "list")

/**
 * scx_arena_list_locked_init - make @ll an empty list with a free lock.
 * @ll: the locked list; zeroed memory already is one.
 */
static __always_inline void scx_arena_list_locked_init(struct scx_arena_list_locked __arena *ll)
{
	__scx_list_pin(ll);
	scx_arena_lock_init(&ll->lock);
	scx_arena_list_init(&ll->list);
}

/**
 * scx_arena_list_locked_len - the number of nodes on @ll.
 * @ll: the locked list.
 *
 * Read without the lock: a snapshot that may be stale at once.
 */
static __always_inline u64 scx_arena_list_locked_len(struct scx_arena_list_locked __arena *ll)
{
	__scx_list_pin(ll);
	return *(volatile u64 __arena *)&ll->list.nr;
}

/**
 * scx_arena_list_locked_empty - whether @ll looked empty (lock-free snapshot).
 * @ll: the locked list.
 */
static __always_inline bool scx_arena_list_locked_empty(struct scx_arena_list_locked __arena *ll)
{
	__scx_list_pin(ll);
	return *(volatile u64 __arena *)&ll->list.first == 0;
}

/**
 * scx_arena_list_locked_push_back - scx_arena_list_push_back() under the lock.
 * @ll: the locked list.
 * @n: a node not on any list.
 *
 * Returns 0, -EINVAL, -EEXIST, or -ETIMEDOUT (reported with
 * scx_arena_error(); nothing changed) when the lock could not be taken.
 */
static __always_inline int scx_arena_list_locked_push_back(struct scx_arena_list_locked __arena *ll,
							   struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(ll);
	__scx_list_pin(n);
	int ret = __scx_arena_list_lock(ll);

	if (ret)
		return ret;
	ret = scx_arena_list_push_back(&ll->list, n);
	scx_arena_lock_release(&ll->lock);
	return ret;
}

/**
 * scx_arena_list_locked_push_front - scx_arena_list_push_front() under the lock.
 * @ll: the locked list.
 * @n: a node not on any list.
 *
 * Returns as scx_arena_list_locked_push_back().
 */
static __always_inline int
scx_arena_list_locked_push_front(struct scx_arena_list_locked __arena *ll,
				 struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(ll);
	__scx_list_pin(n);
	int ret = __scx_arena_list_lock(ll);

	if (ret)
		return ret;
	ret = scx_arena_list_push_front(&ll->list, n);
	scx_arena_lock_release(&ll->lock);
	return ret;
}

/**
 * scx_arena_list_locked_del - scx_arena_list_del() under the lock.
 * @ll: the locked list.
 * @n: the node to remove.
 *
 * Returns 0, -EINVAL (not an element), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_list_locked_del(struct scx_arena_list_locked __arena *ll,
						     struct scx_arena_list_node __arena *n)
{
	__scx_list_pin(ll);
	__scx_list_pin(n);
	int ret = __scx_arena_list_lock(ll);

	if (ret)
		return ret;
	ret = scx_arena_list_del(&ll->list, n);
	scx_arena_lock_release(&ll->lock);
	return ret;
}

/*
 * The locked node getters: @op (pop_front, pop_back, peek_front, peek_back)
 * of the inner list under the lock, the node in *@out (NULL when the list is
 * empty). They return 0, or -ETIMEDOUT (then *@out is NULL). A peeked node
 * stays on the list, and another CPU may remove it once the lock is dropped.
 */
#define __SCX_ARENA_LIST_LOCKED_GET(op)                                         \
	static __always_inline int scx_arena_list_locked_##op(                  \
		struct scx_arena_list_locked __arena *ll,                       \
		struct scx_arena_list_node __arena **out)                       \
	{                                                                       \
		int ret;                                                        \
									        \
		__scx_list_pin(ll);                                             \
		ret = __scx_arena_list_lock(ll);                                \
		*out = NULL;                                                    \
		if (ret)                                                        \
			return ret;                                             \
		*out = scx_arena_list_##op(&ll->list);                          \
		scx_arena_lock_release(&ll->lock);                              \
		return 0;                                                       \
	}

/** scx_arena_list_locked_pop_front - scx_arena_list_pop_front() under the lock. */
__SCX_ARENA_LIST_LOCKED_GET(pop_front)
/** scx_arena_list_locked_pop_back - scx_arena_list_pop_back() under the lock. */
__SCX_ARENA_LIST_LOCKED_GET(pop_back)
/** scx_arena_list_locked_peek_front - the head node of @ll, left on the list. */
__SCX_ARENA_LIST_LOCKED_GET(peek_front)
/** scx_arena_list_locked_peek_back - the tail node of @ll, left on the list. */
__SCX_ARENA_LIST_LOCKED_GET(peek_back)

/* ---------------------------------------------------------------------------
 * Typed lists.
 */

/**
 * SCX_ARENA_LIST_DEFINE - typed operations for lists of @type.
 * @name: prefix of the generated functions.
 * @type: the element struct, e.g. struct task_ctx.
 * @member: the name of its struct scx_arena_list_node.
 *
 * Generates, with T = @type __arena * and the same returns as the untyped
 * operations:
 *
 *	T    name_entry(struct scx_arena_list_node __arena *n)  (NULL -> NULL)
 *	int  name_push(l, T)        / name_push_front(l, T)     tail / head
 *	T    name_pop(l)            / name_pop_back(l)          NULL if empty
 *	T    name_peek(l)           / name_peek_back(l)
 *	int  name_del(l, T)
 *	T    name_next(T)           / name_prev(T)              NULL at the end
 *	int  name_locked_push(ll, T)      / name_locked_push_front(ll, T)
 *	int  name_locked_pop(ll, T *out)  / name_locked_pop_back(ll, T *out)
 *	int  name_locked_del(ll, T)
 *
 * where l is a struct scx_arena_list __arena * and ll a struct
 * scx_arena_list_locked __arena *. A NULL element makes push and del return
 * -EINVAL.
 */
#define SCX_ARENA_LIST_DEFINE(name, type, member)                              \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_entry(struct scx_arena_list_node __arena *n)                     \
	{                                                                      \
		return scx_arena_list_entry(n, type, member);                  \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push(struct scx_arena_list __arena *l, type __arena *e)          \
	{                                                                      \
		return e ? scx_arena_list_push_back(l, &e->member) : -EINVAL;  \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push_front(struct scx_arena_list __arena *l, type __arena *e)    \
	{                                                                      \
		return e ? scx_arena_list_push_front(l, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop(struct scx_arena_list __arena *l)                            \
	{                                                                      \
		return name##_entry(scx_arena_list_pop_front(l));              \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop_back(struct scx_arena_list __arena *l)                       \
	{                                                                      \
		return name##_entry(scx_arena_list_pop_back(l));               \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_peek(struct scx_arena_list __arena *l)                           \
	{                                                                      \
		return name##_entry(scx_arena_list_peek_front(l));             \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_peek_back(struct scx_arena_list __arena *l)                      \
	{                                                                      \
		return name##_entry(scx_arena_list_peek_back(l));              \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_del(struct scx_arena_list __arena *l, type __arena *e)           \
	{                                                                      \
		return e ? scx_arena_list_del(l, &e->member) : -EINVAL;        \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_next(type __arena *e)                                           \
	{                                                                      \
		return name##_entry(scx_arena_list_next(&e->member));          \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_prev(type __arena *e)                                           \
	{                                                                      \
		return name##_entry(scx_arena_list_prev(&e->member));          \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_push(struct scx_arena_list_locked __arena *ll, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_list_locked_push_back(ll, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_push_front(struct scx_arena_list_locked __arena *ll,      \
				 type __arena *e)                              \
	{                                                                      \
		return e ? scx_arena_list_locked_push_front(ll, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_pop(struct scx_arena_list_locked __arena *ll, type __arena **out) \
	{                                                                      \
		struct scx_arena_list_node __arena *___n;                      \
		int ___ret = scx_arena_list_locked_pop_front(ll, &___n);        \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_pop_back(struct scx_arena_list_locked __arena *ll,        \
			       type __arena **out)                             \
	{                                                                      \
		struct scx_arena_list_node __arena *___n;                      \
		int ___ret = scx_arena_list_locked_pop_back(ll, &___n);         \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_del(struct scx_arena_list_locked __arena *ll, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_list_locked_del(ll, &e->member) : -EINVAL; \
	}
