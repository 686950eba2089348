/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The B+tree of scx_arena/btree.h.
 *
 * Nodes are handled as u64 arena addresses and turned into pointers only
 * at each access (comparing typed arena pointers lets clang-19 swap one for
 * an uncast copy). Node surgery is built from one primitive, a word move
 * (__scx_btree_move), so each global function stays small for the
 * verifier. Call depth: an operation (1 frame) -> split/fix (1) -> move
 * (1), plus the allocator.
 */
#include <scx_arena/alloc.h>
#include <scx_arena/btree.h>
#include <scx_arena/cmp.h>

#define MAX SCX_ARENA_BTREE_MAX
#define MIN_LEAF SCX_ARENA_BTREE_MIN_LEAF
#define MIN_INNER SCX_ARENA_BTREE_MIN_INNER
#define MAX_HEIGHT SCX_ARENA_BTREE_MAX_HEIGHT

typedef struct scx_arena_btree __arena *tree_t;
typedef struct scx_arena_btree_node __arena *node_t;

#define node(a) __scx_bt_node(a)
#define LD(p) __scx_bt_ld(p)
#define ST(p, v) __scx_bt_st(p, v)

/* The number of keys of node @a, clamped to MAX. */
static __always_inline u32 nkeys(u64 a)
{
	u32 nr = LD(&node(a)->nr);

	return nr > MAX ? MAX : nr;
}

/*
 * Moves @n words from arena address @src to @dst (ranges may overlap).
 * Returns 0, or -EINVAL for a count no node has.
 */
__noinline int __scx_btree_move(u64 dst, u64 src, u32 n)
{
	u64 __arena *d = scx_arena_from_u64(u64, dst);
	u64 __arena *s = scx_arena_from_u64(u64, src);
	u32 i;

	scx_arena_assoc();
	if (n > MAX + 1)
		return -EINVAL;
	/*
	 * Plain loops bounded by the check above (the verifier walks their
	 * at most MAX + 1 iterations): no kfunc call per word as with
	 * bpf_for, and no may_goto budget that could end a move half done.
	 * The opaque counter keeps clang from turning them into memmove().
	 */
	if (dst <= src) {
		for (i = 0; i < n; i++) {
			ST(&d[i], LD(&s[i]));
			barrier_var(i);
		}
	} else {
		for (i = 0; i < n; i++) {
			ST(&d[n - 1 - i], LD(&s[n - 1 - i]));
			barrier_var(i);
		}
	}
	return 0;
}

/* Address of key @i / slot @i of node @a. */
#define KEY(a, i) ((u64)&node(a)->keys[(i)])
#define SLOT(a, i) ((u64)&node(a)->slots[(i)])

/*
 * One step of __scx_btree_scan(): probes key @pos + @step - 1 of node @a
 * (its index clamped into the array: a probe at or past @nr is loaded but
 * not used) and returns @pos advanced by @step when that key exists and
 * goes before @key (< @key, or <= @key when @s is 1), else @pos.
 */
static __always_inline u64 scan_step(u64 a, u64 key, u64 s, u64 nr, u64 pos, u64 step)
{
	u64 i = pos + step - 1, k, lt, gt, go;

	k = LD(&node(a)->keys[scx_arena_select(i, MAX - 1, scx_arena_ltu(MAX - 1, i))]);
	lt = scx_arena_ltu(k, key);
	gt = scx_arena_ltu(key, k);
	go = (lt | (s & (gt ^ 1))) & scx_arena_ltu(i, nr);
	return pos + (step & -go);
}

/*
 * Index of the first key of node @a that is >= @key, or > @key when
 * @strict; nkeys(@a) when none. A binary search without a loop or a jump
 * (cmp.h): five halving steps cover the up to 31 answers 0..MAX; a step
 * advances @pos when the key it probes exists (index < nr) and is < @key
 * (or <= @key when @strict). A global function: verified once, not at
 * every call site.
 */
_Static_assert(MAX < 32, "five halving steps cover a node's keys");

__noinline u32 __scx_btree_scan(u64 a, u64 key, u32 strict)
{
	u64 nr, pos = 0, s = strict ? 1 : 0;

	scx_arena_assoc();
	nr = nkeys(a);
	pos = scan_step(a, key, s, nr, pos, 16);
	pos = scan_step(a, key, s, nr, pos, 8);
	pos = scan_step(a, key, s, nr, pos, 4);
	pos = scan_step(a, key, s, nr, pos, 2);
	pos = scan_step(a, key, s, nr, pos, 1);
	return pos;
}

/* Index of the first key of node @a that is >= @key (nkeys(@a) when none). */
#define lower_idx(a, key) __scx_btree_scan((a), (key), 0)

/* Index of the child of inner node @a whose range holds @key. */
#define child_idx(a, key) __scx_btree_scan((a), (key), 1)

static __always_inline u64 child(u64 a, u32 i)
{
	return LD(&node(a)->slots[i]);
}

static __always_inline bool is_leaf(u64 a)
{
	return LD(&node(a)->leaf) != 0;
}

/*
 * Reports a corrupt tree (which check failed: a line of this file) with
 * scx_arena_error(); returns -EFAULT. Out of line: the report's formatting
 * state would otherwise take stack at every call site.
 */
__noinline int __scx_btree_corrupt(u32 line)
{
	scx_arena_error("btree: corrupt tree (btree.bpf.c:%u)", line);
	return -EFAULT;
}

#define corrupt(what) __scx_btree_corrupt(__LINE__)

/*
 * Descends from the root towards @key, read-only. Returns the leaf
 * address, or 0 (empty tree, or corrupt: reported).
 */
static __always_inline u64 find_leaf(tree_t t, u64 key)
{
	u64 a = LD(&t->root);
	u32 d;

	if (!a)
		return 0;
	bpf_for(d, 0, MAX_HEIGHT) {
		if (is_leaf(a))
			return a;
		a = child(a, child_idx(a, key));
		if (!a)
			break;
	}
	corrupt("descent did not reach a leaf");
	return 0;
}

u64 __scx_arena_btree_find(struct scx_arena_btree __arena *t __arg_arena, u64 key)
{
	u64 leaf;
	u32 pos;

	scx_arena_assoc();
	__scx_btree_pin(t);
	leaf = find_leaf(t, key);
	if (!leaf)
		return 0;
	pos = lower_idx(leaf, key);
	if (pos >= nkeys(leaf) || LD(&node(leaf)->keys[pos]) != key)
		return 0;
	return SLOT(leaf, pos);
}

u64 __scx_arena_btree_seek(struct scx_arena_btree __arena *t __arg_arena, u64 key)
{
	u64 leaf;
	u32 pos;

	scx_arena_assoc();
	__scx_btree_pin(t);
	leaf = find_leaf(t, key);
	if (!leaf)
		return 0;
	pos = lower_idx(leaf, key);
	if (pos >= nkeys(leaf)) {
		/* Every key here is smaller; the next leaf's first is not. */
		leaf = LD(&node(leaf)->next);
		pos = 0;
		if (!leaf)
			return 0;
	}
	return leaf | ((u64)pos << __SCX_BTREE_POS_SHIFT);
}

/* ---------------------------------------------------------------------------
 * Insert.
 */

/* Makes the fresh node @a an empty node of kind @leaf. */
static __always_inline void node_init(u64 a, u32 leaf)
{
	node_t n = node(a);

	__scx_btree_pin(n);
	ST(&n->nr, 0);
	barrier();
	ST(&n->leaf, leaf);
	barrier();
	ST(&n->next, 0);
	barrier();
	ST(&n->prev, 0);
}

/*
 * Fault injection for tests: when nonzero, counts node allocations down and
 * makes the one that brings it to 0 fail, as an exhausted arena would.
 */
u32 scx_arena_btree_fail_alloc;

/* A new, uninitialised node; 0 when the allocator has none. */
static __always_inline u64 node_alloc(void)
{
	u32 f = scx_arena_btree_fail_alloc;

	if (f) {
		scx_arena_btree_fail_alloc = f - 1;
		if (f == 1)
			return 0;
	}
	return (u64)scx_arena_alloc(sizeof(struct scx_arena_btree_node));
}

/* Takes one of the nodes reserved for this insert. */
static __always_inline u64 spare_pop(tree_t t)
{
	u32 k = LD(&t->nr_spare);

	if (!k || k > MAX_HEIGHT + 2)
		return 0;
	ST(&t->nr_spare, k - 1);
	return LD(&t->spare[k - 1]);
}

/*
 * Splits the full child @i of inner node @p, with the fresh node @r as the
 * new right half. Returns 0 or -EFAULT.
 */
__noinline int __scx_btree_split(struct scx_arena_btree __arena *t __arg_arena, u64 p, u32 i,
				 u64 r)
{
	u64 c, sep, next;
	u32 pnr, leaf, keep;

	scx_arena_assoc();
	__scx_btree_pin(t);
	if (!p || !r || i > MAX)
		return corrupt("split");
	c = child(p, i);
	pnr = nkeys(p);
	if (!c || nkeys(c) != MAX || pnr >= MAX)
		return corrupt("split of a node that is not full");
	leaf = is_leaf(c);
	node_init(r, leaf);
	keep = MAX / 2;
	if (leaf) {
		/* keep | MAX - keep; the right half's first key separates. */
		__scx_btree_move(KEY(r, 0), KEY(c, keep), MAX - keep);
		__scx_btree_move(SLOT(r, 0), SLOT(c, keep), MAX - keep);
		ST(&node(r)->nr, MAX - keep);
		sep = LD(&node(r)->keys[0]);
	} else {
		/* keep | the separator moves up | MAX - keep - 1. */
		sep = LD(&node(c)->keys[keep]);
		__scx_btree_move(KEY(r, 0), KEY(c, keep + 1), MAX - keep - 1);
		__scx_btree_move(SLOT(r, 0), SLOT(c, keep + 1), MAX - keep);
		ST(&node(r)->nr, MAX - keep - 1);
	}
	ST(&node(c)->nr, keep);
	/* Level links: c <-> r <-> c's old next. */
	next = LD(&node(c)->next);
	ST(&node(r)->next, next);
	ST(&node(r)->prev, c);
	if (next)
		ST(&node(next)->prev, r);
	else if (leaf)
		ST(&t->last, r);
	ST(&node(c)->next, r);
	/* sep at i, r at i + 1 in the parent. */
	__scx_btree_move(KEY(p, i + 1), KEY(p, i), pnr - i);
	__scx_btree_move(SLOT(p, i + 2), SLOT(p, i + 1), pnr - i);
	ST(&node(p)->keys[i], sep);
	ST(&node(p)->slots[i + 1], r);
	ST(&node(p)->nr, pnr + 1);
	ST(&t->nr_nodes, LD(&t->nr_nodes) + 1);
	return 0;
}

/* Frees the reserved nodes left (after a failure). */
static __always_inline void spare_free(tree_t t)
{
	u32 k;

	bpf_for(k, 0, MAX_HEIGHT + 2) {
		if (!LD(&t->nr_spare))
			break;
		scx_arena_free(node(spare_pop(t)));
	}
	ST(&t->nr_spare, 0);
}

/*
 * Reserves the t->nr_spare nodes counted by the first pass of an insert in
 * t->spare. Returns 0, or -ENOMEM with none reserved.
 */
static __always_inline int spare_reserve(tree_t t)
{
	u32 k, need = LD(&t->nr_spare);
	u64 a;

	ST(&t->nr_spare, 0);
	if (need > MAX_HEIGHT + 2)
		return corrupt("too many splits");
	bpf_for(k, 0, need) {
		a = node_alloc();
		if (!a) {
			spare_free(t);
			return -ENOMEM;
		}
		ST(&t->spare[k], a);
		ST(&t->nr_spare, k + 1);
	}
	return 0;
}

/* Adds @key/@val to leaf @a at @pos; the leaf has room. */
static __always_inline void leaf_insert(u64 a, u32 pos, u64 key, u64 val)
{
	u32 nr = nkeys(a);

	__scx_btree_move(KEY(a, pos + 1), KEY(a, pos), nr - pos);
	__scx_btree_move(SLOT(a, pos + 1), SLOT(a, pos), nr - pos);
	ST(&node(a)->keys[pos], key);
	ST(&node(a)->slots[pos], val);
	ST(&node(a)->nr, nr + 1);
}

int __scx_arena_btree_insert(struct scx_arena_btree __arena *t __arg_arena, u64 key, u64 val,
			     u32 replace)
{
	u64 a, c, root;
	u32 d, i, pos;

	scx_arena_assoc();
	__scx_btree_pin(t);
	root = LD(&t->root);
	if (!root) {
		a = node_alloc();
		if (!a)
			return -ENOMEM;
		node_init(a, 1);
		ST(&node(a)->keys[0], key);
		ST(&node(a)->slots[0], val);
		ST(&node(a)->nr, 1);
		ST(&t->root, a);
		ST(&t->first, a);
		ST(&t->last, a);
		ST(&t->nr, 1);
		ST(&t->height, 1);
		ST(&t->nr_nodes, 1);
		return 0;
	}

	/*
	 * Read-only pass: a present key ends here; otherwise count the full
	 * nodes on the path, each of which the second pass splits (the
	 * root's split needs one more node: the new root). Splitting a node
	 * does not change which child of it the path takes next, so the
	 * count is exact.
	 */
	ST(&t->nr_spare, nkeys(root) == MAX ? 1 : 0);
	a = root;
	bpf_for(d, 0, MAX_HEIGHT) {
		if (nkeys(a) == MAX)
			ST(&t->nr_spare, LD(&t->nr_spare) + 1);
		if (is_leaf(a))
			break;
		a = child(a, child_idx(a, key));
		if (!a)
			break;
	}
	if (!a || !is_leaf(a)) {
		ST(&t->nr_spare, 0);
		return corrupt("descent did not reach a leaf");
	}
	pos = lower_idx(a, key);
	if (pos < nkeys(a) && LD(&node(a)->keys[pos]) == key) {
		ST(&t->nr_spare, 0);
		if (!replace)
			return -EEXIST;
		ST(&node(a)->slots[pos], val);
		return 1;
	}
	if (spare_reserve(t))
		return -ENOMEM;

	/* Nothing can fail from here on, short of corruption. */
	if (nkeys(root) == MAX) {
		a = spare_pop(t);
		node_init(a, 0);
		ST(&node(a)->slots[0], root);
		ST(&t->root, a);
		ST(&t->height, LD(&t->height) + 1);
		ST(&t->nr_nodes, LD(&t->nr_nodes) + 1);
		if (__scx_btree_split(t, a, 0, spare_pop(t)))
			return -EFAULT;
	}
	a = LD(&t->root);
	bpf_for(d, 0, MAX_HEIGHT) {
		if (is_leaf(a))
			break;
		i = child_idx(a, key);
		c = child(a, i);
		if (nkeys(c) == MAX) {
			if (__scx_btree_split(t, a, i, spare_pop(t)))
				return -EFAULT;
			if (key >= LD(&node(a)->keys[i]))
				i++;
			c = child(a, i);
		}
		a = c;
	}
	if (!is_leaf(a) || nkeys(a) >= MAX)
		return corrupt("insert reached no leaf with room");
	leaf_insert(a, lower_idx(a, key), key, val);
	ST(&t->nr, LD(&t->nr) + 1);
	if (LD(&t->nr_spare))
		return corrupt("spare nodes left over");
	return 0;
}

/* ---------------------------------------------------------------------------
 * Remove.
 */

/*
 * Merges child @i + 1 of @p into child @i; @p loses the separator between
 * them. Returns the emptied child, unlinked, for the caller to free.
 */
static __always_inline u64 merge(tree_t t, u64 p, u32 i)
{
	u64 a = child(p, i), b = child(p, i + 1), next;
	u32 anr = nkeys(a), bnr = nkeys(b), pnr = nkeys(p);

	if (is_leaf(a)) {
		__scx_btree_move(KEY(a, anr), KEY(b, 0), bnr);
		__scx_btree_move(SLOT(a, anr), SLOT(b, 0), bnr);
		ST(&node(a)->nr, anr + bnr);
	} else {
		ST(&node(a)->keys[anr], LD(&node(p)->keys[i]));
		__scx_btree_move(KEY(a, anr + 1), KEY(b, 0), bnr);
		__scx_btree_move(SLOT(a, anr + 1), SLOT(b, 0), bnr + 1);
		ST(&node(a)->nr, anr + bnr + 1);
	}
	next = LD(&node(b)->next);
	ST(&node(a)->next, next);
	if (next)
		ST(&node(next)->prev, a);
	else if (is_leaf(a))
		ST(&t->last, a);
	__scx_btree_move(KEY(p, i), KEY(p, i + 1), pnr - i - 1);
	__scx_btree_move(SLOT(p, i + 1), SLOT(p, i + 2), pnr - i - 1);
	ST(&node(p)->nr, pnr - 1);
	ST(&t->nr_nodes, LD(&t->nr_nodes) - 1);
	return b;
}

/* Moves the first entry of child @i + 1 of @p to the end of child @i. */
static __always_inline void borrow_right(u64 p, u32 i)
{
	u64 c = child(p, i), r = child(p, i + 1);
	u32 cnr = nkeys(c), rnr = nkeys(r);

	if (is_leaf(c)) {
		ST(&node(c)->keys[cnr], LD(&node(r)->keys[0]));
		ST(&node(c)->slots[cnr], LD(&node(r)->slots[0]));
		__scx_btree_move(KEY(r, 0), KEY(r, 1), rnr - 1);
		__scx_btree_move(SLOT(r, 0), SLOT(r, 1), rnr - 1);
		ST(&node(p)->keys[i], LD(&node(r)->keys[0]));
	} else {
		ST(&node(c)->keys[cnr], LD(&node(p)->keys[i]));
		ST(&node(c)->slots[cnr + 1], LD(&node(r)->slots[0]));
		ST(&node(p)->keys[i], LD(&node(r)->keys[0]));
		__scx_btree_move(KEY(r, 0), KEY(r, 1), rnr - 1);
		__scx_btree_move(SLOT(r, 0), SLOT(r, 1), rnr);
	}
	ST(&node(c)->nr, cnr + 1);
	ST(&node(r)->nr, rnr - 1);
}

/* Moves the last entry of child @i - 1 of @p to the front of child @i. */
static __always_inline void borrow_left(u64 p, u32 i)
{
	u64 l = child(p, i - 1), c = child(p, i);
	u32 lnr = nkeys(l), cnr = nkeys(c);

	if (is_leaf(c)) {
		__scx_btree_move(KEY(c, 1), KEY(c, 0), cnr);
		__scx_btree_move(SLOT(c, 1), SLOT(c, 0), cnr);
		ST(&node(c)->keys[0], LD(&node(l)->keys[lnr - 1]));
		ST(&node(c)->slots[0], LD(&node(l)->slots[lnr - 1]));
		ST(&node(p)->keys[i - 1], LD(&node(c)->keys[0]));
	} else {
		__scx_btree_move(KEY(c, 1), KEY(c, 0), cnr);
		__scx_btree_move(SLOT(c, 1), SLOT(c, 0), cnr + 1);
		ST(&node(c)->keys[0], LD(&node(p)->keys[i - 1]));
		ST(&node(c)->slots[0], LD(&node(l)->slots[lnr]));
		ST(&node(p)->keys[i - 1], LD(&node(l)->keys[lnr - 1]));
	}
	ST(&node(c)->nr, cnr + 1);
	ST(&node(l)->nr, lnr - 1);
}

/*
 * Makes child @i of inner node @p hold more than its minimum, by borrowing
 * from a sibling or merging with one. Returns the index of the child that
 * now covers child @i's keys, or a negative error; *@dead is a node a merge
 * emptied, or 0. The caller frees it: a free from here would sit one call
 * deeper, and in checked mode that chain (free, quarantine, slab, a CPU
 * cache page from the buddy allocator) is more stack than the verifier
 * allows.
 */
__noinline int __scx_btree_fix(struct scx_arena_btree __arena *t __arg_arena, u64 p, u32 i,
			       u64 *dead __arg_nonnull)
{
	u64 c, l = 0, r = 0;
	u32 pnr, min;

	*dead = 0;
	scx_arena_assoc();
	__scx_btree_pin(t);
	if (!p)
		return corrupt("fix");
	pnr = nkeys(p);
	if (i > pnr || !pnr)
		return corrupt("fix: bad child");
	c = child(p, i);
	if (!c)
		return corrupt("fix: no child");
	min = is_leaf(c) ? MIN_LEAF : MIN_INNER;
	if (nkeys(c) > min)
		return i;
	if (i < pnr)
		r = child(p, i + 1);
	if (i > 0)
		l = child(p, i - 1);
	if (r && nkeys(r) > min) {
		borrow_right(p, i);
		return i;
	}
	if (l && nkeys(l) > min) {
		borrow_left(p, i);
		return i;
	}
	if (r) {
		*dead = merge(t, p, i);
		return i;
	}
	if (!l)
		return corrupt("fix: no sibling");
	*dead = merge(t, p, i - 1);
	return i - 1;
}

int __scx_arena_btree_remove(struct scx_arena_btree __arena *t __arg_arena, u64 key)
{
	u64 a, c, dead = 0;
	u32 d, nr, pos;
	int i;

	scx_arena_assoc();
	__scx_btree_pin(t);
	a = LD(&t->root);
	if (!a)
		return -ENOENT;
	bpf_for(d, 0, MAX_HEIGHT) {
		if (is_leaf(a))
			break;
		i = __scx_btree_fix(t, a, child_idx(a, key), &dead);
		if (dead)
			scx_arena_free(node(dead));
		if (i < 0)
			return i;
		c = child(a, i);
		if (!nkeys(a)) {
			/* A root left with one child: the child is the root. */
			ST(&t->root, c);
			ST(&t->height, LD(&t->height) - 1);
			ST(&t->nr_nodes, LD(&t->nr_nodes) - 1);
			scx_arena_free(node(a));
		}
		a = c;
	}
	if (!is_leaf(a))
		return corrupt("descent did not reach a leaf");
	nr = nkeys(a);
	pos = lower_idx(a, key);
	if (pos >= nr || LD(&node(a)->keys[pos]) != key)
		return -ENOENT;
	ST(&t->out_key, key);
	ST(&t->out_val, LD(&node(a)->slots[pos]));
	__scx_btree_move(KEY(a, pos), KEY(a, pos + 1), nr - pos - 1);
	__scx_btree_move(SLOT(a, pos), SLOT(a, pos + 1), nr - pos - 1);
	ST(&node(a)->nr, nr - 1);
	ST(&t->nr, LD(&t->nr) - 1);
	if (nr == 1) {
		/* Only the root leaf may run empty: the tree is empty. */
		scx_arena_free(node(a));
		scx_arena_btree_init(t);
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Destroy.
 */

s64 __scx_arena_btree_destroy(struct scx_arena_btree __arena *t __arg_arena)
{
	u64 a, below, next;
	u32 d, nodes, k;
	s64 freed = 0;

	scx_arena_assoc();
	__scx_btree_pin(t);
	a = LD(&t->root);
	nodes = LD(&t->nr_nodes);
	bpf_for(d, 0, MAX_HEIGHT) {
		if (!a)
			break;
		/* The leftmost node of the level below, before a is freed. */
		below = is_leaf(a) ? 0 : child(a, 0);
		bpf_for(k, 0, nodes) {
			if (!a)
				break;
			next = LD(&node(a)->next);
			scx_arena_free(node(a));
			freed++;
			a = next;
		}
		a = below;
	}
	scx_arena_btree_init(t);
	if (a)
		return corrupt("destroy: deeper than the height bound");
	return freed;
}
