/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/test.h - assertions for BPF-side tests.
 *
 * A test is a SEC("syscall") program whose name starts with "test_"; the
 * host harness (scx_arena::testing) finds every such program, runs it through
 * BPF_PROG_TEST_RUN and fails the matching Rust test when it returns nonzero.
 *
 *	SEC("syscall")
 *	int test_pages_roundtrip(void *ctx)
 *	{
 *		u64 __arena *p = scx_arena_pages_alloc(1);
 *
 *		ASSERT_NONNULL(p);
 *		ASSERT_EQ(*p, 0);
 *		return 0;
 *	}
 *
 * A failed assertion records file, line, expression and both values in the
 * scx_test_failure map, where the harness reads them, and returns
 * SCX_TEST_FAILED from the enclosing function. Use the macros in the test
 * program itself or in helpers whose nonzero return the caller propagates
 * (see ASSERT_OK). The first failure wins when several threads run the same
 * object.
 */
#pragma once

#include <scx_arena/arena.h>

#define SCX_TEST_FAILED 1

/* Sizes of the text fields; the Rust side decodes the same layout. */
#define SCX_TEST_FILE_LEN 64
#define SCX_TEST_EXPR_LEN 128

/* Layout shared with scx-arena/src/testing.rs (struct TestFailure). */
struct scx_test_failure {
	u32 failed;   /* 0 until the first failure claims the record */
	u32 line;
	u64 lhs;      /* left value, as raw 64 bits */
	u64 rhs;      /* right value, as raw 64 bits */
	u32 is_signed;/* print lhs/rhs as signed numbers */
	u32 __pad;
	char file[SCX_TEST_FILE_LEN];
	char expr[SCX_TEST_EXPR_LEN];
};

/* One-entry array; a weak definition in every unit, kept once (see arena.h). */
struct scx_test_failure_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scx_test_failure);
};

struct scx_test_failure_map scx_test_failure SEC(".maps") __weak;

/*
 * Copies a string literal into a record field. The size is a compile-time
 * constant, so this is a fixed memcpy from .rodata, which the verifier takes.
 */
#define __scx_test_copy_lit(dst, lit)                                          \
	__builtin_memcpy((dst), (lit),                                         \
			 sizeof(lit) < sizeof(dst) ? sizeof(lit) : sizeof(dst) - 1)

#define __scx_test_signed(x) (((__typeof__(x))-1) < (__typeof__(x))0)

#define __scx_test_fail(l, r, sgn, text)                                       \
	do {                                                                   \
		u32 __key = 0;                                                 \
		struct scx_test_failure *__f =                                 \
			bpf_map_lookup_elem(&scx_test_failure, &__key);        \
		if (__f && __sync_val_compare_and_swap(&__f->failed, 0, 1) == 0) { \
			__f->line = __LINE__;                                  \
			__f->lhs = (u64)(l);                                   \
			__f->rhs = (u64)(r);                                   \
			__f->is_signed = (sgn);                                \
			__scx_test_copy_lit(__f->file, __FILE_NAME__);         \
			__scx_test_copy_lit(__f->expr, text);                  \
		}                                                              \
		return SCX_TEST_FAILED;                                        \
	} while (0)

/* Compares two integers (or pointers) once each; records both on failure. */
#define __SCX_ASSERT_CMP(a, op, b)                                             \
	do {                                                                   \
		__auto_type __a = (a);                                         \
		__auto_type __b = (b);                                         \
		if (!(__a op __b))                                             \
			__scx_test_fail(__a, __b,                              \
					__scx_test_signed(__a) ||              \
						__scx_test_signed(__b),        \
					#a " " #op " " #b);                    \
	} while (0)

/*
 * ASSERT_EQ/NE/LT/LE/GT/GE - compare @a with @b (==, !=, <, <=, >, >=).
 * On failure the test program returns SCX_TEST_FAILED at once, and the
 * report names this file and line, the expression and both values.
 */
#define ASSERT_EQ(a, b) __SCX_ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) __SCX_ASSERT_CMP(a, !=, b)
#define ASSERT_LT(a, b) __SCX_ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) __SCX_ASSERT_CMP(a, <=, b)
#define ASSERT_GT(a, b) __SCX_ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) __SCX_ASSERT_CMP(a, >=, b)

/* Truth of an expression; the values recorded are its result and 1. */
#define ASSERT_TRUE(x)                                                         \
	do {                                                                   \
		if (!(x))                                                      \
			__scx_test_fail(0, 1, 0, #x);                          \
	} while (0)
#define ASSERT_FALSE(x)                                                        \
	do {                                                                   \
		if (x)                                                         \
			__scx_test_fail(1, 0, 0, "!(" #x ")");                 \
	} while (0)

/* ASSERT_NULL/NONNULL - @p is (is not) NULL; reported like ASSERT_EQ. */
#define ASSERT_NULL(p) __SCX_ASSERT_CMP((u64)(p), ==, (u64)0)
#define ASSERT_NONNULL(p) __SCX_ASSERT_CMP((u64)(p), !=, (u64)0)

/*
 * Calls a helper that returns 0 or SCX_TEST_FAILED and propagates a failure,
 * whose details the helper's own assertion already recorded.
 */
#define ASSERT_OK(call)                                                        \
	do {                                                                   \
		if ((call) != 0)                                               \
			return SCX_TEST_FAILED;                                \
	} while (0)
