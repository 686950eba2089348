//! The arena allocator seen from userspace: its statistics, and a checker
//! that walks all of its metadata through the arena's mmap and verifies the
//! invariants `bpf/include/scx_arena/{alloc,buddy,slab,bump}.h` describe.
//!
//! The allocator's root page is found through the `.bss` variable
//! `scx_arena_alloc_root`; everything else is reached from the root. The
//! structs below mirror the C ones field for field (`tests/alloc.rs` checks
//! them against the object's BTF).
//!
//! ```no_run
//! # fn f(obj: &libbpf_rs::Object) -> Result<(), Box<dyn std::error::Error>> {
//! use scx_arena::alloc::AllocView;
//! let alloc = AllocView::of_object(obj)?;
//! let stats = alloc.stats()?;
//! println!("buddy pages in use: {}", stats.buddy.pages_used);
//! if let Err(violations) = alloc.check() {
//!     for v in &violations {
//!         eprintln!("{v}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Both read memory BPF may be changing. Statistics are per-counter
//! snapshots; `check()` is meant for an allocator at rest (no BPF program
//! allocating meanwhile), otherwise it may report transient states.
//!
//! The checker never dereferences an address the allocator's own page map
//! does not vouch for: reading an arena page BPF never allocated would make
//! the kernel allocate it for userspace, and later BPF allocations at that
//! address would fail. Every walk is bounded, so corrupt metadata yields
//! violations, never a hang.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::mem::{offset_of, size_of};

use libbpf_rs::Object;

use crate::arena::{ArenaError, ArenaPod, ArenaView};
use crate::globals::{read_global, GlobalError};

/// Name of the `.bss` variable holding the root's address.
pub const ROOT_GLOBAL: &str = "scx_arena_alloc_root";
/// `SCX_ARENA_ROOT_MAGIC`.
pub const ROOT_MAGIC: u64 = 0x5c7a_2007_a110_c000;
/// `SCX_ARENA_ROOT_VERSION`.
pub const ROOT_VERSION: u32 = 1;
/// Bytes per arena page (`__PAGE_SIZE` on the supported architectures).
pub const PAGE_SIZE: u64 = 4096;
/// `SCX_ARENA_PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `SCX_ARENA_BUDDY_MAX_ORDER`: a chunk is 4 KiB << 7 = 512 KiB.
pub const MAX_ORDER: u32 = 7;
/// `SCX_ARENA_BUDDY_NR_ORDERS`.
pub const NR_ORDERS: usize = MAX_ORDER as usize + 1;
/// `SCX_ARENA_CHUNK_PAGES`.
pub const CHUNK_PAGES: usize = 1 << MAX_ORDER;
/// Bytes per chunk.
pub const CHUNK_BYTES: u64 = PAGE_SIZE << MAX_ORDER;
/// `SCX_ARENA_MAX_CHUNKS`: an arena spans at most 4 GiB.
pub const MAX_CHUNKS: usize = 1 << (32 - (PAGE_SHIFT + MAX_ORDER));
/// `SCX_ARENA_CHUNKS_PER_MAP`: chunks whose state bytes share a map page.
pub const CHUNKS_PER_MAP: usize = PAGE_SIZE as usize / CHUNK_PAGES;
/// `SCX_ARENA_NR_MAPS`.
pub const NR_MAPS: usize = MAX_CHUNKS / CHUNKS_PER_MAP;
/// `SCX_ARENA_PG_FREE`: first page of a free block (low bits: order).
pub const PG_FREE: u8 = 0x80;
/// `SCX_ARENA_PG_USED`: first page of an allocated block.
pub const PG_USED: u8 = 0x40;
/// `SCX_ARENA_PG_SLAB`: with `PG_USED`, the block is a slab.
pub const PG_SLAB: u8 = 0x20;
/// `SCX_ARENA_PG_ORDER`: the order bits of a state byte.
pub const PG_ORDER: u8 = 0x0f;
/// `SCX_ARENA_SLAB_NR_CLASSES`: 16 B << 0 .. 16 B << 7 = 2 KiB.
pub const NR_CLASSES: usize = 8;
/// `SCX_ARENA_SLAB_MAX_SIZE`.
pub const SLAB_MAX_SIZE: u64 = 16 << (NR_CLASSES - 1);
/// `SCX_ARENA_SLAB_ORDER`: slabs are 64 KiB buddy blocks.
pub const SLAB_ORDER: u32 = 4;
/// `SCX_ARENA_SLAB_BYTES`.
pub const SLAB_BYTES: u64 = PAGE_SIZE << SLAB_ORDER;
/// `SCX_ARENA_SLAB_CACHE`: objects a CPU keeps per class.
pub const SLAB_CACHE: usize = 16;
/// `SCX_ARENA_SLAB_MAX_CPUS`: entries of the per-CPU table.
pub const SLAB_MAX_CPUS: usize = 512;
/// `SCX_ARENA_SLAB_MAGIC`, or-ed with the class.
pub const SLAB_MAGIC: u64 = 0x5c7a_51ab_0000_0000;
/// `SCX_ARENA_CHECK_REPORTS`.
pub const CHECK_REPORTS: usize = 16;

/// At most this many violations are listed; the rest are counted.
const MAX_VIOLATIONS: usize = 256;

/// `struct scx_arena_lock`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Lock {
    /// 0 when free, else 1 + the holder's CPU.
    pub val: u32,
}

/// `struct scx_arena_buddy_node`: the link at the start of a free block.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct BuddyNode {
    /// Next free block of the order, or 0.
    pub next: u64,
    /// Previous one, or 0 at the head.
    pub prev: u64,
}

/// `struct scx_arena_buddy`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Buddy {
    /// Guards all of the buddy state.
    pub lock: Lock,
    /// Padding (implicit in C).
    pub _pad0: u32,
    /// First free block per order.
    pub free_head: [u64; NR_ORDERS],
    /// Blocks on each free list.
    pub nr_free: [u64; NR_ORDERS],
    /// Next chunk index to try when growing.
    pub next_chunk: u64,
    /// Chunks taken from the kernel.
    pub nr_chunks: u64,
    /// Pages in allocated blocks, slabs included.
    pub pages_used: u64,
    /// High-water mark of `pages_used`.
    pub pages_used_peak: u64,
    /// Allocations that found no memory.
    pub nr_failed: u64,
    /// Page-map pages, `CHUNKS_PER_MAP` chunks each.
    pub map: [u64; NR_MAPS],
}

/// `struct scx_arena_slab_hdr`, at the start of every slab.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SlabHdr {
    /// `SLAB_MAGIC | cls`.
    pub magic: u64,
    /// First free object, or 0.
    pub freelist: u64,
    /// Next slab on the class partial list.
    pub next: u64,
    /// Previous one.
    pub prev: u64,
    /// Size class.
    pub cls: u32,
    /// Object size, 16 << cls.
    pub obj_size: u32,
    /// Objects the slab holds.
    pub nr_objs: u32,
    /// Free objects (on the freelist or above the mark).
    pub nr_free: u32,
    /// Offset of the first never-used object.
    pub mark: u32,
    /// 1 while on the class partial list.
    pub on_partial: u32,
    /// Reserved.
    pub pad: u64,
}

/// `struct scx_arena_slab_class`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SlabClass {
    /// Guards the class's slabs.
    pub lock: Lock,
    /// Padding (implicit in C).
    pub _pad0: u32,
    /// First slab with free objects.
    pub partial: u64,
    /// Slabs of the class.
    pub nr_slabs: u64,
    /// High-water mark of `nr_slabs`.
    pub nr_slabs_peak: u64,
    /// Allocations that got no memory.
    pub nr_failed: u64,
    /// Allocations that bypassed the CPU caches.
    pub nr_alloc_direct: u64,
    /// Frees that bypassed the CPU caches.
    pub nr_free_direct: u64,
}

/// `struct scx_arena_slab_stack`: one CPU's cache of one class.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SlabStack {
    /// Claimed by a program on this CPU.
    pub busy: u32,
    /// Objects in `objs`.
    pub count: u32,
    /// Cached free objects.
    pub objs: [u64; SLAB_CACHE],
}

/// `struct scx_arena_slab_pcpu`: one CPU's caches and counters.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SlabPcpu {
    /// Cache per class.
    pub stack: [SlabStack; NR_CLASSES],
    /// Allocations served from the cache, per class.
    pub nr_alloc: [u64; NR_CLASSES],
    /// Frees into the cache, per class.
    pub nr_free: [u64; NR_CLASSES],
}

/// `struct scx_arena_slab`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Slab {
    /// Per-class shared state.
    pub cls: [SlabClass; NR_CLASSES],
    /// Page of `SLAB_MAX_CPUS` addresses of `SlabPcpu`.
    pub pcpu: u64,
}

/// `struct scx_arena_bump`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Bump {
    /// Guards the bump state.
    pub lock: Lock,
    /// Padding (implicit in C).
    pub _pad0: u32,
    /// Current block, or 0.
    pub cur: u64,
    /// Bytes used in it.
    pub off: u64,
    /// Blocks taken from the buddy allocator.
    pub nr_blocks: u64,
    /// Bytes handed out.
    pub bytes: u64,
    /// Allocations that failed.
    pub nr_failed: u64,
}

/// `struct scx_arena_bug_report` of checked mode (`check.h`).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct BugReport {
    /// `enum scx_arena_bug`.
    pub kind: u32,
    /// Allocation site line, 0 if unknown.
    pub line: u32,
    /// The bad access or free.
    pub addr: u64,
    /// The object's address, 0 if none was found.
    pub obj: u64,
    /// Its size.
    pub size: u64,
    /// Allocation site file (first 8 bytes).
    pub file: [u8; 8],
}

/// `struct scx_arena_check`: checked-mode state.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Check {
    /// Built with `SCX_ARENA_CHECKED`.
    pub enabled: u32,
    /// Reserved.
    pub pad: u32,
    /// Bugs found, including those not kept.
    pub nr_reports: u64,
    /// The first reports.
    pub reports: [BugReport; CHECK_REPORTS],
    /// Per chunk, the address of its shadow.
    pub shadow: u64,
    /// Quarantine ring.
    pub quarantine: u64,
    /// Next quarantine slot (monotonic).
    pub q_head: u64,
    /// Bytes in quarantine.
    pub q_bytes: u64,
}

/// `struct scx_arena_root`: every allocator's state, one arena page.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Root {
    /// `ROOT_MAGIC`.
    pub magic: u64,
    /// `ROOT_VERSION`.
    pub version: u32,
    /// `PAGE_SIZE`.
    pub page_size: u32,
    /// Arena start (user address).
    pub base: u64,
    /// Arena size in pages.
    pub nr_pages: u64,
    /// Buddy allocator.
    pub buddy: Buddy,
    /// Slab allocator.
    pub slab: Slab,
    /// Bump allocator.
    pub bump: Bump,
    /// Checked mode.
    pub check: Check,
}

// SAFETY: all of these are repr(C) structs of integers (explicit padding
// included); every bit pattern is a valid value.
unsafe impl ArenaPod for Lock {}
// SAFETY: as above.
unsafe impl ArenaPod for BuddyNode {}
// SAFETY: as above.
unsafe impl ArenaPod for Buddy {}
// SAFETY: as above.
unsafe impl ArenaPod for SlabHdr {}
// SAFETY: as above.
unsafe impl ArenaPod for SlabClass {}
// SAFETY: as above.
unsafe impl ArenaPod for SlabStack {}
// SAFETY: as above.
unsafe impl ArenaPod for SlabPcpu {}
// SAFETY: as above.
unsafe impl ArenaPod for Slab {}
// SAFETY: as above.
unsafe impl ArenaPod for Bump {}
// SAFETY: as above.
unsafe impl ArenaPod for BugReport {}
// SAFETY: as above.
unsafe impl ArenaPod for Check {}
// SAFETY: as above.
unsafe impl ArenaPod for Root {}

/// The layout of one mirrored struct: what must match the C struct's BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructLayout {
    /// The C struct's name.
    pub c_name: &'static str,
    /// `size_of` the Rust mirror.
    pub size: usize,
    /// C member name and its byte offset in the mirror; padding the C
    /// compiler adds implicitly is not listed.
    pub fields: Vec<(&'static str, usize)>,
}

macro_rules! layout {
    ($ty:ty, $c:literal, [$($f:ident $(= $cname:literal)?),* $(,)?]) => {
        StructLayout {
            c_name: $c,
            size: size_of::<$ty>(),
            fields: vec![$((layout!(@name $f $($cname)?), offset_of!($ty, $f))),*],
        }
    };
    (@name $f:ident) => { stringify!($f) };
    (@name $f:ident $c:literal) => { $c };
}

/// The layouts of every mirrored struct, for comparison with BTF.
pub fn layouts() -> Vec<StructLayout> {
    vec![
        layout!(Lock, "scx_arena_lock", [val]),
        layout!(BuddyNode, "scx_arena_buddy_node", [next, prev]),
        layout!(
            Buddy,
            "scx_arena_buddy",
            [
                lock,
                free_head,
                nr_free,
                next_chunk,
                nr_chunks,
                pages_used,
                pages_used_peak,
                nr_failed,
                map
            ]
        ),
        layout!(
            SlabHdr,
            "scx_arena_slab_hdr",
            [
                magic,
                freelist,
                next,
                prev,
                cls,
                obj_size,
                nr_objs,
                nr_free,
                mark,
                on_partial,
                pad = "__pad"
            ]
        ),
        layout!(
            SlabClass,
            "scx_arena_slab_class",
            [
                lock,
                partial,
                nr_slabs,
                nr_slabs_peak,
                nr_failed,
                nr_alloc_direct,
                nr_free_direct
            ]
        ),
        layout!(SlabStack, "scx_arena_slab_stack", [busy, count, objs]),
        layout!(SlabPcpu, "scx_arena_slab_pcpu", [stack, nr_alloc, nr_free]),
        layout!(Slab, "scx_arena_slab", [cls, pcpu]),
        layout!(
            Bump,
            "scx_arena_bump",
            [lock, cur, off, nr_blocks, bytes, nr_failed]
        ),
        layout!(
            BugReport,
            "scx_arena_bug_report",
            [kind, line, addr, obj, size, file]
        ),
        layout!(
            Check,
            "scx_arena_check",
            [
                enabled,
                pad = "__pad",
                nr_reports,
                reports,
                shadow,
                quarantine,
                q_head,
                q_bytes
            ]
        ),
        layout!(
            Root,
            "scx_arena_root",
            [magic, version, page_size, base, nr_pages, buddy, slab, bump, check]
        ),
    ]
}

/// Why the allocator could not be viewed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllocError {
    /// `scx_arena_alloc_root` could not be read.
    #[error("cannot read {ROOT_GLOBAL}: {0}")]
    Global(#[from] GlobalError),
    /// The arena could not be read.
    #[error(transparent)]
    Arena(#[from] ArenaError),
    /// No allocation has happened yet, so there is no root.
    #[error("the allocator has no root yet ({ROOT_GLOBAL} is 0): nothing was allocated")]
    NoRoot,
    /// Leak reports need the object header only checked mode writes.
    #[error("the object was not built in checked mode (SCX_ARENA_CHECKED): no leak tracking")]
    NotChecked,
}

/// One size class's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// Object size, 16 << class.
    pub obj_size: u64,
    /// Objects in use: Σ over CPUs of allocations − frees through the
    /// caches, plus the direct ones. Signed: a snapshot taken while BPF runs
    /// may be off, and corrupt counters show as nonsense rather than wrap.
    pub objs_in_use: i64,
    /// `objs_in_use` × `obj_size`.
    pub bytes_in_use: i64,
    /// Slabs of the class.
    pub slabs: u64,
    /// High-water mark of `slabs`.
    pub slabs_peak: u64,
    /// Allocations that got no memory.
    pub failed: u64,
    /// Allocations that bypassed the CPU caches.
    pub alloc_direct: u64,
    /// Frees that bypassed the CPU caches.
    pub free_direct: u64,
}

/// Buddy allocator statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuddyStats {
    /// Pages in allocated blocks (slabs, per-CPU pages and bump blocks
    /// included).
    pub pages_used: u64,
    /// High-water mark of `pages_used`.
    pub pages_used_peak: u64,
    /// Allocations that found no memory.
    pub failed: u64,
    /// Chunks taken from the kernel.
    pub chunks: u64,
    /// Blocks on the free list of each order.
    pub free_blocks: [u64; NR_ORDERS],
}

/// Bump allocator statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BumpStats {
    /// Bytes handed out.
    pub bytes: u64,
    /// Blocks taken from the buddy allocator.
    pub blocks: u64,
    /// Allocations that failed.
    pub failed: u64,
}

/// The allocator's counters, read without walking its structures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Per slab size class.
    pub classes: [ClassStats; NR_CLASSES],
    /// The buddy allocator.
    pub buddy: BuddyStats,
    /// The bump allocator.
    pub bump: BumpStats,
    /// CPUs with a cache page.
    pub cpus: u64,
}

/// What a successful `check()` walked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Chunks owned by the buddy allocator.
    pub chunks: u64,
    /// Free blocks per order.
    pub free_blocks: [u64; NR_ORDERS],
    /// Pages in allocated blocks.
    pub pages_used: u64,
    /// Allocated blocks per order that are neither slabs nor CPU cache
    /// pages: what callers of the buddy allocator hold, bump blocks
    /// (order 7) included.
    pub blocks_in_use: [u64; NR_ORDERS],
    /// Slabs per class.
    pub slabs: [u64; NR_CLASSES],
    /// Objects in use per class, from the walk: handed out below the
    /// slabs' marks, minus those on freelists and in CPU caches.
    pub objs_in_use: [u64; NR_CLASSES],
    /// Objects in CPU caches per class.
    pub objs_cached: [u64; NR_CLASSES],
    /// CPUs with a cache page.
    pub cpus: u64,
}

/// Which part of the allocator a violation concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// The root page.
    Root,
    /// The out-of-band page map: state bytes and block tiling.
    PageMap,
    /// The buddy free lists.
    FreeList,
    /// Buddy counters (chunks, pages used).
    BuddyAccounting,
    /// A slab header.
    SlabHeader,
    /// A slab's freelist.
    SlabFreelist,
    /// A slab's free count or partial-list membership.
    SlabAccounting,
    /// A class partial list.
    PartialList,
    /// A per-CPU cache.
    CpuCache,
    /// In-use counters against the walk.
    InUse,
    /// Metadata that points outside the arena or could not be read.
    Unreadable,
    /// More violations than are listed.
    Truncated,
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ViolationKind::Root => "root",
            ViolationKind::PageMap => "page map",
            ViolationKind::FreeList => "buddy free list",
            ViolationKind::BuddyAccounting => "buddy accounting",
            ViolationKind::SlabHeader => "slab header",
            ViolationKind::SlabFreelist => "slab freelist",
            ViolationKind::SlabAccounting => "slab accounting",
            ViolationKind::PartialList => "slab partial list",
            ViolationKind::CpuCache => "cpu cache",
            ViolationKind::InUse => "in-use count",
            ViolationKind::Unreadable => "unreadable metadata",
            ViolationKind::Truncated => "truncated",
        };
        f.write_str(s)
    }
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where.
    pub kind: ViolationKind,
    /// The arena address concerned (a block, slab, object or list node), or
    /// 0 when none applies.
    pub addr: u64,
    /// What is wrong, with the values seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:#x}: {}", self.kind, self.addr, self.detail)
    }
}

/// The allocator of one loaded object, read through its arena mmap.
#[derive(Debug, Clone, Copy)]
pub struct AllocView<'obj> {
    view: ArenaView<'obj>,
    root: u64,
}

/// A state byte decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    used: bool,
    slab: bool,
    order: u32,
}

fn decode_state(s: u8) -> Option<Head> {
    let order = u32::from(s & PG_ORDER);
    let free = s & PG_FREE != 0;
    let used = s & PG_USED != 0;
    let slab = s & PG_SLAB != 0;
    let stray = s & !(PG_FREE | PG_USED | PG_SLAB | PG_ORDER) != 0;
    if stray || free == used || (slab && !used) || order > MAX_ORDER {
        return None;
    }
    Some(Head { used, slab, order })
}

/// First object's offset in a slab of `size`-byte objects.
fn first_obj(size: u64) -> u64 {
    size.max(size_of::<SlabHdr>() as u64)
}

/// What the walk learned about one slab with a valid header.
struct SlabInfo {
    addr: u64,
    cls: usize,
    size: u64,
    first: u64,
    mark: u64,
    hdr: SlabHdr,
    /// Per object below the mark: on the freelist.
    on_freelist: Vec<bool>,
    freelist_len: u64,
    cached: u64,
}

impl SlabInfo {
    /// Index of the object at slab offset `rel`, if it is a handed-out
    /// object boundary.
    fn index(&self, rel: u64) -> Option<usize> {
        (rel >= self.first && rel < self.mark && (rel - self.first).is_multiple_of(self.size))
            .then(|| ((rel - self.first) / self.size) as usize)
    }
}

/// Collects violations, keeping the first `MAX_VIOLATIONS`.
#[derive(Default)]
struct Findings {
    list: Vec<Violation>,
    dropped: usize,
}

impl Findings {
    fn add(&mut self, kind: ViolationKind, addr: u64, detail: String) {
        if self.list.len() < MAX_VIOLATIONS {
            self.list.push(Violation { kind, addr, detail });
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<Violation> {
        if self.dropped > 0 {
            let n = self.dropped;
            self.list.push(Violation {
                kind: ViolationKind::Truncated,
                addr: 0,
                detail: format!("{n} more violations not listed"),
            });
        }
        self.list
    }
}

impl<'obj> AllocView<'obj> {
    /// The allocator of a loaded object: its root from the `.bss` variable
    /// `scx_arena_alloc_root`, read through the object's arena.
    pub fn of_object(obj: &'obj Object) -> Result<Self, AllocError> {
        let view = ArenaView::of_object(obj)?;
        let root: u64 = read_global(obj, ROOT_GLOBAL)?;
        Self::new(view, root)
    }

    /// The allocator whose root page is at `root` in `view`.
    pub fn new(view: ArenaView<'obj>, root: u64) -> Result<Self, AllocError> {
        if root == 0 {
            return Err(AllocError::NoRoot);
        }
        view.check(root, size_of::<Root>(), 8)?;
        Ok(AllocView { view, root })
    }

    /// The arena this allocator lives in.
    pub fn arena(&self) -> ArenaView<'obj> {
        self.view
    }

    /// Address of the root page.
    pub fn root_addr(&self) -> u64 {
        self.root
    }

    /// A copy of the root.
    pub fn root(&self) -> Result<Root, AllocError> {
        Ok(self.view.read::<Root>(self.root)?)
    }

    /// The per-CPU cache pages, as (CPU, address) pairs.
    fn pcpu_pages(&self, root: &Root) -> Result<Vec<(usize, u64)>, AllocError> {
        if root.slab.pcpu == 0 {
            return Ok(Vec::new());
        }
        let table: [u64; SLAB_MAX_CPUS] = self.view.read(root.slab.pcpu)?;
        Ok(table
            .iter()
            .enumerate()
            .filter(|(_, &a)| a != 0)
            .map(|(cpu, &a)| (cpu, a))
            .collect())
    }

    /// The allocator's counters.
    pub fn stats(&self) -> Result<AllocStats, AllocError> {
        let root = self.root()?;
        let pcpus = self.pcpu_pages(&root)?;
        let mut net = [0u64; NR_CLASSES];
        for &(_, addr) in &pcpus {
            let pc: SlabPcpu = self.view.read(addr)?;
            for (c, n) in net.iter_mut().enumerate() {
                *n = n.wrapping_add(pc.nr_alloc[c]).wrapping_sub(pc.nr_free[c]);
            }
        }
        let mut stats = AllocStats {
            cpus: pcpus.len() as u64,
            ..Default::default()
        };
        for (c, cs) in stats.classes.iter_mut().enumerate() {
            let k = &root.slab.cls[c];
            let objs = net[c]
                .wrapping_add(k.nr_alloc_direct)
                .wrapping_sub(k.nr_free_direct) as i64;
            let obj_size = 16u64 << c;
            *cs = ClassStats {
                obj_size,
                objs_in_use: objs,
                bytes_in_use: objs.wrapping_mul(obj_size as i64),
                slabs: k.nr_slabs,
                slabs_peak: k.nr_slabs_peak,
                failed: k.nr_failed,
                alloc_direct: k.nr_alloc_direct,
                free_direct: k.nr_free_direct,
            };
        }
        let b = &root.buddy;
        stats.buddy = BuddyStats {
            pages_used: b.pages_used,
            pages_used_peak: b.pages_used_peak,
            failed: b.nr_failed,
            chunks: b.nr_chunks,
            free_blocks: b.nr_free,
        };
        stats.bump = BumpStats {
            bytes: root.bump.bytes,
            blocks: root.bump.nr_blocks,
            failed: root.bump.nr_failed,
        };
        Ok(stats)
    }

    /// Walks all of the allocator's metadata and verifies its invariants.
    /// Returns what it walked, or every violation found (the first 256,
    /// then a count). Meant for an allocator at rest.
    pub fn check(&self) -> Result<CheckReport, Vec<Violation>> {
        let mut f = Findings::default();
        let report = self.walk(&mut f);
        let list = f.finish();
        if list.is_empty() {
            Ok(report)
        } else {
            Err(list)
        }
    }

    fn walk(&self, f: &mut Findings) -> CheckReport {
        use ViolationKind as K;
        let mut report = CheckReport::default();
        let root: Root = match self.view.read(self.root) {
            Ok(r) => r,
            Err(e) => {
                f.add(K::Unreadable, self.root, format!("root: {e}"));
                return report;
            }
        };
        let base = self.view.base();
        if root.magic != ROOT_MAGIC {
            f.add(
                K::Root,
                self.root,
                format!("magic {:#x}, expected {ROOT_MAGIC:#x}", root.magic),
            );
        }
        if root.version != ROOT_VERSION {
            f.add(
                K::Root,
                self.root,
                format!("version {}, expected {ROOT_VERSION}", root.version),
            );
        }
        if u64::from(root.page_size) != PAGE_SIZE {
            f.add(
                K::Root,
                self.root,
                format!("page size {}, expected {PAGE_SIZE}", root.page_size),
            );
        }
        if root.base != base {
            f.add(
                K::Root,
                self.root,
                format!("base {:#x} is not the arena start {base:#x}", root.base),
            );
        }
        if root.nr_pages.saturating_mul(PAGE_SIZE) != self.view.len() {
            f.add(
                K::Root,
                self.root,
                format!(
                    "{} pages, but the arena spans {} bytes",
                    root.nr_pages,
                    self.view.len()
                ),
            );
        }

        // Page map: every owned chunk tiled exactly by blocks.
        let heads = self.walk_page_map(&root, f, &mut report);
        self.walk_free_lists(&root, &heads, f, &mut report);

        // Slabs: headers and freelists.
        let mut slabs: HashMap<u64, SlabInfo> = HashMap::new();
        for (&addr, head) in &heads {
            if head.used && head.slab {
                if let Some(info) = self.walk_slab(addr, *head, f) {
                    slabs.insert(addr, info);
                }
            }
        }
        self.walk_partial_lists(&root, &mut slabs, f, &mut report);

        // CPU caches, and the in-use counters against the walk.
        let pcpu_pages = self.walk_cpu_caches(&root, &heads, &mut slabs, f, &mut report);
        for (&addr, head) in &heads {
            if head.used && !head.slab && !pcpu_pages.contains(&addr) {
                report.blocks_in_use[head.order as usize] += 1;
            }
        }
        for info in slabs.values() {
            let below = (info.mark - info.first) / info.size;
            let live = below
                .checked_sub(info.freelist_len + info.cached)
                .unwrap_or_else(|| {
                    f.add(
                        K::CpuCache,
                        info.addr,
                        format!(
                            "class {} slab: {} objects handed out, but {} on its freelist and {} cached",
                            info.cls, below, info.freelist_len, info.cached
                        ),
                    );
                    0
                });
            report.objs_in_use[info.cls] += live;
        }
        self.compare_counters(&root, &pcpu_pages, f, &report);
        report
    }

    /// Checks the page map and returns every block head by address.
    fn walk_page_map(
        &self,
        root: &Root,
        f: &mut Findings,
        report: &mut CheckReport,
    ) -> HashMap<u64, Head> {
        use ViolationKind as K;
        let base = self.view.base();
        let b = &root.buddy;
        let limit = (b.next_chunk as usize)
            .min((root.nr_pages / CHUNK_PAGES as u64) as usize)
            .min(MAX_CHUNKS);
        let mut heads = HashMap::new();
        let mut owned = 0u64;
        let mut pages_used = 0u64;
        for (m, &map) in b.map.iter().enumerate() {
            if map == 0 {
                continue;
            }
            let page: [u8; PAGE_SIZE as usize] = match self.view.read(map) {
                Ok(p) if (map - base).is_multiple_of(PAGE_SIZE) => p,
                Ok(_) => {
                    f.add(K::PageMap, map, format!("map page {m} is not page-aligned"));
                    continue;
                }
                Err(e) => {
                    f.add(K::Unreadable, map, format!("map page {m}: {e}"));
                    continue;
                }
            };
            for c in 0..CHUNKS_PER_MAP {
                let idx = m * CHUNKS_PER_MAP + c;
                let chunk = base + idx as u64 * CHUNK_BYTES;
                let st = &page[c * CHUNK_PAGES..(c + 1) * CHUNK_PAGES];
                if st[0] == 0 || idx >= limit {
                    if let Some(p) = st.iter().position(|&s| s != 0) {
                        f.add(
                            K::PageMap,
                            chunk + p as u64 * PAGE_SIZE,
                            format!(
                                "state {:#x} in chunk {idx}, which the allocator does not own \
                                 (first page state {:#x}, {limit} chunks tried)",
                                st[p], st[0]
                            ),
                        );
                    }
                    continue;
                }
                owned += 1;
                let mut pos = 0usize;
                while pos < CHUNK_PAGES {
                    let addr = chunk + pos as u64 * PAGE_SIZE;
                    let s = st[pos];
                    let Some(head) = decode_state(s) else {
                        let what = if s == 0 {
                            "covered by no block".to_string()
                        } else {
                            format!("invalid state byte {s:#x}")
                        };
                        f.add(
                            K::PageMap,
                            addr,
                            format!("page {pos} of chunk {idx}: {what}"),
                        );
                        pos += 1;
                        continue;
                    };
                    let pages = 1usize << head.order;
                    if !pos.is_multiple_of(pages) || pos + pages > CHUNK_PAGES {
                        f.add(
                            K::PageMap,
                            addr,
                            format!(
                                "block head {s:#x} (order {}) at page {pos} of chunk {idx} \
                                 is not aligned to its order",
                                head.order
                            ),
                        );
                        pos += 1;
                        continue;
                    }
                    for (i, &inner) in st[pos + 1..pos + pages].iter().enumerate() {
                        if inner != 0 {
                            f.add(
                                K::PageMap,
                                addr + (i as u64 + 1) * PAGE_SIZE,
                                format!(
                                    "state {inner:#x} inside the order-{} block at {addr:#x} \
                                     (overlapping blocks)",
                                    head.order
                                ),
                            );
                        }
                    }
                    if head.used {
                        pages_used += pages as u64;
                    }
                    heads.insert(addr, head);
                    pos += pages;
                }
            }
        }
        if owned != b.nr_chunks {
            f.add(
                K::BuddyAccounting,
                self.root,
                format!(
                    "nr_chunks {}, but {owned} chunks are in the page map",
                    b.nr_chunks
                ),
            );
        }
        if pages_used != b.pages_used {
            f.add(
                K::BuddyAccounting,
                self.root,
                format!(
                    "pages_used {}, but allocated blocks span {pages_used} pages",
                    b.pages_used
                ),
            );
        }
        if b.pages_used > b.pages_used_peak {
            f.add(
                K::BuddyAccounting,
                self.root,
                format!(
                    "pages_used {} above its peak {}",
                    b.pages_used, b.pages_used_peak
                ),
            );
        }
        // Free buddies of one order are always merged.
        for (&addr, head) in &heads {
            if head.used || head.order >= MAX_ORDER {
                continue;
            }
            let bud = base + ((addr - base) ^ (PAGE_SIZE << head.order));
            if bud > addr && heads.get(&bud) == Some(head) {
                f.add(
                    K::PageMap,
                    addr,
                    format!(
                        "free order-{} buddies {addr:#x} and {bud:#x} are not merged",
                        head.order
                    ),
                );
            }
        }
        report.chunks = owned;
        report.pages_used = pages_used;
        heads
    }

    fn walk_free_lists(
        &self,
        root: &Root,
        heads: &HashMap<u64, Head>,
        f: &mut Findings,
        report: &mut CheckReport,
    ) {
        use ViolationKind as K;
        let b = &root.buddy;
        let mut on_list = HashSet::new();
        for o in 0..NR_ORDERS {
            let free_of_order = heads
                .values()
                .filter(|h| !h.used && h.order as usize == o)
                .count() as u64;
            report.free_blocks[o] = free_of_order;
            let (mut cur, mut prev, mut n) = (b.free_head[o], 0u64, 0u64);
            while cur != 0 {
                if n > free_of_order {
                    f.add(
                        K::FreeList,
                        cur,
                        format!(
                            "order-{o} list longer than the {free_of_order} free blocks (a cycle?)"
                        ),
                    );
                    break;
                }
                let head = heads.get(&cur);
                if head.is_none_or(|h| h.used || h.order as usize != o) {
                    f.add(
                        K::FreeList,
                        cur,
                        format!(
                            "order-{o} list node (after {prev:#x}) is not a free order-{o} block head (state {})",
                            head.map_or("none".to_string(), |h| format!("{h:?}"))
                        ),
                    );
                    break;
                }
                if !on_list.insert(cur) {
                    f.add(
                        K::FreeList,
                        cur,
                        format!("order-{o} block is on a free list twice"),
                    );
                    break;
                }
                let node: BuddyNode = match self.view.read(cur) {
                    Ok(n) => n,
                    Err(e) => {
                        f.add(K::Unreadable, cur, format!("free list node: {e}"));
                        break;
                    }
                };
                if node.prev != prev {
                    f.add(
                        K::FreeList,
                        cur,
                        format!("order-{o} node's prev {:#x}, expected {prev:#x}", node.prev),
                    );
                }
                prev = cur;
                cur = node.next;
                n += 1;
            }
            if n != b.nr_free[o] {
                f.add(
                    K::FreeList,
                    self.root,
                    format!("nr_free[{o}] {}, but the list holds {n}", b.nr_free[o]),
                );
            }
        }
        for (&addr, head) in heads {
            if !head.used && !on_list.contains(&addr) {
                f.add(
                    K::FreeList,
                    addr,
                    format!("free order-{} block is on no free list", head.order),
                );
            }
        }
    }

    /// Checks one slab's header and freelist.
    fn walk_slab(&self, s: u64, head: Head, f: &mut Findings) -> Option<SlabInfo> {
        use ViolationKind as K;
        if head.order != SLAB_ORDER {
            f.add(
                K::PageMap,
                s,
                format!("slab block of order {}, expected {SLAB_ORDER}", head.order),
            );
            return None;
        }
        let hdr: SlabHdr = match self.view.read(s) {
            Ok(h) => h,
            Err(e) => {
                f.add(K::Unreadable, s, format!("slab header: {e}"));
                return None;
            }
        };
        let cls = hdr.cls as usize;
        if cls >= NR_CLASSES {
            f.add(K::SlabHeader, s, format!("class {} out of range", hdr.cls));
            return None;
        }
        let mut bad = Vec::new();
        if hdr.magic != SLAB_MAGIC | cls as u64 {
            bad.push(format!(
                "magic {:#x}, expected {:#x}",
                hdr.magic,
                SLAB_MAGIC | cls as u64
            ));
        }
        let size = 16u64 << cls;
        let first = first_obj(size);
        let nr_objs = (SLAB_BYTES - first) / size;
        let mark = u64::from(hdr.mark);
        if u64::from(hdr.obj_size) != size {
            bad.push(format!("obj_size {}, expected {size}", hdr.obj_size));
        }
        if u64::from(hdr.nr_objs) != nr_objs {
            bad.push(format!("nr_objs {}, expected {nr_objs}", hdr.nr_objs));
        }
        if mark < first || mark > first + nr_objs * size || !(mark - first).is_multiple_of(size) {
            bad.push(format!(
                "mark {mark} is not an object boundary in [{first}, {}]",
                first + nr_objs * size
            ));
        }
        if u64::from(hdr.nr_free) > nr_objs {
            bad.push(format!("nr_free {} above nr_objs {nr_objs}", hdr.nr_free));
        }
        if hdr.on_partial > 1 {
            bad.push(format!("on_partial {}", hdr.on_partial));
        }
        if !bad.is_empty() {
            f.add(
                K::SlabHeader,
                s,
                format!("class {cls} slab: {}", bad.join(", ")),
            );
            return None;
        }
        let below = ((mark - first) / size) as usize;
        let mut info = SlabInfo {
            addr: s,
            cls,
            size,
            first,
            mark,
            hdr,
            on_freelist: vec![false; below],
            freelist_len: 0,
            cached: 0,
        };
        let mut cur = hdr.freelist;
        while cur != 0 {
            if info.freelist_len > below as u64 {
                f.add(
                    K::SlabFreelist,
                    s,
                    "freelist longer than the objects handed out (a cycle?)".into(),
                );
                break;
            }
            let idx = cur.checked_sub(s).and_then(|rel| info.index(rel));
            let Some(idx) = idx else {
                f.add(
                    K::SlabFreelist,
                    cur,
                    format!("freelist entry of slab {s:#x} is not an object below its mark {mark}"),
                );
                break;
            };
            if info.on_freelist[idx] {
                f.add(
                    K::SlabFreelist,
                    cur,
                    format!("object on the freelist of slab {s:#x} twice"),
                );
                break;
            }
            info.on_freelist[idx] = true;
            info.freelist_len += 1;
            cur = match self.view.read::<u64>(cur) {
                Ok(n) => n,
                Err(e) => {
                    f.add(K::Unreadable, cur, format!("slab freelist entry: {e}"));
                    break;
                }
            };
        }
        let never_used = nr_objs - below as u64;
        if u64::from(hdr.nr_free) != info.freelist_len + never_used {
            f.add(
                K::SlabAccounting,
                s,
                format!(
                    "class {cls} slab: nr_free {}, but {} on the freelist + {never_used} above the mark",
                    hdr.nr_free, info.freelist_len
                ),
            );
        }
        if (hdr.on_partial == 1) != (hdr.nr_free > 0) {
            f.add(
                K::SlabAccounting,
                s,
                format!(
                    "class {cls} slab: on_partial {} with nr_free {}",
                    hdr.on_partial, hdr.nr_free
                ),
            );
        }
        Some(info)
    }

    fn walk_partial_lists(
        &self,
        root: &Root,
        slabs: &mut HashMap<u64, SlabInfo>,
        f: &mut Findings,
        report: &mut CheckReport,
    ) {
        use ViolationKind as K;
        let mut visited = HashSet::new();
        for (c, k) in root.slab.cls.iter().enumerate() {
            let of_class = slabs.values().filter(|s| s.cls == c).count() as u64;
            report.slabs[c] = of_class;
            if k.nr_slabs != of_class {
                f.add(
                    K::SlabAccounting,
                    self.root,
                    format!(
                        "class {c}: nr_slabs {}, but {of_class} slabs found",
                        k.nr_slabs
                    ),
                );
            }
            if k.nr_slabs > k.nr_slabs_peak {
                f.add(
                    K::SlabAccounting,
                    self.root,
                    format!(
                        "class {c}: nr_slabs {} above its peak {}",
                        k.nr_slabs, k.nr_slabs_peak
                    ),
                );
            }
            let (mut cur, mut prev, mut n) = (k.partial, 0u64, 0u64);
            while cur != 0 {
                if n > of_class {
                    f.add(
                        K::PartialList,
                        cur,
                        format!("class {c} list longer than its {of_class} slabs (a cycle?)"),
                    );
                    break;
                }
                let Some(info) = slabs.get(&cur).filter(|s| s.cls == c) else {
                    f.add(
                        K::PartialList,
                        cur,
                        format!("class {c} partial list node (after {prev:#x}) is not a valid class-{c} slab"),
                    );
                    break;
                };
                if !visited.insert(cur) {
                    f.add(
                        K::PartialList,
                        cur,
                        format!("class {c} slab on the partial list twice"),
                    );
                    break;
                }
                if info.hdr.on_partial != 1 {
                    f.add(
                        K::PartialList,
                        cur,
                        format!("class {c} slab on the partial list has on_partial 0"),
                    );
                }
                if info.hdr.prev != prev {
                    f.add(
                        K::PartialList,
                        cur,
                        format!(
                            "class {c} slab's prev {:#x}, expected {prev:#x}",
                            info.hdr.prev
                        ),
                    );
                }
                prev = cur;
                cur = info.hdr.next;
                n += 1;
            }
        }
        for (&s, info) in slabs.iter() {
            if info.hdr.on_partial == 1 && !visited.contains(&s) {
                f.add(
                    K::PartialList,
                    s,
                    format!(
                        "class {} slab has on_partial set but is not on the list",
                        info.cls
                    ),
                );
            }
        }
    }

    /// Checks every CPU's caches; returns the cache pages.
    fn walk_cpu_caches(
        &self,
        root: &Root,
        heads: &HashMap<u64, Head>,
        slabs: &mut HashMap<u64, SlabInfo>,
        f: &mut Findings,
        report: &mut CheckReport,
    ) -> HashSet<u64> {
        use ViolationKind as K;
        let base = self.view.base();
        let mut pages = HashSet::new();
        let table = match self.pcpu_pages(root) {
            Ok(t) => t,
            Err(e) => {
                f.add(K::Unreadable, root.slab.pcpu, format!("per-CPU table: {e}"));
                return pages;
            }
        };
        let mut cached = HashSet::new();
        for (cpu, addr) in table {
            let h = heads.get(&addr);
            if h != Some(&Head {
                used: true,
                slab: false,
                order: 0,
            }) {
                f.add(
                    K::CpuCache,
                    addr,
                    format!("cpu {cpu}'s cache page is not an allocated order-0 block ({h:?})"),
                );
                continue;
            }
            pages.insert(addr);
            let pc: SlabPcpu = match self.view.read(addr) {
                Ok(p) => p,
                Err(e) => {
                    f.add(K::Unreadable, addr, format!("cpu {cpu} cache: {e}"));
                    continue;
                }
            };
            for (c, st) in pc.stack.iter().enumerate() {
                if st.busy != 0 {
                    f.add(
                        K::CpuCache,
                        addr,
                        format!(
                            "cpu {cpu} class {c}: stack claimed at rest (busy {:#x})",
                            st.busy
                        ),
                    );
                }
                if st.count as usize > SLAB_CACHE {
                    f.add(
                        K::CpuCache,
                        addr,
                        format!("cpu {cpu} class {c}: count {} above {SLAB_CACHE}", st.count),
                    );
                    continue;
                }
                for &obj in &st.objs[..st.count as usize] {
                    let s = obj
                        .checked_sub(base)
                        .map(|rel| base + (rel & !(SLAB_BYTES - 1)));
                    let info = s.and_then(|s| slabs.get_mut(&s).map(|i| (s, i)));
                    let Some((s, info)) = info else {
                        f.add(
                            K::CpuCache,
                            obj,
                            format!("cpu {cpu} class {c}: cached object is in no valid slab"),
                        );
                        continue;
                    };
                    if info.cls != c {
                        f.add(
                            K::CpuCache,
                            obj,
                            format!(
                                "cpu {cpu} class {c}: cached object is in a class-{} slab",
                                info.cls
                            ),
                        );
                        continue;
                    }
                    let Some(idx) = info.index(obj - s) else {
                        f.add(K::CpuCache, obj, format!("cpu {cpu} class {c}: cached object is not an object below the mark of slab {s:#x}"));
                        continue;
                    };
                    if info.on_freelist[idx] {
                        f.add(
                            K::CpuCache,
                            obj,
                            format!(
                                "cpu {cpu} class {c}: cached object is also on its slab's freelist"
                            ),
                        );
                        continue;
                    }
                    if !cached.insert(obj) {
                        f.add(
                            K::CpuCache,
                            obj,
                            format!("cpu {cpu} class {c}: object cached twice"),
                        );
                        continue;
                    }
                    info.cached += 1;
                    report.objs_cached[c] += 1;
                }
            }
        }
        report.cpus = pages.len() as u64;
        pages
    }

    fn compare_counters(
        &self,
        root: &Root,
        pcpu_pages: &HashSet<u64>,
        f: &mut Findings,
        report: &CheckReport,
    ) {
        let mut net = [0u64; NR_CLASSES];
        for &addr in pcpu_pages {
            if let Ok(pc) = self.view.read::<SlabPcpu>(addr) {
                for (c, n) in net.iter_mut().enumerate() {
                    *n = n.wrapping_add(pc.nr_alloc[c]).wrapping_sub(pc.nr_free[c]);
                }
            }
        }
        for (c, k) in root.slab.cls.iter().enumerate() {
            let counted = net[c]
                .wrapping_add(k.nr_alloc_direct)
                .wrapping_sub(k.nr_free_direct);
            if counted != report.objs_in_use[c] {
                f.add(
                    ViolationKind::InUse,
                    self.root,
                    format!(
                        "class {c}: counters say {} objects in use, the walk finds {}",
                        counted as i64, report.objs_in_use[c]
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_state_bytes() {
        assert_eq!(
            decode_state(PG_FREE | 3),
            Some(Head {
                used: false,
                slab: false,
                order: 3
            })
        );
        assert_eq!(
            decode_state(PG_USED | PG_SLAB | SLAB_ORDER as u8),
            Some(Head {
                used: true,
                slab: true,
                order: SLAB_ORDER
            })
        );
        // Interior page, both flags, slab without used, order too high,
        // stray bit.
        for bad in [
            0,
            PG_FREE | PG_USED,
            PG_FREE | PG_SLAB,
            PG_USED | 8,
            PG_USED | 0x10,
        ] {
            assert_eq!(decode_state(bad), None, "{bad:#x}");
        }
    }

    #[test]
    fn layouts_cover_the_root() {
        let l = layouts();
        let root = l
            .iter()
            .find(|l| l.c_name == "scx_arena_root")
            .expect("root");
        assert_eq!(root.size, size_of::<Root>());
        assert!(
            size_of::<Root>() <= PAGE_SIZE as usize,
            "the root fits a page"
        );
        assert_eq!(size_of::<SlabHdr>(), 64);
        assert!(size_of::<SlabPcpu>() <= PAGE_SIZE as usize);
    }
}

/// `SCX_ARENA_CHECK_MAGIC`: a checked-mode object header.
pub const CHECK_MAGIC: u32 = 0x5c7a_c4ec;
/// `SCX_ARENA_OBJ_LIVE`: allocated and not freed.
pub const OBJ_LIVE: u32 = 1;
/// `SCX_ARENA_CHECK_HDR`: bytes of the header before each checked object.
pub const CHECK_HDR: u64 = 32;

/// `struct scx_arena_obj_hdr`: the checked-mode header before an object.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct ObjHdr {
    /// `CHECK_MAGIC`.
    pub magic: u32,
    /// `OBJ_LIVE` or quarantined.
    pub state: u32,
    /// Bytes the caller asked for.
    pub size: u64,
    /// Allocation site line.
    pub line: u32,
    /// Reserved.
    pub pad: u32,
    /// Allocation site file, first 8 bytes.
    pub file: [u8; 8],
}
// SAFETY: integers and a byte array; any bits are valid.
unsafe impl ArenaPod for ObjHdr {}

/// Kinds of checked-mode reports (`enum scx_arena_bug`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BugKind {
    /// Access to an object's redzone.
    Overflow,
    /// Access to a freed object.
    UseAfterFree,
    /// Free of an already freed object.
    DoubleFree,
    /// Free of something never allocated.
    InvalidFree,
    /// The poison of a freed object was changed.
    WriteAfterFree,
    /// Access to allocator memory never handed out.
    Wild,
    /// Allocated and never freed (found by [`AllocView::leaks`]).
    Leak,
    /// A number this version does not know.
    Unknown(u32),
}

impl BugKind {
    fn from_raw(k: u32) -> Self {
        match k {
            1 => BugKind::Overflow,
            2 => BugKind::UseAfterFree,
            3 => BugKind::DoubleFree,
            4 => BugKind::InvalidFree,
            5 => BugKind::WriteAfterFree,
            6 => BugKind::Wild,
            7 => BugKind::Leak,
            other => BugKind::Unknown(other),
        }
    }
}

/// One memory bug found in checked mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bug {
    /// What went wrong.
    pub kind: BugKind,
    /// The bad access or free (for a leak: the object).
    pub addr: u64,
    /// The object involved, 0 if none was found.
    pub obj: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Allocation site: file (first 8 bytes of its name) and line.
    pub site: String,
}

impl std::fmt::Display for Bug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} at {:#x}: object {:#x} of {} bytes allocated at {}",
            self.kind, self.addr, self.obj, self.size, self.site
        )
    }
}

fn site(file: [u8; 8], line: u32) -> String {
    let end = file.iter().position(|&b| b == 0).unwrap_or(file.len());
    format!("{}:{line}", String::from_utf8_lossy(&file[..end]))
}

impl AllocView<'_> {
    /// The bugs checked mode reported so far, oldest first (at most
    /// `CHECK_REPORTS` kept), and how many were reported in all.
    pub fn bugs(&self) -> Result<(Vec<Bug>, u64), AllocError> {
        let root = self.root()?;
        let kept = (root.check.nr_reports as usize).min(CHECK_REPORTS);
        let bugs = root.check.reports[..kept]
            .iter()
            .map(|r| Bug {
                kind: BugKind::from_raw(r.kind),
                addr: r.addr,
                obj: r.obj,
                size: r.size,
                site: site(r.file, r.line),
            })
            .collect();
        Ok((bugs, root.check.nr_reports))
    }

    /// The leak report: every checked-mode object still allocated (not
    /// freed, not in quarantine), with its size and allocation site. Call it
    /// at teardown, when whatever the program keeps has been freed.
    pub fn leaks(&self) -> Result<Vec<Bug>, AllocError> {
        let root = self.root()?;
        if root.check.enabled == 0 {
            return Err(AllocError::NotChecked);
        }
        let mut findings = Findings::default();
        let mut report = CheckReport::default();
        let heads = self.walk_page_map(&root, &mut findings, &mut report);
        let mut leaks = Vec::new();
        let mut look = |raw: u64| {
            if let Ok(h) = self.view.read::<ObjHdr>(raw) {
                if h.magic == CHECK_MAGIC && h.state == OBJ_LIVE {
                    leaks.push(Bug {
                        kind: BugKind::Leak,
                        addr: raw + CHECK_HDR,
                        obj: raw + CHECK_HDR,
                        size: h.size,
                        site: site(h.file, h.line),
                    });
                }
            }
        };
        let mut addrs: Vec<(&u64, &Head)> = heads.iter().filter(|(_, h)| h.used).collect();
        addrs.sort_by_key(|(a, _)| **a);
        for (&addr, head) in addrs {
            if !head.slab {
                look(addr);
                continue;
            }
            let Ok(hdr) = self.view.read::<SlabHdr>(addr) else {
                continue;
            };
            let size = u64::from(hdr.obj_size);
            if size == 0 || size > SLAB_MAX_SIZE {
                continue;
            }
            let first = first_obj(size);
            let mark = u64::from(hdr.mark).min(SLAB_BYTES);
            let mut off = first;
            while off + size <= mark {
                look(addr + off);
                off += size;
            }
        }
        leaks.sort_by_key(|b| b.addr);
        Ok(leaks)
    }
}
