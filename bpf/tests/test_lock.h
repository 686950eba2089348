/* SPDX-License-Identifier: GPL-2.0-only */
/* Types shared by test_lock.bpf.c and tests/lock.rs. */
#pragma once

/*
 * Context of lock_counter_churn: the first three fields in, the rest out.
 * Every field is a __u64 so the Rust side reads it as [u64; 9].
 */
struct lock_churn_args {
	__u64 iters;        /* in: lock/increment/unlock rounds */
	__u64 nthreads;     /* in: runs to wait for at the start barrier */
	__u64 unlocked;     /* in: 1 = skip the lock (a control run) */
	__u64 counter;      /* out: the shared counter after this run */
	__u64 counter_addr; /* out: arena address of the shared counter */
	__u64 timeouts;     /* out: acquisitions that timed out in this run */
	__u64 errors;       /* out: scx_arena_last_error.count after this run */
	__u64 barrier_ok;   /* out: 1 when all nthreads runs met at the barrier */
	__u64 elapsed_ns;   /* out: time spent in the rounds */
};

/* Context of lock_timeout_ns: how long a default-bound timeout takes. */
struct lock_timeout_args {
	__s64 ret;          /* out: what scx_arena_lock_acquire() returned */
	__u64 elapsed_ns;   /* out: how long it took */
};
