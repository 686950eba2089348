//! The arena heap (bpf/include/scx_arena/heap.h) from the host: the heap
//! against a `BTreeMap<(key, seq), val>` model (proptest, driving `heap_ops`
//! in bpf/tests/test_heap.bpf.c), the locked heap under two concurrent
//! `heap_churn` runs, both checked from userspace with
//! `scx_arena::heap::HeapView`, and the hold-model timing next to Rust's
//! `BinaryHeap` (printed, not asserted).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::heap::{HeapView, RawNode, HEAP_NONE, HEAP_SIZE, LOCKED_HEAP_OFF};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_heap.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_heap.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_heap.bpf.o")),
};

const OPS: &str = "heap_ops";
const CHURN: &str = "heap_churn";
const BENCH: &str = "heap_bench";

/// `HEAP_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `HEAP_ITEM_SIZE`.
const ITEM_SIZE: u64 = 40;
/// `HEAP_ITEM_NODE_OFF`.
const NODE_OFF: u64 = 8;
/// Byte offset of `tag` in `struct heap_item`.
const TAG_OFF: u64 = 32;
/// `HEAP_CHURN_VAL(tag)` is `tag ^ CHURN_XOR`.
const CHURN_XOR: u64 = 0x9e37_79b9_7f4a_7c15;

const EINVAL: i64 = 22;
const EEXIST: i64 = 17;

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// heap_ops: struct heap_ops_args and struct heap_op of bpf/tests/test_heap.h.

/// `enum heap_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    Push = 1,
    Pop = 2,
    Peek = 3,
    Remove = 4,
    Update = 5,
    Len = 6,
    Repush = 7,
    Free = 8,
    Destroy = 9,
}

/// `struct heap_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    pad: u32,
    addr: u64,
    key: u64,
    val: u64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

fn raw(op: OpKind, addr: u64, key: u64, val: u64) -> RawOp {
    RawOp {
        op: op as u32,
        pad: 0,
        addr,
        key,
        val,
        ret: 0,
    }
}

/// Runs `ops` (at most `OPS_MAX`) in one heap_ops run; returns them with
/// their results, and the heap's arena address.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

// ---------------------------------------------------------------------------
// (a) The heap against a BTreeMap model.

/// One step of a generated sequence. An `Index` picks among the items the
/// step may apply to; a step with none is skipped.
#[derive(Debug, Clone)]
enum Step {
    Push(u64),
    Pop,
    Peek,
    Len,
    /// remove of an item in the heap: 0.
    Remove(Index),
    /// remove of a removed item: -EINVAL.
    RemoveOut(Index),
    /// update_key of an item in the heap: 0.
    Update(Index, u64),
    /// update_key of a removed item: -EINVAL.
    UpdateOut(Index, u64),
    /// push of a removed item: 0.
    Repush(Index, u64),
    /// push of an item in the heap: -EEXIST.
    RepushIn(Index),
    /// scx_arena_free of a removed item: 0; it is forgotten.
    Free(Index),
    /// destroy: every item is removed, the array freed.
    Destroy,
}

/// Keys: mostly from a small range, so that equal keys (FIFO order) are
/// common; sometimes anything.
fn key() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0..32u64, 1 => any::<u64>()]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => key().prop_map(Step::Push),
        5 => Just(Step::Pop),
        1 => Just(Step::Peek),
        1 => Just(Step::Len),
        2 => any::<Index>().prop_map(Step::Remove),
        1 => any::<Index>().prop_map(Step::RemoveOut),
        3 => (any::<Index>(), key()).prop_map(|(i, k)| Step::Update(i, k)),
        1 => (any::<Index>(), key()).prop_map(|(i, k)| Step::UpdateOut(i, k)),
        2 => (any::<Index>(), key()).prop_map(|(i, k)| Step::Repush(i, k)),
        1 => any::<Index>().prop_map(Step::RepushIn),
        2 => any::<Index>().prop_map(Step::Free),
        // Rare: empties the heap.
        1 => prop_oneof![199 => Just(Step::Len), 1 => Just(Step::Destroy)],
    ]
}

/// The result an op must have.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A push of a new item with this val: ret 0, a fresh item address.
    Pushed(u64),
    /// addr, key and val of this (val, key), or all 0.
    Item(Option<(u64, u64)>),
    /// val is the length.
    Len(u64),
    /// ret only.
    Ret(i64),
    /// The free of this item: ret 0, and the item is forgotten.
    Freed(u64),
}

/// The model: the heap as `(key, seq) -> val`, where every item is, the
/// removed (not freed) items, and where every item lives.
#[derive(Default)]
struct Model {
    heap: BTreeMap<(u64, u64), u64>,
    /// val -> (key, seq) of items in the heap.
    pos: HashMap<u64, (u64, u64)>,
    /// Removed items (val), not freed.
    removed: Vec<u64>,
    /// val -> item address, for items not freed (known after their run).
    addr: HashMap<u64, u64>,
    /// item address -> val, for items not freed.
    by_addr: HashMap<u64, u64>,
    next_val: u64,
    seq: u64,
}

impl Model {
    fn insert(&mut self, val: u64, key: u64) {
        self.seq += 1;
        self.heap.insert((key, self.seq), val);
        self.pos.insert(val, (key, self.seq));
    }

    /// Takes `val` out of the heap (it must be there) into `removed`.
    fn take(&mut self, val: u64) {
        if let Some(k) = self.pos.remove(&val) {
            self.heap.remove(&k);
        }
        self.removed.push(val);
    }

    /// Items in the heap whose address is known, in val order.
    fn in_known(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .pos
            .keys()
            .copied()
            .filter(|v| self.addr.contains_key(v))
            .collect();
        v.sort_unstable();
        v
    }

    /// Removed items whose address is known, with their index in `removed`.
    fn out_known(&self) -> Vec<(usize, u64)> {
        self.removed
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, v)| self.addr.contains_key(v))
            .collect()
    }

    /// Turns one step into an op and its expected result, updating the
    /// model; None when the step has nothing to apply to.
    fn plan(&mut self, s: &Step) -> Option<(RawOp, Expect)> {
        Some(match s {
            Step::Push(k) => {
                self.next_val += 1;
                let val = 0x4ea9_0000_0000_0000 | self.next_val;
                self.insert(val, *k);
                (raw(OpKind::Push, 0, *k, val), Expect::Pushed(val))
            }
            Step::Pop => {
                let first = self.heap.iter().next().map(|(&(k, _), &v)| (v, k));
                if let Some((v, _)) = first {
                    self.take(v);
                }
                (raw(OpKind::Pop, 0, 0, 0), Expect::Item(first))
            }
            Step::Peek => {
                let first = self.heap.iter().next().map(|(&(k, _), &v)| (v, k));
                (raw(OpKind::Peek, 0, 0, 0), Expect::Item(first))
            }
            Step::Len => (
                raw(OpKind::Len, 0, 0, 0),
                Expect::Len(self.heap.len() as u64),
            ),
            Step::Remove(ix) | Step::Update(ix, _) | Step::RepushIn(ix) => {
                let c = self.in_known();
                if c.is_empty() {
                    return None;
                }
                let v = c[ix.index(c.len())];
                let addr = self.addr[&v];
                match s {
                    Step::Remove(_) => {
                        self.take(v);
                        (raw(OpKind::Remove, addr, 0, 0), Expect::Ret(0))
                    }
                    Step::Update(_, k) => {
                        if let Some(old) = self.pos.get(&v).copied() {
                            self.heap.remove(&old);
                        }
                        self.insert(v, *k);
                        (raw(OpKind::Update, addr, *k, 0), Expect::Ret(0))
                    }
                    _ => (raw(OpKind::Repush, addr, 0, 0), Expect::Ret(-EEXIST)),
                }
            }
            Step::RemoveOut(ix) | Step::UpdateOut(ix, _) | Step::Repush(ix, _) | Step::Free(ix) => {
                let c = self.out_known();
                if c.is_empty() {
                    return None;
                }
                let (i, v) = c[ix.index(c.len())];
                let addr = self.addr[&v];
                match s {
                    Step::RemoveOut(_) => (raw(OpKind::Remove, addr, 0, 0), Expect::Ret(-EINVAL)),
                    Step::UpdateOut(_, k) => {
                        (raw(OpKind::Update, addr, *k, 0), Expect::Ret(-EINVAL))
                    }
                    Step::Repush(_, k) => {
                        self.removed.swap_remove(i);
                        self.insert(v, *k);
                        (raw(OpKind::Repush, addr, *k, 0), Expect::Ret(0))
                    }
                    _ => {
                        self.removed.swap_remove(i);
                        (raw(OpKind::Free, addr, 0, 0), Expect::Freed(v))
                    }
                }
            }
            Step::Destroy => {
                let all: Vec<u64> = self.heap.values().copied().collect();
                for v in all {
                    self.take(v);
                }
                (raw(OpKind::Destroy, 0, 0, 0), Expect::Ret(0))
            }
        })
    }

    /// Checks one op's result, recording the address of a pushed item.
    fn verify(
        &mut self,
        view: &ArenaView<'_>,
        op: &RawOp,
        want: Expect,
    ) -> Result<(), TestCaseError> {
        match want {
            Expect::Pushed(val) => {
                prop_assert_eq!(op.ret, 0, "push of val {:#x}", val);
                prop_assert!(
                    view.check(op.addr, ITEM_SIZE as usize, 8).is_ok(),
                    "push of val {val:#x}: item {:#x} is not in the arena",
                    op.addr
                );
                if let Some(old) = self.by_addr.insert(op.addr, val) {
                    return Err(TestCaseError::fail(format!(
                        "push of val {val:#x}: item {:#x} is still in use by val {old:#x}",
                        op.addr
                    )));
                }
                self.addr.insert(val, op.addr);
            }
            Expect::Item(None) => {
                prop_assert_eq!(
                    (op.addr, op.key, op.val, op.ret),
                    (0, 0, 0, 0),
                    "op {} on an empty heap",
                    op.op
                );
            }
            Expect::Item(Some((v, k))) => {
                let addr = self.addr.get(&v).copied().unwrap_or(0);
                prop_assert_eq!(
                    (op.val, op.key, op.addr, op.ret),
                    (v, k, addr, 0),
                    "op {}: (val, key, item, ret)",
                    op.op
                );
            }
            Expect::Len(n) => prop_assert_eq!((op.val, op.ret), (n, 0), "len"),
            Expect::Freed(v) => {
                prop_assert_eq!(op.ret, 0, "free of item {:#x} (val {:#x})", op.addr, v);
                self.addr.remove(&v);
                self.by_addr.remove(&op.addr);
            }
            Expect::Ret(r) => prop_assert_eq!(
                op.ret,
                r,
                "op {} on item {:#x} key {}",
                op.op,
                op.addr,
                op.key
            ),
        }
        Ok(())
    }

    /// The heap in the arena, read from userspace, is the model: invariants
    /// hold, the elements in pop order are the model's in order, and
    /// removed items are marked out of the heap.
    fn compare(&self, view: ArenaView<'_>, heap: u64) -> Result<(), TestCaseError> {
        let h = HeapView::new(view, heap);
        let fail = |e: scx_arena::heap::HeapError| TestCaseError::fail(format!("HeapView: {e}"));
        h.check().map_err(fail)?;
        prop_assert_eq!(h.len().map_err(fail)? as usize, self.heap.len());
        let mut got = Vec::with_capacity(self.heap.len());
        for e in h.sorted().map_err(fail)? {
            let item = HeapView::entry_addr(e.node, NODE_OFF);
            let v = view
                .read::<u64>(item)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                self.addr.get(&v).copied(),
                Some(item),
                "slot {} (val {:#x}) is not at its pushed address",
                e.slot,
                v
            );
            got.push((e.key, v));
        }
        let want: Vec<(u64, u64)> = self.heap.iter().map(|(&(k, _), &v)| (k, v)).collect();
        prop_assert_eq!(got, want, "the heap in pop order, read from userspace");
        for v in &self.removed {
            let n = view
                .read::<RawNode>(self.addr[v] + NODE_OFF)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(n.idx, HEAP_NONE, "removed item val {:#x}", v);
        }
        Ok(())
    }
}

/// Runs one generated sequence on `obj`, whose heap must be empty, in
/// batches; on success destroys the heap and frees every item again.
fn run_case(obj: &LoadedObject, steps: &[Step]) -> Result<(), TestCaseError> {
    let view = obj.arena().expect("arena");
    let mut model = Model::default();
    let heap = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
    model.compare(view, heap)?;
    for batch in steps.chunks(OPS_MAX) {
        let (ops, want): (Vec<RawOp>, Vec<Expect>) =
            batch.iter().filter_map(|s| model.plan(s)).unzip();
        let (done, heap) = run_ops(obj, &ops);
        for (op, w) in done.iter().zip(want) {
            model.verify(&view, op, w)?;
        }
        model.compare(view, heap)?;
    }
    // Clean up for the next case: destroy, free every item.
    let mut ops = vec![raw(OpKind::Destroy, 0, 0, 0)];
    ops.extend(
        model
            .pos
            .keys()
            .chain(model.removed.iter())
            .map(|v| raw(OpKind::Free, model.addr[v], 0, 0)),
    );
    for chunk in ops.chunks(OPS_MAX) {
        let (done, _) = run_ops(obj, chunk);
        for op in done {
            prop_assert_eq!(op.ret, 0, "cleanup: op {} on item {:#x}", op.op, op.addr);
        }
    }
    let h = HeapView::new(view, heap);
    prop_assert_eq!(h.len(), Ok(0), "cleanup leaves the heap empty");
    prop_assert_eq!(h.capacity(), Ok(0), "cleanup frees the array");
    Ok(())
}

#[test]
fn heap_matches_a_btreemap_model() {
    if !host_ready(module_path!()) {
        return;
    }
    // 40 cases of 1 to 8000 steps (160,000 on average; below 100,000 with
    // a probability of about 2e-5, asserted below). The length is part of
    // the input, so a failure shrinks to a short sequence, not only to
    // simpler steps.
    const CASES: u32 = 40;
    let config = Config {
        cases: CASES,
        max_shrink_iters: 4096,
        max_shrink_time: 30_000,
        failure_persistence: None,
        ..Config::default()
    };
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    // One object for all cases (each case leaves the heap empty, its array
    // and every item freed), reloaded after a panic or every 32 failed
    // cases. A failed case's items and array are leaked and the heap
    // header zeroed.
    let cache: RefCell<Option<(LoadedObject, u32)>> = RefCell::new(None);
    let total = std::cell::Cell::new(0usize);
    let result = runner.run(&prop::collection::vec(step(), 1..=8000), |steps| {
        total.set(total.get() + steps.len());
        let taken = cache.borrow_mut().take();
        let (obj, fails) = taken.unwrap_or_else(|| (load(&[OPS]), 0));
        let r = run_case(&obj, &steps);
        let fails = fails + u32::from(r.is_err());
        if r.is_err() && fails < 32 {
            let view = obj.arena().expect("arena");
            let heap = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
            view.check(heap, HEAP_SIZE, 8)
                .expect("heap header in the arena");
            // SAFETY: the heap header, in the arena's writable mapping
            // (checked above); no BPF program runs now.
            unsafe { std::ptr::write_volatile(heap as *mut [u64; 3], [0; 3]) };
        }
        if r.is_ok() || fails < 32 {
            *cache.borrow_mut() = Some((obj, fails));
        }
        r
    });
    eprintln!(
        "heap model test: {CASES} cases, {} steps in {:.1} s",
        total.get(),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        total.get() >= 100_000,
        "only {} steps were run",
        total.get()
    );
}

// ---------------------------------------------------------------------------
// (b) The locked heap under concurrent churn.

/// `struct heap_churn_args`: ten u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    pushes: u64,
    pops: u64,
    mismatches: u64,
    unmarked: u64,
    timeouts: u64,
    failed: u64,
    heap: u64,
    errors: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64) -> Churn {
    let mut w = [0u64; 10];
    w[0] = iters;
    w[1] = seed;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "heap_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        pushes: w[2],
        pops: w[3],
        mismatches: w[4],
        unmarked: w[5],
        timeouts: w[6],
        failed: w[7],
        heap: w[8],
        errors: w[9],
    }
}

#[test]
fn locked_heap_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    const THREADS: u64 = 2;
    const ITERS: u64 = 300_000;
    let obj = load(&[CHURN]);
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(THREADS as usize, |t| churn(&obj, ITERS, t + 1));
    eprintln!(
        "heap churn: {THREADS} threads x {ITERS} steps in {:.0} ms; (pushes, pops) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter().map(|r| (r.pushes, r.pops)).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!((r.iters, r.heap), (ITERS, runs[0].heap));
        assert_eq!(r.mismatches, 0, "thread {}: popped items changed", r.seed);
        assert_eq!(r.unmarked, 0, "thread {}: popped items not marked", r.seed);
        assert_eq!(r.timeouts, 0, "thread {}: lock timeouts", r.seed);
        assert_eq!(r.failed, 0, "thread {}: pushes failed", r.seed);
        assert_eq!(r.errors, 0, "thread {}: the library raised errors", r.seed);
        assert!(r.pushes > ITERS / 8 && r.pops > 0, "{r:?}");
    }

    let view = obj.arena().expect("arena");
    let h = HeapView::new(view, runs[0].heap + LOCKED_HEAP_OFF);
    h.check()
        .unwrap_or_else(|e| panic!("HeapView::check(): {e}"));
    let pushed: u64 = runs.iter().map(|r| r.pushes).sum();
    let popped: u64 = runs.iter().map(|r| r.pops).sum();
    assert_eq!(
        h.len().map(u64::from),
        Ok(pushed - popped),
        "nr = pushes - pops"
    );

    // Every item left is intact and from one of the runs, each at most once.
    let mut left: HashMap<u64, u64> = HashMap::new();
    let mut tags = std::collections::HashSet::new();
    for e in h.entries().expect("entries") {
        let item = HeapView::entry_addr(e.node, NODE_OFF);
        let val: u64 = view.read(item).expect("val");
        let tag: u64 = view.read(item + TAG_OFF).expect("tag");
        assert_eq!(val, tag ^ CHURN_XOR, "item {item:#x}: val vs tag {tag:#x}");
        assert!(tags.insert(tag), "tag {tag:#x} twice in the heap");
        let (seed, seq) = (tag >> 32, tag & 0xffff_ffff);
        let run = runs
            .iter()
            .find(|r| r.seed == seed)
            .unwrap_or_else(|| panic!("item {item:#x}: tag {tag:#x} from no run"));
        assert!(seq < run.pushes + run.failed, "run {seed}: seq {seq}");
        *left.entry(seed).or_default() += 1;
    }
    for r in &runs {
        let n = left.get(&r.seed).copied().unwrap_or(0);
        assert!(
            n <= r.pushes,
            "run {}: {n} items left of {}",
            r.seed,
            r.pushes
        );
    }
}

// ---------------------------------------------------------------------------
// (c) The hold model next to Rust's BinaryHeap (printed, not asserted).

/// The xorshift64 (13, 7, 17) step of heap_bench.
fn xorshift(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}

/// The hold model on a `BinaryHeap`: the same stream, the popped-key sum.
fn native_hold(n: u64, iters: u64, seed: u64) -> (u64, f64) {
    let mut rng = seed;
    let mut h: BinaryHeap<Reverse<u64>> =
        (0..n).map(|_| Reverse(xorshift(&mut rng) >> 32)).collect();
    let mut sum = 0u64;
    let t = Instant::now();
    for _ in 0..iters {
        let Some(Reverse(k)) = h.pop() else { break };
        sum = sum.wrapping_add(k);
        h.push(Reverse(k + (xorshift(&mut rng) >> 44)));
    }
    (sum, t.elapsed().as_nanos() as f64 / iters as f64)
}

#[test]
fn hold_model_matches_binaryheap_and_is_timed() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[BENCH]);
    for n in [64u64, 1024, 16384] {
        let iters = 200_000;
        let seed = 0x9e37_79b9_7f4a_7c15 ^ n;
        // Median of 3 interleaved runs each.
        let mut bpf = Vec::new();
        let mut native = Vec::new();
        for _ in 0..3 {
            let mut w = [n, iters, seed, 0, 0, 0];
            let ret = obj
                .run_words(BENCH, &mut w)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((ret, w[5]), (0, 0), "heap_bench n={n}");
            let (sum, ns) = native_hold(n, iters, seed);
            assert_eq!(w[4], sum, "n={n}: popped-key sums differ");
            bpf.push(w[3] as f64 / iters as f64);
            native.push(ns);
        }
        bpf.sort_by(f64::total_cmp);
        native.sort_by(f64::total_cmp);
        let build = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        eprintln!(
            "heap hold model n={n}: arena heap {:.1} ns/op (pop+push), BinaryHeap {:.1} ns/op \
             ({build} build of the test; ds-bench in benches/ gives the figures that count)",
            bpf[1], native[1]
        );
    }
}
