/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena list (scx_arena/list.h), and the drivers of
 * tests/list.rs (programs not named test_*):
 *
 * list_ops    runs a batch of list operations that userspace wrote to an
 *             arena buffer on one list of items from scx_arena_alloc(), and
 *             writes each result back for a VecDeque model to check.
 * list_churn  pushes and pops tagged items on one locked list; several
 *             threads run it at once.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/list.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_list.h"

char _license[] SEC("license") = "GPL";

extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

struct list_item {
	u64 val;
	struct scx_arena_list_node node;
	u64 tag;
};

_Static_assert(sizeof(struct list_item) == LIST_ITEM_SIZE, "list_item layout");
_Static_assert(__builtin_offsetof(struct list_item, node) == LIST_ITEM_NODE_OFF,
	       "list_item layout");

SCX_ARENA_LIST_DEFINE(item, struct list_item, node);

/*
 * The address of arena pointer @p, hidden from LLVM. Comparing two arena
 * pointers directly lets clang-19 substitute one for the other after the
 * comparison, and a substituted pointer may miss its address-space cast
 * ("R1 invalid mem access 'scalar'" at a later store).
 */
#define ADDR(p)                                                                \
	({                                                                     \
		u64 ___v = (u64)(p);                                           \
		asm volatile("" : "+r"(___v));                                 \
		___v;                                                          \
	})

/* A zeroed item with @val. */
static __always_inline struct list_item __arena *new_item(u64 val)
{
	struct list_item __arena *it = scx_arena_new(struct list_item);

	/* Opaque to LLVM: keeps it from folding the arena casts away. */
	asm volatile("" : "+r"(it));
	if (it)
		it->val = val;
	return it;
}

/* A zeroed list head. */
static __always_inline struct scx_arena_list __arena *new_list(void)
{
	struct scx_arena_list __arena *l = scx_arena_new(struct scx_arena_list);

	asm volatile("" : "+r"(l));
	return l;
}

/* Expected contents of a list, for list_expect(). */
struct vals {
	u64 v[8];
};

/* A zeroed arena counter: counts kept in memory, not in loop registers. */
static __always_inline u64 __arena *new_counter(void)
{
	return scx_arena_new(u64);
}

/*
 * Checks that @l holds exactly the items whose vals are @want->v[0..@n), in
 * order, walking forwards and backwards. A global function: verified once.
 */
int list_expect(struct scx_arena_list __arena *l __arg_arena, struct vals *want, u32 n)
{
	struct scx_arena_list_node __arena *pos;
	struct list_item __arena *it;
	u32 i = 0;

	if (!want || n > 8)
		return SCX_TEST_FAILED;
	ASSERT_EQ(scx_arena_list_len(l), n);
	ASSERT_EQ(scx_arena_list_empty(l), n == 0);
	scx_arena_list_for_each(pos, l, 16) {
		if (i >= n || i >= 8)
			return SCX_TEST_FAILED;
		it = item_entry(pos);
		ASSERT_EQ(it->val, want->v[i & 7]);
		i++;
	}
	ASSERT_EQ(i, n);
	/* Backwards through the typed prev links. */
	it = item_peek_back(l);
	bpf_for(i, 0, 8) {
		if (i >= n)
			break;
		ASSERT_NONNULL(it);
		ASSERT_EQ(it->val, want->v[(n - 1 - i) & 7]);
		it = item_prev(it);
	}
	ASSERT_NULL(it);
	return 0;
}

SEC("syscall")
int test_list_empty(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct scx_arena_list_node __arena *pos;
	struct vals none = { {} };
	u64 __arena *visits = new_counter();

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(visits);
	/* Zeroed memory is an empty list. */
	ASSERT_TRUE(scx_arena_list_empty(l));
	ASSERT_EQ(scx_arena_list_len(l), 0);
	ASSERT_NULL(scx_arena_list_pop_front(l));
	ASSERT_NULL(scx_arena_list_pop_back(l));
	ASSERT_NULL(scx_arena_list_peek_front(l));
	ASSERT_NULL(scx_arena_list_peek_back(l));
	ASSERT_NULL(item_pop(l));
	ASSERT_NULL(item_peek(l));
	scx_arena_list_for_each(pos, l, 100)
		(*visits)++;
	ASSERT_EQ(*visits, 0);
	ASSERT_NULL(pos);
	ASSERT_OK(list_expect(l, &none, 0));

	/* init resets a head that held elements. */
	struct list_item __arena *a = new_item(1);

	ASSERT_NONNULL(a);
	ASSERT_EQ(item_push(l, a), 0);
	ASSERT_EQ(scx_arena_list_len(l), 1);
	scx_arena_list_init(l);
	ASSERT_TRUE(scx_arena_list_empty(l));
	ASSERT_EQ(scx_arena_list_len(l), 0);
	return 0;
}

SEC("syscall")
int test_list_one_element(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct list_item __arena *a = new_item(7);
	struct vals one = { { 7 } }, none = { {} };

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(a);
	ASSERT_EQ(item_push(l, a), 0);
	ASSERT_OK(list_expect(l, &one, 1));
	ASSERT_EQ(ADDR(item_peek(l)), ADDR(a));
	ASSERT_EQ(ADDR(item_peek_back(l)), ADDR(a));
	ASSERT_EQ(ADDR(scx_arena_list_peek_front(l)), ADDR(&a->node));
	ASSERT_NULL(a->node.next);
	ASSERT_NULL(a->node.prev);
	ASSERT_NULL(item_next(a));
	ASSERT_NULL(item_prev(a));

	/* The only element, zero links and all, is linked: no second push. */
	ASSERT_EQ(item_push(l, a), -EEXIST);
	ASSERT_EQ(item_push_front(l, a), -EEXIST);
	ASSERT_OK(list_expect(l, &one, 1));

	ASSERT_EQ(ADDR(item_pop(l)), ADDR(a));
	ASSERT_OK(list_expect(l, &none, 0));
	ASSERT_NULL(l->first);
	ASSERT_NULL(l->last);
	ASSERT_TRUE(scx_arena_list_node_unlinked(&a->node));
	ASSERT_EQ((u64)a->node.next, SCX_ARENA_LIST_POISON);
	ASSERT_EQ(item_del(l, a), -EINVAL);
	ASSERT_NULL(item_pop(l));

	/* A removed node goes back on, at either end. */
	ASSERT_EQ(item_push_front(l, a), 0);
	ASSERT_OK(list_expect(l, &one, 1));
	ASSERT_EQ(ADDR(item_pop_back(l)), ADDR(a));
	ASSERT_OK(list_expect(l, &none, 0));
	ASSERT_EQ(scx_arena_free(a), 0);
	return 0;
}

SEC("syscall")
int test_list_push_order(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct list_item __arena *it[4] = { new_item(0), new_item(1), new_item(2), new_item(3) };
	struct vals want = { { 0, 1, 2, 3 } };
	struct vals mid = { { 1, 2 } };

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(it[0]);
	ASSERT_NONNULL(it[1]);
	ASSERT_NONNULL(it[2]);
	ASSERT_NONNULL(it[3]);
	/* 2, then 3 at the back, 1 then 0 at the front: 0 1 2 3. */
	ASSERT_EQ(item_push(l, it[2]), 0);
	ASSERT_EQ(item_push(l, it[3]), 0);
	ASSERT_EQ(item_push_front(l, it[1]), 0);
	ASSERT_EQ(item_push_front(l, it[0]), 0);
	ASSERT_OK(list_expect(l, &want, 4));
	ASSERT_EQ(ADDR(item_next(it[1])), ADDR(it[2]));

	/* FIFO from the front, LIFO from the back. */
	ASSERT_EQ(item_pop(l)->val, 0);
	ASSERT_EQ(item_pop_back(l)->val, 3);
	ASSERT_OK(list_expect(l, &mid, 2));
	ASSERT_EQ(item_peek(l)->val, 1);
	ASSERT_EQ(item_peek_back(l)->val, 2);
	ASSERT_EQ(item_pop(l)->val, 1);
	ASSERT_EQ(item_pop(l)->val, 2);
	ASSERT_NULL(item_pop(l));
	ASSERT_EQ(scx_arena_list_len(l), 0);
	return 0;
}

SEC("syscall")
int test_list_del_head_tail_middle(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct list_item __arena *it[5] = { new_item(0), new_item(1), new_item(2), new_item(3),
					    new_item(4) };
	struct vals w = { { 0, 1, 3, 4 } };

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(it[0]);
	ASSERT_NONNULL(it[1]);
	ASSERT_NONNULL(it[2]);
	ASSERT_NONNULL(it[3]);
	ASSERT_NONNULL(it[4]);
	ASSERT_EQ(item_push(l, it[0]), 0);
	ASSERT_EQ(item_push(l, it[1]), 0);
	ASSERT_EQ(item_push(l, it[2]), 0);
	ASSERT_EQ(item_push(l, it[3]), 0);
	ASSERT_EQ(item_push(l, it[4]), 0);
	ASSERT_EQ(item_del(l, it[2]), 0); /* middle */
	ASSERT_OK(list_expect(l, &w, 4));
	ASSERT_EQ(item_del(l, it[0]), 0); /* head */
	w.v[0] = 1, w.v[1] = 3, w.v[2] = 4;
	ASSERT_OK(list_expect(l, &w, 3));
	ASSERT_EQ(item_del(l, it[4]), 0); /* tail */
	ASSERT_OK(list_expect(l, &w, 2));
	ASSERT_EQ(item_del(l, it[1]), 0);
	w.v[0] = 3;
	ASSERT_OK(list_expect(l, &w, 1));
	ASSERT_EQ(item_del(l, it[3]), 0); /* the only one */
	ASSERT_OK(list_expect(l, &w, 0));
	ASSERT_TRUE(scx_arena_list_node_unlinked(&it[0]->node));
	ASSERT_TRUE(scx_arena_list_node_unlinked(&it[2]->node));
	ASSERT_TRUE(scx_arena_list_node_unlinked(&it[4]->node));
	return 0;
}

SEC("syscall")
int test_list_del_of_unlinked_node_is_refused(void *ctx)
{
	struct scx_arena_list __arena *l = new_list(), *other = new_list();
	struct list_item __arena *a = new_item(1), *b = new_item(2), *fresh = new_item(3);
	struct list_item __arena *inited = scx_arena_alloc(sizeof(*inited));
	struct vals want = { { 1, 2 } }, just_b = { { 2 } };

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(other);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(fresh);
	ASSERT_NONNULL(inited);
	inited->val = 4;
	scx_arena_list_node_init(&inited->node);
	ASSERT_EQ(item_push(l, a), 0);
	ASSERT_EQ(item_push(l, b), 0);

	/* Never added: zeroed, or initialised. */
	ASSERT_EQ(item_del(l, fresh), -EINVAL);
	ASSERT_EQ(item_del(l, inited), -EINVAL);
	/* NULL. */
	ASSERT_EQ(item_del(l, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_list_del(l, NULL), -EINVAL);
	ASSERT_EQ(item_push(l, NULL), -EINVAL);
	ASSERT_OK(list_expect(l, &want, 2));

	/* Removed twice. */
	ASSERT_EQ(item_del(l, a), 0);
	ASSERT_EQ(item_del(l, a), -EINVAL);
	ASSERT_OK(list_expect(l, &just_b, 1));

	/* The only element of another list is not an element of this one. */
	ASSERT_EQ(item_push(other, a), 0);
	ASSERT_EQ(item_del(l, a), -EINVAL);
	ASSERT_OK(list_expect(l, &just_b, 1));

	/* Links that disagree with the neighbours' are refused too. */
	fresh->node.prev = &b->node;
	ASSERT_EQ(item_del(l, fresh), -EINVAL);
	ASSERT_OK(list_expect(l, &just_b, 1));
	return 0;
}

SEC("syscall")
int test_list_push_of_linked_node_is_refused(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct list_item __arena *it[3];
	struct vals want = { { 0, 1, 2 } };
	u32 i;

	ASSERT_NONNULL(l);
	bpf_for(i, 0, 3) {
		it[i] = new_item(i);
		ASSERT_NONNULL(it[i]);
		ASSERT_EQ(item_push(l, it[i]), 0);
	}
	bpf_for(i, 0, 3) {
		ASSERT_EQ(item_push(l, it[i]), -EEXIST);
		ASSERT_EQ(item_push_front(l, it[i]), -EEXIST);
	}
	ASSERT_OK(list_expect(l, &want, 3));
	return 0;
}

SEC("syscall")
int test_list_iteration_is_bounded_and_safe(void *ctx)
{
	struct scx_arena_list __arena *l = new_list();
	struct scx_arena_list_node __arena *pos, *tmp;
	struct list_item __arena *it;
	struct vals odd = { { 1, 3, 5 } };
	u64 __arena *visits = new_counter();
	u32 i;

	ASSERT_NONNULL(l);
	ASSERT_NONNULL(visits);
	bpf_for(i, 0, 6) {
		it = new_item(i);
		ASSERT_NONNULL(it);
		ASSERT_EQ(item_push(l, it), 0);
	}
	/* max bounds the walk... */
	scx_arena_list_for_each(pos, l, 4)
		(*visits)++;
	ASSERT_EQ(*visits, 4);
	/* ...and break leaves the cursor where it stopped. */
	scx_arena_list_for_each(pos, l, 100) {
		if (item_entry(pos)->val == 2)
			break;
	}
	ASSERT_NONNULL(pos);
	ASSERT_EQ(item_entry(pos)->val, 2);

	/* The safe walk may remove (and free) the cursor. */
	scx_arena_list_for_each_safe(pos, tmp, l, 100) {
		it = item_entry(pos);
		if (it->val & 1)
			continue;
		ASSERT_EQ(scx_arena_list_del(l, pos), 0);
		ASSERT_EQ(scx_arena_free(it), 0);
	}
	ASSERT_OK(list_expect(l, &odd, 3));

	/* A cycle (corruption) still ends at the bound. */
	it = item_peek_back(l);
	it->node.next = l->first;
	*visits = 0;
	scx_arena_list_for_each(pos, l, 50)
		(*visits)++;
	ASSERT_EQ(*visits, 50);
	return 0;
}

SEC("syscall")
int test_list_typed_wrappers(void *ctx)
{
	struct scx_arena_list __arena *q = new_list();
	struct list_item __arena *t, *got;

	ASSERT_NONNULL(q);
	t = new_item(42);
	ASSERT_NONNULL(t);
	/* container_of: the node sits 8 bytes into the item. */
	ASSERT_EQ((u64)&t->node - (u64)t, LIST_ITEM_NODE_OFF);
	ASSERT_EQ(ADDR(item_entry(&t->node)), ADDR(t));
	ASSERT_NULL(item_entry(NULL));
	ASSERT_EQ(ADDR(scx_arena_list_entry(&t->node, struct list_item, node)), ADDR(t));

	ASSERT_EQ(item_push(q, t), 0);
	got = item_peek(q);
	ASSERT_EQ(got->val, 42);
	got = item_pop(q);
	ASSERT_EQ(ADDR(got), ADDR(t));
	ASSERT_EQ(got->val, 42);
	ASSERT_NULL(item_pop(q));
	return 0;
}

SEC("syscall")
int test_list_locked(void *ctx)
{
	struct scx_arena_list_locked __arena *ll = scx_arena_new(struct scx_arena_list_locked);
	struct scx_arena_list_node __arena *n;
	struct list_item __arena *a = new_item(1), *b = new_item(2), *c = new_item(3), *got;
	struct vals want = { { 3, 1, 2 } };

	ASSERT_NONNULL(ll);
	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(c);
	ASSERT_TRUE(scx_arena_list_locked_empty(ll));
	ASSERT_EQ(item_locked_pop(ll, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(item_locked_push(ll, a), 0);
	ASSERT_EQ(item_locked_push(ll, b), 0);
	ASSERT_EQ(item_locked_push_front(ll, c), 0);
	ASSERT_EQ(item_locked_push(ll, c), -EEXIST);
	ASSERT_EQ(scx_arena_list_locked_len(ll), 3);
	ASSERT_OK(list_expect(&ll->list, &want, 3));
	ASSERT_EQ(scx_arena_lock_holder(&ll->lock), -1);

	ASSERT_EQ(scx_arena_list_locked_peek_front(ll, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&c->node));
	ASSERT_EQ(scx_arena_list_locked_peek_back(ll, &n), 0);
	ASSERT_EQ(ADDR(n), ADDR(&b->node));
	ASSERT_EQ(item_locked_del(ll, a), 0);
	ASSERT_EQ(item_locked_del(ll, a), -EINVAL);
	ASSERT_EQ(item_locked_pop_back(ll, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(b));
	ASSERT_EQ(item_locked_pop(ll, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(c));
	ASSERT_EQ(scx_arena_list_locked_pop_front(ll, &n), 0);
	ASSERT_NULL(n);
	ASSERT_TRUE(scx_arena_list_locked_empty(ll));
	ASSERT_EQ(scx_arena_lock_holder(&ll->lock), -1);
	ASSERT_EQ(scx_arena_last_error.count, 0);
	return 0;
}

SEC("syscall")
int test_list_locked_held_lock_times_out(void *ctx)
{
	static const char want_msg[] = "lock timeout: list (held by cpu ";
	struct scx_arena_list_locked __arena *ll = scx_arena_new(struct scx_arena_list_locked);
	struct list_item __arena *a = new_item(1), *got;
	struct vals one = { { 1 } };

	ASSERT_NONNULL(ll);
	ASSERT_NONNULL(a);
	ASSERT_EQ(item_locked_push(ll, a), 0);

	/* Someone holds the lock and never lets go. */
	held_lock_set(&ll->lock);
	ASSERT_EQ(item_locked_pop(ll, &got), -ETIMEDOUT);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want_msg) - 1, want_msg), 0);
	ASSERT_EQ(item_locked_push(ll, new_item(2)), -ETIMEDOUT);
	ASSERT_EQ(item_locked_del(ll, a), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 3);
	/* Nothing changed behind the lock. */
	ASSERT_OK(list_expect(&ll->list, &one, 1));

	held_lock_clear(&ll->lock);
	ASSERT_EQ(item_locked_pop(ll, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(a));
	return 0;
}

/* ---------------------------------------------------------------------------
 * list_ops: the driver of the model test.
 */

struct list_op __arena_global list_ops_buf[LIST_OPS_MAX];
struct scx_arena_list __arena_global list_ops_list;

/* Stores the item @it (or 0) and its val in @op. */
static __always_inline void op_item(struct list_op __arena *op, struct list_item __arena *it)
{
	op->addr = (u64)it;
	op->val = it ? it->val : 0;
}

/* Runs one operation and stores its results in it. */
static __always_inline void list_run_op(struct list_op __arena *op)
{
	struct scx_arena_list __arena *l = &list_ops_list;
	struct list_item __arena *it;
	s64 ret = 0;

	switch (op->op) {
	case LIST_OP_NOP:
		break;
	case LIST_OP_PUSH_BACK:
	case LIST_OP_PUSH_FRONT:
		/* Not zeroed: recycled memory, as a scheduler would have it. */
		it = scx_arena_alloc(sizeof(*it));
		op->addr = (u64)it;
		if (!it) {
			ret = -ENOMEM;
			break;
		}
		it->val = op->val;
		it->tag = ~op->val;
		scx_arena_list_node_init(&it->node);
		ret = op->op == LIST_OP_PUSH_BACK ? item_push(l, it) : item_push_front(l, it);
		break;
	case LIST_OP_POP_FRONT:
		op_item(op, item_pop(l));
		break;
	case LIST_OP_POP_BACK:
		op_item(op, item_pop_back(l));
		break;
	case LIST_OP_PEEK_FRONT:
		op_item(op, item_peek(l));
		break;
	case LIST_OP_PEEK_BACK:
		op_item(op, item_peek_back(l));
		break;
	case LIST_OP_DEL:
		ret = item_del(l, scx_arena_from_u64(struct list_item, op->addr));
		break;
	case LIST_OP_RELINK:
		ret = item_push(l, scx_arena_from_u64(struct list_item, op->addr));
		break;
	case LIST_OP_FREE:
		ret = scx_arena_free(scx_arena_from_u64(void, op->addr));
		break;
	case LIST_OP_LEN:
		op->val = scx_arena_list_len(l);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int list_ops(struct list_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)list_ops_buf;
	args->list = (u64)&list_ops_list;
	if (nr > LIST_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		list_run_op(&list_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * list_churn: the locked list under concurrent runs.
 */

struct scx_arena_list_locked __arena_global list_churn_list;

/* Per-run counters, in arena memory: loop-carried counts stay out of registers. */
struct list_churn_state {
	u64 seq;
	u64 pushes;
	u64 pops;
	u64 mismatches;
	u64 unpoisoned;
	u64 timeouts;
	u64 failed;
};

/* One step: push a new tagged item, or pop one, check and free it. */
static __always_inline void churn_step(struct list_churn_state __arena *st, u64 seed, u32 r)
{
	struct scx_arena_list_locked __arena *ll = &list_churn_list;
	struct list_item __arena *it;
	int ret;

	if (r & 1) {
		it = scx_arena_alloc(sizeof(*it));
		if (!it) {
			st->failed++;
			return;
		}
		it->tag = (seed << 32) | st->seq++;
		it->val = LIST_CHURN_VAL(it->tag);
		scx_arena_list_node_init(&it->node);
		bpf_preempt_disable();
		ret = item_locked_push(ll, it);
		bpf_preempt_enable();
		if (ret) {
			st->timeouts++;
			scx_arena_free(it);
			return;
		}
		st->pushes++;
		return;
	}
	bpf_preempt_disable();
	ret = item_locked_pop(ll, &it);
	bpf_preempt_enable();
	if (ret) {
		st->timeouts++;
		return;
	}
	if (!it)
		return;
	st->pops++;
	if (it->val != LIST_CHURN_VAL(it->tag))
		st->mismatches++;
	if (!scx_arena_list_node_unlinked(&it->node))
		st->unpoisoned++;
	scx_arena_free(it);
}

SEC("syscall")
int list_churn(struct list_churn_args *args)
{
	struct list_churn_state __arena *st;
	u64 iters = args->iters, seed = args->seed, it;

	scx_arena_assoc();
	st = scx_arena_new(struct list_churn_state);
	if (!st)
		return -ENOMEM;
	bpf_for(it, 0, iters)
		churn_step(st, seed, bpf_get_prandom_u32());
	args->pushes = st->pushes;
	args->pops = st->pops;
	args->mismatches = st->mismatches;
	args->unpoisoned = st->unpoisoned;
	args->timeouts = st->timeouts;
	args->failed = st->failed;
	args->list = (u64)&list_churn_list;
	args->errors = scx_arena_last_error.count;
	scx_arena_free(st);
	return 0;
}
