/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/alloc.h - the allocator front end: malloc-style allocation in
 * the arena, and the root that ties the allocators together.
 *
 *	struct task_ctx __arena *tctx = scx_arena_new(struct task_ctx);
 *	...
 *	scx_arena_free(tctx);
 *
 * Sizes up to 2 KiB come from the slab allocator (slab.h), larger ones up to
 * 512 KiB from the buddy allocator (buddy.h). Allocation fails with NULL when
 * the arena is exhausted, never blocks and never loops unbounded.
 *
 * The root is one arena page holding every allocator's state; its address is
 * in the .bss variable scx_arena_alloc_root, where userspace finds it
 * (scx_arena::alloc). It is created by the first allocation.
 */
#pragma once

#include <scx_arena/buddy.h>
#include <scx_arena/slab.h>
#include <scx_arena/bump.h>
#include <scx_arena/check.h>

#define SCX_ARENA_ROOT_MAGIC 0x5c7a2007a110c000ull
#define SCX_ARENA_ROOT_VERSION 1

struct scx_arena_root {
	u64 magic;
	u32 version;
	u32 page_size;
	u64 base;         /* arena start (user address) */
	u64 nr_pages;     /* arena size in pages */
	struct scx_arena_buddy buddy;
	struct scx_arena_slab slab;
	struct scx_arena_bump bump;
	struct scx_arena_check check;
};

_Static_assert(sizeof(struct scx_arena_root) <= __PAGE_SIZE, "root fits a page");

/* Address of the root page, 0 until the first allocation. */
extern u64 scx_arena_alloc_root;

u64 __scx_arena_root_get(void);

/*
 * The root if it exists, else NULL; never creates it. Where no root exists
 * nothing was allocated yet, so lookups (page states, checked-mode shadow)
 * have nothing to find. Unlike scx_arena_root() it calls nothing that may
 * allocate arena pages, which matters to the verifier: a global function
 * that can reach bpf_arena_alloc_pages() "may sleep" where that kfunc is
 * sleepable (6.18), and may then not be called with preemption disabled.
 */
static __always_inline struct scx_arena_root __arena *scx_arena_root_peek(void)
{
	u64 r = scx_arena_alloc_root;

	scx_arena_assoc();
	return scx_arena_from_u64(struct scx_arena_root, r);
}

/*
 * The root, created on first use; NULL if it could not be (arena full, or a
 * racing creator still at work).
 */
static __always_inline struct scx_arena_root __arena *scx_arena_root(void)
{
	struct scx_arena_root __arena *r = scx_arena_root_peek();

	if (!r)
		r = scx_arena_from_u64(struct scx_arena_root, __scx_arena_root_get());
	return r;
}

/*
 * The slab's per-CPU fast paths (see slab.h), inlined at the top of the
 * library's global entry points (__scx_arena_alloc, __scx_arena_slab_alloc,
 * __scx_arena_slab_free): no lock, no shared cache line, no further call.
 * They stay out of callers' programs on purpose: inlined into a loop of a
 * caller, their branches multiply the states the verifier explores (a heap
 * test then exceeded the 1M-instruction limit), while a global function is
 * verified once. They return 0 when the slow path must run instead: no root
 * or no cache page yet, this CPU's stack empty (alloc) or full (free), or
 * claimed by a program we interrupted.
 */

/*
 * The caches of CPU @cpu, or NULL if it has none yet. Callers read the CPU
 * first, before any value of theirs is live: the helper call clobbers the
 * argument registers, and every value live across it takes a callee-saved
 * register or a stack slot of the caller (whose frame counts towards the
 * verifier's 512-byte limit over the whole call chain).
 */
static __always_inline struct scx_arena_slab_pcpu __arena *
__scx_arena_slab_cpu(struct scx_arena_root __arena *r, u32 cpu)
{
	u64 __arena *table = scx_arena_from_u64(u64, r->slab.pcpu);

	if (cpu >= SCX_ARENA_SLAB_MAX_CPUS)
		return NULL;
	return scx_arena_from_u64(struct scx_arena_slab_pcpu, table[cpu]);
}

/*
 * Claims this CPU's stack of class @cls in @pc with one compare-and-swap on
 * its busy flag (uncontended and in this CPU's cache, it costs about a plain
 * store). NULL if a program we interrupted or preempted holds it.
 */
static __always_inline struct scx_arena_slab_stack __arena *
__scx_arena_slab_claim(struct scx_arena_slab_pcpu __arena *pc, u32 cls)
{
	struct scx_arena_slab_stack __arena *st = &pc->stack[cls];

	if (__sync_val_compare_and_swap(&st->busy, 0, 1))
		return NULL;
	return st;
}

/* Ends the claim: only this CPU touches its stacks, a plain store will do. */
static __always_inline void __scx_arena_slab_unclaim(struct scx_arena_slab_stack __arena *st)
{
	barrier();
	st->busy = 0;
}

/* Pops an object of class @cls from this CPU's stack; 0 if none. */
static __always_inline u64 __scx_arena_slab_alloc_fast(u32 cls)
{
	u32 cpu = bpf_get_smp_processor_id(), cnt;
	u64 root = scx_arena_alloc_root, obj = 0;
	struct scx_arena_slab_pcpu __arena *pc;
	struct scx_arena_slab_stack __arena *st;

	scx_arena_assoc();
	if (!root)
		return 0;
	cls &= SCX_ARENA_SLAB_NR_CLASSES - 1;
	pc = __scx_arena_slab_cpu(scx_arena_from_u64(struct scx_arena_root, root), cpu);
	if (!pc || !pc->stack[cls].count)
		return 0;
	st = __scx_arena_slab_claim(pc, cls);
	if (!st)
		return 0;
	cnt = st->count;
	if (cnt && cnt <= SCX_ARENA_SLAB_CACHE) {
		cnt--;
		obj = st->objs[cnt & (SCX_ARENA_SLAB_CACHE - 1)];
		st->count = cnt;
		pc->nr_alloc[cls]++;
	}
	__scx_arena_slab_unclaim(st);
	return obj;
}

/*
 * Pushes @obj on this CPU's stack of its class if it is an object of a slab
 * below the slab's high mark; 0 if the slow path must take it (which also
 * reports invalid frees).
 */
static __always_inline int __scx_arena_slab_free_fast(u64 obj)
{
	u32 cpu = bpf_get_smp_processor_id(), cls, cnt, size, first;
	u64 root = scx_arena_alloc_root, base, s, rel;
	struct scx_arena_root __arena *r;
	struct scx_arena_slab_pcpu __arena *pc;
	struct scx_arena_slab_stack __arena *st;
	struct scx_arena_slab_hdr __arena *h;
	int done = 0;

	scx_arena_assoc();
	if (!root)
		return 0;
	r = scx_arena_from_u64(struct scx_arena_root, root);
	base = r->base;
	if (obj < base)
		return 0;
	s = base + ((obj - base) & ~(SCX_ARENA_SLAB_BYTES - 1));
	h = scx_arena_from_u64(struct scx_arena_slab_hdr, s);
	cls = h->cls;
	if (cls >= SCX_ARENA_SLAB_NR_CLASSES || h->magic != (SCX_ARENA_SLAB_MAGIC | cls))
		return 0;
	size = 16u << cls;
	first = __scx_arena_slab_first(size);
	rel = obj - s;
	if (rel < first || rel >= h->mark || ((rel - first) & (size - 1)))
		return 0;
	pc = __scx_arena_slab_cpu(r, cpu);
	if (!pc || pc->stack[cls].count >= SCX_ARENA_SLAB_CACHE)
		return 0;
	st = __scx_arena_slab_claim(pc, cls);
	if (!st)
		return 0;
	cnt = st->count;
	if (cnt < SCX_ARENA_SLAB_CACHE) {
		st->objs[cnt] = obj;
		st->count = cnt + 1;
		pc->nr_free[cls]++;
		done = 1;
	}
	__scx_arena_slab_unclaim(st);
	return done;
}

/**
 * scx_arena_slab_alloc - allocate one object of class @cls.
 *
 * Most callers want scx_arena_alloc(), which picks the class. Returns NULL
 * when the arena is exhausted (counted per class).
 */
static __always_inline void __arena *scx_arena_slab_alloc(u32 cls)
{
	return scx_arena_from_u64(void, __scx_arena_slab_alloc(cls));
}

/**
 * scx_arena_slab_free - free an object from scx_arena_slab_alloc().
 * @p: the object. Returns 0, or -EINVAL (and raises an error) if @p is not
 * an object of a slab.
 */
static __always_inline int scx_arena_slab_free(void __arena *p)
{
	return __scx_arena_slab_free(p);
}

/* The allocators behind the front end, without checked-mode framing. */
u64 __scx_arena_alloc(u64 size);

/*
 * __scx_arena_alloc()'s body, inline in it and in the checked front end
 * (__scx_arena_alloc_site), so that checked mode adds no call frame: the
 * allocator's chain is already close to the verifier's eight.
 */
static __always_inline u64 __scx_arena_alloc_inline(u64 size)
{
	int cls, order;

	if (!size)
		return 0;
	cls = scx_arena_slab_class(size);
	if (cls >= 0) {
		/* The fast path inline saves a nested call on a hit; a miss
		 * goes straight to the slab's slow path. */
		u64 obj = __scx_arena_slab_alloc_fast(cls);

		return obj ? obj : __scx_arena_slab_alloc_slow(cls);
	}
	order = scx_arena_buddy_order(size);
	if (order < 0)
		return 0;
	return __scx_arena_buddy_alloc(order, 0);
}

/* Frees @p to the allocator that owns it (no checked-mode framing). */
static __always_inline int __scx_arena_free_raw(void __arena *p)
{
	u64 st;

	if (!p)
		return 0;
	/*
	 * Buddy blocks start on a page; only then is the page state worth
	 * looking up (the slab validates everything else itself).
	 */
	if (!((u64)p & (__PAGE_SIZE - 1))) {
		st = __scx_arena_buddy_page_state((u64)p);
		if ((st & SCX_ARENA_PG_USED) && !(st & SCX_ARENA_PG_SLAB))
			return scx_arena_buddy_free(p);
	}
	return scx_arena_slab_free(p);
}
/* Zeroes @size bytes at @p, a word at a time (memset on arena memory
 * miscompiles with clang < 22). Returns @p. */
u64 __scx_arena_zero(u64 p, u64 size);

#ifdef SCX_ARENA_CHECKED

u64 __scx_arena_alloc_site(u64 size, u32 line, u64 file);
int __scx_arena_free_checked(u64 p);
/* Internal: shadow set-up of a new chunk, of bump memory. */
int __scx_arena_check_chunk(struct scx_arena_root __arena *r __arg_arena, u64 chunk);
int __scx_arena_check_open(u64 addr, u64 size);

/* The first 8 bytes of this file's name, as the allocation-site tag. */
#define __SCX_FC(i)                                                            \
	((u64)(sizeof(__FILE_NAME__) > (i) + 1 ? (u8)__FILE_NAME__[i] : 0) << (8 * (i)))
#define SCX_ARENA_FILE8                                                        \
	(__SCX_FC(0) | __SCX_FC(1) | __SCX_FC(2) | __SCX_FC(3) | __SCX_FC(4) |  \
	 __SCX_FC(5) | __SCX_FC(6) | __SCX_FC(7))

/* Checked mode: the allocation site is recorded with every object. */
#define scx_arena_alloc(size)                                                  \
	scx_arena_from_u64(void, __scx_arena_alloc_site((size), __LINE__, SCX_ARENA_FILE8))
#define scx_arena_zalloc(size)                                                 \
	({                                                                     \
		u64 ___sz = (size);                                            \
		scx_arena_from_u64(void, __scx_arena_zero(__scx_arena_alloc_site(___sz, __LINE__, \
							 SCX_ARENA_FILE8), ___sz)); \
	})

/* Checked mode: a bad free (double, invalid) is reported, not done. */
static __always_inline int scx_arena_free(void __arena *p)
{
	return p ? __scx_arena_free_checked((u64)p) : 0;
}

#else /* !SCX_ARENA_CHECKED */

/**
 * scx_arena_alloc - allocate @size bytes (1 to 512 KiB) of arena memory.
 *
 * Objects are aligned to their size class (power of two up to 2 KiB), larger
 * blocks to 4 KiB (in checked mode: 32 bytes). The content is not
 * initialised; see scx_arena_zalloc(). Returns NULL when @size is 0 or too
 * large, or the arena is exhausted.
 */
static __always_inline void __arena *scx_arena_alloc(u64 size)
{
	/* With a constant size the class folds away: one call to the slab. */
	if (__builtin_constant_p(size) && size && size <= SCX_ARENA_SLAB_MAX_SIZE)
		return scx_arena_slab_alloc(scx_arena_slab_class(size));
	return scx_arena_from_u64(void, __scx_arena_alloc(size));
}

/** scx_arena_zalloc - scx_arena_alloc() with the memory zeroed. */
static __always_inline void __arena *scx_arena_zalloc(u64 size)
{
	return scx_arena_from_u64(void, __scx_arena_zero(__scx_arena_alloc(size), size));
}

/**
 * scx_arena_free - free memory from scx_arena_alloc()/zalloc().
 * @p: the pointer returned; NULL is ignored.
 *
 * Returns 0, or -EINVAL (and raises an error, see error.h) when @p was not
 * returned by the allocator. (Checked mode also catches double frees.)
 */
static __always_inline int scx_arena_free(void __arena *p)
{
	return __scx_arena_free_raw(p);
}

#endif /* SCX_ARENA_CHECKED */

/** scx_arena_new - allocate a zeroed object of @type. */
#define scx_arena_new(type) ((type __arena *)scx_arena_zalloc(sizeof(type)))
