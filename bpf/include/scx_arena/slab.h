/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/slab.h - small objects in size classes, 16 B to 2 KiB.
 *
 * Objects of one class are cut from 64 KiB slabs (buddy blocks marked as
 * slabs). A slab starts with its header, so a free finds it by rounding the
 * object's arena offset down to 64 KiB. Free objects are linked through their
 * first 8 bytes; a slab never touched beyond its high mark is handed out by
 * bumping the mark, so a new slab needs no initialisation pass.
 *
 * Each CPU keeps a small stack of free objects per class. Allocation pops
 * from it and free pushes to it without any shared lock; only when the stack
 * is empty (or full) does the CPU move a batch from (or to) the slabs under
 * the class lock. The stack is claimed with a per-CPU busy flag (one
 * compare-and-swap on a word no other CPU touches) rather than a lock: if a
 * program on this CPU is interrupted or preempted mid-operation by another
 * that allocates, the second one takes the slow path instead of waiting.
 * The fast paths are inline (alloc.h); the slow paths are global functions.
 */
#pragma once

#include <scx_arena/buddy.h>

#define SCX_ARENA_SLAB_NR_CLASSES 8 /* 16 << 0 .. 16 << 7 = 2048 */
#define SCX_ARENA_SLAB_MIN_SHIFT 4
#define SCX_ARENA_SLAB_MAX_SIZE (16u << (SCX_ARENA_SLAB_NR_CLASSES - 1))
#define SCX_ARENA_SLAB_ORDER 4 /* 64 KiB slabs */
#define SCX_ARENA_SLAB_BYTES ((u64)__PAGE_SIZE << SCX_ARENA_SLAB_ORDER)
/* Objects a CPU keeps per class, and how many move per refill/flush. */
#define SCX_ARENA_SLAB_CACHE 16
#define SCX_ARENA_SLAB_BATCH (SCX_ARENA_SLAB_CACHE / 2)
/* CPUs with a private cache; higher CPU ids use the slow path. */
#define SCX_ARENA_SLAB_MAX_CPUS 512

#define SCX_ARENA_SLAB_MAGIC 0x5c7a51ab00000000ull /* | class */

/* At the start of every slab. */
struct scx_arena_slab_hdr {
	u64 magic;     /* SCX_ARENA_SLAB_MAGIC | class */
	u64 freelist;  /* first free object, or 0 */
	u64 next;      /* class partial list */
	u64 prev;
	u32 cls;
	u32 obj_size;
	u32 nr_objs;   /* objects the slab holds */
	u32 nr_free;   /* free objects (on freelist or above the mark) */
	u32 mark;      /* offset of the first never-used object */
	u32 on_partial;/* on the class partial list */
	u64 __pad;
};

/* Per-class shared state, inside the allocator root. */
struct scx_arena_slab_class {
	struct scx_arena_lock lock;
	u64 partial;         /* slabs with free objects */
	u64 nr_slabs;
	u64 nr_slabs_peak;   /* high-water mark of nr_slabs */
	u64 nr_failed;       /* allocations that got no memory */
	u64 nr_alloc_direct; /* allocations that bypassed the CPU caches */
	u64 nr_free_direct;  /* frees that bypassed the CPU caches */
};

/* One CPU's stack of free objects of one class. */
struct scx_arena_slab_stack {
	u32 busy;
	u32 count;
	u64 objs[SCX_ARENA_SLAB_CACHE];
};

/* One CPU's caches and counters, a page of its own. */
struct scx_arena_slab_pcpu {
	struct scx_arena_slab_stack stack[SCX_ARENA_SLAB_NR_CLASSES];
	u64 nr_alloc[SCX_ARENA_SLAB_NR_CLASSES];
	u64 nr_free[SCX_ARENA_SLAB_NR_CLASSES];
};

/* Slab state, inside the allocator root. */
struct scx_arena_slab {
	struct scx_arena_slab_class cls[SCX_ARENA_SLAB_NR_CLASSES];
	/* Page of SCX_ARENA_SLAB_MAX_CPUS addresses of struct scx_arena_slab_pcpu. */
	u64 pcpu;
};

/* The class of an object of @size bytes, or -1 above 2 KiB. */
static __always_inline int scx_arena_slab_class(u64 size)
{
	int cls;

	for (cls = 0; cls < SCX_ARENA_SLAB_NR_CLASSES; cls++)
		if (size <= (16ull << cls))
			return cls;
	return -1;
}

/* Offset of a class's first object in its slab: the header rounded up to the
 * object size (objects stay aligned to their size). */
static __always_inline u32 __scx_arena_slab_first(u32 size)
{
	return size < sizeof(struct scx_arena_slab_hdr) ? sizeof(struct scx_arena_slab_hdr) : size;
}

/*
 * The slow paths, global functions: they refill or flush the CPU's stack
 * under the class lock, create the CPU's cache page, bypass a claimed stack,
 * validate and report bad frees. The fast paths and the public
 * scx_arena_slab_alloc()/scx_arena_slab_free() are inline functions in
 * alloc.h, which defines the allocator root they read.
 */
u64 __scx_arena_slab_alloc(u32 cls);
/* The miss path of __scx_arena_slab_alloc() alone, for a caller that has
 * just tried __scx_arena_slab_alloc_fast() itself. */
u64 __scx_arena_slab_alloc_slow(u32 cls);
int __scx_arena_slab_free(void __arena *p __arg_arena);
