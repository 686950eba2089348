/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the task run queue (scx_arena/rq.h) in both modes, the rq_ops
 * driver of the model test in tests/rq.rs and the rq_churn program of its
 * concurrency test. The DSQ bridge (scx_arena_rq_move_to_local()) needs
 * sched_ext; the VM tests run it inside scx_template.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/rq.h>
#include <scx_arena/test.h>
#include "held_lock.h"
#include "test_rq.h"

char _license[] SEC("license") = "GPL";

extern void bpf_preempt_disable(void) __ksym;
extern void bpf_preempt_enable(void) __ksym;

/* A per-task context as a scheduler has it: the node is not the first member. */
struct rq_task {
	u64 weight;
	struct scx_arena_rq_node node;
	u64 __pad; /* to RQ_TASK_SIZE, the stride tests/rq.rs uses */
};

_Static_assert(sizeof(struct rq_task) == RQ_TASK_SIZE, "slot size");

SCX_ARENA_RQ_DEFINE(task, struct rq_task, node);

#define ADDR(p) ((u64)(p))

/* A fresh queue and @n contexts in zeroed arena pages (leaked with the object). */
static __always_inline struct scx_arena_rq __arena *new_rq(u32 mode)
{
	struct scx_arena_rq __arena *q = scx_arena_pages_alloc(1);

	if (q && scx_arena_rq_init(q, mode, 0))
		return NULL;
	return q;
}

static __always_inline struct rq_task __arena *new_tasks(u32 n)
{
	struct rq_task __arena *t = scx_arena_pages_alloc((n * RQ_TASK_SIZE + 4095) / 4096);
	u32 i;

	if (!t)
		return NULL;
	bpf_for(i, 0, n)
		task_init(&t[i]);
	return t;
}

SEC("syscall")
int test_rq_fifo_order_and_edges(void *ctx)
{
	struct scx_arena_rq __arena *q = new_rq(SCX_ARENA_RQ_FIFO);
	struct rq_task __arena *t = new_tasks(4);
	struct rq_task __arena *got;
	u64 vtime;
	s32 pid;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	/* Empty: nothing to pop or peek, and that is not an error. */
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 0);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(task_peek(q, &got, &pid), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(pid, 0);

	ASSERT_FALSE(task_queued(&t[0]));
	ASSERT_EQ(task_push(q, &t[0], 100, 99), 0);
	ASSERT_TRUE(task_queued(&t[0]));
	ASSERT_EQ(task_push(q, &t[1], 101, 1), 0);
	ASSERT_EQ(task_push(q, &t[2], 102, 50), 0);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 3);
	/* Errors change nothing. */
	ASSERT_EQ(task_push(q, &t[1], 201, 0), -EEXIST);
	ASSERT_EQ(task_push(q, NULL, 1, 0), -EINVAL);
	ASSERT_EQ(task_remove(q, &t[3]), -EINVAL);
	ASSERT_EQ(task_remove(q, NULL), -EINVAL);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 3);
	/* FIFO ignores vtime: push order. */
	ASSERT_EQ(task_peek(q, &got, &pid), 0);
	ASSERT_EQ(ADDR(got), ADDR(&t[0]));
	ASSERT_EQ(pid, 100);
	ASSERT_EQ(scx_arena_rq_peek_vtime(q, &vtime), -ENOENT);
	/* Remove from the middle, then pop the rest in order. */
	ASSERT_EQ(task_remove(q, &t[1]), 0);
	ASSERT_FALSE(task_queued(&t[1]));
	ASSERT_EQ(task_remove(q, &t[1]), -EINVAL);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(&t[0]));
	ASSERT_EQ(got->node.pid, 100);
	ASSERT_FALSE(task_queued(&t[0]));
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(&t[2]));
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_NULL(got);
	/* A popped context goes back in, at the tail. */
	ASSERT_EQ(task_push(q, &t[0], 300, 0), 0);
	ASSERT_EQ(task_push(q, &t[2], 302, 0), 0);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 300);
	return 0;
}

SEC("syscall")
int test_rq_zeroed_node_pushes(void *ctx)
{
	struct scx_arena_rq __arena *q = new_rq(SCX_ARENA_RQ_FIFO);
	struct rq_task __arena *t = scx_arena_pages_alloc(1);
	struct rq_task __arena *got;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	/* Zeroed memory without node_init: push still takes it, once. */
	ASSERT_EQ(task_push(q, &t[0], 7, 0), 0);
	ASSERT_EQ(task_push(q, &t[0], 7, 0), -EEXIST);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(&t[0]));
	return 0;
}

SEC("syscall")
int test_rq_vtime_order_ties_fifo(void *ctx)
{
	struct scx_arena_rq __arena *q = new_rq(SCX_ARENA_RQ_VTIME);
	struct rq_task __arena *t = new_tasks(5);
	struct rq_task __arena *got;
	u64 vtime;
	s32 pid;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	ASSERT_EQ(q->mode, SCX_ARENA_RQ_VTIME);
	ASSERT_EQ(scx_arena_rq_peek_vtime(q, &vtime), -ENOENT);
	ASSERT_EQ(task_push(q, &t[0], 10, 500), 0);
	ASSERT_EQ(task_push(q, &t[1], 11, 300), 0);
	ASSERT_EQ(task_push(q, &t[2], 12, 900), 0);
	ASSERT_EQ(task_push(q, &t[3], 13, 300), 0);
	ASSERT_EQ(task_push(q, &t[4], 14, 300), 0);
	ASSERT_EQ(task_push(q, &t[3], 13, 1), -EEXIST);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 5);
	ASSERT_EQ(scx_arena_rq_peek_vtime(q, &vtime), 0);
	ASSERT_EQ(vtime, 300);
	ASSERT_EQ(task_peek(q, &got, &pid), 0);
	ASSERT_EQ(pid, 11);
	/* Remove one of the tied heads: the others keep their order. */
	ASSERT_EQ(task_remove(q, &t[1]), 0);
	ASSERT_EQ(task_remove(q, &t[1]), -EINVAL);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 13);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 14);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 10);
	/* Re-pushed at a smaller vtime, a popped task overtakes. */
	ASSERT_EQ(task_push(q, &t[0], 10, 5), 0);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 10);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 12);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_NULL(got);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 0);
	return 0;
}

/* Pushes 2000 contexts with descending vtimes; they must pop ascending. */
SEC("syscall")
int test_rq_vtime_many_grows(void *ctx)
{
	struct scx_arena_rq __arena *q = new_rq(SCX_ARENA_RQ_VTIME);
	struct rq_task __arena *t = new_tasks(2000);
	struct rq_task __arena *got;
	u32 i;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	bpf_for(i, 0, 2000) {
		ASSERT_EQ(task_push(q, &t[i], i + 1, 1000000 - i), 0);
	}
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 2000);
	bpf_for(i, 0, 2000) {
		ASSERT_EQ(task_pop(q, &got), 0);
		ASSERT_NONNULL(got);
		ASSERT_EQ(got->node.pid, 2000 - i);
	}
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_NULL(got);
	ASSERT_OK(scx_arena_rq_destroy(q));
	return 0;
}

SEC("syscall")
int test_rq_push_reserved_never_grows(void *ctx)
{
	struct scx_arena_rq __arena *q = scx_arena_pages_alloc(1);
	struct rq_task __arena *t = new_tasks(40);
	struct rq_task __arena *got;
	u32 cap, i;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	ASSERT_EQ(scx_arena_rq_init(q, SCX_ARENA_RQ_VTIME, 20), 0);
	cap = q->vtime.cap;
	ASSERT_GE(cap, 20);
	ASSERT_LT(cap, 40);
	bpf_for(i, 0, cap) {
		ASSERT_EQ(task_push_reserved(q, &t[i], i + 1, 100 - i), 0);
	}
	/* Full: refused, nothing changed; the growing push makes room. */
	ASSERT_EQ(task_push_reserved(q, &t[cap], 99, 0), -ENOSPC);
	ASSERT_FALSE(task_queued(&t[cap]));
	ASSERT_EQ(scx_arena_rq_nr_queued(q), cap);
	ASSERT_EQ(task_push(q, &t[cap], 99, 0), 0);
	ASSERT_GT(q->vtime.cap, cap);
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(got->node.pid, 99);
	/* A FIFO never needs room (destroy forgot the tasks of the heap). */
	ASSERT_OK(scx_arena_rq_destroy(q));
	ASSERT_EQ(scx_arena_rq_init(q, SCX_ARENA_RQ_FIFO, 0), 0);
	bpf_for(i, 0, 40) {
		ASSERT_EQ(task_push_reserved(q, &t[i], i + 1, 0), 0);
	}
	ASSERT_EQ(task_push_reserved(q, &t[0], 1, 0), -EEXIST);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 40);
	return 0;
}

SEC("syscall")
int test_rq_init_modes(void *ctx)
{
	struct scx_arena_rq __arena *q = scx_arena_pages_alloc(1);
	struct rq_task __arena *t = new_tasks(1);

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	/* An unknown mode is refused and leaves a usable FIFO. */
	ASSERT_EQ(scx_arena_rq_init(q, 7, 0), -EINVAL);
	ASSERT_EQ(q->mode, SCX_ARENA_RQ_FIFO);
	ASSERT_EQ(task_push(q, &t[0], 1, 0), 0);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 1);
	/* A vtime queue with room preallocated. */
	ASSERT_EQ(scx_arena_rq_init(q, SCX_ARENA_RQ_VTIME, 1000), 0);
	ASSERT_GE(q->vtime.cap, 1000);
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 0);
	/* Destroy returns the array and leaves an empty FIFO. */
	ASSERT_OK(scx_arena_rq_destroy(q));
	ASSERT_EQ(q->mode, SCX_ARENA_RQ_FIFO);
	ASSERT_EQ(q->vtime.cap, 0);
	ASSERT_EQ(task_push(q, &t[0], 1, 0), 0);
	return 0;
}

/* A held lock: every operation times out, reports, and changes nothing. */
SEC("syscall")
int test_rq_lock_timeout_changes_nothing(void *ctx)
{
	struct scx_arena_rq __arena *q = new_rq(SCX_ARENA_RQ_VTIME);
	struct rq_task __arena *t = new_tasks(2);
	struct rq_task __arena *got;
	u64 count, vtime;
	s32 pid;

	ASSERT_NONNULL(q);
	ASSERT_NONNULL(t);
	ASSERT_EQ(task_push(q, &t[0], 1, 10), 0);
	count = scx_arena_last_error.count;
	/* Held by "another CPU", never released. */
	held_lock_set(&q->lock);
	ASSERT_EQ(task_push(q, &t[1], 2, 5), -ETIMEDOUT);
	ASSERT_EQ(task_pop(q, &got), -ETIMEDOUT);
	ASSERT_NULL(got);
	ASSERT_EQ(task_peek(q, &got, &pid), -ETIMEDOUT);
	ASSERT_EQ(task_remove(q, &t[0]), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_rq_peek_vtime(q, &vtime), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, count + 5);
	held_lock_clear(&q->lock);
	/* Nothing changed. */
	ASSERT_EQ(scx_arena_rq_nr_queued(q), 1);
	ASSERT_FALSE(task_queued(&t[1]));
	ASSERT_EQ(task_pop(q, &got), 0);
	ASSERT_EQ(ADDR(got), ADDR(&t[0]));
	return 0;
}

/* ---------------------------------------------------------------------------
 * rq_ops: the driver of the model test.
 */

struct rq_op __arena_global rq_ops_buf[RQ_OPS_MAX];
struct scx_arena_rq __arena_global rq_ops_rq;
struct rq_task __arena_global rq_ops_tasks[RQ_SLOTS];

/* The slot of context @t of rq_ops_tasks, or -1 for NULL. */
static __always_inline s32 slot_of(struct rq_task __arena *t)
{
	return t ? (s32)(((u64)t - (u64)rq_ops_tasks) / sizeof(*t)) : -1;
}

static __always_inline struct rq_task __arena *slot_task(s32 slot)
{
	return slot >= 0 && slot < RQ_SLOTS ? &rq_ops_tasks[slot] : NULL;
}

/* Runs one operation and stores its results in it. */
static __always_inline void rq_run_op(struct rq_op __arena *op)
{
	struct scx_arena_rq __arena *q = &rq_ops_rq;
	struct rq_task __arena *t = NULL;
	s32 pid = 0;
	s64 ret = 0;

	switch (op->op) {
	case RQ_OP_NOP:
		break;
	case RQ_OP_PUSH:
		ret = task_push(q, slot_task(op->slot), op->pid, op->vtime);
		break;
	case RQ_OP_POP:
		ret = task_pop(q, &t);
		op->slot = slot_of(t);
		op->pid = t ? t->node.pid : 0;
		break;
	case RQ_OP_PEEK:
		ret = task_peek(q, &t, &pid);
		op->slot = slot_of(t);
		op->pid = pid;
		break;
	case RQ_OP_REMOVE:
		ret = task_remove(q, slot_task(op->slot));
		break;
	case RQ_OP_NR:
		op->vtime = scx_arena_rq_nr_queued(q);
		break;
	case RQ_OP_QUEUED:
		t = slot_task(op->slot);
		op->vtime = t && task_queued(t);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int rq_ops(struct rq_ops_args *args)
{
	u32 nr = args->nr, mode = args->mode, i;

	scx_arena_assoc();
	args->buf = (u64)rq_ops_buf;
	args->rq = (u64)&rq_ops_rq;
	args->slots = (u64)rq_ops_tasks;
	args->ret = 0;
	if (nr > RQ_OPS_MAX)
		return -EINVAL;
	if (mode != RQ_KEEP) {
		/* A fresh queue: the old heap array goes back first. */
		args->ret = scx_arena_rq_destroy(&rq_ops_rq);
		if (!args->ret)
			args->ret = scx_arena_rq_init(&rq_ops_rq, mode, 0);
		bpf_for(i, 0, RQ_SLOTS)
			task_init(&rq_ops_tasks[i]);
	}
	bpf_for(i, 0, nr)
		rq_run_op(&rq_ops_buf[i]);
	args->nr = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * rq_churn: one queue under concurrent runs.
 */

struct scx_arena_rq __arena_global rq_churn_rq;
struct rq_task __arena_global rq_churn_tasks[2 * RQ_CHURN_TASKS];

/* The pid context @i of the churn tasks carries. */
#define CHURN_PID(i) (0x10000 | (i))

/* Per-run counters, in arena memory: loop-carried counts stay out of registers. */
struct rq_churn_state {
	u64 pushes;
	u64 pops;
	u64 mismatches;
	u64 timeouts;
	u64 full;
};

static __always_inline void rq_churn_step(struct rq_churn_state __arena *st, u32 first, u32 r)
{
	struct scx_arena_rq __arena *q = &rq_churn_rq;
	struct rq_task __arena *t;
	u32 i = first + (r >> 1) % RQ_CHURN_TASKS;
	int ret;

	if (r & 1) {
		/* Only this thread pushes its own contexts, so "not queued" holds. */
		t = &rq_churn_tasks[i & (2 * RQ_CHURN_TASKS - 1)];
		if (task_queued(t))
			return;
		/* Room for every context was reserved: no allocation here. */
		bpf_preempt_disable();
		ret = task_push_reserved(q, t, CHURN_PID(i), r >> 8);
		bpf_preempt_enable();
		if (ret == -ETIMEDOUT)
			st->timeouts++;
		else if (ret)
			st->full++;
		else
			st->pushes++;
		return;
	}
	bpf_preempt_disable();
	ret = task_pop(q, &t);
	bpf_preempt_enable();
	if (ret) {
		st->timeouts++;
		return;
	}
	if (!t)
		return;
	st->pops++;
	i = ((u64)t - (u64)rq_churn_tasks) / sizeof(*t);
	if (t->node.pid != CHURN_PID(i))
		st->mismatches++;
	/*
	 * Still queued after the pop? Only for this run's own contexts: the
	 * other run may push one of its own again as soon as the lock is free.
	 */
	else if (i - first < RQ_CHURN_TASKS && task_queued(t))
		st->mismatches++;
}

SEC("syscall")
int rq_churn(struct rq_churn_args *args)
{
	struct rq_churn_state __arena *st;
	u64 iters = args->iters, it;
	u32 first;

	scx_arena_assoc();
	if (args->thread > 1)
		return -EINVAL;
	first = args->thread * RQ_CHURN_TASKS;
	st = scx_arena_new(struct rq_churn_state);
	if (!st)
		return -ENOMEM;
	bpf_for(it, 0, iters)
		rq_churn_step(st, first, bpf_get_prandom_u32());
	args->pushes = st->pushes;
	args->pops = st->pops;
	args->mismatches = st->mismatches;
	args->timeouts = st->timeouts;
	args->full = st->full;
	args->rq = (u64)&rq_churn_rq;
	args->errors = scx_arena_last_error.count;
	args->tasks = (u64)rq_churn_tasks;
	scx_arena_free(st);
	return 0;
}

/* Makes rq_churn_rq a vtime queue and marks every churn context unqueued. */
SEC("syscall")
int rq_churn_init(void *ctx)
{
	u32 i;

	scx_arena_assoc();
	bpf_for(i, 0, 2 * RQ_CHURN_TASKS)
		task_init(&rq_churn_tasks[i]);
	return scx_arena_rq_init(&rq_churn_rq, SCX_ARENA_RQ_VTIME, 2 * RQ_CHURN_TASKS);
}
