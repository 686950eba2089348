/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_template - the smallest complete scx-arena scheduler.
 *
 * Policy: one global FIFO. A waking task that finds an idle CPU runs there at
 * once; every other task waits in the shared queue, and a CPU that runs out
 * of work takes the oldest one. The queue is an arena run queue (rq.h), so
 * the Rust half can read its depth and contents through the arena's mmap,
 * like the statistics.
 *
 * Fork it with the fork command (see the README) and change the policy here.
 */
#include <scx/common.bpf.h>
#include <scx_arena/alloc.h>
#include <scx_arena/lathist.h>
#include <scx_arena/rq.h>
#include <scx_arena/task_ctx.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Live knobs: set from the flags before load, rewritten by --tune while running. */
struct template_tune tune = { .slice_ns = 20ULL * 1000 * 1000 };

UEI_DEFINE(uei);

/* Per-task context, in the arena: what the run queue links. */
struct task_ctx {
	struct scx_arena_rq_node rq;
	u64 runnable_at;	/* when it woke, for the wake-to-run latency; 0 if not waking */
};

SCX_ARENA_RQ_DEFINE(runq, struct task_ctx, rq);

/* Each task's context, found through task storage: taskc_create/get/take. */
SCX_ARENA_TASK_CTX_DEFINE(taskc, struct task_ctx);

/* The shared queue. Zeroed memory is an empty FIFO. */
struct scx_arena_rq __arena_global shared_rq;

/* Its arena address, for the Rust half's view of the queue; set in init. */
u64 shared_rq_addr;

/* Arena page(s) holding struct template_stats; allocated in init. */
struct template_stats __arena *stats;

/* Wake-to-run latency histograms, one per CPU (nr_cpus of them); from init. */
struct scx_arena_lathist __arena *wake_lat;
u32 nr_cpus;

static __always_inline void stat_inc(u64 __arena *counter)
{
	/* Atomic: select_cpu can run in IRQ context on top of another callback. */
	__sync_fetch_and_add(counter, 1);
}

static __always_inline struct template_cpu_stats __arena *cpu_stats(void)
{
	u32 cpu = bpf_get_smp_processor_id();

	/* Callbacks reach the arena only through the .bss pointer (see arena.h). */
	scx_arena_assoc();
	return &stats->cpu[cpu < TEMPLATE_MAX_CPUS ? cpu : TEMPLATE_MAX_CPUS - 1];
}

s32 BPF_STRUCT_OPS(template_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	/* Let the kernel's default pick the CPU: prev_cpu if idle, else an idle one. */
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/* An idle CPU: run there now, skipping the shared queue. */
		stat_inc(&cpu_stats()->local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tune.slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(template_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *taskc = taskc_get(p);

	/* No idle CPU: wait in FIFO order with everyone else. */
	if (taskc && !runq_push(&shared_rq, taskc, p->pid, 0)) {
		stat_inc(&cpu_stats()->global);
		return;
	}
	/* No context or a refused push: the kernel's global DSQ loses no task. */
	stat_inc(&cpu_stats()->fallback);
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, tune.slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(template_dispatch, s32 cpu, struct task_struct *prev)
{
	/* This CPU ran out of work: take the oldest waiting task. */
	if (scx_arena_rq_move_to_local(&shared_rq, tune.slice_ns, 0) > 0)
		stat_inc(&cpu_stats()->dispatch);
	/*
	 * None waits: prev, if still runnable, runs on for another slice of
	 * ours (left alone, the kernel would refill 20 ms, and a task waking
	 * meanwhile would wait that long).
	 */
	else if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		scx_bpf_task_set_slice(prev, tune.slice_ns);
}

void BPF_STRUCT_OPS(template_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *taskc = taskc_get(p);

	/* Woke up (or was created): the wake-to-run clock starts. */
	if (taskc)
		taskc->runnable_at = bpf_ktime_get_ns();
}

void BPF_STRUCT_OPS(template_running, struct task_struct *p)
{
	struct task_ctx __arena *taskc = taskc_get(p);

	/* First run since waking: count the wait. Later runs after a preemption are not wakeups. */
	if (taskc)
		scx_arena_lathist_record_wake(wake_lat, nr_cpus, &taskc->runnable_at,
					      bpf_ktime_get_ns());
}

void BPF_STRUCT_OPS(template_dequeue, struct task_struct *p, u64 deq_flags)
{
	/* Leaving BPF custody (e.g. an affinity change): forget its queue slot. */
	runq_remove(&shared_rq, taskc_get(p));
}

s32 BPF_STRUCT_OPS(template_init_task, struct task_struct *p, struct scx_init_task_args *args)
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
	if (taskc)
		runq_init(taskc);
	return 0;
}

void BPF_STRUCT_OPS(template_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx __arena *taskc = taskc_take(p);

	unsigned long flags;

	if (!taskc)
		return;
	/* IRQs on here too: off while holding locks ops.enqueue() takes. */
	bpf_local_irq_save(&flags);
	/* Never free a context the queue still links. */
	runq_remove(&shared_rq, taskc);
	scx_arena_free(taskc);
	bpf_local_irq_restore(&flags);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(template_init)
{
	u32 pages = (sizeof(struct template_stats) + __PAGE_SIZE - 1) / __PAGE_SIZE;

	stats = scx_arena_pages_alloc(pages);
	if (!stats) {
		scx_bpf_error("cannot allocate %u arena pages for statistics", pages);
		return -ENOMEM;
	}
	nr_cpus = scx_bpf_nr_cpu_ids();
	wake_lat = scx_arena_lathist_alloc(nr_cpus);
	if (!wake_lat) {
		scx_bpf_error("cannot allocate %u latency histograms", nr_cpus);
		return -ENOMEM;
	}
	shared_rq_addr = (u64)&shared_rq;
	return scx_arena_rq_init(&shared_rq, SCX_ARENA_RQ_FIFO, 0);
}

void BPF_STRUCT_OPS(template_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(template_ops,
	       .select_cpu = (void *)template_select_cpu,
	       .enqueue = (void *)template_enqueue,
	       .dispatch = (void *)template_dispatch,
	       .runnable = (void *)template_runnable,
	       .running = (void *)template_running,
	       .dequeue = (void *)template_dequeue,
	       .init_task = (void *)template_init_task,
	       .exit_task = (void *)template_exit_task,
	       .init = (void *)template_init,
	       .exit = (void *)template_exit,
	       .name = "template");
