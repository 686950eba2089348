/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/bump.h - a bump allocator for data that lives as long as the
 * scheduler: tables sized at init, per-CPU arrays, and the like.
 *
 * It hands out consecutive pieces of 512 KiB buddy blocks and never frees
 * them one by one, so it has no per-object overhead and no fragmentation. A
 * request larger than a block fails; use scx_arena_buddy_alloc() for it.
 */
#pragma once

#include <scx_arena/buddy.h>

/* Bump state, inside the allocator root. */
struct scx_arena_bump {
	struct scx_arena_lock lock;
	u64 cur;        /* current block, or 0 */
	u64 off;        /* bytes used in it */
	u64 nr_blocks;  /* blocks taken from the buddy allocator */
	u64 bytes;      /* bytes handed out */
	u64 nr_failed;
};

u64 __scx_arena_bump_alloc(u64 size, u64 align);

/**
 * scx_arena_bump_alloc - allocate @size zeroed bytes aligned to @align.
 * @size: 1 to 512 KiB.
 * @align: a power of two up to 4096.
 *
 * Returns NULL when the arena is exhausted or the arguments are out of range.
 * The memory is never freed.
 */
static __always_inline void __arena *scx_arena_bump_alloc(u64 size, u64 align)
{
	return scx_arena_from_u64(void, __scx_arena_bump_alloc(size, align));
}
