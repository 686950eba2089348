/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/htab.h - a hash table in arena memory: u64 key -> the caller's
 * arena object, e.g. per-task context keyed by pid.
 *
 * The node (the chain link and the key) lives inside the caller's struct,
 * so an insert never allocates and never fails for lack of memory:
 *
 *	struct task_ctx {
 *		u64 vtime;
 *		struct scx_arena_htab_node hnode;
 *	};
 *
 *	SCX_ARENA_HTAB_DEFINE(taskc, struct task_ctx, hnode);
 *
 *	struct scx_arena_htab_locked __arena_global tasks;
 *
 *	// ops.init (may allocate):  scx_arena_htab_locked_init(&tasks, 4096);
 *	// ops.init_task:  tc = scx_arena_new(struct task_ctx);
 *	//                 taskc_locked_insert(&tasks, p->pid, tc);
 *	// anywhere:       taskc_locked_lookup(&tasks, p->pid, &tc);
 *	// ops.exit_task:  if (!taskc_locked_delete(&tasks, p->pid, &tc))
 *	//                         scx_arena_free(tc);
 *
 * Separate chaining: an array of nr_buckets bucket heads (a power of two,
 * from scx_arena_alloc()), each a singly linked chain of nodes, new nodes
 * at the head. The bucket of a key is scx_arena_htab_bucket(): the top bits
 * of a Fibonacci hash of the key.
 * Links are arena addresses stored as u64 (0 ends a chain), so userspace
 * reads a table as is (scx_arena::htab).
 *
 * Fixed capacity: the table holds at most the capacity given at init
 * (1 to SCX_ARENA_HTAB_MAX_CAPACITY); an insert into a full table fails with
 * -ENOSPC and changes nothing. Buckets are the next power of two >= the
 * capacity, at most SCX_ARENA_HTAB_MAX_BUCKETS, so chains average at most
 * one node until the capacity passes that; the table never rehashes, and
 * so an operation never stalls on a resize inside a scheduler callback.
 * Pick the capacity for the largest population (e.g. pid_max or the
 * expected task count); it costs 8 bytes per bucket.
 *
 * Zeroed memory is an empty table of capacity 0 (lookups find nothing,
 * inserts return -ENOSPC) until scx_arena_htab_init(). Every loop is bounded:
 * a chain walk by the element count + 1, iteration by a caller's maximum.
 * A node taken off the table has its link set to SCX_ARENA_HTAB_POISON.
 * Keep a node in at most one table at a time; a node already in the table
 * under another key must not be inserted again (only a duplicate key is
 * detected, -EEXIST).
 *
 * In checked mode (SCX_ARENA_CHECKED) node and header accesses go through
 * scx_arena_ld()/scx_arena_st() like list.h, so a freed element still in a
 * table is reported.
 *
 * struct scx_arena_htab is not thread-safe. struct scx_arena_htab_locked
 * pairs it with one arena spin lock (lock.h) taken by every operation: one
 * lock, not one per bucket, because operations are short (one chain of
 * about one node) and a single word keeps the table's memory and the Rust
 * mirror simple. A lock timeout returns -ETIMEDOUT after scx_arena_error().
 * A pointer a lookup returned stays valid only as long as no other CPU may
 * delete and free that element: in the per-task pattern only the task's own
 * exit path deletes it.
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/alloc.h>
#include <scx_arena/check.h>
#include <scx_arena/error.h>
#include <scx_arena/lock.h>

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EFAULT
#define EFAULT 14
#endif

/* Largest capacity (elements) of a table. */
#define SCX_ARENA_HTAB_MAX_CAPACITY (1u << 22)
/*
 * Largest bucket array: 256 KiB. (The allocator's largest block is 512 KiB, but
 * in checked mode its header and redzone leave less than that.)
 */
#define SCX_ARENA_HTAB_MAX_BUCKETS (1u << 15)

/* The link of a node taken off a table. */
#define SCX_ARENA_HTAB_POISON 0x5c7a4ab0dead1000ull

/* The multiplier of the hash (2^64 / golden ratio). */
#define SCX_ARENA_HTAB_HASH_MUL 0x9e3779b97f4a7c15ull

/* scx_arena_htab_destroy(): leave the elements to the caller. */
#define SCX_ARENA_HTAB_KEEP (-1ll)

/* Keeps @p in one register (see __scx_list_pin in list.h). */
#define __scx_htab_pin(p) asm volatile("" : "+r"(p))
#define __scx_hld(p) scx_arena_ld(p)
#define __scx_hst(p, v) scx_arena_st(p, (v))

/**
 * struct scx_arena_htab_node - the link and key embedded in an element.
 * @next: arena address of the next node of the chain, 0 at its end,
 *        SCX_ARENA_HTAB_POISON once taken off the table.
 * @key: the key, written by insert.
 */
struct scx_arena_htab_node {
	struct scx_arena_htab_node __arena *next;
	u64 key;
};

/**
 * struct scx_arena_htab - a hash table.
 * @buckets: arena address of nr_buckets u64 chain heads; 0 before init.
 * @nr_buckets: a power of two; 0 before init.
 * @__pad: keeps @nr 8-byte aligned (explicit for the Rust mirror).
 * @nr: elements in the table.
 * @capacity: most elements the table takes; 0 before init.
 */
struct scx_arena_htab {
	u64 buckets;
	u32 nr_buckets;
	u32 __pad;
	u64 nr;
	u64 capacity;
};

/**
 * struct scx_arena_htab_locked - a hash table with its own arena spin lock.
 * @lock: taken by every scx_arena_htab_locked_*() operation.
 * @__pad: keeps @htab 8-byte aligned.
 * @htab: the table; touch it directly only while holding @lock.
 */
struct scx_arena_htab_locked {
	struct scx_arena_lock lock;
	u32 __pad;
	struct scx_arena_htab htab;
};

/**
 * struct scx_arena_htab_iter - a cursor over a table's elements.
 * @bucket: the next bucket to scan.
 * @next: arena address of the next node of the current chain, or 0.
 *
 * Zero it (or use SCX_ARENA_HTAB_ITER_INIT) to start at the beginning.
 */
struct scx_arena_htab_iter {
	u64 bucket;
	u64 next;
};

#define SCX_ARENA_HTAB_ITER_INIT { 0, 0 }

/* Internal: the bucket slot of index @b. */
#define __scx_htab_slot(h, b) (scx_arena_from_u64(u64, __scx_hld(&(h)->buckets)) + (b))

/**
 * scx_arena_htab_hash - the 64-bit hash of @key.
 * @key: the key.
 *
 * Fibonacci hashing: the product with 2^64 / golden ratio, whose top bits
 * pick the bucket. Consecutive keys (pids) land in nearly distinct buckets,
 * and keys differing only in high or only in low bits (aligned addresses,
 * tags in the high half) still spread.
 */
static __always_inline u64 scx_arena_htab_hash(u64 key)
{
	return key * SCX_ARENA_HTAB_HASH_MUL;
}

/* Internal: log2 of the power of two @nb, without a loop. */
static __always_inline u32 __scx_htab_log2(u32 nb)
{
	u32 x = nb - 1;

	x = x - ((x >> 1) & 0x55555555);
	x = (x & 0x33333333) + ((x >> 2) & 0x33333333);
	x = (x + (x >> 4)) & 0x0f0f0f0f;
	return (x * 0x01010101) >> 24;
}

/**
 * scx_arena_htab_bucket - the bucket @key belongs in.
 * @h: the table.
 * @key: the key.
 *
 * The top log2(nr_buckets) bits of scx_arena_htab_hash(@key): an index
 * below nr_buckets (0 for a table of one bucket or none).
 */
static __always_inline u32 scx_arena_htab_bucket(struct scx_arena_htab __arena *h, u64 key)
{
	u32 nb, bits;

	__scx_htab_pin(h);
	nb = __scx_hld(&h->nr_buckets);
	if (nb <= 1)
		return 0;
	bits = __scx_htab_log2(nb) & 31;
	return scx_arena_htab_hash(key) >> (64 - bits);
}

/**
 * scx_arena_htab_init - make @h an empty table for @capacity elements.
 * @h: the table: zeroed, or destroyed (scx_arena_htab_destroy()).
 * @capacity: 1 to SCX_ARENA_HTAB_MAX_CAPACITY.
 *
 * Allocates the bucket array (8 bytes a bucket), so it must run where
 * allocation may (ops.init, a syscall program). Returns 0, -EINVAL for a
 * bad capacity, -EBUSY when @h already has buckets, -ENOMEM.
 */
static __always_inline int scx_arena_htab_init(struct scx_arena_htab __arena *h, u64 capacity)
{
	u64 nb, buckets;

	__scx_htab_pin(h);
	if (!h || !capacity || capacity > SCX_ARENA_HTAB_MAX_CAPACITY)
		return -EINVAL;
	if (__scx_hld(&h->buckets))
		return -EBUSY;
	/* The next power of two >= capacity, at most MAX_BUCKETS. */
	nb = capacity - 1;
	nb |= nb >> 1;
	nb |= nb >> 2;
	nb |= nb >> 4;
	nb |= nb >> 8;
	nb |= nb >> 16;
	nb += 1;
	if (nb > SCX_ARENA_HTAB_MAX_BUCKETS)
		nb = SCX_ARENA_HTAB_MAX_BUCKETS;
	buckets = (u64)scx_arena_zalloc(nb * sizeof(u64));
	if (!buckets)
		return -ENOMEM;
	__scx_hst(&h->nr, 0);
	barrier();
	__scx_hst(&h->capacity, capacity);
	barrier();
	__scx_hst(&h->nr_buckets, (u32)nb);
	barrier();
	__scx_hst(&h->buckets, buckets);
	return 0;
}

/**
 * scx_arena_htab_len - the number of elements in @h.
 * @h: the table.
 */
static __always_inline u64 scx_arena_htab_len(struct scx_arena_htab __arena *h)
{
	__scx_htab_pin(h);
	return __scx_hld(&h->nr);
}

/**
 * scx_arena_htab_capacity - the most elements @h takes (0 before init).
 * @h: the table.
 */
static __always_inline u64 scx_arena_htab_capacity(struct scx_arena_htab __arena *h)
{
	__scx_htab_pin(h);
	return __scx_hld(&h->capacity);
}

/*
 * Internal: walks @key's chain. Returns its node, or NULL; *@linkp is the
 * slot (bucket head or a node's next) that points at the node found, or
 * the chain's terminating slot. A chain longer than the element count
 * (a cycle: corruption) is reported and ends the walk with *@bad set.
 */
static __always_inline struct scx_arena_htab_node __arena *
__scx_arena_htab_find(struct scx_arena_htab __arena *h, u64 key, u64 __arena **linkp, bool *bad)
{
	struct scx_arena_htab_node __arena *n;
	u64 __arena *link;
	u64 bound, i;

	__scx_htab_pin(h);
	*bad = false;
	*linkp = NULL;
	if (!__scx_hld(&h->buckets))
		return NULL;
	link = __scx_htab_slot(h, scx_arena_htab_bucket(h, key));
	bound = __scx_hld(&h->nr) + 1;
	bpf_for(i, 0, bound) {
		__scx_htab_pin(link);
		n = scx_arena_from_u64(struct scx_arena_htab_node, __scx_hld(link));
		__scx_htab_pin(n);
		if (!n) {
			*linkp = link;
			return NULL;
		}
		if (__scx_hld(&n->key) == key) {
			*linkp = link;
			return n;
		}
		link = (u64 __arena *)&n->next;
	}
	*bad = true;
	scx_arena_error("htab %llx: chain longer than its %llu elements", (u64)h, bound - 1);
	return NULL;
}

/**
 * scx_arena_htab_lookup - the node of @key in @h.
 * @h: the table.
 * @key: the key.
 *
 * Returns the node, or NULL when @key is not in @h.
 */
static __always_inline struct scx_arena_htab_node __arena *
scx_arena_htab_lookup(struct scx_arena_htab __arena *h, u64 key)
{
	u64 __arena *link;
	bool bad;

	return __scx_arena_htab_find(h, key, &link, &bad);
}

/**
 * scx_arena_htab_insert - add node @n to @h under @key.
 * @h: the table.
 * @key: the key; any u64.
 * @n: a node not in any table (its key is overwritten).
 *
 * Returns 0, -EINVAL for a NULL @n, -EEXIST when @key is already in @h,
 * -ENOSPC when @h holds its capacity (or was never initialised), -EFAULT
 * for a corrupted chain (reported). @h is unchanged on error.
 */
static __always_inline int scx_arena_htab_insert(struct scx_arena_htab __arena *h, u64 key,
						 struct scx_arena_htab_node __arena *n)
{
	u64 __arena *link;
	u64 __arena *slot;
	bool bad;

	__scx_htab_pin(h);
	__scx_htab_pin(n);
	if (!n)
		return -EINVAL;
	if (__scx_arena_htab_find(h, key, &link, &bad))
		return -EEXIST;
	if (bad)
		return -EFAULT;
	if (__scx_hld(&h->nr) >= __scx_hld(&h->capacity))
		return -ENOSPC;
	slot = __scx_htab_slot(h, scx_arena_htab_bucket(h, key));
	__scx_htab_pin(slot);
	__scx_hst(&n->key, key);
	__scx_hst((u64 __arena *)&n->next, __scx_hld(slot));
	__scx_hst(slot, (u64)n);
	__scx_hst(&h->nr, __scx_hld(&h->nr) + 1);
	return 0;
}

/*
 * Internal: unlinks node @n, which *@link points at; poisons it.
 */
static __always_inline void __scx_arena_htab_unlink(struct scx_arena_htab __arena *h,
						    u64 __arena *link,
						    struct scx_arena_htab_node __arena *n)
{
	__scx_htab_pin(h);
	__scx_htab_pin(link);
	__scx_htab_pin(n);
	__scx_hst(link, __scx_hld((u64 __arena *)&n->next));
	__scx_hst((u64 __arena *)&n->next, SCX_ARENA_HTAB_POISON);
	__scx_hst(&h->nr, __scx_hld(&h->nr) - 1);
}

/**
 * scx_arena_htab_delete - take @key's node off @h.
 * @h: the table.
 * @key: the key.
 * @out: receives the node (NULL when not found); may be NULL.
 *
 * The node is not freed: that is the caller's (it is the caller's object).
 * Returns 0, or -ENOENT when @key is not in @h.
 */
static __always_inline int scx_arena_htab_delete(struct scx_arena_htab __arena *h, u64 key,
						 struct scx_arena_htab_node __arena **out)
{
	struct scx_arena_htab_node __arena *n;
	u64 __arena *link;
	bool bad;

	__scx_htab_pin(h);
	if (out)
		*out = NULL;
	n = __scx_arena_htab_find(h, key, &link, &bad);
	if (!n)
		return -ENOENT;
	__scx_arena_htab_unlink(h, link, n);
	if (out)
		*out = n;
	return 0;
}

/**
 * scx_arena_htab_remove - take node @n off @h.
 * @h: the table.
 * @n: a node in @h.
 *
 * Returns 0, or -ENOENT (nothing changed) when @n is NULL or not the node
 * @h holds under @n's key.
 */
static __always_inline int scx_arena_htab_remove(struct scx_arena_htab __arena *h,
						 struct scx_arena_htab_node __arena *n)
{
	struct scx_arena_htab_node __arena *found;
	u64 __arena *link;
	bool bad;

	__scx_htab_pin(h);
	__scx_htab_pin(n);
	if (!n)
		return -ENOENT;
	found = __scx_arena_htab_find(h, __scx_hld(&n->key), &link, &bad);
	if ((u64)found != (u64)n)
		return -ENOENT;
	__scx_arena_htab_unlink(h, link, found);
	return 0;
}

/**
 * scx_arena_htab_iter_next - the next node of a walk over @h.
 * @h: the table.
 * @it: the cursor, zeroed to start.
 *
 * Returns each node once, bucket by bucket, then NULL. The node returned
 * may be deleted (and freed) before the next call: the cursor already
 * holds its successor. Other changes to @h during a walk may make it miss
 * or repeat elements. Scans at most the remaining buckets per call.
 */
static __always_inline struct scx_arena_htab_node __arena *
scx_arena_htab_iter_next(struct scx_arena_htab __arena *h, struct scx_arena_htab_iter *it)
{
	struct scx_arena_htab_node __arena *n;
	u64 nb, b, head;

	__scx_htab_pin(h);
	n = scx_arena_from_u64(struct scx_arena_htab_node, it->next);
	if (!n) {
		if (!__scx_hld(&h->buckets))
			return NULL;
		nb = __scx_hld(&h->nr_buckets);
		head = 0;
		bpf_for(b, it->bucket, nb) {
			head = *(volatile u64 __arena *)__scx_htab_slot(h, b);
			if (head) {
				it->bucket = b + 1;
				break;
			}
		}
		if (!head) {
			it->bucket = nb;
			return NULL;
		}
		n = scx_arena_from_u64(struct scx_arena_htab_node, head);
	}
	__scx_htab_pin(n);
	it->next = (u64)__scx_hld(&n->next);
	return n;
}

/**
 * scx_arena_htab_for_each - iterate over the nodes of @h.
 * @pos: a struct scx_arena_htab_node __arena * variable, the cursor.
 * @h: the table (struct scx_arena_htab __arena *).
 * @it: a struct scx_arena_htab_iter variable (on the stack), reset here.
 * @max: at most this many nodes are visited (at most 8M, BPF_MAX_LOOPS).
 *
 * The body may delete (and free) @pos, but nothing else; break and
 * continue work as usual. @pos is NULL after a walk that ran out of nodes.
 */
#define scx_arena_htab_for_each(pos, h, it, max)                               \
	for (struct bpf_iter_num ___scx_hit                                    \
		     __attribute__((aligned(8), cleanup(bpf_iter_num_destroy))), \
	     *___scx_hp __attribute__((unused)) =                             \
		     (bpf_iter_num_new(&___scx_hit, 0, (max)),                 \
		      (void)bpf_iter_num_destroy, (it).bucket = 0, (it).next = 0, \
		      (pos) = NULL, (void *)0);                                \
	     bpf_iter_num_next(&___scx_hit) &&                                 \
	     ((pos) = scx_arena_htab_iter_next((h), &(it)));)

/**
 * scx_arena_htab_destroy - empty @h and free its buckets.
 * @h: the table.
 * @free_off: SCX_ARENA_HTAB_KEEP to leave the elements to the caller
 *            (their nodes poisoned), or the byte offset of the node in the
 *            elements, which are then freed with scx_arena_free().
 *
 * Afterwards @h is a zeroed (capacity 0) table again and may be
 * initialised anew. Visits at most the element count of nodes per bucket.
 * Returns 0, or -EFAULT when a chain was longer than the element count
 * (corruption; reported, and the rest of that chain is leaked).
 */
static __always_inline int scx_arena_htab_destroy(struct scx_arena_htab __arena *h, s64 free_off)
{
	struct scx_arena_htab_node __arena *n;
	u64 nb, b, i, nr, head, buckets;
	u64 __arena *slot;
	int ret = 0;

	__scx_htab_pin(h);
	buckets = __scx_hld(&h->buckets);
	if (!buckets)
		goto out;
	nb = __scx_hld(&h->nr_buckets);
	nr = __scx_hld(&h->nr);
	bpf_for(b, 0, nb) {
		slot = __scx_htab_slot(h, b);
		__scx_htab_pin(slot);
		head = *slot;
		*slot = 0;
		bpf_for(i, 0, nr + 1) {
			n = scx_arena_from_u64(struct scx_arena_htab_node, head);
			__scx_htab_pin(n);
			if (!n)
				break;
			head = (u64)__scx_hld(&n->next);
			__scx_hst((u64 __arena *)&n->next, SCX_ARENA_HTAB_POISON);
			if (free_off >= 0)
				scx_arena_free((void __arena *)((char __arena *)n - free_off));
		}
		if (head) {
			ret = -EFAULT;
			scx_arena_error("htab %llx: chain longer than its %llu elements", (u64)h, nr);
		}
	}
	scx_arena_free(scx_arena_from_u64(void, buckets));
out:
	__scx_hst(&h->buckets, 0);
	barrier();
	__scx_hst(&h->nr_buckets, 0);
	barrier();
	__scx_hst(&h->nr, 0);
	barrier();
	__scx_hst(&h->capacity, 0);
	return ret;
}

/**
 * scx_arena_htab_entry - the struct of @type containing node @n as @member.
 * @n: a node pointer, or NULL (gives NULL).
 * @type: the containing struct type.
 * @member: the name of the node in @type.
 */
#define scx_arena_htab_entry(n, type, member)                                  \
	((type __arena *)__scx_arena_htab_entry((n), offsetof(type, member)))

static __always_inline void __arena *
__scx_arena_htab_entry(struct scx_arena_htab_node __arena *n, u64 off)
{
	__scx_htab_pin(n);
	return n ? (void __arena *)((char __arena *)n - off) : NULL;
}

/* ---------------------------------------------------------------------------
 * The locked table.
 */

#define __scx_arena_htab_lock(hl) scx_arena_lock_acquire_or_error(&(hl)->lock, "htab")

/**
 * scx_arena_htab_locked_init - scx_arena_htab_init() under the lock.
 * @hl: the locked table; zeroed memory is an uninitialised one.
 * @capacity: as for scx_arena_htab_init().
 *
 * Returns as scx_arena_htab_init(), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_htab_locked_init(struct scx_arena_htab_locked __arena *hl,
						      u64 capacity)
{
	int ret;

	__scx_htab_pin(hl);
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_htab_init(&hl->htab, capacity);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_htab_locked_len - the element count of @hl (lock-free snapshot).
 * @hl: the locked table.
 */
static __always_inline u64 scx_arena_htab_locked_len(struct scx_arena_htab_locked __arena *hl)
{
	__scx_htab_pin(hl);
	return *(volatile u64 __arena *)&hl->htab.nr;
}

/**
 * scx_arena_htab_locked_insert - scx_arena_htab_insert() under the lock.
 * @hl: the locked table.
 * @key: the key.
 * @n: a node not in any table.
 *
 * Returns as scx_arena_htab_insert(), or -ETIMEDOUT (reported; nothing
 * changed).
 */
static __always_inline int scx_arena_htab_locked_insert(struct scx_arena_htab_locked __arena *hl,
							u64 key,
							struct scx_arena_htab_node __arena *n)
{
	int ret;

	__scx_htab_pin(hl);
	__scx_htab_pin(n);
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_htab_insert(&hl->htab, key, n);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_htab_locked_lookup - scx_arena_htab_lookup() under the lock.
 * @hl: the locked table.
 * @key: the key.
 * @out: receives the node, or NULL when @key is not in the table.
 *
 * Returns 0, or -ETIMEDOUT (then *@out is NULL).
 */
static __always_inline int scx_arena_htab_locked_lookup(struct scx_arena_htab_locked __arena *hl,
							u64 key,
							struct scx_arena_htab_node __arena **out)
{
	int ret;

	__scx_htab_pin(hl);
	*out = NULL;
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	*out = scx_arena_htab_lookup(&hl->htab, key);
	scx_arena_lock_release(&hl->lock);
	return 0;
}

/**
 * scx_arena_htab_locked_delete - scx_arena_htab_delete() under the lock.
 * @hl: the locked table.
 * @key: the key.
 * @out: receives the node taken off (NULL when none); may be NULL.
 *
 * Returns 0, -ENOENT, or -ETIMEDOUT.
 */
static __always_inline int scx_arena_htab_locked_delete(struct scx_arena_htab_locked __arena *hl,
							u64 key,
							struct scx_arena_htab_node __arena **out)
{
	int ret;

	__scx_htab_pin(hl);
	if (out)
		*out = NULL;
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_htab_delete(&hl->htab, key, out);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_htab_locked_remove - scx_arena_htab_remove() under the lock.
 * @hl: the locked table.
 * @n: a node in the table.
 *
 * Returns 0, -ENOENT, or -ETIMEDOUT.
 */
static __always_inline int scx_arena_htab_locked_remove(struct scx_arena_htab_locked __arena *hl,
							struct scx_arena_htab_node __arena *n)
{
	int ret;

	__scx_htab_pin(hl);
	__scx_htab_pin(n);
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_htab_remove(&hl->htab, n);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/**
 * scx_arena_htab_locked_destroy - scx_arena_htab_destroy() under the lock.
 * @hl: the locked table.
 * @free_off: as for scx_arena_htab_destroy().
 *
 * Returns as scx_arena_htab_destroy(), or -ETIMEDOUT.
 */
static __always_inline int scx_arena_htab_locked_destroy(struct scx_arena_htab_locked __arena *hl,
							 s64 free_off)
{
	int ret;

	__scx_htab_pin(hl);
	ret = __scx_arena_htab_lock(hl);
	if (ret)
		return ret;
	ret = scx_arena_htab_destroy(&hl->htab, free_off);
	scx_arena_lock_release(&hl->lock);
	return ret;
}

/* ---------------------------------------------------------------------------
 * Typed tables.
 */

/**
 * SCX_ARENA_HTAB_DEFINE - typed operations for tables of @type.
 * @name: prefix of the generated functions.
 * @type: the element struct, e.g. struct task_ctx.
 * @member: the name of its struct scx_arena_htab_node (which holds the key).
 *
 * Generates, with T = @type __arena *, h a struct scx_arena_htab __arena *
 * and hl a struct scx_arena_htab_locked __arena *, and the returns of the
 * untyped operations:
 *
 *	T    name_entry(struct scx_arena_htab_node __arena *n)  (NULL -> NULL)
 *	int  name_insert(h, u64 key, T)
 *	T    name_lookup(h, u64 key)                 NULL when absent
 *	int  name_delete(h, u64 key, T *out)         out may be NULL
 *	int  name_remove(h, T)
 *	int  name_destroy(h)                         frees every element
 *	int  name_locked_insert(hl, u64 key, T)
 *	int  name_locked_lookup(hl, u64 key, T *out)
 *	int  name_locked_delete(hl, u64 key, T *out)
 *	int  name_locked_remove(hl, T)
 *	int  name_locked_destroy(hl)                 frees every element
 *
 * A NULL element makes insert return -EINVAL and remove -ENOENT.
 */
#define SCX_ARENA_HTAB_DEFINE(name, type, member)                              \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_entry(struct scx_arena_htab_node __arena *n)                     \
	{                                                                      \
		return scx_arena_htab_entry(n, type, member);                  \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_insert(struct scx_arena_htab __arena *h, u64 key, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_htab_insert(h, key, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) type __arena *          \
	name##_lookup(struct scx_arena_htab __arena *h, u64 key)                \
	{                                                                      \
		return name##_entry(scx_arena_htab_lookup(h, key));            \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_delete(struct scx_arena_htab __arena *h, u64 key, type __arena **out) \
	{                                                                      \
		struct scx_arena_htab_node __arena *___n;                      \
		int ___ret = scx_arena_htab_delete(h, key, &___n);              \
									       \
		if (out)                                                       \
			*out = name##_entry(___n);                             \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_remove(struct scx_arena_htab __arena *h, type __arena *e)        \
	{                                                                      \
		return e ? scx_arena_htab_remove(h, &e->member) : -ENOENT;     \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_destroy(struct scx_arena_htab __arena *h)                        \
	{                                                                      \
		return scx_arena_htab_destroy(h, offsetof(type, member));      \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_insert(struct scx_arena_htab_locked __arena *hl, u64 key, \
			     type __arena *e)                                  \
	{                                                                      \
		return e ? scx_arena_htab_locked_insert(hl, key, &e->member) : -EINVAL; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_lookup(struct scx_arena_htab_locked __arena *hl, u64 key, \
			     type __arena **out)                               \
	{                                                                      \
		struct scx_arena_htab_node __arena *___n;                      \
		int ___ret = scx_arena_htab_locked_lookup(hl, key, &___n);      \
									       \
		*out = name##_entry(___n);                                     \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_delete(struct scx_arena_htab_locked __arena *hl, u64 key, \
			     type __arena **out)                               \
	{                                                                      \
		struct scx_arena_htab_node __arena *___n;                      \
		int ___ret = scx_arena_htab_locked_delete(hl, key, &___n);      \
									       \
		if (out)                                                       \
			*out = name##_entry(___n);                             \
		return ___ret;                                                 \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_remove(struct scx_arena_htab_locked __arena *hl, type __arena *e) \
	{                                                                      \
		return e ? scx_arena_htab_locked_remove(hl, &e->member) : -ENOENT; \
	}                                                                      \
	static __always_inline __attribute__((unused)) int                     \
	name##_locked_destroy(struct scx_arena_htab_locked __arena *hl)         \
	{                                                                      \
		return scx_arena_htab_locked_destroy(hl, offsetof(type, member)); \
	}
