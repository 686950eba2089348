/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checked mode of scx_arena/check.h: shadow map, quarantine, reports, and
 * the checked allocation front end. Compiles to nothing without
 * SCX_ARENA_CHECKED.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/error.h>

#ifdef SCX_ARENA_CHECKED

#define CHUNK_BYTES ((u64)__PAGE_SIZE << SCX_ARENA_BUDDY_MAX_ORDER)
/* Shadow bytes per chunk (one per 8 bytes) and the pages they take. */
#define SHADOW_BYTES (CHUNK_BYTES / 8)
#define SHADOW_PAGES (SHADOW_BYTES / __PAGE_SIZE)
/* Largest block the checked front end scans byte by byte (granules). */
#define MAX_GRANULES (CHUNK_BYTES / 8)

typedef struct scx_arena_obj_hdr __arena *hdr_t;

int __scx_arena_check_chunk(struct scx_arena_root __arena *r __arg_arena, u64 chunk)
{
	u64 idx = (chunk - r->base) >> SCX_ARENA_CHUNK_SHIFT, i;
	u64 __arena *shadow = scx_arena_pages_alloc(SHADOW_PAGES);
	u64 __arena *table = scx_arena_from_u64(u64, r->check.shadow);

	if (!shadow || idx >= SCX_ARENA_MAX_CHUNKS)
		return -ENOMEM;
	/* Nothing in a new chunk is handed out yet. */
	bpf_for(i, 0, SHADOW_BYTES / 8)
		shadow[i] = 0xfefefefefefefefeull;
	table[idx] = (u64)shadow;
	return 0;
}

/* The shadow byte of @addr, or NULL if the allocator does not track it. */
static __always_inline u8 __arena *shadow_of(struct scx_arena_root __arena *r, u64 addr)
{
	u64 off = addr - r->base, idx = off >> SCX_ARENA_CHUNK_SHIFT, sh;

	if (addr < r->base || idx >= SCX_ARENA_MAX_CHUNKS)
		return NULL;
	sh = scx_arena_from_u64(u64, r->check.shadow)[idx];
	if (!sh)
		return NULL;
	return scx_arena_from_u64(u8, sh + ((off & (CHUNK_BYTES - 1)) >> 3));
}

/* Sets the shadow of [@addr, @addr + @len) to @code; both 8-byte aligned. */
static __always_inline void shadow_set(struct scx_arena_root __arena *r, u64 addr, u64 len, u8 code)
{
	u8 __arena *sh = shadow_of(r, addr);
	u64 i;

	if (!sh)
		return;
	bpf_for(i, 0, MAX_GRANULES) {
		if (i * 8 >= len)
			break;
		sh[i] = code;
	}
}

/* Makes @size bytes at @addr addressable; a partial last granule says how much. */
static __always_inline void shadow_open(struct scx_arena_root __arena *r, u64 addr, u64 size)
{
	u8 __arena *sh;

	shadow_set(r, addr, size & ~7ull, SCX_ARENA_SHADOW_OK);
	if (size & 7) {
		sh = shadow_of(r, addr + (size & ~7ull));
		if (sh)
			*sh = size & 7;
	}
}

/* The checked object whose header or body holds @addr, or 0. */
static __always_inline u64 find_obj(struct scx_arena_root __arena *r, u64 addr)
{
	u64 s, page, i, first, size;
	struct scx_arena_slab_hdr __arena *h;
	u64 st;

	if (addr < r->base)
		return 0;
	s = r->base + ((addr - r->base) & ~(SCX_ARENA_SLAB_BYTES - 1));
	if (__scx_arena_buddy_page_state(s) & SCX_ARENA_PG_SLAB) {
		h = scx_arena_from_u64(struct scx_arena_slab_hdr, s);
		size = h->obj_size;
		first = size < sizeof(*h) ? sizeof(*h) : size;
		if (!size || addr < s + first)
			return 0;
		return s + first + (addr - s - first) / size * size;
	}
	/* A buddy block: its first page is the nearest used head below. */
	page = addr & ~((u64)__PAGE_SIZE - 1);
	bpf_for(i, 0, SCX_ARENA_CHUNK_PAGES) {
		st = __scx_arena_buddy_page_state(page - i * __PAGE_SIZE);
		if (st & SCX_ARENA_PG_USED)
			return page - i * __PAGE_SIZE;
		if (st & SCX_ARENA_PG_FREE)
			return 0;
	}
	return 0;
}

/*
 * Fills a report from the object header @h (NULL if none). A global
 * function on purpose: its __arg_arena parameters are arena pointers to the
 * verifier however LLVM derives addresses from them. Inlined, clang-19
 * rebuilt one of these stores from the uncast root pointer ("R6 invalid mem
 * access 'scalar'").
 */
__noinline int __scx_arena_report_fill(struct scx_arena_bug_report __arena *rep __arg_arena,
			    struct scx_arena_obj_hdr __arena *h __arg_arena, u32 kind, u64 addr)
{
	u64 obj = 0, size = 0, file = 0;
	u32 line = 0;

	/* Values first, then straight-line stores: stores under a branch got
	 * merged by clang-19 with the uncast pointer. */
	if (h && h->magic == SCX_ARENA_CHECK_MAGIC) {
		obj = (u64)h + SCX_ARENA_CHECK_HDR;
		size = h->size;
		line = h->line;
		file = *(u64 __arena *)h->file;
	}
	barrier_var(rep);
	rep->kind = kind;
	rep->line = line;
	rep->addr = addr;
	rep->obj = obj;
	rep->size = size;
	*(u64 __arena *)rep->file = file;
	return 0;
}

static __always_inline void report(struct scx_arena_root __arena *r, u32 kind, u64 addr, u64 raw)
{
	u64 n = __sync_fetch_and_add(&r->check.nr_reports, 1);
	struct scx_arena_bug_report __arena *rep;

	if (n < SCX_ARENA_CHECK_REPORTS) {
		rep = &r->check.reports[n];
		__scx_arena_report_fill(rep, scx_arena_from_u64(struct scx_arena_obj_hdr, raw), kind, addr);
		scx_arena_error("arena checked mode: bug %u at %llx (object of %llu bytes from line %u)",
				kind, addr, rep->size, rep->line);
	} else {
		scx_arena_error("arena checked mode: bug %u at %llx", kind, addr);
	}
}

int __scx_arena_check_access(u64 addr, u64 size)
{
	/*
	 * Without a root nothing is allocated: nothing to check. Peeking
	 * rather than creating keeps this function (the checked accessors)
	 * callable with preemption disabled: see scx_arena_root_peek().
	 */
	struct scx_arena_root __arena *r = scx_arena_root_peek();
	u64 i, g, hi, end = addr + size;
	u8 __arena *sh;
	u8 s;

	if (!r || !size)
		return 0;
	/* Every 8-byte granule the access touches (at most 64). */
	bpf_for(i, 0, 64) {
		g = (addr & ~7ull) + i * 8;
		if (g >= end)
			break;
		sh = shadow_of(r, g);
		if (!sh)
			continue;
		s = *sh;
		if (s == SCX_ARENA_SHADOW_OK)
			continue;
		/* A partial granule: its first s bytes may be touched. */
		hi = end < g + 8 ? end : g + 8;
		if (s < 8 && hi - g <= s)
			continue;
		report(r, s == SCX_ARENA_SHADOW_FREED ? SCX_ARENA_BUG_USE_AFTER_FREE :
			  s == SCX_ARENA_SHADOW_UNALLOC ? SCX_ARENA_BUG_WILD :
							  SCX_ARENA_BUG_OVERFLOW,
		       g < addr ? addr : g, find_obj(r, g));
		return -EFAULT;
	}
	return 0;
}

int __scx_arena_check_open(u64 addr, u64 size)
{
	struct scx_arena_root __arena *r = scx_arena_root();

	if (r)
		shadow_open(r, addr, size);
	return 0;
}

/* Bytes the raw allocation at @raw really spans. */
static __always_inline u64 raw_span(u64 raw)
{
	u64 st = __scx_arena_buddy_page_state(raw);
	struct scx_arena_slab_hdr __arena *h;
	struct scx_arena_root __arena *r = scx_arena_root();

	if ((st & SCX_ARENA_PG_USED) && !(st & SCX_ARENA_PG_SLAB))
		return (u64)__PAGE_SIZE << (st & SCX_ARENA_PG_ORDER);
	if (!r)
		return 0;
	h = scx_arena_from_u64(struct scx_arena_slab_hdr,
			       r->base + ((raw - r->base) & ~(SCX_ARENA_SLAB_BYTES - 1)));
	return h->obj_size;
}

u64 __scx_arena_alloc_site(u64 size, u32 line, u64 file)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 raw, user, span;
	hdr_t h;

	if (!r || !size || size > CHUNK_BYTES - SCX_ARENA_CHECK_HDR - SCX_ARENA_CHECK_RZ)
		return 0;
	raw = __scx_arena_alloc_inline(size + SCX_ARENA_CHECK_HDR + SCX_ARENA_CHECK_RZ);
	if (!raw)
		return 0;
	span = raw_span(raw);
	h = scx_arena_from_u64(struct scx_arena_obj_hdr, raw);
	h->magic = SCX_ARENA_CHECK_MAGIC;
	h->state = SCX_ARENA_OBJ_LIVE;
	h->size = size;
	h->line = line;
	*(u64 __arena *)h->file = file;
	user = raw + SCX_ARENA_CHECK_HDR;
	/* Header and tail are redzones; the object itself is open. */
	shadow_set(r, raw, span, SCX_ARENA_SHADOW_REDZONE);
	shadow_open(r, user, size);
	return user;
}

/* Really frees the oldest quarantined object, checking its poison first. */
static __always_inline void evict(struct scx_arena_root __arena *r, u64 raw)
{
	hdr_t h = scx_arena_from_u64(struct scx_arena_obj_hdr, raw);
	u64 __arena *body = scx_arena_from_u64(u64, raw + SCX_ARENA_CHECK_HDR);
	u64 i, diff = 0, words = h->size / 8;

	bpf_for(i, 0, MAX_GRANULES) {
		if (i >= words)
			break;
		diff |= body[i] ^ SCX_ARENA_POISON;
	}
	if (diff)
		report(r, SCX_ARENA_BUG_WRITE_AFTER_FREE, raw + SCX_ARENA_CHECK_HDR, raw);
	__sync_fetch_and_sub(&r->check.q_bytes, h->size);
	h->magic = 0;
	h->state = 0;
	shadow_set(r, raw, raw_span(raw), SCX_ARENA_SHADOW_UNALLOC);
	__scx_arena_free_raw(scx_arena_from_u64(void, raw));
}

int __scx_arena_free_checked(u64 user)
{
	struct scx_arena_root __arena *r = scx_arena_root();
	u64 raw = user - SCX_ARENA_CHECK_HDR, slot, old, i, words;
	u64 __arena *ring, *body;
	hdr_t h;

	if (!r)
		return -EINVAL;
	/* Only an object start has a header right before it. */
	if (user < r->base + SCX_ARENA_CHECK_HDR || find_obj(r, raw) != raw) {
		report(r, SCX_ARENA_BUG_INVALID_FREE, user, find_obj(r, user));
		return -EINVAL;
	}
	h = scx_arena_from_u64(struct scx_arena_obj_hdr, raw);
	if (h->magic != SCX_ARENA_CHECK_MAGIC) {
		report(r, SCX_ARENA_BUG_INVALID_FREE, user, 0);
		return -EINVAL;
	}
	if (__sync_val_compare_and_swap(&h->state, SCX_ARENA_OBJ_LIVE, SCX_ARENA_OBJ_QUARANTINED) !=
	    SCX_ARENA_OBJ_LIVE) {
		report(r, h->state == SCX_ARENA_OBJ_QUARANTINED ? SCX_ARENA_BUG_DOUBLE_FREE :
								 SCX_ARENA_BUG_INVALID_FREE,
		       user, raw);
		return -EINVAL;
	}
	/* Poison the content and the shadow, then park it. */
	body = scx_arena_from_u64(u64, user);
	words = h->size / 8;
	bpf_for(i, 0, MAX_GRANULES) {
		if (i >= words)
			break;
		body[i] = SCX_ARENA_POISON;
	}
	shadow_set(r, user, (h->size + 7) & ~7ull, SCX_ARENA_SHADOW_FREED);
	__sync_fetch_and_add(&r->check.q_bytes, h->size);
	ring = scx_arena_from_u64(u64, r->check.quarantine);
	slot = __sync_fetch_and_add(&r->check.q_head, 1) % SCX_ARENA_CHECK_QUARANTINE;
	old = __sync_lock_test_and_set(&ring[slot], raw);
	if (old)
		evict(r, old);
	return 0;
}

/*
 * The runtime of compiler instrumentation ("-fsanitize=kernel-address" on
 * BPF, clang >= 22; scx-arena-build's BpfBuild::asan() sets it up). Built
 * that way, clang calls __asan_<load|store><size>_noabort(addr) before every
 * load and store through an arena (address space 1) pointer of the
 * instrumented unit, plain C included, and the accesses go through the
 * checks and reports of the checked accessors. The library's own units are
 * not instrumented (their metadata accesses are legitimate). Global
 * functions must return a scalar; the compiler ignores the value.
 */
#define SCX_ASAN_RT(size)                                                      \
	int __asan_load##size##_noabort(u64 addr)                              \
	{                                                                      \
		return __scx_arena_check_access(addr, size);                   \
	}                                                                      \
	int __asan_store##size##_noabort(u64 addr)                             \
	{                                                                      \
		return __scx_arena_check_access(addr, size);                   \
	}

SCX_ASAN_RT(1)
SCX_ASAN_RT(2)
SCX_ASAN_RT(4)
SCX_ASAN_RT(8)
SCX_ASAN_RT(16)

int __asan_loadN_noabort(u64 addr, u64 size)
{
	return __scx_arena_check_access(addr, size);
}

int __asan_storeN_noabort(u64 addr, u64 size)
{
	return __scx_arena_check_access(addr, size);
}

#endif /* SCX_ARENA_CHECKED */
