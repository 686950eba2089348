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
 * Usable from every sched_ext callback (non-sleepable, often with IRQs off)
 * and from syscall programs: nothing here sleeps. A holder can be stopped
 * inside its critical section by things outside its control: a syscall
 * program may be preempted (on a preemptible kernel), and a vCPU may be
 * descheduled by its host. The bound is a time, not a spin count, so that
 * such a stall is waited out the same way on every machine and every JIT.
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

/**
 * scx_arena_lock_acquire_timeout - take @lock, waiting at most @timeout_ns.
 * @lock: the lock, in arena memory.
 * @timeout_ns: how long to wait for a held lock; 0 tries exactly once.
 *
 * The out-of-line slow path of scx_arena_lock_acquire(), usable directly
 * where another bound fits better (a try-lock, a test). Returns 0 with the
 * lock held, or -ETIMEDOUT.
 */
int scx_arena_lock_acquire_timeout(struct scx_arena_lock __arena *lock __arg_arena,
				   u64 timeout_ns);

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
	u32 me = bpf_get_smp_processor_id() + 1;

	if (__sync_val_compare_and_swap(&lock->val, 0, me) == 0)
		return 0;
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
