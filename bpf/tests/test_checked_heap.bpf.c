/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The arena heap (scx_arena/heap.h) in checked mode: every operation, growth
 * and destroy included, touches only memory it owns (no reports), and an
 * element freed while still in a heap is reported as a use after free when
 * the heap next touches it. Built with SCX_ARENA_CHECKED (tests/build.rs:
 * the test_checked_ prefix).
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/heap.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

struct elem {
	u64 val;
	struct scx_arena_heap_node node;
};

SCX_ARENA_HEAP_DEFINE(el, struct elem, node);

SEC("syscall")
int test_checked_heap_clean_use_reports_nothing(void *ctx)
{
	struct scx_arena_heap __arena *h = scx_arena_new(struct scx_arena_heap);
	struct elem __arena *es = scx_arena_zalloc(100 * sizeof(struct elem));
	struct elem __arena *e;
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(es);
	ASSERT_EQ(scx_arena_root()->check.enabled, 1);
	/* 100 elements: four doublings (16 -> 128), the last array 2 KiB. */
	bpf_for(i, 0, 100)
		ASSERT_EQ(el_push(h, &es[i], (i * 37) % 100), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 128);
	ASSERT_EQ(el_update(h, &es[5], 1000), 0);
	ASSERT_EQ(el_update(h, &es[6], 0), 0);
	ASSERT_EQ(el_remove(h, &es[7]), 0);
	ASSERT_EQ(el_remove(h, &es[7]), -EINVAL);
	e = el_pop(h);
	ASSERT_NONNULL(e);
	ASSERT_EQ(el_key(e), 0);
	ASSERT_NONNULL(el_peek(h));
	/* The last slot in use is in bounds; one past it is not touched. */
	ASSERT_EQ(scx_arena_heap_len(h), 98);
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_checked_heap_freed_element_in_heap_is_reported(void *ctx)
{
	struct scx_arena_heap __arena *h = scx_arena_new(struct scx_arena_heap);
	u32 line = __LINE__ + 1;
	struct elem __arena *a = scx_arena_alloc(sizeof(struct elem));
	struct elem __arena *b = scx_arena_new(struct elem);
	struct scx_arena_bug_report __arena *rep;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(el_push(h, a, 1), 0);
	ASSERT_EQ(el_push(h, b, 2), 0);
	ASSERT_EQ(REPORTS(), 0);
	/* The bug: a is freed while still in the heap. */
	ASSERT_EQ(scx_arena_free(a), 0);
	ASSERT_EQ(REPORTS(), 0);
	/* pop hands back a and marks its node: a write to freed memory. */
	el_pop(h);
	ASSERT_GE(REPORTS(), 1);
	rep = REPORT(0);
	ASSERT_EQ(rep->kind, SCX_ARENA_BUG_USE_AFTER_FREE);
	ASSERT_EQ(rep->obj, (u64)a);
	ASSERT_EQ(rep->size, sizeof(struct elem));
	ASSERT_EQ(rep->line, line);
	ASSERT_GE(scx_arena_last_error.count, 1);
	return 0;
}
