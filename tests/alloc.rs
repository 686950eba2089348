//! The arena allocator from the host: its userspace view
//! (`scx_arena::alloc`) against the object's BTF, the allocator against a
//! Rust model of live blocks (proptest, driving `alloc_ops` in
//! bpf/tests/test_alloc_ops.bpf.c), concurrent churn from several threads
//! (`alloc_churn`), and proof that `AllocView::check()` sees corruption.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use libbpf_rs::btf::types::{MemberAttr, Struct};
use libbpf_rs::btf::HasSize;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::alloc::{
    layouts, AllocView, BugKind, CheckReport, ViolationKind, NR_CLASSES, NR_ORDERS, PAGE_SIZE,
    ROOT_GLOBAL, SLAB_BYTES, SLAB_MAX_SIZE,
};
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::globals::{find_global, read_global, GlobalError};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_alloc_ops.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_alloc_ops.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_alloc_ops.bpf.o")),
};

const OPS: &str = "alloc_ops";
const CHURN: &str = "alloc_churn";

/// Largest request the allocator serves: one 512 KiB chunk.
const MAX_ALLOC: u32 = 512 << 10;

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

/// Loads the driver program plus `extra`.
fn load_with(extra: &[&str]) -> LoadedObject {
    let mut progs = vec![OPS];
    progs.extend_from_slice(extra);
    load(&progs)
}

// ---------------------------------------------------------------------------
// alloc_ops: struct alloc_ops_args and struct alloc_op of
// bpf/tests/test_alloc_ops.h.

/// `ALLOC_OPS_MAX`.
const OPS_MAX: usize = 1024;

/// `enum alloc_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    Alloc = 1,
    Free = 2,
    Zalloc = 3,
}

/// `struct alloc_op`, as the test builds it.
#[derive(Debug, Clone, Copy)]
struct Op {
    op: OpKind,
    size: u32,
    addr: u64,
    arg: u64,
    ret: i64,
}

impl Op {
    fn new(op: OpKind, size: u32, addr: u64, arg: u64) -> Self {
        Op {
            op,
            size,
            addr,
            arg,
            ret: 0,
        }
    }
}

/// `struct alloc_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    size: u32,
    addr: u64,
    arg: u64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

/// Runs `ops` (at most `OPS_MAX`) in one alloc_ops run; returns them with
/// their results filled in. (The program publishes no structure of its own:
/// its context is the op-buffer protocol's first 16 bytes.)
fn run_ops(obj: &LoadedObject, ops: &[Op]) -> Vec<Op> {
    let raw: Vec<RawOp> = ops
        .iter()
        .map(|op| RawOp {
            op: op.op as u32,
            size: op.size,
            addr: op.addr,
            arg: op.arg,
            ret: 0,
        })
        .collect();
    let (done, _) = obj
        .run_ops(OPS, OPS_MAX, &raw)
        .unwrap_or_else(|e| panic!("{e}"));
    ops.iter()
        .zip(done)
        .map(|(op, r)| Op {
            addr: r.addr,
            ret: r.ret,
            ..*op
        })
        .collect()
}

/// Unwraps `check()`, printing every violation on failure.
fn checked(view: &AllocView<'_>) -> CheckReport {
    view.check().unwrap_or_else(|v| {
        let lines: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        panic!(
            "check() found {} violations:\n{}",
            v.len(),
            lines.join("\n")
        )
    })
}

// ---------------------------------------------------------------------------
// (a) The Rust mirrors against the BTF of the object.

#[test]
fn mirror_structs_match_btf() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[OPS]);
    let btf = obj
        .object()
        .btf()
        .expect("parse BTF")
        .expect("the object has BTF");
    for l in layouts() {
        // By kind, not by name: a forward declaration may come first.
        let st: Struct<'_> = btf
            .type_by_kind::<Struct<'_>>()
            .find(|s| s.name() == Some(OsStr::new(l.c_name)))
            .unwrap_or_else(|| {
                let names: Vec<String> = btf
                    .type_by_kind::<Struct<'_>>()
                    .filter_map(|s| s.name().map(|n| n.to_string_lossy().into_owned()))
                    .filter(|n| n.starts_with("scx_"))
                    .collect();
                panic!(
                    "struct {} not in the object's BTF (it has {names:?})",
                    l.c_name
                )
            });
        assert_eq!(st.size(), l.size, "sizeof(struct {})", l.c_name);
        let members: Vec<(String, usize)> = st
            .iter()
            .map(|m| {
                let name = m.name.map(|n| n.to_string_lossy().into_owned());
                let MemberAttr::Normal { offset } = m.attr else {
                    panic!("struct {}: bitfield {name:?} is not mirrored", l.c_name);
                };
                (name.unwrap_or_default(), offset as usize / 8)
            })
            .collect();
        let mirrored: Vec<(String, usize)> =
            l.fields.iter().map(|&(n, o)| (n.to_string(), o)).collect();
        assert_eq!(
            mirrored, members,
            "struct {}: (member, byte offset) of the Rust mirror vs BTF",
            l.c_name
        );
    }
}

#[test]
fn globals_are_read_by_name() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[OPS]);
    let o = obj.object();
    let var = find_global(o, ROOT_GLOBAL).expect("find the root global");
    assert_eq!((var.section.as_str(), var.size), (".bss", 8));
    assert_eq!(
        read_global::<u64>(o, ROOT_GLOBAL),
        Ok(0),
        "no root before any allocation"
    );
    assert!(matches!(
        AllocView::of_object(o),
        Err(scx_arena::alloc::AllocError::NoRoot)
    ));
    run_ops(&obj, &[Op::new(OpKind::Alloc, 8, 0, 0)]);
    let root: u64 = read_global(o, ROOT_GLOBAL).expect("read the root global");
    let view = obj.arena().expect("arena");
    assert!(root >= view.base() && root < view.base() + view.len());
    assert_eq!(
        read_global::<u32>(o, ROOT_GLOBAL),
        Err(GlobalError::Size {
            name: ROOT_GLOBAL.into(),
            actual: 8,
            expected: 4
        })
    );
    assert_eq!(
        read_global::<u64>(o, "no_such_global"),
        Err(GlobalError::NotFound("no_such_global".into()))
    );
    assert!(matches!(
        read_global::<u64>(o, "bad\0name"),
        Err(GlobalError::InvalidName(_))
    ));
}

// ---------------------------------------------------------------------------
// (b) The allocator against a model of live blocks.

/// One step of a generated sequence.
#[derive(Debug, Clone)]
enum Step {
    Alloc(u32),
    Zalloc(u32),
    /// Frees the live block this index picks (live before the batch).
    Free(Index),
}

/// Sizes biased toward small, with the edges and invalid sizes covered.
fn size() -> impl Strategy<Value = u32> {
    prop_oneof![
        55 => 1u32..=256,
        15 => 257u32..=SLAB_MAX_SIZE as u32,
        15 => (SLAB_MAX_SIZE as u32 + 1)..=65536,
        7 => 65537u32..=MAX_ALLOC,
        2 => Just(MAX_ALLOC),
        2 => Just(0u32),
        4 => (MAX_ALLOC + 1)..=600_000,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => size().prop_map(Step::Alloc),
        2 => size().prop_map(Step::Zalloc),
        4 => any::<Index>().prop_map(Step::Free),
    ]
}

/// The extent the allocator reserves for `size` bytes, and where it must be
/// aligned: the size class up to 2 KiB, else the buddy block (aligned to
/// its size, which is at least the 4 KiB alloc.h promises).
fn extent(size: u32) -> (u64, Slot) {
    let size = u64::from(size);
    if size <= SLAB_MAX_SIZE {
        let cls = (0..NR_CLASSES).find(|&c| size <= 16 << c).expect("a class");
        (16 << cls, Slot::Class(cls))
    } else {
        let order = (0..NR_ORDERS)
            .find(|&o| size <= PAGE_SIZE << o)
            .expect("an order");
        (PAGE_SIZE << order, Slot::Order(order))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Class(usize),
    Order(usize),
}

#[derive(Debug, Clone, Copy)]
struct Live {
    size: u32,
    end: u64,
    slot: Slot,
}

/// The model: live blocks by address.
#[derive(Default)]
struct Model {
    live: BTreeMap<u64, Live>,
}

impl Model {
    fn counts(&self) -> ([u64; NR_CLASSES], [u64; NR_ORDERS]) {
        let mut objs = [0; NR_CLASSES];
        let mut blocks = [0; NR_ORDERS];
        for l in self.live.values() {
            match l.slot {
                Slot::Class(c) => objs[c] += 1,
                Slot::Order(o) => blocks[o] += 1,
            }
        }
        (objs, blocks)
    }

    /// Adds a block the allocator returned, checking it against the model.
    fn insert(&mut self, view: &ArenaView<'_>, addr: u64, size: u32) -> Result<(), TestCaseError> {
        let (bytes, slot) = extent(size);
        let base = view.base();
        prop_assert!(
            addr >= base && addr + bytes <= base + view.len(),
            "block {addr:#x}+{bytes} outside the arena"
        );
        prop_assert_eq!(
            (addr - base) % bytes,
            0,
            "{}-byte request at offset {:#x} not aligned to {}",
            size,
            addr - base,
            bytes
        );
        let end = addr + bytes;
        if let Some((&a, l)) = self.live.range(..end).next_back() {
            prop_assert!(
                l.end <= addr,
                "new block {addr:#x}..{end:#x} ({size} B) overlaps live {a:#x}..{:#x} ({} B)",
                l.end,
                l.size
            );
        }
        self.live.insert(addr, Live { size, end, slot });
        Ok(())
    }
}

/// Runs one generated sequence on a fresh object, in batches.
fn run_case(steps: &[Step]) -> Result<(), TestCaseError> {
    let obj = load_with(&[]);
    let mut model = Model::default();
    let mut fill = 0x5a5a_0000_0000_0000u64;
    for batch in steps.chunks(OPS_MAX) {
        // Frees pick among blocks live before the batch, each at most once.
        let before: Vec<u64> = model.live.keys().copied().collect();
        let mut freed = HashSet::new();
        let mut ops = Vec::with_capacity(batch.len());
        for s in batch {
            match s {
                Step::Alloc(size) => {
                    fill += 1;
                    ops.push(Op::new(OpKind::Alloc, *size, 0, fill));
                }
                Step::Zalloc(size) => ops.push(Op::new(OpKind::Zalloc, *size, 0, 0)),
                Step::Free(ix) => {
                    if before.is_empty() {
                        continue;
                    }
                    let addr = before[ix.index(before.len())];
                    if freed.insert(addr) {
                        ops.push(Op::new(OpKind::Free, 0, addr, 0));
                    }
                }
            }
        }
        let done = run_ops(&obj, &ops);
        let view = obj.arena().expect("arena");
        let mut zeroed = Vec::new();
        for op in &done {
            match op.op {
                OpKind::Free => {
                    prop_assert_eq!(op.ret, 0, "free of {:#x}", op.addr);
                    prop_assert!(model.live.remove(&op.addr).is_some());
                }
                OpKind::Alloc | OpKind::Zalloc => {
                    if op.size == 0 || op.size > MAX_ALLOC {
                        prop_assert_eq!(op.addr, 0, "{:?} of {} bytes must fail", op.op, op.size);
                        continue;
                    }
                    prop_assert_ne!(op.addr, 0, "{:?} of {} bytes failed", op.op, op.size);
                    model.insert(&view, op.addr, op.size)?;
                    if op.op == OpKind::Zalloc {
                        zeroed.push((op.addr, op.size));
                    }
                }
            }
        }
        // Nothing later in the batch touched a block zalloc returned.
        for (addr, size) in zeroed {
            // Whole words: every block spans its size rounded up to 8.
            let words = view
                .read_array::<u64>(addr, (size as usize).div_ceil(8))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let nz = words.iter().position(|&w| w != 0);
            prop_assert!(
                nz.is_none(),
                "zalloc({size}) at {addr:#x}: word {nz:?} is not zero"
            );
        }
        compare(&obj, &model)?;
    }
    // Free everything: nothing may stay in use.
    let all: Vec<Op> = model
        .live
        .keys()
        .map(|&a| Op::new(OpKind::Free, 0, a, 0))
        .collect();
    for chunk in all.chunks(OPS_MAX) {
        for op in run_ops(&obj, chunk) {
            prop_assert_eq!(op.ret, 0, "final free of {:#x}", op.addr);
            model.live.remove(&op.addr);
        }
    }
    compare(&obj, &model)
}

/// Time spent in `compare`, for the model test's report.
static COMPARE_NS: AtomicU64 = AtomicU64::new(0);

/// check() passes and the allocator's in-use counts equal the model's.
fn compare(obj: &LoadedObject, model: &Model) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let result = compare_inner(obj, model);
    COMPARE_NS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    result
}

fn compare_inner(obj: &LoadedObject, model: &Model) -> Result<(), TestCaseError> {
    let Ok(view) = AllocView::of_object(obj.object()) else {
        // No root: nothing was ever allocated.
        prop_assert!(model.live.is_empty());
        return Ok(());
    };
    let report = view.check().map_err(|v| {
        let lines: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        TestCaseError::fail(format!("check(): {}", lines.join("\n")))
    })?;
    let stats = view
        .stats()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (objs, blocks) = model.counts();
    prop_assert_eq!(report.objs_in_use, objs, "objects in use per class (walk)");
    let counted: Vec<i64> = stats.classes.iter().map(|c| c.objs_in_use).collect();
    let want: Vec<i64> = objs.iter().map(|&n| n as i64).collect();
    prop_assert_eq!(counted, want, "objects in use per class (counters)");
    prop_assert_eq!(
        report.blocks_in_use,
        blocks,
        "buddy blocks in use per order"
    );
    Ok(())
}

#[test]
fn allocator_matches_a_model_of_live_blocks() {
    if !host_ready(module_path!()) {
        return;
    }
    // 25 cases of 4000 steps: 100,000 operations, each case on a fresh
    // object so a failing case replays (and shrinks) on its own.
    let config = Config {
        cases: 25,
        // Shrinking reloads the object per attempt: keep it bounded.
        max_shrink_iters: 64,
        max_shrink_time: 20_000,
        failure_persistence: None,
        ..Config::default()
    };
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(step(), 4000), |steps| {
        run_case(&steps)
    });
    eprintln!(
        "model test: 25 cases x 4000 steps in {:.1} s, {:.1} s of it in check()/stats()",
        start.elapsed().as_secs_f64(),
        COMPARE_NS.load(Ordering::Relaxed) as f64 / 1e9
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Freeing everything leaves nothing in use, and the walk's view of the
/// metadata agrees with the counters for a simple deterministic sequence.
#[test]
fn alloc_free_roundtrip_is_clean() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[OPS]);
    let sizes = [
        1u32, 16, 17, 64, 100, 2048, 2049, 4096, 5000, 65536, MAX_ALLOC,
    ];
    let ops: Vec<Op> = sizes
        .iter()
        .flat_map(|&s| {
            [
                Op::new(OpKind::Alloc, s, 0, 0),
                Op::new(OpKind::Zalloc, s, 0, 0),
            ]
        })
        .collect();
    let done = run_ops(&obj, &ops);
    let view = AllocView::of_object(obj.object()).expect("view");
    let report = checked(&view);
    let live: u64 =
        report.objs_in_use.iter().sum::<u64>() + report.blocks_in_use.iter().sum::<u64>();
    assert_eq!(live, ops.len() as u64, "{report:?}");
    let frees: Vec<Op> = done
        .iter()
        .map(|o| Op::new(OpKind::Free, 0, o.addr, 0))
        .collect();
    for op in run_ops(&obj, &frees) {
        assert_eq!(op.ret, 0);
    }
    let report = checked(&view);
    assert_eq!(report.objs_in_use, [0; NR_CLASSES]);
    assert_eq!(report.blocks_in_use, [0; NR_ORDERS]);
    let stats = view.stats().expect("stats");
    assert!(
        stats.classes.iter().all(|c| c.objs_in_use == 0),
        "{stats:?}"
    );
    assert_eq!(stats.buddy.pages_used, report.pages_used);
}

/// Pins the calling thread to `cpu`; false if the host has no such CPU.
fn pin_to_cpu(cpu: usize) -> bool {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays inside it for
    // cpu < CPU_SETSIZE, and sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            return false;
        }
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Reproduces a bug: a CPU's cache page (struct scx_arena_slab_pcpu) comes
/// from scx_arena_buddy_alloc(0), whose content is whatever the previous
/// owner left, and this_pcpu() in bpf/lib/slab.bpf.c does not zero it. A
/// CPU that allocates for the first time after a page was freed dirty gets
/// stacks with garbage busy/count/objs and garbage counters; here count 5
/// and busy 0 (in every class but 0, whose stack the free-list link of the
/// freed page overlays), so its first 32-byte allocation pops objs[4], a
/// wild value.
#[test]
fn cpu_cache_page_is_zeroed_when_reused() {
    if !host_ready(module_path!()) {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let obj = load(&[OPS]);
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            if cpus < 2 || !pin_to_cpu(0) {
                return None;
            }
            // CPU 0: root, CPU 0's cache page, a slab; then one page
            // written with a pattern whose low half (busy) is 0 and high
            // half (count) 5, and freed.
            let dirty = 5u64 << 32;
            let done = run_ops(
                &obj,
                &[
                    Op::new(OpKind::Alloc, 16, 0, 0),
                    Op::new(OpKind::Alloc, 4096, 0, dirty),
                ],
            );
            run_ops(&obj, &[Op::new(OpKind::Free, 0, done[1].addr, 0)]);
            if !pin_to_cpu(1) {
                return None;
            }
            // CPU 1's first allocation creates its cache page.
            let got = run_ops(&obj, &[Op::new(OpKind::Alloc, 32, 0, 0)]);
            Some((done[1].addr, got[0].addr))
        })
        .join()
        .expect("pinned thread")
    });
    let Some((dirty_page, obj32)) = result else {
        eprintln!("SKIPPED: needs CPUs 0 and 1");
        return;
    };
    let view = AllocView::of_object(obj.object()).expect("view");
    let base = view.arena().base();
    assert!(
        obj32 >= base && obj32 < base + view.arena().len(),
        "CPU 1's first 32-byte allocation returned {obj32:#x}, outside the arena: its cache \
         page (reused from {dirty_page:#x}) was not zeroed"
    );
    checked(&view);
}

// ---------------------------------------------------------------------------
// (c) Concurrent churn.

/// `struct alloc_churn_args`: twelve u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    allocs: u64,
    frees: u64,
    failed: u64,
    mismatches: u64,
    free_errors: u64,
    bad_addr: u64,
    misaligned: u64,
    start_ns: u64,
    end_ns: u64,
    errors: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64) -> Churn {
    let mut w = [0u64; 12];
    w[0] = iters;
    w[1] = seed;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "alloc_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        allocs: w[2],
        frees: w[3],
        failed: w[4],
        mismatches: w[5],
        free_errors: w[6],
        bad_addr: w[7],
        misaligned: w[8],
        start_ns: w[9],
        end_ns: w[10],
        errors: w[11],
    }
}

/// Rounds of concurrent churn tried until two runs overlap in time.
const CHURN_ATTEMPTS: usize = 5;

fn churn_concurrently(threads: u64, iters: u64) {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load_with(&[CHURN]);
    for attempt in 1..=CHURN_ATTEMPTS {
        let overlap = churn_round(&obj, threads, iters);
        if overlap > 0 {
            return;
        }
        eprintln!("churn: attempt {attempt}: the runs did not overlap (a busy host)");
    }
    eprintln!(
        "note: the churn runs never overlapped in {CHURN_ATTEMPTS} attempts; every check passed, \
         but concurrency was not exercised"
    );
}

/// One round of `threads` concurrent churn runs on `obj`, checked; returns
/// the longest time two runs spent in BPF at once, in ns.
fn churn_round(obj: &LoadedObject, threads: u64, iters: u64) -> u64 {
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(threads as usize, |t| churn(obj, iters, t + 1));
    let wall = start.elapsed();
    // Longest time two runs were in BPF at once.
    let overlap = runs
        .iter()
        .enumerate()
        .flat_map(|(i, a)| runs[i + 1..].iter().map(move |b| (a, b)))
        .map(|(a, b)| {
            a.end_ns
                .min(b.end_ns)
                .saturating_sub(a.start_ns.max(b.start_ns))
        })
        .max()
        .unwrap_or(0);
    eprintln!(
        "churn: {threads} threads x {iters} steps in {:.0} ms; two runs overlapped for {:.1} ms; \
         (allocs, frees) {:?}",
        wall.as_secs_f64() * 1e3,
        overlap as f64 / 1e6,
        runs.iter().map(|r| (r.allocs, r.frees)).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!(r.iters, iters);
        assert_eq!(
            r.mismatches, 0,
            "thread {}: {} objects changed while live (first at {:#x}): memory handed out twice",
            r.seed, r.mismatches, r.bad_addr
        );
        assert_eq!(r.free_errors, 0, "thread {}: frees failed", r.seed);
        assert_eq!(r.misaligned, 0, "thread {}: misaligned objects", r.seed);
        assert_eq!(r.failed, 0, "thread {}: allocations failed", r.seed);
        assert_eq!(r.errors, 0, "thread {}: the library raised errors", r.seed);
        assert_eq!(
            r.allocs, r.frees,
            "thread {}: churn frees what it allocates",
            r.seed
        );
        assert!(
            r.allocs > iters / 4,
            "thread {}: only {} allocations",
            r.seed,
            r.allocs
        );
    }
    let view = AllocView::of_object(obj.object()).expect("view");
    let report = checked(&view);
    assert_eq!(report.objs_in_use, [0; NR_CLASSES], "{report:?}");
    assert_eq!(report.blocks_in_use, [0; NR_ORDERS], "{report:?}");
    let stats = view.stats().expect("stats");
    assert!(
        stats.classes.iter().all(|c| c.objs_in_use == 0),
        "{stats:?}"
    );
    overlap
}

#[test]
fn churn_two_threads() {
    churn_concurrently(2, 50_000);
}

#[test]
fn churn_four_threads() {
    churn_concurrently(4, 50_000);
}

// ---------------------------------------------------------------------------
// (d) check() sees corruption.

/// Writes `val` at arena address `addr` and returns the old value.
///
/// # Safety
/// `addr` must be an aligned `T` inside the arena of a live object, and no
/// BPF program may run meanwhile.
unsafe fn poke<T: Copy>(addr: u64, val: T) -> T {
    // SAFETY: per the caller's contract; the arena mapping is writable.
    unsafe {
        let p = addr as *mut T;
        let old = std::ptr::read_volatile(p);
        std::ptr::write_volatile(p, val);
        old
    }
}

#[test]
fn check_reports_corrupted_metadata() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[OPS]);
    let mut ops = vec![Op::new(OpKind::Alloc, 64, 0, 0); 100];
    ops.push(Op::new(OpKind::Alloc, 8192, 0, 0));
    let done = run_ops(&obj, &ops);
    let view = AllocView::of_object(obj.object()).expect("view");
    checked(&view);
    let base = view.arena().base();

    // A slab header's magic.
    let obj64 = done[0].addr;
    let slab = base + ((obj64 - base) & !(SLAB_BYTES - 1));
    // SAFETY: the slab header is allocator metadata inside the arena; no BPF
    // program runs; the old value is restored below.
    let old = unsafe { poke::<u64>(slab, 0xdead_beef) };
    let v = view.check().expect_err("a bad slab magic must be seen");
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::SlabHeader
            && v.addr == slab
            && v.detail.contains("magic 0xdeadbeef")),
        "{v:#?}"
    );
    // SAFETY: as above.
    unsafe { poke::<u64>(slab, old) };
    checked(&view);

    // A page-map byte: the second page of the 8 KiB block claims to be a
    // block of its own.
    let block = done[100].addr;
    let root = view.root().expect("root");
    let off = block - base;
    let chunk = (off / scx_arena::alloc::CHUNK_BYTES) as usize;
    let page = ((off % scx_arena::alloc::CHUNK_BYTES) / PAGE_SIZE) as u64;
    let map = root.buddy.map[chunk / scx_arena::alloc::CHUNKS_PER_MAP];
    let byte = map
        + (chunk % scx_arena::alloc::CHUNKS_PER_MAP * scx_arena::alloc::CHUNK_PAGES) as u64
        + page
        + 1;
    // SAFETY: a state byte in an allocated page-map page; no BPF program
    // runs; restored below.
    let old = unsafe { poke::<u8>(byte, scx_arena::alloc::PG_USED) };
    assert_eq!(old, 0, "interior page of a block");
    let v = view.check().expect_err("an overlapping block must be seen");
    assert!(
        v.iter().any(|v| v.kind == ViolationKind::PageMap
            && v.addr == block + PAGE_SIZE
            && v.detail.contains("overlapping")),
        "{v:#?}"
    );
    // SAFETY: as above.
    unsafe { poke::<u8>(byte, old) };
    checked(&view);
}

/// bpf/tests/test_checked_alloc.bpf.c, built in checked mode.
const CHECKED: TestObject = TestObject {
    source: "test_checked_alloc.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_checked_alloc.bpf.o")),
};

/// Checked mode's leak report names exactly the objects left allocated, with
/// their sizes and allocation sites; the same program freeing everything
/// reports nothing.
#[test]
fn checked_mode_leak_report_names_size_and_site() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = CHECKED.load(&["leak_some"]).expect("load");
    let mut ctx = [0u8; 16];
    obj.run("leak_some", Some(&mut ctx)).expect("leak_some");
    let line_small = u64::from_ne_bytes(ctx[..8].try_into().expect("8 bytes"));
    let line_large = u64::from_ne_bytes(ctx[8..].try_into().expect("8 bytes"));
    let view = AllocView::of_object(obj.object()).expect("allocator view");
    let leaks = view.leaks().expect("leak report");
    let mut got: Vec<(u64, String)> = leaks.iter().map(|l| (l.size, l.site.clone())).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (24, format!("test_che:{line_small}")),
            (5000, format!("test_che:{line_large}"))
        ],
        "leaks: {leaks:?}"
    );
    assert!(leaks.iter().all(|l| l.kind == BugKind::Leak));
    view.check().expect("allocator metadata consistent");

    let obj = CHECKED.load(&["leak_none"]).expect("load");
    obj.run("leak_none", None).expect("leak_none");
    let view = AllocView::of_object(obj.object()).expect("allocator view");
    assert_eq!(view.leaks().expect("leak report"), vec![]);
    let (bugs, n) = view.bugs().expect("reports");
    assert_eq!((bugs, n), (vec![], 0));
}

/// Reports written by BPF decode in userspace with kind and site.
#[test]
fn checked_mode_reports_decode_in_userspace() {
    if !host_ready(module_path!()) {
        return;
    }
    let prog = "test_checked_double_free_is_reported";
    let obj = CHECKED.load(&[prog]).expect("load");
    obj.run(prog, None).expect("the BPF test passes");
    let view = AllocView::of_object(obj.object()).expect("allocator view");
    let (bugs, n) = view.bugs().expect("reports");
    assert_eq!(n, 1);
    assert_eq!(bugs[0].kind, BugKind::DoubleFree);
    assert_eq!(bugs[0].size, 100);
    assert!(bugs[0].site.starts_with("test_che:"), "{}", bugs[0]);
    // A leak report on an object without checked mode is refused clearly.
    let plain = OBJ.load(&[OPS]).expect("load");
    let mut ctx = [0u8; 16];
    let _ = plain.run_raw(OPS, Some(&mut ctx));
    if let Ok(v) = AllocView::of_object(plain.object()) {
        assert_eq!(v.leaks(), Err(scx_arena::alloc::AllocError::NotChecked));
    }
}
