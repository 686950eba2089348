/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Allocator micro-benchmarks, run on the host by benches/src/bin/alloc-bench.rs
 * through BPF_PROG_TEST_RUN. BPF_PROG_TEST_RUN rejects `repeat` for syscall
 * programs, so each program loops ctx->iters times itself (bpf_for) and
 * times the loop with bpf_ktime_get_ns().
 *
 * Patterns:
 *   once  allocate, then free at once (the allocator's fast path)
 *   hold  a ring of BENCH_RING live objects per thread: each step frees the
 *         oldest object and allocates a new one in its slot (filled before
 *         the timed loop, drained after it)
 *
 * Allocators: the scx-arena slab (scx_arena_alloc/free), buddy
 * (scx_arena_buddy_alloc/free) and bump (alloc only: it has no free), and the
 * kernel's bpf_obj_new/bpf_obj_drop of a program-local struct of the same
 * size; its hold model keeps the objects as __kptr fields in an array map.
 * bench_empty runs the same loop doing only the ring bookkeeping, for the
 * loop overhead the Rust side subtracts.
 */
#include <scx_arena/alloc.h>
#include <bpf_experimental.h>
#include "alloc_bench.h"

char _license[] SEC("license") = "GPL";

/* One ring per thread for the arena allocators' hold model. */
u64 __arena_global bench_ring[BENCH_MAX_THREADS * BENCH_RING];
/* What bench_empty reads and writes. */
u64 __arena_global bench_empty_ring[BENCH_MAX_THREADS * BENCH_RING];

#define RING_MASK (BENCH_RING - 1)
_Static_assert((BENCH_RING & RING_MASK) == 0, "ring size is a power of two");

/* This thread's ring in @rings, or NULL for a bad thread index. */
#define THREAD_RING(rings, a)                                                   \
	((a)->thread < BENCH_MAX_THREADS ? &(rings)[(a)->thread * BENCH_RING] : NULL)

SEC("syscall")
int bench_empty(struct bench_args *a)
{
	u64 __arena *ring = THREAD_RING(bench_empty_ring, a);
	u32 iters = a->iters;
	u64 t0;
	int i;

	scx_arena_assoc();
	if (!ring)
		return -EINVAL;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		u64 __arena *s = &ring[i & RING_MASK];

		*s = *s + 1;
		barrier();
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters;
	return 0;
}

/* ---- scx-arena slab (the malloc-style front end) ---- */

SEC("syscall")
int bench_slab_once(struct bench_args *a)
{
	u32 iters = a->iters;
	u64 size = a->size, t0;
	int i;

	a->failed = 0;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		void __arena *p = scx_arena_alloc(size);

		if (!p) {
			a->failed++;
			continue;
		}
		scx_arena_free(p);
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters - a->failed;
	return 0;
}

SEC("syscall")
int bench_slab_hold(struct bench_args *a)
{
	u64 __arena *ring = THREAD_RING(bench_ring, a);
	u32 iters = a->iters;
	u64 size = a->size, t0;
	int i;

	scx_arena_assoc();
	if (!ring)
		return -EINVAL;
	a->failed = 0;
	bpf_for(i, 0, BENCH_RING)
		ring[i] = (u64)scx_arena_alloc(size);
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		u64 __arena *s = &ring[i & RING_MASK];
		u64 p;

		scx_arena_free(scx_arena_from_u64(void, *s));
		p = (u64)scx_arena_alloc(size);
		if (!p)
			a->failed++;
		*s = p;
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters - a->failed;
	bpf_for(i, 0, BENCH_RING) {
		scx_arena_free(scx_arena_from_u64(void, ring[i]));
		ring[i] = 0;
	}
	return 0;
}

/* ---- scx-arena buddy (4 KiB .. 512 KiB blocks) ---- */

SEC("syscall")
int bench_buddy_once(struct bench_args *a)
{
	int order = scx_arena_buddy_order(a->size);
	u32 iters = a->iters;
	u64 t0;
	int i;

	if (order < 0)
		return -EINVAL;
	a->failed = 0;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		void __arena *p = scx_arena_buddy_alloc(order);

		if (!p) {
			a->failed++;
			continue;
		}
		scx_arena_buddy_free(p);
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters - a->failed;
	return 0;
}

SEC("syscall")
int bench_buddy_hold(struct bench_args *a)
{
	u64 __arena *ring = THREAD_RING(bench_ring, a);
	int order = scx_arena_buddy_order(a->size);
	u32 iters = a->iters;
	u64 t0;
	int i;

	scx_arena_assoc();
	if (!ring || order < 0)
		return -EINVAL;
	a->failed = 0;
	bpf_for(i, 0, BENCH_RING)
		ring[i] = (u64)scx_arena_buddy_alloc(order);
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		u64 __arena *s = &ring[i & RING_MASK];
		u64 p;

		scx_arena_buddy_free(scx_arena_from_u64(void, *s));
		p = (u64)scx_arena_buddy_alloc(order);
		if (!p)
			a->failed++;
		*s = p;
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters - a->failed;
	bpf_for(i, 0, BENCH_RING) {
		scx_arena_buddy_free(scx_arena_from_u64(void, ring[i]));
		ring[i] = 0;
	}
	return 0;
}

/* ---- scx-arena bump (alloc only: bump memory is never freed) ---- */

SEC("syscall")
int bench_bump(struct bench_args *a)
{
	u32 iters = a->iters;
	u64 size = a->size, t0;
	int i;

	a->failed = 0;
	t0 = bpf_ktime_get_ns();
	bpf_for(i, 0, iters) {
		if (!scx_arena_bump_alloc(size, 8))
			a->failed++;
	}
	a->elapsed_ns = bpf_ktime_get_ns() - t0;
	a->ops = iters - a->failed;
	return 0;
}

/* ---- the kernel's bpf_obj_new / bpf_obj_drop ---- */

/*
 * One struct, kptr slot map and pair of programs per size: bpf_obj_new takes
 * the program-local BTF id of a type, a compile-time constant. (The kernel
 * allocates objects up to 4 KiB including its 8-byte header, so none for
 * the buddy sizes.)
 */
#define OBJNEW_BENCH(N)                                                         \
	struct bench_obj_##N {                                                  \
		u8 data[N];                                                     \
	};                                                                      \
	struct bench_kslot_##N {                                                \
		struct bench_obj_##N __kptr *p;                                 \
	};                                                                      \
	struct {                                                                \
		__uint(type, BPF_MAP_TYPE_ARRAY);                               \
		__uint(max_entries, BENCH_MAX_THREADS * BENCH_RING);            \
		__type(key, u32);                                               \
		__type(value, struct bench_kslot_##N);                          \
	} bench_kptrs_##N SEC(".maps");                                         \
                                                                                \
	SEC("syscall")                                                          \
	int bench_objnew_once_##N(struct bench_args *a)                         \
	{                                                                       \
		u32 iters = a->iters;                                           \
		u64 t0;                                                         \
		int i;                                                          \
                                                                                \
		a->failed = 0;                                                  \
		t0 = bpf_ktime_get_ns();                                        \
		bpf_for(i, 0, iters) {                                          \
			struct bench_obj_##N *o = bpf_obj_new(struct bench_obj_##N); \
                                                                                \
			if (!o) {                                               \
				a->failed++;                                    \
				continue;                                       \
			}                                                       \
			bpf_obj_drop(o);                                        \
		}                                                               \
		a->elapsed_ns = bpf_ktime_get_ns() - t0;                        \
		a->ops = iters - a->failed;                                     \
		return 0;                                                       \
	}                                                                       \
                                                                                \
	/* Puts @o (NULL, or checked non-NULL) in slot @key, dropping what    \
	 * was there. */                                                        \
	static __always_inline void kslot_put_##N(u32 key, struct bench_obj_##N *o) \
	{                                                                       \
		struct bench_kslot_##N *v = bpf_map_lookup_elem(&bench_kptrs_##N, &key); \
		struct bench_obj_##N *old;                                      \
                                                                                \
		if (!v) {                                                       \
			if (o)                                                  \
				bpf_obj_drop(o);                                \
			return;                                                 \
		}                                                               \
		old = bpf_kptr_xchg(&v->p, o);                                  \
		if (old)                                                        \
			bpf_obj_drop(old);                                      \
	}                                                                       \
                                                                                \
	SEC("syscall")                                                          \
	int bench_objnew_hold_##N(struct bench_args *a)                         \
	{                                                                       \
		u32 iters = a->iters, base;                                     \
		u64 t0;                                                         \
		int i;                                                          \
                                                                                \
		if (a->thread >= BENCH_MAX_THREADS)                             \
			return -EINVAL;                                         \
		base = a->thread * BENCH_RING;                                  \
		a->failed = 0;                                                  \
		bpf_for(i, 0, BENCH_RING) {                                     \
			/* Only a checked pointer may go to bpf_kptr_xchg. */   \
			struct bench_obj_##N *o = bpf_obj_new(struct bench_obj_##N); \
                                                                                \
			if (o)                                                  \
				kslot_put_##N(base + i, o);                     \
		}                                                               \
		t0 = bpf_ktime_get_ns();                                        \
		bpf_for(i, 0, iters) {                                          \
			u32 key = base + (i & RING_MASK);                       \
			struct bench_obj_##N *o;                                \
                                                                                \
			kslot_put_##N(key, NULL);                               \
			o = bpf_obj_new(struct bench_obj_##N);                  \
			if (!o) {                                               \
				a->failed++;                                    \
				continue;                                       \
			}                                                       \
			kslot_put_##N(key, o);                                  \
		}                                                               \
		a->elapsed_ns = bpf_ktime_get_ns() - t0;                        \
		a->ops = iters - a->failed;                                     \
		bpf_for(i, 0, BENCH_RING)                                       \
			kslot_put_##N(base + i, NULL);                          \
		return 0;                                                       \
	}

OBJNEW_BENCH(16)
OBJNEW_BENCH(32)
OBJNEW_BENCH(64)
OBJNEW_BENCH(128)
OBJNEW_BENCH(256)
OBJNEW_BENCH(512)
OBJNEW_BENCH(1024)
OBJNEW_BENCH(2048)

/* ---- memory overhead of the slab ---- */

/*
 * Allocates ctx->iters objects of ctx->size bytes, records the size class's
 * slab count and the buddy allocator's pages in use before and with all of
 * them live, then frees them. The live objects are chained through their
 * first word (the list head kept in the ctx, out of registers).
 */
SEC("syscall")
int bench_mem(struct bench_args *a)
{
	struct scx_arena_root __arena *r;
	int cls = scx_arena_slab_class(a->size);
	u32 n = a->iters;
	u64 size = a->size;
	int i;

	if (cls < 0 || cls >= SCX_ARENA_SLAB_NR_CLASSES || size < 8)
		return -EINVAL;
	/*
	 * Creates the root without allocating: a slab made before the count
	 * would hold some of the objects without being counted.
	 */
	r = scx_arena_root();
	if (!r)
		return -ENOMEM;
	a->failed = 0;
	a->head = 0;
	a->slab_bytes = SCX_ARENA_SLAB_BYTES;
	a->slabs_before = r->slab.cls[cls].nr_slabs;
	a->pages_before = r->buddy.pages_used;
	bpf_for(i, 0, n) {
		u64 __arena *p = scx_arena_alloc(size);

		if (!p) {
			a->failed++;
			continue;
		}
		*p = a->head;
		a->head = (u64)p;
	}
	a->slabs_after = r->slab.cls[cls].nr_slabs;
	a->pages_after = r->buddy.pages_used;
	a->ops = n - a->failed;
	bpf_for(i, 0, n) {
		u64 p = a->head;

		if (!p)
			break;
		a->head = *scx_arena_from_u64(u64, p);
		scx_arena_free(scx_arena_from_u64(void, p));
	}
	return 0;
}
