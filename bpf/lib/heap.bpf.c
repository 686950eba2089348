/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loops of the arena heap (scx_arena/heap.h): sifts, the growth copy
 * and the walk of destroy. Global functions, so each loop is verified once
 * with unknown arguments rather than at every call site.
 */
#include <scx_arena/alloc.h>
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
