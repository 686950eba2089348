//! The arena hash table (bpf/include/scx_arena/htab.h) from userspace:
//! reads a `struct scx_arena_htab` through the arena mmap, lists its
//! entries and checks its chains.
//!
//! Links and the bucket array are arena addresses stored as `u64` (0 ends
//! a chain), so a table BPF built is followed here as is:
//!
//! ```no_run
//! # use scx_arena::arena::ArenaView;
//! # use scx_arena::htab::HtabView;
//! fn keys(view: ArenaView<'_>, tab: u64) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
//!     let h = HtabView::new(view, tab);
//!     h.check()?;
//!     Ok(h.entries()?.into_iter().map(|e| e.key).collect())
//! }
//! ```
//!
//! The reads are not synchronised with BPF: read a table while no program
//! changes it (or hold its lock), or expect [`HtabError`]s from a table
//! caught mid-update.

use std::collections::HashSet;
use std::mem::size_of;

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// `SCX_ARENA_HTAB_POISON`: the link of a node taken off a table.
pub const HTAB_POISON: u64 = 0x5c7a_4ab0_dead_1000;

/// `SCX_ARENA_HTAB_HASH_MUL`.
pub const HTAB_HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// `SCX_ARENA_HTAB_MAX_BUCKETS`.
pub const HTAB_MAX_BUCKETS: u32 = 1 << 15;

/// `SCX_ARENA_HTAB_MAX_CAPACITY`.
pub const HTAB_MAX_CAPACITY: u64 = 1 << 22;

/// `sizeof(struct scx_arena_htab)`.
pub const HTAB_SIZE: usize = size_of::<RawHtab>();

/// `sizeof(struct scx_arena_htab_node)`.
pub const HTAB_NODE_SIZE: usize = size_of::<RawHtabNode>();

/// Byte offset of the table in `struct scx_arena_htab_locked`.
pub const LOCKED_HTAB_OFF: u64 = 8;

/// `scx_arena_htab_hash()`: the 64-bit hash of a key.
pub fn hash(key: u64) -> u64 {
    key.wrapping_mul(HTAB_HASH_MUL)
}

/// `scx_arena_htab_bucket()`: the bucket of `key` among `nr_buckets` (a
/// power of two): the hash's top log2(`nr_buckets`) bits; 0 for 0 or 1
/// bucket.
pub fn bucket_of(key: u64, nr_buckets: u32) -> u32 {
    if nr_buckets <= 1 {
        0
    } else {
        (hash(key) >> (64 - nr_buckets.trailing_zeros())) as u32
    }
}

/// `struct scx_arena_htab`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawHtab {
    /// Arena address of the bucket heads, 0 before init.
    pub buckets: u64,
    /// Number of buckets (a power of two), 0 before init.
    pub nr_buckets: u32,
    /// Padding.
    pub pad: u32,
    /// Elements in the table.
    pub nr: u64,
    /// Most elements the table takes.
    pub capacity: u64,
}
// SAFETY: integers, no implicit padding; every bit pattern is valid.
unsafe impl ArenaPod for RawHtab {}

/// `struct scx_arena_htab_node`, byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct RawHtabNode {
    /// Arena address of the next node of the chain, 0 at its end.
    pub next: u64,
    /// The key.
    pub key: u64,
}
// SAFETY: two u64s, no padding; every bit pattern is valid.
unsafe impl ArenaPod for RawHtabNode {}

/// One element of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HtabEntry {
    /// Its key.
    pub key: u64,
    /// Arena address of its node (subtract the node's offset for the
    /// element).
    pub node: u64,
    /// The bucket whose chain holds it.
    pub bucket: u32,
}

/// What is wrong with a table, or why it could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HtabError {
    /// The header itself could not be read.
    #[error("htab header at {addr:#x}: {source}")]
    Head {
        /// Address of the header.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// The header is implausible.
    #[error("htab header: {0}")]
    Header(String),
    /// The bucket array could not be read.
    #[error("bucket array at {addr:#x}: {source}")]
    Buckets {
        /// Its address.
        addr: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A node of bucket `bucket`'s chain is not readable arena memory.
    #[error("bucket {bucket}: node at {node:#x} is not in the arena: {source}")]
    BadNode {
        /// The bucket.
        bucket: u32,
        /// The node's address.
        node: u64,
        /// Why the read failed.
        source: ArenaError,
    },
    /// A chain links to a node taken off the table.
    #[error("bucket {bucket}: a link is poisoned (removed node still reachable)")]
    Poisoned {
        /// The bucket.
        bucket: u32,
    },
    /// A node was reached twice (a cycle, or two chains sharing a node).
    #[error("bucket {bucket}: node at {node:#x} was already visited")]
    Cycle {
        /// The bucket.
        bucket: u32,
        /// The repeated node.
        node: u64,
    },
    /// The chains hold more nodes than `nr`.
    #[error("the chains hold more than nr = {nr} nodes")]
    TooLong {
        /// The stored count.
        nr: u64,
    },
    /// A node sits in a bucket its key does not hash to.
    #[error("key {key:#x} (node {node:#x}) is in bucket {bucket}, its hash says {want}")]
    WrongBucket {
        /// The key.
        key: u64,
        /// The node.
        node: u64,
        /// Where it was found.
        bucket: u32,
        /// Where it belongs.
        want: u32,
    },
    /// Two nodes hold the same key.
    #[error("key {key:#x} is in the table twice")]
    Duplicate {
        /// The key.
        key: u64,
    },
    /// The chains hold fewer nodes than `nr`.
    #[error("nr is {nr} but the chains hold {walked} nodes")]
    Length {
        /// The stored count.
        nr: u64,
        /// Nodes found.
        walked: u64,
    },
}

/// A hash table in arena memory, read through an [`ArenaView`].
#[derive(Debug, Clone, Copy)]
pub struct HtabView<'obj> {
    view: ArenaView<'obj>,
    addr: u64,
}

impl<'obj> HtabView<'obj> {
    /// The table whose `struct scx_arena_htab` is at `addr` (for a locked
    /// table: its address + [`LOCKED_HTAB_OFF`]). Nothing is read until
    /// asked.
    pub fn new(view: ArenaView<'obj>, addr: u64) -> Self {
        HtabView { view, addr }
    }

    /// Arena address of the header.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// A copy of the header.
    pub fn head(&self) -> Result<RawHtab, HtabError> {
        self.view
            .read::<RawHtab>(self.addr)
            .map_err(|source| HtabError::Head {
                addr: self.addr,
                source,
            })
    }

    /// The stored element count (`nr`), not a walk.
    pub fn len(&self) -> Result<u64, HtabError> {
        Ok(self.head()?.nr)
    }

    /// Whether the stored element count is 0.
    pub fn is_empty(&self) -> Result<bool, HtabError> {
        Ok(self.len()? == 0)
    }

    /// Checks the header alone: an uninitialised (all zero) table, or a
    /// bucket array of a power-of-two size within bounds and `nr` within
    /// the capacity.
    fn check_head(h: &RawHtab) -> Result<(), HtabError> {
        if h.buckets == 0 {
            if h.nr_buckets != 0 || h.nr != 0 {
                return Err(HtabError::Header(format!(
                    "no bucket array but nr_buckets {} and nr {}",
                    h.nr_buckets, h.nr
                )));
            }
            return Ok(());
        }
        if !h.nr_buckets.is_power_of_two() || h.nr_buckets > HTAB_MAX_BUCKETS {
            return Err(HtabError::Header(format!(
                "nr_buckets {} is not a power of two up to {HTAB_MAX_BUCKETS}",
                h.nr_buckets
            )));
        }
        if h.capacity == 0 || h.capacity > HTAB_MAX_CAPACITY || h.nr > h.capacity {
            return Err(HtabError::Header(format!(
                "nr {} and capacity {} (at most {HTAB_MAX_CAPACITY})",
                h.nr, h.capacity
            )));
        }
        Ok(())
    }

    /// Every element, bucket by bucket, chain order within a bucket. Walks
    /// at most `nr + 1` nodes in all; fails on a bad header, a node outside
    /// the arena, a poisoned link, a node reached twice or more nodes than
    /// `nr`. A shorter walk is returned as is ([`check`](Self::check)
    /// reports it).
    pub fn entries(&self) -> Result<Vec<HtabEntry>, HtabError> {
        let h = self.head()?;
        Self::check_head(&h)?;
        if h.buckets == 0 {
            return Ok(Vec::new());
        }
        let heads = self
            .view
            .read_array::<u64>(h.buckets, h.nr_buckets as usize)
            .map_err(|source| HtabError::Buckets {
                addr: h.buckets,
                source,
            })?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (b, &head) in heads.iter().enumerate() {
            let bucket = b as u32;
            let mut cur = head;
            while cur != 0 {
                if cur == HTAB_POISON {
                    return Err(HtabError::Poisoned { bucket });
                }
                if out.len() as u64 >= h.nr {
                    return Err(HtabError::TooLong { nr: h.nr });
                }
                if !seen.insert(cur) {
                    return Err(HtabError::Cycle { bucket, node: cur });
                }
                let n =
                    self.view
                        .read::<RawHtabNode>(cur)
                        .map_err(|source| HtabError::BadNode {
                            bucket,
                            node: cur,
                            source,
                        })?;
                out.push(HtabEntry {
                    key: n.key,
                    node: cur,
                    bucket,
                });
                cur = n.next;
            }
        }
        Ok(out)
    }

    /// Checks the whole table: the header, every chain (as
    /// [`entries`](Self::entries)), every node in the bucket its key hashes
    /// to, no key twice, and as many nodes as `nr`.
    pub fn check(&self) -> Result<(), HtabError> {
        let h = self.head()?;
        let entries = self.entries()?;
        let mut keys = HashSet::new();
        for e in &entries {
            let want = bucket_of(e.key, h.nr_buckets);
            if want != e.bucket {
                return Err(HtabError::WrongBucket {
                    key: e.key,
                    node: e.node,
                    bucket: e.bucket,
                    want,
                });
            }
            if !keys.insert(e.key) {
                return Err(HtabError::Duplicate { key: e.key });
            }
        }
        if entries.len() as u64 != h.nr {
            return Err(HtabError::Length {
                nr: h.nr,
                walked: entries.len() as u64,
            });
        }
        Ok(())
    }

    /// The address of the struct containing node `node` at byte `offset`
    /// (C's `container_of`).
    pub fn entry_addr(node: u64, offset: u64) -> u64 {
        node.wrapping_sub(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake arena of 256 words: header at word 0, 4 buckets at word 8,
    /// nodes (2 words) from word 16.
    struct Fake {
        buf: Vec<u64>,
    }

    impl Fake {
        fn base(&self) -> u64 {
            self.buf.as_ptr() as u64
        }
        fn node(&self, i: usize) -> u64 {
            self.base() + ((16 + 2 * i) * 8) as u64
        }
        fn set(&mut self, addr: u64, v: u64) {
            let w = ((addr - self.base()) / 8) as usize;
            self.buf[w] = v;
        }
        /// A table of 4 buckets holding `keys` (node i for key i), each
        /// pushed at the head of its chain.
        fn table(keys: &[u64]) -> Self {
            let mut f = Fake { buf: vec![0; 256] };
            let b = f.base();
            f.set(b, b + 64);
            f.set(b + 8, 4);
            f.set(b + 16, keys.len() as u64);
            f.set(b + 24, 16);
            for (i, &k) in keys.iter().enumerate() {
                let slot = b + 64 + 8 * u64::from(bucket_of(k, 4));
                let n = f.node(i);
                let head = f.buf[((slot - b) / 8) as usize];
                f.set(n, head);
                f.set(n + 8, k);
                f.set(slot, n);
            }
            f
        }
        fn view(&self) -> HtabView<'_> {
            // SAFETY: buf outlives the view and is never reallocated.
            let v = unsafe { ArenaView::from_raw(self.base(), 256 * 8) };
            HtabView::new(v, self.base())
        }
        /// A key of bucket `b` (of 4) other than those in `not`.
        fn key_in(b: u32, not: &[u64]) -> u64 {
            (0..)
                .find(|k| bucket_of(*k, 4) == b && !not.contains(k))
                .unwrap_or(0)
        }
    }

    #[test]
    fn layout_and_hash_match_htab_h() {
        assert_eq!(HTAB_SIZE, 32);
        assert_eq!(HTAB_NODE_SIZE, 16);
        assert_eq!(bucket_of(5, 0), 0);
        assert_eq!(bucket_of(5, 1), 0);
        assert_eq!(bucket_of(u64::MAX, 1 << 16), 0x61c8);
        assert_eq!(HTAB_MAX_BUCKETS, 1 << 15);
        // Consecutive keys (pids) spread over nearly distinct buckets, and
        // so do 4 KiB-aligned ones.
        let b: HashSet<u32> = (1000..1064).map(|k| bucket_of(k, 64)).collect();
        assert!(b.len() >= 50, "{}", b.len());
        let b: HashSet<u32> = (0..64).map(|k| bucket_of(k << 12, 64)).collect();
        assert!(b.len() >= 36, "{}", b.len());
    }

    #[test]
    fn good_tables_list_and_check() {
        let f = Fake::table(&[]);
        assert_eq!(f.view().entries(), Ok(vec![]));
        assert_eq!(f.view().check(), Ok(()));
        let k0 = Fake::key_in(1, &[7, 100]);
        let k1 = Fake::key_in(1, &[k0, 7, 100]);
        let f = Fake::table(&[k0, k1, 7, 100]);
        assert_eq!(f.view().check(), Ok(()));
        let mut keys: Vec<u64> = f
            .view()
            .entries()
            .expect("entries")
            .iter()
            .map(|e| e.key)
            .collect();
        keys.sort();
        let mut want = vec![k0, k1, 7, 100];
        want.sort();
        assert_eq!(keys, want);
        // An uninitialised (zeroed) table.
        let z = Fake { buf: vec![0; 256] };
        assert_eq!(z.view().check(), Ok(()));
        assert_eq!(z.view().len(), Ok(0));
    }

    #[test]
    fn corrupted_tables_are_reported() {
        let k0 = Fake::key_in(2, &[]);
        let k1 = Fake::key_in(2, &[k0]);
        // A cycle in a chain: k1 (head) -> k0 -> k1.
        let mut f = Fake::table(&[k0, k1]);
        let (n0, n1) = (f.node(0), f.node(1));
        f.set(n0, n1);
        let b = f.base();
        f.set(b + 16, 10);
        assert!(matches!(f.view().check(), Err(HtabError::Cycle { .. })));
        f.set(b + 16, 2);
        assert_eq!(f.view().check(), Err(HtabError::TooLong { nr: 2 }));
        // A key in the wrong bucket.
        let mut f = Fake::table(&[k0]);
        let other = Fake::key_in(3, &[]);
        let n0 = f.node(0);
        f.set(n0 + 8, other);
        assert!(matches!(
            f.view().check(),
            Err(HtabError::WrongBucket { want: 3, .. })
        ));
        // A duplicate key.
        let mut f = Fake::table(&[k0, k1]);
        let n1 = f.node(1);
        f.set(n1 + 8, k0);
        assert_eq!(f.view().check(), Err(HtabError::Duplicate { key: k0 }));
        // nr too large, poison, a node outside the arena, a bad header.
        let mut f = Fake::table(&[k0]);
        let b = f.base();
        f.set(b + 16, 2);
        assert_eq!(
            f.view().check(),
            Err(HtabError::Length { nr: 2, walked: 1 })
        );
        let mut f = Fake::table(&[k0]);
        let n0 = f.node(0);
        f.set(n0, HTAB_POISON);
        assert_eq!(f.view().check(), Err(HtabError::Poisoned { bucket: 2 }));
        let b = f.base();
        f.set(b + 16, 5);
        f.set(n0, 8);
        assert!(matches!(f.view().check(), Err(HtabError::BadNode { .. })));
        let mut f = Fake::table(&[]);
        let b = f.base();
        f.set(b + 8, 3);
        assert!(matches!(f.view().check(), Err(HtabError::Header(_))));
    }
}
