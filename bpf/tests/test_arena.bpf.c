/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena core: the page wrapper, its accounting, and a linked
 * structure built and walked in arena memory.
 */
#include <scx_arena/arena.h>
#include <scx_arena/test.h>
#include "test_arena.h"

char _license[] SEC("license") = "GPL";

/* A map of the test's own, beside the library's: both must link and load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} own_map SEC(".maps");

#define WORDS_PER_PAGE (__PAGE_SIZE / sizeof(u64))

SEC("syscall")
int test_pages_alloc_zeroed_and_writable(void *ctx)
{
	u64 __arena *p;
	u64 before = scx_arena_page_stats.nr_pages;
	u32 i;

	p = scx_arena_pages_alloc(1);
	ASSERT_NONNULL(p);
	ASSERT_EQ((u64)p % __PAGE_SIZE, 0);
	ASSERT_EQ(scx_arena_page_stats.nr_pages, before + 1);

	bpf_for(i, 0, WORDS_PER_PAGE) {
		ASSERT_EQ(p[i], 0);
		p[i] = i * 3;
	}
	bpf_for(i, 0, WORDS_PER_PAGE)
		ASSERT_EQ(p[i], i * 3);

	scx_arena_pages_free(p, 1);
	ASSERT_EQ(scx_arena_page_stats.nr_pages, before);
	ASSERT_GE(scx_arena_page_stats.nr_pages_peak, before + 1);
	return 0;
}

SEC("syscall")
int test_own_map_links_beside_the_arena(void *ctx)
{
	u32 key = 2;
	u64 *v = bpf_map_lookup_elem(&own_map, &key);
	u64 __arena *p = scx_arena_pages_alloc(1);

	ASSERT_NONNULL(v);
	ASSERT_NONNULL(p);
	*v = 7;
	*p = *v;
	ASSERT_EQ(*p, 7);
	scx_arena_pages_free(p, 1);
	return 0;
}

SEC("syscall")
int test_pages_multi_page_blocks_are_disjoint(void *ctx)
{
	u8 __arena *a, *b;

	a = scx_arena_pages_alloc(4);
	b = scx_arena_pages_alloc(2);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	/* [a, a + 4 pages) and [b, b + 2 pages) must not overlap. */
	ASSERT_TRUE(b >= a + 4 * __PAGE_SIZE || a >= b + 2 * __PAGE_SIZE);

	/* The last byte of each block is mapped and private to it. */
	a[4 * __PAGE_SIZE - 1] = 0xaa;
	b[2 * __PAGE_SIZE - 1] = 0xbb;
	ASSERT_EQ(a[4 * __PAGE_SIZE - 1], 0xaa);
	ASSERT_EQ(b[2 * __PAGE_SIZE - 1], 0xbb);

	scx_arena_pages_free(a, 4);
	scx_arena_pages_free(b, 2);
	return 0;
}

SEC("syscall")
int test_pages_exhaustion_returns_null_and_counts(void *ctx)
{
	u64 failed = scx_arena_page_stats.nr_failed;
	u64 in_use = scx_arena_page_stats.nr_pages;
	void __arena *p;

	/* More pages than the whole arena reserves can never succeed. */
	p = scx_arena_pages_alloc(SCX_ARENA_PAGES + 1);
	ASSERT_NULL(p);
	ASSERT_EQ(scx_arena_page_stats.nr_failed, failed + 1);
	ASSERT_EQ(scx_arena_page_stats.nr_pages, in_use);

	/* The arena still works afterwards. */
	p = scx_arena_pages_alloc(1);
	ASSERT_NONNULL(p);
	scx_arena_pages_free(p, 1);
	return 0;
}

/* Builds a list of @nr nodes holding 1..nr in one block; returns its head. */
static struct test_node __arena *list_build(u64 nr)
{
	struct test_node __arena *nodes, *head = NULL;
	u32 pages = (nr * sizeof(*nodes) + __PAGE_SIZE - 1) / __PAGE_SIZE;
	u32 i;

	if (!nr || nr > TEST_LIST_MAX)
		return NULL;
	nodes = scx_arena_pages_alloc(pages);
	if (!nodes)
		return NULL;

	/* Push nr..1 at the head so the list reads 1..nr. */
	bpf_for(i, 0, nr) {
		struct test_node __arena *n = &nodes[nr - 1 - i];

		n->val = nr - i;
		n->next = head;
		head = n;
	}
	return head;
}

SEC("syscall")
int test_list_build_and_walk(void *ctx)
{
	struct test_node __arena *n;
	u64 sum = 0, prev = 0, gaps = 0;
	u32 i;

	n = list_build(1000);
	ASSERT_NONNULL(n);
	bpf_for(i, 0, TEST_LIST_MAX) {
		u64 val;

		if (!n)
			break;
		val = n->val;
		/*
		 * Accumulate mismatches and assert once after the loop. A
		 * branch on val inside the loop would let the verifier learn
		 * val exactly (prev starts as the constant 0), every iteration
		 * would become a new state and the loop would never converge
		 * ("sequence of 8193 jumps is too complex").
		 */
		gaps |= val - prev - 1;
		prev = val;
		sum += val;
		n = n->next;
	}
	ASSERT_EQ(gaps, 0);
	/* Values step by one from 1, so the last one is the length. */
	ASSERT_EQ(prev, 1000);
	ASSERT_EQ(sum, 1000 * 1001 / 2);
	return 0;
}

/*
 * Not a test: builds a list for the Rust side to read through the arena
 * mmap (tests/arena_view.rs).
 */
SEC("syscall")
int arena_list_build(struct test_list_args *args)
{
	struct test_node __arena *head = list_build(args->nr);

	if (!head)
		return 1;
	args->head = (u64)head;
	return 0;
}

/*
 * Not a test: an assertion that must fail, so tests/bpf_harness.rs can check
 * the harness reports file, line and both values.
 */
SEC("syscall")
int harness_failing_assert(void *ctx)
{
	volatile s64 got = -41;

	ASSERT_EQ(got, 42);
	return 0;
}
