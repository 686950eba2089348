/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Data-structure micro-benchmarks, run on the host by
 * benches/src/bin/ds-bench.rs through BPF_PROG_TEST_RUN (see ds_bench.h for
 * the two models and the key streams). Each program fills its structure
 * with the ds_init keys, times ctx->iters operations with
 * bpf_ktime_get_ns() and empties the structure again; the checksum of the
 * keys it popped or removed must match every other contender's.
 *
 * Contenders here: the kernel's bpf_rbtree (under its bpf_spin_lock, nodes
 * from bpf_obj_new reused across operations, or a drop and a new per
 * operation) and the scx-arena structures. bench_ds_empty runs the loop
 * reading the streams and nothing else, for the overhead the Rust side
 * subtracts.
 */
#include <scx_arena/alloc.h>
#include <bpf_experimental.h>
#include "ds_bench.h"

char _license[] SEC("license") = "GPL";

u64 __arena_global ds_init[DS_MAX_N];
u64 __arena_global ds_stream[DS_MAX_ITERS];
u64 __arena_global ds_old[DS_MAX_ITERS];

/* Checks the context and publishes the buffers' addresses. */
static __always_inline int ds_start(struct ds_args *a)
{
	a->init = (u64)ds_init;
	a->stream = (u64)ds_stream;
	a->old = (u64)ds_old;
	a->checksum = 0;
	a->errors = 0;
	a->elapsed_ns = 0;
	if (a->n > DS_MAX_N || a->iters > DS_MAX_ITERS)
		return -EINVAL;
	return 0;
}

/*
 * Writes the results. barrier_var() makes clang derive the field addresses
 * from @a here: an address computed earlier and spilled is a modified ctx
 * pointer, which the verifier refuses to dereference.
 */
static __always_inline int ds_finish(struct ds_args *a, u64 elapsed_ns, u64 checksum,
				     u64 errors)
{
	barrier_var(a);
	a->elapsed_ns = elapsed_ns;
	a->checksum = checksum;
	a->errors = errors;
	return 0;
}

SEC("syscall")
int bench_ds_setup(struct ds_args *a)
{
	scx_arena_assoc();
	return ds_start(a);
}

SEC("syscall")
int bench_ds_empty(struct ds_args *a)
{
	u64 sum = 0, t0;
	u32 iters;
	int i, err;

	scx_arena_assoc();
	err = ds_start(a);
	if (err)
		return err;
	iters = a->iters;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		sum += ds_stream[i & (DS_MAX_ITERS - 1)] ^ ds_old[i & (DS_MAX_ITERS - 1)];
		barrier();
	}
	return ds_finish(a, bpf_ktime_get_ns() - t0, sum, 0);
}

/* Per-run results of the steps (.bss: loop-carried sums stay out of registers). */
struct ds_acc {
	u64 sum;
	u64 errors;
};

struct ds_acc ds_acc;

/*
 * One timed run: @fill puts the n initial keys in (and gives the failures),
 * @step(i) runs operation i (nonzero stops the run), @drain empties the
 * structure (and gives the elements it took out, which must be n).
 */
#define DS_BENCH(name, fill, step, drain)                                       \
	SEC("syscall")                                                          \
	int bench_##name(struct ds_args *a)                                     \
	{                                                                       \
		u64 errors, t0;                                                 \
		u32 iters, n;                                                   \
		int i, err;                                                     \
										\
		scx_arena_assoc();                                              \
		err = ds_start(a);                                              \
		if (err)                                                        \
			return err;                                             \
		iters = a->iters;                                               \
		n = a->n;                                                       \
		ds_acc.sum = 0;                                                 \
		ds_acc.errors = 0;                                              \
		errors = (fill);                                                \
		t0 = bpf_ktime_get_ns();                                        \
		bpf_for(i, 0, iters) {                                          \
			if (step(i))                                            \
				break;                                          \
		}                                                               \
		t0 = bpf_ktime_get_ns() - t0;                                   \
		if ((drain) != n)                                               \
			errors++;                                               \
		return ds_finish(a, t0, ds_acc.sum, errors + ds_acc.errors);    \
	}

/* ---- the kernel's bpf_rbtree ---- */

extern struct bpf_rb_node *bpf_rbtree_root(struct bpf_rb_root *root) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_left(struct bpf_rb_root *root,
					   struct bpf_rb_node *node) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_right(struct bpf_rb_root *root,
					    struct bpf_rb_node *node) __ksym __weak;

#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))

struct kern_elem {
	struct bpf_rb_node node;
	u64 key;
};

private(KRB) struct bpf_spin_lock krb_lock;
private(KRB) struct bpf_rb_root krb_root __contains(kern_elem, node);

static bool krb_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct kern_elem, node)->key <
	       container_of(b, struct kern_elem, node)->key;
}

/* Inserts a new node with @key; false when bpf_obj_new fails. */
static __always_inline bool krb_add_new(u64 key)
{
	struct kern_elem *e = bpf_obj_new(typeof(*e));

	if (!e)
		return false;
	e->key = key;
	bpf_spin_lock(&krb_lock);
	bpf_rbtree_add(&krb_root, &e->node, krb_less);
	bpf_spin_unlock(&krb_lock);
	return true;
}

/* Fills the tree with the n initial keys; returns the failures. */
static __always_inline u64 krb_fill(u64 n)
{
	u64 failed = 0;
	int i;

	bpf_for(i, 0, n) {
		if (!krb_add_new(ds_init[i & (DS_MAX_N - 1)]))
			failed++;
	}
	return failed;
}

/* Empties the tree; returns the nodes dropped. */
static __always_inline u64 krb_drain(void)
{
	struct bpf_rb_node *n;
	u64 dropped = 0;
	int i;

	bpf_for(i, 0, DS_MAX_N + 1) {
		bpf_spin_lock(&krb_lock);
		n = bpf_rbtree_first(&krb_root);
		if (n)
			n = bpf_rbtree_remove(&krb_root, n);
		bpf_spin_unlock(&krb_lock);
		if (!n)
			break;
		bpf_obj_drop(container_of(n, struct kern_elem, node));
		dropped++;
	}
	return dropped;
}

/*
 * Hold model, nodes reused: the popped node goes back in with its new key,
 * all under one lock hold - the way a scheduler requeues a task.
 */
static __always_inline int krb_reuse_hold_step(u32 i)
{
	struct bpf_rb_node *n;
	struct kern_elem *e;

	bpf_spin_lock(&krb_lock);
	n = bpf_rbtree_first(&krb_root);
	if (n)
		n = bpf_rbtree_remove(&krb_root, n);
	if (!n) {
		bpf_spin_unlock(&krb_lock);
		ds_acc.errors++;
		return -ENOENT;
	}
	e = container_of(n, struct kern_elem, node);
	ds_acc.sum += e->key;
	e->key += ds_stream[i & (DS_MAX_ITERS - 1)];
	bpf_rbtree_add(&krb_root, &e->node, krb_less);
	bpf_spin_unlock(&krb_lock);
	return 0;
}

/* Hold model, a bpf_obj_drop of the popped node and a bpf_obj_new per push. */
static __always_inline int krb_newdrop_hold_step(u32 i)
{
	struct bpf_rb_node *n;
	struct kern_elem *e;
	u64 key;

	bpf_spin_lock(&krb_lock);
	n = bpf_rbtree_first(&krb_root);
	if (n)
		n = bpf_rbtree_remove(&krb_root, n);
	bpf_spin_unlock(&krb_lock);
	if (!n) {
		ds_acc.errors++;
		return -ENOENT;
	}
	e = container_of(n, struct kern_elem, node);
	key = e->key;
	bpf_obj_drop(e);
	ds_acc.sum += key;
	if (!krb_add_new(key + ds_stream[i & (DS_MAX_ITERS - 1)])) {
		ds_acc.errors++;
		return -ENOMEM;
	}
	return 0;
}

/*
 * The node with @key, searched from the root (bpf_rbtree_root/left/right);
 * NULL when absent. Call with krb_lock held.
 */
static __always_inline struct bpf_rb_node *krb_find(u64 key)
{
	struct bpf_rb_node *n = bpf_rbtree_root(&krb_root);
	int d;

	/* An RB-tree of DS_MAX_N nodes is at most 2 * 15 levels deep. */
	bpf_for(d, 0, 32) {
		struct kern_elem *e;

		if (!n)
			break;
		e = container_of(n, struct kern_elem, node);
		if (e->key == key)
			break;
		n = key < e->key ? bpf_rbtree_left(&krb_root, n) : bpf_rbtree_right(&krb_root, n);
	}
	return n;
}

/* Remove model, nodes reused: find by key, remove, re-add with the new key. */
static __always_inline int krb_reuse_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)];
	struct bpf_rb_node *n;
	struct kern_elem *e;

	bpf_spin_lock(&krb_lock);
	n = krb_find(old);
	if (n)
		n = bpf_rbtree_remove(&krb_root, n);
	if (!n) {
		bpf_spin_unlock(&krb_lock);
		ds_acc.errors++;
		return -ENOENT;
	}
	e = container_of(n, struct kern_elem, node);
	ds_acc.sum += e->key;
	e->key = ds_stream[i & (DS_MAX_ITERS - 1)];
	bpf_rbtree_add(&krb_root, &e->node, krb_less);
	bpf_spin_unlock(&krb_lock);
	return 0;
}

/* Remove model with a bpf_obj_drop and a bpf_obj_new per operation. */
static __always_inline int krb_newdrop_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)];
	struct bpf_rb_node *n;
	struct kern_elem *e;
	u64 key;

	bpf_spin_lock(&krb_lock);
	n = krb_find(old);
	if (n)
		n = bpf_rbtree_remove(&krb_root, n);
	bpf_spin_unlock(&krb_lock);
	if (!n) {
		ds_acc.errors++;
		return -ENOENT;
	}
	e = container_of(n, struct kern_elem, node);
	key = e->key;
	bpf_obj_drop(e);
	ds_acc.sum += key;
	if (!krb_add_new(ds_stream[i & (DS_MAX_ITERS - 1)])) {
		ds_acc.errors++;
		return -ENOMEM;
	}
	return 0;
}

DS_BENCH(kern_rb_reuse_hold, krb_fill(n), krb_reuse_hold_step, krb_drain())
DS_BENCH(kern_rb_newdrop_hold, krb_fill(n), krb_newdrop_hold_step, krb_drain())
DS_BENCH(kern_rb_reuse_remove, krb_fill(n), krb_reuse_remove_step, krb_drain())
DS_BENCH(kern_rb_newdrop_remove, krb_fill(n), krb_newdrop_remove_step, krb_drain())

/* ---- the scx-arena structures ---- */

#include <scx_arena/heap.h>
#include <scx_arena/rbtree.h>
#include <scx_arena/btree.h>
#include <scx_arena/rq.h>

/* One element per slot, with a node for each intrusive structure. */
struct ds_elem {
	struct scx_arena_heap_node heap;
	struct scx_arena_rb_node rb;
	struct scx_arena_rq_node rq;
};

struct ds_elem __arena_global ds_elems[DS_MAX_N];
struct scx_arena_heap __arena_global ds_heap;
struct scx_arena_rbtree __arena_global ds_rb;
struct scx_arena_btree __arena_global ds_bt;
struct scx_arena_rq __arena_global ds_rq;


static __always_inline struct ds_elem __arena *ds_elem_of(u64 key)
{
	return &ds_elems[key & DS_SLOT_MASK];
}

/*
 * The steps: one operation each, inline in the timed loop like the kernel
 * contender's (a call of its own would add a call and a return to every
 * operation that the kernel's steps do not pay). The library's loops run
 * in its global functions, so the verifier still checks each once. @i
 * indexes the streams.
 */
static __always_inline int ds_heap_hold_step(u32 i)
{
	struct scx_arena_heap_node __arena *n = scx_arena_heap_pop(&ds_heap);
	u64 k;

	if (!n) {
		ds_acc.errors++;
		return -ENOENT;
	}
	k = n->key;
	ds_acc.sum += k;
	return scx_arena_heap_push_reserved(&ds_heap, n, k + ds_stream[i & (DS_MAX_ITERS - 1)]);
}

static __always_inline int ds_heap_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)];
	struct ds_elem __arena *e = ds_elem_of(old);

	if (scx_arena_heap_remove(&ds_heap, &e->heap) || e->heap.key != old) {
		ds_acc.errors++;
		return -ENOENT;
	}
	ds_acc.sum += old;
	return scx_arena_heap_push_reserved(&ds_heap, &e->heap, ds_stream[i & (DS_MAX_ITERS - 1)]);
}

static __always_inline int ds_rb_hold_step(u32 i)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_pop_first(&ds_rb);
	u64 k;

	if (!n) {
		ds_acc.errors++;
		return -ENOENT;
	}
	k = n->key;
	ds_acc.sum += k;
	return scx_arena_rbtree_insert_key(&ds_rb, n, k + ds_stream[i & (DS_MAX_ITERS - 1)]);
}

static __always_inline int ds_rb_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)];
	struct ds_elem __arena *e = ds_elem_of(old);

	if (scx_arena_rbtree_remove(&ds_rb, &e->rb) || e->rb.key != old) {
		ds_acc.errors++;
		return -ENOENT;
	}
	ds_acc.sum += old;
	return scx_arena_rbtree_insert_key(&ds_rb, &e->rb, ds_stream[i & (DS_MAX_ITERS - 1)]);
}

static __always_inline int ds_bt_hold_step(u32 i)
{
	u64 k, v;

	if (scx_arena_btree_pop_first(&ds_bt, &k, &v)) {
		ds_acc.errors++;
		return -ENOENT;
	}
	ds_acc.sum += k;
	return scx_arena_btree_insert(&ds_bt, k + ds_stream[i & (DS_MAX_ITERS - 1)], v);
}

static __always_inline int ds_bt_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)], v;

	if (scx_arena_btree_remove(&ds_bt, old, &v)) {
		ds_acc.errors++;
		return -ENOENT;
	}
	ds_acc.sum += old;
	return scx_arena_btree_insert(&ds_bt, ds_stream[i & (DS_MAX_ITERS - 1)], v);
}

static __always_inline int ds_rq_hold_step(u32 i)
{
	struct scx_arena_rq_node __arena *n;
	u64 k;

	if (scx_arena_rq_pop(&ds_rq, &n) || !n) {
		ds_acc.errors++;
		return -ENOENT;
	}
	k = n->vtime.key;
	ds_acc.sum += k;
	return scx_arena_rq_push_reserved(&ds_rq, n, n->pid, k + ds_stream[i & (DS_MAX_ITERS - 1)]);
}

static __always_inline int ds_rq_remove_step(u32 i)
{
	u64 old = ds_old[i & (DS_MAX_ITERS - 1)];
	struct ds_elem __arena *e = ds_elem_of(old);

	if (scx_arena_rq_remove(&ds_rq, &e->rq) || e->rq.vtime.key != old) {
		ds_acc.errors++;
		return -ENOENT;
	}
	ds_acc.sum += old;
	return scx_arena_rq_push_reserved(&ds_rq, &e->rq, e->rq.pid,
					  ds_stream[i & (DS_MAX_ITERS - 1)]);
}

/*
 * Fills structure @what (0 heap, 2 B+tree, 3 rq) with the n initial keys;
 * returns the failures.
 */
int ds_fill(u32 what, u32 n)
{
	u64 failed = 0;
	u32 i;

	if (what == 0 && scx_arena_heap_init(&ds_heap, n))
		return n;
	if (what == 3 && scx_arena_rq_init(&ds_rq, SCX_ARENA_RQ_VTIME, n))
		return n;
	if (what == 2)
		scx_arena_btree_init(&ds_bt);
	bpf_for(i, 0, n) {
		u64 key = ds_init[i & (DS_MAX_N - 1)];
		struct ds_elem __arena *e = ds_elem_of(key);
		int ret = -EINVAL;

		if (what == 0)
			ret = scx_arena_heap_push_reserved(&ds_heap, &e->heap, key);
		else if (what == 2)
			ret = scx_arena_btree_insert(&ds_bt, key, key & DS_SLOT_MASK);
		else if (what == 3)
			ret = scx_arena_rq_push_reserved(&ds_rq, &e->rq, i + 1, key);
		if (ret)
			failed++;
	}
	return failed;
}

/* Empties structure @what; returns the elements taken out. */
int ds_drain(u32 what)
{
	u32 taken = 0, i;

	bpf_for(i, 0, DS_MAX_N + 1) {
		struct scx_arena_rq_node __arena *rn = NULL;
		u64 k, v;
		bool got = false;

		if (what == 0)
			got = scx_arena_heap_pop(&ds_heap);
		else if (what == 2)
			got = !scx_arena_btree_pop_first(&ds_bt, &k, &v);
		else if (what == 3)
			got = !scx_arena_rq_pop(&ds_rq, &rn) && rn;
		if (!got)
			break;
		taken++;
	}
	if (what == 0)
		scx_arena_heap_destroy(&ds_heap);
	if (what == 3)
		scx_arena_rq_destroy(&ds_rq);
	return taken;
}

DS_BENCH(scx_heap_hold, ds_fill(0, n), ds_heap_hold_step, ds_drain(0))
DS_BENCH(scx_heap_remove, ds_fill(0, n), ds_heap_remove_step, ds_drain(0))
/* The RB-tree's fill and drain. */
int ds_rb_fill(u32 n)
{
	u64 failed = 0;
	u32 i;

	scx_arena_rbtree_init(&ds_rb);
	bpf_for(i, 0, n) {
		u64 key = ds_init[i & (DS_MAX_N - 1)];

		if (scx_arena_rbtree_insert_key(&ds_rb, &ds_elem_of(key)->rb, key))
			failed++;
	}
	return failed;
}

int ds_rb_drain(void)
{
	u32 taken = 0, i;

	bpf_for(i, 0, DS_MAX_N + 1) {
		if (!scx_arena_rbtree_pop_first(&ds_rb))
			break;
		taken++;
	}
	return taken;
}

DS_BENCH(scx_rb_hold, ds_rb_fill(n), ds_rb_hold_step, ds_rb_drain())
DS_BENCH(scx_rb_remove, ds_rb_fill(n), ds_rb_remove_step, ds_rb_drain())
DS_BENCH(scx_bt_hold, ds_fill(2, n), ds_bt_hold_step, ds_drain(2))
DS_BENCH(scx_bt_remove, ds_fill(2, n), ds_bt_remove_step, ds_drain(2))
DS_BENCH(scx_rq_hold, ds_fill(3, n), ds_rq_hold_step, ds_drain(3))
DS_BENCH(scx_rq_remove, ds_fill(3, n), ds_rq_remove_step, ds_drain(3))
