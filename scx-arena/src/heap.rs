//! The arena heap (bpf/include/scx_arena/heap.h) from userspace: reads a
//! `struct scx_arena_heap` and its entry array through the arena mmap and
//! checks its invariants.
//!
//! The array holds `{ key, node address }` entries; each node (embedded in
//! the caller's element) holds its key, a sequence number (the tie-breaker
//! among equal keys) and its slot in the array:
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::heap::HeapView;
//! fn keys(view: ArenaView<'_>, heap: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
//!     let h = HeapView::new(view, heap);
//!     h.check()?;
//!     // Smallest first, equal keys in FIFO order, as pop would return them.
//!     Ok(h.sorted()?.into_iter().map(|e| e.key).collect())
//! }
//! ```
//!
//! The reads are not synchronised with BPF: read a heap while no program
//! changes it (or hold its lock), or expect [`HeapError`]s from a heap
//! caught mid-update.

use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// `SCX_ARENA_HEAP_NONE`: the index of a node removed from its heap.
pub const HEAP_NONE: u32 = u32::MAX;

/// `SCX_ARENA_HEAP_MIN_CAP`: the first capacity of the array.
pub const HEAP_MIN_CAP: u32 = 16;

/// `SCX_ARENA_HEAP_MAX_CAP`: the most elements a heap holds (512 KiB of
/// 16-byte entries).
pub const HEAP_MAX_CAP: u32 = 32768;

/// `SCX_ARENA_HEAP_ARITY`: children per slot; slot `i > 0`'s parent is
/// `(i - 1) / HEAP_ARITY`.
pub const HEAP_ARITY: u32 = 4;

/// `sizeof(struct scx_arena_heap)`.
pub const HEAP_SIZE: usize = size_of::<RawHeap>();

/// `sizeof(struct scx_arena_heap_entry)`.
pub const ENTRY_SIZE: usize = size_of::<RawEntry>();

/// `sizeof(struct scx_arena_heap_node)`.
pub const NODE_SIZE: usize = size_of::<RawNode>();

/// Byte offset of the heap in `struct scx_arena_heap_locked` (after the
/// `u32` lock and its padding).
pub const LOCKED_HEAP_OFF: u64 = 8;

/// `struct scx_arena_heap`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawHeap {
    /// Arena address of the entry array, 0 before the first push.
    pub entries: u64,
    /// Elements in the heap (the first `nr` slots).
    pub nr: u32,
    /// Slots in the array.
    pub cap: u32,
    /// The next sequence number.
    pub seq: u64,
}
// SAFETY: u64, u32, u32, u64: no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawHeap {}

/// `struct scx_arena_heap_entry`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawEntry {
    /// The element's key.
    pub key: u64,
    /// Arena address of the element's node.
    pub node: u64,
}
// SAFETY: two u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawEntry {}

/// `struct scx_arena_heap_node`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawNode {
    /// The element's key.
    pub key: u64,
    /// Sequence number of its last push or key update.
    pub seq: u64,
    /// Its slot in the array, [`HEAP_NONE`] after removal.
    pub idx: u32,
    /// Padding.
    pub pad: u32,
}
// SAFETY: u64, u64, u32, u32: no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawNode {}

/// One element as read from the array: its slot, key, node address and
/// the node's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapEntry {
    /// Slot in the array.
    pub slot: u32,
    /// The key stored in the array.
    pub key: u64,
    /// Arena address of the node.
    pub node: u64,
    /// The node's sequence number (the tie-breaker among equal keys).
    pub seq: u64,
}

/// What is wrong with a heap, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeapError {
    /// The heap header itself could not be read.
    #[error("heap at {addr:#x}: {source}")]
    Head {
        /// Address of the header.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// `nr` exceeds `cap`.
    #[error("nr {nr} exceeds the capacity {cap}")]
    TooMany {
        /// The stored length.
        nr: u32,
        /// The stored capacity.
        cap: u32,
    },
    /// `cap` is not 0 or a power of two in `HEAP_MIN_CAP..=HEAP_MAX_CAP`,
    /// or `entries` is 0 with a nonzero `cap` (or the other way round).
    #[error("capacity {cap} with array {entries:#x} is not a valid shape")]
    Capacity {
        /// The stored capacity.
        cap: u32,
        /// The stored array address.
        entries: u64,
    },
    /// The array (`cap` entries) is not readable arena memory.
    #[error("array at {entries:#x} ({cap} entries) is not in the arena: {source}")]
    Array {
        /// The array's address.
        entries: u64,
        /// The stored capacity.
        cap: u32,
        /// Why the check failed.
        source: ArenaError,
    },
    /// The node of slot `slot` is not readable arena memory.
    #[error("slot {slot}: node {node:#x} is not in the arena: {source}")]
    BadNode {
        /// The slot.
        slot: u32,
        /// The node's address.
        node: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// The node of slot `slot` does not record that slot.
    #[error("slot {slot}: node {node:#x} records index {idx}")]
    Index {
        /// The slot.
        slot: u32,
        /// The node's address.
        node: u64,
        /// The node's stored index.
        idx: u32,
    },
    /// The key in the array differs from the node's key.
    #[error("slot {slot}: key {key} in the array, {node_key} in node {node:#x}")]
    Key {
        /// The slot.
        slot: u32,
        /// The node's address.
        node: u64,
        /// The array's key.
        key: u64,
        /// The node's key.
        node_key: u64,
    },
    /// A node's sequence number is not below the heap's next one.
    #[error("slot {slot}: node {node:#x} has seq {seq}, the heap's next is {next}")]
    Seq {
        /// The slot.
        slot: u32,
        /// The node's address.
        node: u64,
        /// The node's seq.
        seq: u64,
        /// The heap's next seq.
        next: u64,
    },
    /// Slot `slot` orders before its parent (by key, then seq).
    #[error("slot {slot} (key {key}, seq {seq}) orders before its parent (key {parent_key}, seq {parent_seq})")]
    Order {
        /// The child slot.
        slot: u32,
        /// Its key.
        key: u64,
        /// Its seq.
        seq: u64,
        /// The parent's key.
        parent_key: u64,
        /// The parent's seq.
        parent_seq: u64,
    },
}

/// A heap in arena memory, read through an [`ArenaView`].
#[derive(Debug, Clone, Copy)]
pub struct HeapView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> HeapView<'obj> {
    /// The heap whose `struct scx_arena_heap` is at arena address
    /// `heap_addr` in `view`. Nothing is read until asked.
    pub fn new(view: ArenaView<'obj>, heap_addr: u64) -> Self {
        HeapView {
            view,
            addr: heap_addr,
        }
    }

    /// The arena view the heap is read through.
    pub fn arena(&self) -> ArenaView<'obj> {
        self.view
    }

    /// Arena address of the heap header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// A copy of the heap header.
    pub fn head(&self) -> Result<RawHeap, HeapError> {
        self.view
            .read::<RawHeap>(self.addr)
            .map_err(|source| HeapError::Head {
                addr: self.addr,
                source,
            })
    }

    /// The stored element count (`nr`).
    pub fn len(&self) -> Result<u32, HeapError> {
        Ok(self.head()?.nr)
    }

    /// Whether the stored element count is 0.
    pub fn is_empty(&self) -> Result<bool, HeapError> {
        Ok(self.len()? == 0)
    }

    /// The stored capacity (`cap`).
    pub fn capacity(&self) -> Result<u32, HeapError> {
        Ok(self.head()?.cap)
    }

    /// The header, checked for a valid shape: `nr <= cap`, `cap` 0 or a
    /// power of two within bounds, the array present iff `cap > 0` and
    /// lying in the arena.
    fn shape(&self) -> Result<RawHeap, HeapError> {
        let h = self.head()?;
        let cap_ok = if h.cap == 0 {
            h.entries == 0
        } else {
            h.cap.is_power_of_two()
                && (HEAP_MIN_CAP..=HEAP_MAX_CAP).contains(&h.cap)
                && h.entries != 0
        };
        if !cap_ok {
            return Err(HeapError::Capacity {
                cap: h.cap,
                entries: h.entries,
            });
        }
        if h.nr > h.cap {
            return Err(HeapError::TooMany {
                nr: h.nr,
                cap: h.cap,
            });
        }
        if h.cap > 0 {
            self.view
                .check(h.entries, h.cap as usize * ENTRY_SIZE, 8)
                .map_err(|source| HeapError::Array {
                    entries: h.entries,
                    cap: h.cap,
                    source,
                })?;
        }
        Ok(h)
    }

    /// The raw `(key, node address)` entries in array order (slot 0 is the
    /// minimum), without reading the nodes.
    pub fn raw_entries(&self) -> Result<Vec<RawEntry>, HeapError> {
        let h = self.shape()?;
        if h.nr == 0 {
            return Ok(Vec::new());
        }
        self.view
            .read_array::<RawEntry>(h.entries, h.nr as usize)
            .map_err(|source| HeapError::Array {
                entries: h.entries,
                cap: h.cap,
                source,
            })
    }

    /// Reads the node of slot `slot`.
    fn node(&self, slot: u32, node: u64) -> Result<RawNode, HeapError> {
        self.view
            .read::<RawNode>(node)
            .map_err(|source| HeapError::BadNode { slot, node, source })
    }

    /// The elements in array order, each with its node's sequence number.
    pub fn entries(&self) -> Result<Vec<HeapEntry>, HeapError> {
        self.raw_entries()?
            .into_iter()
            .enumerate()
            .map(|(slot, e)| {
                let slot = slot as u32;
                let n = self.node(slot, e.node)?;
                Ok(HeapEntry {
                    slot,
                    key: e.key,
                    node: e.node,
                    seq: n.seq,
                })
            })
            .collect()
    }

    /// The elements in pop order: ascending key, equal keys by sequence
    /// number (FIFO).
    pub fn sorted(&self) -> Result<Vec<HeapEntry>, HeapError> {
        let mut v = self.entries()?;
        v.sort_by_key(|e| (e.key, e.seq));
        Ok(v)
    }

    /// Checks the whole heap: the header's shape (see [`HeapError`]), and
    /// for every slot: its node in the arena, the node's index the slot,
    /// its key the array's, its seq below the heap's next, and the slot
    /// not ordering before its parent (key, then seq). A node in two slots
    /// fails the index check.
    pub fn check(&self) -> Result<(), HeapError> {
        let h = self.head()?;
        let entries = self.entries()?;
        for e in &entries {
            let n = self.node(e.slot, e.node)?;
            if n.idx != e.slot {
                return Err(HeapError::Index {
                    slot: e.slot,
                    node: e.node,
                    idx: n.idx,
                });
            }
            if n.key != e.key {
                return Err(HeapError::Key {
                    slot: e.slot,
                    node: e.node,
                    key: e.key,
                    node_key: n.key,
                });
            }
            if n.seq >= h.seq {
                return Err(HeapError::Seq {
                    slot: e.slot,
                    node: e.node,
                    seq: n.seq,
                    next: h.seq,
                });
            }
            if e.slot > 0 {
                let p = &entries[((e.slot - 1) / HEAP_ARITY) as usize];
                if (e.key, e.seq) < (p.key, p.seq) {
                    return Err(HeapError::Order {
                        slot: e.slot,
                        key: e.key,
                        seq: e.seq,
                        parent_key: p.key,
                        parent_seq: p.seq,
                    });
                }
            }
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

    /// A fake arena of 256 words: the header at word 0, the array (16
    /// entries) at word 4, nodes (3 words each) from word 40.
    struct Fake {
        buf: Vec<u64>,
    }

    impl Fake {
        fn base(&self) -> u64 {
            self.buf.as_ptr() as u64
        }
        fn node(&self, i: usize) -> u64 {
            self.base() + ((40 + 3 * i) * 8) as u64
        }
        fn set(&mut self, addr: u64, v: u64) {
            let w = ((addr - self.base()) / 8) as usize;
            self.buf[w] = v;
        }
        /// A heap holding `keys` in this array order, node i in slot i
        /// with seq i.
        fn heap(keys: &[u64]) -> Self {
            let mut f = Fake { buf: vec![0; 256] };
            let b = f.base();
            let arr = b + 32;
            for (i, &k) in keys.iter().enumerate() {
                let n = f.node(i);
                f.set(arr + 16 * i as u64, k);
                f.set(arr + 16 * i as u64 + 8, n);
                f.set(n, k);
                f.set(n + 8, i as u64);
                f.set(n + 16, i as u64);
            }
            f.set(b, arr);
            f.set(b + 8, (16u64 << 32) | keys.len() as u64);
            f.set(b + 16, keys.len() as u64);
            f
        }
        fn view(&self) -> HeapView<'_> {
            // SAFETY: buf outlives the view and is never reallocated.
            let v = unsafe { ArenaView::from_raw(self.base(), 256 * 8) };
            HeapView::new(v, self.base())
        }
    }

    #[test]
    fn layout_matches_heap_h() {
        assert_eq!(HEAP_SIZE, 24);
        assert_eq!(ENTRY_SIZE, 16);
        assert_eq!(NODE_SIZE, 24);
        assert_eq!(HEAP_MAX_CAP as usize * ENTRY_SIZE, 512 * 1024);
        assert_eq!(HeapView::entry_addr(0x1008, 8), 0x1000);
        assert_eq!(HeapView::entry_addr(0, 8), 0);
    }

    #[test]
    fn good_heaps_read_and_check() {
        let mut f = Fake { buf: vec![0; 256] };
        assert_eq!(f.view().len(), Ok(0));
        assert_eq!(f.view().entries(), Ok(vec![]));
        assert_eq!(f.view().check(), Ok(()));
        f.buf[0] = 1;
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Capacity { cap: 0, .. })
        ));

        // 4-ary: slots 1-4 under the root, slot 5 under slot 1.
        let f = Fake::heap(&[1, 5, 2, 5, 9, 6]);
        let h = f.view();
        assert_eq!(h.len(), Ok(6));
        assert_eq!(h.capacity(), Ok(16));
        assert_eq!(h.check(), Ok(()));
        let keys: Vec<u64> = h
            .entries()
            .expect("entries")
            .iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, vec![1, 5, 2, 5, 9, 6]);
        let sorted: Vec<(u64, u64)> = h
            .sorted()
            .expect("sorted")
            .iter()
            .map(|e| (e.key, e.node))
            .collect();
        assert_eq!(
            sorted,
            vec![
                (1, f.node(0)),
                (2, f.node(2)),
                (5, f.node(1)),
                (5, f.node(3)),
                (6, f.node(5)),
                (9, f.node(4))
            ]
        );
    }

    #[test]
    fn corrupted_heaps_are_reported() {
        // Slot 5's parent is slot 1 in a 4-ary heap (it was slot 2 in a
        // binary one, which this order satisfies).
        let f = Fake::heap(&[1, 5, 2, 5, 9, 3]);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Order {
                slot: 5,
                key: 3,
                parent_key: 5,
                ..
            })
        ));
        // Heap order broken.
        let f = Fake::heap(&[4, 3]);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Order {
                slot: 1,
                key: 3,
                ..
            })
        ));
        // Equal keys out of seq order: slot 1 has seq 1, make the root's 5.
        let mut f = Fake::heap(&[4, 4]);
        let n0 = f.node(0);
        f.set(n0 + 8, 1);
        let b = f.base();
        f.set(b + 16, 9);
        f.set(f.node(1) + 8, 0);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Order { slot: 1, .. })
        ));
        // A node's index.
        let mut f = Fake::heap(&[1, 2, 3]);
        let n2 = f.node(2);
        f.set(n2 + 16, 7);
        assert_eq!(
            f.view().check(),
            Err(HeapError::Index {
                slot: 2,
                node: n2,
                idx: 7
            })
        );
        // A node's key.
        let mut f = Fake::heap(&[1, 2, 3]);
        let n1 = f.node(1);
        f.set(n1, 9);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Key {
                slot: 1,
                key: 2,
                node_key: 9,
                ..
            })
        ));
        // seq not below the heap's next.
        let mut f = Fake::heap(&[1, 2]);
        let b = f.base();
        f.set(b + 16, 1);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Seq { slot: 1, .. })
        ));
        // nr > cap, and a bad capacity.
        let mut f = Fake::heap(&[1]);
        let b = f.base();
        f.set(b + 8, (16u64 << 32) | 17);
        assert_eq!(
            f.view().check(),
            Err(HeapError::TooMany { nr: 17, cap: 16 })
        );
        f.set(b + 8, (24u64 << 32) | 1);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Capacity { cap: 24, .. })
        ));
        // An array that does not fit the view.
        f.set(b + 8, (1024u64 << 32) | 1);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::Array { cap: 1024, .. })
        ));
        // A node outside the arena.
        let mut f = Fake::heap(&[1, 2]);
        let arr = f.base() + 32;
        f.set(arr + 24, 8);
        assert!(matches!(
            f.view().check(),
            Err(HeapError::BadNode {
                slot: 1,
                node: 8,
                ..
            })
        ));
        // The header itself outside the view.
        let f = Fake { buf: vec![0; 256] };
        // SAFETY: buf outlives the view.
        let v = unsafe { ArenaView::from_raw(f.base(), 256 * 8) };
        let h = HeapView::new(v, f.base() + 255 * 8);
        assert!(matches!(h.check(), Err(HeapError::Head { .. })));
    }
}
