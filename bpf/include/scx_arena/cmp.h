/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/cmp.h - comparisons and selections without jumps.
 *
 * BPF has no conditional move: clang turns every comparison and every
 * `c ? a : b` into a conditional jump. On data the CPU cannot predict -
 * which of two children of a heap slot is smaller, which way a search goes
 * at a tree node - that jump is mispredicted about half the time, which
 * costs more than the few ALU instructions these helpers use instead:
 *
 *	c += scx_arena_ltu(e[c + 1].key, e[c].key);      // the smaller child
 *	min = scx_arena_select(a, b, scx_arena_ltu(b, a));
 *
 * Verifier cost: recent verifiers (this host's 6.18.44 among them) split
 * their state in two at an AND or OR of a constant with a register they
 * know to be 0 or -1, such as a mask from scx_arena_ltu_mask() (`m & 64`).
 * Once per call that is cheap; in a loop it doubles the paths per such
 * instruction and iteration. Keep such loops in global functions, which
 * the verifier checks once with unknown arguments and whose paths it can
 * merge, or take the bit by a shift the compiler cannot fold back into the
 * AND (the heap's __scx_heap_place64()). Inlined into its callers with
 * `m & 64`, the heap's sift ran past the verifier's limits, and on the
 * 6.18.44 host the overflow of its branch stack at such a split crashed
 * the verifier (a NULL dereference in maybe_fork_scalars(), which there
 * expects an error pointer from push_stack(), not the NULL that kernel's
 * push_stack() returns).
 */
#pragma once

#include <scx_arena/arena.h>

/* Bit 63: the borrow of @a - @b, set when @a < @b (Hacker's Delight, 2-12). */
static __always_inline u64 __scx_arena_borrow(u64 a, u64 b)
{
	return (~a & b) | ((~a | b) & (a - b));
}

/**
 * scx_arena_ltu - 1 when @a < @b (unsigned), else 0, without a jump.
 * @a: left operand.
 * @b: right operand.
 */
static __always_inline u64 scx_arena_ltu(u64 a, u64 b)
{
	return __scx_arena_borrow(a, b) >> 63;
}

/**
 * scx_arena_ltu_mask - all ones when @a < @b (unsigned), else 0, without a
 * jump: scx_arena_ltu()'s borrow spread by an arithmetic shift, one
 * instruction shorter than negating the 0/1 for scx_arena_select_mask().
 * @a: left operand.
 * @b: right operand.
 */
static __always_inline u64 scx_arena_ltu_mask(u64 a, u64 b)
{
	return (u64)((s64)__scx_arena_borrow(a, b) >> 63);
}

/**
 * scx_arena_select_mask - @a when @mask is 0, @b when it is all ones,
 * without a jump.
 * @a: the value for 0.
 * @b: the value for all ones.
 * @mask: 0 or ~0 (e.g. the sign of a difference, shifted right by 63).
 */
static __always_inline u64 scx_arena_select_mask(u64 a, u64 b, u64 mask)
{
	/* An opaque mask: clang would turn the merge back into a jump. */
	asm volatile("" : "+r"(mask));
	return a ^ ((a ^ b) & mask);
}

/**
 * scx_arena_select - @a when @cond is 0, @b when it is 1, without a jump.
 * @a: the value for 0.
 * @b: the value for 1.
 * @cond: 0 or 1 (e.g. from scx_arena_ltu()).
 */
static __always_inline u64 scx_arena_select(u64 a, u64 b, u64 cond)
{
	return scx_arena_select_mask(a, b, -cond);
}
