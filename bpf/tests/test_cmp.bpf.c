/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the jump-free comparisons and selections (scx_arena/cmp.h)
 * against C's own comparison operators: every pair of edge values (around
 * 0, the sign bit and 2^64 - 1), then random pairs, near and far apart.
 */
#include <scx_arena/arena.h>
#include <scx_arena/cmp.h>
#include <scx_arena/test.h>

char _license[] SEC("license") = "GPL";

#define NR_EDGES 12

static const u64 edges[NR_EDGES] = {
	0, 1, 2, 0x7ffffffffffffffeull, 0x7fffffffffffffffull, 0x8000000000000000ull,
	0x8000000000000001ull, 0xfffffffffffffffeull, 0xffffffffffffffffull,
	0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 0x00000000ffffffffull,
};

/* Checks every helper on (@a, @b) against the operators; 0 or the failure. */
static __noinline int check_pair(u64 a, u64 b)
{
	u64 lt = a < b;

	ASSERT_EQ(scx_arena_ltu(a, b), lt);
	ASSERT_EQ(scx_arena_ltu_mask(a, b), (lt ? ~0ull : 0));
	ASSERT_EQ(scx_arena_select(a, b, lt), (lt ? b : a));
	ASSERT_EQ(scx_arena_select_mask(a, b, scx_arena_ltu_mask(a, b)), (lt ? b : a));
	/* The minimum, as cmp.h's example computes it. */
	ASSERT_EQ(scx_arena_select(a, b, scx_arena_ltu(b, a)), (a < b ? a : b));
	return 0;
}

SEC("syscall")
int test_cmp_edge_pairs(void *ctx)
{
	u32 i, j;

	bpf_for(i, 0, NR_EDGES) {
		bpf_for(j, 0, NR_EDGES) {
			ASSERT_OK(check_pair(edges[i], edges[j]));
		}
	}
	return 0;
}

static __always_inline u64 rand64(void)
{
	return ((u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();
}

SEC("syscall")
int test_cmp_random_pairs(void *ctx)
{
	u32 i;

	bpf_for(i, 0, 4096) {
		u64 a = rand64(), b = rand64();
		/* A small signed difference: the borrow's edge cases. */
		u64 near = a + (s64)(s32)(bpf_get_prandom_u32() % 9) - 4;

		ASSERT_OK(check_pair(a, b));
		ASSERT_OK(check_pair(a, near));
		ASSERT_OK(check_pair(near, a));
		ASSERT_OK(check_pair(a, a));
	}
	return 0;
}
