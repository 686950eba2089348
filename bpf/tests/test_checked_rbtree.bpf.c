/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The arena red-black tree (scx_arena/rbtree.h) in checked mode: the
 * library's own accesses stay inside its nodes (no report from clean use),
 * and a node freed while still in a tree is reported as a use after free
 * when the tree next walks over it. Built with SCX_ARENA_CHECKED
 * (tests/build.rs: the test_checked_ prefix).
 */
#include <scx_arena/alloc.h>
#include <scx_arena/rbtree.h>
#include <scx_arena/test.h>
#include "test_checked.h"

char _license[] SEC("license") = "GPL";

struct ck_item {
	u64 id;
	struct scx_arena_rb_node node;
};

SCX_ARENA_RBTREE_DEFINE(ck, struct ck_item, node);

SEC("syscall")
int test_checked_rbtree_clean_use_reports_nothing(void *ctx)
{
	struct scx_arena_rbtree __arena *t = scx_arena_new(struct scx_arena_rbtree);
	struct scx_arena_rbmap __arena *m = scx_arena_new(struct scx_arena_rbmap);
	struct ck_item __arena *it;
	u64 val;
	u32 i;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(m);
	ASSERT_EQ(scx_arena_root()->check.enabled, 1);
	bpf_for(i, 0, 40) {
		/* Not zeroed: the node is initialised, the rest written. */
		it = scx_arena_alloc(sizeof(*it));
		ASSERT_NONNULL(it);
		it->id = i;
		scx_arena_rb_node_init(&it->node);
		ASSERT_EQ(ck_insert_key(t, it, (i * 7) % 13), 0);
		ASSERT_EQ(scx_arena_rbmap_insert(m, i % 5, i), 0);
	}
	it = ck_lower_bound(t, 6);
	ASSERT_NONNULL(it);
	ASSERT_EQ(ck_update_key(t, it, 100), 0);
	ASSERT_NONNULL(ck_next(ck_first(t)));
	ASSERT_NONNULL(ck_prev(ck_last(t)));
	bpf_for(i, 0, 20) {
		it = ck_pop_first(t);
		ASSERT_NONNULL(it);
		ASSERT_EQ(scx_arena_free(it), 0);
		ASSERT_EQ(scx_arena_rbmap_pop_first(m, NULL, &val), 0);
	}
	ASSERT_EQ(scx_arena_rbmap_destroy(m), 20);
	ASSERT_EQ(scx_arena_rbtree_len(t), 20);
	ASSERT_EQ(REPORTS(), 0);
	return 0;
}

SEC("syscall")
int test_checked_rbtree_freed_node_in_tree_is_reported(void *ctx)
{
	struct scx_arena_rbtree __arena *t = scx_arena_new(struct scx_arena_rbtree);
	struct ck_item __arena *a = scx_arena_new(struct ck_item);
	struct ck_item __arena *b = scx_arena_new(struct ck_item);
	struct ck_item __arena *c = scx_arena_new(struct ck_item);

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_EQ(ck_insert_key(t, a, 10), 0);
	ASSERT_EQ(ck_insert_key(t, b, 20), 0);
	ASSERT_EQ(ck_insert_key(t, c, 30), 0);
	/* b is the root; free it without removing it. */
	ASSERT_EQ((u64)t->root, (u64)&b->node);
	ASSERT_EQ(scx_arena_free(b), 0);
	ASSERT_EQ(REPORTS(), 0);
	/* The next search reads b's key. */
	ck_lookup(t, 30);
	ASSERT_GE(REPORTS(), 1);
	ASSERT_EQ(REPORT(0)->kind, SCX_ARENA_BUG_USE_AFTER_FREE);
	ASSERT_EQ(REPORT(0)->obj, (u64)b);
	ASSERT_EQ(REPORT(0)->size, sizeof(struct ck_item));
	return 0;
}
