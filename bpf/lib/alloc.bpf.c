/* SPDX-License-Identifier: GPL-2.0-only */
/* The allocator root and the front end of scx_arena/alloc.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

u64 scx_arena_alloc_root;

/* 0: no root, 1: being created, 2: ready. */
static u32 root_state;

/* How long a caller waits for a racing creator of the root (iterations). */
#define ROOT_WAIT 100000

u64 __scx_arena_root_get(void)
{
	struct scx_arena_root __arena *r;
	u64 pcpu, start, i;

	if (scx_arena_alloc_root)
		return scx_arena_alloc_root;
	if (__sync_val_compare_and_swap(&root_state, 0, 1)) {
		/* Someone else is creating it; it takes microseconds. */
		bpf_for(i, 0, ROOT_WAIT) {
			if (scx_arena_alloc_root)
				break;
		}
		return scx_arena_alloc_root;
	}

	r = scx_arena_pages_alloc(1);
	pcpu = (u64)scx_arena_pages_alloc(1);
	if (!r || !pcpu) {
		scx_arena_pages_free(r, 1);
		scx_arena_pages_free(scx_arena_from_u64(void, pcpu), 1);
		__sync_lock_test_and_set(&root_state, 0);
		return 0;
	}
	start = scx_arena_start();
	r->magic = SCX_ARENA_ROOT_MAGIC;
	r->version = SCX_ARENA_ROOT_VERSION;
	r->page_size = __PAGE_SIZE;
	r->base = start;
	r->nr_pages = (scx_arena_end() - start) / __PAGE_SIZE;
	r->slab.pcpu = pcpu;
#ifdef SCX_ARENA_CHECKED
	if (__scx_arena_check_init(r)) {
		scx_arena_pages_free(r, 1);
		scx_arena_pages_free(scx_arena_from_u64(void, pcpu), 1);
		__sync_lock_test_and_set(&root_state, 0);
		return 0;
	}
#endif
	/* Everything else starts as zero: fresh arena pages are zeroed. */
	__sync_lock_test_and_set(&scx_arena_alloc_root, (u64)r);
	__sync_lock_test_and_set(&root_state, 2);
	return (u64)r;
}

u64 __scx_arena_alloc(u64 size)
{
	int cls, order;

	if (!size)
		return 0;
	cls = scx_arena_slab_class(size);
	if (cls >= 0) {
		/* The fast path inline saves a nested call on a hit; a miss
		 * goes straight to the slab's slow path. */
		u64 obj = __scx_arena_slab_alloc_fast(cls);

		return obj ? obj : __scx_arena_slab_alloc_slow(cls);
	}
	order = scx_arena_buddy_order(size);
	if (order < 0)
		return 0;
	return __scx_arena_buddy_alloc(order, 0);
}

u64 __scx_arena_zero(u64 p, u64 size)
{
	u64 i;

	if (!p)
		return 0;
	/* Whole words: sizes round up to 8 within every size class. */
	bpf_for(i, 0, ((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER) / 8) {
		if (i * 8 >= size)
			break;
		*scx_arena_from_u64(u64, p + i * 8) = 0;
	}
	return p;
}
