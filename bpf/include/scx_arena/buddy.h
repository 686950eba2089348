/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/buddy.h - power-of-two page blocks, 4 KiB to 512 KiB.
 *
 * The arena is carved into 512 KiB chunks placed at 512 KiB-aligned offsets
 * from the arena's start, so every block of order k is aligned to its own
 * size relative to the arena start; the slab allocator relies on that to find
 * a slab's header from any object in it. Chunks are taken from the kernel
 * (bpf_arena_alloc_pages at a fixed address) when the free lists run dry; a
 * chunk whose range someone else already uses is skipped.
 *
 * Each page of a chunk has one state byte in an out-of-band page map, so
 * freeing needs only the address, and a merge can test its buddy without
 * touching the buddy's memory. Free blocks are linked through their first
 * 16 bytes, one doubly linked list per order. One arena spin lock guards it
 * all: blocks are large and taken rarely (the slab caches small objects).
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/lock.h>

#define SCX_ARENA_PAGE_SHIFT 12
#define SCX_ARENA_BUDDY_MAX_ORDER 7 /* 4 KiB << 7 = 512 KiB */
#define SCX_ARENA_BUDDY_NR_ORDERS (SCX_ARENA_BUDDY_MAX_ORDER + 1)
#define SCX_ARENA_CHUNK_PAGES (1u << SCX_ARENA_BUDDY_MAX_ORDER)
#define SCX_ARENA_CHUNK_SHIFT (SCX_ARENA_PAGE_SHIFT + SCX_ARENA_BUDDY_MAX_ORDER)
/* An arena spans at most 4 GiB: 8192 chunks. */
#define SCX_ARENA_MAX_CHUNKS (1u << (32 - SCX_ARENA_CHUNK_SHIFT))
/* One page-map page holds the state bytes of this many chunks. */
#define SCX_ARENA_CHUNKS_PER_MAP (__PAGE_SIZE / SCX_ARENA_CHUNK_PAGES)
#define SCX_ARENA_NR_MAPS (SCX_ARENA_MAX_CHUNKS / SCX_ARENA_CHUNKS_PER_MAP)

/* Page state bytes. 0: not the first page of a block. */
#define SCX_ARENA_PG_FREE 0x80  /* first page of a free block; low bits: order */
#define SCX_ARENA_PG_USED 0x40  /* first page of an allocated block; low bits: order */
#define SCX_ARENA_PG_SLAB 0x20  /* with PG_USED: the block is a slab */
#define SCX_ARENA_PG_ORDER 0x0f

/* Free-list link at the start of a free block (arena addresses). */
struct scx_arena_buddy_node {
	u64 next;
	u64 prev;
};

/* Buddy state, inside the allocator root (alloc.h). */
struct scx_arena_buddy {
	struct scx_arena_lock lock;
	u64 free_head[SCX_ARENA_BUDDY_NR_ORDERS];  /* first free block per order */
	u64 nr_free[SCX_ARENA_BUDDY_NR_ORDERS];    /* blocks on each free list */
	u64 next_chunk;      /* next chunk index to try when growing */
	u64 nr_chunks;       /* chunks taken from the kernel */
	u64 pages_used;      /* pages in allocated blocks (slabs included) */
	u64 pages_used_peak; /* high-water mark of pages_used */
	u64 nr_failed;       /* allocations that found no memory */
	u64 map[SCX_ARENA_NR_MAPS]; /* page-map pages, SCX_ARENA_CHUNKS_PER_MAP chunks each */
};

/*
 * The order of the smallest block holding @bytes, or -1 above 512 KiB.
 */
static __always_inline int scx_arena_buddy_order(u64 bytes)
{
	int order;

	for (order = 0; order < SCX_ARENA_BUDDY_NR_ORDERS; order++)
		if (bytes <= ((u64)__PAGE_SIZE << order))
			return order;
	return -1;
}

u64 __scx_arena_buddy_alloc(u32 order, u32 flags);

/**
 * scx_arena_buddy_alloc - allocate a block of 4 KiB << @order bytes.
 * @order: 0 (4 KiB) to SCX_ARENA_BUDDY_MAX_ORDER (512 KiB).
 *
 * The block is aligned to its size relative to the arena start. Its content
 * is whatever the previous owner left (fresh chunks are zeroed). Returns NULL
 * when the arena is exhausted (counted in nr_failed) or the allocator lock
 * timed out (an error is raised, see error.h).
 */
static __always_inline void __arena *scx_arena_buddy_alloc(u32 order)
{
	return scx_arena_from_u64(void, __scx_arena_buddy_alloc(order, 0));
}

/**
 * scx_arena_buddy_free - free a block from scx_arena_buddy_alloc().
 * @p: the block; NULL is ignored.
 *
 * Returns 0, or -EINVAL (and raises an error) when @p is not the start of an
 * allocated block: a double or invalid free.
 */
int scx_arena_buddy_free(void __arena *p __arg_arena);

/* Internal to the allocators: the state byte of the page holding @addr. */
u64 __scx_arena_buddy_page_state(u64 addr);
