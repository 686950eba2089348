/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loops of the arena heap (scx_arena/heap.h): sifts, the growth copy
 * and the walk of destroy. Global functions, so each loop is verified once
 * with unknown arguments rather than at every call site. The sift down to
 * a leaf of pop and remove also runs inline (__scx_heap_sift_hole() in
 * heap.h) and comes here only for the last level's fewer children and for
 * ties.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/cmp.h>
#include <scx_arena/heap.h>

int __scx_arena_heap_copy(struct scx_arena_heap_entry __arena *new __arg_arena,
			  struct scx_arena_heap_entry __arena *old __arg_arena, u32 nr)
{
	u32 i;

	__scx_heap_pin(new);
	__scx_heap_pin(old);
	if (nr > SCX_ARENA_HEAP_MAX_CAP)
		return -EINVAL;
	bpf_for(i, 0, nr) {
		__scx_hst(&new[i].key, __scx_hld(&old[i].key));
		/* No memcpy idiom: clang-19 would drop the arena casts. */
		barrier();
		__scx_hst(&new[i].node, __scx_hld(&old[i].node));
	}
	return 0;
}

/* The slot among @c .. @c + 3 that orders first: __scx_heap_min4(), else exactly. */
static __always_inline u32 heap_min_child(struct scx_arena_heap_entry __arena *e, u32 c,
					  u32 nr)
{
	u64 x;

	if (c + 3 < nr) {
		x = __scx_heap_min4(&e[c]);
		if (x != ~0ull)
			return c + (u32)(x >> 6);
	}
	return __scx_heap_min_child_exact(e, c, nr);
}

/* The sift up of __scx_arena_heap_sift_up(), shared with sift_hole. */
static __always_inline u32 heap_up(struct scx_arena_heap_entry __arena *e, u32 i, u64 key,
				   struct scx_arena_heap_node __arena *n)
{
	struct scx_arena_heap_node __arena *pn;
	u32 lvl, p;
	u64 pk;

	for (lvl = 0; lvl < SCX_ARENA_HEAP_MAX_HEIGHT; lvl++) {
		if (!i)
			break;
		p = SCX_ARENA_HEAP_PARENT(i);
		pk = __scx_hld(&e[p].key);
		if (key > pk)
			break;
		pn = __scx_hld(&e[p].node);
		if (key == pk && !__scx_heap_before(key, n, pk, pn))
			break;
		__scx_heap_set(e, i, pk, pn);
		i = p;
	}
	return i;
}

/*
 * Moves the hole at slot @i up while (@key, @n) orders before its
 * parent, moving parents down. Returns the slot where (@key, @n) belongs;
 * the caller writes it there.
 */
u32 __scx_arena_heap_sift_up(struct scx_arena_heap_entry __arena *e __arg_arena, u32 i,
			     u64 key, struct scx_arena_heap_node __arena *n __arg_arena)
{
	__scx_heap_pin(e);
	return heap_up(e, i, key, n);
}

/*
 * Moves the hole at slot @i down while a child of it orders
 * before (@key, @n), moving the smaller child up. @nr is the number of
 * slots in use. Returns the slot where (@key, @n) belongs.
 */
u32 __scx_arena_heap_sift_down(struct scx_arena_heap_entry __arena *e __arg_arena, u32 nr,
			       u32 i, u64 key,
			       struct scx_arena_heap_node __arena *n __arg_arena)
{
	struct scx_arena_heap_node __arena *cn;
	u32 lvl, c;
	u64 ck;

	__scx_heap_pin(e);
	for (lvl = 0; lvl < SCX_ARENA_HEAP_MAX_HEIGHT; lvl++) {
		c = SCX_ARENA_HEAP_CHILD(i);
		if (c >= nr)
			break;
		c = heap_min_child(e, c, nr);
		ck = __scx_hld(&e[c].key);
		cn = __scx_hld(&e[c].node);
		if (!__scx_heap_before(ck, cn, key, n))
			break;
		__scx_heap_set(e, i, ck, cn);
		i = c;
	}
	return i;
}

/*
 * The sift of pop and remove down to a leaf, with its exact picks
 * (__scx_heap_sift_hole() in heap.h): for the last element, which fills
 * the hole a pop or remove leaves and belongs near the leaves, going down
 * to a leaf first saves comparing it at every level on the way. Called by
 * the inline sift from the level where it met a tie or the last level's
 * fewer children.
 */
u32 __scx_arena_heap_sift_hole(struct scx_arena_heap_entry __arena *e __arg_arena, u32 nr,
			       u32 i)
{
	return __scx_heap_sift_hole(e, nr, i, true);
}

u64 __scx_arena_heap_detach(struct scx_arena_heap __arena *h __arg_arena)
{
	struct scx_arena_heap_entry __arena *e;
	struct scx_arena_heap_node __arena *n;
	u32 nr, i;

	__scx_heap_pin(h);
	e = __scx_hld(&h->entries);
	__scx_heap_pin(e);
	nr = __scx_hld(&h->nr);
	if (nr > __scx_hld(&h->cap))
		nr = __scx_hld(&h->cap);
	if (nr > SCX_ARENA_HEAP_MAX_CAP)
		nr = SCX_ARENA_HEAP_MAX_CAP;
	bpf_for(i, 0, nr) {
		n = __scx_hld(&e[i].node);
		__scx_heap_pin(n);
		if (n)
			__scx_hst(&n->idx, SCX_ARENA_HEAP_NONE);
	}
	__scx_hst(&h->entries, NULL);
	barrier();
	__scx_hst(&h->nr, 0);
	barrier();
	__scx_hst(&h->cap, 0);
	return (u64)e;
}
