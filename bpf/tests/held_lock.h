/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A lock held by someone else, for tests of what happens to its waiters.
 *
 * held_lock_set() writes the lock word as a holder on this CPU would, and
 * held_lock_clear() frees it again, without acquiring or releasing: where
 * holders run with preemption disabled (SCX_ARENA_LOCK_NO_PREEMPT, kernels
 * 6.19 on), a program that really holds a lock may not return, so it could
 * not assert - and return early on failure - while holding one. The waiters
 * under test see the same word either way, "held by cpu N" included.
 * held_lock_try() and held_lock_try_or_error() try to take such a lock and
 * release it at once should they get it, so that the test may assert on
 * what they returned.
 */
#pragma once

#include <scx_arena/lock.h>

static __always_inline void held_lock_set(struct scx_arena_lock __arena *lock)
{
	*(volatile u32 __arena *)&lock->val = bpf_get_smp_processor_id() + 1;
}

static __always_inline void held_lock_clear(struct scx_arena_lock __arena *lock)
{
	scx_arena_lock_init(lock);
}

/* scx_arena_lock_acquire_timeout() on a lock expected held; not kept. */
static __always_inline int held_lock_try(struct scx_arena_lock __arena *lock, u64 timeout_ns)
{
	int ret = scx_arena_lock_acquire_timeout(lock, timeout_ns);

	if (!ret)
		scx_arena_lock_release(lock);
	return ret;
}

/* scx_arena_lock_acquire_or_error() on a lock expected held; not kept. */
static __always_inline int held_lock_try_or_error(struct scx_arena_lock __arena *lock,
						  const char *what)
{
	int ret = scx_arena_lock_acquire_or_error(lock, what);

	if (!ret)
		scx_arena_lock_release(lock);
	return ret;
}
