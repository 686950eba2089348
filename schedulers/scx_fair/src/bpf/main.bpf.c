/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_fair - a weighted-fair (vtime) scheduler with one run queue per LLC.
 *
 * Policy: every task carries a virtual time that advances by the CPU time it
 * used, scaled by 100 / weight, so a task of twice the weight gets twice the
 * CPU. Each LLC domain queues its runnable tasks by vtime, smallest first, in
 * an arena RB-tree (or, with --queue dsq, in a kernel vtime DSQ). Each domain
 * keeps its own clock, the largest vtime it has started running; a waking task
 * is held to at most one slice behind it, so sleeping earns no hoard of credit.
 *
 * A waking task takes an idle CPU in the waker's domain (synchronous wakeups),
 * then in its previous CPU's domain, then anywhere. A CPU whose domain runs
 * dry steals the smallest-vtime task it may run from another domain.
 */
#include <scx/common.bpf.h>
#include <scx_arena/alloc.h>
#include <scx_arena/lathist.h>
#include <scx_arena/rbtree.h>
#include <scx_arena/task_ctx.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Topology, from main.rs before load: LLC domain of each CPU. */
const volatile u32 nr_doms = 1;
const volatile u32 nr_cpus = 1;
const volatile u32 cpu_dom[FAIR_MAX_CPUS];

/* enum fair_queue, from --queue. */
const volatile u32 queue_kind = FAIR_QUEUE_RBTREE;

/* Live knobs: set from the flags before load, rewritable while running. */
struct fair_tune tune;

/* Queued tasks a CPU looks at for one it may run before giving up. */
#define FAIR_SCAN 8

UEI_DEFINE(uei);

/* Per-task context, in the arena. */
struct task_ctx {
	struct scx_arena_rb_node rb; /* in its domain's tree; key = vtime */
	u64 vtime;		     /* against the clock of domain @dom */
	u64 runnable_at;	     /* ns, set in ops.runnable (wake-to-run latency) */
	u64 running_at;		     /* ns, set in ops.running (usage) */
	s32 pid;		     /* read under the tree lock by dispatchers */
	u32 dom;		     /* domain of its vtime, and of its tree when queued */
};

SCX_ARENA_RBTREE_DEFINE(fairq, struct task_ctx, rb);

/* One LLC domain: its run queue and its clock. A cache line each. */
struct fair_dom {
	struct scx_arena_rbtree_locked rq;
	u64 vtime_now;
	u64 __pad[2];
};

struct fair_dom __arena_global doms[FAIR_MAX_DOMS];

/* Each task's context, found through task storage: taskc_create/get/take. */
SCX_ARENA_TASK_CTX_DEFINE(taskc, struct task_ctx);

/* Each domain's CPUs, for idle selection; built in init. */
struct dom_mask {
	struct bpf_cpumask __kptr *mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FAIR_MAX_DOMS);
	__type(key, u32);
	__type(value, struct dom_mask);
} dom_masks SEC(".maps");

/* Arena page(s) holding struct fair_stats; allocated in init. */
struct fair_stats __arena *stats;

/* Wake-to-run latency histograms, one per CPU (nr_lat of them); from init. */
struct scx_arena_lathist __arena *wake_lat;
u32 nr_lat;

static __always_inline u64 slice_ns(void)
{
	return tune.slice_ns ?: SCX_SLICE_DFL;
}

static __always_inline void stat_inc(u64 __arena *counter)
{
	/* Atomic: select_cpu can run in IRQ context on top of another callback. */
	__sync_fetch_and_add(counter, 1);
}

static __always_inline struct fair_cpu_stats __arena *cpu_stats(void)
{
	u32 cpu = bpf_get_smp_processor_id();

	scx_arena_assoc();
	return &stats->cpu[cpu < FAIR_MAX_CPUS ? cpu : FAIR_MAX_CPUS - 1];
}

static __always_inline u32 cpu_to_dom(s32 cpu)
{
	u32 c = cpu, d;

	/* Unsigned: a negative id is out of range too, and the verifier sees the bound. */
	if (c >= FAIR_MAX_CPUS)
		return 0;
	d = cpu_dom[c];
	return d < FAIR_MAX_DOMS ? d : 0;
}

static __always_inline struct fair_dom __arena *dom_of(u32 d)
{
	scx_arena_assoc();
	return &doms[d < FAIR_MAX_DOMS ? d : 0];
}

static __always_inline u64 dom_depth(u32 d)
{
	if (queue_kind == FAIR_QUEUE_DSQ)
		return scx_bpf_dsq_nr_queued(d);
	return scx_arena_rbtree_locked_len(&dom_of(d)->rq);
}

static __always_inline void sample_depth(u32 d)
{
	scx_arena_assoc();
	stats->dom[d < FAIR_MAX_DOMS ? d : 0].queued = dom_depth(d);
}

/* Whether @p may run on @cpu now: affinity, and migration-disabled tasks stay put. */
static __always_inline bool may_run_on(struct task_struct *p, s32 cpu)
{
	if (is_migration_disabled(p))
		return scx_bpf_task_cpu(p) == cpu;
	return bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/* An idle CPU of domain @d that @p may use, claimed; negative if none. */
static __always_inline s32 idle_in_dom(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				       u32 d)
{
	struct dom_mask *m = bpf_map_lookup_elem(&dom_masks, &d);

	if (!m || !m->mask)
		return -ENOENT;
	return scx_bpf_select_cpu_and(p, prev_cpu, wake_flags, cast_mask(m->mask), 0);
}

s32 BPF_STRUCT_OPS(fair_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	s32 cpu = -ENOENT;

	/* A synchronous waker is about to sleep: its LLC holds what the wakee reads. */
	if (wake_flags & SCX_WAKE_SYNC)
		cpu = idle_in_dom(p, prev_cpu, wake_flags, cpu_to_dom(bpf_get_smp_processor_id()));
	/* Next, the LLC the task last ran in: its cache may still be warm. */
	if (cpu < 0)
		cpu = idle_in_dom(p, prev_cpu, wake_flags, cpu_to_dom(prev_cpu));
	if (cpu >= 0) {
		stat_inc(&cpu_stats()->local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
		return cpu;
	}
	/* Any idle CPU beats waiting in a queue. */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		stat_inc(&cpu_stats()->remote);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
		return cpu;
	}
	/* None idle: queue in prev_cpu's domain (ops.enqueue). */
	return prev_cpu;
}

/*
 * The vtime @tc queues at in domain @d: its lag behind its old domain's clock,
 * moved onto @d's clock, and at most one slice of credit.
 */
static __always_inline u64 queue_vtime(struct task_ctx __arena *tc, u32 d)
{
	s64 lag = (s64)(tc->vtime - dom_of(tc->dom)->vtime_now);
	s64 floor = -(s64)slice_ns();

	if (lag < floor)
		lag = floor;
	tc->vtime = dom_of(d)->vtime_now + lag;
	tc->dom = d;
	return tc->vtime;
}

void BPF_STRUCT_OPS(fair_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *tc = taskc_get(p);
	/* The domain of the CPU the kernel queued it on (select_cpu chose it). */
	u32 d = cpu_to_dom(scx_bpf_task_cpu(p));
	u64 vtime;

	if (!tc) {
		/* No context: the kernel's global DSQ loses no task. */
		stat_inc(&cpu_stats()->fallback);
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns(), enq_flags);
		return;
	}
	/*
	 * A node still linked is stale: a dispatcher took the task by pid while
	 * it was dequeued and queued again. Unlink it before queueing anew.
	 */
	if (queue_kind == FAIR_QUEUE_RBTREE && scx_arena_rb_node_linked(&tc->rb))
		fairq_locked_remove(&dom_of(tc->dom)->rq, tc);
	vtime = queue_vtime(tc, d);
	if (queue_kind == FAIR_QUEUE_DSQ) {
		scx_bpf_dsq_insert_vtime(p, d, slice_ns(), vtime, enq_flags);
	} else {
		tc->pid = p->pid;
		if (fairq_locked_insert_key(&dom_of(d)->rq, tc, vtime)) {
			stat_inc(&cpu_stats()->fallback);
			scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns(), enq_flags);
			return;
		}
	}
	stat_inc(&cpu_stats()->enqueues);
	sample_depth(d);
}

/*
 * Under @dm's lock: remove and return the pid of the smallest-vtime task of
 * the first FAIR_SCAN that may run on @cpu; 0 if none.
 */
static __always_inline s32 pick_locked(struct fair_dom __arena *dm, s32 cpu)
{
	struct scx_arena_rb_node __arena *n = scx_arena_rbtree_first(&dm->rq.tree);
	struct task_struct *p;
	bool ok;
	s32 pid;
	int i;

	bpf_for(i, 0, FAIR_SCAN) {
		if (!n)
			return 0;
		pid = fairq_entry(n)->pid;
		p = bpf_task_from_pid(pid);
		ok = p && may_run_on(p, cpu);
		if (p)
			bpf_task_release(p);
		if (ok)
			return __scx_arena_rbtree_remove(&dm->rq.tree, n) ? 0 : pid;
		n = scx_arena_rbtree_next(n);
	}
	return 0;
}

/* Move a task of domain @d that may run on @cpu to @cpu's local DSQ. */
static __always_inline bool take_from(u32 d, s32 cpu)
{
	struct fair_dom __arena *dm = dom_of(d);
	struct task_struct *p;
	s32 pid;

	if (queue_kind == FAIR_QUEUE_DSQ)
		/* The kernel skips tasks that may not run on @cpu. */
		return scx_bpf_dsq_move_to_local(d, 0);

	if (scx_arena_rbtree_locked_empty(&dm->rq))
		return false;
	if (scx_arena_lock_acquire_or_error(&dm->rq.lock, "fair domain"))
		return false;
	pid = pick_locked(dm, cpu);
	scx_arena_lock_release(&dm->rq.lock);
	if (!pid)
		return false;
	p = bpf_task_from_pid(pid);
	if (!p)
		return false; /* exited meanwhile */
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
	bpf_task_release(p);
	return true;
}

/* The vtime of domain @d's first task into *@vtime; false when @d is empty. */
static __always_inline bool head_vtime(u32 d, u64 *vtime)
{
	struct fair_dom __arena *dm = dom_of(d);
	struct scx_arena_rb_node __arena *n;
	struct task_struct *p;

	if (queue_kind == FAIR_QUEUE_DSQ) {
		bpf_for_each(scx_dsq, p, d, 0) {
			*vtime = p->scx.dsq_vtime;
			return true;
		}
		return false;
	}
	if (scx_arena_rbtree_locked_empty(&dm->rq))
		return false;
	if (scx_arena_lock_acquire_or_error(&dm->rq.lock, "fair domain"))
		return false;
	/* The key is read under the lock: the node's owner may free it next. */
	n = scx_arena_rbtree_first(&dm->rq.tree);
	if (n)
		*vtime = scx_arena_rb_key(n);
	scx_arena_lock_release(&dm->rq.lock);
	return n;
}

/*
 * Whether @prev, still runnable at the end of its slice, should run on in
 * domain @d: its vtime, charged for this slice (ops.stopping comes later),
 * is no later than the first waiting task's.
 */
static __always_inline bool keep_prev(struct task_struct *prev, u32 d)
{
	struct task_ctx __arena *tc;
	u64 vtime, head;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED))
		return false;
	tc = taskc_get(prev);
	if (!tc || !tc->running_at || tc->dom != d || !head_vtime(d, &head))
		return false;
	vtime = tc->vtime + (bpf_ktime_get_ns() - tc->running_at) * 100 / (prev->scx.weight ?: 1);
	return (s64)(vtime - head) <= 0;
}

/* The domain clock follows the vtimes it runs (a stolen task's belong elsewhere). */
static __always_inline void follow_dom_clock(struct task_ctx __arena *tc, struct task_struct *p)
{
	struct fair_dom __arena *dm = dom_of(tc->dom);

	if (tc->dom == cpu_to_dom(scx_bpf_task_cpu(p)) && (s64)(tc->vtime - dm->vtime_now) > 0)
		dm->vtime_now = tc->vtime;
}

/*
 * @prev used up its slice and runs on (it comes first, or nothing waits):
 * charge the slice it ran, so its vtime and the domain clock stay current,
 * and give it another of ours. Left alone, the kernel would refill 20 ms,
 * and a task waking meanwhile would wait that long.
 * (On 7.2, whose BTF breaks the setter kfunc, the compat header writes
 * p->scx.slice and the kernel logs once that this is deprecated.)
 */
static __always_inline void run_on(struct task_struct *prev)
{
	struct task_ctx __arena *tc = taskc_get(prev);
	u64 now = bpf_ktime_get_ns();

	if (tc && tc->running_at) {
		tc->vtime += (now - tc->running_at) * 100 / (prev->scx.weight ?: 1);
		tc->running_at = now;
		follow_dom_clock(tc, prev);
	}
	scx_bpf_task_set_slice(prev, slice_ns());
}

void BPF_STRUCT_OPS(fair_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 d = cpu_to_dom(cpu), victim;
	int i;

	/* prev is not queued yet: were it, it would come first. */
	if (keep_prev(prev, d)) {
		run_on(prev);
		return;
	}
	/* Own domain first: its tasks' caches are here. */
	if (take_from(d, cpu)) {
		stat_inc(&cpu_stats()->dispatches);
		sample_depth(d);
		return;
	}
	/* Dry: steal from the other domains, nearest id first. */
	bpf_for(i, 1, nr_doms) {
		victim = (d + i) % nr_doms;
		if (take_from(victim, cpu)) {
			stat_inc(&cpu_stats()->dispatches);
			stat_inc(&cpu_stats()->stolen);
			sample_depth(victim);
			return;
		}
	}
	/* Nothing waits anywhere: prev, if still runnable, runs on. */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		run_on(prev);
}

void BPF_STRUCT_OPS(fair_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx __arena *tc = taskc_get(p);

	if (tc)
		tc->runnable_at = bpf_ktime_get_ns();
}

void BPF_STRUCT_OPS(fair_running, struct task_struct *p)
{
	struct task_ctx __arena *tc = taskc_get(p);

	if (!tc)
		return;
	tc->running_at = bpf_ktime_get_ns();
	/* First run since waking: count the wake-to-run latency. */
	scx_arena_lathist_record_wake(wake_lat, nr_lat, &tc->runnable_at, tc->running_at);
	follow_dom_clock(tc, p);
}

void BPF_STRUCT_OPS(fair_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx __arena *tc = taskc_get(p);
	u64 weight = p->scx.weight ?: 1;

	/* Charge the time used, scaled by weight: heavier tasks age slower. */
	if (tc && tc->running_at)
		tc->vtime += (bpf_ktime_get_ns() - tc->running_at) * 100 / weight;
}

void BPF_STRUCT_OPS(fair_dequeue, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx __arena *tc = taskc_get(p);

	/* Leaving BPF custody (e.g. an affinity change): forget its tree slot. */
	if (tc && queue_kind == FAIR_QUEUE_RBTREE && fairq_locked_remove(&dom_of(tc->dom)->rq, tc) == 0)
		sample_depth(tc->dom);
}

void BPF_STRUCT_OPS(fair_enable, struct task_struct *p)
{
	struct task_ctx __arena *tc = taskc_get(p);
	u32 d = cpu_to_dom(scx_bpf_task_cpu(p));

	/* A new task starts at its domain's clock: no credit, no debt. */
	if (tc) {
		tc->dom = d;
		tc->vtime = dom_of(d)->vtime_now;
	}
}

s32 BPF_STRUCT_OPS(fair_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	unsigned long flags;

	/*
	 * IRQs off around the allocator: this callback runs with them on, and
	 * an interrupt on this CPU could run a callback that allocates too.
	 */
	bpf_local_irq_save(&flags);
	/* Without memory for a context the task still runs, through the fallback DSQ. */
	taskc_create(p);
	bpf_local_irq_restore(&flags);
	return 0;
}

void BPF_STRUCT_OPS(fair_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	struct task_ctx __arena *tc = taskc_take(p);
	unsigned long flags;

	if (!tc)
		return;
	/*
	 * IRQs on here: off while holding the tree lock, which ops.enqueue()
	 * takes when an interrupt wakes a task on this CPU.
	 */
	bpf_local_irq_save(&flags);
	/* Never free a context a tree still links. */
	if (queue_kind == FAIR_QUEUE_RBTREE)
		fairq_locked_remove(&dom_of(tc->dom)->rq, tc);
	scx_arena_free(tc);
	bpf_local_irq_restore(&flags);
}

/* Domain @d's cpumask, from cpu_dom; 0 or a negative error. */
static __always_inline int build_dom_mask(u32 d)
{
	struct bpf_cpumask *mask, *old;
	struct dom_mask *m;
	u32 cpu;

	m = bpf_map_lookup_elem(&dom_masks, &d);
	if (!m)
		return -ENOENT;
	mask = bpf_cpumask_create();
	if (!mask)
		return -ENOMEM;
	bpf_for(cpu, 0, nr_cpus) {
		if (cpu_to_dom(cpu) == d)
			bpf_cpumask_set_cpu(cpu, mask);
	}
	old = bpf_kptr_xchg(&m->mask, mask);
	if (old)
		bpf_cpumask_release(old);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(fair_init)
{
	u32 pages = (sizeof(struct fair_stats) + __PAGE_SIZE - 1) / __PAGE_SIZE;
	u32 d;
	int ret;

	stats = scx_arena_pages_alloc(pages);
	if (!stats) {
		scx_bpf_error("cannot allocate %u arena pages for statistics", pages);
		return -ENOMEM;
	}
	nr_lat = scx_bpf_nr_cpu_ids();
	wake_lat = scx_arena_lathist_alloc(nr_lat);
	if (!wake_lat) {
		scx_bpf_error("cannot allocate %u latency histograms", nr_lat);
		return -ENOMEM;
	}
	bpf_for(d, 0, nr_doms) {
		ret = build_dom_mask(d);
		if (ret) {
			scx_bpf_error("cannot build the cpumask of domain %u: %d", d, ret);
			return ret;
		}
		/* Created in both modes: cheap, and dom_depth() may ask. */
		ret = scx_bpf_create_dsq(d, -1);
		if (ret) {
			scx_bpf_error("cannot create the DSQ of domain %u: %d", d, ret);
			return ret;
		}
	}
	return 0;
}

void BPF_STRUCT_OPS(fair_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(fair_ops,
	       .select_cpu = (void *)fair_select_cpu,
	       .enqueue = (void *)fair_enqueue,
	       .dispatch = (void *)fair_dispatch,
	       .runnable = (void *)fair_runnable,
	       .running = (void *)fair_running,
	       .stopping = (void *)fair_stopping,
	       .dequeue = (void *)fair_dequeue,
	       .enable = (void *)fair_enable,
	       .init_task = (void *)fair_init_task,
	       .exit_task = (void *)fair_exit_task,
	       .init = (void *)fair_init,
	       .exit = (void *)fair_exit,
	       .name = "fair");
