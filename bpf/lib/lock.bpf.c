/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Slow paths of the arena spin lock (scx_arena/lock.h).
 */
#include <scx_arena/lock.h>

int scx_arena_lock_acquire_spins(struct scx_arena_lock __arena *lock __arg_arena,
				 u32 spins)
{
	u32 me = bpf_get_smp_processor_id() + 1;
	u32 i;

	if (__sync_val_compare_and_swap(&lock->val, 0, me) == 0)
		return 0;
	if (spins > SCX_ARENA_LOCK_MAX_SPINS)
		spins = SCX_ARENA_LOCK_MAX_SPINS;

	/*
	 * Spin on a plain read and swap only when the lock reads free. Both
	 * values tested are fresh loads, never loop-carried state, so the
	 * verifier's states converge after one pass over the body.
	 */
	bpf_for(i, 0, spins) {
		if (*(volatile u32 __arena *)&lock->val)
			continue;
		if (__sync_val_compare_and_swap(&lock->val, 0, me) == 0)
			return 0;
	}
	return -ETIMEDOUT;
}
