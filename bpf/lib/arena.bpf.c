/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The page-level allocation wrapper and its accounting. Every scx-arena
 * object links this file.
 */
#include <scx_arena/arena.h>

struct scx_arena_page_stats scx_arena_page_stats;

u64 __scx_arena_pages_alloc(u64 addr, u32 nr_pages)
{
	void __arena *p;
	u64 now, peak;

	p = bpf_arena_alloc_pages(&arena, scx_arena_from_u64(void, addr), nr_pages,
				  NUMA_NO_NODE, 0);
	if (!p) {
		/* A placed request may fail only because its range is taken. */
		if (!addr)
			__sync_fetch_and_add(&scx_arena_page_stats.nr_failed, 1);
		return 0;
	}

	now = __sync_add_and_fetch(&scx_arena_page_stats.nr_pages, nr_pages);
	/* A racing update may lower the peak by one step; it is a statistic. */
	peak = scx_arena_page_stats.nr_pages_peak;
	if (now > peak)
		__sync_val_compare_and_swap(&scx_arena_page_stats.nr_pages_peak, peak, now);
	return (u64)p;
}

int scx_arena_pages_free(void __arena *p __arg_arena, u32 nr_pages)
{
	if (!p)
		return 0;
	bpf_arena_free_pages(&arena, p, nr_pages);
	__sync_fetch_and_sub(&scx_arena_page_stats.nr_pages, nr_pages);
	return 0;
}
