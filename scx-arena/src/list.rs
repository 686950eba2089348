//! The arena list (bpf/include/scx_arena/list.h) from userspace: walks a
//! `struct scx_arena_list` through the arena mmap and checks its links.
//!
//! Links are arena addresses stored as `u64` (0 ends the list), so a list
//! BPF built is followed here as is:
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::list::ListView;
//! fn vals(view: ArenaView<'_>, list: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
//!     let l = ListView::new(view, list);
//!     l.check()?;
//!     // The element is `struct { u64 val; struct scx_arena_list_node node; }`.
//!     let mut out = Vec::new();
//!     for n in l.nodes()? {
//!         out.push(view.read::<u64>(ListView::entry_addr(n, 8))?);
//!     }
//!     Ok(out)
//! }
//! ```
//!
//! The reads are not synchronised with BPF: walk a list while no program
//! changes it (or hold its lock), or expect [`ListError`]s from a list
//! caught mid-update.

use std::collections::HashSet;
use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// `SCX_ARENA_LIST_POISON`: both links of a node removed from a list.
pub const LIST_POISON: u64 = 0x5c7a_1157_00de_1000;

/// `sizeof(struct scx_arena_list)`.
pub const LIST_SIZE: usize = size_of::<RawList>();

/// `sizeof(struct scx_arena_list_node)`.
pub const NODE_SIZE: usize = size_of::<RawNode>();

/// Byte offset of the list in `struct scx_arena_list_locked` (after the
/// `u32` lock and its padding).
pub const LOCKED_LIST_OFF: u64 = 8;

/// `struct scx_arena_list`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawList {
    /// Arena address of the head node, 0 when empty.
    pub first: u64,
    /// Arena address of the tail node, 0 when empty.
    pub last: u64,
    /// Number of nodes on the list.
    pub nr: u64,
}
// SAFETY: three u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawList {}

/// `struct scx_arena_list_node`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawNode {
    /// Arena address of the next node, 0 at the tail.
    pub next: u64,
    /// Arena address of the previous node, 0 at the head.
    pub prev: u64,
}
// SAFETY: two u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawNode {}

/// What is wrong with a list, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListError {
    /// The list head itself could not be read.
    #[error("list head at {addr:#x}: {source}")]
    Head {
        /// Address of the head.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// Node `index` of the walk (0 is the head) is not readable arena memory.
    #[error("node {index} at {node:#x} is not in the arena: {source}")]
    BadNode {
        /// Position in the walk.
        index: usize,
        /// The node's address.
        node: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A link in the walk is `SCX_ARENA_LIST_POISON`: a removed node is
    /// still reachable.
    #[error("node {index} at {node:#x} links to a removed node (poison)")]
    Poisoned {
        /// Position in the walk of the node holding the poisoned link.
        index: usize,
        /// The node holding it (0 for the head's `first`).
        node: u64,
    },
    /// The walk came back to a node it had visited.
    #[error("cycle: node {index} at {node:#x} was already visited")]
    Cycle {
        /// Position in the walk of the repeat.
        index: usize,
        /// The repeated node.
        node: u64,
    },
    /// The walk found more nodes than `nr` says the list holds.
    #[error("the walk goes past nr = {nr} nodes")]
    TooLong {
        /// The stored count.
        nr: u64,
    },
    /// The walk found fewer nodes than `nr`.
    #[error("nr is {nr} but the walk found {walked} nodes")]
    Length {
        /// The stored count.
        nr: u64,
        /// Nodes walked.
        walked: u64,
    },
    /// A node's `prev` does not point at the node before it (0 at the head).
    #[error("node {index} at {node:#x}: prev is {prev:#x}, expected {expected:#x}")]
    Prev {
        /// Position in the walk.
        index: usize,
        /// The node.
        node: u64,
        /// Its `prev`.
        prev: u64,
        /// The node walked before it, or 0 for the head.
        expected: u64,
    },
    /// The head's `last` is not the node the walk ended at (0 when empty).
    #[error("last is {last:#x} but the walk ended at {walked:#x}")]
    Last {
        /// The stored tail.
        last: u64,
        /// The tail the walk found.
        walked: u64,
    },
}

/// A list head in arena memory, read through an [`ArenaView`].
#[derive(Debug, Clone, Copy)]
pub struct ListView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> ListView<'obj> {
    /// The list whose `struct scx_arena_list` is at arena address
    /// `list_addr` in `view`. Nothing is read until asked.
    pub fn new(view: ArenaView<'obj>, list_addr: u64) -> Self {
        ListView {
            view,
            addr: list_addr,
        }
    }

    /// The arena view the list is read through.
    pub fn arena(&self) -> ArenaView<'obj> {
        self.view
    }

    /// Arena address of the list head.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// A copy of the list head.
    pub fn head(&self) -> Result<RawList, ListError> {
        self.view
            .read::<RawList>(self.addr)
            .map_err(|source| ListError::Head {
                addr: self.addr,
                source,
            })
    }

    /// The stored node count (`nr`), not a walk.
    pub fn len(&self) -> Result<u64, ListError> {
        Ok(self.head()?.nr)
    }

    /// Whether the stored node count is 0.
    pub fn is_empty(&self) -> Result<bool, ListError> {
        Ok(self.len()? == 0)
    }

    /// Reads the node at `node`, the `index`th of the walk.
    fn node(&self, index: usize, node: u64) -> Result<RawNode, ListError> {
        self.view
            .read::<RawNode>(node)
            .map_err(|source| ListError::BadNode {
                index,
                node,
                source,
            })
    }

    /// Walks `first` → `next`, at most `nr + 1` steps, and returns the node
    /// addresses head first, with each node's links.
    fn walk(&self, head: &RawList) -> Result<Vec<(u64, RawNode)>, ListError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = head.first;
        let mut from = 0u64;
        while cur != 0 {
            let index = out.len();
            if cur == LIST_POISON {
                return Err(ListError::Poisoned { index, node: from });
            }
            if index as u64 >= head.nr {
                return Err(ListError::TooLong { nr: head.nr });
            }
            if !seen.insert(cur) {
                return Err(ListError::Cycle { index, node: cur });
            }
            let n = self.node(index, cur)?;
            out.push((cur, n));
            from = cur;
            cur = n.next;
        }
        Ok(out)
    }

    /// The node addresses from head to tail, following `next` for at most
    /// `nr + 1` steps. Fails on a node outside the arena, a poisoned link,
    /// a cycle, or more nodes than `nr`; a shorter walk is returned as is
    /// ([`check`](Self::check) reports it).
    pub fn nodes(&self) -> Result<Vec<u64>, ListError> {
        let head = self.head()?;
        Ok(self.walk(&head)?.into_iter().map(|(a, _)| a).collect())
    }

    /// Checks the whole list: every node in the arena, no cycle, each
    /// node's `prev` the node before it (0 at the head), the tail's `next`
    /// 0, `last` the walked tail, and the walk as long as `nr`.
    pub fn check(&self) -> Result<(), ListError> {
        let head = self.head()?;
        let nodes = self.walk(&head)?;
        let mut expected = 0u64;
        for (index, (node, n)) in nodes.iter().enumerate() {
            if n.prev != expected {
                return Err(ListError::Prev {
                    index,
                    node: *node,
                    prev: n.prev,
                    expected,
                });
            }
            expected = *node;
        }
        // The walk ended on a 0 link, so the tail's next is 0.
        let walked = nodes.last().map_or(0, |(a, _)| *a);
        if head.last != walked {
            return Err(ListError::Last {
                last: head.last,
                walked,
            });
        }
        if nodes.len() as u64 != head.nr {
            return Err(ListError::Length {
                nr: head.nr,
                walked: nodes.len() as u64,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake arena of 64 words: the head at word 0, elements of
    /// `{ u64 val; node }` (3 words) from word 4.
    struct Fake {
        buf: Vec<u64>,
    }

    impl Fake {
        fn new() -> Self {
            Fake { buf: vec![0; 64] }
        }
        fn base(&self) -> u64 {
            self.buf.as_ptr() as u64
        }
        /// Address of element i's node.
        fn node(&self, i: usize) -> u64 {
            self.base() + ((4 + 3 * i + 1) * 8) as u64
        }
        fn word(&self, addr: u64) -> usize {
            ((addr - self.base()) / 8) as usize
        }
        fn set(&mut self, addr: u64, v: u64) {
            let w = self.word(addr);
            self.buf[w] = v;
        }
        /// A list of elements `order`, with vals 100 + i.
        fn list(order: &[usize]) -> Self {
            let mut f = Fake::new();
            let nodes: Vec<u64> = order.iter().map(|&i| f.node(i)).collect();
            for (k, &n) in nodes.iter().enumerate() {
                f.set(n - 8, 100 + order[k] as u64);
                f.set(n, if k + 1 < nodes.len() { nodes[k + 1] } else { 0 });
                f.set(n + 8, if k > 0 { nodes[k - 1] } else { 0 });
            }
            let b = f.base();
            f.set(b, nodes.first().copied().unwrap_or(0));
            f.set(b + 8, nodes.last().copied().unwrap_or(0));
            f.set(b + 16, nodes.len() as u64);
            f
        }
        fn view(&self) -> ListView<'_> {
            // SAFETY: buf outlives the view and is never reallocated.
            let v = unsafe { ArenaView::from_raw(self.base(), 64 * 8) };
            ListView::new(v, self.base())
        }
    }

    #[test]
    fn layout_matches_list_h() {
        assert_eq!(LIST_SIZE, 24);
        assert_eq!(NODE_SIZE, 16);
        assert_eq!(ListView::entry_addr(0x1008, 8), 0x1000);
        assert_eq!(ListView::entry_addr(0, 8), 0);
    }

    #[test]
    fn good_lists_walk_and_check() {
        let f = Fake::list(&[]);
        assert_eq!(f.view().len(), Ok(0));
        assert_eq!(f.view().nodes(), Ok(vec![]));
        assert_eq!(f.view().check(), Ok(()));

        let f = Fake::list(&[2, 0, 5, 1]);
        let l = f.view();
        assert_eq!(l.len(), Ok(4));
        let nodes = l.nodes().expect("walk");
        assert_eq!(nodes, vec![f.node(2), f.node(0), f.node(5), f.node(1)]);
        assert_eq!(l.check(), Ok(()));
        let vals: Vec<u64> = nodes
            .iter()
            .map(|&n| l.arena().read::<u64>(ListView::entry_addr(n, 8)))
            .collect::<Result<_, _>>()
            .expect("vals");
        assert_eq!(vals, vec![102, 100, 105, 101]);
    }

    #[test]
    fn corrupted_lists_are_reported() {
        // A bad prev in the middle.
        let mut f = Fake::list(&[0, 1, 2]);
        let (n1, n2) = (f.node(1), f.node(2));
        f.set(n2 + 8, f.node(0));
        assert_eq!(
            f.view().check(),
            Err(ListError::Prev {
                index: 2,
                node: n2,
                prev: f.node(0),
                expected: n1
            })
        );

        // The head's prev is not 0.
        let mut f = Fake::list(&[0, 1]);
        let n0 = f.node(0);
        f.set(n0 + 8, f.node(1));
        assert!(matches!(
            f.view().check(),
            Err(ListError::Prev { index: 0, .. })
        ));

        // A cycle: the tail links back to the head, nr large.
        let mut f = Fake::list(&[0, 1, 2]);
        let (n0, n2) = (f.node(0), f.node(2));
        f.set(n2, n0);
        let b = f.base();
        f.set(b + 16, 10);
        assert_eq!(
            f.view().nodes(),
            Err(ListError::Cycle { index: 3, node: n0 })
        );
        // The same cycle with the right nr: more nodes than nr.
        f.set(b + 16, 3);
        assert_eq!(f.view().check(), Err(ListError::TooLong { nr: 3 }));

        // nr too large: the walk is short.
        let mut f = Fake::list(&[0, 1]);
        let b = f.base();
        f.set(b + 16, 3);
        assert_eq!(f.view().nodes().map(|n| n.len()), Ok(2));
        assert_eq!(
            f.view().check(),
            Err(ListError::Length { nr: 3, walked: 2 })
        );

        // last is not the walked tail.
        let mut f = Fake::list(&[0, 1, 2]);
        let b = f.base();
        let (n1, n2) = (f.node(1), f.node(2));
        f.set(b + 8, n1);
        assert_eq!(
            f.view().check(),
            Err(ListError::Last {
                last: n1,
                walked: n2
            })
        );

        // A link out of the arena, and a poisoned one.
        let mut f = Fake::list(&[0, 1]);
        let n0 = f.node(0);
        f.set(n0, 8);
        assert!(matches!(
            f.view().nodes(),
            Err(ListError::BadNode {
                index: 1,
                node: 8,
                source: ArenaError::OutOfBounds { .. }
            })
        ));
        f.set(n0, LIST_POISON);
        assert_eq!(
            f.view().check(),
            Err(ListError::Poisoned { index: 1, node: n0 })
        );

        // Empty by first but not by last.
        let mut f = Fake::list(&[0]);
        let b = f.base();
        f.set(b, 0);
        f.set(b + 16, 0);
        assert!(matches!(f.view().check(), Err(ListError::Last { .. })));

        // The head itself outside the view.
        let f = Fake::new();
        // SAFETY: buf outlives the view.
        let v = unsafe { ArenaView::from_raw(f.base(), 64 * 8) };
        let l = ListView::new(v, f.base() + 63 * 8);
        assert!(matches!(l.check(), Err(ListError::Head { .. })));
    }
}
