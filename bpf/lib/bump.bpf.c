/* SPDX-License-Identifier: GPL-2.0-only */
/* The bump allocator of scx_arena/bump.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

#define BLOCK_BYTES ((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER)

u64 __scx_arena_bump_alloc(u64 size, u64 align)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_bump __arena *b;
	u64 off, blk, p = 0, i;

	if (!r || !size || size > BLOCK_BYTES || !align || align > __PAGE_SIZE ||
	    (align & (align - 1)))
		return 0;
	/* Whole words, so the zeroing below stays inside the allocation. */
	size = (size + 7) & ~7ull;
	if (align < 8)
		align = 8;
	b = &r->bump;
	if (scx_arena_lock_acquire_or_error(&b->lock, "bump"))
		return 0;
	off = (b->off + align - 1) & ~(align - 1);
	if (!b->cur || off + size > BLOCK_BYTES) {
		/* Current block used up: start a new one (its tail is lost). */
		blk = __scx_arena_buddy_alloc(SCX_ARENA_BUDDY_MAX_ORDER, 0);
		if (!blk) {
			b->nr_failed++;
			goto out;
		}
		b->cur = blk;
		b->nr_blocks++;
		off = 0;
	}
	p = b->cur + off;
	b->off = off + size;
	b->bytes += size;
out:
	scx_arena_lock_release(&b->lock);
	if (!p)
		return 0;
#ifdef SCX_ARENA_CHECKED
	__scx_arena_check_open(p, size);
#endif
	/*
	 * Fresh chunks are zeroed by the kernel, but a block may come back
	 * from the buddy allocator used: zero what we hand out, a word at a
	 * time (memset on arena memory miscompiles with clang < 22).
	 */
	bpf_for(i, 0, BLOCK_BYTES / 8) {
		if (i * 8 >= size)
			break;
		*scx_arena_from_u64(u64, p + i * 8) = 0;
	}
	return p;
}
