/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The B+tree (scx_arena/btree.h) in checked mode: inserts that split leaves
 * and inner nodes, an insert that fails on an exhausted allocator, lookups,
 * range scans, removes that borrow, merge and shrink the root, and destroy
 * touch only memory the tree owns (no reports); a cursor kept across a
 * remove that frees its leaf is reported as a use after free when it is
 * next read. Built with SCX_ARENA_CHECKED (tests/build.rs: the
 * test_checked_ prefix).
 */
#include <scx_arena/alloc.h>
#include <scx_arena/btree.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

/* Keys of the clean-use test, and a permutation of 0 .. N - 1. */
#define N 1000
#define PERM(i, p) (((u64)(i) * (p)) % N)

/*
 * The phases are global functions, each verified once: inlined into one
 * program, with the checked accessors' calls, they make the verification
 * too long.
 */

/* Inserts the permutation PERM(i, @p) of 0 .. N - 1, value ~key. */
int grow(struct scx_arena_btree __arena *t __arg_arena, u64 p)
{
	u64 i;

	bpf_for(i, 0, N)
		ASSERT_EQ(scx_arena_btree_insert(t, PERM(i, p), ~PERM(i, p)), 0);
	return 0;
}

/* Inserts at the right edge until a split finds the allocator dry. */
int grow_until_enomem(struct scx_arena_btree __arena *t __arg_arena)
{
	u64 i, v, n = 0;
	int ret = 0;

	scx_arena_btree_fail_alloc = 2;
	bpf_for(i, 0, 64) {
		ret = scx_arena_btree_insert(t, N + i, ~(N + i));
		if (ret)
			break;
		n++;
	}
	scx_arena_btree_fail_alloc = 0;
	ASSERT_EQ(ret, -ENOMEM);
	bpf_for(i, 0, n)
		ASSERT_EQ(scx_arena_btree_remove(t, N + i, &v), 0);
	return 0;
}

/*
 * Keys a walk met, in arena memory: a count on the stack is a known
 * constant to the verifier, which then walks the loop key by key.
 */
u64 __arena_global walked;

/* Lookups, both ends, a forward range and a backward walk. */
int reads(struct scx_arena_btree __arena *t __arg_arena)
{
	struct scx_arena_btree_cursor cur;
	u64 i, k, v;

	bpf_for(i, 0, N) {
		ASSERT_EQ(scx_arena_btree_lookup(t, i, &v), 0);
		ASSERT_EQ(v, ~i);
	}
	ASSERT_EQ(scx_arena_btree_first(t, &k, &v), 0);
	ASSERT_EQ(k, 0);
	ASSERT_EQ(scx_arena_btree_last(t, &k, &v), 0);
	ASSERT_EQ(k, N - 1);
	walked = 0;
	scx_arena_btree_for_each_range(&cur, t, 100, 900, N) {
		ASSERT_EQ(scx_arena_btree_cursor_key(&cur), 100 + walked);
		walked++;
	}
	ASSERT_EQ(walked, 800);
	ASSERT_EQ(scx_arena_btree_seek_last(t, &cur), 0);
	bpf_for(i, 0, N) {
		ASSERT_TRUE(scx_arena_btree_cursor_valid(&cur));
		ASSERT_EQ(scx_arena_btree_cursor_key(&cur), N - 1 - i);
		scx_arena_btree_cursor_prev(&cur);
	}
	ASSERT_FALSE(scx_arena_btree_cursor_valid(&cur));
	return 0;
}

/* Removes all but 10 keys in the order PERM(i, @p). */
int shrink(struct scx_arena_btree __arena *t __arg_arena, u64 p)
{
	u64 i, v;

	bpf_for(i, 0, N - 10)
		ASSERT_EQ(scx_arena_btree_remove(t, PERM(i, p), &v), 0);
	return 0;
}

/* Sets @key to @key for every key below N (adding or replacing). */
int upsert_all(struct scx_arena_btree __arena *t __arg_arena)
{
	u64 i;

	bpf_for(i, 0, N)
		ASSERT_GE(scx_arena_btree_upsert(t, i, i), 0);
	return 0;
}

SEC("syscall")
int test_checked_btree_clean_use_reports_nothing(void *ctx)
{
	struct scx_arena_btree __arena *t = scx_arena_new(struct scx_arena_btree);
	u64 k, v, n;

	ASSERT_NONNULL(t);
	ASSERT_EQ(scx_arena_root()->check.enabled, 1);
	/* Scrambled inserts: leaf and inner splits, a new root twice. */
	ASSERT_OK(grow(t, 7919));
	ASSERT_EQ(scx_arena_btree_len(t), N);
	ASSERT_GE(scx_arena_btree_height(t), 3);
	ASSERT_EQ(scx_arena_btree_insert(t, 5, 0), -EEXIST);
	ASSERT_EQ(scx_arena_btree_upsert(t, 5, ~5ull), 1);
	ASSERT_OK(grow_until_enomem(t));
	ASSERT_EQ(scx_arena_btree_len(t), N);
	ASSERT_OK(reads(t));
	/* Removes in another order: borrows, merges, the root shrinks. */
	ASSERT_OK(shrink(t, 7717));
	ASSERT_EQ(scx_arena_btree_height(t), 1);
	ASSERT_EQ(scx_arena_btree_pop_first(t, &k, &v), 0);
	ASSERT_EQ(scx_arena_btree_pop_last(t, &k, &v), 0);
	ASSERT_EQ(scx_arena_btree_len(t), 8);
	/* Grow again and destroy with keys inside. */
	ASSERT_OK(upsert_all(t));
	ASSERT_EQ(scx_arena_btree_len(t), N);
	n = t->nr_nodes;
	ASSERT_EQ(scx_arena_btree_destroy(t), n);
	ASSERT_EQ(scx_arena_btree_len(t), 0);
	ASSERT_EQ(REPORTS(), 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

/* The leaf of a cursor put on @key (0 if none), and its index in *@idx. */
u64 seek_leaf(struct scx_arena_btree __arena *t __arg_arena, u64 key, u32 *idx)
{
	struct scx_arena_btree_cursor cur;

	if (!idx || scx_arena_btree_seek(t, key, &cur))
		return 0;
	*idx = cur.idx;
	return cur.leaf;
}

/* The key under a cursor at @leaf, @idx (what a kept cursor reads). */
u64 cursor_key_at(u64 leaf, u32 idx)
{
	struct scx_arena_btree_cursor cur = { .leaf = leaf, .idx = idx };

	return scx_arena_btree_cursor_key(&cur);
}

SEC("syscall")
int test_checked_btree_stale_cursor_is_reported(void *ctx)
{
	struct scx_arena_btree __arena *t = scx_arena_new(struct scx_arena_btree);
	struct scx_arena_bug_report __arena *rep;
	u64 i, leaf, v;
	u32 idx = 0;

	ASSERT_NONNULL(t);
	/* 31 keys: two leaves, 1..15 and 16..31, under an inner root. */
	bpf_for(i, 1, 32)
		ASSERT_EQ(scx_arena_btree_insert(t, i, i), 0);
	ASSERT_EQ(scx_arena_btree_height(t), 2);
	leaf = seek_leaf(t, 20, &idx);
	ASSERT_NE(leaf, 0);
	ASSERT_EQ(idx, 4);
	ASSERT_EQ(cursor_key_at(leaf, idx), 20);
	ASSERT_EQ(REPORTS(), 0);
	/*
	 * The bug: the cursor outlives a change of the tree. The second
	 * remove leaves the right leaf at its minimum, so it merges into the
	 * left one and is freed, and the root goes.
	 */
	ASSERT_EQ(scx_arena_btree_remove(t, 31, &v), 0);
	ASSERT_EQ(scx_arena_btree_remove(t, 30, &v), 0);
	ASSERT_EQ(scx_arena_btree_height(t), 1);
	ASSERT_EQ(REPORTS(), 0);
	cursor_key_at(leaf, idx);
	ASSERT_GE(REPORTS(), 1);
	rep = REPORT(0);
	ASSERT_EQ(rep->kind, SCX_ARENA_BUG_USE_AFTER_FREE);
	ASSERT_EQ(rep->addr, leaf + offsetof(struct scx_arena_btree_node, keys[4]));
	ASSERT_EQ(rep->obj, leaf);
	ASSERT_EQ(rep->size, sizeof(struct scx_arena_btree_node));
	ASSERT_GE(scx_arena_last_error.count, 1);
	return 0;
}
