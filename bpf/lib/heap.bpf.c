/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Slow paths of the arena heap (scx_arena/heap.h): growing the array and
 * destroying a heap. Out of line so that every inlined push stays small,
 * and so that the copy loop is verified once.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/heap.h>

int __scx_arena_heap_grow(struct scx_arena_heap __arena *h __arg_arena, u32 want)
{
	struct scx_arena_heap_entry __arena *old, *new;
	u32 nr, cap, newcap, i;

	__scx_heap_pin(h);
	nr = __scx_hld(&h->nr);
	cap = __scx_hld(&h->cap);
	if (nr > cap || cap > SCX_ARENA_HEAP_MAX_CAP)
		return -EINVAL;
	if (want <= cap)
		return 0;
	if (want > SCX_ARENA_HEAP_MAX_CAP)
		return -ENOSPC;
	newcap = cap < SCX_ARENA_HEAP_MIN_CAP ? SCX_ARENA_HEAP_MIN_CAP : cap * 2;
	/* Powers of two from 16 to 32768: at most 12 doublings. */
	for (i = 0; i < 12 && newcap < want; i++)
		newcap *= 2;
	if (newcap > SCX_ARENA_HEAP_MAX_CAP)
		newcap = SCX_ARENA_HEAP_MAX_CAP;
	new = scx_arena_alloc((u64)newcap * sizeof(*new));
	__scx_heap_pin(new);
	if (!new)
		return -ENOMEM;
	old = __scx_hld(&h->entries);
	__scx_heap_pin(old);
	bpf_for(i, 0, nr) {
		__scx_hst(&new[i].key, __scx_hld(&old[i].key));
		/* No memcpy idiom: clang-19 would drop the arena casts. */
		barrier();
		__scx_hst(&new[i].node, __scx_hld(&old[i].node));
	}
	__scx_hst(&h->entries, new);
	__scx_hst(&h->cap, newcap);
	scx_arena_free(old);
	return 0;
}

/*
 * Moves the hole at slot @i up while (@key, @n) orders before its
 * parent, moving parents down. Returns the slot where (@key, @n) belongs;
 * the caller writes it there.
 */
u32 __scx_arena_heap_sift_up(struct scx_arena_heap_entry __arena *e __arg_arena, u32 i,
			     u64 key, struct scx_arena_heap_node __arena *n __arg_arena)
{
	struct scx_arena_heap_node __arena *pn;
	u32 lvl, p;
	u64 pk;

	__scx_heap_pin(e);
	for (lvl = 0; lvl < SCX_ARENA_HEAP_MAX_HEIGHT; lvl++) {
		if (!i)
			break;
		p = (i - 1) >> 1;
		pk = __scx_hld(&e[p].key);
		pn = __scx_hld(&e[p].node);
		if (!__scx_heap_before(key, n, pk, pn))
			break;
		__scx_heap_set(e, i, pk, pn);
		i = p;
	}
	return i;
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
	struct scx_arena_heap_node __arena *cn, *rn;
	u64 ck, rk;
	u32 lvl, c;

	__scx_heap_pin(e);
	for (lvl = 0; lvl < SCX_ARENA_HEAP_MAX_HEIGHT; lvl++) {
		c = 2 * i + 1;
		if (c >= nr)
			break;
		ck = __scx_hld(&e[c].key);
		cn = __scx_hld(&e[c].node);
		if (c + 1 < nr) {
			rk = __scx_hld(&e[c + 1].key);
			rn = __scx_hld(&e[c + 1].node);
			if (__scx_heap_before(rk, rn, ck, cn)) {
				c++;
				ck = rk;
				cn = rn;
			}
		}
		if (!__scx_heap_before(ck, cn, key, n))
			break;
		__scx_heap_set(e, i, ck, cn);
		i = c;
	}
	return i;
}

int scx_arena_heap_destroy(struct scx_arena_heap __arena *h __arg_arena)
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
	scx_arena_free(e);
	return 0;
}
