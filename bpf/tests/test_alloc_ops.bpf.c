/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Drivers of the allocator for the host tests in tests/alloc.rs. These are
 * not self-checking test_* programs: userspace runs them with a context.
 *
 * alloc_ops    runs a batch of allocator operations that userspace wrote to
 *              an arena buffer (see struct alloc_ops_args) and writes each
 *              result back, so a Rust model can check addresses, alignment
 *              and overlap.
 * alloc_churn  random allocations and frees of 16 B to 4 KiB (slab and
 *              buddy sizes) keeping a ring of live objects, each filled with
 *              a tag pattern on allocation and verified before it is freed:
 *              two threads handed the same memory overwrite each other's
 *              tags. Everything is freed at the end.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>
#include <scx_arena/test.h>
#include "test_alloc_ops.h"

char _license[] SEC("license") = "GPL";

/*
 * tests/alloc.rs compares the Rust mirrors of the allocator's structs with
 * this object's BTF. The library reaches them only through arena pointers
 * in inlined code, which BTF does not describe; these globals make them (and
 * every struct they contain) appear. One global each: clang describes a
 * struct reached only through a pointer member as a bare forward declaration.
 */
struct scx_arena_root *alloc_ops_btf_root __attribute__((unused));
struct scx_arena_slab_pcpu *alloc_ops_btf_pcpu __attribute__((unused));
struct scx_arena_slab_hdr *alloc_ops_btf_slab __attribute__((unused));
struct scx_arena_buddy_node *alloc_ops_btf_node __attribute__((unused));

/* Words of the largest block a fill may cover: 512 KiB. */
#define FILL_MAX_WORDS (((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER) / 8)

/*
 * Sets the @words words at @p to @val. A global function: verified once,
 * not once per caller state.
 */
int alloc_ops_fill(u64 __arena *p __arg_arena, u64 words, u64 val)
{
	u64 i;

	if (!p)
		return 0;
	bpf_for(i, 0, FILL_MAX_WORDS) {
		if (i >= words)
			break;
		p[i] = val;
	}
	return 0;
}

/* The operations of one run, written and read back by userspace. */
struct alloc_op __arena_global alloc_ops_buf[ALLOC_OPS_MAX];

/* Runs one operation and stores its result in it. */
static __always_inline void run_op(struct alloc_op __arena *op)
{
	s64 ret = 0;

	switch (op->op) {
	case ALLOC_OP_NOP:
		break;
	case ALLOC_OP_ALLOC:
		op->addr = (u64)scx_arena_alloc(op->size);
		/* Dirty it, so a later zalloc of the same memory has work to do. */
		if (op->arg)
			alloc_ops_fill(scx_arena_from_u64(u64, op->addr), ((u64)op->size + 7) / 8,
				       op->arg);
		break;
	case ALLOC_OP_FREE:
		ret = scx_arena_free(scx_arena_from_u64(void, op->addr));
		break;
	case ALLOC_OP_ZALLOC:
		op->addr = (u64)scx_arena_zalloc(op->size);
		break;
	case ALLOC_OP_BUMP:
		op->addr = (u64)scx_arena_bump_alloc(op->size, op->arg);
		break;
	case ALLOC_OP_FILL:
		alloc_ops_fill(scx_arena_from_u64(u64, op->addr), ((u64)op->size + 7) / 8, op->arg);
		break;
	default:
		ret = -EINVAL;
	}
	op->ret = ret;
}

SEC("syscall")
int alloc_ops(struct alloc_ops_args *args)
{
	u32 nr = args->nr, i;

	args->buf = (u64)alloc_ops_buf;
	if (nr > ALLOC_OPS_MAX)
		return -EINVAL;
	bpf_for(i, 0, nr)
		run_op(&alloc_ops_buf[i]);
	args->done = nr;
	return 0;
}

/* Live objects alloc_churn keeps at most. */
#define CHURN_RING 64
/* Largest object: 4 KiB, one buddy page. */
#define CHURN_MAX_WORDS (4096 / 8)

struct churn_slot {
	u64 addr;
	u64 words;
	u64 tag;
};

/* Per-run state, in arena memory: loop-carried counters stay out of registers. */
struct churn_state {
	u64 seq;
	u64 allocs;
	u64 frees;
	u64 failed;
	u64 mismatches;
	u64 free_errors;
	u64 bad_addr;
	u64 misaligned;
	struct churn_slot ring[CHURN_RING];
};

/* The pattern of word @i of an object tagged @tag. */
#define CHURN_WORD(tag, i) ((tag) ^ ((u64)(i) * 0x9e3779b97f4a7c15ull))

int alloc_churn_fill(u64 __arena *p __arg_arena, u64 words, u64 tag)
{
	u64 i;

	if (!p)
		return 0;
	bpf_for(i, 0, CHURN_MAX_WORDS) {
		if (i >= words)
			break;
		p[i] = CHURN_WORD(tag, i);
	}
	return 0;
}

/* Returns 1 if any of the @words words at @p lost its pattern, else 0. */
int alloc_churn_verify(u64 __arena *p __arg_arena, u64 words, u64 tag)
{
	u64 i, bad = 0;

	if (!p)
		return 1;
	bpf_for(i, 0, CHURN_MAX_WORDS) {
		if (i >= words)
			break;
		bad |= p[i] ^ CHURN_WORD(tag, i);
	}
	return bad != 0;
}

/* Verifies and frees the object in @sl, if any. */
static __always_inline void churn_release(struct churn_state __arena *st,
					  struct churn_slot __arena *sl)
{
	u64 addr = sl->addr;

	if (!addr)
		return;
	if (alloc_churn_verify(scx_arena_from_u64(u64, addr), sl->words, sl->tag)) {
		if (!st->mismatches)
			st->bad_addr = addr;
		st->mismatches++;
	}
	if (scx_arena_free(scx_arena_from_u64(void, addr)))
		st->free_errors++;
	else
		st->frees++;
	sl->addr = 0;
}

/*
 * A size of class @cls (16 B << @cls, 0..8) from @r: in the upper half of
 * the class, so it lands in exactly that slab class (8: one buddy page) and
 * must come back aligned to 16 << @cls.
 */
static __always_inline u64 churn_size(u32 cls, u32 r)
{
	u64 top = 16ull << cls, half = top / 2;

	if (top <= 16)
		return 16;
	return half + 1 + (r % half);
}

SEC("syscall")
int alloc_churn(struct alloc_churn_args *args)
{
	struct churn_state __arena *st;
	u64 iters = args->iters, salt = args->seed << 40, it;
	u32 i;

	scx_arena_assoc();
	args->start_ns = bpf_ktime_get_ns();
	st = scx_arena_zalloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	bpf_for(it, 0, iters) {
		u32 r = bpf_get_prandom_u32();
		struct churn_slot __arena *sl = &st->ring[r % CHURN_RING];
		u32 cls = (r >> 6) % 9;
		u64 size, p, tag;

		if (sl->addr) {
			churn_release(st, sl);
			continue;
		}
		size = churn_size(cls, r >> 10);
		p = (u64)scx_arena_alloc(size);
		if (!p) {
			st->failed++;
			continue;
		}
		st->allocs++;
		if ((p - scx_arena_start()) & ((16ull << cls) - 1))
			st->misaligned++;
		tag = salt ^ st->seq++ ^ p;
		alloc_churn_fill(scx_arena_from_u64(u64, p), size / 8, tag);
		sl->addr = p;
		sl->words = size / 8;
		sl->tag = tag;
	}
	/* Drain: verify and free what is still live. */
	bpf_for(i, 0, CHURN_RING)
		churn_release(st, &st->ring[i]);

	args->allocs = st->allocs;
	args->frees = st->frees;
	args->failed = st->failed;
	args->mismatches = st->mismatches;
	args->free_errors = st->free_errors;
	args->bad_addr = st->bad_addr;
	args->misaligned = st->misaligned;
	scx_arena_free(st);
	args->errors = scx_arena_last_error.count;
	args->end_ns = bpf_ktime_get_ns();
	return 0;
}

/* The churn's detector works: a changed word in a tagged object is seen. */
SEC("syscall")
int test_churn_verify_sees_a_changed_word(void *ctx)
{
	u64 __arena *p = scx_arena_alloc(256);
	u64 tag = 0x1234ull << 40;

	ASSERT_NONNULL(p);
	ASSERT_EQ(alloc_churn_fill(p, 32, tag), 0);
	ASSERT_EQ(alloc_churn_verify(p, 32, tag), 0);
	p[31] ^= 1;
	ASSERT_EQ(alloc_churn_verify(p, 32, tag), 1);
	/* Another owner's tag does not pass either. */
	p[31] ^= 1;
	ASSERT_EQ(alloc_churn_verify(p, 32, tag + 1), 1);
	ASSERT_EQ(scx_arena_free(p), 0);
	return 0;
}
