/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tests of the arena bitmap (scx_arena/bitmap.h), and the drivers of
 * tests/bitmap.rs (programs not named test_*):
 *
 * bitmap_ops    runs a batch of bitmap operations that userspace wrote to
 *               an arena buffer on BM_NR bitmaps, and writes each result
 *               back for a Rust bitset model to check.
 * bitmap_claim  claims (or releases) every bit of one shared bitmap with
 *               the atomic test_and_set (test_and_clear); two threads run
 *               it at once.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/bitmap.h>
#include <scx_arena/test.h>
#include "test_bitmap.h"

char _license[] SEC("license") = "GPL";

void bpf_cpumask_setall(struct bpf_cpumask *cpumask) __ksym;
u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;

/* A compile-time sized bitmap type and a cpumask, both as arena globals. */
SCX_ARENA_BITMAP_TYPE(bm130, 130);
struct bm130 __arena_global g_bm130 = SCX_ARENA_BITMAP_INIT(130);
struct scx_arena_cpumask __arena_global g_mask = SCX_ARENA_CPUMASK_INIT;

_Static_assert(sizeof(struct scx_arena_cpumask) == 8 + 8 * (SCX_ARENA_NR_CPUS / 64),
	       "cpumask layout");
_Static_assert(sizeof(struct bm130) == 8 + 8 * 3, "bm130 layout");

#define ENOENT_ (-ENOENT)

SEC("syscall")
int test_bitmap_sizes(void *ctx)
{
	struct scx_arena_bitmap __arena *b;
	struct scx_arena_bitmap __arena *g = scx_arena_bitmap_of(&g_bm130);
	struct scx_arena_bitmap __arena *m = scx_arena_cpumask_bm(&g_mask);

	/* Bad sizes. */
	ASSERT_NULL(scx_arena_bitmap_alloc(0));
	ASSERT_NULL(scx_arena_bitmap_alloc(SCX_ARENA_BITMAP_MAX_BITS + 1));
	ASSERT_EQ(scx_arena_bitmap_init(NULL, 8), -EINVAL);

	/* 1 bit: one word. */
	b = scx_arena_bitmap_alloc(1);
	ASSERT_NONNULL(b);
	ASSERT_EQ(b->nr_bits, 1);
	ASSERT_EQ(b->nr_words, 1);
	ASSERT_EQ(scx_arena_bitmap_nr_bits(b), 1);
	ASSERT_TRUE(scx_arena_bitmap_empty(b));
	ASSERT_EQ(scx_arena_bitmap_set(b, 0), 0);
	ASSERT_TRUE(scx_arena_bitmap_full(b));
	ASSERT_EQ(scx_arena_bitmap_set(b, 1), -EINVAL);
	ASSERT_EQ(b->words[0], 1);
	ASSERT_EQ(scx_arena_bitmap_free(b), 0);

	/* Word boundaries: 64 is one word, 65 two. */
	b = scx_arena_bitmap_alloc(64);
	ASSERT_NONNULL(b);
	ASSERT_EQ(b->nr_words, 1);
	ASSERT_EQ(scx_arena_bitmap_free(b), 0);
	b = scx_arena_bitmap_alloc(65);
	ASSERT_NONNULL(b);
	ASSERT_EQ(b->nr_words, 2);
	ASSERT_EQ(scx_arena_bitmap_bytes(65), 8 + 16);

	/* init re-sizes memory that has room, and clears it. */
	ASSERT_EQ(scx_arena_bitmap_set(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_init(b, 64), 0);
	ASSERT_EQ(b->nr_words, 1);
	ASSERT_EQ(b->words[0], 0);
	ASSERT_EQ(scx_arena_bitmap_init(b, 0), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_free(b), 0);

	/* The largest size. */
	b = scx_arena_bitmap_alloc(SCX_ARENA_BITMAP_MAX_BITS);
	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_bitmap_set(b, SCX_ARENA_BITMAP_MAX_BITS - 1), 0);
	ASSERT_EQ(scx_arena_bitmap_first(b), SCX_ARENA_BITMAP_MAX_BITS - 1);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 1);
	ASSERT_EQ(scx_arena_bitmap_free(b), 0);

	/* Compile-time sized globals, from their initializers. */
	ASSERT_EQ(g->nr_bits, 130);
	ASSERT_EQ(g->nr_words, 3);
	ASSERT_TRUE(scx_arena_bitmap_empty(g));
	ASSERT_EQ(scx_arena_bitmap_set(g, 129), 0);
	ASSERT_EQ(scx_arena_bitmap_set(g, 130), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_first(g), 129);
	ASSERT_EQ(m->nr_bits, SCX_ARENA_NR_CPUS);
	ASSERT_EQ(m->nr_words, SCX_ARENA_NR_CPUS / 64);
	ASSERT_EQ(scx_arena_bitmap_set(m, SCX_ARENA_NR_CPUS - 1), 0);
	ASSERT_EQ(scx_arena_cpumask_init(&g_mask), 0);
	ASSERT_TRUE(scx_arena_bitmap_empty(m));

	/* A zeroed header is a bitmap of 0 bits: empty, and refuses sets. */
	b = scx_arena_zalloc(64);
	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_bitmap_set(b, 0), -EINVAL);
	ASSERT_FALSE(scx_arena_bitmap_test(b, 0));
	ASSERT_TRUE(scx_arena_bitmap_empty(b));
	ASSERT_EQ(scx_arena_bitmap_weight(b), 0);
	ASSERT_EQ(scx_arena_bitmap_first(b), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_fill(b), 0);
	ASSERT_EQ(b->words[0], 0);
	return 0;
}

SEC("syscall")
int test_bitmap_set_clear_test(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(130);

	ASSERT_NONNULL(b);
	/* Bit 0, the ends of word 0 and 1, the last bit. */
	ASSERT_EQ(scx_arena_bitmap_set(b, 0), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 63), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 129), 0);
	ASSERT_EQ(b->words[0], 0x8000000000000001ull);
	ASSERT_EQ(b->words[1], 1);
	ASSERT_EQ(b->words[2], 2);
	ASSERT_TRUE(scx_arena_bitmap_test(b, 0));
	ASSERT_TRUE(scx_arena_bitmap_test(b, 63));
	ASSERT_TRUE(scx_arena_bitmap_test(b, 64));
	ASSERT_TRUE(scx_arena_bitmap_test(b, 129));
	ASSERT_FALSE(scx_arena_bitmap_test(b, 1));
	ASSERT_FALSE(scx_arena_bitmap_test(b, 128));
	ASSERT_EQ(scx_arena_bitmap_weight(b), 4);

	/* Setting a set bit changes nothing. */
	ASSERT_EQ(scx_arena_bitmap_set(b, 63), 0);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 4);

	/* Out of range: refused, nothing touched. */
	ASSERT_EQ(scx_arena_bitmap_set(b, 130), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_clear(b, 130), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_set(b, 0xffffffff), -EINVAL);
	ASSERT_FALSE(scx_arena_bitmap_test(b, 130));
	ASSERT_FALSE(scx_arena_bitmap_test(b, 191));
	ASSERT_EQ(b->words[2], 2);

	ASSERT_EQ(scx_arena_bitmap_clear(b, 63), 0);
	ASSERT_EQ(scx_arena_bitmap_clear(b, 63), 0);
	ASSERT_EQ(scx_arena_bitmap_clear(b, 129), 0);
	ASSERT_FALSE(scx_arena_bitmap_test(b, 63));
	ASSERT_FALSE(scx_arena_bitmap_test(b, 129));
	ASSERT_EQ(b->words[0], 1);
	ASSERT_EQ(b->words[2], 0);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 2);
	return 0;
}

SEC("syscall")
int test_bitmap_fill_zero(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(130);
	struct scx_arena_bitmap __arena *w = scx_arena_bitmap_alloc(128);

	ASSERT_NONNULL(b);
	ASSERT_NONNULL(w);
	ASSERT_TRUE(scx_arena_bitmap_empty(b));
	ASSERT_FALSE(scx_arena_bitmap_full(b));
	ASSERT_EQ(scx_arena_bitmap_fill(b), 0);
	/* Bits past nr_bits stay clear. */
	ASSERT_EQ(b->words[0], ~0ull);
	ASSERT_EQ(b->words[1], ~0ull);
	ASSERT_EQ(b->words[2], 3);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 130);
	ASSERT_TRUE(scx_arena_bitmap_full(b));
	ASSERT_FALSE(scx_arena_bitmap_empty(b));
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_first(b), 0);

	/* An exact number of words. */
	ASSERT_EQ(scx_arena_bitmap_fill(w), 0);
	ASSERT_EQ(w->words[1], ~0ull);
	ASSERT_EQ(scx_arena_bitmap_weight(w), 128);
	ASSERT_TRUE(scx_arena_bitmap_full(w));

	ASSERT_EQ(scx_arena_bitmap_zero(b), 0);
	ASSERT_EQ(b->words[0], 0);
	ASSERT_EQ(b->words[2], 0);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 0);
	ASSERT_TRUE(scx_arena_bitmap_empty(b));
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 0);
	ASSERT_EQ(scx_arena_bitmap_fill(NULL), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_zero(NULL), -EINVAL);
	return 0;
}

SEC("syscall")
int test_bitmap_find(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(130);

	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_bitmap_first(b), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_next(b, -1), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_next(b, 5), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 0);

	ASSERT_EQ(scx_arena_bitmap_set(b, 0), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 63), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 129), 0);
	ASSERT_EQ(scx_arena_bitmap_first(b), 0);
	ASSERT_EQ(scx_arena_bitmap_next(b, -1), 0);
	ASSERT_EQ(scx_arena_bitmap_next(b, -100), 0);
	ASSERT_EQ(scx_arena_bitmap_next(b, 0), 63);
	ASSERT_EQ(scx_arena_bitmap_next(b, 62), 63);
	ASSERT_EQ(scx_arena_bitmap_next(b, 63), 64);
	ASSERT_EQ(scx_arena_bitmap_next(b, 64), 129);
	ASSERT_EQ(scx_arena_bitmap_next(b, 128), 129);
	/* Next past the end. */
	ASSERT_EQ(scx_arena_bitmap_next(b, 129), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_next(b, 130), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_next(b, 0x7fffffff), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 1);

	ASSERT_EQ(scx_arena_bitmap_clear(b, 0), 0);
	ASSERT_EQ(scx_arena_bitmap_first(b), 63);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 0);

	/* first_zero across a full word and at the last bit. */
	ASSERT_EQ(scx_arena_bitmap_fill(b), 0);
	ASSERT_EQ(scx_arena_bitmap_clear(b, 129), 0);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 129);
	ASSERT_EQ(scx_arena_bitmap_clear(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_first_zero(b), 64);
	ASSERT_EQ(scx_arena_bitmap_next(b, 63), 65);
	ASSERT_EQ(scx_arena_bitmap_next(b, 127), 128);
	ASSERT_EQ(scx_arena_bitmap_next(b, 128), ENOENT_);
	ASSERT_EQ(scx_arena_bitmap_first(NULL), ENOENT_);
	return 0;
}

SEC("syscall")
int test_bitmap_logic(void *ctx)
{
	struct scx_arena_bitmap __arena *a = scx_arena_bitmap_alloc(100);
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(100);
	struct scx_arena_bitmap __arena *d = scx_arena_bitmap_alloc(100);
	struct scx_arena_bitmap __arena *other = scx_arena_bitmap_alloc(101);

	ASSERT_NONNULL(a);
	ASSERT_NONNULL(b);
	ASSERT_NONNULL(d);
	ASSERT_NONNULL(other);
	/* a = {1, 64, 99}, b = {1, 70}. */
	ASSERT_EQ(scx_arena_bitmap_set(a, 1), 0);
	ASSERT_EQ(scx_arena_bitmap_set(a, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_set(a, 99), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 1), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 70), 0);

	ASSERT_EQ(scx_arena_bitmap_and(d, a, b), 0);
	ASSERT_EQ(d->words[0], 2);
	ASSERT_EQ(d->words[1], 0);
	ASSERT_EQ(scx_arena_bitmap_or(d, a, b), 0);
	ASSERT_EQ(d->words[0], 2);
	ASSERT_EQ(d->words[1], (1ull << 0) | (1ull << 6) | (1ull << 35));
	ASSERT_EQ(scx_arena_bitmap_weight(d), 4);
	ASSERT_EQ(scx_arena_bitmap_andnot(d, a, b), 0);
	ASSERT_EQ(d->words[0], 0);
	ASSERT_EQ(d->words[1], (1ull << 0) | (1ull << 35));

	ASSERT_TRUE(scx_arena_bitmap_intersects(a, b));
	ASSERT_FALSE(scx_arena_bitmap_intersects(d, b));
	ASSERT_TRUE(scx_arena_bitmap_subset(d, a));
	ASSERT_FALSE(scx_arena_bitmap_subset(a, d));
	ASSERT_FALSE(scx_arena_bitmap_equal(a, d));
	ASSERT_TRUE(scx_arena_bitmap_equal(a, a));

	ASSERT_EQ(scx_arena_bitmap_copy(d, b), 0);
	ASSERT_TRUE(scx_arena_bitmap_equal(d, b));
	ASSERT_TRUE(scx_arena_bitmap_subset(d, b));
	/* dst may be a source. */
	ASSERT_EQ(scx_arena_bitmap_or(d, d, a), 0);
	ASSERT_EQ(scx_arena_bitmap_weight(d), 4);
	ASSERT_EQ(scx_arena_bitmap_and(a, a, b), 0);
	ASSERT_EQ(scx_arena_bitmap_weight(a), 1);
	ASSERT_EQ(scx_arena_bitmap_first(a), 1);

	/* The empty set: subset of all, intersects none, equal only to empty. */
	ASSERT_EQ(scx_arena_bitmap_zero(d), 0);
	ASSERT_TRUE(scx_arena_bitmap_subset(d, a));
	ASSERT_FALSE(scx_arena_bitmap_intersects(d, a));
	ASSERT_FALSE(scx_arena_bitmap_equal(d, a));

	/* Different sizes are refused, nothing written. */
	ASSERT_EQ(scx_arena_bitmap_set(other, 1), 0);
	ASSERT_EQ(scx_arena_bitmap_and(d, a, other), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_or(other, a, b), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_copy(d, other), -EINVAL);
	ASSERT_TRUE(scx_arena_bitmap_empty(d));
	ASSERT_FALSE(scx_arena_bitmap_equal(a, other));
	ASSERT_FALSE(scx_arena_bitmap_subset(a, other));
	ASSERT_FALSE(scx_arena_bitmap_intersects(a, other));
	ASSERT_EQ(scx_arena_bitmap_and(NULL, a, b), -EINVAL);
	ASSERT_FALSE(scx_arena_bitmap_equal(a, NULL));
	return 0;
}

SEC("syscall")
int test_bitmap_test_and_set_clear(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(65);

	ASSERT_NONNULL(b);
	ASSERT_EQ(scx_arena_bitmap_test_and_set(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_test_and_set(b, 64), 1);
	ASSERT_EQ(scx_arena_bitmap_test_and_set(b, 0), 0);
	ASSERT_EQ(b->words[0], 1);
	ASSERT_EQ(b->words[1], 1);
	ASSERT_EQ(scx_arena_bitmap_test_and_set(b, 65), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_test_and_clear(b, 65), -EINVAL);
	ASSERT_EQ(scx_arena_bitmap_test_and_clear(b, 64), 1);
	ASSERT_EQ(scx_arena_bitmap_test_and_clear(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_test_and_clear(b, 1), 0);
	ASSERT_EQ(b->words[1], 0);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 1);
	return 0;
}

SEC("syscall")
int test_bitmap_for_each(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(200);
	u64 __arena *seen = scx_arena_zalloc(8 * sizeof(u64));
	s32 bit;

	ASSERT_NONNULL(b);
	ASSERT_NONNULL(seen);
	/* Empty: no step. */
	scx_arena_bitmap_for_each(bit, b)
		seen[7]++;
	ASSERT_EQ(seen[7], 0);

	ASSERT_EQ(scx_arena_bitmap_set(b, 0), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 64), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 65), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 199), 0);
	scx_arena_bitmap_for_each(bit, b) {
		seen[seen[7] & 3] = bit;
		seen[7]++;
	}
	ASSERT_EQ(seen[7], 4);
	ASSERT_EQ(seen[0], 0);
	ASSERT_EQ(seen[1], 64);
	ASSERT_EQ(seen[2], 65);
	ASSERT_EQ(seen[3], 199);

	/* The body may clear the bit it is at; break works. */
	seen[7] = 0;
	scx_arena_bitmap_for_each(bit, b) {
		scx_arena_bitmap_clear(b, bit);
		if (++seen[7] == 3)
			break;
	}
	ASSERT_EQ(bit, 65);
	ASSERT_EQ(scx_arena_bitmap_weight(b), 1);
	ASSERT_EQ(scx_arena_bitmap_first(b), 199);

	/* A full bitmap: every bit, once. */
	ASSERT_EQ(scx_arena_bitmap_fill(b), 0);
	seen[7] = 0;
	scx_arena_bitmap_for_each(bit, b)
		seen[7]++;
	ASSERT_EQ(seen[7], 200);
	return 0;
}

SEC("syscall")
int test_bitmap_kernel_cpumask_roundtrip(void *ctx)
{
	struct scx_arena_bitmap __arena *b = scx_arena_bitmap_alloc(SCX_ARENA_NR_CPUS);
	struct scx_arena_bitmap __arena *back = scx_arena_bitmap_alloc(SCX_ARENA_NR_CPUS);
	struct bpf_cpumask *all, *k;
	u32 nr_cpus, last, kweight;
	bool has0, has_last, has0_after;
	int from_ret, to_ret;

	ASSERT_NONNULL(b);
	ASSERT_NONNULL(back);

	/* Every possible CPU, from a full kernel mask. */
	all = bpf_cpumask_create();
	ASSERT_NONNULL(all);
	bpf_cpumask_setall(all);
	nr_cpus = bpf_cpumask_weight((const struct cpumask *)all);
	if (scx_arena_bitmap_from_cpumask(b, (const struct cpumask *)all)) {
		bpf_cpumask_release(all);
		return SCX_TEST_FAILED;
	}
	bpf_cpumask_release(all);
	ASSERT_GE(nr_cpus, 1);
	ASSERT_LE(nr_cpus, SCX_ARENA_NR_CPUS);
	ASSERT_EQ(scx_arena_bitmap_weight(b), nr_cpus);
	ASSERT_EQ(scx_arena_bitmap_first(b), 0);
	if (nr_cpus < SCX_ARENA_NR_CPUS)
		ASSERT_EQ(scx_arena_bitmap_first_zero(b), nr_cpus);

	/* Arena {0, last CPU, bit 511} -> kernel: 511 (no such CPU) drops. */
	last = nr_cpus - 1;
	ASSERT_EQ(scx_arena_bitmap_zero(b), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, 0), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, last), 0);
	ASSERT_EQ(scx_arena_bitmap_set(b, SCX_ARENA_NR_CPUS - 1), 0);
	k = scx_arena_bitmap_to_new_cpumask(b);
	ASSERT_NONNULL(k);
	/* Checked after the release: no assertion may leave k held. */
	has0 = bpf_cpumask_test_cpu(0, (const struct cpumask *)k);
	has_last = bpf_cpumask_test_cpu(last, (const struct cpumask *)k);
	kweight = bpf_cpumask_weight((const struct cpumask *)k);
	/* ... and back. */
	from_ret = scx_arena_bitmap_from_cpumask(back, (const struct cpumask *)k);
	/* to_cpumask clears what the kernel mask held before. */
	scx_arena_bitmap_clear(b, 0);
	to_ret = scx_arena_bitmap_to_cpumask(k, b);
	has0_after = bpf_cpumask_test_cpu(0, (const struct cpumask *)k);
	bpf_cpumask_release(k);
	ASSERT_TRUE(has0);
	ASSERT_TRUE(has_last);
	ASSERT_EQ(kweight, last ? 2 : 1);
	ASSERT_EQ(from_ret, 0);
	ASSERT_EQ(to_ret, 0);
	ASSERT_EQ(has0_after, last == 0);
	ASSERT_EQ(scx_arena_bitmap_weight(back), last ? 2 : 1);
	ASSERT_TRUE(scx_arena_bitmap_test(back, 0));
	ASSERT_TRUE(scx_arena_bitmap_test(back, last));
	ASSERT_FALSE(scx_arena_bitmap_test(back, SCX_ARENA_NR_CPUS - 1));
	ASSERT_EQ(scx_arena_bitmap_from_cpumask(NULL, NULL), -EINVAL);
	return 0;
}

/* ---------------------------------------------------------------------------
 * bitmap_ops: the driver of the model test.
 */

struct bm_op __arena_global bm_ops_buf[BM_OPS_MAX];
u64 __arena_global bm_ops_maps[BM_NR];

static __always_inline struct scx_arena_bitmap __arena *bm_get(u32 i)
{
	return scx_arena_from_u64(struct scx_arena_bitmap, bm_ops_maps[i % BM_NR]);
}

/* Runs one operation and stores its result in it. */
static __always_inline void bm_run_op(struct bm_op __arena *op)
{
	struct scx_arena_bitmap __arena *d = bm_get(op->dst), *a = bm_get(op->a),
					 *b = bm_get(op->b), *n;
	s64 arg = op->arg, ret = 0;

	switch (op->op) {
	case BM_OP_NOP:
		break;
	case BM_OP_ALLOC:
		n = scx_arena_bitmap_alloc(arg);
		if (!n) {
			ret = -ENOMEM;
			break;
		}
		scx_arena_bitmap_free(d);
		bm_ops_maps[op->dst % BM_NR] = (u64)n;
		break;
	case BM_OP_SET:
		ret = scx_arena_bitmap_set(d, arg);
		break;
	case BM_OP_CLEAR:
		ret = scx_arena_bitmap_clear(d, arg);
		break;
	case BM_OP_TEST:
		ret = scx_arena_bitmap_test(d, arg);
		break;
	case BM_OP_TEST_AND_SET:
		ret = scx_arena_bitmap_test_and_set(d, arg);
		break;
	case BM_OP_TEST_AND_CLEAR:
		ret = scx_arena_bitmap_test_and_clear(d, arg);
		break;
	case BM_OP_FILL:
		ret = scx_arena_bitmap_fill(d);
		break;
	case BM_OP_ZERO:
		ret = scx_arena_bitmap_zero(d);
		break;
	case BM_OP_AND:
		ret = scx_arena_bitmap_and(d, a, b);
		break;
	case BM_OP_OR:
		ret = scx_arena_bitmap_or(d, a, b);
		break;
	case BM_OP_ANDNOT:
		ret = scx_arena_bitmap_andnot(d, a, b);
		break;
	case BM_OP_COPY:
		ret = scx_arena_bitmap_copy(d, a);
		break;
	case BM_OP_EQUAL:
		ret = scx_arena_bitmap_equal(a, b);
		break;
	case BM_OP_SUBSET:
		ret = scx_arena_bitmap_subset(a, b);
		break;
	case BM_OP_INTERSECTS:
		ret = scx_arena_bitmap_intersects(a, b);
		break;
	case BM_OP_EMPTY:
		ret = scx_arena_bitmap_empty(d);
		break;
	case BM_OP_FULL:
		ret = scx_arena_bitmap_full(d);
		break;
	case BM_OP_FIRST:
		ret = scx_arena_bitmap_first(d);
		break;
	case BM_OP_NEXT:
		ret = scx_arena_bitmap_next(d, arg);
		break;
	case BM_OP_FIRST_ZERO:
		ret = scx_arena_bitmap_first_zero(d);
		break;
	case BM_OP_WEIGHT:
		ret = scx_arena_bitmap_weight(d);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int bitmap_ops(struct bm_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)bm_ops_buf;
	args->maps = (u64)bm_ops_maps;
	if (nr > BM_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		bm_run_op(&bm_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* ---------------------------------------------------------------------------
 * bitmap_claim: atomic claims by concurrent runs.
 */

SCX_ARENA_BITMAP_TYPE(bm_claim, BM_CLAIM_BITS);
struct bm_claim __arena_global bm_claim_shared = SCX_ARENA_BITMAP_INIT(BM_CLAIM_BITS);
struct bm_claim __arena_global bm_claim_mine[BM_CLAIM_THREADS] = {
	SCX_ARENA_BITMAP_INIT(BM_CLAIM_BITS), SCX_ARENA_BITMAP_INIT(BM_CLAIM_BITS)
};
u64 __arena_global bm_claim_errors[BM_CLAIM_THREADS];

SEC("syscall")
int bitmap_claim(struct bm_claim_args *args)
{
	struct scx_arena_bitmap __arena *shared = scx_arena_bitmap_of(&bm_claim_shared);
	struct scx_arena_bitmap __arena *mine;
	u32 t = args->thread, bit;
	u64 mode = args->mode;
	int r;

	if (t >= BM_CLAIM_THREADS)
		return -EINVAL;
	mine = scx_arena_bitmap_of(&bm_claim_mine[t]);
	bm_claim_errors[t] = 0;
	scx_arena_bitmap_zero(mine);
	bpf_for(bit, 0, BM_CLAIM_BITS) {
		if (mode == 0) {
			r = scx_arena_bitmap_test_and_set(shared, bit);
			if (r == 0)
				scx_arena_bitmap_set(mine, bit);
		} else {
			r = scx_arena_bitmap_test_and_clear(shared, bit);
			if (r == 1)
				scx_arena_bitmap_set(mine, bit);
		}
		if (r < 0)
			bm_claim_errors[t]++;
	}
	args->won = scx_arena_bitmap_weight(mine);
	args->shared = (u64)shared;
	args->mine = (u64)mine;
	args->errors = bm_claim_errors[t];
	return 0;
}
