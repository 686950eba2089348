/* SPDX-License-Identifier: GPL-2.0-only */
/* The allocator root and the front end of scx_arena/alloc.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

u64 scx_arena_alloc_root;

/* 0: no root, 1: being created, 2: ready. */
static u32 root_state;

/* How long a caller waits for a racing creator of the root (iterations). */
#define ROOT_WAIT 100000

#ifdef SCX_ARENA_CHECKED
/* The shadow table (a word per chunk) and the quarantine ring, in pages. */
#define CHECK_TABLE_PAGES (SCX_ARENA_MAX_CHUNKS * 8 / __PAGE_SIZE)
#define CHECK_QUARANTINE_PAGES ((SCX_ARENA_CHECK_QUARANTINE * 8 + __PAGE_SIZE - 1) / __PAGE_SIZE)

/*
 * Checked mode's part of a new root: the shadow table and the quarantine.
 * Inline, not a call: root creation sits under every allocator layer, and
 * in checked mode one more frame there is one too many for the verifier's
 * eight (a B+tree insert reaches it through seven).
 */
static __always_inline int check_init(struct scx_arena_root __arena *r)
{
	u64 table = (u64)scx_arena_pages_alloc(CHECK_TABLE_PAGES);
	u64 q = (u64)scx_arena_pages_alloc(CHECK_QUARANTINE_PAGES);

	if (!table || !q) {
		scx_arena_pages_free(scx_arena_from_u64(void, table), CHECK_TABLE_PAGES);
		scx_arena_pages_free(scx_arena_from_u64(void, q), CHECK_QUARANTINE_PAGES);
		return -ENOMEM;
	}
	r->check.shadow = table;
	r->check.quarantine = q;
	r->check.enabled = 1;
	return 0;
}
#endif

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
	if (check_init(r)) {
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
	return __scx_arena_alloc_inline(size);
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
