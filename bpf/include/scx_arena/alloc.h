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
 * The root, created on first use; NULL if it could not be (arena full, or a
 * racing creator still at work).
 */
static __always_inline struct scx_arena_root __arena *scx_arena_root(void)
{
	u64 r = scx_arena_alloc_root;

	scx_arena_assoc();
	if (!r)
		r = __scx_arena_root_get();
	return scx_arena_from_u64(struct scx_arena_root, r);
}

/* The allocators behind the front end, without checked-mode framing. */
u64 __scx_arena_alloc(u64 size);

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
/* Internal: shadow set-up of the root, of a new chunk, of bump memory. */
int __scx_arena_check_init(struct scx_arena_root __arena *r __arg_arena);
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
