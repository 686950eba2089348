/* SPDX-License-Identifier: GPL-2.0-only */
/* The slab allocator of scx_arena/slab.h. */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

typedef struct scx_arena_slab_hdr __arena *slab_t;

static __always_inline slab_t slab(u64 addr)
{
	return scx_arena_from_u64(struct scx_arena_slab_hdr, addr);
}

/* This CPU's caches, created on first use; NULL above SCX_ARENA_SLAB_MAX_CPUS. */
static __always_inline struct scx_arena_slab_pcpu __arena *this_pcpu(struct scx_arena_root __arena *r)
{
	u32 cpu = bpf_get_smp_processor_id();
	u64 __arena *table = scx_arena_from_u64(u64, r->slab.pcpu);
	u64 pc;

	if (!table || cpu >= SCX_ARENA_SLAB_MAX_CPUS)
		return NULL;
	pc = table[cpu];
	if (!pc) {
		pc = (u64)scx_arena_buddy_alloc(0);
		if (!pc)
			return NULL;
		/* A reused block holds its last owner's bytes: start empty. */
		__scx_arena_zero(pc, __PAGE_SIZE);
		/* Only this CPU installs its own entry; a nested install wins. */
		if (__sync_val_compare_and_swap(&table[cpu], 0, pc)) {
			scx_arena_buddy_free(scx_arena_from_u64(void, pc));
			pc = table[cpu];
		}
	}
	return scx_arena_from_u64(struct scx_arena_slab_pcpu, pc);
}

/*
 * Claims this CPU's stack of class @cls and returns it (its page in *@pcp),
 * or NULL when this CPU has no cache or a program we interrupted holds the
 * stack: the caller then takes the slow path instead of waiting.
 */
static __always_inline struct scx_arena_slab_stack __arena *
stack_claim(struct scx_arena_root __arena *r, u32 cls, struct scx_arena_slab_pcpu __arena **pcp)
{
	struct scx_arena_slab_pcpu __arena *pc = this_pcpu(r);

	*pcp = pc;
	if (!pc)
		return NULL;
	return __scx_arena_slab_claim(pc, cls & (SCX_ARENA_SLAB_NR_CLASSES - 1));
}

static __always_inline void partial_push(struct scx_arena_slab_class __arena *c, u64 s)
{
	slab_t h = slab(s);

	h->prev = 0;
	h->next = c->partial;
	if (c->partial)
		slab(c->partial)->prev = s;
	c->partial = s;
	h->on_partial = 1;
}

static __always_inline void partial_del(struct scx_arena_slab_class __arena *c, u64 s)
{
	slab_t h = slab(s);

	if (h->prev)
		slab(h->prev)->next = h->next;
	else
		c->partial = h->next;
	if (h->next)
		slab(h->next)->prev = h->prev;
	h->on_partial = 0;
}

/* A fresh slab for class @cls, not yet on any list; 0 if out of memory. */
static __always_inline u64 slab_new(struct scx_arena_root __arena *r, u32 cls)
{
	u64 s = __scx_arena_buddy_alloc(SCX_ARENA_SLAB_ORDER, SCX_ARENA_PG_SLAB);
	u32 size = 16u << cls;
	slab_t h;

	if (!s)
		return 0;
	h = slab(s);
	h->magic = SCX_ARENA_SLAB_MAGIC | cls;
	h->freelist = 0;
	h->cls = cls;
	h->obj_size = size;
	h->mark = __scx_arena_slab_first(size);
	h->nr_objs = (SCX_ARENA_SLAB_BYTES - h->mark) / size;
	h->nr_free = h->nr_objs;
	h->on_partial = 0;
	return s;
}

/* One object from slab @s, which has a free one. Class lock held. */
static __always_inline u64 slab_take(slab_t h, u64 s)
{
	u64 obj = h->freelist;

	if (obj) {
		h->freelist = *scx_arena_from_u64(u64, obj);
	} else {
		obj = s + h->mark;
		h->mark += h->obj_size;
	}
	h->nr_free--;
	return obj;
}

/*
 * A slab of class @cls with a free object, with the class lock held on
 * success; takes a new slab (dropping the lock meanwhile) when no partial
 * one is left. Returns 0 with the lock released on failure.
 */
static __always_inline u64 partial_locked(struct scx_arena_root __arena *r, u32 cls)
{
	struct scx_arena_slab_class __arena *c = &r->slab.cls[cls & 7];
	u64 s, n;

	if (scx_arena_lock_acquire_or_error(&c->lock, "slab class"))
		return 0;
	if (c->partial)
		return c->partial;
	scx_arena_lock_release(&c->lock);
	s = slab_new(r, cls);
	if (!s)
		return 0;
	if (scx_arena_lock_acquire_or_error(&c->lock, "slab class")) {
		scx_arena_buddy_free(scx_arena_from_u64(void, s));
		return 0;
	}
	n = c->nr_slabs + 1;
	c->nr_slabs = n;
	if (n > c->nr_slabs_peak)
		c->nr_slabs_peak = n;
	partial_push(c, s);
	return s;
}

/* Takes one object from partial slab @s; class lock held. */
static __always_inline u64 take_locked(struct scx_arena_slab_class __arena *c, u64 s)
{
	slab_t h = slab(s);
	u64 obj = slab_take(h, s);

	if (!h->nr_free)
		partial_del(c, s);
	return obj;
}

/*
 * Fills @st (this CPU's empty stack, claimed) with up to a batch of objects
 * from one slab and sets st->count.
 *
 * The count lives in arena memory rather than in a register: a counter the
 * verifier can see stays an exact constant per iteration, and once the caller
 * branches on it the loop stops converging ("sequence of 8193 jumps").
 */
static __always_inline void refill(struct scx_arena_root __arena *r, u32 cls, struct scx_arena_slab_stack __arena *st)
{
	struct scx_arena_slab_class __arena *c = &r->slab.cls[cls & 7];
	u64 s = partial_locked(r, cls);
	u32 i;

	st->count = 0;
	if (!s)
		return;
	bpf_for(i, 0, SCX_ARENA_SLAB_BATCH) {
		st->objs[i] = take_locked(c, s);
		st->count = i + 1;
		/* Stop at the end of this slab rather than take another. */
		if (c->partial != s)
			break;
	}
	scx_arena_lock_release(&c->lock);
}

/* One object without the CPU cache (slow path). */
static __always_inline u64 alloc_direct(struct scx_arena_root __arena *r, u32 cls)
{
	struct scx_arena_slab_class __arena *c = &r->slab.cls[cls & 7];
	u64 s = partial_locked(r, cls), obj;

	if (!s)
		return 0;
	obj = take_locked(c, s);
	c->nr_alloc_direct++;
	scx_arena_lock_release(&c->lock);
	return obj;
}

/*
 * Puts @obj back on its slab; class lock held. Returns the slab if it became
 * empty and should go back to the buddy allocator (it is then off all
 * lists), else 0. The class keeps its last partial slab.
 */
static __always_inline u64 put_locked(struct scx_arena_root __arena *r, struct scx_arena_slab_class __arena *c, u64 obj)
{
	u64 s = r->base + ((obj - r->base) & ~(SCX_ARENA_SLAB_BYTES - 1));
	slab_t h = slab(s);

	*scx_arena_from_u64(u64, obj) = h->freelist;
	h->freelist = obj;
	h->nr_free++;
	if (!h->on_partial)
		partial_push(c, s);
	if (h->nr_free == h->nr_objs && (h->next || h->prev)) {
		partial_del(c, s);
		c->nr_slabs--;
		h->magic = 0;
		return s;
	}
	return 0;
}

/* Returns the top half of this CPU's full stack @st (claimed) to the slabs. */
static __always_inline void flush(struct scx_arena_root __arena *r, u32 cls, struct scx_arena_slab_stack __arena *st)
{
	struct scx_arena_slab_class __arena *c = &r->slab.cls[cls & 7];
	u32 i;

	if (scx_arena_lock_acquire_or_error(&c->lock, "slab class"))
		return;
	/* Slots that held returned objects now hold the slabs to free, or 0. */
	bpf_for(i, SCX_ARENA_SLAB_BATCH, SCX_ARENA_SLAB_CACHE)
		st->objs[i] = put_locked(r, c, st->objs[i]);
	st->count = SCX_ARENA_SLAB_BATCH;
	scx_arena_lock_release(&c->lock);
	bpf_for(i, SCX_ARENA_SLAB_BATCH, SCX_ARENA_SLAB_CACHE) {
		if (st->objs[i])
			scx_arena_buddy_free(scx_arena_from_u64(void, st->objs[i]));
	}
}

/* Frees one object without the CPU cache (slow path). */
static __always_inline void free_direct(struct scx_arena_root __arena *r, u32 cls, u64 obj)
{
	struct scx_arena_slab_class __arena *c = &r->slab.cls[cls & 7];
	u64 s;

	if (scx_arena_lock_acquire_or_error(&c->lock, "slab class"))
		return;
	s = put_locked(r, c, obj);
	c->nr_free_direct++;
	scx_arena_lock_release(&c->lock);
	if (s)
		scx_arena_buddy_free(scx_arena_from_u64(void, s));
}

/*
 * The miss path: this CPU's stack was empty or claimed when the fast path
 * looked. Claims the stack (creating this CPU's cache page on first use)
 * and refills it from the slabs, or takes one object directly when the
 * stack is claimed by a program we interrupted.
 */
static __always_inline u64 slab_alloc_slow(u32 cls)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_slab_pcpu __arena *pc;
	struct scx_arena_slab_stack __arena *st;
	u64 obj = 0;
	u32 cnt;

	if (!r || cls >= SCX_ARENA_SLAB_NR_CLASSES)
		return 0;
	st = stack_claim(r, cls, &pc);
	if (!st)
		goto slow;
	if (!st->count)
		refill(r, cls, st);
	cnt = st->count;
	if (cnt) {
		cnt--;
		obj = st->objs[cnt & (SCX_ARENA_SLAB_CACHE - 1)];
	}
	if (obj)
		pc->nr_alloc[cls]++;
	st->count = cnt;
	__scx_arena_slab_unclaim(st);
	if (!obj)
		goto fail;
	return obj;
slow:
	obj = alloc_direct(r, cls);
	if (obj)
		return obj;
fail:
	__sync_fetch_and_add(&r->slab.cls[cls].nr_failed, 1);
	return 0;
}

u64 __scx_arena_slab_alloc(u32 cls)
{
	u64 obj;

	/* The fast path masks the class: reject a bad one before it. */
	if (cls >= SCX_ARENA_SLAB_NR_CLASSES)
		return 0;
	obj = __scx_arena_slab_alloc_fast(cls);
	return obj ? obj : slab_alloc_slow(cls);
}

u64 __scx_arena_slab_alloc_slow(u32 cls)
{
	return slab_alloc_slow(cls);
}

int __scx_arena_slab_free(void __arena *p __arg_arena)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	struct scx_arena_slab_pcpu __arena *pc;
	struct scx_arena_slab_stack __arena *st;
	u64 obj = (u64)p, s, rel;
	u32 cls, cnt, size, first;
	slab_t h;

	if (!p)
		return 0;
#ifndef SCX_ARENA_CHECKED
	/* Checked mode also asks the page map, below. */
	if (__scx_arena_slab_free_fast(obj))
		return 0;
#endif
	if (!r || obj < r->base)
		goto invalid;
	s = r->base + ((obj - r->base) & ~(SCX_ARENA_SLAB_BYTES - 1));
#ifdef SCX_ARENA_CHECKED
	/*
	 * Checked mode also asks the page map, so a buddy block whose content
	 * happens to look like a slab header is not taken for one. Otherwise
	 * the header's magic decides: a non-slab region holds no slab
	 * header unless user data forges one. (An unmapped page reads 0.)
	 */
	if (!(__scx_arena_buddy_page_state(s) & SCX_ARENA_PG_SLAB))
		goto invalid;
#endif
	h = slab(s);
	cls = h->cls;
	if (cls >= SCX_ARENA_SLAB_NR_CLASSES || h->magic != (SCX_ARENA_SLAB_MAGIC | cls))
		goto invalid;
	/* An object boundary below the slab's high mark. */
	size = 16u << cls;
	first = __scx_arena_slab_first(size);
	rel = obj - s;
	if (rel < first || rel >= h->mark || ((rel - first) & (size - 1)))
		goto invalid;

	st = stack_claim(r, cls, &pc);
	if (!st)
		goto slow;
	cnt = st->count;
	/* Full: hand the top half of the stack back to the slabs first. */
	if (cnt >= SCX_ARENA_SLAB_CACHE) {
		flush(r, cls, st);
		cnt = st->count;
	}
	st->objs[cnt & (SCX_ARENA_SLAB_CACHE - 1)] = obj;
	st->count = cnt + 1;
	pc->nr_free[cls]++;
	__scx_arena_slab_unclaim(st);
	return 0;
slow:
	free_direct(r, cls, obj);
	return 0;
invalid:
	scx_arena_error("slab: free of %llx, not a slab object", obj);
	return -EINVAL;
}
