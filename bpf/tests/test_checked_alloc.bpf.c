/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checked mode ("arena ASAN", scx_arena/check.h): each bug class committed
 * once and reported with the right kind, object, size and allocation site,
 * and the same code without the bug reporting nothing. Built with
 * SCX_ARENA_CHECKED (tests/build.rs: the test_checked_ prefix).
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

SEC("syscall")
int test_checked_mode_is_on(void *ctx)
{
	u64 __arena *p = scx_arena_alloc(8);

	ASSERT_NONNULL(p);
	ASSERT_EQ(scx_arena_root()->check.enabled, 1);
	scx_arena_free(p);
	return 0;
}

SEC("syscall")
int test_checked_overflow_into_redzone_is_reported(void *ctx)
{
	u32 line = __LINE__ + 1;
	u64 __arena *p = scx_arena_alloc(24);

	ASSERT_NONNULL(p);
	scx_arena_st(&p[2], 7);         /* last word: fine */
	ASSERT_EQ(REPORTS(), 0);
	scx_arena_st(&p[3], 7);         /* one past the end: the redzone */
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_OK(expect_report(0, SCX_ARENA_BUG_OVERFLOW, (u64)&p[3], p, 24, line));
	/* Underflow into the header is an overflow too. */
	scx_arena_ld(&p[-1]);
	ASSERT_EQ(REPORTS(), 2);
	ASSERT_EQ(REPORT(1)->kind, SCX_ARENA_BUG_OVERFLOW);
	/* A partial last granule: bytes 0..4 of a 5-byte object only. */
	u8 __arena *b = scx_arena_alloc(5);
	ASSERT_NONNULL(b);
	scx_arena_st(&b[4], 1);
	ASSERT_EQ(REPORTS(), 2);
	scx_arena_st(&b[5], 1);
	ASSERT_EQ(REPORTS(), 3);
	ASSERT_EQ(REPORT(2)->kind, SCX_ARENA_BUG_OVERFLOW);
	ASSERT_EQ(REPORT(2)->size, 5);
	return 0;
}

SEC("syscall")
int test_checked_use_after_free_is_reported(void *ctx)
{
	u32 line = __LINE__ + 1;
	u64 __arena *p = scx_arena_alloc(64);

	ASSERT_NONNULL(p);
	scx_arena_st(&p[0], 1);
	ASSERT_EQ(scx_arena_ld(&p[7]), 0 * 0 + p[7]);
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_free(p), 0);
	scx_arena_ld(&p[0]);
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_OK(expect_report(0, SCX_ARENA_BUG_USE_AFTER_FREE, (u64)p, p, 64, line));
	/* The freed object is not handed out again while in quarantine. */
	ASSERT_NE((u64)scx_arena_alloc(64), (u64)p);
	return 0;
}

SEC("syscall")
int test_checked_double_free_is_reported(void *ctx)
{
	u32 line = __LINE__ + 1;
	u64 __arena *p = scx_arena_alloc(100);

	ASSERT_NONNULL(p);
	ASSERT_EQ(scx_arena_free(p), 0);
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_free(p), -EINVAL);
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_OK(expect_report(0, SCX_ARENA_BUG_DOUBLE_FREE, (u64)p, p, 100, line));
	return 0;
}

SEC("syscall")
int test_checked_invalid_free_is_reported(void *ctx)
{
	u8 __arena *p = scx_arena_alloc(40);

	ASSERT_NONNULL(p);
	ASSERT_EQ(scx_arena_free(p + 8), -EINVAL);
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_EQ(REPORT(0)->kind, SCX_ARENA_BUG_INVALID_FREE);
	ASSERT_EQ(REPORT(0)->addr, (u64)(p + 8));
	/* The object itself is still live and frees cleanly. */
	ASSERT_EQ(scx_arena_free(p), 0);
	ASSERT_EQ(REPORTS(), 1);
	/* Memory the allocator never handed out. */
	ASSERT_EQ(scx_arena_free(scx_arena_pages_alloc(1)), -EINVAL);
	ASSERT_EQ(REPORTS(), 2);
	ASSERT_EQ(REPORT(1)->kind, SCX_ARENA_BUG_INVALID_FREE);
	return 0;
}

/* Frees enough objects to push @p out of the quarantine. */
static __always_inline void flush_quarantine(void)
{
	u32 i;

	bpf_for(i, 0, SCX_ARENA_CHECK_QUARANTINE)
		scx_arena_free(scx_arena_alloc(16));
}

SEC("syscall")
int test_checked_write_after_free_is_found_on_eviction(void *ctx)
{
	u32 line = __LINE__ + 1;
	u64 __arena *p = scx_arena_alloc(48);

	ASSERT_NONNULL(p);
	ASSERT_EQ(scx_arena_free(p), 0);
	p[2] = 0x1234; /* an unchecked write through a dangling pointer */
	ASSERT_EQ(REPORTS(), 0);
	flush_quarantine();
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_EQ(REPORT(0)->kind, SCX_ARENA_BUG_WRITE_AFTER_FREE);
	ASSERT_EQ(REPORT(0)->obj, (u64)p);
	ASSERT_EQ(REPORT(0)->line, line);
	return 0;
}

SEC("syscall")
int test_checked_correct_program_reports_nothing(void *ctx)
{
	u64 __arena *a = scx_arena_alloc(24), *b = scx_arena_zalloc(3000);
	u8 __arena *c = scx_arena_alloc(5);
	u32 i;

	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	bpf_for(i, 0, 3)
		scx_arena_st(&a[i], i);
	bpf_for(i, 0, 375)
		ASSERT_EQ(scx_arena_ld(&b[i]), 0);
	bpf_for(i, 0, 5)
		scx_arena_st(&c[i], 1);
	scx_arena_free(a);
	scx_arena_free(b);
	scx_arena_free(c);
	flush_quarantine();
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

/* Line numbers of the allocations below, for the Rust leak test. */
struct leak_args {
	u64 line_small;
	u64 line_large;
};

/*
 * Not a test: leaves a 24-byte and a 5000-byte object allocated (and frees
 * a third), so tests/alloc.rs can check the leak report names exactly them.
 */
SEC("syscall")
int leak_some(struct leak_args *args)
{
	u64 __arena *a = scx_arena_alloc(24);
	u64 __arena *b = scx_arena_alloc(100);
	u64 __arena *c = scx_arena_alloc(5000);

	args->line_small = __LINE__ - 4;
	args->line_large = __LINE__ - 3;
	if (!a || !b || !c)
		return 1;
	scx_arena_free(b);
	return 0;
}

/* Not a test: the same allocations, all freed: nothing leaks. */
SEC("syscall")
int leak_none(void *ctx)
{
	u64 __arena *a = scx_arena_alloc(24);
	u64 __arena *b = scx_arena_alloc(100);
	u64 __arena *c = scx_arena_alloc(5000);

	if (!a || !b || !c)
		return 1;
	scx_arena_free(a);
	scx_arena_free(b);
	scx_arena_free(c);
	return 0;
}
