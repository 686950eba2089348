/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena heap (scx_arena/heap.h), and the drivers of
 * tests/heap.rs (programs not named test_*):
 *
 * heap_ops    runs a batch of heap operations that userspace wrote to an
 *             arena buffer on one heap of items from scx_arena_alloc(), and
 *             writes each result back for a Rust model to check.
 * heap_churn  pushes, pops and re-pushes tagged items on one locked heap;
 *             several threads run it at once.
 * heap_bench  times the hold model (pop the minimum, push it back with a
 *             larger key) on a plain heap.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/heap.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_heap.h"

char _license[] SEC("license") = "GPL";


struct heap_item {
	u64 val;
	struct scx_arena_heap_node node;
	u64 tag;
};

_Static_assert(sizeof(struct heap_item) == HEAP_ITEM_SIZE, "heap_item layout");
_Static_assert(__builtin_offsetof(struct heap_item, node) == HEAP_ITEM_NODE_OFF,
	       "heap_item layout");
_Static_assert(sizeof(struct scx_arena_heap_entry) == 16, "entry layout");
_Static_assert(SCX_ARENA_HEAP_MAX_CAP * sizeof(struct scx_arena_heap_entry) ==
		       ((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER),
	       "the largest array is the largest allocation");

SCX_ARENA_HEAP_DEFINE(item, struct heap_item, node);

/* The address of arena pointer @p, hidden from LLVM (see test_list.bpf.c). */
#define ADDR(p) __scx_heap_addr(p)

/* A zeroed item with @val. */
static __always_inline struct heap_item __arena *new_item(u64 val)
{
	struct heap_item __arena *it = scx_arena_new(struct heap_item);

	asm volatile("" : "+r"(it));
	if (it)
		it->val = val;
	return it;
}

/* A zeroed heap. */
static __always_inline struct scx_arena_heap __arena *new_heap(void)
{
	struct scx_arena_heap __arena *h = scx_arena_new(struct scx_arena_heap);

	asm volatile("" : "+r"(h));
	return h;
}

/*
 * Checks the whole heap from BPF: order (key, then seq) between each slot
 * and its parent, each node's index and key. A global function: verified
 * once.
 */
int heap_check(struct scx_arena_heap __arena *h __arg_arena)
{
	struct scx_arena_heap_entry __arena *e = h->entries;
	struct scx_arena_heap_node __arena *n, *pn;
	u32 nr = h->nr, i, p;

	ASSERT_LE(nr, h->cap);
	bpf_for(i, 0, nr) {
		n = e[i].node;
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->idx, i);
		ASSERT_EQ(n->key, e[i].key);
		ASSERT_LT(n->seq, h->seq);
		if (!i)
			continue;
		p = SCX_ARENA_HEAP_PARENT(i);
		pn = e[p].node;
		ASSERT_LE(e[p].key, e[i].key);
		if (e[p].key == e[i].key)
			ASSERT_LT(pn->seq, n->seq);
	}
	return 0;
}

/* Pops @n items and expects their vals to be @want[0..n). */
struct vals {
	u64 v[8];
};

int heap_expect_pops(struct scx_arena_heap __arena *h __arg_arena, struct vals *want, u32 n)
{
	struct heap_item __arena *it;
	u32 i;

	if (!want || n > 8)
		return SCX_TEST_FAILED;
	ASSERT_EQ(scx_arena_heap_len(h), n);
	bpf_for(i, 0, n) {
		ASSERT_OK(heap_check(h));
		it = item_pop(h);
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->val, want->v[i & 7]);
		ASSERT_FALSE(scx_arena_heap_node_queued(&it->node));
	}
	ASSERT_TRUE(scx_arena_heap_empty(h));
	ASSERT_NULL(item_pop(h));
	return 0;
}

SEC("syscall")
int test_heap_empty(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_item __arena *a = new_item(1);

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	/* Zeroed memory is an empty heap without an array. */
	ASSERT_TRUE(scx_arena_heap_empty(h));
	ASSERT_EQ(scx_arena_heap_len(h), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 0);
	ASSERT_NULL(scx_arena_heap_pop(h));
	ASSERT_NULL(scx_arena_heap_peek(h));
	ASSERT_NULL(item_pop(h));
	ASSERT_NULL(item_peek(h));
	ASSERT_NULL(scx_arena_heap_at(h, 0));
	ASSERT_FALSE(item_contains(h, a));
	ASSERT_EQ(item_remove(h, a), -EINVAL);
	ASSERT_EQ(item_update(h, a, 5), -EINVAL);
	ASSERT_OK(heap_check(h));
	/* Destroy of an empty heap, with and without an array. */
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	ASSERT_EQ(scx_arena_heap_init(h, 100), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 128);
	ASSERT_TRUE(scx_arena_heap_empty(h));
	ASSERT_NULL(item_pop(h));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 0);
	ASSERT_NULL(h->entries);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_heap_one_element(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_item __arena *a = new_item(7);

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	ASSERT_EQ(item_push(h, a, 42), 0);
	ASSERT_EQ(scx_arena_heap_len(h), 1);
	ASSERT_EQ(scx_arena_heap_capacity(h), SCX_ARENA_HEAP_MIN_CAP);
	ASSERT_TRUE(item_contains(h, a));
	ASSERT_TRUE(scx_arena_heap_node_queued(&a->node));
	ASSERT_EQ(ADDR(item_peek(h)), ADDR(a));
	ASSERT_EQ(ADDR(scx_arena_heap_peek(h)), ADDR(&a->node));
	ASSERT_EQ(ADDR(scx_arena_heap_at(h, 0)), ADDR(&a->node));
	ASSERT_NULL(scx_arena_heap_at(h, 1));
	ASSERT_EQ(item_key(a), 42);
	ASSERT_EQ(a->node.idx, 0);
	ASSERT_OK(heap_check(h));
	/* In the heap: no second push. */
	ASSERT_EQ(item_push(h, a, 1), -EEXIST);
	ASSERT_EQ(item_key(a), 42);
	ASSERT_EQ(scx_arena_heap_len(h), 1);

	/* Update of the only element, both ways. */
	ASSERT_EQ(item_update(h, a, 3), 0);
	ASSERT_EQ(item_key(a), 3);
	ASSERT_EQ(item_update(h, a, 300), 0);
	ASSERT_EQ(h->entries[0].key, 300);
	ASSERT_OK(heap_check(h));

	ASSERT_EQ(ADDR(item_pop(h)), ADDR(a));
	ASSERT_EQ(a->node.idx, SCX_ARENA_HEAP_NONE);
	ASSERT_EQ(item_key(a), 300);
	ASSERT_TRUE(scx_arena_heap_empty(h));
	ASSERT_NULL(item_pop(h));
	ASSERT_EQ(item_remove(h, a), -EINVAL);
	ASSERT_EQ(item_update(h, a, 1), -EINVAL);
	/* A removed node goes back in. */
	ASSERT_EQ(item_push(h, a, 9), 0);
	ASSERT_EQ(item_remove(h, a), 0);
	ASSERT_TRUE(scx_arena_heap_empty(h));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	ASSERT_EQ(scx_arena_free(a), 0);
	return 0;
}

SEC("syscall")
int test_heap_order_and_fifo_among_equal_keys(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	/* keys 5 3 8 3 1 5 3 7 for vals 0..7 */
	static const u64 keys[8] = { 5, 3, 8, 3, 1, 5, 3, 7 };
	struct vals want = { { 4, 1, 3, 6, 0, 5, 7, 2 } };
	struct heap_item __arena *it;
	u32 i;

	ASSERT_NONNULL(h);
	bpf_for(i, 0, 8) {
		it = new_item(i);
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_push(h, it, keys[i & 7]), 0);
		ASSERT_OK(heap_check(h));
	}
	ASSERT_EQ(item_peek(h)->val, 4);
	ASSERT_OK(heap_expect_pops(h, &want, 8));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_heap_all_equal_keys_are_fifo(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_item __arena *it;
	u64 __arena *next = scx_arena_new(u64);
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(next);
	bpf_for(i, 0, 100) {
		it = new_item(i);
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_push(h, it, 77), 0);
	}
	ASSERT_OK(heap_check(h));
	bpf_for(i, 0, 100) {
		it = item_pop(h);
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->val, *next);
		*next += 1;
		/* Interleave: every third pops back in at the end of the line. */
		if (i % 3 == 0 && i < 60) {
			ASSERT_EQ(item_push(h, it, 77), 0);
		}
	}
	ASSERT_EQ(scx_arena_heap_len(h), 20);
	/* What is left: the 20 re-pushed items, in their re-push order. */
	bpf_for(i, 0, 20) {
		it = item_pop(h);
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->val, i * 3);
	}
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

/* Pushes @n items with keys scrambled, pops all in order. */
SEC("syscall")
int test_heap_grows_across_doublings(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_item __arena *it;
	u64 __arena *prev = scx_arena_new(u64);
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(prev);
	bpf_for(i, 0, 1000) {
		it = new_item(i);
		ASSERT_NONNULL(it);
		/* A permutation of 0..999 (7919 is prime to 1000). */
		ASSERT_EQ(item_push(h, it, (i * 7919) % 1000), 0);
		if (i == 15)
			ASSERT_EQ(scx_arena_heap_capacity(h), 16);
		if (i == 16)
			ASSERT_EQ(scx_arena_heap_capacity(h), 32);
		if (i == 300)
			ASSERT_EQ(scx_arena_heap_capacity(h), 512);
	}
	ASSERT_EQ(scx_arena_heap_capacity(h), 1024);
	ASSERT_EQ(scx_arena_heap_len(h), 1000);
	ASSERT_OK(heap_check(h));
	bpf_for(i, 0, 1000) {
		it = item_pop(h);
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_key(it), i);
		ASSERT_EQ((it->val * 7919) % 1000, i);
		if (i % 97 == 0)
			ASSERT_OK(heap_check(h));
	}
	ASSERT_NULL(item_pop(h));
	ASSERT_EQ(scx_arena_heap_capacity(h), 1024);
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

/*
 * @n new items with vals @vals[i] pushed with keys @keys[i], their
 * addresses in an arena array (not on the stack: it is small).
 */
static __always_inline u64 __arena *push_items(struct scx_arena_heap __arena *h,
					       const u64 *vals, const u64 *keys, u32 n)
{
	u64 __arena *its = scx_arena_zalloc(8 * 8);
	struct heap_item __arena *it;
	u32 i;

	asm volatile("" : "+r"(its));
	if (!its || n > 8)
		return NULL;
	bpf_for(i, 0, n) {
		it = new_item(vals[i & 7]);
		if (!it || item_push(h, it, keys[i & 7]))
			return NULL;
		its[i & 7] = (u64)it;
	}
	return its;
}

#define IT(its, i) scx_arena_from_u64(struct heap_item, (its)[i])

SEC("syscall")
int test_heap_remove_head_middle_last(void *ctx)
{
	static const u64 vals[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	static const u64 keys[8] = { 0, 10, 20, 30, 40, 50, 60, 70 };
	struct scx_arena_heap __arena *h = new_heap();
	struct vals want = { { 1, 3, 4, 6 } };
	u64 __arena *its;
	u32 i;

	ASSERT_NONNULL(h);
	/* keys = vals * 10: slots in order 0..7. */
	its = push_items(h, vals, keys, 8);
	ASSERT_NONNULL(its);
	bpf_for(i, 0, 8)
		ASSERT_EQ(IT(its, i & 7)->node.idx, i);
	/* The last slot: nothing moves. */
	ASSERT_EQ(item_remove(h, IT(its, 7)), 0);
	ASSERT_EQ(IT(its, 7)->node.idx, SCX_ARENA_HEAP_NONE);
	ASSERT_OK(heap_check(h));
	/* The head: the last element sifts down from the root. */
	ASSERT_EQ(item_remove(h, IT(its, 0)), 0);
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_peek(h)->val, 1);
	/* Middle ones. */
	ASSERT_EQ(item_remove(h, IT(its, 5)), 0);
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_remove(h, IT(its, 2)), 0);
	ASSERT_OK(heap_check(h));
	/* Twice: refused. */
	ASSERT_EQ(item_remove(h, IT(its, 2)), -EINVAL);
	ASSERT_EQ(item_remove(h, IT(its, 0)), -EINVAL);
	ASSERT_EQ(scx_arena_heap_len(h), 4);
	ASSERT_OK(heap_expect_pops(h, &want, 4));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_heap_remove_moves_last_up(void *ctx)
{
	/*
	 * 4-ary array order 0 | 100 1 2 3 | 101 102 103 104 (under 100) | 5
	 * (under 1): keys = vals.
	 */
	static const u64 keys[8] = { 0, 100, 1, 2, 3, 101, 102, 103 };
	struct scx_arena_heap __arena *h = new_heap();
	struct vals want = { { 1, 2, 3, 5, 100, 102, 103, 104 } };
	struct heap_item __arena *a, *b;
	u64 __arena *its;

	ASSERT_NONNULL(h);
	its = push_items(h, keys, keys, 8);
	ASSERT_NONNULL(its);
	a = new_item(104);
	b = new_item(5);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_EQ(item_push(h, a, 104), 0);
	ASSERT_EQ(item_push(h, b, 5), 0);
	ASSERT_EQ(b->node.idx, 9);
	ASSERT_OK(heap_check(h));
	/* Remove the 101 (under 100): the last element (5) must go up past 100. */
	ASSERT_EQ(IT(its, 5)->node.idx, 5);
	ASSERT_EQ(item_remove(h, IT(its, 5)), 0);
	ASSERT_EQ(b->node.idx, 1);
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_pop(h)->val, 0);
	ASSERT_OK(heap_expect_pops(h, &want, 8));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_heap_update_up_and_down(void *ctx)
{
	static const u64 vals[8] = { 0, 1, 2, 3, 4, 5 };
	static const u64 keys[8] = { 10, 20, 30, 40, 50, 60 };
	struct scx_arena_heap __arena *h = new_heap();
	struct vals want = { { 5, 1, 0, 2, 3, 4 } };
	u64 __arena *its;

	ASSERT_NONNULL(h);
	its = push_items(h, vals, keys, 6);
	ASSERT_NONNULL(its);
	/* keys: 10 20 30 40 50 60 */
	ASSERT_EQ(item_update(h, IT(its, 5), 1), 0);   /* up to the root */
	ASSERT_EQ(item_peek(h)->val, 5);
	ASSERT_EQ(IT(its, 5)->node.idx, 0);
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_update(h, IT(its, 0), 25), 0);  /* down, between 20 and 30 */
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_update(h, IT(its, 2), 25), 0);  /* equal key: after val 0 */
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(item_update(h, IT(its, 3), 40), 0);  /* same key: stays in line */
	ASSERT_OK(heap_check(h));
	/* keys: 5:1 1:20 0:25 2:25 3:40 4:50 */
	ASSERT_EQ(item_update(h, NULL, 3), -EINVAL);
	ASSERT_OK(heap_expect_pops(h, &want, 6));
	ASSERT_EQ(item_update(h, IT(its, 0), 3), -EINVAL);
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_heap_errors(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap(), *other = new_heap();
	struct heap_item __arena *a = new_item(1), *b = new_item(2), *c = new_item(3);
	struct heap_item __arena *junk = scx_arena_alloc(sizeof(*junk));
	struct vals want = { { 1, 2 } };

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(other);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_NONNULL(junk);
	/* NULL. */
	ASSERT_EQ(item_push(h, NULL, 1), -EINVAL);
	ASSERT_EQ(scx_arena_heap_push(h, NULL, 1), -EINVAL);
	ASSERT_EQ(scx_arena_heap_remove(h, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_heap_update_key(h, NULL, 1), -EINVAL);
	ASSERT_FALSE(scx_arena_heap_contains(h, NULL));

	ASSERT_EQ(item_push(h, a, 10), 0);
	ASSERT_EQ(item_push(h, b, 20), 0);
	/* Already in: refused, key unchanged. */
	ASSERT_EQ(item_push(h, a, 1), -EEXIST);
	ASSERT_EQ(item_push(h, b, 1), -EEXIST);
	ASSERT_EQ(item_key(b), 20);
	/* Never pushed, zeroed: idx 0 points at a's slot, not at c. */
	ASSERT_EQ(c->node.idx, 0);
	ASSERT_EQ(item_remove(h, c), -EINVAL);
	ASSERT_EQ(item_update(h, c, 1), -EINVAL);
	/* Never pushed, garbage index: in range or not. */
	junk->node.idx = 1;
	ASSERT_EQ(item_remove(h, junk), -EINVAL);
	junk->node.idx = 123456;
	ASSERT_EQ(item_remove(h, junk), -EINVAL);
	scx_arena_heap_node_init(&junk->node);
	ASSERT_FALSE(scx_arena_heap_node_queued(&junk->node));
	ASSERT_EQ(item_update(h, junk, 1), -EINVAL);
	/* In another heap. */
	ASSERT_EQ(item_push(other, c, 5), 0);
	ASSERT_EQ(item_remove(h, c), -EINVAL);
	ASSERT_EQ(item_update(h, c, 5), -EINVAL);
	ASSERT_TRUE(item_contains(other, c));
	ASSERT_FALSE(item_contains(h, c));
	/* Reserve beyond the largest array. */
	ASSERT_EQ(scx_arena_heap_reserve(h, SCX_ARENA_HEAP_MAX_CAP + 1), -ENOSPC);
	ASSERT_EQ(scx_arena_heap_capacity(h), SCX_ARENA_HEAP_MIN_CAP);
	ASSERT_EQ(scx_arena_heap_reserve(h, 3), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), SCX_ARENA_HEAP_MIN_CAP);
	ASSERT_OK(heap_check(h));
	ASSERT_OK(heap_expect_pops(h, &want, 2));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	ASSERT_EQ(scx_arena_heap_destroy(other), 0);
	ASSERT_FALSE(scx_arena_heap_node_queued(&c->node));
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

/*
 * A full heap (SCX_ARENA_HEAP_MAX_CAP nodes) refuses one more with -ENOSPC
 * and loses nothing. Nodes are bare struct scx_arena_heap_node, two 512 KiB
 * blocks of them.
 */
SEC("syscall")
int test_heap_full_is_enospc(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct scx_arena_heap_node __arena *blk[2], *n, *extra;
	const u32 half = SCX_ARENA_HEAP_MAX_CAP / 2;
	u32 i;

	ASSERT_NONNULL(h);
	blk[0] = scx_arena_alloc((u64)half * sizeof(*n));
	blk[1] = scx_arena_alloc((u64)half * sizeof(*n));
	extra = scx_arena_new(struct scx_arena_heap_node);
	ASSERT_NONNULL(blk[0]);
	ASSERT_NONNULL(blk[1]);
	ASSERT_NONNULL(extra);
	/* Keys descending: every push sifts to the root. */
	bpf_for(i, 0, SCX_ARENA_HEAP_MAX_CAP) {
		n = &blk[i / half][i % half];
		ASSERT_EQ(scx_arena_heap_push(h, n, SCX_ARENA_HEAP_MAX_CAP - i), 0);
	}
	ASSERT_EQ(scx_arena_heap_len(h), SCX_ARENA_HEAP_MAX_CAP);
	ASSERT_EQ(scx_arena_heap_capacity(h), SCX_ARENA_HEAP_MAX_CAP);
	ASSERT_EQ(scx_arena_heap_push(h, extra, 0), -ENOSPC);
	ASSERT_EQ(scx_arena_heap_len(h), SCX_ARENA_HEAP_MAX_CAP);
	ASSERT_FALSE(scx_arena_heap_contains(h, extra));
	ASSERT_OK(heap_check(h));
	bpf_for(i, 0, SCX_ARENA_HEAP_MAX_CAP) {
		n = scx_arena_heap_pop(h);
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->key, i + 1);
	}
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	scx_arena_free(blk[0]);
	scx_arena_free(blk[1]);
	return 0;
}

/*
 * Growth that finds the arena full fails with -ENOMEM and loses nothing;
 * once memory is back, the same push succeeds.
 */
SEC("syscall")
int test_heap_growth_without_memory_is_enomem(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_heap __arena *h = new_heap();
	struct scx_arena_heap_node __arena *nodes, *extra;
	u64 __arena *blocks;
	u64 n, p;
	u32 i, order;

	ASSERT_NONNULL(r);
	ASSERT_NONNULL(h);
	/* 256 entries: the next array (8 KiB) comes from the buddy allocator. */
	ASSERT_EQ(scx_arena_heap_init(h, 256), 0);
	nodes = scx_arena_alloc(257 * sizeof(*nodes));
	ASSERT_NONNULL(nodes);
	extra = &nodes[256];
	bpf_for(i, 0, 256)
		ASSERT_EQ(scx_arena_heap_push(h, &nodes[i], i * 3 % 256 + 1), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 256);
	/* Take every block of every order until none is left. */
	blocks = scx_arena_bump_alloc((SCX_ARENA_MAX_CHUNKS + 8193) * 8, 8);
	ASSERT_NONNULL(blocks);
	blocks[0] = 0;
	bpf_for(order, 0, SCX_ARENA_BUDDY_NR_ORDERS) {
		bpf_for(i, 0, SCX_ARENA_MAX_CHUNKS) {
			n = blocks[0];
			if (n >= SCX_ARENA_MAX_CHUNKS + 8192)
				break;
			p = (u64)scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER - order);
			if (!p)
				break;
			blocks[1 + n] = p;
			blocks[0] = n + 1;
		}
	}
	ASSERT_GT(blocks[0], 8);
	ASSERT_EQ(scx_arena_heap_push(h, extra, 0), -ENOMEM);
	ASSERT_EQ(scx_arena_heap_len(h), 256);
	ASSERT_EQ(scx_arena_heap_capacity(h), 256);
	ASSERT_FALSE(scx_arena_heap_contains(h, extra));
	ASSERT_OK(heap_check(h));
	/* Memory back: the push goes through. */
	n = blocks[0];
	bpf_for(i, 0, n)
		scx_arena_buddy_free(scx_arena_from_u64(void, blocks[1 + i]));
	ASSERT_EQ(scx_arena_heap_push(h, extra, 0), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 512);
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(ADDR(scx_arena_heap_pop(h)), ADDR(extra));
	bpf_for(i, 0, 256) {
		struct scx_arena_heap_node __arena *got = scx_arena_heap_pop(h);

		ASSERT_NONNULL(got);
		ASSERT_EQ(got->key, i + 1);
	}
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	scx_arena_free(nodes);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

/* Destroy with elements inside returns the array to the allocator. */
SEC("syscall")
int test_heap_destroy_returns_memory(void *ctx)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_heap __arena *h = new_heap();
	struct scx_arena_heap_node __arena *nodes;
	u64 used;
	u32 i, round;

	ASSERT_NONNULL(r);
	ASSERT_NONNULL(h);
	nodes = scx_arena_zalloc(2000 * sizeof(*nodes));
	ASSERT_NONNULL(nodes);
	/* Round 0 warms the slab caches for the small arrays. */
	bpf_for(round, 0, 2) {
		used = r->buddy.pages_used;
		bpf_for(i, 0, 2000)
			ASSERT_EQ(scx_arena_heap_push(h, &nodes[i], i ^ 0x155), 0);
		ASSERT_EQ(scx_arena_heap_capacity(h), 2048);
		if (round) {
			/* 2048 entries of 16 bytes: 8 pages, the smaller arrays freed. */
			ASSERT_EQ(r->buddy.pages_used, used + 8);
		}
		/* Take some out, then destroy with 1500 inside. */
		bpf_for(i, 0, 500)
			ASSERT_NONNULL(scx_arena_heap_pop(h));
		ASSERT_EQ(scx_arena_heap_len(h), 1500);
		ASSERT_EQ(scx_arena_heap_destroy(h), 0);
		ASSERT_EQ(scx_arena_heap_len(h), 0);
		ASSERT_EQ(scx_arena_heap_capacity(h), 0);
		if (round)
			ASSERT_EQ(r->buddy.pages_used, used);
		/* Every node is marked out of the heap. */
		bpf_for(i, 0, 2000)
			ASSERT_EQ(nodes[i].idx, SCX_ARENA_HEAP_NONE);
	}
	scx_arena_free(nodes);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_heap_push_reserved_never_grows(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct scx_arena_heap_node __arena *nodes;
	struct heap_item __arena *a = new_item(1);
	u32 i;

	ASSERT_NONNULL(h);
	ASSERT_NONNULL(a);
	nodes = scx_arena_zalloc(40 * sizeof(*nodes));
	ASSERT_NONNULL(nodes);
	/* No array at all: refused, nothing allocated. */
	ASSERT_EQ(item_push_reserved(h, a, 1), -ENOSPC);
	ASSERT_EQ(scx_arena_heap_capacity(h), 0);
	ASSERT_EQ(item_push_reserved(h, NULL, 1), -EINVAL);
	ASSERT_EQ(scx_arena_heap_reserve(h, 20), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 32);
	bpf_for(i, 0, 32)
		ASSERT_EQ(scx_arena_heap_push_reserved(h, &nodes[i], 100 - i), 0);
	ASSERT_EQ(scx_arena_heap_push_reserved(h, &nodes[32], 0), -ENOSPC);
	ASSERT_EQ(scx_arena_heap_push_reserved(h, &nodes[0], 0), -EEXIST);
	ASSERT_EQ(scx_arena_heap_capacity(h), 32);
	ASSERT_EQ(scx_arena_heap_len(h), 32);
	ASSERT_OK(heap_check(h));
	/* The growing push does grow. */
	ASSERT_EQ(scx_arena_heap_push(h, &nodes[32], 0), 0);
	ASSERT_EQ(scx_arena_heap_capacity(h), 64);
	ASSERT_EQ(ADDR(scx_arena_heap_peek(h)), ADDR(&nodes[32]));
	ASSERT_OK(heap_check(h));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	scx_arena_free(nodes);
	return 0;
}

SEC("syscall")
int test_heap_typed_wrappers(void *ctx)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_item __arena *t, *got;

	ASSERT_NONNULL(h);
	t = new_item(42);
	ASSERT_NONNULL(t);
	ASSERT_EQ((u64)&t->node - (u64)t, HEAP_ITEM_NODE_OFF);
	ASSERT_EQ(ADDR(item_entry(&t->node)), ADDR(t));
	ASSERT_NULL(item_entry(NULL));
	ASSERT_EQ(ADDR(scx_arena_heap_entry(&t->node, struct heap_item, node)), ADDR(t));
	ASSERT_EQ(item_push(h, t, 5), 0);
	got = item_peek(h);
	ASSERT_EQ(got->val, 42);
	got = item_pop(h);
	ASSERT_EQ(ADDR(got), ADDR(t));
	ASSERT_NULL(item_pop(h));
	ASSERT_EQ(scx_arena_heap_destroy(h), 0);
	return 0;
}

SEC("syscall")
int test_heap_locked(void *ctx)
{
	struct scx_arena_heap_locked __arena *hl = scx_arena_new(struct scx_arena_heap_locked);
	struct scx_arena_heap_node __arena *n;
	struct heap_item __arena *a = new_item(1), *b = new_item(2), *c = new_item(3), *got;

	ASSERT_NONNULL(hl);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_EQ(scx_arena_heap_locked_init(hl, 4), 0);
	ASSERT_TRUE(scx_arena_heap_locked_empty(hl));
	ASSERT_EQ(item_locked_pop(hl, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(item_locked_push(hl, a, 30), 0);
	ASSERT_EQ(item_locked_push(hl, b, 20), 0);
	ASSERT_EQ(item_locked_push(hl, c, 10), 0);
	ASSERT_EQ(item_locked_push(hl, c, 10), -EEXIST);
	ASSERT_EQ(item_locked_push(hl, NULL, 10), -EINVAL);
	ASSERT_EQ(scx_arena_heap_locked_len(hl), 3);
	ASSERT_OK(heap_check(&hl->heap));
	ASSERT_EQ(scx_arena_lock_holder(&hl->lock), -1);

	ASSERT_EQ(item_locked_peek(hl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(c));
	ASSERT_EQ(scx_arena_heap_locked_peek(hl, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&c->node));
	ASSERT_EQ(item_locked_update(hl, a, 5), 0);
	ASSERT_EQ(item_locked_remove(hl, b), 0);
	ASSERT_EQ(item_locked_remove(hl, b), -EINVAL);
	ASSERT_EQ(item_locked_update(hl, b, 1), -EINVAL);
	ASSERT_EQ(item_locked_pop(hl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	ASSERT_EQ(scx_arena_heap_locked_pop(hl, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&c->node));
	ASSERT_EQ(item_locked_pop(hl, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(item_locked_push(hl, a, 1), 0);
	ASSERT_EQ(scx_arena_heap_locked_destroy(hl), 0);
	ASSERT_TRUE(scx_arena_heap_locked_empty(hl));
	ASSERT_FALSE(scx_arena_heap_node_queued(&a->node));
	ASSERT_EQ(scx_arena_lock_holder(&hl->lock), -1);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_heap_locked_held_lock_times_out(void *ctx)
{
	static const char want_msg[] = "lock timeout: heap (held by cpu ";
	struct scx_arena_heap_locked __arena *hl = scx_arena_new(struct scx_arena_heap_locked);
	struct heap_item __arena *a = new_item(1), *got;

	ASSERT_NONNULL(hl);
	ASSERT_NONNULL(a);
	ASSERT_EQ(item_locked_push(hl, a, 1), 0);
	held_lock_set(&hl->lock);
	ASSERT_EQ(item_locked_pop(hl, &got), -ETIMEDOUT);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want_msg) - 1, want_msg), 0);
	ASSERT_EQ(item_locked_push(hl, new_item(2), 0), -ETIMEDOUT);
	ASSERT_EQ(item_locked_remove(hl, a), -ETIMEDOUT);
	ASSERT_EQ(item_locked_update(hl, a, 0), -ETIMEDOUT);
	ASSERT_EQ(item_locked_peek(hl, &got), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_heap_locked_destroy(hl), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 6);
	ASSERT_EQ(scx_arena_heap_locked_len(hl), 1);
	held_lock_clear(&hl->lock);
	ASSERT_EQ(item_locked_pop(hl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	return 0;
}

/* ---------------------------------------------------------------------------
 * heap_ops: the driver of the model test.
 */

struct heap_op __arena_global heap_ops_buf[HEAP_OPS_MAX];
struct scx_arena_heap __arena_global heap_ops_heap;

/* Stores the item @it (or 0), its key and val in @op. */
static __always_inline void op_item(struct heap_op __arena *op, struct heap_item __arena *it)
{
	op->addr = (u64)it;
	op->key = it ? it->node.key : 0;
	op->val = it ? it->val : 0;
}

static __always_inline void heap_run_op(struct heap_op __arena *op)
{
	struct scx_arena_heap __arena *h = &heap_ops_heap;
	struct heap_item __arena *it;
	s64 ret = 0;

	switch (op->op) {
	case HEAP_OP_NOP:
		break;
	case HEAP_OP_PUSH:
		/* Not zeroed, not initialised: recycled memory. */
		it = scx_arena_alloc(sizeof(*it));
		op->addr = (u64)it;
		if (!it) {
			ret = -ENOMEM;
			break;
		}
		it->val = op->val;
		it->tag = ~op->val;
		ret = item_push(h, it, op->key);
		break;
	case HEAP_OP_POP:
		op_item(op, item_pop(h));
		break;
	case HEAP_OP_PEEK:
		op_item(op, item_peek(h));
		break;
	case HEAP_OP_REMOVE:
		ret = item_remove(h, scx_arena_from_u64(struct heap_item, op->addr));
		break;
	case HEAP_OP_UPDATE:
		ret = item_update(h, scx_arena_from_u64(struct heap_item, op->addr), op->key);
		break;
	case HEAP_OP_REPUSH:
		ret = item_push(h, scx_arena_from_u64(struct heap_item, op->addr), op->key);
		break;
	case HEAP_OP_FREE:
		ret = scx_arena_free(scx_arena_from_u64(void, op->addr));
		break;
	case HEAP_OP_LEN:
		op->val = scx_arena_heap_len(h);
		break;
	case HEAP_OP_DESTROY:
		ret = scx_arena_heap_destroy(h);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int heap_ops(struct heap_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)heap_ops_buf;
	args->heap = (u64)&heap_ops_heap;
	if (nr > HEAP_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		heap_run_op(&heap_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * heap_churn: the locked heap under concurrent runs.
 */

struct scx_arena_heap_locked __arena_global heap_churn_heap;

struct heap_churn_state {
	u64 seq;
	u64 pushes;
	u64 pops;
	u64 mismatches;
	u64 unmarked;
	u64 timeouts;
	u64 failed;
};

static __always_inline void churn_step(struct heap_churn_state __arena *st, u64 seed, u32 r)
{
	struct scx_arena_heap_locked __arena *hl = &heap_churn_heap;
	struct heap_item __arena *it;
	int ret;

	switch (r & 3) {
	case 0:
		it = scx_arena_alloc(sizeof(*it));
		if (!it) {
			st->failed++;
			return;
		}
		it->tag = (seed << 32) | st->seq++;
		it->val = HEAP_CHURN_VAL(it->tag);
		/* Reserved capacity: no allocation with preemption off. */
		bpf_preempt_disable();
		ret = item_locked_push_reserved(hl, it, r >> 8);
		bpf_preempt_enable();
		if (ret) {
			if (ret == -ETIMEDOUT)
				st->timeouts++;
			else
				st->failed++;
			scx_arena_free(it);
			return;
		}
		st->pushes++;
		return;
	case 1:
		bpf_preempt_disable();
		ret = item_locked_pop(hl, &it);
		bpf_preempt_enable();
		if (ret) {
			st->timeouts++;
			return;
		}
		if (!it)
			return;
		st->pops++;
		if (it->val != HEAP_CHURN_VAL(it->tag))
			st->mismatches++;
		if (scx_arena_heap_node_queued(&it->node))
			st->unmarked++;
		scx_arena_free(it);
		return;
	default:
		/* Hold model: pop the minimum, push it back later in time. */
		bpf_preempt_disable();
		ret = item_locked_pop(hl, &it);
		if (!ret && it)
			ret = item_locked_push_reserved(hl, it, item_key(it) + (r >> 20));
		bpf_preempt_enable();
		if (ret == -ETIMEDOUT)
			st->timeouts++;
		else if (ret)
			st->failed++;
	}
}

SEC("syscall")
int heap_churn(struct heap_churn_args *args)
{
	struct heap_churn_state __arena *st;
	u64 iters = args->iters, seed = args->seed, it;

	scx_arena_assoc();
	st = scx_arena_new(struct heap_churn_state);
	if (!st)
		return -ENOMEM;
	/* Room for everything a run could leave behind. */
	if (scx_arena_heap_locked_reserve(&heap_churn_heap, HEAP_CHURN_CAP))
		return -ENOMEM;
	bpf_for(it, 0, iters)
		churn_step(st, seed, bpf_get_prandom_u32());
	args->pushes = st->pushes;
	args->pops = st->pops;
	args->mismatches = st->mismatches;
	args->unmarked = st->unmarked;
	args->timeouts = st->timeouts;
	args->failed = st->failed;
	args->heap = (u64)&heap_churn_heap;
	args->errors = scx_arena_last_error.count;
	scx_arena_free(st);
	return 0;
}

/* ---------------------------------------------------------------------------
 * heap_bench: the hold model, timed.
 */

static __always_inline u64 xorshift(u64 __arena *s)
{
	u64 x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

struct heap_bench_state {
	u64 rng;
	u64 sum;
	u64 ret;
};

SEC("syscall")
int heap_bench(struct heap_bench_args *args)
{
	struct scx_arena_heap __arena *h = new_heap();
	struct heap_bench_state __arena *st = scx_arena_new(struct heap_bench_state);
	struct scx_arena_heap_node __arena *nodes, *n;
	u64 nr = args->n, iters = args->iters, t0, i;

	args->ret = -ENOMEM;
	if (!h || !st || nr < 1 || nr > HEAP_OPS_MAX * 16)
		return 0;
	nodes = scx_arena_alloc(nr * sizeof(*nodes));
	if (!nodes)
		return 0;
	st->rng = args->seed;
	if (scx_arena_heap_init(h, nr))
		return 0;
	bpf_for(i, 0, nr)
		scx_arena_heap_push(h, &nodes[i], xorshift(&st->rng) >> 32);
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		n = scx_arena_heap_pop(h);
		if (!n)
			break;
		st->sum += n->key;
		st->ret |= scx_arena_heap_push(h, n, n->key + (xorshift(&st->rng) >> 44));
	}
	args->ns = bpf_ktime_get_ns() - t0;
	args->sum = st->sum;
	args->ret = st->ret;
	scx_arena_heap_destroy(h);
	scx_arena_free(nodes);
	scx_arena_free(h);
	scx_arena_free(st);
	return 0;
}
