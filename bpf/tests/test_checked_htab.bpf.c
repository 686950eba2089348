/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hash table (scx_arena/htab.h) in checked mode (scx_arena/check.h): an
 * element freed while still in a table is reported as a use after free by
 * the next operation that walks over it; a table used correctly reports
 * nothing. Built with SCX_ARENA_CHECKED (the test_checked_ prefix).
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/htab.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

struct elem {
	u64 val;
	struct scx_arena_htab_node node;
};

SCX_ARENA_HTAB_DEFINE(elem, struct elem, node);

SEC("syscall")
int test_checked_htab_clean_use_reports_nothing(void *ctx)
{
	struct scx_arena_htab __arena *h = scx_arena_new(struct scx_arena_htab);
	struct elem __arena *a = scx_arena_new(struct elem);
	struct elem __arena *b = scx_arena_new(struct elem);

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_htab_init(h, 1), 0);
	h->capacity = 2; /* one bucket: a chain of two */
	ASSERT_EQ(elem_insert(h, 1, a), 0);
	ASSERT_EQ(elem_insert(h, 2, b), 0);
	ASSERT_NONNULL(elem_lookup(h, 1));
	ASSERT_EQ(elem_delete(h, 2, NULL), 0);
	ASSERT_EQ(scx_arena_free(b), 0);
	ASSERT_NONNULL(elem_lookup(h, 1));
	ASSERT_EQ(elem_destroy(h), 0);
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_checked_htab_freed_element_in_table_is_reported(void *ctx)
{
	struct scx_arena_htab __arena *h = scx_arena_new(struct scx_arena_htab);
	struct scx_arena_bug_report __arena *rep;
	struct elem __arena *a = scx_arena_new(struct elem);
	u32 line = __LINE__ + 1;
	struct elem __arena *b = scx_arena_new(struct elem);

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_htab_init(h, 1), 0);
	h->capacity = 2;
	ASSERT_EQ(elem_insert(h, 1, a), 0);
	ASSERT_EQ(elem_insert(h, 2, b), 0); /* b is the chain's head */
	/* The bug: b freed while still in the table. */
	ASSERT_EQ(scx_arena_free(b), 0);
	ASSERT_EQ(REPORTS(), 0);
	/* Looking up a's key walks over b. */
	elem_lookup(h, 1);
	ASSERT_GE(REPORTS(), 1);
	rep = REPORT(0);
	ASSERT_EQ(rep->kind, SCX_ARENA_BUG_USE_AFTER_FREE);
	ASSERT_EQ(rep->obj, (u64)b);
	ASSERT_EQ(rep->size, sizeof(struct elem));
	ASSERT_EQ(rep->line, line);
	return 0;
}
