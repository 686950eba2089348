/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena spin lock (scx_arena/lock.h) and of the library's error
 * record (scx_arena/error.h). Each test runs in a fresh instance of this
 * object, so the error record starts empty.
 *
 * A test never asserts while it holds a lock (it may not return then,
 * where holders run with preemption disabled): it notes what it sees,
 * releases, then asserts. A lock held by someone else is set up through its
 * word and tried with held_lock_try() (held_lock.h), with a small bound
 * where the bound itself is not under test; the two tests that do run the
 * default bound cost about a second each.
 */
#include <scx_arena/arena.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>
#include <scx_arena/test.h>
#include "test_lock.h"
#include "held_lock.h"

char _license[] SEC("license") = "GPL";


/* A lock in a fresh arena page; the page is leaked with the object. */
static struct scx_arena_lock __arena *new_lock(void)
{
	return scx_arena_pages_alloc(1);
}

SEC("syscall")
int test_lock_acquire_release(void *ctx)
{
	struct scx_arena_lock __arena *lock = new_lock();
	s32 cpu = bpf_get_smp_processor_id(), holder;
	int ret;

	ASSERT_NONNULL(lock);
	/* Zeroed memory is a free lock. */
	ASSERT_EQ(scx_arena_lock_holder(lock), -1);

	ret = scx_arena_lock_acquire(lock);
	holder = scx_arena_lock_holder(lock);
	if (!ret)
		scx_arena_lock_release(lock);
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(holder, cpu);
	ASSERT_EQ(lock->val, 0);

	/* Released means acquirable again, by either path. */
	ret = scx_arena_lock_acquire(lock);
	if (!ret)
		scx_arena_lock_release(lock);
	ASSERT_EQ(ret, 0);
	ret = scx_arena_lock_acquire_timeout(lock, 0);
	holder = scx_arena_lock_holder(lock);
	if (!ret)
		scx_arena_lock_release(lock);
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(holder, cpu);
	ASSERT_EQ(scx_arena_lock_holder(lock), -1);
	return 0;
}

SEC("syscall")
int test_lock_init_frees(void *ctx)
{
	struct scx_arena_lock __arena *lock = new_lock();

	ASSERT_NONNULL(lock);
	lock->val = 7;
	scx_arena_lock_init(lock);
	ASSERT_EQ(scx_arena_lock_holder(lock), -1);
	ASSERT_EQ(scx_arena_lock_acquire_timeout(lock, 0), 0);
	scx_arena_lock_release(lock);
	return 0;
}

SEC("syscall")
int test_lock_held_times_out(void *ctx)
{
	struct scx_arena_lock __arena *lock = new_lock();
	u32 held;
	int ret;

	ASSERT_NONNULL(lock);
	held_lock_set(lock);
	held = lock->val;

	/* Nobody releases it: every bounded attempt fails... */
	ASSERT_EQ(held_lock_try(lock, 0), -ETIMEDOUT);
	ASSERT_EQ(held_lock_try(lock, 1000000), -ETIMEDOUT);
	/* ...leaves the holder alone, and records no error. */
	ASSERT_EQ(lock->val, held);
	ASSERT_EQ(scx_arena_last_error.count, 0);

	held_lock_clear(lock);
	ret = scx_arena_lock_acquire_timeout(lock, 0);
	if (!ret)
		scx_arena_lock_release(lock);
	ASSERT_EQ(ret, 0);
	return 0;
}

SEC("syscall")
int test_lock_default_bound_times_out(void *ctx)
{
	struct scx_arena_lock __arena *lock = new_lock();
	u64 start, took;

	ASSERT_NONNULL(lock);
	held_lock_set(lock);
	start = bpf_ktime_get_ns();
	ASSERT_EQ(held_lock_try(lock, SCX_ARENA_LOCK_TIMEOUT_NS), -ETIMEDOUT);
	took = bpf_ktime_get_ns() - start;
	/* It waited the whole timeout, and not much longer. */
	ASSERT_GE(took, SCX_ARENA_LOCK_TIMEOUT_NS);
	ASSERT_LT(took, SCX_ARENA_LOCK_TIMEOUT_NS + SCX_ARENA_LOCK_TIMEOUT_NS / 2);
	held_lock_clear(lock);
	return 0;
}

SEC("syscall")
int test_error_records_first_message_and_count(void *ctx)
{
	ASSERT_EQ(scx_arena_last_error.count, 0);
	ASSERT_EQ(scx_arena_last_error.msg[0], 0);

	scx_arena_error("corrupt block %d at %llx: %s", -3, 0xabcull, "bad magic");
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg,
			      sizeof(scx_arena_last_error.msg),
			      "corrupt block -3 at abc: bad magic"), 0);

	/* Later errors count but keep the first message. */
	scx_arena_error("second");
	scx_arena_error("third %u %u %u %u", 1, 2, 3, 4);
	ASSERT_EQ(scx_arena_last_error.count, 3);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg,
			      sizeof(scx_arena_last_error.msg),
			      "corrupt block -3 at abc: bad magic"), 0);
	return 0;
}

#define DIGITS46 "0123456789012345678901234567890123456789012345"

SEC("syscall")
int test_error_message_is_truncated_to_fit(void *ctx)
{
	/* 138 characters in, the first 127 kept, then the NUL. */
	static const char want[] = DIGITS46 DIGITS46
		"01234567890123456789012345678901234";

	_Static_assert(sizeof(want) == SCX_ARENA_ERROR_MSG_LEN, "127 chars");
	scx_arena_error("%s%s%s", DIGITS46, DIGITS46, DIGITS46);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg,
			      sizeof(scx_arena_last_error.msg), want), 0);
	return 0;
}

SEC("syscall")
int test_lock_acquire_or_error_reports_timeout(void *ctx)
{
	static const char want[] = "lock timeout: test lock (held by cpu ";
	struct scx_arena_lock __arena *lock = new_lock();
	int ret;

	ASSERT_NONNULL(lock);
	/* A free lock: taken, nothing reported. */
	ret = scx_arena_lock_acquire_or_error(lock, "test lock");
	if (!ret)
		scx_arena_lock_release(lock);
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(scx_arena_last_error.count, 0);

	/* Held: times out after the default bound and reports it. */
	held_lock_set(lock);
	ASSERT_EQ(held_lock_try_or_error(lock, "test lock"), -ETIMEDOUT);
	ASSERT_EQ(scx_arena_last_error.count, 1);
	ASSERT_EQ(bpf_strncmp(scx_arena_last_error.msg, sizeof(want) - 1, want), 0);
	held_lock_clear(lock);
	return 0;
}

/*
 * The lock and counter lock_counter_churn shares between concurrent runs:
 * arena globals, so every run of the object finds the same memory.
 */
struct churn_state {
	struct scx_arena_lock lock;
	u64 counter;
	u64 ready;	/* runs that reached the start barrier */
};

struct churn_state __arena_global churn;

#define CHURN_RETRIES 8
#define CHURN_BARRIER_SPINS (8u << 20)

/* One round: lock, non-atomic increment, unlock. Returns timeouts seen. */
static __always_inline u64 churn_round(bool *done, bool unlocked)
{
	volatile u64 __arena *counter = &churn.counter;
	u64 timeouts = 0;
	u32 t;

	if (unlocked) {
		u64 v = *counter;

		*counter = v + 1;
		*done = true;
		return 0;
	}
	*done = false;
	bpf_for(t, 0, CHURN_RETRIES) {
		int ret;

		/* What most sched_ext callbacks have for free: no preemption. */
		bpf_preempt_disable();
		ret = scx_arena_lock_acquire(&churn.lock);
		if (!ret) {
			u64 v = *counter;

			*counter = v + 1;
			scx_arena_lock_release(&churn.lock);
		}
		bpf_preempt_enable();
		if (!ret) {
			*done = true;
			break;
		}
		timeouts++;
	}
	return timeouts;
}

/*
 * Not a test: args->iters rounds of lock -> counter = counter + 1 (a plain
 * read and write) -> unlock on the shared counter, run from several threads
 * at once by tests/lock.rs, which checks no increment was lost. A round
 * whose acquisition times out (a holder's vCPU descheduled by the host, say)
 * is retried and counted in args->timeouts. With args->unlocked the lock is
 * skipped: the control run showing the test can see lost increments.
 */
SEC("syscall")
int lock_counter_churn(struct lock_churn_args *args)
{
	u64 iters = args->iters, nthreads = args->nthreads;
	bool unlocked = args->unlocked;
	u64 timeouts = 0, start;
	u32 i;

	/* Best-effort start barrier so the runs overlap. */
	args->barrier_ok = 0;
	if (nthreads) {
		__sync_fetch_and_add(&churn.ready, 1);
		bpf_for(i, 0, CHURN_BARRIER_SPINS) {
			if (*(volatile u64 __arena *)&churn.ready >= nthreads) {
				args->barrier_ok = 1;
				break;
			}
		}
	}

	start = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		bool done;

		timeouts += churn_round(&done, unlocked);
		if (!done)
			break;
	}
	args->elapsed_ns = bpf_ktime_get_ns() - start;
	args->timeouts = timeouts;
	args->counter = *(volatile u64 __arena *)&churn.counter;
	args->counter_addr = (u64)&churn.counter;
	args->errors = scx_arena_last_error.count;
	return 0;
}

/* Not a test: times one scx_arena_lock_acquire() of a held lock. */
SEC("syscall")
int lock_timeout_ns(struct lock_timeout_args *args)
{
	struct scx_arena_lock __arena *lock = new_lock();
	u64 start;
	int ret;

	if (!lock)
		return 1;
	held_lock_set(lock);
	start = bpf_ktime_get_ns();
	/* scx_arena_lock_acquire()'s bound. */
	ret = held_lock_try(lock, SCX_ARENA_LOCK_TIMEOUT_NS);
	args->elapsed_ns = bpf_ktime_get_ns() - start;
	args->ret = ret;
	held_lock_clear(lock);
	scx_arena_pages_free(lock, 1);
	return 0;
}
