//! The arena red-black tree (bpf/include/scx_arena/rbtree.h) from userspace:
//! walks a `struct scx_arena_rbtree` in key order through the arena mmap and
//! checks every red-black invariant.
//!
//! Links are arena addresses stored as `u64` (0 for none); a node's parent
//! address and colour share one word (`parent | 1` for black). A tree BPF
//! built is followed here as is:
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::rbtree::RbTreeView;
//! fn keys(view: ArenaView<'_>, tree: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
//!     let t = RbTreeView::new(view, tree);
//!     t.check()?;
//!     Ok(t.nodes()?.into_iter().map(|(key, _node)| key).collect())
//! }
//! ```
//!
//! The reads are not synchronised with BPF: walk a tree while no program
//! changes it (or hold its lock), or expect [`RbTreeError`]s from a tree
//! caught mid-update.

use std::collections::HashSet;
use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// `SCX_ARENA_RB_POISON`: the links of a node removed from a tree.
pub const RB_POISON: u64 = 0x5c7a_4b77_00de_2000;

/// `SCX_ARENA_RB_BLACK`: the colour bit of `parent_color` (clear: red).
pub const RB_BLACK: u64 = 1;

/// `SCX_ARENA_RB_MAX_DEPTH`: the most levels the BPF side walks.
pub const RB_MAX_DEPTH: usize = 64;

/// `sizeof(struct scx_arena_rbtree)`.
pub const TREE_SIZE: usize = size_of::<RawTree>();

/// `sizeof(struct scx_arena_rb_node)`.
pub const NODE_SIZE: usize = size_of::<RawNode>();

/// Byte offset of the tree in `struct scx_arena_rbtree_locked` (after the
/// `u32` lock and its padding).
pub const LOCKED_TREE_OFF: u64 = 8;

/// Byte offset of the value in `struct scx_arena_rbmap_node`.
pub const RBMAP_VALUE_OFF: u64 = NODE_SIZE as u64;

/// `struct scx_arena_rbtree`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawTree {
    /// Arena address of the root node, 0 when empty.
    pub root: u64,
    /// The node with the smallest key, 0 when empty.
    pub first: u64,
    /// The node with the largest key, 0 when empty.
    pub last: u64,
    /// Number of nodes in the tree.
    pub nr: u64,
}
// SAFETY: four u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawTree {}

/// `struct scx_arena_rb_node`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawNode {
    /// Arena address of the left child (smaller keys), 0 for none.
    pub left: u64,
    /// Arena address of the right child (larger or equal keys), 0 for none.
    pub right: u64,
    /// Parent address or'ed with [`RB_BLACK`] for a black node.
    pub parent_color: u64,
    /// The sort key.
    pub key: u64,
}
// SAFETY: four u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawNode {}

impl RawNode {
    /// The parent's address (0 at the root).
    pub fn parent(&self) -> u64 {
        self.parent_color & !RB_BLACK
    }

    /// Whether the node is black.
    pub fn is_black(&self) -> bool {
        self.parent_color & RB_BLACK != 0
    }

    /// Whether the node carries the removal poison (or was initialised).
    pub fn is_removed(&self) -> bool {
        self.parent_color == RB_POISON
    }
}

/// What is wrong with a tree, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RbTreeError {
    /// The tree root struct itself could not be read.
    #[error("tree at {addr:#x}: {source}")]
    Head {
        /// Address of the tree struct.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A node is not readable arena memory.
    #[error("node at {node:#x} (child of {parent:#x}) is not in the arena: {source}")]
    BadNode {
        /// The node's address.
        node: u64,
        /// The node linking to it (0 for the tree's root link).
        parent: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A child link is `SCX_ARENA_RB_POISON`: a removed node is reachable.
    #[error("node {parent:#x} links to a removed node (poison)")]
    Poisoned {
        /// The node holding the poisoned link (0 for the tree's root link).
        parent: u64,
    },
    /// The walk came back to a node it had visited.
    #[error("cycle: node {node:#x} is reached twice")]
    Cycle {
        /// The repeated node.
        node: u64,
    },
    /// The walk found more nodes than `nr` says the tree holds.
    #[error("the walk goes past nr = {nr} nodes")]
    TooLong {
        /// The stored count.
        nr: u64,
    },
    /// A node lies deeper than the BPF side's loop bound.
    #[error("node {node:#x} is at depth {depth}, past the bound {RB_MAX_DEPTH}")]
    TooDeep {
        /// The node.
        node: u64,
        /// Its depth (the root is 1).
        depth: usize,
    },
    /// In-order keys decrease.
    #[error("node {node:#x}: key {key} after key {prev_key}")]
    Order {
        /// The node out of order.
        node: u64,
        /// Its key.
        key: u64,
        /// The key of the node before it in order.
        prev_key: u64,
    },
    /// A node's parent link is not the node that links to it.
    #[error("node {node:#x}: parent is {parent:#x}, expected {expected:#x}")]
    Parent {
        /// The node.
        node: u64,
        /// Its stored parent.
        parent: u64,
        /// The node linking to it (0 for the root).
        expected: u64,
    },
    /// The root is red.
    #[error("the root {root:#x} is red")]
    RedRoot {
        /// The root.
        root: u64,
    },
    /// A red node has a red parent.
    #[error("red node {node:#x} has a red parent {parent:#x}")]
    RedRed {
        /// The child.
        node: u64,
        /// Its parent.
        parent: u64,
    },
    /// Paths from the root to a missing child differ in black nodes.
    #[error("node {node:#x}: {height} black nodes above a leaf, expected {expected}")]
    BlackHeight {
        /// A node with a missing child.
        node: u64,
        /// Black nodes from the root down to it.
        height: u64,
        /// Black nodes on the first such path.
        expected: u64,
    },
    /// The walk found fewer nodes than `nr`.
    #[error("nr is {nr} but the walk found {walked} nodes")]
    Length {
        /// The stored count.
        nr: u64,
        /// Nodes walked.
        walked: u64,
    },
    /// The cached `first` is not the leftmost node (0 when empty).
    #[error("first is {first:#x} but the leftmost node is {expected:#x}")]
    First {
        /// The stored first.
        first: u64,
        /// The leftmost node walked.
        expected: u64,
    },
    /// The cached `last` is not the rightmost node (0 when empty).
    #[error("last is {last:#x} but the rightmost node is {expected:#x}")]
    Last {
        /// The stored last.
        last: u64,
        /// The rightmost node walked.
        expected: u64,
    },
}

/// One node met by the walk.
#[derive(Debug, Clone, Copy)]
struct Visit {
    addr: u64,
    node: RawNode,
    /// The node that links to it (0 for the root).
    from: u64,
    /// Black nodes from the root down to it, itself included.
    blacks: u64,
    /// Its depth (the root is 1).
    depth: usize,
}

/// A tree root in arena memory, read through an [`ArenaView`].
#[derive(Debug, Clone, Copy)]
pub struct RbTreeView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> RbTreeView<'obj> {
    /// The tree whose `struct scx_arena_rbtree` is at arena address
    /// `tree_addr` in `view` (for a locked tree add [`LOCKED_TREE_OFF`], for
    /// an allocating map the map's address). Nothing is read until asked.
    pub fn new(view: ArenaView<'obj>, tree_addr: u64) -> Self {
        RbTreeView {
            view,
            addr: tree_addr,
        }
    }

    /// The arena view the tree is read through.
    pub fn arena(&self) -> ArenaView<'obj> {
        self.view
    }

    /// Arena address of the tree struct.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// A copy of the tree struct.
    pub fn head(&self) -> Result<RawTree, RbTreeError> {
        self.view
            .read::<RawTree>(self.addr)
            .map_err(|source| RbTreeError::Head {
                addr: self.addr,
                source,
            })
    }

    /// The stored node count (`nr`), not a walk.
    pub fn len(&self) -> Result<u64, RbTreeError> {
        Ok(self.head()?.nr)
    }

    /// Whether the stored node count is 0.
    pub fn is_empty(&self) -> Result<bool, RbTreeError> {
        Ok(self.len()? == 0)
    }

    /// A copy of the node at `node`.
    pub fn node(&self, node: u64) -> Result<RawNode, RbTreeError> {
        self.read_node(node, 0)
    }

    fn read_node(&self, node: u64, parent: u64) -> Result<RawNode, RbTreeError> {
        self.view
            .read::<RawNode>(node)
            .map_err(|source| RbTreeError::BadNode {
                node,
                parent,
                source,
            })
    }

    /// Walks the tree in key order from the root, visiting each node at
    /// most once and at most `nr` nodes. Fails on a node outside the arena,
    /// a poisoned link, a cycle, a node deeper than [`RB_MAX_DEPTH`], or
    /// more nodes than `nr`.
    fn walk(&self, head: &RawTree) -> Result<Vec<Visit>, RbTreeError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // Left spine still to visit. The cursor is (node, the node linking
        // to it, its depth, black nodes above it).
        let mut stack: Vec<Visit> = Vec::new();
        let mut cur = (head.root, 0u64, 1usize, 0u64);
        loop {
            while cur.0 != 0 {
                let (addr, from, depth, above) = cur;
                if addr == RB_POISON {
                    return Err(RbTreeError::Poisoned { parent: from });
                }
                if !seen.insert(addr) {
                    return Err(RbTreeError::Cycle { node: addr });
                }
                if seen.len() as u64 > head.nr {
                    return Err(RbTreeError::TooLong { nr: head.nr });
                }
                if depth > RB_MAX_DEPTH {
                    return Err(RbTreeError::TooDeep { node: addr, depth });
                }
                let node = self.read_node(addr, from)?;
                let blacks = above + u64::from(node.is_black());
                stack.push(Visit {
                    addr,
                    node,
                    from,
                    blacks,
                    depth,
                });
                cur = (node.left, addr, depth + 1, blacks);
            }
            let Some(v) = stack.pop() else { break };
            cur = (v.node.right, v.addr, v.depth + 1, v.blacks);
            out.push(v);
        }
        Ok(out)
    }

    /// The nodes in key order (equal keys in insertion order), as
    /// `(key, node address)`. Fails as [`check`](Self::check) does on a
    /// tree it cannot walk; a walk shorter than `nr` is returned as is.
    pub fn nodes(&self) -> Result<Vec<(u64, u64)>, RbTreeError> {
        let head = self.head()?;
        Ok(self
            .walk(&head)?
            .into_iter()
            .map(|v| (v.node.key, v.addr))
            .collect())
    }

    /// Checks the whole tree: every node in the arena, no cycle, no node
    /// deeper than [`RB_MAX_DEPTH`], keys non-decreasing in order, each
    /// node's parent the node linking to it (0 at the root), the root
    /// black, no red node with a red parent, the same number of black nodes
    /// on every path from the root to a missing child, `nr` the number of
    /// nodes, and `first`/`last` the leftmost/rightmost nodes.
    pub fn check(&self) -> Result<(), RbTreeError> {
        let head = self.head()?;
        let visits = self.walk(&head)?;
        let mut black_height: Option<u64> = None;
        let mut prev_key: Option<u64> = None;
        let colors: std::collections::HashMap<u64, bool> =
            visits.iter().map(|v| (v.addr, v.node.is_black())).collect();
        for v in &visits {
            if let Some(p) = prev_key {
                if v.node.key < p {
                    return Err(RbTreeError::Order {
                        node: v.addr,
                        key: v.node.key,
                        prev_key: p,
                    });
                }
            }
            prev_key = Some(v.node.key);
            if v.node.parent() != v.from {
                return Err(RbTreeError::Parent {
                    node: v.addr,
                    parent: v.node.parent(),
                    expected: v.from,
                });
            }
            if v.from == 0 && !v.node.is_black() {
                return Err(RbTreeError::RedRoot { root: v.addr });
            }
            if v.from != 0 && !v.node.is_black() && colors.get(&v.from) == Some(&false) {
                return Err(RbTreeError::RedRed {
                    node: v.addr,
                    parent: v.from,
                });
            }
            if v.node.left == 0 || v.node.right == 0 {
                let expected = *black_height.get_or_insert(v.blacks);
                if v.blacks != expected {
                    return Err(RbTreeError::BlackHeight {
                        node: v.addr,
                        height: v.blacks,
                        expected,
                    });
                }
            }
        }
        if visits.len() as u64 != head.nr {
            return Err(RbTreeError::Length {
                nr: head.nr,
                walked: visits.len() as u64,
            });
        }
        let leftmost = visits.first().map_or(0, |v| v.addr);
        if head.first != leftmost {
            return Err(RbTreeError::First {
                first: head.first,
                expected: leftmost,
            });
        }
        let rightmost = visits.last().map_or(0, |v| v.addr);
        if head.last != rightmost {
            return Err(RbTreeError::Last {
                last: head.last,
                expected: rightmost,
            });
        }
        Ok(())
    }

    /// The address of the struct containing node `node` at byte `offset`
    /// (C's `container_of`): `node - offset`, or 0 for a 0 node.
    pub fn entry_addr(node: u64, offset: u64) -> u64 {
        if node == 0 {
            0
        } else {
            node.wrapping_sub(offset)
        }
    }

    /// The entries of an allocating map (`struct scx_arena_rbmap` at this
    /// view's address) in key order, as `(key, value)`.
    pub fn map_entries(&self) -> Result<Vec<(u64, u64)>, RbTreeError> {
        self.nodes()?
            .into_iter()
            .map(|(key, node)| {
                let at = node + RBMAP_VALUE_OFF;
                self.view
                    .read::<u64>(at)
                    .map(|value| (key, value))
                    .map_err(|source| RbTreeError::BadNode {
                        node: at,
                        parent: node,
                        source,
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake arena of 128 words: the tree at word 0, node i (4 words) at
    /// word 4 + 4 * i.
    struct Fake {
        buf: Vec<u64>,
    }

    const RED: bool = false;
    const BLACK: bool = true;

    impl Fake {
        fn new() -> Self {
            Fake { buf: vec![0; 128] }
        }
        fn base(&self) -> u64 {
            self.buf.as_ptr() as u64
        }
        fn node(&self, i: usize) -> u64 {
            self.base() + ((4 + 4 * i) * 8) as u64
        }
        fn set(&mut self, addr: u64, v: u64) {
            let w = ((addr - self.base()) / 8) as usize;
            self.buf[w] = v;
        }
        /// Node i with key, colour and children (indices).
        fn put(&mut self, i: usize, key: u64, black: bool, l: Option<usize>, r: Option<usize>) {
            let n = self.node(i);
            let l = l.map_or(0, |c| self.node(c));
            let r = r.map_or(0, |c| self.node(c));
            self.set(n, l);
            self.set(n + 8, r);
            self.set(n + 24, key);
            let color = if black { RB_BLACK } else { 0 };
            // Keep the parent bits, set the colour.
            let w = ((n + 16 - self.base()) / 8) as usize;
            self.buf[w] = (self.buf[w] & !RB_BLACK) | color;
            for c in [l, r] {
                if c != 0 {
                    let cw = ((c + 16 - self.base()) / 8) as usize;
                    self.buf[cw] = (self.buf[cw] & RB_BLACK) | n;
                }
            }
        }
        fn head(
            &mut self,
            root: Option<usize>,
            first: Option<usize>,
            last: Option<usize>,
            nr: u64,
        ) {
            let b = self.base();
            let a = |f: &Fake, x: Option<usize>| x.map_or(0, |i| f.node(i));
            let (r, f, l) = (a(self, root), a(self, first), a(self, last));
            self.set(b, r);
            self.set(b + 8, f);
            self.set(b + 16, l);
            self.set(b + 24, nr);
        }
        fn view(&self) -> RbTreeView<'_> {
            // SAFETY: buf outlives the view and is never reallocated.
            let v = unsafe { ArenaView::from_raw(self.base(), 128 * 8) };
            RbTreeView::new(v, self.base())
        }
        /// A valid tree: 20(B) with 10(B) [5(R), 15(R)] and 30(B) [ - , 40(R)]
        /// Nodes: 0=20, 1=10, 2=30, 3=5, 4=15, 5=40.
        fn good() -> Self {
            let mut f = Fake::new();
            f.put(3, 5, RED, None, None);
            f.put(4, 15, RED, None, None);
            f.put(5, 40, RED, None, None);
            f.put(1, 10, BLACK, Some(3), Some(4));
            f.put(2, 30, BLACK, None, Some(5));
            f.put(0, 20, BLACK, Some(1), Some(2));
            f.head(Some(0), Some(3), Some(5), 6);
            f
        }
    }

    #[test]
    fn layout_matches_rbtree_h() {
        assert_eq!(TREE_SIZE, 32);
        assert_eq!(NODE_SIZE, 32);
        assert_eq!(RBMAP_VALUE_OFF, 32);
        assert_eq!(RbTreeView::entry_addr(0x1008, 8), 0x1000);
        assert_eq!(RbTreeView::entry_addr(0, 8), 0);
    }

    #[test]
    fn good_trees_walk_and_check() {
        let f = Fake::new();
        assert_eq!(f.view().len(), Ok(0));
        assert_eq!(f.view().nodes(), Ok(vec![]));
        assert_eq!(f.view().check(), Ok(()));

        let f = Fake::good();
        let t = f.view();
        assert_eq!(t.check(), Ok(()));
        let nodes = t.nodes().expect("walk");
        assert_eq!(
            nodes,
            vec![
                (5, f.node(3)),
                (10, f.node(1)),
                (15, f.node(4)),
                (20, f.node(0)),
                (30, f.node(2)),
                (40, f.node(5))
            ]
        );
        assert!(t.node(f.node(0)).expect("root").is_black());
        assert_eq!(t.node(f.node(3)).expect("leaf").parent(), f.node(1));
    }

    #[test]
    fn corrupted_trees_are_reported() {
        // Keys out of order.
        let mut f = Fake::good();
        let n4 = f.node(4);
        f.set(n4 + 24, 25);
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::Order {
                node: f.node(0),
                key: 20,
                prev_key: 25
            })
        );

        // A wrong parent link.
        let mut f = Fake::good();
        let (n3, n2) = (f.node(3), f.node(2));
        f.set(n3 + 16, n2);
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::Parent {
                node: n3,
                parent: n2,
                expected: f.node(1)
            })
        );

        // A red root.
        let mut f = Fake::good();
        let n0 = f.node(0);
        f.set(n0 + 16, 0);
        assert_eq!(f.view().check(), Err(RbTreeError::RedRoot { root: n0 }));

        // Red under red.
        let mut f = Fake::good();
        f.put(1, 10, RED, Some(3), Some(4));
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::RedRed {
                node: f.node(3),
                parent: f.node(1)
            })
        );

        // Unequal black heights: 40 turned black.
        let mut f = Fake::good();
        f.put(5, 40, BLACK, None, None);
        assert!(matches!(
            f.view().check(),
            Err(RbTreeError::BlackHeight { .. })
        ));

        // nr too large, too small.
        let mut f = Fake::good();
        f.head(Some(0), Some(3), Some(5), 7);
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::Length { nr: 7, walked: 6 })
        );
        f.head(Some(0), Some(3), Some(5), 5);
        assert_eq!(f.view().check(), Err(RbTreeError::TooLong { nr: 5 }));

        // Stale first and last.
        let mut f = Fake::good();
        f.head(Some(0), Some(1), Some(5), 6);
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::First {
                first: f.node(1),
                expected: f.node(3)
            })
        );
        f.head(Some(0), Some(3), Some(2), 6);
        assert_eq!(
            f.view().check(),
            Err(RbTreeError::Last {
                last: f.node(2),
                expected: f.node(5)
            })
        );

        // A cycle: 40's left child is the root.
        let mut f = Fake::good();
        let (n5, n0) = (f.node(5), f.node(0));
        f.set(n5, n0);
        f.head(Some(0), Some(3), Some(5), 100);
        assert_eq!(f.view().nodes(), Err(RbTreeError::Cycle { node: n0 }));

        // A poisoned link and a link out of the arena.
        let mut f = Fake::good();
        let n2 = f.node(2);
        f.set(n2 + 8, RB_POISON);
        assert_eq!(f.view().check(), Err(RbTreeError::Poisoned { parent: n2 }));
        f.set(n2 + 8, 8);
        assert!(matches!(
            f.view().nodes(),
            Err(RbTreeError::BadNode {
                node: 8,
                source: ArenaError::OutOfBounds { .. },
                ..
            })
        ));

        // The tree struct itself outside the view.
        let f = Fake::new();
        // SAFETY: buf outlives the view.
        let v = unsafe { ArenaView::from_raw(f.base(), 128 * 8) };
        let t = RbTreeView::new(v, f.base() + 127 * 8);
        assert!(matches!(t.check(), Err(RbTreeError::Head { .. })));
    }

    #[test]
    fn a_chain_deeper_than_the_bound_is_reported() {
        // 70 nodes each the right child of the previous: depth 70. The fake
        // needs 4 + 4 * 70 words.
        let mut f = Fake {
            buf: vec![0; 4 + 4 * 70],
        };
        for i in (0..70).rev() {
            let r = if i + 1 < 70 { Some(i + 1) } else { None };
            f.put(i, i as u64, BLACK, None, r);
        }
        f.head(Some(0), Some(0), Some(69), 70);
        // SAFETY: buf outlives the view.
        let v = unsafe { ArenaView::from_raw(f.base(), (4 + 4 * 70) * 8) };
        let t = RbTreeView::new(v, f.base());
        assert_eq!(
            t.nodes(),
            Err(RbTreeError::TooDeep {
                node: f.node(64),
                depth: 65
            })
        );
    }
}
