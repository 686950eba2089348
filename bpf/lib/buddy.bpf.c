/* SPDX-License-Identifier: GPL-2.0-only */
/* The buddy allocator of scx_arena/buddy.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

/* Placed chunk allocations tried per grow before giving up. */
#define GROW_TRIES 64

#define CHUNK_BYTES ((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER)

typedef struct scx_arena_buddy_node __arena *node_t;

static __always_inline node_t node(u64 addr)
{
	return scx_arena_from_u64(struct scx_arena_buddy_node, addr);
}

/* The state byte of the page at arena offset @off, or NULL if unmapped. */
static __always_inline u8 __arena *state_at(struct scx_arena_root __arena *r, u64 off)
{
	u64 chunk = off >> SCX_ARENA_CHUNK_SHIFT;
	u64 map;

	if (chunk >= SCX_ARENA_MAX_CHUNKS)
		return NULL;
	map = r->buddy.map[chunk / SCX_ARENA_CHUNKS_PER_MAP];
	if (!map)
		return NULL;
	return scx_arena_from_u64(u8, map + (chunk % SCX_ARENA_CHUNKS_PER_MAP) * SCX_ARENA_CHUNK_PAGES +
				  ((off >> SCX_ARENA_PAGE_SHIFT) & (SCX_ARENA_CHUNK_PAGES - 1)));
}

static __always_inline void list_push(struct scx_arena_buddy __arena *b, u32 order, u64 blk)
{
	node_t n = node(blk);
	u64 head = b->free_head[order];

	n->prev = 0;
	n->next = head;
	if (head)
		node(head)->prev = blk;
	b->free_head[order] = blk;
	b->nr_free[order]++;
}

static __always_inline void list_del(struct scx_arena_buddy __arena *b, u32 order, u64 blk)
{
	node_t n = node(blk);

	if (n->prev)
		node(n->prev)->next = n->next;
	else
		b->free_head[order] = n->next;
	if (n->next)
		node(n->next)->prev = n->prev;
	b->nr_free[order]--;
}

/*
 * Takes a block of @order from the free lists, splitting a larger one if
 * needed. Lock held. Returns 0 when every list from @order up is empty.
 */
static __always_inline u64 take(struct scx_arena_root __arena *r, u32 order)
{
	struct scx_arena_buddy __arena *b = &r->buddy;
	u64 blk = 0, half;
	u8 __arena *st;
	u32 j, found = SCX_ARENA_BUDDY_NR_ORDERS;

	bpf_for(j, 0, SCX_ARENA_BUDDY_NR_ORDERS) {
		if (j >= order && b->free_head[j]) {
			found = j;
			break;
		}
	}
	if (found >= SCX_ARENA_BUDDY_NR_ORDERS)
		return 0;

	blk = b->free_head[found];
	list_del(b, found, blk);
	/* Split down: the upper half of each split goes back on a free list. */
	bpf_for(j, 0, SCX_ARENA_BUDDY_MAX_ORDER) {
		if (found <= order)
			break;
		found--;
		half = blk + ((u64)__PAGE_SIZE << found);
		st = state_at(r, half - r->base);
		if (!st)
			return 0;
		*st = SCX_ARENA_PG_FREE | found;
		list_push(b, found, half);
	}
	st = state_at(r, blk - r->base);
	if (!st)
		return 0;
	*st = SCX_ARENA_PG_USED | order;
	return blk;
}

/*
 * Takes a new chunk from the kernel at the next free 512 KiB-aligned offset
 * and puts it on the order-7 free list. Called without the lock.
 */
static __always_inline int grow(struct scx_arena_root __arena *r)
{
	struct scx_arena_buddy __arena *b = &r->buddy;
	u64 idx, map, chunk, max_chunks = r->nr_pages / SCX_ARENA_CHUNK_PAGES;
	u8 __arena *st;
	u32 t;

	bpf_for(t, 0, GROW_TRIES) {
		idx = __sync_fetch_and_add(&b->next_chunk, 1);
		if (idx >= max_chunks || idx >= SCX_ARENA_MAX_CHUNKS)
			return -ENOMEM;
		/* The page map covering this chunk; racing growers keep one. */
		if (!b->map[idx / SCX_ARENA_CHUNKS_PER_MAP]) {
			map = (u64)scx_arena_pages_alloc(1);
			if (!map)
				return -ENOMEM;
			if (__sync_val_compare_and_swap(&b->map[idx / SCX_ARENA_CHUNKS_PER_MAP], 0, map))
				scx_arena_pages_free(scx_arena_from_u64(void, map), 1);
		}
		chunk = (u64)scx_arena_pages_alloc_at(r->base + idx * CHUNK_BYTES,
						       SCX_ARENA_CHUNK_PAGES);
		/* Part of this range belongs to someone else: try the next. */
		if (!chunk)
			continue;
#ifdef SCX_ARENA_CHECKED
		if (__scx_arena_check_chunk(r, chunk)) {
			scx_arena_pages_free(scx_arena_from_u64(void, chunk), SCX_ARENA_CHUNK_PAGES);
			return -ENOMEM;
		}
#endif

		if (scx_arena_lock_acquire_or_error(&b->lock, "buddy"))
			return -ETIMEDOUT;
		st = state_at(r, chunk - r->base);
		if (st) {
			*st = SCX_ARENA_PG_FREE | SCX_ARENA_BUDDY_MAX_ORDER;
			list_push(b, SCX_ARENA_BUDDY_MAX_ORDER, chunk);
			b->nr_chunks++;
		}
		scx_arena_lock_release(&b->lock);
		return st ? 0 : -EINVAL;
	}
	return -ENOMEM;
}

u64 __scx_arena_buddy_alloc(u32 order, u32 flags)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_buddy __arena *b;
	u64 blk, used, peak;
	u8 __arena *st;
	u32 attempt;

	if (!r || order > SCX_ARENA_BUDDY_MAX_ORDER)
		return 0;
	b = &r->buddy;

	/* Second attempt only after taking a new chunk from the kernel. */
	bpf_for(attempt, 0, 2) {
		if (scx_arena_lock_acquire_or_error(&b->lock, "buddy"))
			return 0;
		blk = take(r, order);
		if (blk) {
			if (flags) {
				st = state_at(r, blk - r->base);
				if (st)
					*st |= SCX_ARENA_PG_SLAB;
			}
			used = b->pages_used + (1u << order);
			b->pages_used = used;
			peak = b->pages_used_peak;
			if (used > peak)
				b->pages_used_peak = used;
		}
		scx_arena_lock_release(&b->lock);
		if (blk)
			return blk;
		if (grow(r))
			break;
	}
	__sync_fetch_and_add(&b->nr_failed, 1);
	return 0;
}

int scx_arena_buddy_free(void __arena *p __arg_arena)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_buddy __arena *b;
	u64 blk = (u64)p, off, bud;
	u8 __arena *st, *bst;
	u32 order, j;
	u8 s;

	if (!p)
		return 0;
	if (!r)
		return -EINVAL;
	b = &r->buddy;
	off = blk - r->base;
	st = state_at(r, off);
	if (blk < r->base || !st || (off & (__PAGE_SIZE - 1))) {
		scx_arena_error("buddy: free of %llx, not an arena block", blk);
		return -EINVAL;
	}

	if (scx_arena_lock_acquire_or_error(&b->lock, "buddy"))
		return -ETIMEDOUT;
	s = *st;
	if (!(s & SCX_ARENA_PG_USED)) {
		scx_arena_lock_release(&b->lock);
		scx_arena_error("buddy: free of %llx, not an allocated block (state %x)", blk, s);
		return -EINVAL;
	}
	order = s & SCX_ARENA_PG_ORDER;
	b->pages_used -= 1u << order;

	/* Merge with free buddies of the same order, up to a whole chunk. */
	bpf_for(j, 0, SCX_ARENA_BUDDY_MAX_ORDER) {
		if (order >= SCX_ARENA_BUDDY_MAX_ORDER)
			break;
		bud = off ^ ((u64)__PAGE_SIZE << order);
		bst = state_at(r, bud);
		if (!bst || *bst != (SCX_ARENA_PG_FREE | order))
			break;
		list_del(b, order, r->base + bud);
		*bst = 0;
		*st = 0;
		if (bud < off)
			off = bud;
		st = state_at(r, off);
		if (!st)
			break;
		order++;
	}
	if (st) {
		*st = SCX_ARENA_PG_FREE | order;
		list_push(b, order, r->base + off);
	}
	scx_arena_lock_release(&b->lock);
	return 0;
}

u64 __scx_arena_buddy_page_state(u64 addr)
{
	/* No root, no pages; and it must not allocate (checked accessors). */
	struct scx_arena_root __arena *r = scx_arena_root_peek();
	u8 __arena *st;

	if (!r || addr < r->base)
		return 0;
	st = state_at(r, addr - r->base);
	return st ? *st : 0;
}
