/* SPDX-License-Identifier: GPL-2.0-only */
/* Tests of the allocators: scx_arena/{alloc,buddy,slab,bump}.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>

char _license[] SEC("license") = "GPL";

/* Arena offset of @p: alignment is defined relative to the arena start. */
#define OFF(p) ((u64)(p) - scx_arena_start())

SEC("syscall")
int test_alloc_each_class_aligned_and_reused(void *ctx)
{
	u32 cls;

	bpf_for(cls, 0, SCX_ARENA_SLAB_NR_CLASSES) {
		u64 size = 16ull << cls;
		u64 __arena *p = scx_arena_alloc(size), *q;

		ASSERT_NONNULL(p);
		ASSERT_EQ(OFF(p) & (size - 1), 0);
		p[0] = 0xabcd0000 + cls;
		p[size / 8 - 1] = cls;
		ASSERT_EQ(p[0], 0xabcd0000 + cls);
		ASSERT_EQ(scx_arena_free(p), 0);
		/* The CPU cache hands the same object back (LIFO). */
		q = scx_arena_alloc(size);
		ASSERT_EQ((u64)q, (u64)p);
		ASSERT_EQ(scx_arena_free(q), 0);
	}
	return 0;
}

SEC("syscall")
int test_alloc_zalloc_zeroes_reused_memory(void *ctx)
{
	u64 __arena *p = scx_arena_alloc(256), *q;
	u32 i;

	ASSERT_NONNULL(p);
	bpf_for(i, 0, 32)
		p[i] = ~0ull;
	scx_arena_free(p);
	q = scx_arena_zalloc(256);
	ASSERT_EQ((u64)q, (u64)p);
	bpf_for(i, 0, 32)
		ASSERT_EQ(q[i], 0);
	scx_arena_free(q);
	return 0;
}

SEC("syscall")
int test_buddy_orders_aligned_and_accounted(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 used;
	u32 order;

	ASSERT_NONNULL(r);
	used = r->buddy.pages_used;
	bpf_for(order, 0, SCX_ARENA_BUDDY_NR_ORDERS) {
		u64 bytes = (u64)__PAGE_SIZE << order;
		u8 __arena *p = scx_arena_buddy_alloc(order);

		ASSERT_NONNULL(p);
		ASSERT_EQ(OFF(p) & (bytes - 1), 0);
		ASSERT_EQ(r->buddy.pages_used, used + (1u << order));
		p[0] = 1;
		p[bytes - 1] = 2;
		ASSERT_EQ(scx_arena_buddy_free(p), 0);
		ASSERT_EQ(r->buddy.pages_used, used);
	}
	/* Larger than a chunk is refused, not rounded. */
	ASSERT_NULL(scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER + 1));
	ASSERT_NULL(scx_arena_alloc(((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER) + 1));
	ASSERT_NULL(scx_arena_alloc(0));
	return 0;
}

/* Splits a whole chunk into pages, frees them, and expects it whole again. */
SEC("syscall")
int test_buddy_split_and_merge_back(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 __arena *pages;
	u64 whole, first;
	u32 i;

	ASSERT_NONNULL(r);
	/* A table for the page addresses, from the bump allocator. */
	pages = scx_arena_bump_alloc(SCX_ARENA_CHUNK_PAGES * 8, 8);
	ASSERT_NONNULL(pages);
	/* A fresh chunk, so its pages are all ours. */
	first = (u64)scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER);
	ASSERT_NE(first, 0);
	scx_arena_buddy_free(scx_arena_from_u64(void, first));
	whole = r->buddy.nr_free[SCX_ARENA_BUDDY_MAX_ORDER];
	ASSERT_GE(whole, 1);

	bpf_for(i, 0, SCX_ARENA_CHUNK_PAGES) {
		pages[i] = (u64)scx_arena_buddy_alloc(0);
		ASSERT_NE(pages[i], 0);
	}
	/* Free in an interleaved order so merges happen late. */
	bpf_for(i, 0, SCX_ARENA_CHUNK_PAGES / 2)
		ASSERT_EQ(scx_arena_buddy_free(scx_arena_from_u64(void, pages[2 * i])), 0);
	bpf_for(i, 0, SCX_ARENA_CHUNK_PAGES / 2)
		ASSERT_EQ(scx_arena_buddy_free(scx_arena_from_u64(void, pages[2 * i + 1])), 0);
	ASSERT_EQ(r->buddy.nr_free[SCX_ARENA_BUDDY_MAX_ORDER], whole);
	return 0;
}

SEC("syscall")
int test_slab_thousands_of_objects_stay_distinct(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 __arena *ptrs;
	u64 bad = 0, nslabs;
	u32 i, n = 5000;

	ASSERT_NONNULL(r);
	ptrs = scx_arena_bump_alloc(n * 8, 8);
	ASSERT_NONNULL(ptrs);
	bpf_for(i, 0, n) {
		u64 __arena *p = scx_arena_alloc(64);

		if (!p)
			break;
		p[0] = i;
		p[7] = ~(u64)i;
		ptrs[i] = (u64)p;
	}
	bpf_for(i, 0, n) {
		u64 __arena *p = scx_arena_from_u64(u64, ptrs[i]);

		/* A shared object would have been overwritten by its twin. */
		if (!p) {
			bad |= 1;
			continue;
		}
		bad |= (p[0] ^ i) | (p[7] ^ ~(u64)i);
	}
	ASSERT_EQ(bad, 0);
	nslabs = r->slab.cls[2].nr_slabs;
	/* 5000 objects of 64 B need at least 5 slabs of 64 KiB. */
	ASSERT_GE(nslabs, 5);
	bpf_for(i, 0, n)
		scx_arena_free(scx_arena_from_u64(void, ptrs[i]));
	/* Empty slabs went back, but for the one the class keeps. */
	ASSERT_LE(r->slab.cls[2].nr_slabs, 2);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_free_of_a_non_object_is_refused_and_reported(void *ctx)
{
	u8 __arena *p = scx_arena_alloc(128);
	u64 errors = scx_arena_last_error.count;

	ASSERT_NONNULL(p);
	/* An interior pointer is not an object. */
	ASSERT_EQ(scx_arena_free(p + 8), -EINVAL);
	ASSERT_EQ(scx_arena_last_error.count, errors + 1);
	/* A page-aligned pointer into the middle of a buddy block neither. */
	p = scx_arena_buddy_alloc(2);
	ASSERT_NONNULL(p);
	ASSERT_EQ(scx_arena_free(p + __PAGE_SIZE), -EINVAL);
	ASSERT_EQ(scx_arena_last_error.count, errors + 2);
	ASSERT_EQ(scx_arena_free(p), 0);
	/* Freeing a buddy block twice is caught by its page state. */
	ASSERT_EQ(scx_arena_buddy_free(p), -EINVAL);
	return 0;
}

SEC("syscall")
int test_bump_aligned_zeroed_and_disjoint(void *ctx)
{
	u64 __arena *a = scx_arena_bump_alloc(24, 8);
	u64 __arena *b = scx_arena_bump_alloc(100, 64);
	u64 __arena *c = scx_arena_bump_alloc(4096, 4096);

	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_EQ(OFF(b) & 63, 0);
	ASSERT_EQ(OFF(c) & 4095, 0);
	ASSERT_GE((u64)b, (u64)a + 24);
	ASSERT_GE((u64)c, (u64)b + 100);
	ASSERT_EQ(a[0] | a[1] | a[2], 0);
	ASSERT_EQ(c[0] | c[511], 0);
	/* Out-of-range requests are refused. */
	ASSERT_NULL(scx_arena_bump_alloc(0, 8));
	ASSERT_NULL(scx_arena_bump_alloc(8, 3));
	ASSERT_NULL(scx_arena_bump_alloc(((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER) + 1, 8));
	return 0;
}

/* Takes whole chunks until the arena is full, then gives them all back. */
SEC("syscall")
int test_exhaustion_returns_null_then_recovers(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 __arena *blocks;
	u64 failed, n, i;

	ASSERT_NONNULL(r);
	/* blocks[0] counts, blocks[1..] hold the chunks. */
	blocks = scx_arena_bump_alloc((SCX_ARENA_MAX_CHUNKS + 1) * 8, 8);
	ASSERT_NONNULL(blocks);
	failed = r->buddy.nr_failed;
	bpf_for(i, 0, SCX_ARENA_MAX_CHUNKS) {
		u64 p = (u64)scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER);

		if (!p)
			break;
		blocks[1 + i] = p;
		/* Counted in memory: a register counter would stop the loop converging. */
		blocks[0] = i + 1;
	}
	n = blocks[0];
	/* The arena (SCX_ARENA_PAGES) ran out before our bound did. */
	ASSERT_LT(n, SCX_ARENA_MAX_CHUNKS);
	ASSERT_GT(n, 8);
	ASSERT_EQ(r->buddy.nr_failed, failed + 1);
	/*
	 * Small objects fail cleanly too, once this CPU's cache and the
	 * class's last slab are used up (a fresh class has none).
	 */
	failed = r->slab.cls[SCX_ARENA_SLAB_NR_CLASSES - 1].nr_failed;
	bpf_for(i, 0, 64) {
		if (!scx_arena_alloc(SCX_ARENA_SLAB_MAX_SIZE))
			break;
	}
	ASSERT_EQ(r->slab.cls[SCX_ARENA_SLAB_NR_CLASSES - 1].nr_failed, failed + 1);
	/* The bump allocator too: its block is partly used, a new one is not to be had. */
	failed = r->bump.nr_failed;
	ASSERT_NULL(scx_arena_bump_alloc((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER, 8));
	ASSERT_EQ(r->bump.nr_failed, failed + 1);
	bpf_for(i, 0, n)
		scx_arena_buddy_free(scx_arena_from_u64(void, blocks[1 + i]));
	/* Recovery: everything is usable again. */
	i = (u64)scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER);
	ASSERT_NE(i, 0);
	scx_arena_buddy_free(scx_arena_from_u64(void, i));
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}
