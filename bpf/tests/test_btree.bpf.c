/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena B+tree (scx_arena/btree.h), and the drivers of
 * tests/btree.rs (programs not named test_*):
 *
 * btree_ops    runs a batch of tree operations that userspace wrote to an
 *              arena buffer on one tree, and writes each result back for a
 *              BTreeMap model to check.
 * btree_churn  inserts, removes, looks up and pops random keys on one
 *              locked tree; several threads run it at once.
 */
/*
 * btree_churn cannot disable preemption around its locked operations:
 * insert and remove are global functions that may allocate (or free)
 * arena pages, which may sleep in a syscall program, and the verifier
 * refuses such calls with preemption off. A thread preempted while it holds
 * the lock makes the other wait; the lock's timeout (a second) outlasts a
 * host time slice by far.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/btree.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_btree.h"

char _license[] SEC("license") = "GPL";

/* A zeroed tree. */
static __always_inline struct scx_arena_btree __arena *new_tree(void)
{
	struct scx_arena_btree __arena *t = scx_arena_new(struct scx_arena_btree);

	asm volatile("" : "+r"(t));
	return t;
}

/* Arena scratch: loop state kept in memory, not in loop registers. */
struct scratch {
	u64 n;
	u64 prev;
	u64 sum;
	u64 h;
};

static __always_inline struct scratch __arena *new_scratch(void)
{
	struct scratch __arena *s = scx_arena_new(struct scratch);

	asm volatile("" : "+r"(s));
	return s;
}

/* A permutation of 0 .. n - 1 (n not a multiple of 7919). */
#define PERM(i, n) (((u64)(i) * 7919) % (n))

/*
 * Checks that @t holds exactly the keys k * @step + @base for k < @n, each
 * with value ~key, in order, walking forward with for_each and backward
 * with cursor_prev. A global function: verified once.
 */
int tree_expect(struct scx_arena_btree __arena *t __arg_arena, u64 n, u64 step, u64 base)
{
	struct scx_arena_btree_cursor cur;
	struct scratch __arena *s = new_scratch();
	u64 k, i;

	if (!s)
		return SCX_TEST_FAILED;
	ASSERT_EQ(scx_arena_btree_len(t), n);
	ASSERT_EQ(scx_arena_btree_empty(t), n == 0);
	scx_arena_btree_for_each(&cur, t, n + 10) {
		k = scx_arena_btree_cursor_key(&cur);
		ASSERT_EQ(k, s->n * step + base);
		ASSERT_EQ(scx_arena_btree_cursor_val(&cur), ~k);
		s->n++;
	}
	ASSERT_EQ(s->n, n);
	ASSERT_FALSE(scx_arena_btree_cursor_valid(&cur));
	if (n) {
		ASSERT_EQ(scx_arena_btree_seek_last(t, &cur), 0);
		bpf_for(i, 0, n) {
			ASSERT_TRUE(scx_arena_btree_cursor_valid(&cur));
			ASSERT_EQ(scx_arena_btree_cursor_key(&cur), (n - 1 - i) * step + base);
			scx_arena_btree_cursor_prev(&cur);
		}
		ASSERT_FALSE(scx_arena_btree_cursor_valid(&cur));
	}
	scx_arena_free(s);
	return 0;
}

SEC("syscall")
int test_btree_empty(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scx_arena_btree_cursor cur;
	u64 k = 1, v = 2;

	ASSERT_NONNULL(t);
	ASSERT_EQ(scx_arena_btree_len(t), 0);
	ASSERT_TRUE(scx_arena_btree_empty(t));
	ASSERT_EQ(scx_arena_btree_height(t), 0);
	ASSERT_EQ(scx_arena_btree_lookup(t, 5, &v), -ENOENT);
	ASSERT_NULL(scx_arena_btree_lookup_slot(t, 5));
	ASSERT_FALSE(scx_arena_btree_contains(t, 0));
	ASSERT_EQ(scx_arena_btree_remove(t, 5, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_first(t, &k, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_last(t, &k, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_pop_first(t, &k, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_pop_last(t, &k, &v), -ENOENT);
	ASSERT_EQ(k, 1);
	ASSERT_EQ(v, 2);
	ASSERT_EQ(scx_arena_btree_seek(t, 0, &cur), -ENOENT);
	ASSERT_FALSE(scx_arena_btree_cursor_valid(&cur));
	ASSERT_EQ(scx_arena_btree_cursor_next(&cur), -ENOENT);
	ASSERT_EQ(scx_arena_btree_cursor_prev(&cur), -ENOENT);
	ASSERT_EQ(scx_arena_btree_seek_first(t, &cur), -ENOENT);
	ASSERT_EQ(scx_arena_btree_seek_last(t, &cur), -ENOENT);
	ASSERT_OK(tree_expect(t, 0, 1, 0));
	ASSERT_EQ(scx_arena_btree_destroy(t), 0);
	ASSERT_EQ(t->nr_nodes, 0);
	return 0;
}

SEC("syscall")
int test_btree_one_key(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scx_arena_btree_cursor cur;
	u64 k = 0, v = 0;

	ASSERT_NONNULL(t);
	ASSERT_EQ(scx_arena_btree_insert(t, 42, ~42ull), 0);
	ASSERT_EQ(scx_arena_btree_len(t), 1);
	ASSERT_EQ(scx_arena_btree_height(t), 1);
	ASSERT_EQ(t->nr_nodes, 1);
	ASSERT_OK(tree_expect(t, 1, 1, 42));
	ASSERT_EQ(scx_arena_btree_lookup(t, 42, &v), 0);
	ASSERT_EQ(v, ~42ull);
	ASSERT_EQ(scx_arena_btree_lookup(t, 41, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_lookup(t, 43, &v), -ENOENT);

	/* Duplicates: insert refuses, upsert replaces. */
	ASSERT_EQ(scx_arena_btree_insert(t, 42, 7), -EEXIST);
	ASSERT_EQ(scx_arena_btree_lookup(t, 42, &v), 0);
	ASSERT_EQ(v, ~42ull);
	ASSERT_EQ(scx_arena_btree_upsert(t, 42, 7), 1);
	ASSERT_EQ(scx_arena_btree_lookup(t, 42, &v), 0);
	ASSERT_EQ(v, 7);
	*scx_arena_btree_lookup_slot(t, 42) = ~42ull;
	ASSERT_EQ(scx_arena_btree_len(t), 1);

	ASSERT_EQ(scx_arena_btree_first(t, &k, &v), 0);
	ASSERT_EQ(k, 42);
	ASSERT_EQ(v, ~42ull);
	k = v = 0;
	ASSERT_EQ(scx_arena_btree_last(t, &k, &v), 0);
	ASSERT_EQ(k, 42);
	ASSERT_EQ(v, ~42ull);

	/* lower bound below, at, above the key. */
	ASSERT_EQ(scx_arena_btree_seek(t, 0, &cur), 0);
	ASSERT_EQ(scx_arena_btree_cursor_key(&cur), 42);
	ASSERT_EQ(scx_arena_btree_seek(t, 42, &cur), 0);
	ASSERT_EQ(scx_arena_btree_cursor_key(&cur), 42);
	ASSERT_EQ(scx_arena_btree_cursor_next(&cur), -ENOENT);
	ASSERT_EQ(scx_arena_btree_seek(t, 43, &cur), -ENOENT);

	ASSERT_EQ(scx_arena_btree_remove(t, 41, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_remove(t, 42, &v), 0);
	ASSERT_EQ(v, ~42ull);
	ASSERT_EQ(scx_arena_btree_remove(t, 42, &v), -ENOENT);
	ASSERT_OK(tree_expect(t, 0, 1, 0));
	ASSERT_EQ(t->nr_nodes, 0);
	ASSERT_EQ(t->root, 0);
	ASSERT_EQ(t->first, 0);
	ASSERT_EQ(t->last, 0);
	ASSERT_EQ(t->height, 0);

	/* The extremes of the key space. */
	ASSERT_EQ(scx_arena_btree_insert(t, ~0ull, 0), 0);
	ASSERT_EQ(scx_arena_btree_insert(t, 0, ~0ull), 0);
	ASSERT_EQ(scx_arena_btree_pop_last(t, &k, &v), 0);
	ASSERT_EQ(k, ~0ull);
	ASSERT_EQ(scx_arena_btree_pop_first(t, &k, &v), 0);
	ASSERT_EQ(k, 0);
	ASSERT_EQ(v, ~0ull);
	ASSERT_TRUE(scx_arena_btree_empty(t));
	return 0;
}

#define BIG 2500

SEC("syscall")
int test_btree_splits_and_merges(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	u64 i, k, v;

	ASSERT_NONNULL(t);
	/* Scattered inserts of 0 .. BIG - 1, each checked at once. */
	bpf_for(i, 0, BIG) {
		k = PERM(i, BIG);
		ASSERT_EQ(scx_arena_btree_insert(t, k, ~k), 0);
		ASSERT_EQ(scx_arena_btree_len(t), i + 1);
		ASSERT_EQ(scx_arena_btree_lookup(t, k, &v), 0);
		ASSERT_EQ(v, ~k);
	}
	ASSERT_GE(scx_arena_btree_height(t), 3);
	ASSERT_OK(tree_expect(t, BIG, 1, 0));
	bpf_for(i, 0, BIG) {
		ASSERT_EQ(scx_arena_btree_insert(t, i, 0), -EEXIST);
	}
	/* Remove the odd keys (scattered), then the rest in reverse. */
	bpf_for(i, 0, BIG) {
		k = PERM(i, BIG);
		if (!(k & 1))
			continue;
		ASSERT_EQ(scx_arena_btree_remove(t, k, &v), 0);
		ASSERT_EQ(v, ~k);
		ASSERT_EQ(scx_arena_btree_remove(t, k, &v), -ENOENT);
	}
	ASSERT_OK(tree_expect(t, BIG / 2, 2, 0));
	bpf_for(i, 0, BIG / 2) {
		k = (BIG / 2 - 1 - i) * 2;
		ASSERT_EQ(scx_arena_btree_remove(t, k, &v), 0);
		ASSERT_EQ(v, ~k);
		ASSERT_EQ(scx_arena_btree_len(t), BIG / 2 - 1 - i);
	}
	ASSERT_OK(tree_expect(t, 0, 1, 0));
	ASSERT_EQ(scx_arena_btree_height(t), 0);
	ASSERT_EQ(t->nr_nodes, 0);
	return 0;
}

SEC("syscall")
int test_btree_lower_bound(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scx_arena_btree_cursor cur;
	u64 i, want;

	ASSERT_NONNULL(t);
	/* Keys 10, 20, .., 1000 (several leaves). */
	bpf_for(i, 1, 101)
		ASSERT_EQ(scx_arena_btree_insert(t, i * 10, ~(i * 10)), 0);
	ASSERT_GE(scx_arena_btree_height(t), 2);
	/* At, between and before every key, across leaf boundaries. */
	bpf_for(i, 0, 1001) {
		want = i <= 10 ? 10 : (i + 9) / 10 * 10;
		ASSERT_EQ(scx_arena_btree_seek(t, i, &cur), 0);
		ASSERT_EQ(scx_arena_btree_cursor_key(&cur), want);
		ASSERT_EQ(scx_arena_btree_cursor_val(&cur), ~want);
	}
	/* After the last key. */
	ASSERT_EQ(scx_arena_btree_seek(t, 1001, &cur), -ENOENT);
	ASSERT_EQ(scx_arena_btree_seek(t, ~0ull, &cur), -ENOENT);
	/* Stale separators (removed keys) still bound correctly. */
	bpf_for(i, 1, 101) {
		if (i % 3)
			continue;
		ASSERT_EQ(scx_arena_btree_remove(t, i * 10, NULL), 0);
	}
	bpf_for(i, 0, 1001) {
		want = i <= 10 ? 10 : (i + 9) / 10 * 10;
		if (want % 30 == 0)
			want += 10;
		ASSERT_EQ(scx_arena_btree_seek(t, i, &cur), 0);
		ASSERT_EQ(scx_arena_btree_cursor_key(&cur), want);
	}
	return 0;
}

SEC("syscall")
int test_btree_range_scan(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scx_arena_btree_cursor cur;
	struct scratch __arena *s = new_scratch();
	u64 i, k;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(s);
	/* Keys 0, 3, 6, .., 897. */
	bpf_for(i, 0, 300)
		ASSERT_EQ(scx_arena_btree_insert(t, i * 3, ~(i * 3)), 0);
	ASSERT_OK(tree_expect(t, 300, 3, 0));

	/* [10, 100): 12 .. 99, 30 keys. */
	s->n = 0;
	s->prev = 9;
	scx_arena_btree_for_each_range(&cur, t, 10, 100, 1000) {
		k = scx_arena_btree_cursor_key(&cur);
		ASSERT_EQ(k, s->prev + 3);
		ASSERT_EQ(k % 3, 0);
		ASSERT_EQ(scx_arena_btree_cursor_val(&cur), ~k);
		s->prev = k;
		s->n++;
	}
	ASSERT_EQ(s->n, 30);
	ASSERT_EQ(s->prev, 99);
	ASSERT_EQ(scx_arena_btree_cursor_key(&cur), 102);

	/* max bounds the walk; break keeps the cursor. */
	s->n = 0;
	scx_arena_btree_for_each_range(&cur, t, 0, ~0ull, 7)
		s->n++;
	ASSERT_EQ(s->n, 7);
	scx_arena_btree_for_each_range(&cur, t, 0, ~0ull, 1000) {
		if (scx_arena_btree_cursor_key(&cur) >= 450)
			break;
	}
	ASSERT_EQ(scx_arena_btree_cursor_key(&cur), 450);

	/* Empty ranges: lo == hi, lo > hi, between keys, past the end. */
	s->n = 0;
	scx_arena_btree_for_each_range(&cur, t, 30, 30, 1000)
		s->n++;
	scx_arena_btree_for_each_range(&cur, t, 60, 30, 1000)
		s->n++;
	scx_arena_btree_for_each_range(&cur, t, 31, 33, 1000)
		s->n++;
	scx_arena_btree_for_each_range(&cur, t, 898, ~0ull, 1000)
		s->n++;
	ASSERT_EQ(s->n, 0);
	/* One key; the whole tree. */
	scx_arena_btree_for_each_range(&cur, t, 31, 34, 1000)
		s->n++;
	ASSERT_EQ(s->n, 1);
	s->n = 0;
	scx_arena_btree_for_each_range(&cur, t, 0, ~0ull, 1000)
		s->n++;
	ASSERT_EQ(s->n, 300);

	/* Values may be changed in place through the cursor. */
	scx_arena_btree_for_each_range(&cur, t, 0, 30, 1000)
		*scx_arena_btree_cursor_slot(&cur) = 5;
	ASSERT_EQ(scx_arena_btree_lookup(t, 27, &k), 0);
	ASSERT_EQ(k, 5);
	ASSERT_EQ(scx_arena_btree_lookup(t, 30, &k), 0);
	ASSERT_EQ(k, ~30ull);
	scx_arena_free(s);
	return 0;
}

SEC("syscall")
int test_btree_pop_drains_in_order(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	u64 i, k, v;

	ASSERT_NONNULL(t);
	bpf_for(i, 0, 1000) {
		k = PERM(i, 1000);
		ASSERT_EQ(scx_arena_btree_insert(t, k, ~k), 0);
	}
	/* Minimum from the front, maximum from the back. */
	bpf_for(i, 0, 500) {
		ASSERT_EQ(scx_arena_btree_pop_first(t, &k, &v), 0);
		ASSERT_EQ(k, i);
		ASSERT_EQ(v, ~i);
		ASSERT_EQ(scx_arena_btree_first(t, &k, NULL), 0);
		ASSERT_EQ(k, i + 1);
	}
	bpf_for(i, 0, 500) {
		ASSERT_EQ(scx_arena_btree_pop_last(t, &k, &v), 0);
		ASSERT_EQ(k, 999 - i);
		ASSERT_EQ(v, ~k);
	}
	ASSERT_EQ(scx_arena_btree_pop_first(t, &k, &v), -ENOENT);
	ASSERT_EQ(t->nr_nodes, 0);
	return 0;
}

SEC("syscall")
int test_btree_destroy_with_elements(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	u64 i, k, nodes;

	ASSERT_NONNULL(t);
	bpf_for(i, 0, BIG) {
		k = PERM(i, BIG);
		ASSERT_EQ(scx_arena_btree_insert(t, k, ~k), 0);
	}
	nodes = t->nr_nodes;
	ASSERT_GT(nodes, BIG / SCX_ARENA_BTREE_MAX);
	ASSERT_EQ(scx_arena_btree_destroy(t), nodes);
	ASSERT_OK(tree_expect(t, 0, 1, 0));
	ASSERT_EQ(t->nr_nodes, 0);
	/* The tree is usable again. */
	ASSERT_EQ(scx_arena_btree_insert(t, 3, ~3ull), 0);
	ASSERT_OK(tree_expect(t, 1, 1, 3));
	ASSERT_EQ(scx_arena_btree_destroy(t), 1);
	return 0;
}

/*
 * Every insert of a growing tree is first tried with its first, then its
 * second node allocation failing: a failed insert must return -ENOMEM and
 * leave the keys, the node count and the shape as they were (the retry
 * then succeeds). Splits of up to three levels at once are among them.
 */
SEC("syscall")
int test_btree_enomem_leaves_the_tree_unchanged(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scratch __arena *s = new_scratch();
	u64 i, k, nodes, height;
	int ret;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(s);
	bpf_for(i, 0, BIG) {
		k = PERM(i, BIG);
		nodes = t->nr_nodes;
		height = t->height;
		/* The first allocation fails. */
		scx_arena_btree_fail_alloc = 1;
		ret = scx_arena_btree_insert(t, k, ~k);
		if (ret) {
			ASSERT_EQ(ret, -ENOMEM);
			ASSERT_EQ(scx_arena_btree_len(t), i);
			ASSERT_EQ(t->nr_nodes, nodes);
			ASSERT_EQ(t->height, height);
			ASSERT_EQ(t->nr_spare, 0);
			ASSERT_FALSE(scx_arena_btree_contains(t, k));
			s->n++;
			/* The second allocation fails (if there is one). */
			scx_arena_btree_fail_alloc = 2;
			ret = scx_arena_btree_insert(t, k, ~k);
			if (ret) {
				ASSERT_EQ(ret, -ENOMEM);
				ASSERT_EQ(scx_arena_btree_len(t), i);
				ASSERT_EQ(t->nr_nodes, nodes);
				ASSERT_EQ(t->height, height);
				ASSERT_FALSE(scx_arena_btree_contains(t, k));
				s->prev++;
				scx_arena_btree_fail_alloc = 0;
				ASSERT_EQ(scx_arena_btree_insert(t, k, ~k), 0);
			}
		}
		scx_arena_btree_fail_alloc = 0;
		ASSERT_EQ(scx_arena_btree_len(t), i + 1);
		if (t->height > height)
			s->h++;
	}
	/*
	 * Failures at every split, including ones needing two new nodes, and
	 * the tree grew to height 3 through them.
	 */
	ASSERT_GT(s->n, BIG / SCX_ARENA_BTREE_MAX);
	ASSERT_GT(s->prev, 0);
	ASSERT_EQ(s->h, 3);
	ASSERT_OK(tree_expect(t, BIG, 1, 0));
	nodes = t->nr_nodes;
	ASSERT_EQ(scx_arena_btree_destroy(t), nodes);
	return 0;
}

SEC("syscall")
int test_btree_locked(void *ctx)
{
	struct scx_arena_btree_locked __arena *bl = scx_arena_new(struct scx_arena_btree_locked);
	u64 k = 0, v = 0;

	ASSERT_NONNULL(bl);
	ASSERT_EQ(scx_arena_btree_locked_len(bl), 0);
	ASSERT_EQ(scx_arena_btree_locked_pop_first(bl, &k, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_locked_insert(bl, 5, 50), 0);
	ASSERT_EQ(scx_arena_btree_locked_insert(bl, 3, 30), 0);
	ASSERT_EQ(scx_arena_btree_locked_insert(bl, 5, 51), -EEXIST);
	ASSERT_EQ(scx_arena_btree_locked_upsert(bl, 5, 52), 1);
	ASSERT_EQ(scx_arena_btree_locked_upsert(bl, 7, 70), 0);
	ASSERT_EQ(scx_arena_btree_locked_len(bl), 3);
	ASSERT_EQ(scx_arena_btree_locked_lookup(bl, 5, &v), 0);
	ASSERT_EQ(v, 52);
	ASSERT_EQ(scx_arena_btree_locked_lower_bound(bl, 4, &k, &v), 0);
	ASSERT_EQ(k, 5);
	ASSERT_EQ(scx_arena_btree_locked_lower_bound(bl, 8, &k, &v), -ENOENT);
	ASSERT_EQ(scx_arena_btree_locked_pop_first(bl, &k, &v), 0);
	ASSERT_EQ(k, 3);
	ASSERT_EQ(v, 30);
	ASSERT_EQ(scx_arena_btree_locked_remove(bl, 7, &v), 0);
	ASSERT_EQ(v, 70);
	ASSERT_EQ(scx_arena_btree_locked_remove(bl, 7, &v), -ENOENT);
	ASSERT_EQ(scx_arena_lock_holder(&bl->lock), -1);
	ASSERT_EQ(scx_arena_btree_locked_destroy(bl), 1);
	ASSERT_EQ(scx_arena_btree_locked_len(bl), 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_btree_locked_held_lock_times_out(void *ctx)
{
	static const char want_msg[] = "lock timeout: btree (held by cpu ";
	struct scx_arena_btree_locked __arena *bl = scx_arena_new(struct scx_arena_btree_locked);
	u64 k, v;

	ASSERT_NONNULL(bl);
	ASSERT_EQ(scx_arena_btree_locked_insert(bl, 1, 10), 0);
	held_lock_set(&bl->lock);
	ASSERT_EQ(scx_arena_btree_locked_insert(bl, 2, 20), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want_msg) - 1, want_msg), 0);
	ASSERT_EQ(scx_arena_btree_locked_pop_first(bl, &k, &v), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_btree_locked_remove(bl, 1, &v), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_btree_locked_lookup(bl, 1, &v), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 4);
	ASSERT_EQ(bl->tree.nr, 1);
	held_lock_clear(&bl->lock);
	ASSERT_EQ(scx_arena_btree_locked_pop_first(bl, &k, &v), 0);
	ASSERT_EQ(k, 1);
	ASSERT_EQ(v, 10);
	return 0;
}

struct task {
	u64 pid;
	u64 weight;
};

SCX_ARENA_BTREE_DEFINE(tasks, struct task);

#define ADDR(p)                                                                \
	({                                                                     \
		u64 ___v = (u64)(p);                                           \
		asm volatile("" : "+r"(___v));                                 \
		___v;                                                          \
	})

SEC("syscall")
int test_btree_typed_wrappers(void *ctx)
{
	struct scx_arena_btree __arena *t = new_tree();
	struct scx_arena_btree_locked __arena *bl = scx_arena_new(struct scx_arena_btree_locked);
	struct task __arena *a = scx_arena_new(struct task);
	struct task __arena *b = scx_arena_new(struct task);
	struct task __arena *got;
	struct scx_arena_btree_cursor cur;
	u64 k = 0;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(bl);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	a->pid = 10;
	b->pid = 20;
	ASSERT_EQ(tasks_insert(t, 200, b), 0);
	ASSERT_EQ(tasks_insert(t, 100, a), 0);
	ASSERT_EQ(tasks_insert(t, 100, b), -EEXIST);
	ASSERT_EQ(ADDR(tasks_lookup(t, 200)), ADDR(b));
	ASSERT_NULL(tasks_lookup(t, 300));
	ASSERT_EQ(tasks_lookup(t, 100)->pid, 10);
	ASSERT_EQ(ADDR(tasks_first(t, &k)), ADDR(a));
	ASSERT_EQ(k, 100);
	ASSERT_EQ(scx_arena_btree_seek(t, 101, &cur), 0);
	ASSERT_EQ(tasks_cursor_entry(&cur)->pid, 20);
	ASSERT_EQ(ADDR(tasks_pop_first(t, &k)), ADDR(a));
	ASSERT_EQ(k, 100);
	ASSERT_EQ(ADDR(tasks_remove(t, 200)), ADDR(b));
	ASSERT_NULL(tasks_remove(t, 200));
	ASSERT_NULL(tasks_pop_first(t, &k));

	ASSERT_EQ(tasks_locked_insert(bl, 1, a), 0);
	ASSERT_EQ(tasks_locked_insert(bl, 2, b), 0);
	ASSERT_EQ(tasks_locked_remove(bl, 2, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(b));
	ASSERT_EQ(tasks_locked_remove(bl, 2, &got), -ENOENT);
	ASSERT_NULL(got);
	ASSERT_EQ(tasks_locked_pop_first(bl, &k, &got), 0);
	ASSERT_EQ(k, 1);
	ASSERT_EQ(got->pid, 10);
	ASSERT_EQ(tasks_locked_pop_first(bl, &k, &got), -ENOENT);
	ASSERT_NULL(got);
	return 0;
}

/* ---------------------------------------------------------------------------
 * btree_ops: the driver of the model test.
 */

struct btree_op __arena_global btree_ops_buf[BTREE_OPS_MAX];
struct scx_arena_btree __arena_global btree_ops_tree;

/* Range scans, ascending or descending; count and hash in @op. */
__noinline int run_range(struct btree_op __arena *op __arg_arena)
{
	struct scx_arena_btree __arena *t = &btree_ops_tree;
	struct scx_arena_btree_cursor cur;
	u64 k;

	op->out_val = 0;
	barrier(); /* no memset of arena memory (clang-19) */
	op->out_key = 0;
	if (op->op == BTREE_OP_RANGE) {
		scx_arena_btree_for_each_range(&cur, t, op->key, op->hi, op->max) {
			k = scx_arena_btree_cursor_key(&cur);
			op->out_key = BTREE_RANGE_HASH(op->out_key, k,
						       scx_arena_btree_cursor_val(&cur));
			op->out_val++;
		}
		return 0;
	}
	if (scx_arena_btree_seek_last(t, &cur))
		return 0;
	bpf_repeat(BTREE_OPS_MAX) {
		if (!scx_arena_btree_cursor_valid(&cur) || op->out_val >= op->max)
			break;
		k = scx_arena_btree_cursor_key(&cur);
		if (k < op->key)
			break;
		op->out_key = BTREE_RANGE_HASH(op->out_key, k, scx_arena_btree_cursor_val(&cur));
		op->out_val++;
		scx_arena_btree_cursor_prev(&cur);
	}
	return 0;
}

/* Runs one operation and stores its results in it. */
__noinline int run_op(struct btree_op __arena *op __arg_arena)
{
	struct scx_arena_btree __arena *t = &btree_ops_tree;
	struct scx_arena_btree_cursor cur;
	u64 k = 0, v = 0;
	s64 ret = 0;

	switch (op->op) {
	case BTREE_OP_NOP:
		break;
	case BTREE_OP_INSERT:
		ret = scx_arena_btree_insert(t, op->key, op->val);
		break;
	case BTREE_OP_UPSERT:
		ret = scx_arena_btree_upsert(t, op->key, op->val);
		break;
	case BTREE_OP_REMOVE:
		ret = scx_arena_btree_remove(t, op->key, &v);
		k = op->key;
		break;
	case BTREE_OP_LOOKUP:
		ret = scx_arena_btree_lookup(t, op->key, &v);
		k = op->key;
		break;
	case BTREE_OP_LOWER_BOUND:
		ret = scx_arena_btree_seek(t, op->key, &cur);
		if (!ret) {
			k = scx_arena_btree_cursor_key(&cur);
			v = scx_arena_btree_cursor_val(&cur);
		}
		break;
	case BTREE_OP_FIRST:
		ret = scx_arena_btree_first(t, &k, &v);
		break;
	case BTREE_OP_LAST:
		ret = scx_arena_btree_last(t, &k, &v);
		break;
	case BTREE_OP_POP_FIRST:
		ret = scx_arena_btree_pop_first(t, &k, &v);
		break;
	case BTREE_OP_POP_LAST:
		ret = scx_arena_btree_pop_last(t, &k, &v);
		break;
	case BTREE_OP_RANGE:
	case BTREE_OP_RANGE_BACK:
		op->ret = run_range(op);
		return 0;
	case BTREE_OP_LEN:
		v = scx_arena_btree_len(t);
		break;
	case BTREE_OP_INSERT_FAULT:
		k = t->nr;
		v = t->nr_nodes;
		scx_arena_btree_fail_alloc = op->max;
		ret = scx_arena_btree_insert(t, op->key, op->val);
		scx_arena_btree_fail_alloc = 0;
		if (ret == -ENOMEM) {
			if (t->nr != k || t->nr_nodes != v || t->nr_spare ||
			    scx_arena_btree_contains(t, op->key)) {
				ret = BTREE_FAULT_CHANGED;
				break;
			}
			ret = scx_arena_btree_insert(t, op->key, op->val);
			k = 1;
		} else {
			k = 0;
		}
		v = 0;
		break;
	case BTREE_OP_DESTROY:
		ret = scx_arena_btree_destroy(t);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
	op->out_key = ret < 0 ? 0 : k;
	op->out_val = ret < 0 ? 0 : v;
	return 0;
}

SEC("syscall")
int btree_ops(struct btree_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)btree_ops_buf;
	args->tree = (u64)&btree_ops_tree;
	if (nr > BTREE_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		run_op(&btree_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * btree_churn: the locked tree under concurrent runs.
 */

struct scx_arena_btree_locked __arena_global btree_churn_tree;

/* Per-run counters, in arena memory. */
struct btree_churn_state {
	u64 inserts;
	u64 removes;
	u64 mismatches;
	u64 timeouts;
	u64 failed;
	u64 lookups;
};

/*
 * The steps, one global function each (each holds one inlined locked
 * operation: small frames, one frame less than a step function calling
 * them). They return the operation's result and count a value that does
 * not match its key in @st.
 */
__noinline int churn_insert(u64 key)
{
	return scx_arena_btree_locked_insert(&btree_churn_tree, key, BTREE_CHURN_VAL(key));
}

__noinline int churn_remove(struct btree_churn_state __arena *st __arg_arena, u64 key)
{
	u64 v = 0;
	int ret = scx_arena_btree_locked_remove(&btree_churn_tree, key, &v);

	if (!ret && v != BTREE_CHURN_VAL(key))
		st->mismatches++;
	return ret;
}

__noinline int churn_pop(struct btree_churn_state __arena *st __arg_arena)
{
	u64 k = 0, v = 0;
	int ret = scx_arena_btree_locked_pop_first(&btree_churn_tree, &k, &v);

	if (!ret && v != BTREE_CHURN_VAL(k))
		st->mismatches++;
	return ret;
}

__noinline int churn_lookup(struct btree_churn_state __arena *st __arg_arena, u64 key)
{
	u64 v = 0;
	int ret = scx_arena_btree_locked_lookup(&btree_churn_tree, key, &v);

	if (!ret && v != BTREE_CHURN_VAL(key))
		st->mismatches++;
	return ret;
}

SEC("syscall")
int btree_churn(struct btree_churn_args *args)
{
	struct btree_churn_state __arena *st;
	u64 iters = args->iters, keys = args->keys, it;

	scx_arena_assoc();
	st = scx_arena_new(struct btree_churn_state);
	if (!st)
		return -ENOMEM;
	bpf_for(it, 0, iters) {
		u32 r = bpf_get_prandom_u32();
		u64 key = keys ? (r >> 3) % keys : 0;
		int ret;

		switch (r & 3) {
		case 0:
		case 1:
			ret = churn_insert(key);
			if (!ret)
				st->inserts++;
			break;
		case 2:
			ret = churn_remove(st, key);
			if (!ret)
				st->removes++;
			break;
		default:
			if (r & 4) {
				ret = churn_pop(st);
				if (!ret)
					st->removes++;
			} else {
				ret = churn_lookup(st, key);
				if (!ret)
					st->lookups++;
			}
		}
		if (ret == -ETIMEDOUT)
			st->timeouts++;
		else if (ret == -ENOMEM)
			st->failed++;
	}
	args->inserts = st->inserts;
	args->removes = st->removes;
	args->mismatches = st->mismatches;
	args->timeouts = st->timeouts;
	args->failed = st->failed;
	args->lookups = st->lookups;
	args->tree = (u64)&btree_churn_tree;
	args->errors = scx_arena_last_error.count;
	scx_arena_free(st);
	return 0;
}
