/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena hash table (scx_arena/htab.h), and the drivers of
 * tests/htab.rs (programs not named test_*):
 *
 * htab_ops         runs a batch of table operations that userspace wrote to
 *                  an arena buffer on one table of items from
 *                  scx_arena_alloc(), and writes each result back for a
 *                  HashMap model to check.
 * htab_churn_init  initialises the shared locked table.
 * htab_churn       inserts, deletes and looks up tagged items on the shared
 *                  locked table; several threads run it at once.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/htab.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_htab.h"

char _license[] SEC("license") = "GPL";


struct htab_item {
	u64 val;
	struct scx_arena_htab_node node;
	u64 tag;
};

_Static_assert(sizeof(struct htab_item) == HTAB_ITEM_SIZE, "htab_item layout");
_Static_assert(__builtin_offsetof(struct htab_item, node) == HTAB_ITEM_NODE_OFF,
	       "htab_item layout");
_Static_assert(sizeof(struct scx_arena_htab) == 32, "htab layout");
_Static_assert(sizeof(struct scx_arena_htab_locked) == 40, "htab_locked layout");

SCX_ARENA_HTAB_DEFINE(item, struct htab_item, node);

/* The address of arena pointer @p, hidden from LLVM (see test_list.bpf.c). */
#define ADDR(p)                                                                \
	({                                                                     \
		u64 ___v = (u64)(p);                                           \
		asm volatile("" : "+r"(___v));                                 \
		___v;                                                          \
	})

/* A zeroed item with @val. */
static __always_inline struct htab_item __arena *new_item(u64 val)
{
	struct htab_item __arena *it = scx_arena_new(struct htab_item);

	asm volatile("" : "+r"(it));
	if (it)
		it->val = val;
	return it;
}

static __always_inline struct scx_arena_htab __arena *new_tab(void)
{
	struct scx_arena_htab __arena *h = scx_arena_new(struct scx_arena_htab);

	asm volatile("" : "+r"(h));
	return h;
}

/* Accumulators of htab_expect(), in the arena: out of loop registers. */
u64 __arena_global expect_acc[2];

/*
 * Checks that a walk over @h visits @n items whose keys xor to @x and whose
 * vals are HTAB_VAL(key). A global function: verified once. (It neither
 * allocates nor frees: in checked mode those calls would push the call
 * stack past the verifier's 8 frames.)
 */
int htab_expect(struct scx_arena_htab __arena *h __arg_arena, u64 n, u64 x)
{
	struct scx_arena_htab_node __arena *pos;
	struct scx_arena_htab_iter it;
	u64 __arena *acc = expect_acc;

	asm volatile("" : "+r"(acc));
	acc[0] = 0;
	barrier();
	acc[1] = 0;
	ASSERT_EQ(scx_arena_htab_len(h), n);
	scx_arena_htab_for_each(pos, h, it, 1000) {
		ASSERT_EQ(item_entry(pos)->val, HTAB_VAL(pos->key));
		acc[0]++;
		acc[1] ^= pos->key;
	}
	ASSERT_NULL(pos);
	ASSERT_EQ(acc[0], n);
	ASSERT_EQ(acc[1], x);
	return 0;
}

SEC("syscall")
int test_htab_empty(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	struct scx_arena_htab_node __arena *n;
	struct htab_item __arena *a = new_item(HTAB_VAL(1));

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	/* Zeroed memory: an empty table of capacity 0. */
	ASSERT_EQ(scx_arena_htab_len(h), 0);
	ASSERT_EQ(scx_arena_htab_capacity(h), 0);
	ASSERT_NULL(scx_arena_htab_lookup(h, 1));
	ASSERT_EQ(scx_arena_htab_delete(h, 1, &n), -ENOENT);
	ASSERT_NULL(n);
	ASSERT_EQ(item_insert(h, 1, a), -ENOSPC);
	ASSERT_OK(htab_expect(h, 0, 0));
	ASSERT_EQ(scx_arena_htab_destroy(h, SCX_ARENA_HTAB_KEEP), 0);

	/* Bad capacities; buckets are the next power of two. */
	ASSERT_EQ(scx_arena_htab_init(h, 0), -EINVAL);
	ASSERT_EQ(scx_arena_htab_init(h, SCX_ARENA_HTAB_MAX_CAPACITY + 1), -EINVAL);
	ASSERT_EQ(scx_arena_htab_init(h, 10), 0);
	ASSERT_EQ(h->nr_buckets, 16);
	ASSERT_EQ(scx_arena_htab_capacity(h), 10);
	ASSERT_EQ(scx_arena_htab_init(h, 10), -EBUSY);
	ASSERT_NULL(scx_arena_htab_lookup(h, 0));
	ASSERT_NULL(item_lookup(h, ~0ull));
	ASSERT_EQ(item_delete(h, 5, NULL), -ENOENT);
	ASSERT_OK(htab_expect(h, 0, 0));
	ASSERT_EQ(scx_arena_htab_destroy(h, SCX_ARENA_HTAB_KEEP), 0);
	ASSERT_EQ(h->buckets, 0);
	ASSERT_EQ(scx_arena_htab_capacity(h), 0);

	/* Capacity 1: one bucket. */
	ASSERT_EQ(scx_arena_htab_init(h, 1), 0);
	ASSERT_EQ(h->nr_buckets, 1);
	ASSERT_EQ(scx_arena_htab_bucket(h, 12345), 0);
	ASSERT_EQ(item_insert(h, 7, a), 0);
	ASSERT_EQ(item_insert(h, 8, new_item(HTAB_VAL(8))), -ENOSPC);
	ASSERT_EQ(ADDR(item_lookup(h, 7)), ADDR(a));
	ASSERT_EQ(scx_arena_htab_destroy(h, SCX_ARENA_HTAB_KEEP), 0);
	/* Kept elements come back poisoned. */
	ASSERT_EQ((u64)a->node.next, SCX_ARENA_HTAB_POISON);

	/* The largest bucket array. */
	ASSERT_EQ(scx_arena_htab_init(h, SCX_ARENA_HTAB_MAX_CAPACITY), 0);
	ASSERT_EQ(h->nr_buckets, SCX_ARENA_HTAB_MAX_BUCKETS);
	ASSERT_EQ(scx_arena_htab_destroy(h, SCX_ARENA_HTAB_KEEP), 0);
	return 0;
}

SEC("syscall")
int test_htab_one_element(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	struct htab_item __arena *a = new_item(HTAB_VAL(42)), *b = new_item(HTAB_VAL(42)), *got;
	struct scx_arena_htab_node __arena *n;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_htab_init(h, 4), 0);
	ASSERT_EQ(item_insert(h, 42, a), 0);
	ASSERT_EQ(a->node.key, 42);
	ASSERT_EQ(scx_arena_htab_len(h), 1);
	ASSERT_EQ(ADDR(item_lookup(h, 42)), ADDR(a));
	ASSERT_EQ(ADDR(scx_arena_htab_lookup(h, 42)), ADDR(&a->node));
	ASSERT_NULL(item_lookup(h, 43));
	ASSERT_OK(htab_expect(h, 1, 42));

	/* A duplicate key is refused, whichever node. */
	ASSERT_EQ(item_insert(h, 42, b), -EEXIST);
	ASSERT_EQ(item_insert(h, 42, a), -EEXIST);
	ASSERT_EQ(item_insert(h, 1, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_htab_len(h), 1);

	ASSERT_EQ(item_delete(h, 42, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	ASSERT_EQ((u64)a->node.next, SCX_ARENA_HTAB_POISON);
	ASSERT_EQ(scx_arena_htab_len(h), 0);
	ASSERT_NULL(item_lookup(h, 42));
	ASSERT_EQ(item_delete(h, 42, &got), -ENOENT);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_htab_delete(h, 42, &n), -ENOENT);
	ASSERT_OK(htab_expect(h, 0, 0));

	/* A removed node goes back in; remove by node. */
	ASSERT_EQ(item_insert(h, 42, b), 0);
	ASSERT_EQ(item_remove(h, a), -ENOENT); /* not the node held under 42 */
	ASSERT_EQ(item_remove(h, NULL), -ENOENT);
	ASSERT_EQ(item_remove(h, b), 0);
	ASSERT_EQ(item_remove(h, b), -ENOENT);
	ASSERT_EQ(scx_arena_htab_len(h), 0);
	ASSERT_EQ(item_insert(h, 42, a), 0);
	ASSERT_EQ(item_destroy(h), 0); /* frees a */
	ASSERT_EQ(scx_arena_free(b), 0);
	return 0;
}

SEC("syscall")
int test_htab_colliding_keys(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	u64 __arena *keys = scx_arena_zalloc(8 * sizeof(u64));
	struct htab_item __arena *it;
	u64 k, x = 0;
	u32 b0, i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(keys);
	ASSERT_EQ(scx_arena_htab_init(h, 64), 0);
	/* Four keys of bucket b0 (keys[4] counts them). */
	b0 = scx_arena_htab_bucket(h, 1000);
	bpf_for(k, 1000, 100000) {
		if (scx_arena_htab_bucket(h, k) != b0)
			continue;
		keys[keys[4] & 3] = k;
		if (++keys[4] == 4)
			break;
	}
	ASSERT_EQ(keys[4], 4);
	bpf_for(i, 0, 4) {
		it = new_item(HTAB_VAL(keys[i]));
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_insert(h, keys[i], it), 0);
		x ^= keys[i];
	}
	/* One chain of four, newest first. */
	ASSERT_EQ(ADDR(scx_arena_from_u64(u64, h->buckets)[b0]), ADDR(&item_lookup(h, keys[3])->node));
	bpf_for(i, 0, 4) {
		it = item_lookup(h, keys[i]);
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->val, HTAB_VAL(keys[i]));
	}
	ASSERT_OK(htab_expect(h, 4, x));
	/* Another key of the bucket that is not there. */
	bpf_for(k, keys[3] + 1, keys[3] + 100000) {
		if (scx_arena_htab_bucket(h, k) == b0) {
			keys[5] = k;
			break;
		}
	}
	ASSERT_NE(keys[5], 0);
	ASSERT_NULL(item_lookup(h, keys[5]));
	ASSERT_EQ(item_delete(h, keys[5], NULL), -ENOENT);

	/* Middle of the chain (keys[1]), head (keys[3]), tail (keys[0]). */
	ASSERT_EQ(item_delete(h, keys[1], &it), 0);
	ASSERT_EQ(it->val, HTAB_VAL(keys[1]));
	ASSERT_OK(htab_expect(h, 3, x ^ keys[1]));
	ASSERT_EQ(item_delete(h, keys[3], &it), 0);
	ASSERT_OK(htab_expect(h, 2, x ^ keys[1] ^ keys[3]));
	ASSERT_EQ(item_delete(h, keys[0], &it), 0);
	ASSERT_OK(htab_expect(h, 1, keys[2]));
	ASSERT_NONNULL(item_lookup(h, keys[2]));
	ASSERT_NULL(item_lookup(h, keys[0]));
	ASSERT_NULL(item_lookup(h, keys[1]));
	ASSERT_NULL(item_lookup(h, keys[3]));
	ASSERT_EQ(item_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_htab_full(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	struct htab_item __arena *extra = new_item(HTAB_VAL(3));
	struct htab_item __arena *it;
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(extra);
	ASSERT_EQ(scx_arena_htab_init(h, 3), 0);
	ASSERT_EQ(h->nr_buckets, 4);
	bpf_for(i, 0, 3) {
		it = new_item(HTAB_VAL(i));
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_insert(h, i, it), 0);
	}
	ASSERT_EQ(item_insert(h, 3, extra), -ENOSPC);
	/* Full, but a duplicate is still reported as one. */
	ASSERT_EQ(item_insert(h, 1, extra), -EEXIST);
	ASSERT_EQ(scx_arena_htab_len(h), 3);
	ASSERT_NULL(item_lookup(h, 3));
	ASSERT_OK(htab_expect(h, 3, 0 ^ 1 ^ 2));
	/* Room again after a delete. */
	ASSERT_EQ(item_delete(h, 0, &it), 0);
	ASSERT_EQ(scx_arena_free(it), 0);
	ASSERT_EQ(item_insert(h, 3, extra), 0);
	ASSERT_OK(htab_expect(h, 3, 1 ^ 2 ^ 3));
	ASSERT_EQ(item_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_htab_iteration_and_delete_while_iterating(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	struct scx_arena_htab_node __arena *pos;
	struct scx_arena_htab_iter it = SCX_ARENA_HTAB_ITER_INIT;
	u64 __arena *cnt = scx_arena_zalloc(2 * sizeof(u64));
	struct htab_item __arena *e;
	u64 x = 0, odd = 0;
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(cnt);
	/* 4 buckets for 40 keys would not fit the capacity: 64 buckets. */
	ASSERT_EQ(scx_arena_htab_init(h, 40), 0);
	bpf_for(i, 0, 40) {
		e = new_item(HTAB_VAL(i * 7));
		ASSERT_NONNULL(e);
		ASSERT_EQ(item_insert(h, i * 7, e), 0);
		x ^= i * 7;
		if ((i * 7) & 1)
			odd ^= i * 7;
	}
	ASSERT_OK(htab_expect(h, 40, x));
	/* max bounds the walk. */
	scx_arena_htab_for_each(pos, h, it, 5)
		cnt[0]++;
	ASSERT_EQ(cnt[0], 5);
	/* A cursor by hand: every node once, then NULL for good. */
	it.bucket = 0;
	it.next = 0;
	cnt[0] = 0;
	bpf_for(i, 0, 50) {
		if (!scx_arena_htab_iter_next(h, &it))
			break;
		cnt[0]++;
	}
	ASSERT_EQ(cnt[0], 40);
	ASSERT_NULL(scx_arena_htab_iter_next(h, &it));

	/* Delete (and free) the current node while iterating. */
	scx_arena_htab_for_each(pos, h, it, 100) {
		if (pos->key & 1)
			continue;
		e = item_entry(pos);
		ASSERT_EQ(item_remove(h, e), 0);
		ASSERT_EQ(scx_arena_free(e), 0);
		cnt[1]++;
	}
	ASSERT_EQ(cnt[1], 20);
	ASSERT_OK(htab_expect(h, 20, odd));
	ASSERT_EQ(item_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_htab_extreme_keys(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	u64 keys[4] = { 0, ~0ull, 1ull << 63, 0x100000000ull };
	struct htab_item __arena *e;
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_EQ(scx_arena_htab_init(h, 8), 0);
	bpf_for(i, 0, 4) {
		e = new_item(HTAB_VAL(keys[i]));
		ASSERT_NONNULL(e);
		ASSERT_EQ(item_insert(h, keys[i], e), 0);
	}
	bpf_for(i, 0, 4) {
		e = item_lookup(h, keys[i]);
		ASSERT_NONNULL(e);
		ASSERT_EQ(e->val, HTAB_VAL(keys[i]));
		ASSERT_LT(scx_arena_htab_bucket(h, keys[i]), 8);
	}
	ASSERT_NULL(item_lookup(h, 1));
	ASSERT_NULL(item_lookup(h, ~0ull - 1));
	ASSERT_EQ(item_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_htab_corrupted_chain_is_bounded(void *ctx)
{
	struct scx_arena_htab __arena *h = new_tab();
	struct htab_item __arena *a = new_item(HTAB_VAL(1));
	struct htab_item __arena *b = new_item(HTAB_VAL(2));
	struct htab_item __arena *c = new_item(HTAB_VAL(3));

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_EQ(scx_arena_htab_init(h, 1), 0);
	h->capacity = 4; /* one bucket, room for a chain */
	ASSERT_EQ(item_insert(h, 1, a), 0);
	ASSERT_EQ(item_insert(h, 2, b), 0);
	/* A cycle: a (the tail) links back to b (the head). */
	a->node.next = &b->node;
	ASSERT_EQ(scx_arena_last_error.count, 0);
	ASSERT_NULL(item_lookup(h, 3));
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(item_insert(h, 3, c), -EFAULT);
	ASSERT_EQ(scx_arena_htab_len(h), 2);
	a->node.next = NULL;
	ASSERT_EQ(item_insert(h, 3, c), 0);
	return 0;
}

SEC("syscall")
int test_htab_locked(void *ctx)
{
	struct scx_arena_htab_locked __arena *hl = scx_arena_new(struct scx_arena_htab_locked);
	struct htab_item __arena *a = new_item(HTAB_VAL(1)), *b = new_item(HTAB_VAL(2)), *got;
	struct scx_arena_htab_node __arena *n;

	ASSERT_NONNULL(hl);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(item_locked_insert(hl, 1, a), -ENOSPC);
	ASSERT_EQ(scx_arena_htab_locked_init(hl, 16), 0);
	ASSERT_EQ(scx_arena_htab_locked_init(hl, 16), -EBUSY);
	ASSERT_EQ(item_locked_insert(hl, 1, a), 0);
	ASSERT_EQ(item_locked_insert(hl, 2, b), 0);
	ASSERT_EQ(item_locked_insert(hl, 2, a), -EEXIST);
	ASSERT_EQ(scx_arena_htab_locked_len(hl), 2);
	ASSERT_EQ(item_locked_lookup(hl, 2, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(b));
	ASSERT_EQ(item_locked_lookup(hl, 3, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_htab_locked_lookup(hl, 1, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&a->node));
	ASSERT_EQ(item_locked_delete(hl, 1, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	ASSERT_EQ(item_locked_delete(hl, 1, &got), -ENOENT);
	ASSERT_EQ(item_locked_remove(hl, b), 0);
	ASSERT_EQ(item_locked_remove(hl, b), -ENOENT);
	ASSERT_EQ(scx_arena_htab_locked_len(hl), 0);
	ASSERT_EQ(item_locked_insert(hl, 5, a), 0);
	ASSERT_EQ(item_locked_destroy(hl), 0); /* frees a */
	ASSERT_EQ(scx_arena_htab_locked_len(hl), 0);
	ASSERT_EQ(scx_arena_lock_holder(&hl->lock), -1);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_htab_locked_held_lock_times_out(void *ctx)
{
	static const char want_msg[] = "lock timeout: htab (held by cpu ";
	struct scx_arena_htab_locked __arena *hl = scx_arena_new(struct scx_arena_htab_locked);
	struct htab_item __arena *a = new_item(HTAB_VAL(1)), *got;

	ASSERT_NONNULL(hl);
	ASSERT_NONNULL(a);
	ASSERT_EQ(scx_arena_htab_locked_init(hl, 4), 0);
	ASSERT_EQ(item_locked_insert(hl, 1, a), 0);

	held_lock_set(&hl->lock);
	ASSERT_EQ(item_locked_lookup(hl, 1, &got), -ETIMEDOUT);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want_msg) - 1, want_msg), 0);
	ASSERT_EQ(item_locked_insert(hl, 2, new_item(HTAB_VAL(2))), -ETIMEDOUT);
	ASSERT_EQ(item_locked_delete(hl, 1, &got), -ETIMEDOUT);
	ASSERT_EQ(item_locked_remove(hl, a), -ETIMEDOUT);
	ASSERT_EQ(item_locked_destroy(hl), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 5);
	ASSERT_EQ(scx_arena_htab_locked_len(hl), 1);

	held_lock_clear(&hl->lock);
	ASSERT_EQ(item_locked_lookup(hl, 1, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	return 0;
}

/* ---------------------------------------------------------------------------
 * htab_ops: the driver of the model test.
 */

struct htab_op __arena_global htab_ops_buf[HTAB_OPS_MAX];
struct scx_arena_htab __arena_global htab_ops_tab;
/* Accumulators of ITER and ITER_DEL (kept out of loop registers). */
u64 __arena_global htab_ops_acc[3];

/* Walks the table; deletes the items with key % 3 == @del (if < 3). */
static __always_inline void htab_walk(struct scx_arena_htab __arena *h, u64 del)
{
	struct scx_arena_htab_node __arena *pos;
	struct scx_arena_htab_iter it;
	struct htab_item __arena *e;
	u64 __arena *acc = htab_ops_acc;

	/* Opaque, and barriers: no memset of the arena without its cast. */
	asm volatile("" : "+r"(acc));
	acc[0] = 0;
	barrier();
	acc[1] = 0;
	barrier();
	acc[2] = 0;
	scx_arena_htab_for_each(pos, h, it, HTAB_OPS_MAX * 64) {
		e = item_entry(pos);
		if (del < 3) {
			if (pos->key % 3 == del && !item_remove(h, e)) {
				scx_arena_free(e);
				acc[0]++;
			}
			continue;
		}
		acc[0]++;
		acc[1] ^= pos->key;
		if (e->val != HTAB_VAL(pos->key))
			acc[2]++;
	}
}

/* Runs one operation and stores its results in it. */
static __always_inline void htab_run_op(struct htab_op __arena *op)
{
	struct scx_arena_htab __arena *h = &htab_ops_tab;
	struct htab_item __arena *it;
	u64 key = op->key;
	s64 ret = 0;

	switch (op->op) {
	case HTAB_OP_NOP:
		break;
	case HTAB_OP_INIT:
		ret = scx_arena_htab_init(h, op->val);
		break;
	case HTAB_OP_INSERT:
		/* Not zeroed: recycled memory, as a scheduler would have it. */
		it = scx_arena_alloc(sizeof(*it));
		op->addr = (u64)it;
		if (!it) {
			ret = -ENOMEM;
			break;
		}
		it->val = HTAB_VAL(key);
		it->tag = ~key;
		ret = item_insert(h, key, it);
		if (ret) {
			scx_arena_free(it);
			op->addr = 0;
		}
		break;
	case HTAB_OP_LOOKUP:
		it = item_lookup(h, key);
		op->addr = (u64)it;
		op->val = it ? it->val : 0;
		break;
	case HTAB_OP_DELETE:
		ret = item_delete(h, key, &it);
		op->addr = (u64)it;
		if (!ret)
			scx_arena_free(it);
		break;
	case HTAB_OP_REMOVE:
		it = scx_arena_from_u64(struct htab_item, op->addr);
		ret = item_remove(h, it);
		if (!ret)
			scx_arena_free(it);
		break;
	case HTAB_OP_LEN:
		op->val = scx_arena_htab_len(h);
		break;
	case HTAB_OP_ITER:
		htab_walk(h, 3);
		op->val = htab_ops_acc[0];
		op->addr = htab_ops_acc[1];
		ret = htab_ops_acc[2];
		break;
	case HTAB_OP_ITER_DEL:
		htab_walk(h, op->val % 3);
		op->val = htab_ops_acc[0];
		break;
	case HTAB_OP_DESTROY:
		ret = item_destroy(h);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int htab_ops(struct htab_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)htab_ops_buf;
	args->tab = (u64)&htab_ops_tab;
	if (nr > HTAB_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		htab_run_op(&htab_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * htab_churn: the locked table under concurrent runs.
 */

struct scx_arena_htab_locked __arena_global htab_churn_tab;

SEC("syscall")
int htab_churn_init(u64 *capacity)
{
	return -scx_arena_htab_locked_init(&htab_churn_tab, *capacity);
}

/* Per-run counters, in arena memory: loop-carried counts stay out of registers. */
struct htab_churn_state {
	u64 seq;
	u64 inserts;
	u64 deletes;
	u64 found;
	u64 mismatches;
	u64 timeouts;
	u64 full;
	u64 failed;
};

/* Counts a locked operation's outcome that is neither 0 nor @ok. */
static __always_inline void churn_err(struct htab_churn_state __arena *st, int ret)
{
	if (ret == -ETIMEDOUT)
		st->timeouts++;
	else
		st->failed++;
}

static __always_inline void churn_step(struct htab_churn_state __arena *st, u64 seed, u32 r)
{
	struct scx_arena_htab_locked __arena *hl = &htab_churn_tab;
	struct scx_arena_htab_node __arena *n;
	struct htab_item __arena *it;
	u64 key, seq = st->seq;
	int ret;

	switch (r & 3) {
	case 0:
	case 1:
		it = scx_arena_alloc(sizeof(*it));
		if (!it) {
			st->failed++;
			return;
		}
		key = (seed << 32) | seq;
		it->val = HTAB_VAL(key);
		it->tag = key;
		st->seq = seq + 1;
		bpf_preempt_disable();
		ret = item_locked_insert(hl, key, it);
		bpf_preempt_enable();
		if (!ret) {
			st->inserts++;
			return;
		}
		scx_arena_free(it);
		if (ret == -ENOSPC)
			st->full++;
		else
			churn_err(st, ret);
		return;
	case 2:
		if (!seq)
			return;
		key = (seed << 32) | ((r >> 2) % seq);
		bpf_preempt_disable();
		ret = item_locked_delete(hl, key, &it);
		bpf_preempt_enable();
		if (ret == -ENOENT)
			return;
		if (ret) {
			churn_err(st, ret);
			return;
		}
		st->deletes++;
		if (it->val != HTAB_VAL(key) || it->tag != key || it->node.key != key ||
		    (u64)it->node.next != SCX_ARENA_HTAB_POISON)
			st->mismatches++;
		scx_arena_free(it);
		return;
	default:
		/* Either run's key space; checked under the lock. */
		key = ((u64)(1 + ((r >> 2) & 1)) << 32) | ((r >> 3) % (seq + 1));
		bpf_preempt_disable();
		ret = __scx_arena_htab_lock(hl);
		if (ret) {
			bpf_preempt_enable();
			churn_err(st, ret);
			return;
		}
		n = scx_arena_htab_lookup(&hl->htab, key);
		if (n) {
			it = item_entry(n);
			st->found++;
			if (it->val != HTAB_VAL(key) || it->tag != key)
				st->mismatches++;
		}
		scx_arena_lock_release(&hl->lock);
		bpf_preempt_enable();
	}
}

SEC("syscall")
int htab_churn(struct htab_churn_args *args)
{
	struct htab_churn_state __arena *st;
	u64 iters = args->iters, seed = args->seed, i;

	scx_arena_assoc();
	st = scx_arena_new(struct htab_churn_state);
	if (!st)
		return -ENOMEM;
	bpf_for(i, 0, iters)
		churn_step(st, seed, bpf_get_prandom_u32());
	args->inserts = st->inserts;
	args->deletes = st->deletes;
	args->found = st->found;
	args->mismatches = st->mismatches;
	args->timeouts = st->timeouts;
	args->full = st->full;
	args->failed = st->failed;
	args->seq = st->seq;
	args->tab = (u64)&htab_churn_tab;
	args->errors = scx_arena_last_error.count;
	scx_arena_free(st);
	return 0;
}
