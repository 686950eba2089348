/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the latency histogram (scx_arena/lathist.h): bucket edges here,
 * and lathist_record, the driver tests/lathist.rs feeds random samples to
 * compare every bucket against its Rust model.
 */
#include <scx_arena/arena.h>
#include <scx_arena/lathist.h>
#include <scx_arena/test.h>

char _license[] SEC("license") = "GPL";

/* Samples of one lathist_record run. */
#define LATHIST_SAMPLES_MAX 4096

u64 __arena_global lathist_samples[LATHIST_SAMPLES_MAX];
struct scx_arena_lathist __arena_global lathist_hist;

SEC("syscall")
int test_lathist_small_values_are_exact(void *ctx)
{
	u32 v;

	bpf_for(v, 0, SCX_ARENA_LATHIST_SUB)
		ASSERT_EQ(scx_arena_lathist_bucket(v), v);
	/* 8..15 still one value per bucket, then two, four, ... */
	ASSERT_EQ(scx_arena_lathist_bucket(8), 8);
	ASSERT_EQ(scx_arena_lathist_bucket(15), 15);
	ASSERT_EQ(scx_arena_lathist_bucket(16), 16);
	ASSERT_EQ(scx_arena_lathist_bucket(17), 16);
	ASSERT_EQ(scx_arena_lathist_bucket(18), 17);
	return 0;
}

SEC("syscall")
int test_lathist_power_of_two_edges(void *ctx)
{
	u32 k;

	/* 2^k starts sub-bucket 0 of its power, 2^k - 1 ends the one before. */
	bpf_for(k, SCX_ARENA_LATHIST_SUB_SHIFT + 1, SCX_ARENA_LATHIST_MAX_LOG2) {
		u32 first = (k - SCX_ARENA_LATHIST_SUB_SHIFT + 1) * SCX_ARENA_LATHIST_SUB;

		ASSERT_EQ(scx_arena_lathist_bucket(1ull << k), first);
		ASSERT_EQ(scx_arena_lathist_bucket((1ull << k) - 1), first - 1);
		/* 1.5 x 2^k is half way: sub-bucket 4. */
		ASSERT_EQ(scx_arena_lathist_bucket(3ull << (k - 1)), first + 4);
	}
	return 0;
}

SEC("syscall")
int test_lathist_huge_values_share_the_last_bucket(void *ctx)
{
	ASSERT_EQ(scx_arena_lathist_bucket((1ull << SCX_ARENA_LATHIST_MAX_LOG2) - 1),
		  SCX_ARENA_LATHIST_BUCKETS - 1);
	ASSERT_EQ(scx_arena_lathist_bucket(1ull << SCX_ARENA_LATHIST_MAX_LOG2),
		  SCX_ARENA_LATHIST_BUCKETS - 1);
	ASSERT_EQ(scx_arena_lathist_bucket(~0ull), SCX_ARENA_LATHIST_BUCKETS - 1);
	return 0;
}

SEC("syscall")
int test_lathist_record_counts_sum_and_max(void *ctx)
{
	struct scx_arena_lathist __arena *h = &lathist_hist;

	scx_arena_lathist_record(h, 1000);
	scx_arena_lathist_record(h, 3);
	scx_arena_lathist_record(h, 1000);
	scx_arena_lathist_record(NULL, 5);	/* ignored */
	ASSERT_EQ(h->count, 3);
	ASSERT_EQ(h->sum_ns, 2003);
	ASSERT_EQ(h->max_ns, 1000);
	ASSERT_EQ(h->buckets[3], 1);
	ASSERT_EQ(h->buckets[scx_arena_lathist_bucket(1000)], 2);
	return 0;
}

struct scx_arena_lathist __arena_global lathist_per_cpu[2];
u64 __arena_global lathist_woke_at;

SEC("syscall")
int test_lathist_record_wake_counts_only_wakeups(void *ctx)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct scx_arena_lathist __arena *mine;

	/* Two slots: the one this CPU owns (CPU 0 or 1), or none beyond them. */
	mine = cpu < 2 ? &lathist_per_cpu[cpu] : NULL;

	/* No stamp: a run that does not follow a wakeup counts nothing. */
	scx_arena_lathist_record_wake(lathist_per_cpu, 2, &lathist_woke_at, 5000);
	ASSERT_EQ(lathist_per_cpu[0].count + lathist_per_cpu[1].count, 0);

	/* A stamp: the wait goes to this CPU's slot and the stamp is cleared. */
	lathist_woke_at = 1000;
	scx_arena_lathist_record_wake(lathist_per_cpu, 2, &lathist_woke_at, 5000);
	ASSERT_EQ(lathist_woke_at, 0);
	if (mine) {
		ASSERT_EQ(mine->count, 1);
		ASSERT_EQ(mine->sum_ns, 4000);
	}
	ASSERT_EQ(lathist_per_cpu[0].count + lathist_per_cpu[1].count, mine ? 1 : 0);

	/* A CPU beyond the histograms: cleared, not counted. */
	lathist_woke_at = 1000;
	scx_arena_lathist_record_wake(lathist_per_cpu, 0, &lathist_woke_at, 5000);
	ASSERT_EQ(lathist_woke_at, 0);
	ASSERT_EQ(lathist_per_cpu[0].count + lathist_per_cpu[1].count, mine ? 1 : 0);
	return 0;
}

struct lathist_record_args {
	u64 nr;		/* in: samples in lathist_samples */
	u64 samples;	/* out: arena address of lathist_samples */
	u64 hist;	/* out: arena address of lathist_hist */
};

/*
 * Not a test: records the first args->nr samples of lathist_samples into
 * lathist_hist (which keeps what earlier runs recorded).
 */
SEC("syscall")
int lathist_record(struct lathist_record_args *args)
{
	u64 nr = args->nr;
	u32 i;

	args->samples = (u64)lathist_samples;
	args->hist = (u64)&lathist_hist;
	if (nr > LATHIST_SAMPLES_MAX)
		return 1;
	bpf_for(i, 0, nr)
		scx_arena_lathist_record(&lathist_hist, lathist_samples[i]);
	return 0;
}
