/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_deadline - a latency-oriented virtual-deadline scheduler.
 *
 * Policy, in the spirit of EEVDF: every task has a vruntime, advanced by the
 * time it runs scaled by 100 / weight, and a virtual deadline: its vruntime
 * plus its request scaled the same way, where the request is the time it
 * usually runs before sleeping, at most one slice. The earliest deadline
 * runs first.
 *
 * A global virtual clock follows the smallest vruntime among the running
 * tasks (like CFS's min_vruntime, over all CPUs; it never goes back). A
 * task that sleeps falls behind it (it has lag); on wakeup it keeps that
 * lag, clamped to one scaled slice, so a task that sleeps often gets a
 * deadline earlier than any running CPU hog's, and a long sleep earns no
 * more than one slice of credit.
 *
 * Wakeup preemption: a waking task that finds no idle CPU (and whose waker
 * does not say it is about to sleep: SCX_WAKE_SYNC) preempts a task
 * whose deadline is later than its own by more than the preemption threshold:
 * the one on the CPU it wakes on if it qualifies (no migration needed), else
 * the one with the latest deadline. Each CPU's current deadline is kept
 * in an arena array for that, written in ops.running and ops.stopping.
 *
 * Waiting tasks are kept in one deadline-ordered queue whose back end is
 * chosen at load time: the arena run queue (a locked heap), the arena
 * red-black tree, or the kernel's vtime DSQ; the policy is the same.
 */
#include <scx/common.bpf.h>
#include <scx_arena/alloc.h>
#include <scx_arena/lathist.h>
#include <scx_arena/rbtree.h>
#include <scx_arena/rq.h>
#include <scx_arena/task_ctx.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* The queue back end (enum deadline_queue); set from --queue before load. */
const volatile u32 queue_kind = DEADLINE_QUEUE_HEAP;

/* Live knobs (.bss): set from the flags before load, read by every callback. */
struct deadline_tune tune;

UEI_DEFINE(uei);

/* The kernel DSQ of the dsq back end. */
#define DEADLINE_DSQ 0

/* Per-task context, in the arena. */
struct task_ctx {
	struct scx_arena_rq_node rq;  /* heap back end */
	struct scx_arena_rb_node rb;  /* rbtree back end; rb.key is the deadline */
	s32 pid;                      /* for the rbtree back end's dispatch */
	u32 sync_wake;                /* its waker is about to sleep (from select_cpu) */
	u64 vruntime;    /* virtual runtime, ns scaled by 100 / weight */
	u64 started_at;  /* when it last started running, ns */
	u64 runnable_at; /* when it last became runnable, ns */
	u64 burst;       /* ns run since it last woke */
	u64 avg_burst;   /* running average of burst at sleep, ns */
};

SCX_ARENA_RQ_DEFINE(runq, struct task_ctx, rq);
SCX_ARENA_RBTREE_DEFINE(rbq, struct task_ctx, rb);

/* Each task's context, found through task storage: taskc_create/get/take. */
SCX_ARENA_TASK_CTX_DEFINE(taskc, struct task_ctx);

/* The two arena queues; only the one of queue_kind is used. */
struct scx_arena_rq __arena_global heap_q;
struct scx_arena_rbtree_locked __arena_global rb_q;

/* The virtual clock: the smallest vruntime running, never going back. */
u64 vclock;

/* Arena pages: the statistics and each CPU's current deadline; set in init. */
struct deadline_stats __arena *stats;
struct deadline_curr __arena *curr;

/* Wake-to-run latency histograms, one per CPU (nr_lat of them); from init. */
struct scx_arena_lathist __arena *wake_lat;
u32 nr_lat;

static __always_inline void stat_inc(u64 __arena *counter)
{
	/* Atomic: select_cpu can run in IRQ context on top of another callback. */
	__sync_fetch_and_add(counter, 1);
}

static __always_inline u32 cpu_slot(s32 cpu)
{
	return cpu >= 0 && cpu < DEADLINE_MAX_CPUS ? cpu : DEADLINE_MAX_CPUS - 1;
}

static __always_inline struct deadline_cpu_stats __arena *cpu_stats(void)
{
	/* Callbacks reach the arena only through the .bss pointers (see arena.h). */
	scx_arena_assoc();
	return &stats->cpu[cpu_slot(bpf_get_smp_processor_id())];
}

static __always_inline struct deadline_cpu_curr __arena *cpu_curr(s32 cpu)
{
	scx_arena_assoc();
	return &curr->cpu[cpu_slot(cpu)];
}

static __always_inline u64 __arena *curr_deadline(s32 cpu)
{
	return &cpu_curr(cpu)->deadline;
}

static __always_inline u32 nr_cpus(void)
{
	u32 nr = scx_bpf_nr_cpu_ids();

	return nr < DEADLINE_MAX_CPUS ? nr : DEADLINE_MAX_CPUS;
}

/* The time slice; the kernel's default should the knob read 0. */
static __always_inline u64 slice_ns(void)
{
	return tune.slice_ns ?: SCX_SLICE_DFL;
}

/* @ns of real time in @p's virtual time: heavier tasks' clocks run slower. */
static __always_inline u64 scale(u64 ns, struct task_struct *p)
{
	return ns * 100 / (p->scx.weight ?: 1);
}

/*
 * The deadline: the task's vruntime plus its request, scaled. The request is
 * what it usually runs before it sleeps (or has run since it woke, if more),
 * at most a slice: a CPU hog asks for a whole slice, a task that wakes, runs
 * briefly and sleeps asks for little and gets an early deadline.
 */
static __always_inline u64 task_deadline(struct task_ctx __arena *taskc, struct task_struct *p)
{
	u64 req = taskc->avg_burst > taskc->burst ? taskc->avg_burst : taskc->burst;

	return taskc->vruntime + scale(req < slice_ns() ? req : slice_ns(), p);
}

/* A CPU @p may run on, @cpu if it can (a wrong local DSQ ends the scheduler). */
static __always_inline s32 allowed_cpu(struct task_struct *p, s32 cpu)
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

/* An idle CPU @p may run on, claimed for it, or -1. */
static __always_inline s32 claim_idle_cpu(struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);

	if (is_migration_disabled(p))
		return scx_bpf_test_and_clear_cpu_idle(cpu) ? cpu : -1;
	return scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
}

/* Whether @p may run on @cpu. */
static __always_inline bool may_run_on(struct task_struct *p, s32 cpu)
{
	if (is_migration_disabled(p))
		return cpu == scx_bpf_task_cpu(p);
	return bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/*
 * The CPU to preempt for @p (deadline @dl): one it may run on whose task's
 * deadline is later than @dl by more than the threshold: the CPU @p is being
 * enqueued on if it qualifies (no migration; no IPI either when that is the
 * CPU handling the wakeup), else the one running the latest deadline. The
 * CPU is claimed by writing @dl as its deadline, so two wakers never preempt
 * the same task.
 * Returns the CPU or -1.
 */
static __always_inline s32 preempt_target(struct task_struct *p, u64 dl)
{
	u64 limit = dl + tune.preempt_ns, best_dl = limit, d;
	s32 cpu, best = scx_bpf_task_cpu(p);

	if (!may_run_on(p, best) || *curr_deadline(best) <= limit) {
		best = -1;
		bpf_for(cpu, 0, nr_cpus()) {
			if (!may_run_on(p, cpu))
				continue;
			d = *curr_deadline(cpu);
			if (d > best_dl) {
				best = cpu;
				best_dl = d;
			}
		}
		if (best < 0)
			return -1;
	}
	d = *curr_deadline(best);
	if (d <= limit || __sync_val_compare_and_swap(curr_deadline(best), d, dl) != d)
		return -1;
	return best;
}

/*
 * The rbtree back end's earliest task, taken out of the tree: its pid, 0 when
 * the tree is empty, or -ETIMEDOUT. The pid is read under the lock: once it
 * is dropped, exit_task may free the context.
 */
s32 rb_q_pop_pid(void)
{
	struct scx_arena_rb_node __arena *n;
	struct task_ctx __arena *taskc;
	s32 pid = 0;
	int ret;

	scx_arena_assoc();
	ret = scx_arena_lock_acquire_or_error(&rb_q.lock, "deadline rbtree");
	if (ret)
		return ret;
	n = scx_arena_rbtree_pop_first(&rb_q.tree);
	taskc = rbq_entry(n);
	if (taskc)
		pid = taskc->pid;
	scx_arena_lock_release(&rb_q.lock);
	return pid;
}

/* Moves the tree's earliest task that may run on @cpu to its local DSQ. */
static __always_inline bool rb_q_move_to_local(s32 cpu)
{
	struct task_struct *p;
	s32 pid, target;
	int i;

	bpf_for(i, 0, SCX_ARENA_RQ_MOVE_TRIES) {
		pid = rb_q_pop_pid();
		if (pid <= 0)
			return false;
		p = bpf_task_from_pid(pid);
		if (!p)
			continue; /* exited while queued */
		/* One that may not run here goes to a CPU it may run on. */
		target = allowed_cpu(p, cpu);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | target, slice_ns(), 0);
		bpf_task_release(p);
		if (target == cpu)
			return true;
	}
	return false;
}

/* Queues @p by deadline @dl in the chosen back end; 0 or an error. */
static __always_inline int queue_push(struct task_struct *p, struct task_ctx __arena *taskc,
				      u64 dl, u64 enq_flags)
{
	if (queue_kind == DEADLINE_QUEUE_DSQ) {
		scx_bpf_dsq_insert_vtime(p, DEADLINE_DSQ, slice_ns(), dl, enq_flags);
		return 0;
	}
	if (!taskc)
		return -EINVAL;
	if (queue_kind == DEADLINE_QUEUE_RBTREE)
		return scx_arena_rbtree_locked_insert_key(&rb_q, &taskc->rb, dl);
	return runq_push(&heap_q, taskc, p->pid, dl);
}

/* Takes the task of @taskc out of the arena queue, if it is in it. */
static __always_inline void queue_remove(struct task_ctx __arena *taskc)
{
	if (!taskc)
		return;
	if (queue_kind == DEADLINE_QUEUE_RBTREE)
		scx_arena_rbtree_locked_remove(&rb_q, &taskc->rb);
	else if (queue_kind == DEADLINE_QUEUE_HEAP)
		runq_remove(&heap_q, taskc);
}

/* Tasks waiting in the queue (a lock-free snapshot). */
static __always_inline u64 queue_depth(void)
{
	if (queue_kind == DEADLINE_QUEUE_DSQ)
		return scx_bpf_dsq_nr_queued(DEADLINE_DSQ);
	if (queue_kind == DEADLINE_QUEUE_RBTREE)
		return scx_arena_rbtree_locked_len(&rb_q);
	return scx_arena_rq_nr_queued(&heap_q);
}

s32 BPF_STRUCT_OPS(deadline_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	struct task_ctx __arena *taskc;

	/* The kernel's default pick: prev_cpu if idle, else an idle one. */
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/* An idle CPU: run there now, nothing to wait for. */
		stat_inc(&cpu_stats()->local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
		return cpu;
	}
	/* For enqueue: whether the waker said it is about to sleep. */
	taskc = taskc_get(p);
	if (taskc)
		taskc->sync_wake = !!(wake_flags & SCX_WAKE_SYNC);
	return cpu;
}

/* Whether @taskc's wakeup was synchronous; forgets it (once per wakeup). */
static __always_inline bool take_sync_wake(struct task_ctx __arena *taskc)
{
	bool sync = taskc->sync_wake;

	taskc->sync_wake = 0;
	return sync;
}

void BPF_STRUCT_OPS(deadline_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *taskc = taskc_get(p);
	u64 dl = taskc ? task_deadline(taskc, p) : vclock + scale(slice_ns(), p);
	bool sync = taskc && take_sync_wake(taskc);
	s32 cpu;

	/* A CPU went idle meanwhile (or select_cpu was skipped): take it. */
	cpu = claim_idle_cpu(p);
	if (cpu >= 0) {
		stat_inc(&cpu_stats()->local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice_ns(), enq_flags);
		return;
	}
	/*
	 * Woken with every CPU busy: preempt a later deadline (preempt_target()).
	 * Not on a synchronous wakeup (a pipe or socket handing over data): the
	 * waker is about to sleep and leave its CPU anyway, and preempting it
	 * would only add a context switch per message.
	 */
	if (taskc && (enq_flags & SCX_ENQ_WAKEUP) && !sync) {
		cpu = preempt_target(p, dl);
		if (cpu >= 0) {
			stat_inc(&cpu_stats()->preempt);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice_ns(),
					   enq_flags | SCX_ENQ_PREEMPT);
			return;
		}
	}
	/* Otherwise wait in deadline order. */
	if (!queue_push(p, taskc, dl, enq_flags)) {
		stat_inc(&cpu_stats()->enqueue);
		return;
	}
	/* No context or a refused push: the kernel's global DSQ loses no task. */
	stat_inc(&cpu_stats()->fallback);
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns(), enq_flags);
}

void BPF_STRUCT_OPS(deadline_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *taskc = taskc_get(p);
	u64 lag_max, clock = vclock;

	if (!taskc)
		return;
	taskc->runnable_at = scx_bpf_now();
	/* Keep the lag a sleep earned, but at most one scaled slice of it. */
	lag_max = scale(slice_ns(), p);
	if (clock > lag_max && taskc->vruntime < clock - lag_max)
		taskc->vruntime = clock - lag_max;
}

/* Moves the clock up to the smallest vruntime running, @v on this CPU. */
static __always_inline void advance_vclock(u64 v)
{
	struct deadline_cpu_curr __arena *c;
	s32 cpu;

	bpf_for(cpu, 0, nr_cpus()) {
		c = cpu_curr(cpu);
		if (c->deadline && c->vruntime < v)
			v = c->vruntime;
	}
	/* A racy max, as in scx_simple: a lost update only delays the clock. */
	if (vclock < v)
		vclock = v;
}

/* @p starts (or goes on) running on @c at @now: publish what preemption sees. */
static __always_inline void start_running(struct task_ctx __arena *taskc, struct task_struct *p,
					  struct deadline_cpu_curr __arena *c, u64 now)
{
	taskc->started_at = now;
	/* What a waking task must beat to preempt this CPU. */
	c->vruntime = taskc->vruntime;
	c->deadline = task_deadline(taskc, p);
	advance_vclock(taskc->vruntime);
}

/* Charges @p the time it ran until @now, scaled by its weight. */
static __always_inline void charge(struct task_ctx __arena *taskc, struct task_struct *p, u64 now)
{
	if (now > taskc->started_at) {
		taskc->vruntime += scale(now - taskc->started_at, p);
		taskc->burst += now - taskc->started_at;
	}
}

void BPF_STRUCT_OPS(deadline_running, struct task_struct *p)
{
	struct task_ctx __arena *taskc = taskc_get(p);
	struct deadline_cpu_curr __arena *c = cpu_curr(scx_bpf_task_cpu(p));
	u64 now = scx_bpf_now();

	if (!taskc) {
		c->deadline = 0;
		return;
	}
	/* First run since waking: count the wake-to-run latency. */
	scx_arena_lathist_record_wake(wake_lat, nr_lat, &taskc->runnable_at, now);
	start_running(taskc, p, c, now);
}

void BPF_STRUCT_OPS(deadline_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx __arena *taskc = taskc_get(p);

	*curr_deadline(scx_bpf_task_cpu(p)) = 0;
	if (!taskc)
		return;
	charge(taskc, p, scx_bpf_now());
	/* Going to sleep: fold this burst into the average (weight 1/4). */
	if (!runnable) {
		taskc->avg_burst = (3 * taskc->avg_burst + taskc->burst) / 4;
		taskc->burst = 0;
	}
}

/*
 * @prev used up its slice and nothing waits: it runs on, for another slice
 * of ours (left alone, the kernel would refill 20 ms, and a task that then
 * wakes without preempting would wait that long), charged for the slice
 * it ran so that its vruntime and deadline stay current.
 * (On 7.2, whose BTF breaks the setter kfunc, the compat header writes
 * p->scx.slice and the kernel logs once that this is deprecated.)
 */
static __always_inline void keep_running(struct task_struct *prev, s32 cpu)
{
	struct task_ctx __arena *taskc = taskc_get(prev);
	u64 now = scx_bpf_now();

	if (taskc) {
		charge(taskc, prev, now);
		start_running(taskc, prev, cpu_curr(cpu), now);
	}
	scx_bpf_task_set_slice(prev, slice_ns());
}

void BPF_STRUCT_OPS(deadline_dispatch, s32 cpu, struct task_struct *prev)
{
	bool moved;

	scx_arena_assoc();
	/* This CPU ran out of work: the earliest deadline runs next. */
	if (queue_kind == DEADLINE_QUEUE_DSQ)
		moved = scx_bpf_dsq_move_to_local(DEADLINE_DSQ, 0);
	else if (queue_kind == DEADLINE_QUEUE_RBTREE)
		moved = rb_q_move_to_local(cpu);
	else
		moved = scx_arena_rq_move_to_local(&heap_q, slice_ns(), 0) > 0;
	if (moved)
		stat_inc(&cpu_stats()->dispatch);
	else if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		keep_running(prev, cpu);
	stats->queued = queue_depth();
}

void BPF_STRUCT_OPS(deadline_dequeue, struct task_struct *p, u64 deq_flags)
{
	/* Leaving BPF custody (e.g. an affinity change): forget its queue slot. */
	queue_remove(taskc_get(p));
}

s32 BPF_STRUCT_OPS(deadline_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx __arena *taskc;
	unsigned long flags;

	/*
	 * IRQs off around the allocator: this callback runs with them on, and a
	 * wakeup from an interrupt on this CPU runs ops.enqueue(), whose queue
	 * may grow through the same allocator locks.
	 */
	bpf_local_irq_save(&flags);
	taskc = taskc_create(p);
	bpf_local_irq_restore(&flags);

	/* Without memory for a context the task still runs, through the fallback DSQ. */
	if (!taskc)
		return 0;
	runq_init(taskc);
	scx_arena_rb_node_init(&taskc->rb);
	taskc->pid = p->pid;
	/* A new task starts level with the clock: no lag, no debt. */
	taskc->vruntime = vclock;
	/* Until it has slept, it asks for a whole slice. */
	taskc->avg_burst = slice_ns();
	return 0;
}

void BPF_STRUCT_OPS(deadline_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx __arena *taskc = taskc_take(p);
	unsigned long flags;

	if (!taskc)
		return;
	/*
	 * IRQs on here: off while holding the queue and allocator locks, which
	 * ops.enqueue() takes when an interrupt wakes a task on this CPU.
	 */
	bpf_local_irq_save(&flags);
	/* Never free a context the queue still links. */
	queue_remove(taskc);
	scx_arena_free(taskc);
	bpf_local_irq_restore(&flags);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(deadline_init)
{
	u32 pages = (sizeof(struct deadline_stats) + __PAGE_SIZE - 1) / __PAGE_SIZE;
	u32 curr_pages = (sizeof(struct deadline_curr) + __PAGE_SIZE - 1) / __PAGE_SIZE;
	int ret;

	stats = scx_arena_pages_alloc(pages);
	curr = scx_arena_pages_alloc(curr_pages);
	if (!stats || !curr) {
		scx_bpf_error("cannot allocate %u arena pages", pages + curr_pages);
		return -ENOMEM;
	}
	nr_lat = scx_bpf_nr_cpu_ids();
	wake_lat = scx_arena_lathist_alloc(nr_lat);
	if (!wake_lat) {
		scx_bpf_error("cannot allocate %u latency histograms", nr_lat);
		return -ENOMEM;
	}
	if (queue_kind == DEADLINE_QUEUE_DSQ)
		return scx_bpf_create_dsq(DEADLINE_DSQ, -1);
	if (queue_kind == DEADLINE_QUEUE_RBTREE) {
		scx_arena_rbtree_locked_init(&rb_q);
		return 0;
	}
	/* Room for 512 waiting tasks up front; the heap grows beyond that. */
	ret = scx_arena_rq_init(&heap_q, SCX_ARENA_RQ_VTIME, 512);
	if (ret)
		scx_bpf_error("cannot allocate the run queue (%d): arena too small?", ret);
	return ret;
}

void BPF_STRUCT_OPS(deadline_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(deadline_ops,
	       .select_cpu = (void *)deadline_select_cpu,
	       .enqueue = (void *)deadline_enqueue,
	       .dispatch = (void *)deadline_dispatch,
	       .runnable = (void *)deadline_runnable,
	       .running = (void *)deadline_running,
	       .stopping = (void *)deadline_stopping,
	       .dequeue = (void *)deadline_dequeue,
	       .init_task = (void *)deadline_init_task,
	       .exit_task = (void *)deadline_exit_task,
	       .init = (void *)deadline_init,
	       .exit = (void *)deadline_exit,
	       .name = "deadline");
