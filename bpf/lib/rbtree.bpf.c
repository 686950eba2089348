/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The arena red-black tree (scx_arena/rbtree.h): insertion, removal,
 * searches and iteration steps, as global functions so that the verifier
 * checks each once per program however often a program calls it.
 *
 * Representation: a node's parent address and colour share one word
 * (parent | SCX_ARENA_RB_BLACK); nodes are 8-byte aligned, so bit 0 is free.
 * Every loop runs at most SCX_ARENA_RB_MAX_DEPTH times (see rbtree.h). Each
 * function ties the calling program to the arena (scx_arena_assoc()), so a
 * sched_ext callback that only follows pointers from .bss still loads.
 */
#include <scx_arena/cmp.h>
#include <scx_arena/rbtree.h>

typedef struct scx_arena_rb_node __arena rbn;

#define RB_BLACK SCX_ARENA_RB_BLACK

/*
 * A read-only walk of at most SCX_ARENA_RB_MAX_DEPTH levels. may_goto
 * (can_loop) rather than a bpf_for iterator: an iteration costs a compare
 * and a decrement instead of a kfunc call, which on a walk of 10-20 levels
 * is a good part of an operation's time. The verifier walks each such
 * loop's iterations (its counter differs between them), so the bodies stay
 * small. Should the program's may_goto budget run out (8M iterations per
 * run, or the kernel's time limit), the walk ends early: the operation
 * finds nothing or fails with -ELOOP before changing anything. The two
 * fixup loops, which change the tree as they go, use bpf_for instead and
 * always run to their end.
 */
#define rb_for(i) for ((i) = 0; (i) < SCX_ARENA_RB_MAX_DEPTH && can_loop; (i)++)

#define ld(p) scx_arena_ld(p)
#define st(p, v) scx_arena_st(p, (v))

static __always_inline rbn *rb_ptr(u64 v)
{
	return scx_arena_from_u64(struct scx_arena_rb_node, v & ~1ull);
}

static __always_inline rbn *parent_of(rbn *n)
{
	return rb_ptr(ld(&n->parent_color));
}

static __always_inline bool is_black(rbn *n)
{
	/* NULL leaves are black. */
	return !n || (ld(&n->parent_color) & RB_BLACK);
}

static __always_inline bool is_red(rbn *n)
{
	return n && !(ld(&n->parent_color) & RB_BLACK);
}

static __always_inline void set_black(rbn *n)
{
	st(&n->parent_color, ld(&n->parent_color) | RB_BLACK);
}

static __always_inline void set_red(rbn *n)
{
	st(&n->parent_color, ld(&n->parent_color) & ~(u64)RB_BLACK);
}

/* Sets @n's parent to @p, keeping @n's colour. */
static __always_inline void set_parent(rbn *n, rbn *p)
{
	st(&n->parent_color, (ld(&n->parent_color) & RB_BLACK) | (u64)p);
}

/* Makes @new @parent's left (@left) or right child, or the root without @parent. */
static __always_inline void set_child(struct scx_arena_rbtree __arena *t, rbn *parent,
				      bool left, rbn *new)
{
	if (!parent)
		st(&t->root, new);
	else if (left)
		st(&parent->left, new);
	else
		st(&parent->right, new);
}

/* Makes @new take @old's place under @parent (or as the root). */
static __always_inline void replace_child(struct scx_arena_rbtree __arena *t, rbn *parent,
					  rbn *old, rbn *new)
{
	set_child(t, parent, parent && ld(&parent->left) == old, new);
}

/*
 *     x              y
 *    / \            / \
 *   a   y    ->    x   c
 *      / \        / \
 *     b   c      a   b
 */
static __always_inline void rotate_left(struct scx_arena_rbtree __arena *t, rbn *x)
{
	rbn *y = ld(&x->right);
	rbn *b = ld(&y->left);
	rbn *p = parent_of(x);

	st(&x->right, b);
	if (b)
		set_parent(b, x);
	set_parent(y, p);
	replace_child(t, p, x, y);
	st(&y->left, x);
	set_parent(x, y);
}

/* The mirror of rotate_left(). */
static __always_inline void rotate_right(struct scx_arena_rbtree __arena *t, rbn *x)
{
	rbn *y = ld(&x->left);
	rbn *b = ld(&y->right);
	rbn *p = parent_of(x);

	st(&x->left, b);
	if (b)
		set_parent(b, x);
	set_parent(y, p);
	replace_child(t, p, x, y);
	st(&y->right, x);
	set_parent(x, y);
}

/* Reports a tree that breaks the height bound: it can only be corrupt. */
#define rb_corrupt(t, what) scx_arena_error("rbtree %llx: " what, (u64)(t))

/*
 * One step of the insert fixup at red node *@np: 0 when the colour rules
 * hold again, 1 when the red uncle was recoloured and the step must be
 * repeated at the grandparent (then in *@np).
 */
static __always_inline int insert_fixup_step(struct scx_arena_rbtree __arena *t, rbn **np)
{
	rbn *n = *np, *p, *g, *u;

	p = parent_of(n);
	if (!p) {
		/* n is the root. */
		set_black(n);
		return 0;
	}
	if (is_black(p))
		return 0;
	/* p is red, so not the root: g exists. */
	g = parent_of(p);
	if (!g) {
		set_black(p);
		return 0;
	}
	if (ld(&g->left) == p) {
		u = ld(&g->right);
		if (is_red(u)) {
			set_black(p);
			set_black(u);
			set_red(g);
			*np = g;
			return 1;
		}
		if (ld(&p->right) == n) {
			rotate_left(t, p);
			p = n;
		}
		set_black(p);
		set_red(g);
		rotate_right(t, g);
		return 0;
	}
	u = ld(&g->left);
	if (is_red(u)) {
		set_black(p);
		set_black(u);
		set_red(g);
		*np = g;
		return 1;
	}
	if (ld(&p->left) == n) {
		rotate_right(t, p);
		p = n;
	}
	set_black(p);
	set_red(g);
	rotate_left(t, g);
	return 0;
}

/*
 * Restores the colour rules after red node @n was linked in. The first two
 * steps run before the loop: most inserts end there, without the kfunc
 * calls of setting up and stepping a bpf_for loop.
 */
static __always_inline int insert_fixup(struct scx_arena_rbtree __arena *t, rbn *n)
{
	u32 i;

	if (!insert_fixup_step(t, &n) || !insert_fixup_step(t, &n))
		return 0;
	bpf_for(i, 0, SCX_ARENA_RB_MAX_DEPTH) {
		if (!insert_fixup_step(t, &n))
			return 0;
	}
	rb_corrupt(t, "insert fixup did not end (corrupt tree)");
	return -ELOOP;
}

int __scx_arena_rbtree_insert(struct scx_arena_rbtree __arena *t __arg_arena,
			      struct scx_arena_rb_node __arena *n __arg_arena, u64 key)
{
	rbn *cur, *parent = NULL;
	u64 pc, mask, left = 0, lmost = 1, rmost = 1;
	u32 i;

	scx_arena_assoc();

	if (!t || !n)
		return -EINVAL;
	pc = ld(&n->parent_color);
	if (pc && pc != SCX_ARENA_RB_POISON)
		return -EEXIST;

	/*
	 * The descent chooses each child without a jump (cmp.h): which way a
	 * random key goes is a coin toss the CPU cannot predict. Equal keys go
	 * right, after the ones already in the tree. A path that only went
	 * left (right) makes @n the new first (last) node.
	 */
	cur = ld(&t->root);
	rb_for(i) {
		if (!cur)
			break;
		parent = cur;
		mask = scx_arena_ltu_mask(key, ld(&cur->key));
		cur = __scx_rb_node(scx_arena_select_mask((u64)ld(&cur->right),
							  (u64)ld(&cur->left), mask));
		left = mask & 1;
		lmost &= left;
		rmost &= left ^ 1;
	}
	if (cur) {
		rb_corrupt(t, "insert: deeper than the height bound (corrupt tree)");
		return -ELOOP;
	}

	st(&n->key, key);
	st(&n->left, NULL);
	barrier();
	st(&n->right, NULL);
	barrier();
	/* Red, under parent. */
	st(&n->parent_color, (u64)parent);
	set_child(t, parent, left, n);

	if (lmost)
		st(&t->first, n);
	if (rmost)
		st(&t->last, n);
	st(&t->nr, ld(&t->nr) + 1);
	return insert_fixup(t, n);
}

/*
 * One step of the remove fixup, for the subtree at *@xp (under *@pp) that
 * is one black node short: 0 when the black heights are restored, 1 when
 * the sibling was recoloured and the step must be repeated one level up
 * (then at *@xp under *@pp), -ELOOP when there is no sibling (a corrupt
 * tree).
 */
static __always_inline int remove_fixup_step(struct scx_arena_rbtree __arena *t, rbn **xp,
					     rbn **pp)
{
	rbn *x = *xp, *parent = *pp, *w, *wl, *wr;

	if (is_red(x) || !parent) {
		if (x)
			set_black(x);
		return 0;
	}
	if (ld(&parent->left) == x) {
		w = ld(&parent->right);
		if (!w)
			return -ELOOP;
		if (is_red(w)) {
			set_black(w);
			set_red(parent);
			rotate_left(t, parent);
			w = ld(&parent->right);
			if (!w)
				return -ELOOP;
		}
		wl = ld(&w->left);
		wr = ld(&w->right);
		if (is_black(wl) && is_black(wr)) {
			set_red(w);
			*xp = parent;
			*pp = parent_of(parent);
			return 1;
		}
		if (is_black(wr)) {
			set_black(wl);
			set_red(w);
			rotate_right(t, w);
			w = ld(&parent->right);
			wr = ld(&w->right);
		}
		/* w takes parent's colour. */
		st(&w->parent_color, (ld(&w->parent_color) & ~(u64)RB_BLACK) |
					     (ld(&parent->parent_color) & RB_BLACK));
		set_black(parent);
		set_black(wr);
		rotate_left(t, parent);
		return 0;
	}
	w = ld(&parent->left);
	if (!w)
		return -ELOOP;
	if (is_red(w)) {
		set_black(w);
		set_red(parent);
		rotate_right(t, parent);
		w = ld(&parent->left);
		if (!w)
			return -ELOOP;
	}
	wl = ld(&w->left);
	wr = ld(&w->right);
	if (is_black(wl) && is_black(wr)) {
		set_red(w);
		*xp = parent;
		*pp = parent_of(parent);
		return 1;
	}
	if (is_black(wl)) {
		set_black(wr);
		set_red(w);
		rotate_left(t, w);
		w = ld(&parent->left);
		wl = ld(&w->left);
	}
	st(&w->parent_color, (ld(&w->parent_color) & ~(u64)RB_BLACK) |
				     (ld(&parent->parent_color) & RB_BLACK));
	set_black(parent);
	set_black(wl);
	rotate_right(t, parent);
	return 0;
}

/*
 * Restores the black height after a black node was unlinked above @x. The
 * first two steps run before the loop, as in insert_fixup().
 */
static __always_inline int remove_fixup(struct scx_arena_rbtree __arena *t, rbn *x, rbn *parent)
{
	int ret;
	u32 i;

	ret = remove_fixup_step(t, &x, &parent);
	if (ret == 1)
		ret = remove_fixup_step(t, &x, &parent);
	if (ret != 1)
		goto out;
	bpf_for(i, 0, SCX_ARENA_RB_MAX_DEPTH) {
		ret = remove_fixup_step(t, &x, &parent);
		if (ret != 1)
			goto out;
	}
	ret = -ELOOP;
out:
	if (ret)
		rb_corrupt(t, "remove fixup: black heights differ (corrupt tree)");
	return ret;
}

int __scx_arena_rbtree_remove(struct scx_arena_rbtree __arena *t __arg_arena,
			      struct scx_arena_rb_node __arena *n __arg_arena)
{
	rbn *parent, *left, *right, *child, *x, *xparent, *y, *yr;
	u64 pc;
	bool black, on_left = false;
	u32 i;

	scx_arena_assoc();

	if (!t || !n)
		return -EINVAL;
	pc = ld(&n->parent_color);
	if (!pc || pc == SCX_ARENA_RB_POISON)
		return -EINVAL;
	parent = rb_ptr(pc);
	if (parent) {
		/* Which side n hangs on serves the unlinking below too. */
		on_left = ld(&parent->left) == n;
		if (!on_left && ld(&parent->right) != n)
			return -EINVAL;
	} else if (ld(&t->root) != n) {
		return -EINVAL;
	}
	left = ld(&n->left);
	right = ld(&n->right);

	/*
	 * The cached ends: the minimum has no left child, so its successor is
	 * its right child (then a red leaf) or its parent; the maximum
	 * mirrors that.
	 */
	if (ld(&t->first) == n)
		st(&t->first, right ?: parent);
	if (ld(&t->last) == n)
		st(&t->last, left ?: parent);
	st(&t->nr, ld(&t->nr) - 1);

	if (!left || !right) {
		child = left ?: right;
		set_child(t, parent, on_left, child);
		if (child) {
			/* n is black with one red child: the child takes its place and colour. */
			st(&child->parent_color, pc);
			goto done;
		}
		if (pc & RB_BLACK) {
			x = NULL;
			xparent = parent;
			goto fixup;
		}
		goto done;
	}

	/* Two children: n's successor y, the leftmost node of its right subtree. */
	y = right;
	rb_for(i) {
		x = ld(&y->left);
		if (!x)
			break;
		y = x;
	}
	if (ld(&y->left)) {
		rb_corrupt(t, "remove: deeper than the height bound (corrupt tree)");
		return -ELOOP;
	}
	black = ld(&y->parent_color) & RB_BLACK;
	yr = ld(&y->right);
	x = yr;
	if (y == right) {
		xparent = y;
	} else {
		xparent = parent_of(y);
		st(&xparent->left, yr);
		if (yr)
			set_parent(yr, xparent);
		st(&y->right, right);
		set_parent(right, y);
	}
	st(&y->left, left);
	set_parent(left, y);
	/* y takes n's place and colour. */
	st(&y->parent_color, pc);
	set_child(t, parent, on_left, y);
	if (black)
		goto fixup;
	goto done;

fixup:
	/* Mark n removed first: a failed fixup leaves it unlinked all the same. */
	scx_arena_rb_node_init(n);
	return remove_fixup(t, x, xparent);
done:
	scx_arena_rb_node_init(n);
	return 0;
}

u64 __scx_arena_rbtree_lower_bound(struct scx_arena_rbtree __arena *t __arg_arena, u64 key)
{
	rbn *cur, *best = NULL;
	u32 i;

	scx_arena_assoc();

	if (!t)
		return 0;
	cur = ld(&t->root);
	rb_for(i) {
		if (!cur)
			break;
		if (ld(&cur->key) >= key) {
			best = cur;
			cur = ld(&cur->left);
		} else {
			cur = ld(&cur->right);
		}
	}
	if (cur) {
		rb_corrupt(t, "search: deeper than the height bound (corrupt tree)");
		return 0;
	}
	return (u64)best;
}

u64 __scx_arena_rbtree_upper_bound(struct scx_arena_rbtree __arena *t __arg_arena, u64 key)
{
	rbn *cur, *best = NULL;
	u32 i;

	scx_arena_assoc();

	if (!t)
		return 0;
	cur = ld(&t->root);
	rb_for(i) {
		if (!cur)
			break;
		if (ld(&cur->key) > key) {
			best = cur;
			cur = ld(&cur->left);
		} else {
			cur = ld(&cur->right);
		}
	}
	if (cur) {
		rb_corrupt(t, "search: deeper than the height bound (corrupt tree)");
		return 0;
	}
	return (u64)best;
}

u64 __scx_arena_rbtree_next(struct scx_arena_rb_node __arena *n __arg_arena)
{
	rbn *c, *p;
	u64 pc;
	u32 i;

	scx_arena_assoc();

	if (!n)
		return 0;
	pc = ld(&n->parent_color);
	if (!pc || pc == SCX_ARENA_RB_POISON)
		return 0;
	c = ld(&n->right);
	if (c) {
		rb_for(i) {
			p = ld(&c->left);
			if (!p)
				break;
			c = p;
		}
		return (u64)c;
	}
	/* Up while n is a right child. */
	rb_for(i) {
		p = parent_of(n);
		if (!p || ld(&p->left) == n)
			return (u64)p;
		n = p;
	}
	return 0;
}

u64 __scx_arena_rbtree_prev(struct scx_arena_rb_node __arena *n __arg_arena)
{
	rbn *c, *p;
	u64 pc;
	u32 i;

	scx_arena_assoc();

	if (!n)
		return 0;
	pc = ld(&n->parent_color);
	if (!pc || pc == SCX_ARENA_RB_POISON)
		return 0;
	c = ld(&n->left);
	if (c) {
		rb_for(i) {
			p = ld(&c->right);
			if (!p)
				break;
			c = p;
		}
		return (u64)c;
	}
	rb_for(i) {
		p = parent_of(n);
		if (!p || ld(&p->right) == n)
			return (u64)p;
		n = p;
	}
	return 0;
}

int __scx_arena_rbtree_update_key(struct scx_arena_rbtree __arena *t __arg_arena,
				  struct scx_arena_rb_node __arena *n __arg_arena, u64 key)
{
	rbn *prev, *next;
	u64 pc;
	int ret;

	scx_arena_assoc();

	if (!t || !n)
		return -EINVAL;
	pc = ld(&n->parent_color);
	if (!pc || pc == SCX_ARENA_RB_POISON)
		return -EINVAL;
	/*
	 * Same result as removing and inserting again: the node stays put when
	 * the previous key is <= @key and the next one is > @key (an equal
	 * next key would go before it).
	 */
	prev = scx_arena_from_u64(struct scx_arena_rb_node, __scx_arena_rbtree_prev(n));
	next = scx_arena_from_u64(struct scx_arena_rb_node, __scx_arena_rbtree_next(n));
	/* A walk cut short (see rb_for) must not pass for an end of the tree. */
	if ((!prev && ld(&t->first) != n) || (!next && ld(&t->last) != n)) {
		rb_corrupt(t, "update_key: neighbours not found");
		return -ELOOP;
	}
	if ((!prev || ld(&prev->key) <= key) && (!next || key < ld(&next->key))) {
		st(&n->key, key);
		return 0;
	}
	ret = __scx_arena_rbtree_remove(t, n);
	if (ret)
		return ret;
	return __scx_arena_rbtree_insert(t, n, key);
}

s64 __scx_arena_rbmap_destroy(struct scx_arena_rbtree __arena *t __arg_arena)
{
	rbn *cur, *p, *c;
	u64 nr, steps, freed = 0;
	u64 i;

	scx_arena_assoc();

	if (!t)
		return -EINVAL;
	nr = ld(&t->nr);
	/* Each node is entered from above once and left upwards once. */
	steps = 2 * nr + 2;
	if (steps > SCX_ARENA_RBMAP_MAX_STEPS)
		steps = SCX_ARENA_RBMAP_MAX_STEPS;
	cur = ld(&t->root);
	bpf_for(i, 0, steps) {
		if (!cur)
			break;
		c = ld(&cur->left);
		if (c) {
			cur = c;
			continue;
		}
		c = ld(&cur->right);
		if (c) {
			cur = c;
			continue;
		}
		/* A leaf: unhook it from its parent and free it. */
		p = parent_of(cur);
		if (p) {
			if (ld(&p->left) == cur)
				st(&p->left, NULL);
			else
				st(&p->right, NULL);
		} else {
			st(&t->root, NULL);
		}
		scx_arena_free(scx_arena_rbmap_entry(cur));
		freed++;
		cur = p;
	}
	if (cur) {
		rb_corrupt(t, "destroy: more nodes than nr (corrupt tree)");
		return -ELOOP;
	}
	scx_arena_rbtree_init(t);
	return freed;
}
