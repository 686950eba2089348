/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checked mode with compiler instrumentation (BpfBuild::asan, clang >= 22):
 * bad arena accesses written in plain C, not through scx_arena_ld/st, are
 * reported with the same kind, address, object size and allocation site as
 * the checked accessors' reports, and the same code without the bug reports
 * nothing. Built only when such a clang exists (tests/build.rs: the
 * test_asan_ prefix); otherwise the test says it was skipped.
 *
 * The plain accesses are in the global functions below, which the compiler
 * instruments; the test bodies are not instrumented (no_sanitize): under
 * -fsanitize=kernel-address clang turns every memcpy/memset of an
 * instrumented function, such as the ASSERT macros' copies into the failure
 * record, into a call to an external memcpy/memset, which BPF cannot link.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

#define __no_asan __attribute__((no_sanitize("kernel-address")))

/* Plain C accesses, instrumented: */

int plain_fill(u8 __arena *p __arg_arena, u64 n)
{
	u64 i;

	bpf_for(i, 0, n)
		p[i] = i;
	return 0;
}

int plain_store_u8(u8 __arena *p __arg_arena, u64 i)
{
	p[i] = 1;
	return 0;
}

int plain_store_u64(u64 __arena *p __arg_arena, u64 i)
{
	p[i] = 1;
	return 0;
}

u64 plain_load_u64(u8 __arena *p __arg_arena, u64 off)
{
	return *(u64 __arena *)(p + off);
}

SEC("syscall")
__no_asan int test_asan_in_bounds_plain_accesses_report_nothing(void *ctx)
{
	u8 __arena *p = scx_arena_alloc(24);

	ASSERT_NONNULL(p);
	plain_fill(p, 24);
	plain_store_u64((u64 __arena *)p, 2);
	ASSERT_EQ(plain_load_u64(p, 16), 1);
	ASSERT_EQ(p[23], 0);
	ASSERT_EQ(p[15], 15);
	ASSERT_EQ(REPORTS(), 0);
	scx_arena_free(p);
	ASSERT_EQ(REPORTS(), 0);
	return 0;
}

SEC("syscall")
__no_asan int test_asan_plain_overflow_is_reported(void *ctx)
{
	u32 line = __LINE__ + 1;
	u8 __arena *p = scx_arena_alloc(24);
	u64 v;

	ASSERT_NONNULL(p);
	plain_store_u8(p, 23);          /* last byte: fine */
	ASSERT_EQ(REPORTS(), 0);
	plain_store_u8(p, 24);          /* one past the end: the redzone */
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_OK(expect_report(0, SCX_ARENA_BUG_OVERFLOW, (u64)&p[24], p, 24, line));
	/* An 8-byte load straddling the end (kept: its value is "used"). */
	v = plain_load_u64(p, 20);
	barrier_var(v);
	ASSERT_EQ(REPORTS(), 2);
	ASSERT_EQ(REPORT(1)->kind, SCX_ARENA_BUG_OVERFLOW);
	ASSERT_EQ(REPORT(1)->addr, (u64)&p[24]);
	scx_arena_free(p);
	return 0;
}

SEC("syscall")
__no_asan int test_asan_plain_use_after_free_is_reported(void *ctx)
{
	u32 line = __LINE__ + 1;
	u64 __arena *p = scx_arena_alloc(64);

	ASSERT_NONNULL(p);
	plain_store_u64(p, 7);
	ASSERT_EQ(REPORTS(), 0);
	scx_arena_free(p);
	ASSERT_EQ(REPORTS(), 0);
	plain_store_u64(p, 3);          /* a write through a dangling pointer */
	ASSERT_EQ(REPORTS(), 1);
	ASSERT_OK(expect_report(0, SCX_ARENA_BUG_USE_AFTER_FREE, (u64)&p[3], p, 64, line));
	return 0;
}
