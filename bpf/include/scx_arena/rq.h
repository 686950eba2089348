/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/rq.h - a task run queue in arena memory, in place of a DSQ.
 *
 * A scheduler keeps its runnable tasks here instead of in a kernel dispatch
 * queue, so it can look at them (peek, count, walk from userspace), take one
 * out of the middle (ops.dequeue) and pick the order: FIFO, or by virtual
 * time (smallest first, ties in push order). The node lives in the
 * scheduler's own per-task context:
 *
 *	struct task_ctx {
 *		struct scx_arena_rq_node rq;
 *		u64 vtime;
 *	};
 *
 *	SCX_ARENA_RQ_DEFINE(runq, struct task_ctx, rq);
 *
 *	struct scx_arena_rq __arena_global rq;
 *
 *	init:      scx_arena_rq_init(&rq, SCX_ARENA_RQ_VTIME, 1024);
 *	init_task: runq_init(taskc);
 *	enqueue:   if (runq_push(&rq, taskc, p->pid, taskc->vtime))
 *	                   scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice, flags);
 *	dispatch:  scx_arena_rq_move_to_local(&rq, slice, 0);
 *	dequeue:   runq_remove(&rq, taskc);
 *
 * The queue remembers each task by pid: the kernel keeps no task pointer in
 * arena memory. scx_arena_rq_move_to_local() pops the head, looks the task
 * up (bpf_task_from_pid()) and inserts it into the dispatching CPU's local
 * DSQ; a task that exited meanwhile is skipped, and one that may not run on
 * this CPU goes to a CPU it may run on. It exists only in programs
 * that include <scx/common.bpf.h> before this header (sched_ext
 * schedulers); everything else also works in SEC("syscall") programs.
 *
 * Modes (fixed by scx_arena_rq_init(); zeroed memory is an empty FIFO rq):
 *  - SCX_ARENA_RQ_FIFO: an arena list (list.h); every operation is O(1).
 *  - SCX_ARENA_RQ_VTIME: an arena heap (heap.h) keyed by vtime; push, pop
 *    and remove are O(log n), peek O(1). The heap holds at most
 *    SCX_ARENA_HEAP_MAX_CAP tasks and may allocate when it grows: a full
 *    queue or no memory makes push fail (-ENOSPC, -ENOMEM) with nothing
 *    changed, and the scheduler must then queue the task elsewhere (the
 *    kernel's SCX_DSQ_GLOBAL), never drop it. Preallocate with the @cap of
 *    scx_arena_rq_init() to avoid allocation in callbacks.
 *
 * Every operation takes the queue's arena spin lock, so any callback on any
 * CPU may call it. A lock that stays held past its bound is reported with
 * scx_arena_error() (which ends a sched_ext scheduler) and the operation
 * returns -ETIMEDOUT with nothing changed. Link with .lib("rq") (which
 * brings the heap, the allocator and the lock).
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/error.h>
#include <scx_arena/heap.h>
#include <scx_arena/list.h>
#include <scx_arena/lock.h>

/* Queue orders. */
enum scx_arena_rq_mode {
	SCX_ARENA_RQ_FIFO = 0,  /* push order */
	SCX_ARENA_RQ_VTIME = 1, /* smallest vtime first, ties in push order */
};

/* Tasks scx_arena_rq_move_to_local() skips (exited) before it gives up. */
#define SCX_ARENA_RQ_MOVE_TRIES 8

/**
 * struct scx_arena_rq_node - what a task context embeds to be queued.
 * @fifo: the link of a FIFO queue.
 * @vtime: the heap handle of a vtime queue (its key is the task's vtime).
 * @pid: the task's pid, set by push.
 * @__pad: keeps the node a multiple of 8 bytes (explicit for Rust).
 *
 * Zeroed memory is a node in no queue.
 */
struct scx_arena_rq_node {
	struct scx_arena_list_node fifo;
	struct scx_arena_heap_node vtime;
	s32 pid;
	u32 __pad;
};

/**
 * struct scx_arena_rq - a task run queue.
 * @lock: taken by every operation.
 * @mode: enum scx_arena_rq_mode.
 * @fifo: the queue in FIFO mode.
 * @vtime: the queue in vtime mode.
 */
struct scx_arena_rq {
	struct scx_arena_lock lock;
	u32 mode;
	struct scx_arena_list fifo;
	struct scx_arena_heap vtime;
};

/* Internal: takes @q's lock, reporting a timeout. */
#define __scx_arena_rq_lock(q) scx_arena_lock_acquire_or_error(&(q)->lock, "rq")

/**
 * scx_arena_rq_init - make @q an empty queue of @mode with a free lock.
 * @q: the queue.
 * @mode: SCX_ARENA_RQ_FIFO or SCX_ARENA_RQ_VTIME.
 * @cap: vtime mode: tasks to preallocate room for (0: grow on demand).
 *
 * Not under the lock: call it before any other CPU can see @q (ops.init).
 * A vtime queue's array is not freed here: scx_arena_rq_destroy() first
 * when re-initialising one. Returns 0, -EINVAL for an unknown mode, or the error of
 * scx_arena_heap_init() (-ENOMEM, -ENOSPC) with @q left an empty FIFO.
 */
static __always_inline int scx_arena_rq_init(struct scx_arena_rq __arena *q, u32 mode, u32 cap)
{
	int ret;

	__scx_list_pin(q);
	scx_arena_lock_init(&q->lock);
	scx_arena_list_init(&q->fifo);
	q->mode = SCX_ARENA_RQ_FIFO;
	if (mode == SCX_ARENA_RQ_FIFO)
		return 0;
	if (mode != SCX_ARENA_RQ_VTIME)
		return -EINVAL;
	ret = scx_arena_heap_init(&q->vtime, cap);
	if (ret)
		return ret;
	q->mode = SCX_ARENA_RQ_VTIME;
	return 0;
}

/**
 * scx_arena_rq_destroy - return @q's memory and make it an empty FIFO.
 * @q: the queue.
 *
 * Frees a vtime queue's heap array (scx_arena_heap_destroy()). Tasks still
 * queued are forgotten: dispatch or requeue them first. Not under the lock,
 * like scx_arena_rq_init(). Returns 0, or the error of
 * scx_arena_heap_destroy() with @q unchanged.
 */
static __always_inline int scx_arena_rq_destroy(struct scx_arena_rq __arena *q)
{
	int ret;

	__scx_list_pin(q);
	ret = scx_arena_heap_destroy(&q->vtime);
	if (ret)
		return ret;
	scx_arena_list_init(&q->fifo);
	q->mode = SCX_ARENA_RQ_FIFO;
	return 0;
}

/**
 * scx_arena_rq_nr_queued - the number of tasks in @q.
 * @q: the queue.
 *
 * Read without the lock: a snapshot that may be stale at once.
 */
static __always_inline u64 scx_arena_rq_nr_queued(struct scx_arena_rq __arena *q)
{
	__scx_list_pin(q);
	if (q->mode == SCX_ARENA_RQ_VTIME)
		return *(volatile u32 __arena *)&q->vtime.nr;
	return *(volatile u64 __arena *)&q->fifo.nr;
}

/*
 * Out of line, in bpf/lib/rq.bpf.c: the locked operations. Each is verified
 * once per program instead of at every call site, which keeps callbacks
 * that queue and dispatch in loops within the verifier's budget.
 */
int __scx_arena_rq_push(struct scx_arena_rq __arena *q __arg_arena,
			struct scx_arena_rq_node __arena *n __arg_arena, s32 pid, u64 vtime);
int __scx_arena_rq_push_reserved(struct scx_arena_rq __arena *q __arg_arena,
				 struct scx_arena_rq_node __arena *n __arg_arena, s32 pid, u64 vtime);
s64 __scx_arena_rq_head(struct scx_arena_rq __arena *q __arg_arena, u32 take, s32 *pid);
int __scx_arena_rq_remove(struct scx_arena_rq __arena *q __arg_arena,
			  struct scx_arena_rq_node __arena *n __arg_arena);

/**
 * scx_arena_rq_push - queue the task @pid, whose node is @n, at @vtime.
 * @q: the queue.
 * @n: the task's node, not in any queue.
 * @pid: the task's pid (p->pid).
 * @vtime: its virtual time (vtime mode; FIFO mode ignores it).
 *
 * Returns 0, -EINVAL for a NULL @n, -EEXIST when @n is already queued,
 * -ENOSPC or -ENOMEM when a vtime queue cannot grow, or -ETIMEDOUT. On error
 * nothing changed: queue the task somewhere else.
 *
 * A vtime queue grows by allocating, which the verifier counts as "may
 * sleep": on kernels without non-sleepable arena allocation, and inside
 * bpf_preempt_disable() sections, use scx_arena_rq_push_reserved().
 */
static __always_inline int scx_arena_rq_push(struct scx_arena_rq __arena *q,
					     struct scx_arena_rq_node __arena *n, s32 pid,
					     u64 vtime)
{
	if (!n)
		return -EINVAL;
	return __scx_arena_rq_push(q, n, pid, vtime);
}

/**
 * scx_arena_rq_push_reserved - scx_arena_rq_push() that never allocates.
 * @q: the queue.
 * @n: the task's node, not in any queue.
 * @pid: the task's pid.
 * @vtime: its virtual time.
 *
 * For a vtime queue whose room was reserved by scx_arena_rq_init()'s @cap:
 * returns -ENOSPC instead of growing; otherwise as scx_arena_rq_push().
 */
static __always_inline int scx_arena_rq_push_reserved(struct scx_arena_rq __arena *q,
						      struct scx_arena_rq_node __arena *n,
						      s32 pid, u64 vtime)
{
	if (!n)
		return -EINVAL;
	return __scx_arena_rq_push_reserved(q, n, pid, vtime);
}

/* Internal: the head node of @q, removed when @take; call with the lock held. */
static __always_inline struct scx_arena_rq_node __arena *
__scx_arena_rq_head_locked(struct scx_arena_rq __arena *q, bool take)
{
	if (q->mode == SCX_ARENA_RQ_VTIME) {
		struct scx_arena_heap_node __arena *h =
			take ? scx_arena_heap_pop(&q->vtime) : scx_arena_heap_peek(&q->vtime);

		return scx_arena_heap_entry(h, struct scx_arena_rq_node, vtime);
	} else {
		struct scx_arena_list_node __arena *l =
			take ? scx_arena_list_pop_front(&q->fifo) : scx_arena_list_peek_front(&q->fifo);

		return scx_arena_list_entry(l, struct scx_arena_rq_node, fifo);
	}
}

/**
 * scx_arena_rq_pop - take the head task out of @q.
 * @q: the queue.
 * @out: the head's node (NULL when @q is empty); its pid is in (*@out)->pid.
 *
 * The head is the oldest push (FIFO) or the smallest vtime. Returns 0, or
 * -ETIMEDOUT with *@out NULL.
 */
static __always_inline int scx_arena_rq_pop(struct scx_arena_rq __arena *q,
					    struct scx_arena_rq_node __arena **out)
{
	s64 ret = __scx_arena_rq_head(q, 1, NULL);

	*out = ret > 0 ? scx_arena_from_u64(struct scx_arena_rq_node, ret) : NULL;
	return ret < 0 ? ret : 0;
}

/**
 * scx_arena_rq_peek - the head task of @q, left in the queue.
 * @q: the queue.
 * @out: the head's node, or NULL when @q is empty.
 * @pid: its pid (0 when empty), read under the lock.
 *
 * Another CPU may take the task once the lock is dropped. Returns 0, or
 * -ETIMEDOUT with *@out NULL.
 */
static __always_inline int scx_arena_rq_peek(struct scx_arena_rq __arena *q,
					     struct scx_arena_rq_node __arena **out, s32 *pid)
{
	s64 ret;

	*pid = 0;
	ret = __scx_arena_rq_head(q, 0, pid);
	*out = ret > 0 ? scx_arena_from_u64(struct scx_arena_rq_node, ret) : NULL;
	return ret < 0 ? ret : 0;
}

/**
 * scx_arena_rq_peek_vtime - the vtime of @q's head (vtime mode).
 * @q: the queue.
 * @vtime: the head's vtime, or 0 when @q is empty or a FIFO.
 *
 * Returns 0 when @q had a head, -ENOENT when not, or -ETIMEDOUT.
 */
static __always_inline int scx_arena_rq_peek_vtime(struct scx_arena_rq __arena *q, u64 *vtime)
{
	struct scx_arena_heap_node __arena *h;
	int ret;

	__scx_list_pin(q);
	*vtime = 0;
	if (q->mode != SCX_ARENA_RQ_VTIME)
		return -ENOENT;
	ret = __scx_arena_rq_lock(q);
	if (ret)
		return ret;
	h = scx_arena_heap_peek(&q->vtime);
	if (h)
		*vtime = h->key;
	scx_arena_lock_release(&q->lock);
	return h ? 0 : -ENOENT;
}

/**
 * scx_arena_rq_remove - take the task whose node is @n out of @q.
 * @q: the queue.
 * @n: the node.
 *
 * For ops.dequeue. Returns 0, -EINVAL when @n is NULL or not queued in @q
 * (already dispatched: nothing to do), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_rq_remove(struct scx_arena_rq __arena *q,
					       struct scx_arena_rq_node __arena *n)
{
	if (!n)
		return -EINVAL;
	return __scx_arena_rq_remove(q, n);
}

/**
 * scx_arena_rq_node_init - mark @n as in no queue.
 * @n: the node.
 *
 * Call it once when the task context is created (ops.init_task): push
 * accepts a zeroed node too, but only an initialised one reads right in
 * scx_arena_rq_node_queued() before its first push.
 */
static __always_inline void scx_arena_rq_node_init(struct scx_arena_rq_node __arena *n)
{
	__scx_list_pin(n);
	scx_arena_list_node_init(&n->fifo);
	scx_arena_heap_node_init(&n->vtime);
	n->pid = 0;
}

/**
 * scx_arena_rq_node_queued - whether @n looks queued (lock-free snapshot).
 * @n: a node that went through scx_arena_rq_node_init().
 *
 * A hint: another CPU may queue or take the task at any moment.
 */
static __always_inline bool scx_arena_rq_node_queued(struct scx_arena_rq_node __arena *n)
{
	__scx_list_pin(n);
	return scx_arena_heap_node_queued(&n->vtime) || !scx_arena_list_node_unlinked(&n->fifo);
}

/**
 * scx_arena_rq_entry - the struct of @type containing node @n as @member.
 * @n: a struct scx_arena_rq_node pointer, or NULL (gives NULL).
 * @type: the per-task context type, e.g. struct task_ctx.
 * @member: the name of the node in @type.
 */
#define scx_arena_rq_entry(n, type, member)                                    \
	((type __arena *)__scx_arena_rq_entry((n), offsetof(type, member)))

static __always_inline void __arena *
__scx_arena_rq_entry(struct scx_arena_rq_node __arena *n, u64 off)
{
	__scx_list_pin(n);
	return n ? (void __arena *)((char __arena *)n - off) : NULL;
}

#ifdef __SCX_COMMON_BPF_H
/*
 * Internal: a CPU @p may run on, @cpu if it can. Inserting a task into the
 * local DSQ of a CPU outside its affinity, or of another CPU than its own
 * while its migration is disabled, is a runtime error that ends the
 * scheduler ("SCX_DSQ_LOCAL[_ON] target CPU not allowed").
 */
static __always_inline s32 __scx_arena_rq_cpu_for(struct task_struct *p, s32 cpu)
{
	s32 prev = scx_bpf_task_cpu(p);

	if (is_migration_disabled(p))
		return prev;
	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return cpu;
	if (bpf_cpumask_test_cpu(prev, p->cpus_ptr))
		return prev;
	return bpf_cpumask_any_distribute(p->cpus_ptr);
}

/**
 * scx_arena_rq_move_to_local_on - move @q's head task into @cpu's local DSQ.
 * @q: the queue.
 * @cpu: the CPU that should run it.
 * @slice: the task's time slice in ns.
 * @enq_flags: SCX_ENQ_* flags.
 *
 * From ops.dispatch (or ops.enqueue). Pops heads until one belongs to a
 * live task that may run on @cpu, at most SCX_ARENA_RQ_MOVE_TRIES times. A
 * head that exited is dropped; a head that may not run on @cpu (affinity,
 * migration disabled) goes to the local DSQ of a CPU it may run on (the
 * kernel wakes that CPU if it idles), so nothing is lost and no invalid dispatch ends the scheduler.
 * Returns the pid of the task moved to @cpu, 0 when none was (empty queue,
 * or only heads for other CPUs), or -ETIMEDOUT.
 */
static __always_inline s32 scx_arena_rq_move_to_local_on(struct scx_arena_rq __arena *q, s32 cpu,
							 u64 slice, u64 enq_flags)
{
	struct task_struct *p;
	s32 pid, target;
	s64 ret;
	int i;

	bpf_for(i, 0, SCX_ARENA_RQ_MOVE_TRIES) {
		/* The pid is read under the lock: the node's owner may free it next. */
		pid = 0;
		ret = __scx_arena_rq_head(q, 1, &pid);
		if (ret <= 0)
			return ret;
		p = bpf_task_from_pid(pid);
		if (!p)
			continue; /* exited while queued */
		target = __scx_arena_rq_cpu_for(p, cpu);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | target, slice, enq_flags);
		bpf_task_release(p);
		/* The kernel wakes an idle @target itself. */
		if (target == cpu)
			return pid;
	}
	return 0;
}

/**
 * scx_arena_rq_move_to_local - move @q's head task into this CPU's local DSQ.
 * @q: the queue.
 * @slice: the task's time slice in ns.
 * @enq_flags: SCX_ENQ_* flags.
 *
 * scx_arena_rq_move_to_local_on() for the CPU running ops.dispatch: the
 * task runs next here. Returns as scx_arena_rq_move_to_local_on().
 */
static __always_inline s32 scx_arena_rq_move_to_local(struct scx_arena_rq __arena *q, u64 slice,
						      u64 enq_flags)
{
	return scx_arena_rq_move_to_local_on(q, bpf_get_smp_processor_id(), slice, enq_flags);
}
#endif /* __SCX_COMMON_BPF_H */

/**
 * SCX_ARENA_RQ_DEFINE - typed operations for queues of @type.
 * @name: prefix of the generated functions.
 * @type: the per-task context struct, e.g. struct task_ctx.
 * @member: the name of its struct scx_arena_rq_node.
 *
 * Generates, with T = @type __arena * and the same returns as the untyped
 * operations:
 *
 *	T    name_entry(struct scx_arena_rq_node __arena *n)    (NULL -> NULL)
 *	int  name_push(q, T, s32 pid, u64 vtime)
 *	int  name_push_reserved(q, T, s32 pid, u64 vtime)
 *	int  name_pop(q, T *out)
 *	int  name_peek(q, T *out, s32 *pid)
 *	int  name_remove(q, T)
 *	void name_init(T)                     scx_arena_rq_node_init()
 *	bool name_queued(T)
 *
 * where q is a struct scx_arena_rq __arena *. A NULL element makes push and
 * remove return -EINVAL.
 */
#define SCX_ARENA_RQ_DEFINE(name, type, member)                                \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_entry(struct scx_arena_rq_node __arena *n)                       \
	{                                                                      \
		return scx_arena_rq_entry(n, type, member);                    \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push(struct scx_arena_rq __arena *q, type __arena *e, s32 pid,   \
		    u64 vtime)                                                 \
	{                                                                      \
		return e ? scx_arena_rq_push(q, &e->member, pid, vtime) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_push_reserved(struct scx_arena_rq __arena *q, type __arena *e,   \
			     s32 pid, u64 vtime)                               \
	{                                                                      \
		return e ? scx_arena_rq_push_reserved(q, &e->member, pid, vtime) \
			 : -EINVAL;                                            \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_pop(struct scx_arena_rq __arena *q, type __arena **out)          \
	{                                                                      \
		struct scx_arena_rq_node __arena *___n;                        \
		int ___ret = scx_arena_rq_pop(q, &___n);                        \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_peek(struct scx_arena_rq __arena *q, type __arena **out, s32 *pid) \
	{                                                                      \
		struct scx_arena_rq_node __arena *___n;                        \
		int ___ret = scx_arena_rq_peek(q, &___n, pid);                  \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_remove(struct scx_arena_rq __arena *q, type __arena *e)          \
	{                                                                      \
		return e ? scx_arena_rq_remove(q, &e->member) : -EINVAL;       \
	}                                                                      \
	static __always_inline __attribute__((unused)) void                    \
	name##_init(type __arena *e)                                           \
	{                                                                      \
		scx_arena_rq_node_init(&e->member);                            \
	}                                                                      \
	static __always_inline __attribute__((unused)) bool                    \
	name##_queued(type __arena *e)                                         \
	{                                                                      \
		return e && scx_arena_rq_node_queued(&e->member);              \
	}
