/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_alloc_check - a test scheduler that runs the arena allocator inside
 * real sched_ext callbacks (tests/vm.rs).
 *
 * Policy: the template's global FIFO. On top, every enqueue frees the
 * object it allocated 16 enqueues ago on this CPU and allocates a new one,
 * alternating slab (48 B) and buddy (6000 B) sizes, in non-sleepable
 * context. With break_lock set, the first enqueue marks the buddy lock held
 * by a holder that never releases it, so the next buddy operation times
 * out: the library must turn that into a scheduler error exit with the
 * reason. With stall_comm set, tasks of that name are queued where no CPU
 * ever looks, so the sched_ext watchdog must end the scheduler and name the
 * task. With preempt_holder set, ops.init_task() holds its CPU's lock for
 * longer than a tick while its task's slice is shorter than one, and
 * ops.stopping() takes the lock of its CPU: the lock must keep its holder
 * from being preempted (scx_arena/lock.h), or the switch away from the
 * preempted parent spins on the parent's own CPU until the lock timeout
 * ends the scheduler. (ops.stopping() runs only in the scheduler's switch,
 * never in an interrupt that could nest inside the holder, and one lock per
 * CPU keeps the CPUs from waiting for each other.)
 */
#include <scx/common.bpf.h>
#include <scx_arena/alloc.h>

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0
#define STALL_DSQ 1
#define RING 16
#define MAX_CPUS 512

const volatile bool break_lock;
/*
 * Set before load to make dispatch read through a number as if it were a
 * pointer: the verifier must reject the program (tests/vm.rs checks how).
 */
const volatile bool break_verifier;
/* A task name (comm) never to dispatch; empty: none. */
const volatile char stall_comm[TASK_COMM_LEN];
const volatile bool preempt_holder;

/*
 * How long ops.init_task() holds its CPU's lock: a tick at HZ=100, two at
 * HZ=250, so a tick finds the holder's 1 ms slice used up and asks for a
 * preemption.
 */
#define HOLD_NS (10 * 1000 * 1000)
#define HOLDER_SLICE_NS (1000 * 1000)

struct scx_arena_lock __arena_global holder_locks[MAX_CPUS];
/* ops.init_task() critical sections that ended (a statistic). */
u64 holder_rounds;

UEI_DEFINE(uei);

/* Per CPU: a ring of live objects and counters, RING + 3 words each. */
struct cpu_state {
	u64 enq;
	u64 allocs;
	u64 failed;
	u64 ring[RING];
};

struct cpu_state __arena *cpus;
static bool lock_broken;

static bool is_stalled(struct task_struct *p)
{
	char comm[TASK_COMM_LEN];
	u32 i;

	if (!stall_comm[0] || bpf_probe_read_kernel_str(comm, sizeof(comm), p->comm) < 0)
		return false;
	bpf_for(i, 0, TASK_COMM_LEN) {
		if (comm[i] != stall_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Slices shorter than a tick with preempt_holder, so ticks preempt. */
static u64 slice_ns(void)
{
	return preempt_holder ? HOLDER_SLICE_NS : SCX_SLICE_DFL;
}

s32 BPF_STRUCT_OPS(check_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);

	/* A task to stall must reach ops.enqueue, not an idle CPU. */
	if (is_idle && !is_stalled(p))
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns(), 0);
	return cpu;
}

void BPF_STRUCT_OPS(check_enqueue, struct task_struct *p, u64 enq_flags)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct cpu_state __arena *c;
	u64 __arena *obj;
	u64 slot;

	scx_arena_assoc();
	c = &cpus[cpu < MAX_CPUS ? cpu : MAX_CPUS - 1];
	slot = c->enq++ % RING;
	scx_arena_free(scx_arena_from_u64(void, c->ring[slot]));
	c->ring[slot] = 0;
	obj = scx_arena_alloc(slot & 1 ? 6000 : 48);
	if (obj) {
		*obj = p->pid;
		c->ring[slot] = (u64)obj;
		c->allocs++;
	} else {
		c->failed++;
	}
	if (break_lock && !lock_broken) {
		lock_broken = true;
		/*
		 * A holder that vanished: the lock word names this CPU and nobody
		 * will release it. (A real acquisition may not leave the program
		 * with preemption disabled; the verifier refuses that.)
		 */
		__sync_val_compare_and_swap(&scx_arena_root()->buddy.lock.val, 0, cpu + 1);
	}
	/* The provoked stall: a queue no dispatch consumes. */
	scx_bpf_dsq_insert(p, is_stalled(p) ? STALL_DSQ : SHARED_DSQ, slice_ns(), enq_flags);
}

void BPF_STRUCT_OPS(check_dispatch, s32 cpu, struct task_struct *prev)
{
	if (break_verifier && *(volatile u64 *)(u64)bpf_get_prandom_u32())
		return;
	scx_bpf_dsq_move_to_local(SHARED_DSQ, 0);
}

static struct scx_arena_lock __arena *holder_lock(void)
{
	u32 cpu = bpf_get_smp_processor_id();

	return &holder_locks[cpu < MAX_CPUS ? cpu : MAX_CPUS - 1];
}

/* Runs preemptible: in the parent, for a fork. */
s32 BPF_STRUCT_OPS(check_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct scx_arena_lock __arena *lock;
	u64 until;
	u32 i;

	if (!preempt_holder)
		return 0;
	lock = holder_lock();
	if (scx_arena_lock_acquire_or_error(lock, "preempt holder"))
		return -ETIMEDOUT;
	until = bpf_ktime_get_ns() + HOLD_NS;
	bpf_for(i, 0, 1u << 20) {
		if (bpf_ktime_get_ns() >= until)
			break;
	}
	scx_arena_lock_release(lock);
	__sync_fetch_and_add(&holder_rounds, 1);
	return 0;
}

void BPF_STRUCT_OPS(check_stopping, struct task_struct *p, bool runnable)
{
	struct scx_arena_lock __arena *lock;

	if (!preempt_holder)
		return;
	lock = holder_lock();
	if (!scx_arena_lock_acquire_or_error(lock, "preempt holder"))
		scx_arena_lock_release(lock);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(check_init)
{
	cpus = scx_arena_bump_alloc(MAX_CPUS * sizeof(struct cpu_state), 64);
	if (!cpus)
		return -ENOMEM;
	return scx_bpf_create_dsq(SHARED_DSQ, -1) ?: scx_bpf_create_dsq(STALL_DSQ, -1);
}

void BPF_STRUCT_OPS(check_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(check_ops,
	       .select_cpu = (void *)check_select_cpu,
	       .enqueue = (void *)check_enqueue,
	       .dispatch = (void *)check_dispatch,
	       .init_task = (void *)check_init_task,
	       .stopping = (void *)check_stopping,
	       .init = (void *)check_init,
	       .exit = (void *)check_exit,
	       .name = "alloc_check");
