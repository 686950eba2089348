/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers of the checked-mode tests (test_checked_*.bpf.c, test_asan_*.bpf.c):
 * reading the bug reports that checked mode (scx_arena/check.h) keeps in the
 * allocator root, and asserting on one. Built in checked mode only.
 */
#pragma once

#include <scx_arena/alloc.h>
#include <scx_arena/test.h>

/* Bugs reported so far, including those not kept. */
#define REPORTS() (scx_arena_root()->check.nr_reports)
/* Report @i (0 is the first; only SCX_ARENA_CHECK_REPORTS are kept). */
#define REPORT(i) (&scx_arena_root()->check.reports[(i) & (SCX_ARENA_CHECK_REPORTS - 1)])

_Static_assert((SCX_ARENA_CHECK_REPORTS & (SCX_ARENA_CHECK_REPORTS - 1)) == 0,
	       "REPORT() masks the index");

/*
 * Asserts that report @i is of @kind at @addr, about object @obj of @size
 * bytes allocated at line @line of the calling file. Use with ASSERT_OK().
 */
#define expect_report(i, kind, addr, obj, size, line)                          \
	__expect_report((i), (kind), (addr), (obj), (size), (line), SCX_ARENA_FILE8)

/* expect_report() with the allocation site's file tag @file (a macro
 * argument: __FILE_NAME__ in here would name this header). */
static __always_inline int __expect_report(u32 i, u32 kind, u64 addr, void __arena *obj,
					   u64 size, u32 line, u64 file)
{
	struct scx_arena_bug_report __arena *rep = REPORT(i);

	ASSERT_EQ(rep->kind, kind);
	ASSERT_EQ(rep->addr, addr);
	ASSERT_EQ(rep->obj, (u64)obj);
	ASSERT_EQ(rep->size, size);
	ASSERT_EQ(rep->line, line);
	ASSERT_EQ(*(u64 __arena *)rep->file, file);
	return 0;
}
