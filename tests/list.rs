//! The arena list (bpf/include/scx_arena/list.h) from the host: the list
//! against a `VecDeque` model (proptest, driving `list_ops` in
//! bpf/tests/test_list.bpf.c), the locked list under two concurrent
//! `list_churn` runs, and both checked from userspace with
//! `scx_arena::list::ListView`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::list::{ListView, RawNode, LIST_POISON, LIST_SIZE, LOCKED_LIST_OFF};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_list.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_list.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_list.bpf.o")),
};

const OPS: &str = "list_ops";
const CHURN: &str = "list_churn";

/// `LIST_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `LIST_ITEM_SIZE`.
const ITEM_SIZE: u64 = 32;
/// `LIST_ITEM_NODE_OFF`.
const NODE_OFF: u64 = 8;
/// Byte offset of `tag` in `struct list_item`.
const TAG_OFF: u64 = 24;
/// `LIST_CHURN_VAL(tag)` is `tag ^ CHURN_XOR`.
const CHURN_XOR: u64 = 0x9e37_79b9_7f4a_7c15;

const EINVAL: i64 = 22;
const EEXIST: i64 = 17;

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
// list_ops: struct list_ops_args and struct list_op of bpf/tests/test_list.h.

/// `enum list_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    PushBack = 1,
    PushFront = 2,
    PopFront = 3,
    PopBack = 4,
    Del = 5,
    Len = 6,
    Relink = 7,
    Free = 8,
    PeekFront = 9,
    PeekBack = 10,
}

/// `struct list_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    pad: u32,
    addr: u64,
    val: u64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

fn raw(op: OpKind, addr: u64, val: u64) -> RawOp {
    RawOp {
        op: op as u32,
        pad: 0,
        addr,
        val,
        ret: 0,
    }
}

/// Runs `ops` (at most `OPS_MAX`) in one list_ops run; returns them with
/// their results, and the list's arena address.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

// ---------------------------------------------------------------------------
// (a) The list against a VecDeque model.

/// One step of a generated sequence. An `Index` picks among the items the
/// step may apply to; a step with none is skipped.
#[derive(Debug, Clone)]
enum Step {
    PushBack,
    PushFront,
    PopFront,
    PopBack,
    PeekFront,
    PeekBack,
    Len,
    /// del of a linked item: 0.
    Del(Index),
    /// del of a removed item: -EINVAL.
    DelRemoved(Index),
    /// push_back of a removed item: 0.
    Relink(Index),
    /// push_back of a linked item: -EEXIST.
    RelinkLinked(Index),
    /// scx_arena_free of a removed item: 0; it is forgotten.
    Free(Index),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => Just(Step::PushBack),
        3 => Just(Step::PushFront),
        2 => Just(Step::PopFront),
        2 => Just(Step::PopBack),
        1 => Just(Step::PeekFront),
        1 => Just(Step::PeekBack),
        1 => Just(Step::Len),
        3 => any::<Index>().prop_map(Step::Del),
        1 => any::<Index>().prop_map(Step::DelRemoved),
        1 => any::<Index>().prop_map(Step::Relink),
        1 => any::<Index>().prop_map(Step::RelinkLinked),
        2 => any::<Index>().prop_map(Step::Free),
    ]
}

/// The result an op must have.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A push of a new item with this val: ret 0, a fresh item address.
    Pushed(u64),
    /// addr and val of this item (by val), or 0 and 0.
    Item(Option<u64>),
    /// val is the length.
    Len(u64),
    /// ret only.
    Ret(i64),
    /// The free of this item: ret 0, and the item is forgotten (when its
    /// result is checked: earlier ops of the batch still name it).
    Freed(u64),
}

/// The model: the vals on the list in order, the removed (not freed) items,
/// and where every item lives.
#[derive(Default)]
struct Model {
    list: VecDeque<u64>,
    removed: Vec<u64>,
    /// val -> item address, for items not freed (known after their run).
    addr: HashMap<u64, u64>,
    /// item address -> val, for items not freed.
    by_addr: HashMap<u64, u64>,
    next_val: u64,
}

impl Model {
    /// Linked items whose address is known (pushed in an earlier batch).
    fn linked_known(&self) -> Vec<u64> {
        self.list
            .iter()
            .copied()
            .filter(|v| self.addr.contains_key(v))
            .collect()
    }

    /// Removes `val` from the list (it must be there).
    fn unlink(&mut self, val: u64) {
        if let Some(i) = self.list.iter().position(|&v| v == val) {
            self.list.remove(i);
        }
        self.removed.push(val);
    }

    /// Turns one step into an op and its expected result, updating the
    /// model; None when the step has nothing to apply to.
    fn plan(&mut self, s: &Step) -> Option<(RawOp, Expect)> {
        Some(match s {
            Step::PushBack | Step::PushFront => {
                self.next_val += 1;
                let val = 0x7a11_0000_0000_0000 | self.next_val;
                let kind = if matches!(s, Step::PushBack) {
                    self.list.push_back(val);
                    OpKind::PushBack
                } else {
                    self.list.push_front(val);
                    OpKind::PushFront
                };
                (raw(kind, 0, val), Expect::Pushed(val))
            }
            Step::PopFront => {
                let v = self.list.front().copied();
                if let Some(v) = v {
                    self.unlink(v);
                }
                (raw(OpKind::PopFront, 0, 0), Expect::Item(v))
            }
            Step::PopBack => {
                let v = self.list.back().copied();
                if let Some(v) = v {
                    self.list.pop_back();
                    self.removed.push(v);
                }
                (raw(OpKind::PopBack, 0, 0), Expect::Item(v))
            }
            Step::PeekFront => (
                raw(OpKind::PeekFront, 0, 0),
                Expect::Item(self.list.front().copied()),
            ),
            Step::PeekBack => (
                raw(OpKind::PeekBack, 0, 0),
                Expect::Item(self.list.back().copied()),
            ),
            Step::Len => (raw(OpKind::Len, 0, 0), Expect::Len(self.list.len() as u64)),
            Step::Del(ix) | Step::RelinkLinked(ix) => {
                let c = self.linked_known();
                if c.is_empty() {
                    return None;
                }
                let v = c[ix.index(c.len())];
                let addr = self.addr[&v];
                if matches!(s, Step::Del(_)) {
                    self.unlink(v);
                    (raw(OpKind::Del, addr, 0), Expect::Ret(0))
                } else {
                    (raw(OpKind::Relink, addr, 0), Expect::Ret(-EEXIST))
                }
            }
            Step::DelRemoved(ix) | Step::Relink(ix) | Step::Free(ix) => {
                let c: Vec<(usize, u64)> = self
                    .removed
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|(_, v)| self.addr.contains_key(v))
                    .collect();
                if c.is_empty() {
                    return None;
                }
                let (i, v) = c[ix.index(c.len())];
                let addr = self.addr[&v];
                match s {
                    Step::DelRemoved(_) => (raw(OpKind::Del, addr, 0), Expect::Ret(-EINVAL)),
                    Step::Relink(_) => {
                        self.removed.swap_remove(i);
                        self.list.push_back(v);
                        (raw(OpKind::Relink, addr, 0), Expect::Ret(0))
                    }
                    _ => {
                        self.removed.swap_remove(i);
                        (raw(OpKind::Free, addr, 0), Expect::Freed(v))
                    }
                }
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
                    (op.addr, op.val, op.ret),
                    (0, 0, 0),
                    "op {} on an empty list",
                    op.op
                );
            }
            Expect::Item(Some(v)) => {
                let addr = self.addr.get(&v).copied().unwrap_or(0);
                prop_assert_eq!(
                    (op.val, op.addr, op.ret),
                    (v, addr, 0),
                    "op {}: (val, item, ret)",
                    op.op
                );
            }
            Expect::Len(n) => prop_assert_eq!((op.val, op.ret), (n, 0), "len"),
            Expect::Freed(v) => {
                prop_assert_eq!(op.ret, 0, "free of item {:#x} (val {:#x})", op.addr, v);
                self.addr.remove(&v);
                self.by_addr.remove(&op.addr);
            }
            Expect::Ret(r) => prop_assert_eq!(op.ret, r, "op {} on item {:#x}", op.op, op.addr),
        }
        Ok(())
    }

    /// The list in the arena, walked from userspace, is the model; removed
    /// items carry poisoned links.
    fn compare(&self, view: ArenaView<'_>, list: u64) -> Result<(), TestCaseError> {
        let l = ListView::new(view, list);
        l.check()
            .map_err(|e| TestCaseError::fail(format!("ListView::check(): {e}")))?;
        prop_assert_eq!(
            l.len().map_err(|e| TestCaseError::fail(e.to_string()))?,
            self.list.len() as u64
        );
        let nodes = l.nodes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut vals = Vec::with_capacity(nodes.len());
        for (i, &n) in nodes.iter().enumerate() {
            let item = ListView::entry_addr(n, NODE_OFF);
            let v = view
                .read::<u64>(item)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                self.addr.get(&v).copied(),
                Some(item),
                "node {} (val {:#x}) is not at its pushed address",
                i,
                v
            );
            vals.push(v);
        }
        let want: Vec<u64> = self.list.iter().copied().collect();
        prop_assert_eq!(vals, want, "the list, walked from userspace");
        for v in &self.removed {
            let node = self.addr[v] + NODE_OFF;
            let n = view
                .read::<RawNode>(node)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                (n.next, n.prev),
                (LIST_POISON, LIST_POISON),
                "removed item val {:#x}",
                v
            );
        }
        Ok(())
    }
}

/// Runs one generated sequence on `obj`, whose list must be empty, in
/// batches; on success empties the list and frees every item again.
fn run_case(obj: &LoadedObject, steps: &[Step]) -> Result<(), TestCaseError> {
    let view = obj.arena().expect("arena");
    let mut model = Model::default();
    let list = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
    model.compare(view, list)?;
    for batch in steps.chunks(OPS_MAX) {
        let (ops, want): (Vec<RawOp>, Vec<Expect>) =
            batch.iter().filter_map(|s| model.plan(s)).unzip();
        let (done, list) = run_ops(obj, &ops);
        for (op, w) in done.iter().zip(want) {
            model.verify(&view, op, w)?;
        }
        model.compare(view, list)?;
    }
    // Clean up for the next case: del every linked item, free every item.
    let linked: Vec<u64> = model.list.iter().map(|v| model.addr[v]).collect();
    let mut ops: Vec<RawOp> = linked.iter().map(|&a| raw(OpKind::Del, a, 0)).collect();
    ops.extend(linked.iter().map(|&a| raw(OpKind::Free, a, 0)));
    ops.extend(
        model
            .removed
            .iter()
            .map(|v| raw(OpKind::Free, model.addr[v], 0)),
    );
    for chunk in ops.chunks(OPS_MAX) {
        let (done, _) = run_ops(obj, chunk);
        for op in done {
            prop_assert_eq!(op.ret, 0, "cleanup: op {} on item {:#x}", op.op, op.addr);
        }
    }
    let l = ListView::new(view, list);
    prop_assert_eq!(l.len(), Ok(0), "cleanup leaves the list empty");
    Ok(())
}

#[test]
fn list_matches_a_vecdeque_model() {
    if !host_ready(module_path!()) {
        return;
    }
    // 25 cases of 4000 steps: 100,000 operations.
    let config = Config {
        cases: 25,
        max_shrink_iters: 1024,
        max_shrink_time: 20_000,
        failure_persistence: None,
        ..Config::default()
    };
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    // One object for all cases (each case leaves its list empty and every
    // item freed), reloaded after a failure or panic, so shrinking is not
    // dominated by loading.
    // A failed case's items are leaked and its list head zeroed; the
    // object is reloaded after a panic or every 32 failed cases.
    let cache: RefCell<Option<(LoadedObject, u32)>> = RefCell::new(None);
    let result = runner.run(&prop::collection::vec(step(), 4000), |steps| {
        let taken = cache.borrow_mut().take();
        let (obj, fails) = taken.unwrap_or_else(|| (load_with(&[]), 0));
        let r = run_case(&obj, &steps);
        let fails = fails + u32::from(r.is_err());
        if r.is_err() && fails < 32 {
            let view = obj.arena().expect("arena");
            let list = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
            view.check(list, LIST_SIZE, 8)
                .expect("list head in the arena");
            // SAFETY: the list head, in the arena's writable mapping
            // (checked above); no BPF program runs now.
            unsafe { std::ptr::write_volatile(list as *mut [u64; 3], [0; 3]) };
        }
        if r.is_ok() || fails < 32 {
            *cache.borrow_mut() = Some((obj, fails));
        }
        r
    });
    eprintln!(
        "list model test: 25 cases x 4000 steps in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// (b) The locked list under concurrent churn.

/// `struct list_churn_args`: ten u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    pushes: u64,
    pops: u64,
    mismatches: u64,
    unpoisoned: u64,
    timeouts: u64,
    failed: u64,
    list: u64,
    errors: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64) -> Churn {
    let mut w = [0u64; 10];
    w[0] = iters;
    w[1] = seed;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "list_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        pushes: w[2],
        pops: w[3],
        mismatches: w[4],
        unpoisoned: w[5],
        timeouts: w[6],
        failed: w[7],
        list: w[8],
        errors: w[9],
    }
}

#[test]
fn locked_list_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    const THREADS: u64 = 2;
    const ITERS: u64 = 400_000;
    let obj = load_with(&[CHURN]);
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(THREADS as usize, |t| churn(&obj, ITERS, t + 1));
    eprintln!(
        "list churn: {THREADS} threads x {ITERS} steps in {:.0} ms; (pushes, pops) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter().map(|r| (r.pushes, r.pops)).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!((r.iters, r.list), (ITERS, runs[0].list));
        assert_eq!(r.mismatches, 0, "thread {}: popped items changed", r.seed);
        assert_eq!(
            r.unpoisoned, 0,
            "thread {}: popped items still linked",
            r.seed
        );
        assert_eq!(r.timeouts, 0, "thread {}: lock timeouts", r.seed);
        assert_eq!(r.failed, 0, "thread {}: allocations failed", r.seed);
        assert_eq!(r.errors, 0, "thread {}: the library raised errors", r.seed);
        assert!(r.pushes + r.pops <= ITERS, "{r:?}");
        assert!(r.pushes > ITERS / 4 && r.pops > 0, "{r:?}");
    }

    let view = obj.arena().expect("arena");
    let l = ListView::new(view, runs[0].list + LOCKED_LIST_OFF);
    l.check()
        .unwrap_or_else(|e| panic!("ListView::check(): {e}"));
    let pushed: u64 = runs.iter().map(|r| r.pushes).sum();
    let popped: u64 = runs.iter().map(|r| r.pops).sum();
    let nodes = l.nodes().expect("walk");
    assert_eq!(l.len(), Ok(pushed - popped), "nr = pushes - pops");
    assert_eq!(nodes.len() as u64, pushed - popped);

    // Every item left is intact, from one of the runs; each run pushed at
    // the tail in seq order and all pops take the head, so each run's items
    // left are in increasing seq order.
    let mut last_seq: HashMap<u64, u64> = HashMap::new();
    let mut left: HashMap<u64, u64> = HashMap::new();
    for &n in &nodes {
        let item = ListView::entry_addr(n, NODE_OFF);
        let val: u64 = view.read(item).expect("val");
        let tag: u64 = view.read(item + TAG_OFF).expect("tag");
        assert_eq!(val, tag ^ CHURN_XOR, "item {item:#x}: val vs tag {tag:#x}");
        let (seed, seq) = (tag >> 32, tag & 0xffff_ffff);
        assert!(
            runs.iter().any(|r| r.seed == seed),
            "item {item:#x}: tag {tag:#x} from no run"
        );
        if let Some(&prev) = last_seq.get(&seed) {
            assert!(prev < seq, "run {seed}: seq {seq} after {prev}");
        }
        last_seq.insert(seed, seq);
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
        if let Some(&seq) = last_seq.get(&r.seed) {
            assert!(
                seq < r.pushes,
                "run {}: seq {seq} of {} pushes",
                r.seed,
                r.pushes
            );
        }
    }
}
