/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The wait for a held arena spin lock (scx_arena/lock.h).
 */
#include <scx_arena/lock.h>

/*
 * Reads of a held lock between two looks at the clock: a few microseconds
 * on a JIT, so the clock costs nothing next to the spinning and the timeout
 * is overshot by no more than that.
 */
#define LOCK_SPINS_PER_ROUND 1024
/* Rounds of one wait at most (the kernel's BPF_MAX_LOOPS); the clock ends it long before. */
#define LOCK_MAX_ROUNDS (8u << 20)

int __scx_arena_lock_wait(struct scx_arena_lock __arena *lock __arg_arena, u64 timeout_ns)
{
	u32 me = bpf_get_smp_processor_id() + 1;
	u64 deadline;
	u32 i, j;

	if (!timeout_ns)
		return -ETIMEDOUT;
	deadline = bpf_ktime_get_ns() + timeout_ns;

	/*
	 * Spin on a plain read and swap only when the lock reads free. Both
	 * values tested are fresh loads, never loop-carried state, so the
	 * verifier's states converge after one pass over each body.
	 */
	bpf_for(i, 0, LOCK_MAX_ROUNDS) {
		bpf_for(j, 0, LOCK_SPINS_PER_ROUND) {
			if (*(volatile u32 __arena *)&lock->val)
				continue;
			if (__sync_val_compare_and_swap(&lock->val, 0, me) == 0)
				return 0;
		}
		if (bpf_ktime_get_ns() >= deadline)
			break;
	}
	return -ETIMEDOUT;
}
