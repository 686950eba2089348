/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/lock.h - a spin lock that lives in arena memory.
 *
 * BPF's own bpf_spin_lock cannot sit in the arena, and arena structures
 * shared between CPUs (allocator free lists, queues) need mutual exclusion.
 * struct scx_arena_lock is one 32-bit word anywhere in the arena:
 *
 *	struct queue {
 *		struct scx_arena_lock lock;
 *		...
 *	};
 *
 *	if (scx_arena_lock_acquire(&q->lock))
 *		return -ETIMEDOUT;	// held far too long: give up
 *	... touch q ...
 *	scx_arena_lock_release(&q->lock);
 *
 * Acquisition is test-and-test-and-set: one compare-and-swap when the lock is
 * free; otherwise spin reading the word (no cache-line ping-pong while it is
 * held) and retry the swap when it reads free. The wait is bounded in time:
 * BPF may not loop forever, and a lock still held after
 * SCX_ARENA_LOCK_TIMEOUT_NS means a deadlock or a lost holder, so acquisition
 * fails with -ETIMEDOUT. The lock is not fair and not recursive; taking it
 * twice on one path deadlocks until the timeout.
 *
 * Usable from every sched_ext callback and from syscall programs: nothing
 * here sleeps. A holder runs with preemption disabled, from a successful
 * acquisition to its release. Without that, a holder in a preemptible
 * context (ops.init_task() and the cgroup callbacks run with preemption on,
 * like every syscall program, on a kernel with PREEMPT_RCU) could be
 * preempted, and whatever ran next on its CPU and wanted the same lock -
 * ops.enqueue() of the preempted task itself, or ops.exit_task() of a task
 * that just died - would spin until the timeout: the holder cannot migrate,
 * and its CPU does not schedule again until the spinning ends.
 *
 * Consequently a critical section must not call anything that may sleep,
 * and the program must not end inside one (an early return, a failed test
 * assertion): the verifier enforces both. On kernels whose arena kfuncs
 * are sleepable (before 6.19) allocating arena pages counts as sleeping,
 * and a critical section that may allocate would not load. On those
 * kernels the lock leaves preemption alone: they cannot allocate arena
 * memory in a sched_ext callback anyway, so library code runs in syscall
 * programs, whose waiters are preemptible too and let a preempted holder
 * finish. The choice is made at load time (SCX_ARENA_LOCK_NO_PREEMPT) and
 * costs nothing at run time.
 *
 * IRQs stay as the caller has them. Most callbacks run with IRQs off, but
 * ops.init_task(), ops.exit_task() and the cgroup callbacks run with them
 * on, and an interrupt on the holder's CPU can run callbacks itself: a
 * wakeup runs ops.select_cpu() and ops.enqueue(), the tick ops.tick(). If
 * such a callback wants a lock the interrupted code holds, it spins until
 * the timeout. So where a callback that runs with IRQs on takes a lock that
 * a callback which may run in an interrupt also takes - directly, or inside
 * the allocator or a locked container - it turns IRQs off around it:
 *
 *	unsigned long flags;
 *
 *	bpf_local_irq_save(&flags);
 *	queue_remove(taskc);		// a lock ops.enqueue() takes too
 *	scx_arena_free(taskc);		// allocator locks, as a growing queue's
 *	bpf_local_irq_restore(&flags);
 *
 * as the bundled schedulers' ops.init_task() and ops.exit_task() do.
 *
 * A holder can still be stopped inside its critical section by things
 * outside the kernel's control: a vCPU may be descheduled by its host. The
 * bound is a time, not a spin count, so that such a stall is waited out the
 * same way on every machine and every JIT.
 *
 * Memory ordering: the successful compare-and-swap and the releasing
 * exchange are BPF atomics with full-barrier semantics, so accesses inside
 * the critical section stay inside it on every JIT. (clang 19 cannot emit a
 * BPF store-release: __atomic_store_n(..., __ATOMIC_RELEASE) crashes its BPF
 * backend, hence the exchange.)
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/error.h>
#include <bpf/bpf_core_read.h>

#ifndef ETIMEDOUT
#define ETIMEDOUT 110
#endif

/*
 * How long acquisition waits for a held lock before it gives up. The
 * default, one second, is far longer than any healthy critical section (they
 * take nanoseconds) and far shorter than the sched_ext watchdog (30 s by
 * default), so a dead lock still fails fast and clearly. It is not shorter
 * because a holder's vCPU can be off its physical CPU for a while: QEMU's
 * single-threaded TCG runs vCPUs round-robin in 100 ms slices, so with N vCPUs
 * a waiter may wait (N - 1) x 100 ms for a holder that is perfectly healthy.
 * (The kernel's resilient queued spin lock takes 250 ms on bare metal.)
 * Override per object with -DSCX_ARENA_LOCK_TIMEOUT_NS=N (BpfBuild::define).
 */
#ifndef SCX_ARENA_LOCK_TIMEOUT_NS
#define SCX_ARENA_LOCK_TIMEOUT_NS 1000000000ull
#endif

/*
 * The lock word: 0 when free, else 1 + the CPU of the holder (for
 * diagnostics; BPF programs run with migration disabled, so the holder's
 * program stays on that CPU).
 */
struct scx_arena_lock {
	u32 val;
};

/**
 * scx_arena_lock_init - make @lock free.
 * @lock: the lock, in arena memory.
 *
 * Zeroed memory (fresh arena pages, arena globals) is already a free lock;
 * call this only to reset one that is known to be unused.
 */
static __always_inline void scx_arena_lock_init(struct scx_arena_lock __arena *lock)
{
	*(volatile u32 __arena *)&lock->val = 0;
}

/*
 * The type the kernel added when its arena kfuncs became callable from any
 * context (6.19); only its existence is asked. Local names with CO-RE flavor
 * suffixes, so no vmlinux.h ever clashes with them. Three names for one
 * question: the compiler merges identical checks into one value, which then
 * has to live across the calls between them (a spilled register in every
 * frame that takes a lock); distinct checks are each a constant at their use.
 */
struct arena_free_span___scx_arena_on { int unused; };
struct arena_free_span___scx_arena_undo { int unused; };
struct arena_free_span___scx_arena_off { int unused; };

/*
 * True (a load-time constant) when holders run with preemption disabled:
 * on kernels where a critical section may still allocate arena pages then.
 * @use names the check: on (acquire), undo (a failed acquire), off (release).
 */
#define SCX_ARENA_LOCK_NO_PREEMPT(use) bpf_core_type_exists(struct arena_free_span___scx_arena_##use)

/*
 * The wait for a held lock, out of line (bpf/lib/lock.bpf.c), called with
 * preemption disabled where SCX_ARENA_LOCK_NO_PREEMPT. Returns 0 with the
 * lock taken, or -ETIMEDOUT.
 */
int __scx_arena_lock_wait(struct scx_arena_lock __arena *lock __arg_arena, u64 timeout_ns);

/**
 * scx_arena_lock_acquire_timeout - take @lock, waiting at most @timeout_ns.
 * @lock: the lock, in arena memory.
 * @timeout_ns: how long to wait for a held lock; 0 tries exactly once.
 *
 * scx_arena_lock_acquire() with another bound, for where one fits better (a
 * try-lock, a test). Returns 0 with the lock held (and preemption disabled
 * until scx_arena_lock_release(), where SCX_ARENA_LOCK_NO_PREEMPT), or
 * -ETIMEDOUT with neither.
 */
static __always_inline int scx_arena_lock_acquire_timeout(struct scx_arena_lock __arena *lock,
							  u64 timeout_ns)
{
	u32 me;

	/* Before the swap: a holder must never be preempted (see above). */
	if (SCX_ARENA_LOCK_NO_PREEMPT(on))
		bpf_preempt_disable();
	me = bpf_get_smp_processor_id() + 1;
	if (__sync_val_compare_and_swap(&lock->val, 0, me) == 0)
		return 0;
	if (!__scx_arena_lock_wait(lock, timeout_ns))
		return 0;
	/* A constant, so that nothing has to live across the call below. */
	if (SCX_ARENA_LOCK_NO_PREEMPT(undo))
		bpf_preempt_enable();
	return -ETIMEDOUT;
}

/**
 * scx_arena_lock_acquire - take @lock.
 * @lock: the lock, in arena memory.
 *
 * Returns 0 with the lock held, or -ETIMEDOUT when it stayed held for
 * SCX_ARENA_LOCK_TIMEOUT_NS (a second by default). On -ETIMEDOUT the caller
 * does not hold the lock, and the structure it guards must be treated as
 * lost.
 */
static __always_inline int scx_arena_lock_acquire(struct scx_arena_lock __arena *lock)
{
	return scx_arena_lock_acquire_timeout(lock, SCX_ARENA_LOCK_TIMEOUT_NS);
}

/**
 * scx_arena_lock_release - release @lock, taken by this program.
 * @lock: the lock, in arena memory.
 *
 * Everything written inside the critical section is visible to the next
 * holder.
 */
static __always_inline void scx_arena_lock_release(struct scx_arena_lock __arena *lock)
{
	(void)__atomic_exchange_n(&lock->val, 0, __ATOMIC_RELEASE);
	if (SCX_ARENA_LOCK_NO_PREEMPT(off))
		bpf_preempt_enable();
}

/**
 * scx_arena_lock_holder - the CPU holding @lock, for diagnostics.
 * @lock: the lock, in arena memory.
 *
 * Returns the CPU number, or -1 when the lock is free. The answer may be
 * stale by the time the caller looks at it.
 */
static __always_inline s32 scx_arena_lock_holder(struct scx_arena_lock __arena *lock)
{
	return (s32)*(volatile u32 __arena *)&lock->val - 1;
}

/**
 * scx_arena_lock_acquire_or_error - take @lock; report a timeout as an error.
 * @lock: the lock, in arena memory.
 * @what: names the lock in the report; a string literal or global (it is
 *        printed with %s, which reads kernel memory, not the arena).
 *
 * For the library's own locked structures. Like scx_arena_lock_acquire(), and
 * on -ETIMEDOUT additionally reports "lock timeout: <what> (held by cpu N)"
 * with scx_arena_error() (scx_arena/error.h), which ends a sched_ext
 * scheduler. Returns 0 with the lock held, or -ETIMEDOUT. The report is
 * formatted inline at each call site (see scx_arena_error()).
 */
static __always_inline int scx_arena_lock_acquire_or_error(struct scx_arena_lock __arena *lock,
							   const char *what)
{
	int ret = scx_arena_lock_acquire(lock);

	if (ret)
		scx_arena_error("lock timeout: %s (held by cpu %d)", what,
				scx_arena_lock_holder(lock));
	return ret;
}
