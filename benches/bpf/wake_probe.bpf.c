/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wake-to-run latency probe, runqlat-style, for any scheduler (EEVDF or a
 * sched_ext one): it watches the scheduler tracepoints, not the scheduler.
 *
 *   sched_wakeup, sched_wakeup_new   stamp the woken task (task storage)
 *   sched_switch                     the task switched in: count now - stamp
 *                                    into this CPU's histogram; the task
 *                                    switched out: drop any stamp it holds
 *
 * A wakeup of a task that is still on its CPU (it had not gone to sleep yet)
 * is stamped, then dropped when the task switches out, so only wakeups that
 * end with the task switched in are counted. Preemption is not counted.
 *
 * The histograms are the library's (scx_arena/lathist.h): one per CPU, in
 * arena memory, allocated by wake_probe_init (a syscall program run once
 * through BPF_PROG_TEST_RUN) and read by userspace through the arena's mmap
 * (benches/src/probe.rs). sched_switch runs with the runqueue lock held and
 * interrupts off, so each CPU's histogram has one writer at a time.
 *
 * Filters: with wp_filter set, only tasks whose tgid is in wp_tgids count
 * (userspace adds the workload's processes); with a comm prefix, only tasks
 * whose comm (thread name) starts with it.
 */
#include <scx_arena/lathist.h>
#include "wake_probe.h"

char _license[] SEC("license") = "GPL";

/* Per-CPU histograms (nr_cpus of them), allocated by wake_probe_init. */
struct scx_arena_lathist __arena *wp_hists;
u32 wp_nr_cpus;
u32 wp_filter;
u32 wp_comm_len;
char wp_comm[WP_COMM_LEN];
/* Wakeups stamped, per CPU of the waker (plain stores: one writer per CPU). */
u64 wp_nr_wakeups[WP_MAX_CPUS];
/* Stamps dropped because the task switched out without being switched in. */
u64 wp_nr_dropped[WP_MAX_CPUS];

/* When the task was last woken (ns, bpf_ktime_get_ns), 0 when not pending. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} wp_stamps SEC(".maps");

/* The tgids that count when wp_filter is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u8);
} wp_tgids SEC(".maps");

static __always_inline bool wp_comm_matches(struct task_struct *p)
{
	u32 i;

	for (i = 0; i < WP_COMM_LEN; i++) {
		if (i >= wp_comm_len)
			return true;
		if (p->comm[i] != wp_comm[i])
			return false;
	}
	return true;
}

static __always_inline bool wp_watched(struct task_struct *p)
{
	u32 tgid = p->tgid;

	if (wp_filter && !bpf_map_lookup_elem(&wp_tgids, &tgid))
		return false;
	return wp_comm_matches(p);
}

static __always_inline void wp_stamp(struct task_struct *p)
{
	u32 cpu = bpf_get_smp_processor_id();
	u64 *stamp;

	if (!wp_watched(p))
		return;
	stamp = bpf_task_storage_get(&wp_stamps, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!stamp)
		return;
	*stamp = bpf_ktime_get_ns();
	if (cpu < WP_MAX_CPUS)
		wp_nr_wakeups[cpu]++;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(wp_wakeup, struct task_struct *p)
{
	wp_stamp(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(wp_wakeup_new, struct task_struct *p)
{
	wp_stamp(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(wp_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u32 cpu = bpf_get_smp_processor_id();
	u64 *stamp, now;

	scx_arena_assoc();
	if (wp_watched(prev)) {
		stamp = bpf_task_storage_get(&wp_stamps, prev, NULL, 0);
		if (stamp && *stamp) {
			*stamp = 0;
			if (cpu < WP_MAX_CPUS)
				wp_nr_dropped[cpu]++;
		}
	}
	if (!wp_watched(next))
		return 0;
	stamp = bpf_task_storage_get(&wp_stamps, next, NULL, 0);
	if (!stamp || !*stamp)
		return 0;
	now = bpf_ktime_get_ns();
	if (wp_hists && cpu < wp_nr_cpus)
		scx_arena_lathist_record(&wp_hists[cpu], now - *stamp);
	*stamp = 0;
	return 0;
}

/* Allocates the histograms and sets the filter; run once before attaching. */
SEC("syscall")
int wake_probe_init(struct wp_init_args *args)
{
	u64 nr = args->nr_cpus;
	u32 i;

	if (!nr || nr > WP_MAX_CPUS || args->comm_len >= WP_COMM_LEN)
		return -EINVAL;
	for (i = 0; i < WP_COMM_LEN; i++)
		wp_comm[i] = args->comm[i];
	wp_comm_len = args->comm_len;
	wp_hists = scx_arena_lathist_alloc(nr);
	if (!wp_hists)
		return -ENOMEM;
	wp_nr_cpus = nr;
	wp_filter = !!args->filter;
	args->hists = (u64)wp_hists;
	return 0;
}
