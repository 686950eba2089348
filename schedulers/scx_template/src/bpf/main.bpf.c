/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_template - the smallest complete scx-arena scheduler.
 *
 * Policy: one global FIFO. A waking task that finds an idle CPU runs there at
 * once; every other task waits in the shared queue, and a CPU that runs out
 * of work takes the oldest one. Statistics live in arena memory, which the
 * Rust half reads through the arena's mmap.
 *
 * Fork it with the fork command (see the README) and change the policy here.
 */
#include <scx/common.bpf.h>
#include <scx_arena/arena.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* The shared queue: a kernel DSQ. */
#define SHARED_DSQ 0

/* Time slice in ns; set from --slice-us before load. */
const volatile u64 slice_ns = 20ULL * 1000 * 1000;

UEI_DEFINE(uei);

/* Arena page(s) holding struct template_stats; allocated in init. */
struct template_stats __arena *stats;

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
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(template_enqueue, struct task_struct *p, u64 enq_flags)
{
	/* No idle CPU: wait in FIFO order with everyone else. */
	stat_inc(&cpu_stats()->global);
	scx_bpf_dsq_insert(p, SHARED_DSQ, slice_ns, enq_flags);
}

void BPF_STRUCT_OPS(template_dispatch, s32 cpu, struct task_struct *prev)
{
	/* This CPU ran out of work: take the oldest waiting task. */
	if (scx_bpf_dsq_move_to_local(SHARED_DSQ, 0))
		stat_inc(&cpu_stats()->dispatch);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(template_init)
{
	u32 pages = (sizeof(struct template_stats) + __PAGE_SIZE - 1) / __PAGE_SIZE;

	stats = scx_arena_pages_alloc(pages);
	if (!stats) {
		scx_bpf_error("cannot allocate %u arena pages for statistics", pages);
		return -ENOMEM;
	}
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(template_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(template_ops,
	       .select_cpu = (void *)template_select_cpu,
	       .enqueue = (void *)template_enqueue,
	       .dispatch = (void *)template_dispatch,
	       .init = (void *)template_init,
	       .exit = (void *)template_exit,
	       .name = "template");
