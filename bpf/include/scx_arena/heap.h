/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/heap.h - an indexed 4-ary min-heap in arena memory.
 *
 * The handle lives inside the caller's own struct; the heap keeps an arena
 * array of { key, node address } entries, so comparisons never leave the
 * array, and each node knows its slot, so remove and key update by handle
 * are O(log n):
 *
 *	struct task_ctx {
 *		u64 pid;
 *		struct scx_arena_heap_node hnode;
 *	};
 *
 *	SCX_ARENA_HEAP_DEFINE(vq, struct task_ctx, hnode);
 *
 *	struct scx_arena_heap __arena_global vtimeq;   // zeroed: an empty heap
 *
 *	scx_arena_heap_init(&vtimeq, 1024);           // optional: preallocate
 *	vq_push(&vtimeq, taskc, vtime);               // 0, -EEXIST, -ENOMEM, ...
 *	taskc = vq_pop(&vtimeq);                      // the minimum, or NULL
 *	vq_update(&vtimeq, taskc, new_vtime);         // sift up or down
 *	vq_remove(&vtimeq, taskc);
 *	scx_arena_heap_destroy(&vtimeq);              // array back to the allocator
 *
 * Order: ascending key; among equal keys, FIFO by the time of the push (or
 * of the last key update, which counts as a re-insertion). Each push and
 * update takes a 64-bit sequence number from the heap; it is compared only
 * when keys tie, so the common path compares array keys only.
 *
 * Capacity: the array starts at SCX_ARENA_HEAP_MIN_CAP entries (on the
 * first push, or at init) and doubles when full: a new array is allocated
 * with scx_arena_alloc(), the entries are copied, and the old one is freed.
 * An entry is 16 bytes and the largest allocation 512 KiB, so a heap holds
 * at most SCX_ARENA_HEAP_MAX_CAP = 32768 elements; a push beyond that fails
 * with -ENOSPC, and a push whose growth finds no memory fails with -ENOMEM.
 * Either way the heap is unchanged. Growth allocates, and the verifier
 * counts a call that may allocate as one that may sleep: inside
 * bpf_preempt_disable() sections, and in non-sleepable callbacks on kernels
 * without non-sleepable arena allocation, reserve the capacity first
 * (scx_arena_heap_init() or scx_arena_heap_reserve() from a sleepable
 * program) and push with scx_arena_heap_push_reserved(), which never
 * allocates and returns -ENOSPC when the array is full. The array is
 * never shrunk; scx_arena_heap_destroy() returns it.
 *
 * Membership is exact: a node is in heap h iff its index is below h's
 * length and h's entry at that index points back at the node. So a push of
 * a node already in h is refused with -EEXIST, and a remove or update of a
 * node that is not in h (never pushed, popped, removed, or in another heap)
 * with -EINVAL, whatever the node's memory held before. Nodes need no
 * initialisation; removal sets the index to SCX_ARENA_HEAP_NONE, which
 * scx_arena_heap_node_queued() reads. A node may be in at most one heap at a
 * time (a push to a second heap is not detected).
 *
 * Loops are bounded: sifts by the height of the largest heap
 * (SCX_ARENA_HEAP_MAX_HEIGHT), the growth copy and destroy by the capacity.
 * The loops are global functions in bpf/lib/heap.bpf.c (link with
 * .lib("heap")), verified once; everything else is inline, and so is the
 * sift down to a leaf of pop and remove, up to its rare cases: a call and
 * its return cost about 10 ns where returns are mitigated (AMD's SRSO
 * "safe RET"), a sixth of a pop. So each pop and remove call site is
 * verified with its sift, and its function's stack frame grows by about
 * 40 bytes (the verifier allows 512 along a call chain).
 *
 * In checked mode (SCX_ARENA_CHECKED, check.h) every access to the heap,
 * its array and its nodes goes through scx_arena_ld()/scx_arena_st(), so a
 * freed element still in a heap is reported.
 *
 * struct scx_arena_heap is not thread-safe. struct scx_arena_heap_locked
 * pairs it with an arena spin lock (lock.h); its operations return
 * -ETIMEDOUT, after reporting with scx_arena_error(), when the lock stays
 * held past its bound.
 */
#pragma once

#include <scx_arena/alloc.h>
#include <scx_arena/arena.h>
#include <scx_arena/check.h>
#include <scx_arena/cmp.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif

/* The index of a node that was removed from its heap (or initialised). */
#define SCX_ARENA_HEAP_NONE 0xffffffffu
/* The array's first capacity, in entries. */
#define SCX_ARENA_HEAP_MIN_CAP 16u
/* The most entries a heap holds: 512 KiB of 16-byte entries. */
#define SCX_ARENA_HEAP_MAX_CAP 32768u
/*
 * Children per node: a 4-ary heap is half as deep as a binary one, and the
 * four children of a node are adjacent (64 bytes), so a sift touches half
 * the levels for a few more comparisons per level, done without jumps.
 */
#define SCX_ARENA_HEAP_ARITY 4u
/* The parent of slot @i > 0, and the first child of slot @i. */
#define SCX_ARENA_HEAP_PARENT(i) (((i) - 1) / SCX_ARENA_HEAP_ARITY)
#define SCX_ARENA_HEAP_CHILD(i) ((i) * SCX_ARENA_HEAP_ARITY + 1)
/* A bound on the levels of a heap of SCX_ARENA_HEAP_MAX_CAP entries (8): the sift bound. */
#define SCX_ARENA_HEAP_MAX_HEIGHT 16

/* Keeps @p in one register from here on (see __scx_list_pin in list.h). */
#define __scx_heap_pin(p) asm volatile("" : "+r"(p))

/**
 * struct scx_arena_heap_node - the handle embedded in a heap element.
 * @key: the element's key while it is in a heap, and its last key after
 *       removal; read it, never write it (scx_arena_heap_update_key()).
 * @seq: the heap's sequence number at the last push or key update: the
 *       tie-breaker among equal keys.
 * @idx: the element's slot in the heap array, SCX_ARENA_HEAP_NONE after
 *       removal.
 * @__pad: keeps the node a multiple of 8 bytes (explicit for Rust).
 */
struct scx_arena_heap_node {
	u64 key;
	u64 seq;
	u32 idx;
	u32 __pad;
};

/**
 * struct scx_arena_heap_entry - one slot of the heap array.
 * @key: the element's key (a copy of its node's @key).
 * @node: arena address of the element's node.
 */
struct scx_arena_heap_entry {
	u64 key;
	struct scx_arena_heap_node __arena *node;
};

/**
 * struct scx_arena_heap - a heap.
 * @entries: arena address of the array, 0 until the first push (or init).
 * @nr: elements in the heap, the first @nr slots of @entries.
 * @cap: slots in @entries (0, or a power of two from SCX_ARENA_HEAP_MIN_CAP
 *       to SCX_ARENA_HEAP_MAX_CAP).
 * @seq: the next sequence number.
 *
 * Zeroed memory is an empty heap.
 */
struct scx_arena_heap {
	struct scx_arena_heap_entry __arena *entries;
	u32 nr;
	u32 cap;
	u64 seq;
};

/**
 * struct scx_arena_heap_locked - a heap with its own arena spin lock.
 * @lock: taken by every scx_arena_heap_locked_*() operation.
 * @__pad: keeps @heap 8-byte aligned (explicit for the Rust mirror).
 * @heap: the heap; touch it directly only while holding @lock.
 */
struct scx_arena_heap_locked {
	struct scx_arena_lock lock;
	u32 __pad;
	struct scx_arena_heap heap;
};

/* Internal: checked loads/stores, and an arena pointer as an opaque number. */
#define __scx_hld(p) scx_arena_ld(p)
#define __scx_hst(p, v) scx_arena_st(p, (v))
#define __scx_heap_addr(p)                                                     \
	({                                                                     \
		u64 ___v = (u64)(p);                                           \
		asm volatile("" : "+r"(___v));                                 \
		___v;                                                          \
	})

/*
 * Internal, out of line in bpf/lib/heap.bpf.c (verified once): copies the
 * first @nr entries of @old to @new, and marks every node of @h out of the
 * heap and detaches its array, returning the array's address (0 if none).
 * The allocator is called inline by the callers, not from these: in checked
 * mode its call chain is deep, and the verifier allows 8 frames.
 */
int __scx_arena_heap_copy(struct scx_arena_heap_entry __arena *new __arg_arena,
			  struct scx_arena_heap_entry __arena *old __arg_arena, u32 nr);
u64 __scx_arena_heap_detach(struct scx_arena_heap __arena *h __arg_arena);

/*
 * Internal: grows @h's array to at least @want slots. Returns 0, -ENOSPC
 * above SCX_ARENA_HEAP_MAX_CAP, -ENOMEM, or -EINVAL for a corrupt header;
 * on error @h is unchanged.
 */
static __always_inline int __scx_arena_heap_grow(struct scx_arena_heap __arena *h, u32 want)
{
	struct scx_arena_heap_entry __arena *old, *new;
	u32 nr, cap, newcap;

	__scx_heap_pin(h);
	nr = __scx_hld(&h->nr);
	cap = __scx_hld(&h->cap);
	if (nr > cap || cap > SCX_ARENA_HEAP_MAX_CAP)
		return -EINVAL;
	if (want <= cap)
		return 0;
	if (want > SCX_ARENA_HEAP_MAX_CAP)
		return -ENOSPC;
	/* The smallest power of two >= want, at least the minimum. */
	newcap = want - 1;
	newcap |= newcap >> 1;
	newcap |= newcap >> 2;
	newcap |= newcap >> 4;
	newcap |= newcap >> 8;
	newcap |= newcap >> 16;
	newcap++;
	if (newcap < SCX_ARENA_HEAP_MIN_CAP)
		newcap = SCX_ARENA_HEAP_MIN_CAP;
	if (newcap < cap * 2)
		newcap = cap * 2;
	if (newcap > SCX_ARENA_HEAP_MAX_CAP)
		newcap = SCX_ARENA_HEAP_MAX_CAP;
	new = scx_arena_alloc((u64)newcap * sizeof(*new));
	__scx_heap_pin(new);
	if (!new)
		return -ENOMEM;
	old = __scx_hld(&h->entries);
	__scx_heap_pin(old);
	if (nr)
		__scx_arena_heap_copy(new, old, nr);
	__scx_hst(&h->entries, new);
	__scx_hst(&h->cap, newcap);
	scx_arena_free(old);
	return 0;
}

/**
 * scx_arena_heap_destroy - return @h's array to the allocator.
 * @h: the heap.
 *
 * The elements still in @h are not freed (they are the caller's); their
 * nodes are marked removed (index SCX_ARENA_HEAP_NONE). @h is left an empty
 * heap that may be used again. Returns 0.
 */
static __always_inline int scx_arena_heap_destroy(struct scx_arena_heap __arena *h)
{
	__scx_heap_pin(h);
	scx_arena_free(scx_arena_from_u64(void, __scx_arena_heap_detach(h)));
	return 0;
}

/**
 * scx_arena_heap_reserve - make room for @cap elements without further
 * allocation.
 * @h: the heap.
 * @cap: elements to hold; the capacity is rounded up to a power of two.
 *
 * Returns 0 (also when the capacity already suffices), -ENOSPC when @cap
 * exceeds SCX_ARENA_HEAP_MAX_CAP, or -ENOMEM; on error @h is unchanged.
 */
static __always_inline int scx_arena_heap_reserve(struct scx_arena_heap __arena *h, u32 cap)
{
	__scx_heap_pin(h);
	if (cap <= __scx_hld(&h->cap))
		return 0;
	return __scx_arena_heap_grow(h, cap);
}

/**
 * scx_arena_heap_init - make @h an empty heap, with room for @cap elements.
 * @h: the heap, in arena memory.
 * @cap: elements to preallocate for; 0 allocates nothing (the first push
 *       does).
 *
 * Zeroed memory already is an empty heap. Any array @h held is forgotten,
 * not freed: use scx_arena_heap_destroy() for that. Returns 0, -ENOSPC or
 * -ENOMEM (then @h is an empty heap without an array).
 */
static __always_inline int scx_arena_heap_init(struct scx_arena_heap __arena *h, u32 cap)
{
	__scx_heap_pin(h);
	/* Barriers: no zero-store merging into a memset (clang-19, arena). */
	__scx_hst(&h->entries, NULL);
	barrier();
	__scx_hst(&h->nr, 0);
	barrier();
	__scx_hst(&h->cap, 0);
	barrier();
	__scx_hst(&h->seq, 0);
	return cap ? scx_arena_heap_reserve(h, cap) : 0;
}

/**
 * scx_arena_heap_node_init - mark @n as in no heap.
 * @n: the node.
 *
 * Optional (membership is checked exactly, see above); it makes
 * scx_arena_heap_node_queued() false for a node that was never pushed.
 */
static __always_inline void scx_arena_heap_node_init(struct scx_arena_heap_node __arena *n)
{
	__scx_heap_pin(n);
	__scx_hst(&n->idx, SCX_ARENA_HEAP_NONE);
}

/**
 * scx_arena_heap_node_queued - whether @n looks like it is in a heap.
 * @n: the node.
 *
 * False after pop, remove, destroy and scx_arena_heap_node_init(); true
 * while @n is in a heap. A hint for nodes of unknown history; the exact test
 * is scx_arena_heap_contains().
 */
static __always_inline bool scx_arena_heap_node_queued(struct scx_arena_heap_node __arena *n)
{
	__scx_heap_pin(n);
	return __scx_hld(&n->idx) != SCX_ARENA_HEAP_NONE;
}

/**
 * scx_arena_heap_len - the number of elements in @h.
 * @h: the heap.
 */
static __always_inline u32 scx_arena_heap_len(struct scx_arena_heap __arena *h)
{
	__scx_heap_pin(h);
	return __scx_hld(&h->nr);
}

/**
 * scx_arena_heap_empty - whether @h has no elements.
 * @h: the heap.
 */
static __always_inline bool scx_arena_heap_empty(struct scx_arena_heap __arena *h)
{
	__scx_heap_pin(h);
	return !__scx_hld(&h->nr);
}

/**
 * scx_arena_heap_capacity - the slots in @h's array (0 before the first push).
 * @h: the heap.
 */
static __always_inline u32 scx_arena_heap_capacity(struct scx_arena_heap __arena *h)
{
	__scx_heap_pin(h);
	return __scx_hld(&h->cap);
}

/**
 * scx_arena_heap_contains - whether @n is an element of @h.
 * @h: the heap.
 * @n: the node, or NULL (false).
 */
static __always_inline bool scx_arena_heap_contains(struct scx_arena_heap __arena *h,
						    struct scx_arena_heap_node __arena *n)
{
	struct scx_arena_heap_entry __arena *e;
	u32 i;

	__scx_heap_pin(h);
	__scx_heap_pin(n);
	if (!n)
		return false;
	i = __scx_hld(&n->idx);
	if (i >= __scx_hld(&h->nr))
		return false;
	e = __scx_hld(&h->entries);
	return __scx_heap_addr(__scx_hld(&e[i].node)) == __scx_heap_addr(n);
}

/**
 * scx_arena_heap_peek - the node with the smallest key, left in @h.
 * @h: the heap.
 *
 * Returns NULL when @h is empty.
 */
static __always_inline struct scx_arena_heap_node __arena *
scx_arena_heap_peek(struct scx_arena_heap __arena *h)
{
	struct scx_arena_heap_entry __arena *e;

	__scx_heap_pin(h);
	if (!__scx_hld(&h->nr))
		return NULL;
	e = __scx_hld(&h->entries);
	return __scx_hld(&e[0].node);
}

/**
 * scx_arena_heap_at - the node in slot @i of @h's array (array order).
 * @h: the heap.
 * @i: the slot, 0 (the minimum) to len - 1.
 *
 * For walks over all elements, e.g. before a destroy that should free them.
 * Returns NULL when @i is out of range.
 */
static __always_inline struct scx_arena_heap_node __arena *
scx_arena_heap_at(struct scx_arena_heap __arena *h, u32 i)
{
	struct scx_arena_heap_entry __arena *e;

	__scx_heap_pin(h);
	if (i >= __scx_hld(&h->nr))
		return NULL;
	e = __scx_hld(&h->entries);
	return __scx_hld(&e[i].node);
}

/* Internal: whether (@ka, @na) orders before (@kb, @nb): key, then seq. */
static __always_inline bool __scx_heap_before(u64 ka, struct scx_arena_heap_node __arena *na,
					      u64 kb, struct scx_arena_heap_node __arena *nb)
{
	if (ka != kb)
		return ka < kb;
	return __scx_hld(&na->seq) < __scx_hld(&nb->seq);
}

/* Internal: writes (@key, @n) to slot @i and tells @n its slot. */
static __always_inline void __scx_heap_set(struct scx_arena_heap_entry __arena *e, u32 i,
					   u64 key, struct scx_arena_heap_node __arena *n)
{
	__scx_heap_pin(e);
	__scx_heap_pin(n);
	__scx_hst(&e[i].key, key);
	__scx_hst(&e[i].node, n);
	__scx_hst(&n->idx, i);
}

/*
 * Internal, out of line in bpf/lib/heap.bpf.c: moves the hole at slot @i up
 * while (@key, @n) orders before its parent (sift up), or down while a child
 * orders before it (sift down; @nr slots in use), moving the others into the
 * hole. Returns the slot where (@key, @n) belongs; the caller writes it
 * there. Global functions: the verifier checks each loop once, with @i
 * unknown, instead of once per call site and index.
 */
u32 __scx_arena_heap_sift_up(struct scx_arena_heap_entry __arena *e __arg_arena, u32 i,
			     u64 key, struct scx_arena_heap_node __arena *n __arg_arena);
u32 __scx_arena_heap_sift_down(struct scx_arena_heap_entry __arena *e __arg_arena, u32 nr,
			       u32 i, u64 key,
			       struct scx_arena_heap_node __arena *n __arg_arena);
/*
 * Internal, out of line: moves the hole at slot @i down to a leaf along the
 * smaller children and returns the leaf (the first half of the bottom-up
 * sift of pop and remove; the element that fills the hole then sifts up
 * from there).
 */
u32 __scx_arena_heap_sift_hole(struct scx_arena_heap_entry __arena *e __arg_arena, u32 nr,
			       u32 i);
#define __scx_heap_sift_down __scx_arena_heap_sift_down

/*
 * Internal: all ones when @a < @b, else 0, for @a, @b < 2^63: the sign of
 * their difference, which cannot overflow. Shorter than scx_arena_ltu(),
 * and on the path from one level of a sift to the next.
 */
static __always_inline u64 __scx_heap_lt_mask(u64 a, u64 b)
{
	u64 d = a - b;

	/* Opaque: clang would turn the shift back into a compare and a jump. */
	asm volatile("" : "+r"(d));
	return (s64)d >> 63;
}

/*
 * Internal: 64 when mask @m is all ones, else 0. A shift of its top bit,
 * kept from being folded into `m & 64`: the verifier splits its state at an
 * AND of a 0-or-all-ones register with a constant (cmp.h), and a sift
 * inlined into its caller must not split at every level.
 */
static __always_inline u64 __scx_heap_place64(u64 m)
{
	m >>= 63;
	asm volatile("" : "+r"(m));
	return m << 6;
}

/*
 * Internal: which of the four children at @ce (all in use) orders first,
 * as 64 times its place among them (0, 64, 128 or 192), by the keys' upper
 * 63 bits, which order the keys themselves as long as the halves compared
 * differ (always, in practice); ~0 otherwise, for an exact pick to decide.
 * Without a jump, and 64 times because the chosen child's own children lie
 * 64 bytes further per place: a sift down adds the result to one address
 * to reach the next level, so that level's loads wait for one add after
 * the last select, not for an index and its address.
 */
static __always_inline u64 __scx_heap_min4(struct scx_arena_heap_entry __arena *ce)
{
	u64 h0, h1, h2, h3, ha, hb, ma, mb;

	h0 = __scx_hld(&ce[0].key) >> 1;
	h1 = __scx_hld(&ce[1].key) >> 1;
	h2 = __scx_hld(&ce[2].key) >> 1;
	h3 = __scx_hld(&ce[3].key) >> 1;
	ma = __scx_heap_lt_mask(h1, h0);
	mb = __scx_heap_lt_mask(h3, h2);
	ha = scx_arena_select_mask(h0, h1, ma);
	hb = scx_arena_select_mask(h2, h3, mb);
	if (h0 == h1 || h2 == h3 || ha == hb)
		return ~0ull;
	return scx_arena_select_mask(__scx_heap_place64(ma), 128 | __scx_heap_place64(mb),
				     __scx_heap_lt_mask(hb, ha));
}

/*
 * Internal: one level of a sift down to a leaf. The child @x / 64 places
 * past *@c (the first child of hole *@i; @x from __scx_heap_min4()) moves
 * up into the hole and becomes it: *@i is its slot, *@c its first child,
 * and the result that child's address.
 */
static __always_inline struct scx_arena_heap_entry __arena *
__scx_heap_hole_down(struct scx_arena_heap_entry __arena *e, u32 *i, u32 *c, u64 x)
{
	struct scx_arena_heap_entry __arena *je;
	u32 j = *c + (u32)(x >> 6);

	je = &e[j];
	__scx_heap_set(e, *i, __scx_hld(&je->key), __scx_hld(&je->node));
	/* Its children: 64 bytes per place past those of the old first child. */
	je = (struct scx_arena_heap_entry __arena *)
		((u8 __arena *)&e[SCX_ARENA_HEAP_CHILD(*c)] + x);
	*i = j;
	*c = SCX_ARENA_HEAP_CHILD(j);
	return je;
}

/*
 * Internal: the slot among @c .. @c + 3 (the children of one parent; those
 * at or past @nr are not in use) that orders first, compared in order,
 * exactly, equal keys by seq: for the fewer than four children of the last
 * level, and for ties __scx_heap_min4() cannot tell.
 */
static __always_inline u32 __scx_heap_min_child_exact(struct scx_arena_heap_entry __arena *e,
						      u32 c, u32 nr)
{
	struct scx_arena_heap_entry __arena *ce = &e[c];
	u32 j, i = c;

	for (j = 1; j < SCX_ARENA_HEAP_ARITY; j++) {
		if (c + j >= nr)
			break;
		if (__scx_heap_before(__scx_hld(&ce[j].key), __scx_hld(&ce[j].node),
				      __scx_hld(&e[i].key), __scx_hld(&e[i].node)))
			i = c + j;
	}
	return i;
}

/*
 * Internal: moves the hole at slot @i down to a leaf, always moving the
 * smallest child up (the first half of Floyd's bottom-up sift; the caller
 * then sifts the element that fills the hole up from the returned leaf),
 * and returns the leaf. Levels with four children of distinct keys (nearly
 * all) take __scx_heap_min4(); the rest, the last level's fewer children
 * and ties, an exact pick. With @exact false (a constant), the loop leaves
 * those rare levels to __scx_arena_heap_sift_hole(), which runs it with
 * @exact true: so pop and remove run it inline (see the loops above)
 * without the exact picks, which compare exact slots, each of which the
 * verifier would follow apart at every call site.
 */
static __always_inline u32 __scx_heap_sift_hole(struct scx_arena_heap_entry __arena *e, u32 nr,
						u32 i, const bool exact)
{
	struct scx_arena_heap_entry __arena *ce;
	u32 lvl, c;
	u64 x;

	__scx_heap_pin(e);
	c = SCX_ARENA_HEAP_CHILD(i);
	ce = &e[c];
	for (lvl = 0; lvl < SCX_ARENA_HEAP_MAX_HEIGHT; lvl++) {
		if (c >= nr)
			break;
		x = c + 3 < nr ? __scx_heap_min4(ce) : ~0ull;
		if (x == ~0ull) {
			if (!exact)
				return __scx_arena_heap_sift_hole(e, nr, i);
			x = (u64)(__scx_heap_min_child_exact(e, c, nr) - c) << 6;
		}
		ce = __scx_heap_hole_down(e, &i, &c, x);
	}
	return i;
}

/*
 * Internal: __scx_arena_heap_sift_up() behind an inline test of the first
 * level, which most sifts up fail (a pushed key later than its parent's,
 * the last element back near the leaves): no call for those.
 */
static __always_inline u32 __scx_heap_sift_up(struct scx_arena_heap_entry __arena *e, u32 i,
					      u64 key, struct scx_arena_heap_node __arena *n)
{
	__scx_heap_pin(e);
	if (!i || key > __scx_hld(&e[SCX_ARENA_HEAP_PARENT(i)].key))
		return i;
	return __scx_arena_heap_sift_up(e, i, key, n);
}

/* Internal: push, growing the array only when @grow (a constant). */
static __always_inline int __scx_arena_heap_push(struct scx_arena_heap __arena *h,
						 struct scx_arena_heap_node __arena *n, u64 key,
						 bool grow)
{
	struct scx_arena_heap_entry __arena *e;
	u32 nr, i;
	u64 seq;
	int ret;

	__scx_heap_pin(h);
	__scx_heap_pin(n);
	if (!n)
		return -EINVAL;
	if (scx_arena_heap_contains(h, n))
		return -EEXIST;
	nr = __scx_hld(&h->nr);
	if (nr >= __scx_hld(&h->cap)) {
		if (!grow)
			return -ENOSPC;
		ret = __scx_arena_heap_grow(h, nr + 1);
		if (ret)
			return ret;
	}
	e = __scx_hld(&h->entries);
	seq = __scx_hld(&h->seq);
	__scx_hst(&h->seq, seq + 1);
	__scx_hst(&h->nr, nr + 1);
	__scx_hst(&n->key, key);
	__scx_hst(&n->seq, seq);
	i = __scx_heap_sift_up(e, nr, key, n);
	__scx_heap_set(e, i, key, n);
	return 0;
}

/**
 * scx_arena_heap_push - add @n to @h with key @key.
 * @h: the heap.
 * @n: a node not in @h.
 * @key: its key; the smallest key pops first, equal keys in push order.
 *
 * Grows the array when it is full (see Capacity above). Returns 0, -EINVAL
 * for a NULL @n, -EEXIST when @n is already in @h, -ENOSPC when @h holds
 * SCX_ARENA_HEAP_MAX_CAP elements, or -ENOMEM when growing found no memory;
 * on error @h and @n are unchanged.
 *
 * Growth calls the allocator, which the verifier counts as "may sleep": on
 * kernels without non-sleepable arena allocation, and inside
 * bpf_preempt_disable() sections, use scx_arena_heap_push_reserved().
 */
static __always_inline int scx_arena_heap_push(struct scx_arena_heap __arena *h,
					       struct scx_arena_heap_node __arena *n, u64 key)
{
	return __scx_arena_heap_push(h, n, key, true);
}

/**
 * scx_arena_heap_push_reserved - scx_arena_heap_push() that never allocates.
 * @h: the heap.
 * @n: a node not in @h.
 * @key: its key.
 *
 * For contexts that may not allocate: reserve the capacity beforehand with
 * scx_arena_heap_init() or scx_arena_heap_reserve() in a sleepable program.
 * Returns as scx_arena_heap_push(), with -ENOSPC when the array is full.
 */
static __always_inline int scx_arena_heap_push_reserved(struct scx_arena_heap __arena *h,
							struct scx_arena_heap_node __arena *n,
							u64 key)
{
	return __scx_arena_heap_push(h, n, key, false);
}

/*
 * Internal: takes the element out of slot @i of @h (which holds @nr > @i
 * elements): the last element fills the hole and sifts to its place.
 */
static __always_inline void __scx_heap_take(struct scx_arena_heap __arena *h,
					    struct scx_arena_heap_entry __arena *e, u32 nr, u32 i)
{
	struct scx_arena_heap_node __arena *ln;
	u64 lk;
	u32 j;

	__scx_heap_pin(h);
	__scx_heap_pin(e);
	nr--;
	__scx_hst(&h->nr, nr);
	if (i == nr)
		return;
	if (i) {
		/* Out of the middle: the last element may belong above @i. */
		lk = __scx_hld(&e[nr].key);
		ln = __scx_hld(&e[nr].node);
		j = __scx_heap_sift_up(e, i, lk, ln);
		if (j != i) {
			__scx_heap_set(e, j, lk, ln);
			return;
		}
	}
	/*
	 * Not above @i: bottom-up, the last element belonging near the leaves.
	 * (It cannot go up past @i again, its parent not being after it.) Slot
	 * @nr, out of use now, keeps it meanwhile: read after the sift, it
	 * need not stay in registers, or on the stack, across it.
	 */
	j = __scx_heap_sift_hole(e, nr, i, false);
	lk = __scx_hld(&e[nr].key);
	ln = __scx_hld(&e[nr].node);
	j = __scx_heap_sift_up(e, j, lk, ln);
	__scx_heap_set(e, j, lk, ln);
}

/**
 * scx_arena_heap_pop - remove and return the node with the smallest key.
 * @h: the heap.
 *
 * Among equal keys, the one pushed (or updated) first. Returns the node
 * (marked removed; its key stays readable), or NULL when @h is empty.
 */
static __always_inline struct scx_arena_heap_node __arena *
scx_arena_heap_pop(struct scx_arena_heap __arena *h)
{
	struct scx_arena_heap_entry __arena *e;
	struct scx_arena_heap_node __arena *top;
	u32 nr;

	__scx_heap_pin(h);
	nr = __scx_hld(&h->nr);
	if (!nr)
		return NULL;
	e = __scx_hld(&h->entries);
	top = __scx_hld(&e[0].node);
	__scx_heap_pin(top);
	__scx_heap_take(h, e, nr, 0);
	__scx_hst(&top->idx, SCX_ARENA_HEAP_NONE);
	return top;
}

/**
 * scx_arena_heap_remove - remove node @n from @h.
 * @h: the heap.
 * @n: the node.
 *
 * Returns 0, or -EINVAL with nothing changed when @n is NULL or not in @h
 * (popped or removed before, never pushed, or in another heap).
 */
static __always_inline int scx_arena_heap_remove(struct scx_arena_heap __arena *h,
						 struct scx_arena_heap_node __arena *n)
{
	__scx_heap_pin(h);
	__scx_heap_pin(n);
	if (!scx_arena_heap_contains(h, n))
		return -EINVAL;
	__scx_heap_take(h, __scx_hld(&h->entries), __scx_hld(&h->nr), __scx_hld(&n->idx));
	__scx_hst(&n->idx, SCX_ARENA_HEAP_NONE);
	return 0;
}

/**
 * scx_arena_heap_update_key - change the key of @n, an element of @h.
 * @h: the heap.
 * @n: the node.
 * @key: the new key.
 *
 * Sifts @n up or down to its new place. Counts as a re-insertion among
 * equal keys: @n goes after the elements that already have @key. Returns 0,
 * or -EINVAL with nothing changed when @n is NULL or not in @h.
 */
static __always_inline int scx_arena_heap_update_key(struct scx_arena_heap __arena *h,
						     struct scx_arena_heap_node __arena *n,
						     u64 key)
{
	struct scx_arena_heap_entry __arena *e;
	u32 i, j;
	u64 old, seq;

	__scx_heap_pin(h);
	__scx_heap_pin(n);
	if (!scx_arena_heap_contains(h, n))
		return -EINVAL;
	e = __scx_hld(&h->entries);
	i = __scx_hld(&n->idx);
	old = __scx_hld(&n->key);
	seq = __scx_hld(&h->seq);
	__scx_hst(&h->seq, seq + 1);
	__scx_hst(&n->key, key);
	__scx_hst(&n->seq, seq);
	/* A new seq is the largest: an equal key can only move down. */
	if (key < old)
		j = __scx_heap_sift_up(e, i, key, n);
	else
		j = __scx_heap_sift_down(e, __scx_hld(&h->nr), i, key, n);
	__scx_heap_set(e, j, key, n);
	return 0;
}

/**
 * scx_arena_heap_entry - the struct of @type containing node @n as @member.
 * @n: a node pointer, or NULL (gives NULL).
 * @type: the containing struct type, e.g. struct task_ctx.
 * @member: the name of the node in @type.
 */
#define scx_arena_heap_entry(n, type, member)                                  \
	((type __arena *)__scx_arena_heap_entry((n), offsetof(type, member)))

static __always_inline void __arena *
__scx_arena_heap_entry(struct scx_arena_heap_node __arena *n, u64 off)
{
	__scx_heap_pin(n);
	return n ? (void __arena *)((char __arena *)n - off) : NULL;
}

/* ---------------------------------------------------------------------------
 * The locked heap.
 */

/* Internal: takes @hl's lock, reporting a timeout. */
#define __scx_arena_heap_lock(hl) scx_arena_lock_acquire_or_error(&(hl)->lock, "heap")

/**
 * scx_arena_heap_locked_init - make @hl an empty heap with a free lock.
 * @hl: the locked heap; zeroed memory already is one.
 * @cap: elements to preallocate for, as scx_arena_heap_init().
 *
 * Not under the lock: call it before any other CPU can see @hl. Returns as
 * scx_arena_heap_init().
 */
static __always_inline int scx_arena_heap_locked_init(struct scx_arena_heap_locked __arena *hl,
						      u32 cap)
{
	__scx_heap_pin(hl);
	scx_arena_lock_init(&hl->lock);
	return scx_arena_heap_init(&hl->heap, cap);
}

/**
 * scx_arena_heap_locked_len - the number of elements in @hl.
 * @hl: the locked heap.
 *
 * Read without the lock: a snapshot that may be stale at once.
 */
static __always_inline u32 scx_arena_heap_locked_len(struct scx_arena_heap_locked __arena *hl)
{
	__scx_heap_pin(hl);
	return *(volatile u32 __arena *)&hl->heap.nr;
}

/**
 * scx_arena_heap_locked_empty - whether @hl looked empty (lock-free snapshot).
 * @hl: the locked heap.
 */
static __always_inline bool scx_arena_heap_locked_empty(struct scx_arena_heap_locked __arena *hl)
{
	return scx_arena_heap_locked_len(hl) == 0;
}

/**
 * scx_arena_heap_locked_push - scx_arena_heap_push() under the lock.
 * @hl: the locked heap.
 * @n: a node not in the heap.
 * @key: its key.
 *
 * Returns as scx_arena_heap_push(), or -ETIMEDOUT (reported with
 * scx_arena_error(); nothing changed) when the lock could not be taken.
 */
static __always_inline int scx_arena_heap_locked_push(struct scx_arena_heap_locked __arena *hl,
						      struct scx_arena_heap_node __arena *n,
						      u64 key)
{
	int ret;

	__scx_heap_pin(hl);
	__scx_heap_pin(n);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_heap_push(&hl->heap, n, key);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_heap_locked_push_reserved - scx_arena_heap_push_reserved() under
 * the lock.
 * @hl: the locked heap.
 * @n: a node not in the heap.
 * @key: its key.
 *
 * Never allocates (usable inside bpf_preempt_disable() sections). Returns as
 * scx_arena_heap_push_reserved(), or -ETIMEDOUT.
 */
static __always_inline int
scx_arena_heap_locked_push_reserved(struct scx_arena_heap_locked __arena *hl,
				    struct scx_arena_heap_node __arena *n, u64 key)
{
	int ret;

	__scx_heap_pin(hl);
	__scx_heap_pin(n);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_heap_push_reserved(&hl->heap, n, key);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_heap_locked_reserve - scx_arena_heap_reserve() under the lock.
 * @hl: the locked heap.
 * @cap: elements to make room for.
 *
 * Returns as scx_arena_heap_reserve(), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_heap_locked_reserve(struct scx_arena_heap_locked __arena *hl,
							 u32 cap)
{
	int ret;

	__scx_heap_pin(hl);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_heap_reserve(&hl->heap, cap);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_heap_locked_remove - scx_arena_heap_remove() under the lock.
 * @hl: the locked heap.
 * @n: the node to remove.
 *
 * Returns 0, -EINVAL (not in the heap), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_heap_locked_remove(struct scx_arena_heap_locked __arena *hl,
							struct scx_arena_heap_node __arena *n)
{
	int ret;

	__scx_heap_pin(hl);
	__scx_heap_pin(n);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_heap_remove(&hl->heap, n);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_heap_locked_update_key - scx_arena_heap_update_key() under the lock.
 * @hl: the locked heap.
 * @n: the node.
 * @key: the new key.
 *
 * Returns 0, -EINVAL (not in the heap), or -ETIMEDOUT.
 */
static __always_inline int
scx_arena_heap_locked_update_key(struct scx_arena_heap_locked __arena *hl,
				 struct scx_arena_heap_node __arena *n, u64 key)
{
	int ret;

	__scx_heap_pin(hl);
	__scx_heap_pin(n);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_heap_update_key(&hl->heap, n, key);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_heap_locked_destroy - scx_arena_heap_destroy() under the lock.
 * @hl: the locked heap.
 *
 * Returns 0 or -ETIMEDOUT (then nothing was freed).
 */
static __always_inline int scx_arena_heap_locked_destroy(struct scx_arena_heap_locked __arena *hl)
{
	int ret;

	__scx_heap_pin(hl);
	ret = __scx_arena_heap_lock(hl);
	if (ret)
		return ret;
	scx_arena_heap_destroy(&hl->heap);
	scx_arena_lock_release(&hl->lock);
	return 0;
}

/*
 * The locked node getters: @op (pop, peek) of the inner heap under the
 * lock, the node in *@out (NULL when the heap is empty). They return 0, or
 * -ETIMEDOUT (then *@out is NULL). A peeked node stays in the heap, and
 * another CPU may remove it once the lock is dropped.
 */
#define __SCX_ARENA_HEAP_LOCKED_GET(op)                                         \
	static __always_inline int scx_arena_heap_locked_##op(                  \
		struct scx_arena_heap_locked __arena *hl,                       \
		struct scx_arena_heap_node __arena **out)                       \
	{                                                                       \
		int ret;                                                        \
									        \
		__scx_heap_pin(hl);                                             \
		ret = __scx_arena_heap_lock(hl);                                \
		*out = NULL;                                                    \
		if (ret)                                                        \
			return ret;                                             \
		*out = scx_arena_heap_##op(&hl->heap);                          \
		scx_arena_lock_release(&hl->lock);                              \
		return 0;                                                       \
	}

/** scx_arena_heap_locked_pop - scx_arena_heap_pop() under the lock. */
__SCX_ARENA_HEAP_LOCKED_GET(pop)
/** scx_arena_heap_locked_peek - the minimum node of @hl, left in the heap. */
__SCX_ARENA_HEAP_LOCKED_GET(peek)

/* ---------------------------------------------------------------------------
 * Typed heaps.
 */

/**
 * SCX_ARENA_HEAP_DEFINE - typed operations for heaps of @type.
 * @name: prefix of the generated functions.
 * @type: the element struct, e.g. struct task_ctx.
 * @member: the name of its struct scx_arena_heap_node.
 *
 * Generates, with T = @type __arena * and the same returns as the untyped
 * operations:
 *
 *	T    name_entry(struct scx_arena_heap_node __arena *n)  (NULL -> NULL)
 *	int  name_push(h, T, u64 key) / name_push_reserved(h, T, u64 key)
 *	T    name_pop(h)            / name_peek(h)              NULL if empty
 *	int  name_remove(h, T)      / name_update(h, T, u64 key)
 *	bool name_contains(h, T)
 *	u64  name_key(T)                                        the element's key
 *	int  name_locked_push(hl, T, u64 key)
 *	int  name_locked_push_reserved(hl, T, u64 key)
 *	int  name_locked_pop(hl, T *out) / name_locked_peek(hl, T *out)
 *	int  name_locked_remove(hl, T)   / name_locked_update(hl, T, u64 key)
 *
 * where h is a struct scx_arena_heap __arena * and hl a struct
 * scx_arena_heap_locked __arena *. A NULL element makes push, remove and
 * update return -EINVAL.
 */
#define SCX_ARENA_HEAP_DEFINE(name, type, member)                              \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_entry(struct scx_arena_heap_node __arena *n)                     \
	{                                                                      \
		return scx_arena_heap_entry(n, type, member);                  \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push(struct scx_arena_heap __arena *h, type __arena *e, u64 key) \
	{                                                                      \
		return e ? scx_arena_heap_push(h, &e->member, key) : -EINVAL;  \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push_reserved(struct scx_arena_heap __arena *h, type __arena *e, \
			     u64 key)                                          \
	{                                                                      \
		return e ? scx_arena_heap_push_reserved(h, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_pop(struct scx_arena_heap __arena *h)                            \
	{                                                                      \
		return name##_entry(scx_arena_heap_pop(h));                    \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_peek(struct scx_arena_heap __arena *h)                           \
	{                                                                      \
		return name##_entry(scx_arena_heap_peek(h));                   \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_remove(struct scx_arena_heap __arena *h, type __arena *e)        \
	{                                                                      \
		return e ? scx_arena_heap_remove(h, &e->member) : -EINVAL;     \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_update(struct scx_arena_heap __arena *h, type __arena *e, u64 key) \
	{                                                                      \
		return e ? scx_arena_heap_update_key(h, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) bool                    \
	name##_contains(struct scx_arena_heap __arena *h, type __arena *e)      \
	{                                                                      \
		return e && scx_arena_heap_contains(h, &e->member);            \
	}                                                                      \
	static __always_inline __attribute__((unused)) u64                     \
	name##_key(type __arena *e)                                            \
	{                                                                      \
		return scx_arena_ld(&e->member.key);                           \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_push(struct scx_arena_heap_locked __arena *hl, type __arena *e, \
			   u64 key)                                            \
	{                                                                      \
		return e ? scx_arena_heap_locked_push(hl, &e->member, key) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_push_reserved(struct scx_arena_heap_locked __arena *hl,  \
				    type __arena *e, u64 key)                  \
	{                                                                      \
		return e ? scx_arena_heap_locked_push_reserved(hl, &e->member, key) \
			 : -EINVAL;                                            \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_pop(struct scx_arena_heap_locked __arena *hl, type __arena **out) \
	{                                                                      \
		struct scx_arena_heap_node __arena *___n;                      \
		int ___ret = scx_arena_heap_locked_pop(hl, &___n);              \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_peek(struct scx_arena_heap_locked __arena *hl, type __arena **out) \
	{                                                                      \
		struct scx_arena_heap_node __arena *___n;                      \
		int ___ret = scx_arena_heap_locked_peek(hl, &___n);             \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_remove(struct scx_arena_heap_locked __arena *hl, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_heap_locked_remove(hl, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_update(struct scx_arena_heap_locked __arena *hl, type __arena *e, \
			     u64 key)                                          \
	{                                                                      \
		return e ? scx_arena_heap_locked_update_key(hl, &e->member, key) : -EINVAL; \
	}
