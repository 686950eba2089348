/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The word loops of the arena bitmap (scx_arena/bitmap.h). Global
 * functions: each is verified once, on its own, and a caller branching on
 * a result does not make the verifier re-walk the loop for every value.
 */
#include <scx_arena/bitmap.h>

/* Bits of @x set, without a popcount instruction (BPF has none). */
static __always_inline u32 popcount64(u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (x * 0x0101010101010101ull) >> 56;
}

/* Index of the lowest set bit of @x, which is not 0. */
static __always_inline u32 ctz64(u64 x)
{
	return popcount64((x & -x) - 1);
}

/* nr_bits of @b, clamped to the largest size. */
static __always_inline u32 nr_bits_of(struct scx_arena_bitmap __arena *b)
{
	u32 n = b->nr_bits;

	return n > SCX_ARENA_BITMAP_MAX_BITS ? SCX_ARENA_BITMAP_MAX_BITS : n;
}

/* The valid bits of the last word of a bitmap of @nr_bits bits. */
static __always_inline u64 last_mask(u32 nr_bits)
{
	return nr_bits % 64 ? (1ull << (nr_bits % 64)) - 1 : ~0ull;
}

int __scx_arena_bitmap_fill(struct scx_arena_bitmap __arena *b __arg_arena, u32 fill)
{
	u32 nr_bits, nr_words, w;
	u64 v = fill ? ~0ull : 0;

	if (!b)
		return -EINVAL;
	nr_bits = nr_bits_of(b);
	nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits);
	bpf_for(w, 0, nr_words) {
		if (w == nr_words - 1)
			b->words[w] = v & last_mask(nr_bits);
		else
			b->words[w] = v;
	}
	return 0;
}

int __scx_arena_bitmap_init(struct scx_arena_bitmap __arena *b __arg_arena, u32 nr_bits)
{
	if (!b || !nr_bits || nr_bits > SCX_ARENA_BITMAP_MAX_BITS)
		return -EINVAL;
	b->nr_bits = nr_bits;
	barrier();
	b->nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits);
	return __scx_arena_bitmap_fill(b, 0);
}

int __scx_arena_bitmap_op(struct scx_arena_bitmap __arena *dst __arg_arena,
			  struct scx_arena_bitmap __arena *a __arg_arena,
			  struct scx_arena_bitmap __arena *b __arg_arena, u32 op)
{
	u32 nr_bits, nr_words, w;
	u64 x, y, r;

	if (!dst || !a || !b)
		return -EINVAL;
	nr_bits = nr_bits_of(dst);
	if (a->nr_bits != nr_bits || b->nr_bits != nr_bits)
		return -EINVAL;
	nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits);
	bpf_for(w, 0, nr_words) {
		x = a->words[w];
		y = b->words[w];
		switch (op) {
		case __SCX_BM_AND:
			r = x & y;
			break;
		case __SCX_BM_OR:
			r = x | y;
			break;
		case __SCX_BM_ANDNOT:
			r = x & ~y;
			break;
		default:
			r = x;
		}
		dst->words[w] = r;
	}
	return 0;
}

int __scx_arena_bitmap_cmp(struct scx_arena_bitmap __arena *a __arg_arena,
			   struct scx_arena_bitmap __arena *b __arg_arena, u32 op)
{
	u32 nr_bits, nr_words, w;
	u64 x, y;

	if (!a || !b)
		return -EINVAL;
	nr_bits = nr_bits_of(a);
	if (b->nr_bits != nr_bits)
		return -EINVAL;
	nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits);
	bpf_for(w, 0, nr_words) {
		x = a->words[w];
		y = b->words[w];
		if (op == __SCX_BM_EQUAL && x != y)
			return 0;
		if (op == __SCX_BM_SUBSET && (x & ~y))
			return 0;
		if (op == __SCX_BM_INTERSECTS && (x & y))
			return 1;
	}
	return op == __SCX_BM_INTERSECTS ? 0 : 1;
}

s32 __scx_arena_bitmap_find(struct scx_arena_bitmap __arena *b __arg_arena, s32 after, u32 zero)
{
	u32 nr_bits, nr_words, start, w;
	u64 x;

	if (!b)
		return -ENOENT;
	nr_bits = nr_bits_of(b);
	if (after < -1)
		after = -1;
	if (after >= (s32)nr_bits - 1)
		return -ENOENT;
	start = after + 1;
	nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits);
	bpf_for(w, start / 64, nr_words) {
		x = b->words[w];
		if (zero)
			x = ~x;
		if (w == start / 64)
			x &= ~0ull << (start % 64);
		if (w == nr_words - 1)
			x &= last_mask(nr_bits);
		if (x)
			return w * 64 + ctz64(x);
	}
	return -ENOENT;
}

u32 __scx_arena_bitmap_weight(struct scx_arena_bitmap __arena *b __arg_arena)
{
	u32 nr_words, w, n = 0;

	if (!b)
		return 0;
	nr_words = SCX_ARENA_BITMAP_WORDS(nr_bits_of(b));
	bpf_for(w, 0, nr_words)
		n += popcount64(b->words[w]);
	return n;
}

int __scx_arena_bitmap_tas(struct scx_arena_bitmap __arena *b __arg_arena, u32 bit, u32 set)
{
	u64 mask = 1ull << (bit % 64), old, new, seen;
	u64 __arena *w;
	u32 i;

	if (!b || bit >= b->nr_bits)
		return -EINVAL;
	w = &b->words[bit / 64];
	old = *(volatile u64 __arena *)w;
	/*
	 * old is a fresh load or the value the swap saw: never a value the
	 * verifier tracks, so the loop's states converge.
	 */
	bpf_for(i, 0, SCX_ARENA_BITMAP_CAS_TRIES) {
		if (set ? (old & mask) : !(old & mask))
			return set ? 1 : 0;
		new = set ? (old | mask) : (old & ~mask);
		seen = __sync_val_compare_and_swap(w, old, new);
		if (seen == old)
			return set ? 0 : 1;
		old = seen;
	}
	return -EBUSY;
}
