/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena red-black tree (scx_arena/rbtree.h), and the drivers of
 * tests/rbtree.rs (programs not named test_*):
 *
 * rb_ops    runs a batch of tree operations that userspace wrote to an arena
 *           buffer on one tree of items from scx_arena_alloc(), and writes
 *           each result back for a BTreeMap model to check.
 * rb_churn  inserts and pops tagged items on one locked tree; several
 *           threads run it at once.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/rbtree.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_rbtree.h"

char _license[] SEC("license") = "GPL";

extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

struct rb_item {
	u64 id;
	struct scx_arena_rb_node node;
	u64 tag;
};

_Static_assert(sizeof(struct rb_item) == RB_ITEM_SIZE, "rb_item layout");
_Static_assert(__builtin_offsetof(struct rb_item, node) == RB_ITEM_NODE_OFF, "rb_item layout");

SCX_ARENA_RBTREE_DEFINE(item, struct rb_item, node);

/* The address of arena pointer @p, hidden from LLVM (see test_list.bpf.c). */
#define ADDR(p)                                                                \
	({                                                                     \
		u64 ___v = (u64)(p);                                           \
		asm volatile("" : "+r"(___v));                                 \
		___v;                                                          \
	})

/* A zeroed item with @id and @key (not in a tree). */
static __always_inline struct rb_item __arena *new_item(u64 id, u64 key)
{
	struct rb_item __arena *it = scx_arena_new(struct rb_item);

	asm volatile("" : "+r"(it));
	if (it) {
		it->id = id;
		it->node.key = key;
	}
	return it;
}

/* A zeroed tree root. */
static __always_inline struct scx_arena_rbtree __arena *new_tree(void)
{
	struct scx_arena_rbtree __arena *t = scx_arena_new(struct scx_arena_rbtree);

	asm volatile("" : "+r"(t));
	return t;
}

/* Walk state of rb_valid(), in arena memory. */
struct rb_walk {
	u64 count;
	u64 bh;      /* black height of the first node with a missing child */
	u64 prev_key;
	u64 last;    /* the last node walked */
};

/*
 * Checks the whole of @t: keys in order, links consistent, root black, no
 * red node with a red parent, equal black heights, nr, first and last. A
 * global function: verified once.
 */
int rb_valid(struct scx_arena_rbtree __arena *t __arg_arena)
{
	struct rb_walk __arena *w = scx_arena_new(struct rb_walk);
	struct scx_arena_rb_node __arena *n, *p, *m;
	u64 pc, bh;
	u32 i, j;

	if (!w || !t)
		return SCX_TEST_FAILED;
	n = t->root;
	if (n)
		ASSERT_EQ(n->parent_color, SCX_ARENA_RB_BLACK);
	n = t->first;
	bpf_for(i, 0, 4096) {
		if (!n)
			break;
		w->count++;
		if (w->count > 1)
			ASSERT_LE(w->prev_key, n->key);
		w->prev_key = n->key;
		pc = n->parent_color;
		p = scx_arena_from_u64(struct scx_arena_rb_node, pc & ~1ull);
		if (p)
			ASSERT_TRUE(ADDR(p->left) == ADDR(n) || ADDR(p->right) == ADDR(n));
		else
			ASSERT_EQ(ADDR(t->root), ADDR(n));
		if (!(pc & SCX_ARENA_RB_BLACK)) {
			ASSERT_NONNULL(p);
			ASSERT_EQ(p->parent_color & SCX_ARENA_RB_BLACK, SCX_ARENA_RB_BLACK);
		}
		if (!n->left || !n->right) {
			bh = 0;
			m = n;
			bpf_for(j, 0, SCX_ARENA_RB_MAX_DEPTH + 1) {
				if (!m)
					break;
				bh += m->parent_color & SCX_ARENA_RB_BLACK;
				m = scx_arena_from_u64(struct scx_arena_rb_node,
						       m->parent_color & ~1ull);
			}
			ASSERT_NULL(m);
			if (!w->bh)
				w->bh = bh;
			ASSERT_EQ(w->bh, bh);
		}
		w->last = ADDR(n);
		n = scx_arena_rbtree_next(n);
	}
	ASSERT_NULL(n);
	ASSERT_EQ(w->count, t->nr);
	ASSERT_EQ(w->last, ADDR(t->last));
	ASSERT_EQ(w->count == 0, t->root == NULL);
	scx_arena_free(w);
	return 0;
}

/* Expected ids of a tree in key order, for rb_expect(). */
struct ids {
	u64 v[8];
};

/*
 * Checks that @t is valid and holds exactly the items with ids
 * @want->v[0..@n), in order, walking forwards and backwards.
 */
int rb_expect(struct scx_arena_rbtree __arena *t __arg_arena, struct ids *want, u32 n)
{
	struct scx_arena_rb_node __arena *pos;
	struct rb_item __arena *it;
	u32 i = 0;

	if (!want || n > 8)
		return SCX_TEST_FAILED;
	ASSERT_OK(rb_valid(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), n);
	ASSERT_EQ(scx_arena_rbtree_empty(t), n == 0);
	scx_arena_rbtree_for_each(pos, t, 16) {
		if (i >= n || i >= 8)
			return SCX_TEST_FAILED;
		it = item_entry(pos);
		ASSERT_EQ(it->id, want->v[i & 7]);
		i++;
	}
	ASSERT_EQ(i, n);
	it = item_last(t);
	bpf_for(i, 0, 8) {
		if (i >= n)
			break;
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->id, want->v[(n - 1 - i) & 7]);
		it = item_prev(it);
	}
	ASSERT_NULL(it);
	return 0;
}

/* Inserts items id 0..@nr-1 with key (id * 37) % 101 into @t; returns them. */
static __always_inline u64 __arena *fill(struct scx_arena_rbtree __arena *t, u32 nr)
{
	u64 __arena *items = scx_arena_zalloc(nr * 8);
	struct rb_item __arena *it;
	u32 i;

	if (!items)
		return NULL;
	bpf_for(i, 0, nr) {
		it = new_item(i, (i * 37) % 101);
		if (!it || item_insert(t, it))
			return NULL;
		items[i] = (u64)it;
	}
	return items;
}

#define ITEM(items, i) scx_arena_from_u64(struct rb_item, (items)[i])

SEC("syscall")
int test_rbtree_empty(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct scx_arena_rb_node __arena *pos;
	struct ids none = { {} };
	u64 __arena *visits = scx_arena_new(u64);

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(visits);
	/* Zeroed memory is an empty tree. */
	ASSERT_TRUE(scx_arena_rbtree_empty(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), 0);
	ASSERT_NULL(scx_arena_rbtree_first(t));
	ASSERT_NULL(scx_arena_rbtree_last(t));
	ASSERT_NULL(scx_arena_rbtree_pop_first(t));
	ASSERT_NULL(scx_arena_rbtree_pop_last(t));
	ASSERT_NULL(scx_arena_rbtree_lookup(t, 0));
	ASSERT_NULL(scx_arena_rbtree_lower_bound(t, 0));
	ASSERT_NULL(scx_arena_rbtree_upper_bound(t, 0));
	ASSERT_NULL(item_first(t));
	ASSERT_NULL(item_pop_first(t));
	ASSERT_NULL(scx_arena_rbtree_next(NULL));
	ASSERT_NULL(scx_arena_rbtree_prev(NULL));
	scx_arena_rbtree_for_each(pos, t, 100)
		(*visits)++;
	ASSERT_EQ(*visits, 0);
	ASSERT_NULL(pos);
	ASSERT_OK(rb_expect(t, &none, 0));

	/* init resets a root that held nodes. */
	ASSERT_EQ(item_insert(t, new_item(1, 5)), 0);
	ASSERT_EQ(scx_arena_rbtree_len(t), 1);
	scx_arena_rbtree_init(t);
	ASSERT_TRUE(scx_arena_rbtree_empty(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), 0);
	ASSERT_NULL(t->first);
	ASSERT_NULL(t->last);
	return 0;
}

SEC("syscall")
int test_rbtree_one_element(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct rb_item __arena *a = new_item(7, 100);
	struct ids one = { { 7 } }, none = { {} };

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(a);
	ASSERT_FALSE(scx_arena_rb_node_linked(&a->node));
	ASSERT_EQ(item_insert(t, a), 0);
	ASSERT_TRUE(scx_arena_rb_node_linked(&a->node));
	ASSERT_OK(rb_expect(t, &one, 1));
	ASSERT_EQ(ADDR(t->root), ADDR(&a->node));
	ASSERT_EQ(ADDR(item_first(t)), ADDR(a));
	ASSERT_EQ(ADDR(item_last(t)), ADDR(a));
	/* The root is black and has no parent. */
	ASSERT_EQ(a->node.parent_color, SCX_ARENA_RB_BLACK);
	ASSERT_NULL(item_next(a));
	ASSERT_NULL(item_prev(a));
	ASSERT_EQ(ADDR(item_lookup(t, 100)), ADDR(a));
	ASSERT_NULL(item_lookup(t, 99));
	ASSERT_NULL(item_lookup(t, 101));
	ASSERT_EQ(ADDR(item_lower_bound(t, 0)), ADDR(a));
	ASSERT_EQ(ADDR(item_lower_bound(t, 100)), ADDR(a));
	ASSERT_NULL(item_lower_bound(t, 101));
	ASSERT_EQ(ADDR(item_upper_bound(t, 99)), ADDR(a));
	ASSERT_NULL(item_upper_bound(t, 100));

	/* The root, its links all zero, is linked: no second insert. */
	ASSERT_EQ(item_insert(t, a), -EEXIST);
	ASSERT_EQ(item_insert_key(t, a, 5), -EEXIST);
	ASSERT_EQ(item_key(a), 100);
	ASSERT_OK(rb_expect(t, &one, 1));

	ASSERT_EQ(ADDR(item_pop_first(t)), ADDR(a));
	ASSERT_OK(rb_expect(t, &none, 0));
	ASSERT_NULL(t->root);
	ASSERT_TRUE(scx_arena_rb_node_removed(&a->node));
	ASSERT_EQ((u64)a->node.left, SCX_ARENA_RB_POISON);
	ASSERT_EQ((u64)a->node.right, SCX_ARENA_RB_POISON);
	ASSERT_EQ(item_key(a), 100);
	ASSERT_EQ(item_remove(t, a), -EINVAL);
	ASSERT_NULL(item_next(a));

	/* A removed node goes back in. */
	ASSERT_EQ(item_insert_key(t, a, 3), 0);
	ASSERT_OK(rb_expect(t, &one, 1));
	ASSERT_EQ(ADDR(item_pop_last(t)), ADDR(a));
	ASSERT_OK(rb_expect(t, &none, 0));
	ASSERT_EQ(scx_arena_free(a), 0);
	return 0;
}

SEC("syscall")
int test_rbtree_many_sorted_both_ways(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct scx_arena_rb_node __arena *n;
	u64 __arena *items;
	u64 __arena *seen = scx_arena_new(u64);
	u32 i;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(seen);
	/* 101 distinct keys in a scrambled order. */
	items = fill(t, 101);
	ASSERT_NONNULL(items);
	ASSERT_OK(rb_valid(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), 101);
	/* Forwards: keys 0..100. */
	n = scx_arena_rbtree_first(t);
	bpf_for(i, 0, 101) {
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->key, i);
		n = scx_arena_rbtree_next(n);
	}
	ASSERT_NULL(n);
	/* Backwards: keys 100..0. */
	n = scx_arena_rbtree_last(t);
	bpf_for(i, 0, 101) {
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->key, 100 - i);
		n = scx_arena_rbtree_prev(n);
	}
	ASSERT_NULL(n);
	/* Every key is found, at its item. */
	bpf_for(i, 0, 101) {
		n = scx_arena_rbtree_lookup(t, (i * 37) % 101);
		ASSERT_EQ(ADDR(n), ADDR(&ITEM(items, i)->node));
	}
	/* Pop from both ends alternately, checking order and shape. */
	bpf_for(i, 0, 50) {
		n = scx_arena_rbtree_pop_first(t);
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->key, i);
		n = scx_arena_rbtree_pop_last(t);
		ASSERT_NONNULL(n);
		ASSERT_EQ(n->key, 100 - i);
		if (!(i & 7))
			ASSERT_OK(rb_valid(t));
	}
	ASSERT_OK(rb_valid(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), 1);
	ASSERT_EQ(scx_arena_rbtree_first(t)->key, 50);
	return 0;
}

SEC("syscall")
int test_rbtree_duplicates_keep_insertion_order(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct rb_item __arena *it;
	u32 i;

	ASSERT_NONNULL(t);
	/* ids 0..59, keys 0, 1, 2 in turn: each key 20 times. */
	bpf_for(i, 0, 60) {
		it = new_item(i, i % 3);
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_insert(t, it), 0);
	}
	ASSERT_OK(rb_valid(t));
	/* In order: key 0 with ids 0, 3, 6, ..., then key 1 with 1, 4, ... */
	it = item_first(t);
	bpf_for(i, 0, 60) {
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_key(it), i / 20);
		ASSERT_EQ(it->id, (i % 20) * 3 + i / 20);
		it = item_next(it);
	}
	ASSERT_NULL(it);
	/* lookup and lower_bound give the first of equal keys, upper_bound the next key's. */
	ASSERT_EQ(item_lookup(t, 1)->id, 1);
	ASSERT_EQ(item_lower_bound(t, 2)->id, 2);
	ASSERT_EQ(item_upper_bound(t, 0)->id, 1);
	ASSERT_NULL(item_upper_bound(t, 2));
	ASSERT_EQ(item_last(t)->id, 59);
	/* pop_first takes equal keys in insertion order (FIFO). */
	bpf_for(i, 0, 20) {
		it = item_pop_first(t);
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->id, i * 3);
	}
	ASSERT_OK(rb_valid(t));
	/* A removed one goes back in after the equal keys. */
	ASSERT_EQ(item_insert_key(t, it, 1), 0);
	ASSERT_EQ(ADDR(item_prev(item_lookup(t, 2))), ADDR(it));
	/* pop_last takes the last inserted of equal largest keys. */
	ASSERT_EQ(item_pop_last(t)->id, 59);
	ASSERT_EQ(item_pop_last(t)->id, 56);
	ASSERT_OK(rb_valid(t));
	return 0;
}

SEC("syscall")
int test_rbtree_lower_bound_at_between_after(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct rb_item __arena *it;
	u32 i;

	ASSERT_NONNULL(t);
	/* Keys 10, 20, ..., 100 (ids = keys), and a second 50 (id 51). */
	bpf_for(i, 1, 11) {
		it = new_item(i * 10, i * 10);
		ASSERT_EQ(item_insert(t, it), 0);
	}
	ASSERT_EQ(item_insert(t, new_item(51, 50)), 0);
	ASSERT_OK(rb_valid(t));
	/* Before all keys. */
	ASSERT_EQ(item_lower_bound(t, 0)->id, 10);
	ASSERT_EQ(item_lower_bound(t, 9)->id, 10);
	/* At keys, and between them. */
	bpf_for(i, 1, 11) {
		ASSERT_EQ(item_lower_bound(t, i * 10)->id, i * 10);
		ASSERT_EQ(item_lower_bound(t, i * 10 - 1)->id, i * 10);
		ASSERT_EQ(item_lookup(t, i * 10)->id, i * 10);
		ASSERT_NULL(item_lookup(t, i * 10 + 1));
	}
	ASSERT_EQ(item_lower_bound(t, 41)->id, 50);
	ASSERT_EQ(item_upper_bound(t, 50)->id, 60);
	ASSERT_EQ(item_upper_bound(t, 49)->id, 50);
	/* After all keys. */
	ASSERT_NULL(item_lower_bound(t, 101));
	ASSERT_NULL(item_lower_bound(t, ~0ull));
	ASSERT_EQ(item_upper_bound(t, 99)->id, 100);
	/* The extremes of u64 as keys. */
	ASSERT_EQ(item_insert(t, new_item(1, ~0ull)), 0);
	ASSERT_EQ(item_insert(t, new_item(2, 0)), 0);
	ASSERT_EQ(item_lower_bound(t, ~0ull)->id, 1);
	ASSERT_EQ(item_last(t)->id, 1);
	ASSERT_EQ(item_first(t)->id, 2);
	ASSERT_EQ(item_lower_bound(t, 0)->id, 2);
	ASSERT_OK(rb_valid(t));
	return 0;
}

SEC("syscall")
int test_rbtree_remove_root_leaf_inner(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct scx_arena_rb_node __arena *n;
	u64 __arena *items;
	u32 i;

	ASSERT_NONNULL(t);
	items = fill(t, 101);
	ASSERT_NONNULL(items);
	/* The root, many times over. */
	bpf_for(i, 0, 20) {
		n = t->root;
		ASSERT_NONNULL(n);
		ASSERT_EQ(scx_arena_rbtree_remove(t, n), 0);
		ASSERT_TRUE(scx_arena_rb_node_removed(n));
		ASSERT_OK(rb_valid(t));
	}
	/* Leaves: the first node is one or has one red child. */
	bpf_for(i, 0, 10) {
		n = t->first;
		ASSERT_NONNULL(n);
		n = n->right ?: n;
		ASSERT_NULL(n->left);
		ASSERT_NULL(n->right);
		ASSERT_EQ(scx_arena_rbtree_remove(t, n), 0);
		ASSERT_OK(rb_valid(t));
	}
	/* Inner nodes with two children: the root's children. */
	bpf_for(i, 0, 10) {
		n = t->root->left;
		ASSERT_NONNULL(n);
		if (!n->left || !n->right)
			n = t->root->right;
		ASSERT_NONNULL(n);
		ASSERT_EQ(scx_arena_rbtree_remove(t, n), 0);
		ASSERT_OK(rb_valid(t));
	}
	ASSERT_EQ(scx_arena_rbtree_len(t), 61);
	/* Everything else, by key order from the middle. */
	bpf_for(i, 0, 61) {
		n = scx_arena_rbtree_lower_bound(t, 50);
		if (!n)
			n = scx_arena_rbtree_last(t);
		ASSERT_NONNULL(n);
		ASSERT_EQ(scx_arena_rbtree_remove(t, n), 0);
		if (!(i & 3))
			ASSERT_OK(rb_valid(t));
	}
	ASSERT_TRUE(scx_arena_rbtree_empty(t));
	ASSERT_OK(rb_valid(t));
	/* Every item is removed (poisoned) and can go back in. */
	bpf_for(i, 0, 101) {
		ASSERT_TRUE(scx_arena_rb_node_removed(&ITEM(items, i)->node));
		ASSERT_EQ(item_insert(t, ITEM(items, i)), 0);
	}
	ASSERT_OK(rb_valid(t));
	ASSERT_EQ(scx_arena_rbtree_len(t), 101);
	return 0;
}

SEC("syscall")
int test_rbtree_update_key_both_ways(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct rb_item __arena *it[5];
	struct ids want = { { 0, 1, 2, 3, 4 } };
	u64 pc;
	u32 i;

	ASSERT_NONNULL(t);
	/* Keys 10, 20, 30, 40, 50 with ids 0..4. */
	bpf_for(i, 0, 5) {
		it[i] = new_item(i, (i + 1) * 10);
		ASSERT_NONNULL(it[i]);
		ASSERT_EQ(item_insert(t, it[i]), 0);
	}
	ASSERT_OK(rb_expect(t, &want, 5));

	/* In place: between the neighbours, or equal to the previous key. */
	pc = it[2]->node.parent_color;
	ASSERT_EQ(item_update_key(t, it[2], 25), 0);
	ASSERT_EQ(item_update_key(t, it[2], 39), 0);
	ASSERT_EQ(item_update_key(t, it[2], 20), 0);
	ASSERT_EQ(it[2]->node.parent_color, pc);
	ASSERT_OK(rb_expect(t, &want, 5));
	ASSERT_EQ(item_key(it[2]), 20);

	/* Up past its successors: 2 goes last. */
	ASSERT_EQ(item_update_key(t, it[2], 45), 0);
	want.v[2] = 3, want.v[3] = 2;
	ASSERT_OK(rb_expect(t, &want, 5));
	ASSERT_EQ(item_update_key(t, it[2], 100), 0);
	want.v[3] = 4, want.v[4] = 2;
	ASSERT_OK(rb_expect(t, &want, 5));
	ASSERT_EQ(ADDR(item_last(t)), ADDR(it[2]));

	/* Equal to the next key: it moves after it (as a reinsert would). */
	ASSERT_EQ(item_update_key(t, it[0], 20), 0);
	want.v[0] = 1, want.v[1] = 0;
	ASSERT_OK(rb_expect(t, &want, 5));

	/* Down to the front. */
	ASSERT_EQ(item_update_key(t, it[2], 5), 0);
	want.v[0] = 2, want.v[1] = 1, want.v[2] = 0, want.v[3] = 3, want.v[4] = 4;
	ASSERT_OK(rb_expect(t, &want, 5));
	ASSERT_EQ(ADDR(item_first(t)), ADDR(it[2]));
	/* The last one down to the front: first and last both move. */
	ASSERT_EQ(item_update_key(t, it[4], 0), 0);
	want.v[0] = 4, want.v[1] = 2, want.v[2] = 1, want.v[3] = 0, want.v[4] = 3;
	ASSERT_OK(rb_expect(t, &want, 5));
	ASSERT_EQ(ADDR(item_last(t)), ADDR(it[3]));

	/* Not in a tree. */
	ASSERT_EQ(item_remove(t, it[1]), 0);
	ASSERT_EQ(item_update_key(t, it[1], 7), -EINVAL);
	ASSERT_EQ(item_key(it[1]), 20);
	ASSERT_EQ(item_update_key(t, NULL, 7), -EINVAL);
	return 0;
}

SEC("syscall")
int test_rbtree_errors(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree(), *other = new_tree();
	struct rb_item __arena *a = new_item(1, 10), *b = new_item(2, 20), *c = new_item(3, 30);
	struct rb_item __arena *fresh = new_item(4, 40);
	struct rb_item __arena *inited = scx_arena_alloc(sizeof(*inited));
	struct ids want = { { 1, 2, 3 } }, ac = { { 1, 3 } };

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(other);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_NONNULL(fresh);
	ASSERT_NONNULL(inited);
	inited->id = 5;
	scx_arena_rb_node_init(&inited->node);
	ASSERT_TRUE(scx_arena_rb_node_removed(&inited->node));

	/* NULL. */
	ASSERT_EQ(item_insert(t, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_rbtree_insert(t, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_rbtree_insert_key(t, NULL, 1), -EINVAL);
	ASSERT_EQ(item_remove(t, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_rbtree_remove(t, NULL), -EINVAL);

	ASSERT_EQ(item_insert(t, b), 0);
	ASSERT_EQ(item_insert(t, a), 0);
	ASSERT_EQ(item_insert(t, c), 0);
	ASSERT_OK(rb_expect(t, &want, 3));

	/* Insert of a node in the tree: root, left leaf, right leaf. */
	ASSERT_EQ(item_insert(t, a), -EEXIST);
	ASSERT_EQ(item_insert(t, b), -EEXIST);
	ASSERT_EQ(item_insert_key(t, c, 1), -EEXIST);
	ASSERT_EQ(item_key(c), 30);
	ASSERT_OK(rb_expect(t, &want, 3));

	/* Remove of a node never added: zeroed, or initialised. */
	ASSERT_EQ(item_remove(t, fresh), -EINVAL);
	ASSERT_EQ(item_remove(t, inited), -EINVAL);
	ASSERT_NULL(item_next(fresh));
	ASSERT_NULL(item_prev(inited));
	/* Removed twice. */
	ASSERT_EQ(item_remove(t, b), 0);
	ASSERT_EQ(item_remove(t, b), -EINVAL);
	ASSERT_OK(rb_expect(t, &ac, 2));
	/* The root of another tree is not in this one. */
	ASSERT_EQ(item_insert(other, b), 0);
	ASSERT_EQ(item_remove(t, b), -EINVAL);
	/* A node whose parent does not point back at it. */
	fresh->node.parent_color = (u64)&a->node | SCX_ARENA_RB_BLACK;
	ASSERT_EQ(item_remove(t, fresh), -EINVAL);
	ASSERT_OK(rb_expect(t, &ac, 2));
	/* Initialised and removed nodes insert fine. */
	ASSERT_EQ(item_insert_key(t, inited, 20), 0);
	want.v[1] = 5;
	ASSERT_OK(rb_expect(t, &want, 3));
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_rbtree_typed_wrappers(void *ctx)
{
	struct scx_arena_rbtree __arena *q = new_tree();
	struct rb_item __arena *t, *got;

	ASSERT_NONNULL(q);
	t = new_item(42, 9);
	ASSERT_NONNULL(t);
	/* container_of: the node sits 8 bytes into the item. */
	ASSERT_EQ((u64)&t->node - (u64)t, RB_ITEM_NODE_OFF);
	ASSERT_EQ(ADDR(item_entry(&t->node)), ADDR(t));
	ASSERT_NULL(item_entry(NULL));
	ASSERT_EQ(ADDR(scx_arena_rbtree_entry(&t->node, struct rb_item, node)), ADDR(t));
	ASSERT_NULL(item_next(NULL));
	ASSERT_NULL(item_prev(NULL));

	ASSERT_EQ(item_insert(q, t), 0);
	got = item_first(q);
	ASSERT_EQ(got->id, 42);
	ASSERT_EQ(item_key(got), 9);
	got = item_pop_first(q);
	ASSERT_EQ(ADDR(got), ADDR(t));
	ASSERT_NULL(item_pop_first(q));
	ASSERT_NULL(item_pop_last(q));
	return 0;
}

SEC("syscall")
int test_rbtree_iteration_is_bounded(void *ctx)
{
	struct scx_arena_rbtree __arena *t = new_tree();
	struct scx_arena_rb_node __arena *pos;
	u64 __arena *visits = scx_arena_new(u64);
	u64 __arena *items;

	ASSERT_NONNULL(t);
	ASSERT_NONNULL(visits);
	items = fill(t, 10);
	ASSERT_NONNULL(items);
	/* max bounds the walk... */
	scx_arena_rbtree_for_each(pos, t, 4)
		(*visits)++;
	ASSERT_EQ(*visits, 4);
	/* ...and break leaves the cursor where it stopped. */
	scx_arena_rbtree_for_each(pos, t, 100) {
		if (pos->key == 37)
			break;
	}
	ASSERT_NONNULL(pos);
	ASSERT_EQ(item_entry(pos)->id, 1);
	/* A full walk visits every node once. */
	*visits = 0;
	scx_arena_rbtree_for_each(pos, t, 100)
		(*visits)++;
	ASSERT_EQ(*visits, 10);
	ASSERT_NULL(pos);

	/* A cycle (corruption) ends at the height bound with an error. */
	ASSERT_EQ(scx_arena_last_error.count, 0);
	t->root->left->left = t->root;
	ASSERT_EQ(item_insert(t, new_item(99, 0)), -ELOOP);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	/* Searches give up at the bound too: nothing found, reported. */
	ASSERT_NULL(scx_arena_rbtree_lower_bound(t, 0));
	ASSERT_NULL(scx_arena_rbtree_upper_bound(t, 0));
	ASSERT_EQ(scx_arena_last_error.count, 3);
	return 0;
}

SEC("syscall")
int test_rbtree_locked(void *ctx)
{
	struct scx_arena_rbtree_locked __arena *tl = scx_arena_new(struct scx_arena_rbtree_locked);
	struct scx_arena_rb_node __arena *n;
	struct rb_item __arena *a = new_item(1, 10), *b = new_item(2, 20), *c = new_item(3, 5), *got;
	struct ids want = { { 3, 1, 2 } };

	ASSERT_NONNULL(tl);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_TRUE(scx_arena_rbtree_locked_empty(tl));
	ASSERT_EQ(item_locked_pop_first(tl, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(item_locked_insert(tl, a), 0);
	ASSERT_EQ(item_locked_insert_key(tl, b, 20), 0);
	ASSERT_EQ(item_locked_insert(tl, c), 0);
	ASSERT_EQ(item_locked_insert(tl, c), -EEXIST);
	ASSERT_EQ(scx_arena_rbtree_locked_len(tl), 3);
	ASSERT_OK(rb_expect(&tl->tree, &want, 3));
	ASSERT_EQ(scx_arena_lock_holder(&tl->lock), -1);

	ASSERT_EQ(item_locked_first(tl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(c));
	ASSERT_EQ(scx_arena_rbtree_locked_last(tl, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&b->node));
	ASSERT_EQ(item_locked_update_key(tl, c, 30), 0);
	ASSERT_EQ(scx_arena_rbtree_locked_first(tl, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&a->node));
	ASSERT_EQ(item_locked_remove(tl, a), 0);
	ASSERT_EQ(item_locked_remove(tl, a), -EINVAL);
	ASSERT_EQ(scx_arena_rbtree_locked_pop_last(tl, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&c->node));
	ASSERT_EQ(item_locked_pop_first(tl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(b));
	ASSERT_EQ(scx_arena_rbtree_locked_pop_first(tl, &n), 0);
	ASSERT_NULL(n);
	ASSERT_TRUE(scx_arena_rbtree_locked_empty(tl));
	ASSERT_EQ(scx_arena_lock_holder(&tl->lock), -1);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_rbtree_locked_held_lock_times_out(void *ctx)
{
	static const char want_msg[] = "lock timeout: rbtree (held by cpu ";
	struct scx_arena_rbtree_locked __arena *tl = scx_arena_new(struct scx_arena_rbtree_locked);
	struct rb_item __arena *a = new_item(1, 1), *got;
	struct ids one = { { 1 } };

	ASSERT_NONNULL(tl);
	ASSERT_NONNULL(a);
	ASSERT_EQ(item_locked_insert(tl, a), 0);

	/* Someone holds the lock and never lets go. */
	held_lock_set(&tl->lock);
	ASSERT_EQ(item_locked_pop_first(tl, &got), -ETIMEDOUT);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want_msg) - 1, want_msg), 0);
	ASSERT_EQ(item_locked_insert(tl, new_item(2, 2)), -ETIMEDOUT);
	ASSERT_EQ(item_locked_remove(tl, a), -ETIMEDOUT);
	ASSERT_EQ(item_locked_update_key(tl, a, 7), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 4);
	/* Nothing changed behind the lock. */
	ASSERT_OK(rb_expect(&tl->tree, &one, 1));
	ASSERT_EQ(item_key(a), 1);

	held_lock_clear(&tl->lock);
	ASSERT_EQ(item_locked_pop_first(tl, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	return 0;
}

/* ---------------------------------------------------------------------------
 * The allocating map.
 */

/*
 * Live slab objects of the map node's size class, over all CPUs: what the
 * allocator handed out and did not get back.
 */
int rbmap_live(void)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	int cls = scx_arena_slab_class(sizeof(struct scx_arena_rbmap_node));
	struct scx_arena_slab_pcpu __arena *pc;
	u64 __arena *pcpus;
	s64 live = 0;
	u32 cpu;

	if (!r || cls < 0 || cls >= SCX_ARENA_SLAB_NR_CLASSES)
		return -1;
	live = r->slab.cls[cls].nr_alloc_direct - r->slab.cls[cls].nr_free_direct;
	pcpus = scx_arena_from_u64(u64, r->slab.pcpu);
	if (!pcpus)
		return live;
	bpf_for(cpu, 0, SCX_ARENA_SLAB_MAX_CPUS) {
		pc = scx_arena_from_u64(struct scx_arena_slab_pcpu, pcpus[cpu]);
		if (pc)
			live += pc->nr_alloc[cls] - pc->nr_free[cls];
	}
	return live;
}

SEC("syscall")
int test_rbmap_insert_lookup_remove(void *ctx)
{
	struct scx_arena_rbmap __arena *m = scx_arena_new(struct scx_arena_rbmap);
	u64 key = 0, val = 0;
	u32 i;
	int live0 = rbmap_live();

	ASSERT_NONNULL(m);
	ASSERT_GE(live0, 0);
	ASSERT_TRUE(scx_arena_rbmap_empty(m));
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 1, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_first(m, &key, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_pop_first(m, &key, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_remove(m, 1, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_lower_bound(m, 0, &key, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_destroy(m), 0);

	/* key k -> value 1000 + k, keys 0..49 scrambled, and a second key 7. */
	bpf_for(i, 0, 50)
		ASSERT_EQ(scx_arena_rbmap_insert(m, (i * 13) % 50, 1000 + (i * 13) % 50), 0);
	ASSERT_EQ(scx_arena_rbmap_insert(m, 7, 2007), 0);
	ASSERT_EQ(scx_arena_rbmap_len(m), 51);
	ASSERT_EQ(rbmap_live(), live0 + 51);
	ASSERT_OK(rb_valid(&m->tree));
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 30, &val), 0);
	ASSERT_EQ(val, 1030);
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 50, &val), -ENOENT);
	ASSERT_EQ(scx_arena_rbmap_lower_bound(m, 49, &key, &val), 0);
	ASSERT_EQ(key, 49);
	ASSERT_EQ(scx_arena_rbmap_first(m, &key, &val), 0);
	ASSERT_EQ(key, 0);
	ASSERT_EQ(val, 1000);
	/* Equal keys come out in insertion order. */
	ASSERT_EQ(scx_arena_rbmap_remove(m, 7, &val), 0);
	ASSERT_EQ(val, 1007);
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 7, &val), 0);
	ASSERT_EQ(val, 2007);
	ASSERT_EQ(scx_arena_rbmap_remove(m, 7, NULL), 0);
	ASSERT_EQ(scx_arena_rbmap_remove(m, 7, &val), -ENOENT);
	ASSERT_EQ(rbmap_live(), live0 + 49);
	bpf_for(i, 0, 10) {
		ASSERT_EQ(scx_arena_rbmap_pop_first(m, &key, &val), 0);
		ASSERT_EQ(key, i < 7 ? i : i + 1);
		ASSERT_EQ(val, 1000 + key);
	}
	ASSERT_OK(rb_valid(&m->tree));
	ASSERT_EQ(scx_arena_rbmap_len(m), 39);
	ASSERT_EQ(rbmap_live(), live0 + 39);
	ASSERT_EQ(scx_arena_rbmap_destroy(m), 39);
	ASSERT_EQ(rbmap_live(), live0);
	ASSERT_TRUE(scx_arena_rbmap_empty(m));
	return 0;
}

SEC("syscall")
int test_rbmap_destroy_with_elements_returns_memory(void *ctx)
{
	struct scx_arena_rbmap __arena *m = scx_arena_new(struct scx_arena_rbmap);
	u64 val;
	u32 i;
	int live0 = rbmap_live();

	ASSERT_NONNULL(m);
	ASSERT_GE(live0, 0);
	bpf_for(i, 0, 3000)
		ASSERT_EQ(scx_arena_rbmap_insert(m, i % 97, i), 0);
	ASSERT_EQ(rbmap_live(), live0 + 3000);
	ASSERT_EQ(scx_arena_rbmap_len(m), 3000);
	ASSERT_EQ(scx_arena_rbmap_destroy(m), 3000);
	ASSERT_EQ(rbmap_live(), live0);
	ASSERT_TRUE(scx_arena_rbmap_empty(m));
	ASSERT_EQ(scx_arena_rbmap_len(m), 0);
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 1, &val), -ENOENT);
	/* The map is usable again. */
	ASSERT_EQ(scx_arena_rbmap_insert(m, 5, 6), 0);
	ASSERT_EQ(scx_arena_rbmap_lookup(m, 5, &val), 0);
	ASSERT_EQ(val, 6);
	ASSERT_EQ(scx_arena_rbmap_destroy(m), 1);
	ASSERT_EQ(rbmap_live(), live0);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

/* ---------------------------------------------------------------------------
 * rb_ops: the driver of the model test.
 */

struct rb_op __arena_global rb_ops_buf[RB_OPS_MAX];
struct scx_arena_rbtree __arena_global rb_ops_tree;

/* Stores node @n's item (or 0), key and id in @op. */
static __always_inline void op_node(struct rb_op __arena *op, struct scx_arena_rb_node __arena *n)
{
	struct rb_item __arena *it = item_entry(n);

	op->addr = (u64)it;
	op->key = it ? it->node.key : 0;
	op->val = it ? it->id : 0;
}

#define OP_ITEM(op) scx_arena_from_u64(struct rb_item, (op)->addr)
#define OP_NODE(op) ((op)->addr ? &OP_ITEM(op)->node : NULL)

/* Runs one operation and stores its results in it. */
static __always_inline void rb_run_op(struct rb_op __arena *op)
{
	struct scx_arena_rbtree __arena *t = &rb_ops_tree;
	struct rb_item __arena *it;
	s64 ret = 0;

	switch (op->op) {
	case RB_OP_NOP:
		break;
	case RB_OP_INSERT:
		/* Not zeroed: recycled memory, as a scheduler would have it. */
		it = scx_arena_alloc(sizeof(*it));
		op->addr = (u64)it;
		if (!it) {
			ret = -ENOMEM;
			break;
		}
		it->id = op->val;
		it->tag = ~op->val;
		scx_arena_rb_node_init(&it->node);
		ret = item_insert_key(t, it, op->key);
		break;
	case RB_OP_REINSERT:
		ret = scx_arena_rbtree_insert_key(t, OP_NODE(op), op->key);
		break;
	case RB_OP_REMOVE:
		ret = scx_arena_rbtree_remove(t, OP_NODE(op));
		break;
	case RB_OP_UPDATE_KEY:
		ret = scx_arena_rbtree_update_key(t, OP_NODE(op), op->key);
		break;
	case RB_OP_LOOKUP:
		op_node(op, scx_arena_rbtree_lookup(t, op->key));
		break;
	case RB_OP_LOWER_BOUND:
		op_node(op, scx_arena_rbtree_lower_bound(t, op->key));
		break;
	case RB_OP_UPPER_BOUND:
		op_node(op, scx_arena_rbtree_upper_bound(t, op->key));
		break;
	case RB_OP_FIRST:
		op_node(op, scx_arena_rbtree_first(t));
		break;
	case RB_OP_LAST:
		op_node(op, scx_arena_rbtree_last(t));
		break;
	case RB_OP_NEXT:
		op_node(op, scx_arena_rbtree_next(OP_NODE(op)));
		break;
	case RB_OP_PREV:
		op_node(op, scx_arena_rbtree_prev(OP_NODE(op)));
		break;
	case RB_OP_POP_FIRST:
		op_node(op, scx_arena_rbtree_pop_first(t));
		break;
	case RB_OP_POP_LAST:
		op_node(op, scx_arena_rbtree_pop_last(t));
		break;
	case RB_OP_FREE:
		ret = scx_arena_free(scx_arena_from_u64(void, op->addr));
		break;
	case RB_OP_LEN:
		op->val = scx_arena_rbtree_len(t);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int rb_ops(struct rb_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)rb_ops_buf;
	args->tree = (u64)&rb_ops_tree;
	if (nr > RB_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		rb_run_op(&rb_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * rb_churn: the locked tree under concurrent runs.
 */

struct scx_arena_rbtree_locked __arena_global rb_churn_tree;

/* Per-run counters, in arena memory. */
struct rb_churn_state {
	u64 seq;
	u64 inserts;
	u64 pops;
	u64 mismatches;
	u64 unpoisoned;
	u64 timeouts;
	u64 failed;
};

/* One step: insert a new tagged item, or pop the first or last, check and free it. */
static __always_inline void churn_step(struct rb_churn_state __arena *st, u64 seed, u32 r)
{
	struct scx_arena_rbtree_locked __arena *tl = &rb_churn_tree;
	struct scx_arena_rb_node __arena *n;
	struct rb_item __arena *it;
	int ret;

	if (r & 1) {
		it = scx_arena_alloc(sizeof(*it));
		if (!it) {
			st->failed++;
			return;
		}
		it->tag = (seed << 32) | st->seq++;
		it->id = RB_CHURN_ID(it->tag);
		scx_arena_rb_node_init(&it->node);
		bpf_preempt_disable();
		ret = item_locked_insert_key(tl, it, (r >> 8) % RB_CHURN_KEYS);
		bpf_preempt_enable();
		if (ret) {
			if (ret == -ETIMEDOUT)
				st->timeouts++;
			else
				st->failed++;
			scx_arena_free(it);
			return;
		}
		st->inserts++;
		return;
	}
	bpf_preempt_disable();
	if (r & 2)
		ret = scx_arena_rbtree_locked_pop_first(tl, &n);
	else
		ret = scx_arena_rbtree_locked_pop_last(tl, &n);
	bpf_preempt_enable();
	if (ret) {
		st->timeouts++;
		return;
	}
	it = item_entry(n);
	if (!it)
		return;
	st->pops++;
	if (it->id != RB_CHURN_ID(it->tag))
		st->mismatches++;
	if (!scx_arena_rb_node_removed(&it->node))
		st->unpoisoned++;
	scx_arena_free(it);
}

SEC("syscall")
int rb_churn(struct rb_churn_args *args)
{
	struct rb_churn_state __arena *st;
	u64 iters = args->iters, seed = args->seed, it;

	scx_arena_assoc();
	st = scx_arena_new(struct rb_churn_state);
	if (!st)
		return -ENOMEM;
	bpf_for(it, 0, iters)
		churn_step(st, seed, bpf_get_prandom_u32());
	args->inserts = st->inserts;
	args->pops = st->pops;
	args->mismatches = st->mismatches;
	args->unpoisoned = st->unpoisoned;
	args->timeouts = st->timeouts;
	args->failed = st->failed;
	args->tree = (u64)&rb_churn_tree;
	args->errors = scx_arena_last_error.count;
	scx_arena_free(st);
	return 0;
}
