/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/bitmap.h - fixed-size bitmaps and cpumasks in arena memory.
 *
 * A bitmap is a small header (its size in bits) followed by u64 words; bit
 * n is bit n % 64 of word n / 64, as in the kernel's bitmaps:
 *
 *	struct scx_arena_cpumask __arena_global idle = SCX_ARENA_CPUMASK_INIT;
 *	struct scx_arena_bitmap __arena *idle_bm = scx_arena_cpumask_bm(&idle);
 *
 *	scx_arena_bitmap_set(idle_bm, cpu);                 // CPU went idle
 *	s32 cpu = scx_arena_bitmap_first(idle_bm);          // -ENOENT if none
 *	if (cpu >= 0 && scx_arena_bitmap_test_and_clear(idle_bm, cpu) == 1)
 *		...                                            // we own the CPU
 *
 * The size is fixed when the bitmap is made: at init or allocation time
 * (scx_arena_bitmap_init(), scx_arena_bitmap_alloc(), any size up to
 * SCX_ARENA_BITMAP_MAX_BITS), or at compile time with
 * SCX_ARENA_BITMAP_TYPE(name, nbits), which declares a struct with the same
 * layout and room for the words. struct scx_arena_cpumask is such a type
 * sized for SCX_ARENA_NR_CPUS CPUs (512 unless defined before this header,
 * e.g. -DSCX_ARENA_NR_CPUS=1024). Such a struct needs its header written
 * before use: SCX_ARENA_BITMAP_INIT(nbits) / SCX_ARENA_CPUMASK_INIT as an
 * initializer, or scx_arena_cpumask_init(); a zeroed header is a bitmap of
 * 0 bits (every op treats it as empty and refuses to set bits).
 *
 * Bits at and above nr_bits in the last word are always 0; every operation
 * keeps them so. Binary operations (and, or, andnot, copy, equal, subset,
 * intersects) need bitmaps of the same size and refuse others.
 *
 * Single-bit operations are O(1); set, clear and the atomic test_and_set /
 * test_and_clear may race with each other on any CPU (BPF atomics on the
 * word: set and clear are one atomic or/and, the test_and_ ones a
 * compare-and-swap loop in bpf/lib/bitmap.bpf.c). Everything that walks words is a global
 * function in bpf/lib/bitmap.bpf.c (link with .lib("bitmap")), verified
 * once, and bounded by the bitmap's size; those are not atomic as a whole.
 * Conversions to and from kernel cpumasks use the bpf_cpumask kfuncs and are
 * inline.
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/alloc.h>

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EBUSY
#define EBUSY 16
#endif

/* Largest bitmap, in bits (128 KiB of words). */
#define SCX_ARENA_BITMAP_MAX_BITS (1u << 20)

/* Words holding @nbits bits. */
#define SCX_ARENA_BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

/* CPUs a struct scx_arena_cpumask holds; override before including. */
#ifndef SCX_ARENA_NR_CPUS
#define SCX_ARENA_NR_CPUS 512
#endif

/**
 * struct scx_arena_bitmap - a bitmap in arena memory.
 * @nr_bits: size in bits; 0 in a zeroed header.
 * @nr_words: SCX_ARENA_BITMAP_WORDS(@nr_bits), for readers.
 * @words: the bits, @nr_words u64s.
 */
struct scx_arena_bitmap {
	u32 nr_bits;
	u32 nr_words;
	u64 words[];
};

/**
 * SCX_ARENA_BITMAP_TYPE - declare struct @name, a bitmap of @nbits bits.
 * @name: the struct tag.
 * @nbits: its size, a constant.
 *
 * The struct has the layout of struct scx_arena_bitmap with room for the
 * words; pass it to the scx_arena_bitmap_*() operations through
 * scx_arena_bitmap_of().
 */
#define SCX_ARENA_BITMAP_TYPE(name, nbits)                                     \
	struct name {                                                          \
		u32 nr_bits;                                                   \
		u32 nr_words;                                                  \
		u64 words[SCX_ARENA_BITMAP_WORDS(nbits)];                      \
	}

/* Initializer of an SCX_ARENA_BITMAP_TYPE() struct of @nbits bits: all clear. */
#define SCX_ARENA_BITMAP_INIT(nbits)                                           \
	{ .nr_bits = (nbits), .nr_words = SCX_ARENA_BITMAP_WORDS(nbits) }

/* The struct scx_arena_bitmap view of an SCX_ARENA_BITMAP_TYPE() struct. */
#define scx_arena_bitmap_of(p) ((struct scx_arena_bitmap __arena *)(p))

/**
 * struct scx_arena_cpumask - a bitmap of SCX_ARENA_NR_CPUS CPUs.
 *
 * Declared with SCX_ARENA_BITMAP_TYPE(); initialise with
 * SCX_ARENA_CPUMASK_INIT or scx_arena_cpumask_init(), use through
 * scx_arena_cpumask_bm().
 */
SCX_ARENA_BITMAP_TYPE(scx_arena_cpumask, SCX_ARENA_NR_CPUS);

/* Initializer of a struct scx_arena_cpumask: no CPU set. */
#define SCX_ARENA_CPUMASK_INIT SCX_ARENA_BITMAP_INIT(SCX_ARENA_NR_CPUS)

/* The struct scx_arena_bitmap view of a struct scx_arena_cpumask. */
#define scx_arena_cpumask_bm(m) scx_arena_bitmap_of(m)

/* Internal: the words of @b; pins @b (see __scx_list_pin in list.h). */
#define __scx_bm_pin(p) asm volatile("" : "+r"(p))

/* Library functions (bpf/lib/bitmap.bpf.c); use the wrappers below. */
int __scx_arena_bitmap_init(struct scx_arena_bitmap __arena *b __arg_arena, u32 nr_bits);
int __scx_arena_bitmap_fill(struct scx_arena_bitmap __arena *b __arg_arena, u32 fill);
int __scx_arena_bitmap_op(struct scx_arena_bitmap __arena *dst __arg_arena,
			  struct scx_arena_bitmap __arena *a __arg_arena,
			  struct scx_arena_bitmap __arena *b __arg_arena, u32 op);
int __scx_arena_bitmap_cmp(struct scx_arena_bitmap __arena *a __arg_arena,
			   struct scx_arena_bitmap __arena *b __arg_arena, u32 op);
s32 __scx_arena_bitmap_find(struct scx_arena_bitmap __arena *b __arg_arena, s32 after,
			    u32 zero);
u32 __scx_arena_bitmap_weight(struct scx_arena_bitmap __arena *b __arg_arena);
int __scx_arena_bitmap_tas(struct scx_arena_bitmap __arena *b __arg_arena, u32 bit, u32 set);

/* Compare-and-swap attempts of test_and_set/test_and_clear before -EBUSY. */
#define SCX_ARENA_BITMAP_CAS_TRIES 4096

/* Word operations of __scx_arena_bitmap_op() and comparisons of _cmp(). */
enum {
	__SCX_BM_AND = 0,
	__SCX_BM_OR = 1,
	__SCX_BM_ANDNOT = 2,
	__SCX_BM_COPY = 3,
	__SCX_BM_EQUAL = 0,
	__SCX_BM_SUBSET = 1,
	__SCX_BM_INTERSECTS = 2,
};

/**
 * scx_arena_bitmap_init - make @b an all-clear bitmap of @nr_bits bits.
 * @b: the bitmap; it must have room for SCX_ARENA_BITMAP_WORDS(@nr_bits) words.
 * @nr_bits: 1 to SCX_ARENA_BITMAP_MAX_BITS.
 *
 * Returns 0, or -EINVAL (nothing written) for a NULL @b or a bad size.
 */
static __always_inline int scx_arena_bitmap_init(struct scx_arena_bitmap __arena *b, u32 nr_bits)
{
	return __scx_arena_bitmap_init(b, nr_bits);
}

/**
 * scx_arena_cpumask_init - make @m an empty cpumask of SCX_ARENA_NR_CPUS CPUs.
 * @m: a struct scx_arena_cpumask in arena memory.
 *
 * Returns 0, or -EINVAL for a NULL @m.
 */
static __always_inline int scx_arena_cpumask_init(struct scx_arena_cpumask __arena *m)
{
	return __scx_arena_bitmap_init(scx_arena_cpumask_bm(m), SCX_ARENA_NR_CPUS);
}

/**
 * scx_arena_bitmap_bytes - bytes a bitmap of @nr_bits bits takes, header included.
 * @nr_bits: the size in bits.
 */
static __always_inline u64 scx_arena_bitmap_bytes(u32 nr_bits)
{
	return sizeof(struct scx_arena_bitmap) + 8 * (u64)SCX_ARENA_BITMAP_WORDS(nr_bits);
}

/**
 * scx_arena_bitmap_alloc - allocate an all-clear bitmap of @nr_bits bits.
 * @nr_bits: 1 to SCX_ARENA_BITMAP_MAX_BITS.
 *
 * Returns the bitmap (free it with scx_arena_bitmap_free()), or NULL for a
 * bad size or when the arena is exhausted.
 */
static __always_inline struct scx_arena_bitmap __arena *scx_arena_bitmap_alloc(u32 nr_bits)
{
	struct scx_arena_bitmap __arena *b;

	if (!nr_bits || nr_bits > SCX_ARENA_BITMAP_MAX_BITS)
		return NULL;
	b = scx_arena_alloc(scx_arena_bitmap_bytes(nr_bits));
	__scx_bm_pin(b);
	if (b && __scx_arena_bitmap_init(b, nr_bits)) {
		scx_arena_free(b);
		return NULL;
	}
	return b;
}

/**
 * scx_arena_bitmap_free - free a bitmap from scx_arena_bitmap_alloc().
 * @b: the bitmap; NULL is ignored.
 *
 * Returns 0, or scx_arena_free()'s error.
 */
static __always_inline int scx_arena_bitmap_free(struct scx_arena_bitmap __arena *b)
{
	return scx_arena_free(b);
}

/**
 * scx_arena_bitmap_nr_bits - the size of @b in bits.
 * @b: the bitmap.
 */
static __always_inline u32 scx_arena_bitmap_nr_bits(struct scx_arena_bitmap __arena *b)
{
	__scx_bm_pin(b);
	return b->nr_bits;
}

/**
 * scx_arena_bitmap_set - set bit @bit of @b.
 * @b: the bitmap.
 * @bit: the bit, below nr_bits.
 *
 * Atomic (a BPF fetch-or on the word), so concurrent set/clear of other
 * bits of the same word are not lost. Returns 0, or -EINVAL when @bit is
 * out of range.
 */
static __always_inline int scx_arena_bitmap_set(struct scx_arena_bitmap __arena *b, u32 bit)
{
	__scx_bm_pin(b);
	if (bit >= b->nr_bits)
		return -EINVAL;
	__sync_fetch_and_or(&b->words[bit / 64], 1ull << (bit % 64));
	return 0;
}

/**
 * scx_arena_bitmap_clear - clear bit @bit of @b.
 * @b: the bitmap.
 * @bit: the bit, below nr_bits.
 *
 * Atomic like scx_arena_bitmap_set(). Returns 0, or -EINVAL when @bit is
 * out of range.
 */
static __always_inline int scx_arena_bitmap_clear(struct scx_arena_bitmap __arena *b, u32 bit)
{
	__scx_bm_pin(b);
	if (bit >= b->nr_bits)
		return -EINVAL;
	__sync_fetch_and_and(&b->words[bit / 64], ~(1ull << (bit % 64)));
	return 0;
}

/**
 * scx_arena_bitmap_test - whether bit @bit of @b is set.
 * @b: the bitmap.
 * @bit: the bit; false when out of range.
 */
static __always_inline bool scx_arena_bitmap_test(struct scx_arena_bitmap __arena *b, u32 bit)
{
	__scx_bm_pin(b);
	if (bit >= b->nr_bits)
		return false;
	return (*(volatile u64 __arena *)&b->words[bit / 64] >> (bit % 64)) & 1;
}

/**
 * scx_arena_bitmap_test_and_set - atomically set bit @bit, returning its old value.
 * @b: the bitmap.
 * @bit: the bit, below nr_bits.
 *
 * Returns 0 when this call set the bit (it was clear: the caller claimed
 * it), 1 when it was already set, -EINVAL when @bit is out of range. Of
 * several CPUs racing to set one bit exactly one gets 0. A compare-and-swap
 * loop on the word (the x86 JIT has no fetching and/or on arena memory);
 * it retries only when another CPU changed the word in between, and gives
 * up with -EBUSY (nothing changed) after SCX_ARENA_BITMAP_CAS_TRIES tries.
 */
static __always_inline int scx_arena_bitmap_test_and_set(struct scx_arena_bitmap __arena *b,
							 u32 bit)
{
	return __scx_arena_bitmap_tas(b, bit, 1);
}

/**
 * scx_arena_bitmap_test_and_clear - atomically clear bit @bit, returning its old value.
 * @b: the bitmap.
 * @bit: the bit, below nr_bits.
 *
 * Returns 1 when this call cleared the bit (it was set: e.g. the caller
 * claimed an idle CPU), 0 when it was already clear, -EINVAL when @bit is
 * out of range, -EBUSY as scx_arena_bitmap_test_and_set(). Of several CPUs
 * racing to clear one set bit exactly one gets 1.
 */
static __always_inline int scx_arena_bitmap_test_and_clear(struct scx_arena_bitmap __arena *b,
							   u32 bit)
{
	return __scx_arena_bitmap_tas(b, bit, 0);
}

/**
 * scx_arena_bitmap_fill - set every bit of @b.
 * @b: the bitmap.
 *
 * Bits past nr_bits stay clear. Returns 0, or -EINVAL for a NULL @b.
 */
static __always_inline int scx_arena_bitmap_fill(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_fill(b, 1);
}

/**
 * scx_arena_bitmap_zero - clear every bit of @b.
 * @b: the bitmap.
 *
 * Returns 0, or -EINVAL for a NULL @b.
 */
static __always_inline int scx_arena_bitmap_zero(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_fill(b, 0);
}

/**
 * scx_arena_bitmap_and - @dst = @a & @b.
 * @dst: the result; may be @a or @b.
 * @a: a bitmap.
 * @b: a bitmap.
 *
 * All three must have the same nr_bits. Returns 0, or -EINVAL (nothing
 * written) for NULL or differently sized bitmaps.
 */
static __always_inline int scx_arena_bitmap_and(struct scx_arena_bitmap __arena *dst,
						struct scx_arena_bitmap __arena *a,
						struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_op(dst, a, b, __SCX_BM_AND);
}

/**
 * scx_arena_bitmap_or - @dst = @a | @b.
 * @dst: the result; may be @a or @b.
 * @a: a bitmap.
 * @b: a bitmap.
 *
 * Returns as scx_arena_bitmap_and().
 */
static __always_inline int scx_arena_bitmap_or(struct scx_arena_bitmap __arena *dst,
					       struct scx_arena_bitmap __arena *a,
					       struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_op(dst, a, b, __SCX_BM_OR);
}

/**
 * scx_arena_bitmap_andnot - @dst = @a & ~@b.
 * @dst: the result; may be @a or @b.
 * @a: a bitmap.
 * @b: a bitmap.
 *
 * Returns as scx_arena_bitmap_and().
 */
static __always_inline int scx_arena_bitmap_andnot(struct scx_arena_bitmap __arena *dst,
						   struct scx_arena_bitmap __arena *a,
						   struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_op(dst, a, b, __SCX_BM_ANDNOT);
}

/**
 * scx_arena_bitmap_copy - @dst = @src.
 * @dst: the result.
 * @src: a bitmap of the same size.
 *
 * Returns as scx_arena_bitmap_and().
 */
static __always_inline int scx_arena_bitmap_copy(struct scx_arena_bitmap __arena *dst,
						 struct scx_arena_bitmap __arena *src)
{
	return __scx_arena_bitmap_op(dst, src, src, __SCX_BM_COPY);
}

/**
 * scx_arena_bitmap_equal - whether @a and @b hold the same bits.
 * @a: a bitmap.
 * @b: a bitmap.
 *
 * False for NULL or differently sized bitmaps.
 */
static __always_inline bool scx_arena_bitmap_equal(struct scx_arena_bitmap __arena *a,
						   struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_cmp(a, b, __SCX_BM_EQUAL) == 1;
}

/**
 * scx_arena_bitmap_subset - whether every bit of @a is set in @b.
 * @a: a bitmap.
 * @b: a bitmap of the same size.
 *
 * False for NULL or differently sized bitmaps.
 */
static __always_inline bool scx_arena_bitmap_subset(struct scx_arena_bitmap __arena *a,
						    struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_cmp(a, b, __SCX_BM_SUBSET) == 1;
}

/**
 * scx_arena_bitmap_intersects - whether @a and @b share a set bit.
 * @a: a bitmap.
 * @b: a bitmap of the same size.
 *
 * False for NULL or differently sized bitmaps.
 */
static __always_inline bool scx_arena_bitmap_intersects(struct scx_arena_bitmap __arena *a,
							struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_cmp(a, b, __SCX_BM_INTERSECTS) == 1;
}

/**
 * scx_arena_bitmap_first - the lowest set bit of @b.
 * @b: the bitmap.
 *
 * Returns the bit, or -ENOENT when none is set (or @b is NULL).
 */
static __always_inline s32 scx_arena_bitmap_first(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_find(b, -1, 0);
}

/**
 * scx_arena_bitmap_next - the lowest set bit of @b above @n.
 * @b: the bitmap.
 * @n: the bit after which to look; -1 (or lower) gives the first set bit.
 *
 * Returns the bit, or -ENOENT when no bit above @n is set (also for @n at
 * or past the last bit).
 */
static __always_inline s32 scx_arena_bitmap_next(struct scx_arena_bitmap __arena *b, s32 n)
{
	return __scx_arena_bitmap_find(b, n, 0);
}

/**
 * scx_arena_bitmap_first_zero - the lowest clear bit of @b.
 * @b: the bitmap.
 *
 * Returns the bit, or -ENOENT when all nr_bits bits are set.
 */
static __always_inline s32 scx_arena_bitmap_first_zero(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_find(b, -1, 1);
}

/**
 * scx_arena_bitmap_empty - whether no bit of @b is set.
 * @b: the bitmap.
 */
static __always_inline bool scx_arena_bitmap_empty(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_find(b, -1, 0) < 0;
}

/**
 * scx_arena_bitmap_full - whether every bit of @b is set.
 * @b: the bitmap.
 *
 * True for a bitmap of 0 bits.
 */
static __always_inline bool scx_arena_bitmap_full(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_find(b, -1, 1) < 0;
}

/**
 * scx_arena_bitmap_weight - the number of set bits of @b.
 * @b: the bitmap.
 */
static __always_inline u32 scx_arena_bitmap_weight(struct scx_arena_bitmap __arena *b)
{
	return __scx_arena_bitmap_weight(b);
}

/**
 * scx_arena_bitmap_for_each - iterate over the set bits of @b, lowest first.
 * @bit: an s32 variable, the cursor.
 * @b: the bitmap (struct scx_arena_bitmap __arena *).
 *
 * Each step is one scx_arena_bitmap_next(); at most nr_bits steps run
 * (SCX_ARENA_BITMAP_MAX_BITS at most). Bits set or cleared by the body
 * above @bit are seen or not as next() finds them. break and continue work.
 */
#define scx_arena_bitmap_for_each(bit, b)                                      \
	for (struct bpf_iter_num ___scx_bit                                    \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_bp __attribute__((unused)) =                             \
		     (bpf_iter_num_new(&___scx_bit, 0,                         \
				       scx_arena_bitmap_nr_bits(b)),           \
		      (void)bpf_iter_num_destroy, (bit) = -1, (void *)0);      \
	     bpf_iter_num_next(&___scx_bit) &&                                 \
	     ((bit) = scx_arena_bitmap_next((b), (bit))) >= 0;)

/* ---------------------------------------------------------------------------
 * Kernel cpumasks (the bpf_cpumask kfuncs; callable from sched_ext callbacks
 * and syscall programs).
 */

struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
void bpf_cpumask_clear(struct bpf_cpumask *cpumask) __ksym;

/**
 * scx_arena_bitmap_from_cpumask - @b = the CPUs of kernel mask @mask.
 * @b: the bitmap; CPU n is bit n.
 * @mask: a kernel cpumask (e.g. p->cpus_ptr, or a struct bpf_cpumask cast
 *        to const struct cpumask *).
 *
 * CPUs at or above nr_bits are left out. One bpf_cpumask_test_cpu() per
 * bit of @b. Returns 0, or -EINVAL for a NULL @b.
 */
static __always_inline int scx_arena_bitmap_from_cpumask(struct scx_arena_bitmap __arena *b,
							 const struct cpumask *mask)
{
	u32 nr, cpu;

	__scx_bm_pin(b);
	if (!b)
		return -EINVAL;
	__scx_arena_bitmap_fill(b, 0);
	nr = b->nr_bits;
	bpf_for(cpu, 0, nr) {
		if (bpf_cpumask_test_cpu(cpu, mask))
			__sync_fetch_and_or(&b->words[cpu / 64], 1ull << (cpu % 64));
	}
	return 0;
}

/**
 * scx_arena_bitmap_to_cpumask - kernel mask @dst = the bits of @b.
 * @dst: a struct bpf_cpumask the caller owns (from bpf_cpumask_create()).
 * @b: the bitmap; bit n is CPU n.
 *
 * @dst is cleared first. Bits for CPUs the kernel does not have (at or
 * above nr_cpu_ids) are dropped by bpf_cpumask_set_cpu(). Returns 0, or
 * -EINVAL for a NULL @b.
 */
static __always_inline int scx_arena_bitmap_to_cpumask(struct bpf_cpumask *dst,
						       struct scx_arena_bitmap __arena *b)
{
	u32 nr, w, j;
	u64 word;

	__scx_bm_pin(b);
	if (!b)
		return -EINVAL;
	bpf_cpumask_clear(dst);
	nr = SCX_ARENA_BITMAP_WORDS(b->nr_bits);
	bpf_for(w, 0, nr) {
		word = b->words[w];
		if (!word)
			continue;
		bpf_for(j, 0, 64) {
			if ((word >> j) & 1)
				bpf_cpumask_set_cpu(w * 64 + j, dst);
		}
	}
	return 0;
}

/**
 * scx_arena_bitmap_to_new_cpumask - a new kernel mask holding the bits of @b.
 * @b: the bitmap.
 *
 * Returns a struct bpf_cpumask the caller owns (release it with
 * bpf_cpumask_release() or store it as a kptr), or NULL when the kernel
 * could not allocate one or @b is NULL.
 */
static __always_inline struct bpf_cpumask *
scx_arena_bitmap_to_new_cpumask(struct scx_arena_bitmap __arena *b)
{
	struct bpf_cpumask *m;

	if (!b)
		return NULL;
	m = bpf_cpumask_create();
	if (!m)
		return NULL;
	scx_arena_bitmap_to_cpumask(m, b);
	return m;
}
