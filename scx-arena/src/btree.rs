//! The arena B+tree (bpf/include/scx_arena/btree.h) from userspace: reads a
//! `struct scx_arena_btree` through the arena mmap (no syscall per node)
//! and checks every invariant of its shape.
//!
//! Links are arena addresses stored as `u64` (0 for none), so a tree BPF
//! built is followed here as is:
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::btree::BTreeView;
//! fn pairs(view: ArenaView<'_>, tree: u64) -> Result<Vec<(u64, u64)>, Box<dyn std::error::Error>> {
//!     let t = BTreeView::new(view, tree);
//!     t.check()?;
//!     Ok(t.entries()?)
//! }
//! ```
//!
//! The reads are not synchronised with BPF: read a tree while no program
//! changes it (or hold its lock), or expect [`BTreeError`]s from a tree
//! caught mid-update.

use std::collections::HashSet;
use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// `SCX_ARENA_BTREE_MAX`: most keys of a node.
pub const BTREE_MAX: usize = 30;
/// `SCX_ARENA_BTREE_MIN_LEAF`: fewest keys of a non-root leaf.
pub const BTREE_MIN_LEAF: u32 = 15;
/// `SCX_ARENA_BTREE_MIN_INNER`: fewest keys of a non-root inner node.
pub const BTREE_MIN_INNER: u32 = 14;
/// `SCX_ARENA_BTREE_MAX_HEIGHT`: the bound of every descent.
pub const BTREE_MAX_HEIGHT: u32 = 10;
/// `sizeof(struct scx_arena_btree_node)`.
pub const NODE_SIZE: usize = size_of::<RawNode>();
/// `sizeof(struct scx_arena_btree)`.
pub const TREE_SIZE: usize = size_of::<RawTree>();
/// Byte offset of the tree in `struct scx_arena_btree_locked` (after the
/// `u32` lock and its padding).
pub const LOCKED_TREE_OFF: u64 = 8;

/// `struct scx_arena_btree`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawTree {
    /// Arena address of the root node, 0 when empty.
    pub root: u64,
    /// Arena address of the leftmost leaf, 0 when empty.
    pub first: u64,
    /// Arena address of the rightmost leaf, 0 when empty.
    pub last: u64,
    /// Number of keys.
    pub nr: u64,
    /// Levels: 0 when empty, 1 when the root is a leaf.
    pub height: u32,
    /// Nodes allocated.
    pub nr_nodes: u32,
    /// Internal: the key the last remove took out.
    pub out_key: u64,
    /// Internal: its value.
    pub out_val: u64,
    /// Internal: nodes reserved by an insert in progress (0 between
    /// operations).
    pub nr_spare: u32,
    /// Padding.
    pub pad: u32,
    /// Internal: those nodes.
    pub spare: [u64; BTREE_MAX_HEIGHT as usize + 2],
}
// SAFETY: integers only, no implicit padding; every bit pattern is valid.
unsafe impl ArenaPod for RawTree {}

/// `struct scx_arena_btree_node`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawNode {
    /// Keys in `keys`.
    pub nr: u32,
    /// 1 for a leaf, 0 for an inner node.
    pub leaf: u32,
    /// Next node of the same level, 0 at the end.
    pub next: u64,
    /// Previous node of the same level, 0 at the start.
    pub prev: u64,
    /// Keys (leaf) or separators (inner), ascending.
    pub keys: [u64; BTREE_MAX],
    /// Values (leaf) or child addresses (inner, `nr + 1` of them).
    pub slots: [u64; BTREE_MAX + 1],
}
// SAFETY: integers only, no implicit padding; every bit pattern is valid.
unsafe impl ArenaPod for RawNode {}

impl RawNode {
    /// Whether the node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.leaf != 0
    }

    /// The keys in use (at most `BTREE_MAX`, whatever `nr` says).
    pub fn keys(&self) -> &[u64] {
        &self.keys[..(self.nr as usize).min(BTREE_MAX)]
    }
}

/// What is wrong with a tree, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BTreeError {
    /// The tree header could not be read.
    #[error("tree header at {addr:#x}: {source}")]
    Head {
        /// Address of the header.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A node is not readable arena memory.
    #[error("node at {node:#x} (level {level}) is not in the arena: {source}")]
    BadNode {
        /// Level of the node (0 is the root).
        level: u32,
        /// The node's address.
        node: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// The header's fields disagree about emptiness (root, first, last,
    /// nr, height, nr_nodes must all be 0 together).
    #[error("empty/non-empty mix in the header: {0:?}")]
    Empty(Box<RawTree>),
    /// The stored height exceeds the descent bound.
    #[error("height {height} exceeds SCX_ARENA_BTREE_MAX_HEIGHT")]
    TooTall {
        /// The stored height.
        height: u32,
    },
    /// A node was reached twice.
    #[error("node {node:#x} is reached twice")]
    Cycle {
        /// The node.
        node: u64,
    },
    /// A node's kind does not fit its level: leaves must be exactly at
    /// level `height - 1`.
    #[error("node {node:#x} at level {level} of {height}: leaf = {leaf}")]
    Depth {
        /// The node.
        node: u64,
        /// Its level (0 is the root).
        level: u32,
        /// The stored height.
        height: u32,
        /// Its leaf flag.
        leaf: u32,
    },
    /// A node holds too few or too many keys.
    #[error("node {node:#x} holds {nr} keys, allowed {min}..={max}")]
    Fill {
        /// The node.
        node: u64,
        /// Its key count.
        nr: u32,
        /// Fewest allowed.
        min: u32,
        /// Most allowed.
        max: u32,
    },
    /// Keys within a node are not strictly ascending.
    #[error("node {node:#x}: key {index} ({key:#x}) is not above the one before")]
    Order {
        /// The node.
        node: u64,
        /// Index of the key out of order.
        index: usize,
        /// The key.
        key: u64,
    },
    /// A key lies outside the range its parent's separators give it.
    #[error("node {node:#x}: key {key:#x} outside [{lo:?}, {hi:?})")]
    Range {
        /// The node.
        node: u64,
        /// The key.
        key: u64,
        /// Inclusive lower bound, if any.
        lo: Option<u64>,
        /// Exclusive upper bound, if any.
        hi: Option<u64>,
    },
    /// An inner node's child slot is 0.
    #[error("node {node:#x}: child {index} of {children} is missing")]
    Child {
        /// The node.
        node: u64,
        /// Child index.
        index: usize,
        /// Children it should have (`nr + 1`).
        children: usize,
    },
    /// A level link (`next`/`prev`) does not point at the neighbour in key
    /// order.
    #[error("node {node:#x} at level {level}: {field} is {found:#x}, expected {expected:#x}")]
    Link {
        /// Level of the node.
        level: u32,
        /// The node.
        node: u64,
        /// `"next"` or `"prev"`.
        field: &'static str,
        /// The stored link.
        found: u64,
        /// The neighbour.
        expected: u64,
    },
    /// `first` or `last` is not the leftmost or rightmost leaf.
    #[error("{field} is {found:#x}, the walk found {expected:#x}")]
    End {
        /// `"first"` or `"last"`.
        field: &'static str,
        /// The stored value.
        found: u64,
        /// The leaf found.
        expected: u64,
    },
    /// A stored count does not match the walk.
    #[error("{field} is {stored} but the walk found {walked}")]
    Count {
        /// `"nr"`, `"nr_nodes"` or `"nr_spare"`.
        field: &'static str,
        /// The stored count.
        stored: u64,
        /// What the walk found.
        walked: u64,
    },
}

/// What a successful [`BTreeView::check`] walked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BTreeShape {
    /// Levels.
    pub height: u32,
    /// Nodes per level, root first.
    pub nodes_per_level: Vec<usize>,
    /// Keys.
    pub keys: u64,
}

/// A B-tree in arena memory, read through an [`ArenaView`].
#[derive(Debug, Clone, Copy)]
pub struct BTreeView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> BTreeView<'obj> {
    /// The tree whose `struct scx_arena_btree` is at arena address
    /// `tree_addr` in `view`. Nothing is read until asked.
    pub fn new(view: ArenaView<'obj>, tree_addr: u64) -> Self {
        BTreeView {
            view,
            addr: tree_addr,
        }
    }

    /// The arena view the tree is read through.
    pub fn arena(&self) -> ArenaView<'obj> {
        self.view
    }

    /// Arena address of the tree header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// A copy of the tree header.
    pub fn head(&self) -> Result<RawTree, BTreeError> {
        self.view
            .read::<RawTree>(self.addr)
            .map_err(|source| BTreeError::Head {
                addr: self.addr,
                source,
            })
    }

    /// The stored key count (`nr`), not a walk.
    pub fn len(&self) -> Result<u64, BTreeError> {
        Ok(self.head()?.nr)
    }

    /// Whether the tree has no root.
    pub fn is_empty(&self) -> Result<bool, BTreeError> {
        Ok(self.head()?.root == 0)
    }

    /// The stored height (0 when empty).
    pub fn height(&self) -> Result<u32, BTreeError> {
        Ok(self.head()?.height)
    }

    /// A copy of the node at `node`, on level `level` (for messages).
    pub fn node(&self, level: u32, node: u64) -> Result<RawNode, BTreeError> {
        self.view
            .read::<RawNode>(node)
            .map_err(|source| BTreeError::BadNode {
                level,
                node,
                source,
            })
    }

    /// The (key, value) pairs in ascending key order, following the leaf
    /// chain from `first` (at most `nr_nodes` leaves; a cycle is an error).
    pub fn entries(&self) -> Result<Vec<(u64, u64)>, BTreeError> {
        let head = self.head()?;
        self.walk_leaves(&head, head.first, 0, None, usize::MAX)
    }

    /// The pairs with `lo <= key < hi`, ascending: a descent to the lower
    /// bound, then the leaf chain.
    pub fn range(&self, lo: u64, hi: u64) -> Result<Vec<(u64, u64)>, BTreeError> {
        let head = self.head()?;
        match self.seek(&head, lo)? {
            Some((leaf, idx)) => self.walk_leaves(&head, leaf, idx, Some(hi), usize::MAX),
            None => Ok(Vec::new()),
        }
    }

    /// The smallest key `>= key` with its value.
    pub fn lower_bound(&self, key: u64) -> Result<Option<(u64, u64)>, BTreeError> {
        let head = self.head()?;
        match self.seek(&head, key)? {
            Some((leaf, idx)) => Ok(self
                .walk_leaves(&head, leaf, idx, None, 1)?
                .into_iter()
                .next()),
            None => Ok(None),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: u64) -> Result<Option<u64>, BTreeError> {
        Ok(self
            .lower_bound(key)?
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v))
    }

    /// Descends to the leaf and index of the smallest key `>= key`, as
    /// `__scx_arena_btree_seek()` does; None when every key is smaller.
    fn seek(&self, head: &RawTree, key: u64) -> Result<Option<(u64, usize)>, BTreeError> {
        let mut a = head.root;
        if a == 0 {
            return Ok(None);
        }
        for level in 0..BTREE_MAX_HEIGHT {
            let n = self.node(level, a)?;
            let keys = n.keys();
            if n.is_leaf() {
                let idx = keys.iter().position(|&k| k >= key).unwrap_or(keys.len());
                if idx < keys.len() {
                    return Ok(Some((a, idx)));
                }
                return Ok((n.next != 0).then_some((n.next, 0)));
            }
            let i = keys.iter().position(|&k| k > key).unwrap_or(keys.len());
            a = n.slots[i];
            if a == 0 {
                return Err(BTreeError::Child {
                    node: a,
                    index: i,
                    children: keys.len() + 1,
                });
            }
        }
        Err(BTreeError::TooTall {
            height: head.height,
        })
    }

    /// Collects pairs from `leaf` at `idx` along the leaf chain, stopping
    /// at `hi` (exclusive) or after `max` pairs.
    fn walk_leaves(
        &self,
        head: &RawTree,
        mut leaf: u64,
        mut idx: usize,
        hi: Option<u64>,
        max: usize,
    ) -> Result<Vec<(u64, u64)>, BTreeError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let level = head.height.saturating_sub(1);
        while leaf != 0 && out.len() < max {
            if !seen.insert(leaf) || seen.len() > head.nr_nodes as usize {
                return Err(BTreeError::Cycle { node: leaf });
            }
            let n = self.node(level, leaf)?;
            for (i, &k) in n.keys().iter().enumerate().skip(idx) {
                if hi.is_some_and(|h| k >= h) || out.len() >= max {
                    return Ok(out);
                }
                out.push((k, n.slots[i]));
            }
            idx = 0;
            leaf = n.next;
        }
        Ok(out)
    }

    /// Checks the whole tree: header consistency, every node readable and
    /// reached once, leaves exactly at level `height - 1`, every non-root
    /// node's fill within [min, `BTREE_MAX`] (the root: at least 1 key),
    /// `nr + 1` children per inner node, keys strictly ascending within
    /// nodes and inside the range their ancestors' separators give them,
    /// each level's `next`/`prev` chain in key order and ending in 0,
    /// `first`/`last` the outer leaves, and `nr`, `nr_nodes` matching the
    /// walk with no spare node left reserved.
    pub fn check(&self) -> Result<BTreeShape, BTreeError> {
        let head = self.head()?;
        if head.nr_spare != 0 {
            return Err(BTreeError::Count {
                field: "nr_spare",
                stored: head.nr_spare as u64,
                walked: 0,
            });
        }
        let empty = [
            head.root == 0,
            head.first == 0,
            head.last == 0,
            head.nr == 0,
            head.height == 0,
            head.nr_nodes == 0,
        ];
        if empty.iter().any(|&e| e != empty[0]) {
            return Err(BTreeError::Empty(Box::new(head)));
        }
        if head.root == 0 {
            return Ok(BTreeShape::default());
        }
        if head.height > BTREE_MAX_HEIGHT {
            return Err(BTreeError::TooTall {
                height: head.height,
            });
        }
        let mut shape = BTreeShape {
            height: head.height,
            ..BTreeShape::default()
        };
        let mut seen = HashSet::new();
        // (node, lo, hi) of the current level, in key order.
        let mut level_nodes: Vec<(u64, Option<u64>, Option<u64>)> = vec![(head.root, None, None)];
        let mut nodes_walked = 0u64;
        for level in 0..head.height {
            let is_leaf_level = level + 1 == head.height;
            let mut next_level = Vec::new();
            let addrs: Vec<u64> = level_nodes.iter().map(|(a, _, _)| *a).collect();
            // Every node of the level reached once and readable, before
            // the links between them are judged.
            let mut nodes = Vec::with_capacity(addrs.len());
            for &a in &addrs {
                if !seen.insert(a) {
                    return Err(BTreeError::Cycle { node: a });
                }
                nodes.push(self.node(level, a)?);
            }
            for (j, (&(a, lo, hi), n)) in level_nodes.iter().zip(&nodes).enumerate() {
                nodes_walked += 1;
                if n.is_leaf() != is_leaf_level || n.leaf > 1 {
                    return Err(BTreeError::Depth {
                        node: a,
                        level,
                        height: head.height,
                        leaf: n.leaf,
                    });
                }
                let min = if level == 0 {
                    1
                } else if is_leaf_level {
                    BTREE_MIN_LEAF
                } else {
                    BTREE_MIN_INNER
                };
                if n.nr < min || n.nr as usize > BTREE_MAX {
                    return Err(BTreeError::Fill {
                        node: a,
                        nr: n.nr,
                        min,
                        max: BTREE_MAX as u32,
                    });
                }
                let keys = n.keys();
                for (i, &k) in keys.iter().enumerate() {
                    if i > 0 && keys[i - 1] >= k {
                        return Err(BTreeError::Order {
                            node: a,
                            index: i,
                            key: k,
                        });
                    }
                    if lo.is_some_and(|l| k < l) || hi.is_some_and(|h| k >= h) {
                        return Err(BTreeError::Range {
                            node: a,
                            key: k,
                            lo,
                            hi,
                        });
                    }
                }
                let want_prev = if j == 0 { 0 } else { addrs[j - 1] };
                let want_next = addrs.get(j + 1).copied().unwrap_or(0);
                if n.prev != want_prev {
                    return Err(BTreeError::Link {
                        level,
                        node: a,
                        field: "prev",
                        found: n.prev,
                        expected: want_prev,
                    });
                }
                // The last node's next is checked after the level below is
                // known to be complete: here, every next but the last.
                if j + 1 < addrs.len() && n.next != want_next {
                    return Err(BTreeError::Link {
                        level,
                        node: a,
                        field: "next",
                        found: n.next,
                        expected: want_next,
                    });
                }
                if j + 1 == addrs.len() && n.next != 0 {
                    return Err(BTreeError::Link {
                        level,
                        node: a,
                        field: "next",
                        found: n.next,
                        expected: 0,
                    });
                }
                if is_leaf_level {
                    shape.keys += keys.len() as u64;
                } else {
                    let children = keys.len() + 1;
                    for (i, &c) in n.slots[..children].iter().enumerate() {
                        if c == 0 {
                            return Err(BTreeError::Child {
                                node: a,
                                index: i,
                                children,
                            });
                        }
                        let clo = if i == 0 { lo } else { Some(keys[i - 1]) };
                        let chi = if i == keys.len() { hi } else { Some(keys[i]) };
                        next_level.push((c, clo, chi));
                    }
                }
            }
            shape.nodes_per_level.push(level_nodes.len());
            if is_leaf_level {
                let (first, last) = (addrs[0], addrs[addrs.len() - 1]);
                if head.first != first {
                    return Err(BTreeError::End {
                        field: "first",
                        found: head.first,
                        expected: first,
                    });
                }
                if head.last != last {
                    return Err(BTreeError::End {
                        field: "last",
                        found: head.last,
                        expected: last,
                    });
                }
            }
            level_nodes = next_level;
        }
        if shape.keys != head.nr {
            return Err(BTreeError::Count {
                field: "nr",
                stored: head.nr,
                walked: shape.keys,
            });
        }
        if nodes_walked != head.nr_nodes as u64 {
            return Err(BTreeError::Count {
                field: "nr_nodes",
                stored: head.nr_nodes as u64,
                walked: nodes_walked,
            });
        }
        Ok(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake arena: the header at offset 0, nodes at 512-byte slots.
    struct Fake {
        buf: Vec<u64>,
    }

    const SLOTS: usize = 16;

    impl Fake {
        fn new() -> Self {
            Fake {
                buf: vec![0; (SLOTS + 1) * NODE_SIZE / 8],
            }
        }
        fn base(&self) -> u64 {
            self.buf.as_ptr() as u64
        }
        fn node_addr(&self, i: usize) -> u64 {
            self.base() + ((i + 1) * NODE_SIZE) as u64
        }
        fn put<T: ArenaPod>(&mut self, addr: u64, v: T) {
            let off = (addr - self.base()) as usize;
            assert!(off + size_of::<T>() <= self.buf.len() * 8);
            // SAFETY: inside buf (asserted), aligned (8-byte multiples).
            unsafe { std::ptr::write(addr as *mut T, v) };
        }
        fn get<T: ArenaPod>(&self, addr: u64) -> T {
            // SAFETY: as in put.
            unsafe { std::ptr::read(addr as *const T) }
        }
        fn view(&self) -> BTreeView<'_> {
            // SAFETY: buf outlives the view and is never reallocated.
            let v = unsafe { ArenaView::from_raw(self.base(), (self.buf.len() * 8) as u64) };
            BTreeView::new(v, self.base())
        }
        fn leaf(keys: &[u64]) -> RawNode {
            let mut n = RawNode {
                nr: keys.len() as u32,
                leaf: 1,
                next: 0,
                prev: 0,
                keys: [0; BTREE_MAX],
                slots: [0; BTREE_MAX + 1],
            };
            for (i, &k) in keys.iter().enumerate() {
                n.keys[i] = k;
                n.slots[i] = !k;
            }
            n
        }
        /// A two-level tree: a root with separators 100, 200 over three
        /// leaves of 15 keys each.
        fn two_level() -> Self {
            let mut f = Fake::new();
            let (r, l0, l1, l2) = (
                f.node_addr(0),
                f.node_addr(1),
                f.node_addr(2),
                f.node_addr(3),
            );
            let mut leaves = Vec::new();
            for (j, base) in [0u64, 100, 200].iter().enumerate() {
                let keys: Vec<u64> = (0..15).map(|i| base + i * 2).collect();
                let mut n = Fake::leaf(&keys);
                let addrs = [l0, l1, l2];
                n.prev = if j == 0 { 0 } else { addrs[j - 1] };
                n.next = addrs.get(j + 1).copied().unwrap_or(0);
                leaves.push((addrs[j], n));
            }
            for (a, n) in leaves {
                f.put(a, n);
            }
            let mut root = Fake::leaf(&[100, 200]);
            root.leaf = 0;
            root.slots[0] = l0;
            root.slots[1] = l1;
            root.slots[2] = l2;
            f.put(r, root);
            let head = RawTree {
                root: r,
                first: l0,
                last: l2,
                nr: 45,
                height: 2,
                nr_nodes: 4,
                out_key: 0,
                out_val: 0,
                nr_spare: 0,
                pad: 0,
                spare: [0; BTREE_MAX_HEIGHT as usize + 2],
            };
            let b = f.base();
            f.put(b, head);
            f
        }
    }

    #[test]
    fn layout_matches_btree_h() {
        assert_eq!(NODE_SIZE, 512);
        assert_eq!(TREE_SIZE, 160);
    }

    #[test]
    fn good_trees_read_and_check() {
        let f = Fake::new();
        assert_eq!(f.view().check(), Ok(BTreeShape::default()));
        assert_eq!(f.view().entries(), Ok(vec![]));
        assert_eq!(f.view().lower_bound(0), Ok(None));

        let f = Fake::two_level();
        let t = f.view();
        let shape = t.check().expect("check");
        assert_eq!(shape.nodes_per_level, vec![1, 3]);
        assert_eq!(shape.keys, 45);
        let e = t.entries().expect("entries");
        assert_eq!(e.len(), 45);
        assert_eq!(e[0], (0, !0));
        assert_eq!(e[15], (100, !100));
        assert_eq!(t.lower_bound(29), Ok(Some((100, !100))));
        assert_eq!(t.lower_bound(102), Ok(Some((102, !102))));
        assert_eq!(t.lower_bound(229), Ok(None));
        assert_eq!(t.get(104), Ok(Some(!104)));
        assert_eq!(t.get(105), Ok(None));
        let r: Vec<u64> = t
            .range(27, 103)
            .expect("range")
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(r, vec![28, 100, 102]);
    }

    /// Checks a two-level tree after `edit` changed it.
    fn check_after(edit: impl FnOnce(&mut Fake, u64, u64, u64)) -> Result<BTreeShape, BTreeError> {
        let mut f = Fake::two_level();
        let (b, r, l1) = (f.base(), f.node_addr(0), f.node_addr(2));
        edit(&mut f, b, r, l1);
        f.view().check()
    }

    fn edit_node(f: &mut Fake, a: u64, e: impl FnOnce(&mut RawNode)) {
        let mut n: RawNode = f.get(a);
        e(&mut n);
        f.put(a, n);
    }

    fn edit_head(f: &mut Fake, b: u64, e: impl FnOnce(&mut RawTree)) {
        let mut h: RawTree = f.get(b);
        e(&mut h);
        f.put(b, h);
    }

    #[test]
    fn corrupted_trees_are_reported() {
        // Keys out of order in a leaf.
        assert!(matches!(
            check_after(|f, _, _, l1| edit_node(f, l1, |n| n.keys.swap(3, 4))),
            Err(BTreeError::Order { index: 4, .. })
        ));
        // A key outside its separators.
        assert!(matches!(
            check_after(|f, _, _, l1| edit_node(f, l1, |n| n.keys[14] = 250)),
            Err(BTreeError::Range { key: 250, .. })
        ));
        // An underfull leaf (nr kept consistent).
        assert!(matches!(
            check_after(|f, b, _, l1| {
                edit_node(f, l1, |n| n.nr = 14);
                edit_head(f, b, |h| h.nr = 44);
            }),
            Err(BTreeError::Fill {
                nr: 14,
                min: 15,
                ..
            })
        ));
        // A broken level link.
        assert!(matches!(
            check_after(|f, _, _, l1| edit_node(f, l1, |n| n.prev = 0)),
            Err(BTreeError::Link { field: "prev", .. })
        ));
        // Leaves at the wrong depth: height says 3.
        assert!(matches!(
            check_after(|f, b, _, _| edit_head(f, b, |h| h.height = 3)),
            Err(BTreeError::Depth { .. })
        ));
        // Counts, ends, spares.
        assert!(matches!(
            check_after(|f, b, _, _| edit_head(f, b, |h| h.nr = 46)),
            Err(BTreeError::Count { field: "nr", .. })
        ));
        assert!(matches!(
            check_after(|f, b, _, _| edit_head(f, b, |h| h.nr_nodes = 5)),
            Err(BTreeError::Count {
                field: "nr_nodes",
                ..
            })
        ));
        assert!(matches!(
            check_after(|f, b, _, _| edit_head(f, b, |h| h.nr_spare = 1)),
            Err(BTreeError::Count {
                field: "nr_spare",
                ..
            })
        ));
        assert!(matches!(
            check_after(|f, b, _, l1| edit_head(f, b, |h| h.last = l1)),
            Err(BTreeError::End { field: "last", .. })
        ));
        // A child reached twice; a missing child; a child outside the arena.
        assert!(matches!(
            check_after(|f, _, r, l1| edit_node(f, r, |n| n.slots[2] = l1)),
            Err(BTreeError::Cycle { .. })
        ));
        assert!(matches!(
            check_after(|f, _, r, _| edit_node(f, r, |n| n.slots[1] = 0)),
            Err(BTreeError::Child { index: 1, .. })
        ));
        assert!(matches!(
            check_after(|f, _, r, _| edit_node(f, r, |n| n.slots[1] = 8)),
            Err(BTreeError::BadNode { .. })
        ));
        // A half-empty header.
        let mut f = Fake::new();
        let b = f.base();
        edit_head(&mut f, b, |h| h.nr = 1);
        assert!(matches!(f.view().check(), Err(BTreeError::Empty(_))));
        // A leaf chain that loops.
        let mut f = Fake::two_level();
        let (l0, l2) = (f.node_addr(1), f.node_addr(3));
        edit_node(&mut f, l2, |n| n.next = l0);
        assert!(matches!(f.view().entries(), Err(BTreeError::Cycle { .. })));
    }
}
