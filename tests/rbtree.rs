//! The arena red-black tree (bpf/include/scx_arena/rbtree.h) from the host:
//! the tree against a `BTreeMap` model (proptest, driving `rb_ops` in
//! bpf/tests/test_rbtree.bpf.c), the locked tree under two concurrent
//! `rb_churn` runs, and both checked from userspace with
//! `scx_arena::rbtree::RbTreeView`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::rbtree::{RawNode, RbTreeView, LOCKED_TREE_OFF, RB_POISON, TREE_SIZE};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_rbtree.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_rbtree.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_rbtree.bpf.o")),
};

const OPS: &str = "rb_ops";
const CHURN: &str = "rb_churn";

/// `RB_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `RB_ITEM_SIZE`.
const ITEM_SIZE: usize = 48;
/// `RB_ITEM_NODE_OFF`.
const NODE_OFF: u64 = 8;
/// Byte offset of `tag` in `struct rb_item`.
const TAG_OFF: u64 = 40;
/// `RB_CHURN_ID(tag)` is `tag ^ CHURN_XOR`.
const CHURN_XOR: u64 = 0x9e37_79b9_7f4a_7c15;
/// `RB_CHURN_KEYS`.
const CHURN_KEYS: u64 = 4096;

const EINVAL: i64 = 22;
const EEXIST: i64 = 17;

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// rb_ops: struct rb_ops_args and struct rb_op of bpf/tests/test_rbtree.h.

/// `enum rb_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    Insert = 1,
    Reinsert = 2,
    Remove = 3,
    Lookup = 4,
    LowerBound = 5,
    First = 6,
    Last = 7,
    Next = 8,
    Prev = 9,
    UpdateKey = 10,
    Free = 11,
    Len = 12,
    PopFirst = 13,
    PopLast = 14,
    UpperBound = 15,
}

/// `struct rb_op`, byte for byte.
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

/// Runs `ops` (at most `OPS_MAX`) in one rb_ops run; returns them with their
/// results, and the tree's arena address.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

// ---------------------------------------------------------------------------
// (a) The tree against a BTreeMap model.

/// A key: mostly from a small range, so that keys repeat and searches hit.
fn key() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0..48u64,
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

/// One step of a generated sequence. An `Index` picks among the items the
/// step may apply to; a step with none is skipped.
#[derive(Debug, Clone)]
enum Step {
    Insert(u64),
    Lookup(u64),
    LowerBound(u64),
    UpperBound(u64),
    First,
    Last,
    Len,
    PopFirst,
    PopLast,
    /// remove of a linked item: 0.
    Remove(Index),
    /// remove of a removed item: -EINVAL.
    RemoveRemoved(Index),
    /// insert of a removed item with a new key: 0.
    Reinsert(Index, u64),
    /// insert of a linked item: -EEXIST.
    ReinsertLinked(Index, u64),
    /// next of a linked item.
    Next(Index),
    /// prev of a linked item.
    Prev(Index),
    /// update_key of a linked item: 0.
    UpdateKey(Index, u64),
    /// update_key of a linked item by a small step (mostly in place).
    Nudge(Index, i8),
    /// update_key of a removed item: -EINVAL.
    UpdateRemoved(Index, u64),
    /// scx_arena_free of a removed item: 0; it is forgotten.
    Free(Index),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => key().prop_map(Step::Insert),
        2 => key().prop_map(Step::Lookup),
        2 => key().prop_map(Step::LowerBound),
        1 => key().prop_map(Step::UpperBound),
        1 => Just(Step::First),
        1 => Just(Step::Last),
        1 => Just(Step::Len),
        2 => Just(Step::PopFirst),
        1 => Just(Step::PopLast),
        4 => any::<Index>().prop_map(Step::Remove),
        1 => any::<Index>().prop_map(Step::RemoveRemoved),
        2 => (any::<Index>(), key()).prop_map(|(i, k)| Step::Reinsert(i, k)),
        1 => (any::<Index>(), key()).prop_map(|(i, k)| Step::ReinsertLinked(i, k)),
        2 => any::<Index>().prop_map(Step::Next),
        2 => any::<Index>().prop_map(Step::Prev),
        2 => (any::<Index>(), key()).prop_map(|(i, k)| Step::UpdateKey(i, k)),
        2 => (any::<Index>(), any::<i8>()).prop_map(|(i, d)| Step::Nudge(i, d)),
        1 => (any::<Index>(), key()).prop_map(|(i, k)| Step::UpdateRemoved(i, k)),
        2 => any::<Index>().prop_map(Step::Free),
    ]
}

/// The result an op must have.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An insert of a new item with this id: ret 0, a fresh item address.
    Inserted(u64),
    /// addr, key and id of this item (by id), or all 0.
    Item(Option<(u64, u64)>),
    /// val is the length.
    Len(u64),
    /// ret only.
    Ret(i64),
    /// The free of this item: ret 0, and the item is forgotten.
    Freed(u64),
}

/// Where an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the tree under (key, seq).
    Linked(u64, u64),
    /// Removed (poisoned), its last key kept.
    Removed,
}

/// The model: the tree as (key, insertion seq) -> id, every item's state,
/// and where every item lives.
#[derive(Default)]
struct Model {
    tree: BTreeMap<(u64, u64), u64>,
    state: BTreeMap<u64, State>,
    /// id -> item address, for items not freed (known after their run).
    addr: HashMap<u64, u64>,
    /// item address -> id, for items not freed.
    by_addr: HashMap<u64, u64>,
    next_id: u64,
    seq: u64,
}

impl Model {
    fn link(&mut self, id: u64, key: u64) {
        self.seq += 1;
        self.tree.insert((key, self.seq), id);
        self.state.insert(id, State::Linked(key, self.seq));
    }

    fn unlink(&mut self, id: u64) {
        if let Some(State::Linked(k, s)) = self.state.get(&id).copied() {
            self.tree.remove(&(k, s));
        }
        self.state.insert(id, State::Removed);
    }

    /// Items in `want` state whose address is known (inserted in an
    /// earlier batch).
    fn known(&self, linked: bool) -> Vec<u64> {
        self.state
            .iter()
            .filter(|(id, s)| {
                matches!(s, State::Linked(..)) == linked && self.addr.contains_key(id)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn pick(&self, linked: bool, ix: &Index) -> Option<(u64, u64)> {
        let c = self.known(linked);
        if c.is_empty() {
            return None;
        }
        let id = c[ix.index(c.len())];
        Some((id, self.addr[&id]))
    }

    fn key_of(&self, id: u64) -> u64 {
        match self.state.get(&id) {
            Some(State::Linked(k, _)) => *k,
            _ => 0,
        }
    }

    /// (id, key) of the first entry at or after `from`.
    fn first_from(&self, from: (u64, u64)) -> Option<(u64, u64)> {
        self.tree.range(from..).next().map(|(&(k, _), &id)| (id, k))
    }

    /// Turns one step into an op and its expected result, updating the
    /// model; None when the step has nothing to apply to.
    fn plan(&mut self, s: &Step) -> Option<(RawOp, Expect)> {
        Some(match *s {
            Step::Insert(k) => {
                self.next_id += 1;
                let id = 0x7b00_0000_0000_0000 | self.next_id;
                self.link(id, k);
                (raw(OpKind::Insert, 0, k, id), Expect::Inserted(id))
            }
            Step::Lookup(k) => {
                let e = self.first_from((k, 0)).filter(|&(_, fk)| fk == k);
                (raw(OpKind::Lookup, 0, k, 0), Expect::Item(e))
            }
            Step::LowerBound(k) => (
                raw(OpKind::LowerBound, 0, k, 0),
                Expect::Item(self.first_from((k, 0))),
            ),
            Step::UpperBound(k) => {
                let e = k.checked_add(1).and_then(|k1| self.first_from((k1, 0)));
                (raw(OpKind::UpperBound, 0, k, 0), Expect::Item(e))
            }
            Step::First => (
                raw(OpKind::First, 0, 0, 0),
                Expect::Item(self.tree.iter().next().map(|(&(k, _), &id)| (id, k))),
            ),
            Step::Last => (
                raw(OpKind::Last, 0, 0, 0),
                Expect::Item(self.tree.iter().next_back().map(|(&(k, _), &id)| (id, k))),
            ),
            Step::Len => (
                raw(OpKind::Len, 0, 0, 0),
                Expect::Len(self.tree.len() as u64),
            ),
            Step::PopFirst | Step::PopLast => {
                let e = if matches!(s, Step::PopFirst) {
                    self.tree.iter().next()
                } else {
                    self.tree.iter().next_back()
                }
                .map(|(&(k, _), &id)| (id, k));
                if let Some((id, _)) = e {
                    self.unlink(id);
                }
                let kind = if matches!(s, Step::PopFirst) {
                    OpKind::PopFirst
                } else {
                    OpKind::PopLast
                };
                (raw(kind, 0, 0, 0), Expect::Item(e))
            }
            Step::Remove(ref ix) => {
                let (id, addr) = self.pick(true, ix)?;
                self.unlink(id);
                (raw(OpKind::Remove, addr, 0, 0), Expect::Ret(0))
            }
            Step::RemoveRemoved(ref ix) => {
                let (_, addr) = self.pick(false, ix)?;
                (raw(OpKind::Remove, addr, 0, 0), Expect::Ret(-EINVAL))
            }
            Step::Reinsert(ref ix, k) => {
                let (id, addr) = self.pick(false, ix)?;
                self.link(id, k);
                (raw(OpKind::Reinsert, addr, k, 0), Expect::Ret(0))
            }
            Step::ReinsertLinked(ref ix, k) => {
                let (_, addr) = self.pick(true, ix)?;
                (raw(OpKind::Reinsert, addr, k, 0), Expect::Ret(-EEXIST))
            }
            Step::Next(ref ix) | Step::Prev(ref ix) => {
                let (id, addr) = self.pick(true, ix)?;
                let Some(State::Linked(k, sq)) = self.state.get(&id).copied() else {
                    return None;
                };
                let (kind, e) = if matches!(s, Step::Next(_)) {
                    let e = self
                        .tree
                        .range((
                            std::ops::Bound::Excluded((k, sq)),
                            std::ops::Bound::Unbounded,
                        ))
                        .next();
                    (OpKind::Next, e)
                } else {
                    (OpKind::Prev, self.tree.range(..(k, sq)).next_back())
                };
                (
                    raw(kind, addr, 0, 0),
                    Expect::Item(e.map(|(&(k, _), &id)| (id, k))),
                )
            }
            Step::UpdateKey(ref ix, k) => {
                let (id, addr) = self.pick(true, ix)?;
                self.unlink(id);
                self.link(id, k);
                (raw(OpKind::UpdateKey, addr, k, 0), Expect::Ret(0))
            }
            Step::Nudge(ref ix, d) => {
                let (id, addr) = self.pick(true, ix)?;
                let k = self.key_of(id).wrapping_add_signed(i64::from(d / 16));
                self.unlink(id);
                self.link(id, k);
                (raw(OpKind::UpdateKey, addr, k, 0), Expect::Ret(0))
            }
            Step::UpdateRemoved(ref ix, k) => {
                let (_, addr) = self.pick(false, ix)?;
                (raw(OpKind::UpdateKey, addr, k, 0), Expect::Ret(-EINVAL))
            }
            Step::Free(ref ix) => {
                let (id, addr) = self.pick(false, ix)?;
                self.state.remove(&id);
                (raw(OpKind::Free, addr, 0, 0), Expect::Freed(id))
            }
        })
    }

    /// Checks one op's result, recording the address of an inserted item.
    fn verify(
        &mut self,
        view: &ArenaView<'_>,
        op: &RawOp,
        want: Expect,
    ) -> Result<(), TestCaseError> {
        match want {
            Expect::Inserted(id) => {
                prop_assert_eq!(op.ret, 0, "insert of id {:#x}", id);
                prop_assert!(
                    view.check(op.addr, ITEM_SIZE, 8).is_ok(),
                    "insert of id {id:#x}: item {:#x} is not in the arena",
                    op.addr
                );
                if let Some(old) = self.by_addr.insert(op.addr, id) {
                    return Err(TestCaseError::fail(format!(
                        "insert of id {id:#x}: item {:#x} is still in use by id {old:#x}",
                        op.addr
                    )));
                }
                self.addr.insert(id, op.addr);
            }
            Expect::Item(None) => {
                prop_assert_eq!(
                    (op.addr, op.key, op.val, op.ret),
                    (0, 0, 0, 0),
                    "op {} found nothing in the model",
                    op.op
                );
            }
            Expect::Item(Some((id, k))) => {
                let addr = self.addr.get(&id).copied().unwrap_or(0);
                prop_assert_eq!(
                    (op.val, op.key, op.addr, op.ret),
                    (id, k, addr, 0),
                    "op {}: (id, key, item, ret)",
                    op.op
                );
            }
            Expect::Len(n) => prop_assert_eq!((op.val, op.ret), (n, 0), "len"),
            Expect::Freed(id) => {
                prop_assert_eq!(op.ret, 0, "free of item {:#x} (id {:#x})", op.addr, id);
                self.addr.remove(&id);
                self.by_addr.remove(&op.addr);
            }
            Expect::Ret(r) => prop_assert_eq!(op.ret, r, "op {} on item {:#x}", op.op, op.addr),
        }
        Ok(())
    }

    /// The tree in the arena, walked and checked from userspace, is the
    /// model; removed items carry poisoned links.
    fn compare(&self, view: ArenaView<'_>, tree: u64) -> Result<(), TestCaseError> {
        let fail = |e: scx_arena::rbtree::RbTreeError| TestCaseError::fail(e.to_string());
        let t = RbTreeView::new(view, tree);
        t.check()
            .map_err(|e| TestCaseError::fail(format!("RbTreeView::check(): {e}")))?;
        prop_assert_eq!(t.len().map_err(fail)?, self.tree.len() as u64);
        let nodes = t.nodes().map_err(fail)?;
        let mut got = Vec::with_capacity(nodes.len());
        for (k, n) in nodes {
            let item = RbTreeView::entry_addr(n, NODE_OFF);
            let id = view
                .read::<u64>(item)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                self.addr.get(&id).copied(),
                Some(item),
                "node with key {} (id {:#x}) is not at its inserted address",
                k,
                id
            );
            got.push((k, id));
        }
        let want: Vec<(u64, u64)> = self.tree.iter().map(|(&(k, _), &id)| (k, id)).collect();
        prop_assert_eq!(got, want, "the tree in order, walked from userspace");
        for (id, s) in &self.state {
            if *s != State::Removed {
                continue;
            }
            let Some(&a) = self.addr.get(id) else {
                continue;
            };
            let n = view
                .read::<RawNode>(a + NODE_OFF)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                (n.left, n.right, n.parent_color),
                (RB_POISON, RB_POISON, RB_POISON),
                "removed item id {:#x}",
                id
            );
        }
        Ok(())
    }
}

/// Runs one generated sequence on `obj`, whose tree must be empty, in
/// batches; on success empties the tree and frees every item again.
fn run_case(obj: &LoadedObject, steps: &[Step]) -> Result<(), TestCaseError> {
    let view = obj.arena().expect("arena");
    let mut model = Model::default();
    let tree = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
    model.compare(view, tree)?;
    for batch in steps.chunks(OPS_MAX) {
        let (ops, want): (Vec<RawOp>, Vec<Expect>) =
            batch.iter().filter_map(|s| model.plan(s)).unzip();
        let (done, tree) = run_ops(obj, &ops);
        for (op, w) in done.iter().zip(want) {
            model.verify(&view, op, w)?;
        }
        model.compare(view, tree)?;
    }
    // Clean up for the next case: remove every linked item, free every item.
    let linked: Vec<u64> = model.tree.values().map(|id| model.addr[id]).collect();
    let mut ops: Vec<RawOp> = linked
        .iter()
        .map(|&a| raw(OpKind::Remove, a, 0, 0))
        .collect();
    ops.extend(model.addr.values().map(|&a| raw(OpKind::Free, a, 0, 0)));
    for chunk in ops.chunks(OPS_MAX) {
        let (done, _) = run_ops(obj, chunk);
        for op in done {
            prop_assert_eq!(op.ret, 0, "cleanup: op {} on item {:#x}", op.op, op.addr);
        }
    }
    let t = RbTreeView::new(view, tree);
    prop_assert_eq!(t.len(), Ok(0), "cleanup leaves the tree empty");
    Ok(())
}

#[test]
fn rbtree_matches_a_btreemap_model() {
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
    // One object for all cases (each case leaves its tree empty and every
    // item freed). A failed case's items are leaked and its tree zeroed;
    // the object is reloaded after a panic or every 32 failed cases.
    let cache: RefCell<Option<(LoadedObject, u32)>> = RefCell::new(None);
    let result = runner.run(&prop::collection::vec(step(), 4000), |steps| {
        let taken = cache.borrow_mut().take();
        let (obj, fails) = taken.unwrap_or_else(|| (load(&[OPS]), 0));
        let r = run_case(&obj, &steps);
        let fails = fails + u32::from(r.is_err());
        if r.is_err() && fails < 32 {
            let view = obj.arena().expect("arena");
            let tree = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
            view.check(tree, TREE_SIZE, 8).expect("tree in the arena");
            // SAFETY: the tree struct, in the arena's writable mapping
            // (checked above); no BPF program runs now.
            unsafe { std::ptr::write_volatile(tree as *mut [u64; 4], [0; 4]) };
        }
        if r.is_ok() || fails < 32 {
            *cache.borrow_mut() = Some((obj, fails));
        }
        r
    });
    eprintln!(
        "rbtree model test: 25 cases x 4000 steps in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// (b) The locked tree under concurrent churn.

/// `struct rb_churn_args`: ten u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    inserts: u64,
    pops: u64,
    mismatches: u64,
    unpoisoned: u64,
    timeouts: u64,
    failed: u64,
    tree: u64,
    errors: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64) -> Churn {
    let mut w = [0u64; 10];
    w[0] = iters;
    w[1] = seed;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "rb_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        inserts: w[2],
        pops: w[3],
        mismatches: w[4],
        unpoisoned: w[5],
        timeouts: w[6],
        failed: w[7],
        tree: w[8],
        errors: w[9],
    }
}

#[test]
fn locked_rbtree_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    const THREADS: u64 = 2;
    const ITERS: u64 = 200_000;
    let obj = load(&[OPS, CHURN]);
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(THREADS as usize, |t| churn(&obj, ITERS, t + 1));
    eprintln!(
        "rbtree churn: {THREADS} threads x {ITERS} steps in {:.0} ms; (inserts, pops) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter().map(|r| (r.inserts, r.pops)).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!((r.iters, r.tree), (ITERS, runs[0].tree));
        assert_eq!(r.mismatches, 0, "thread {}: popped items changed", r.seed);
        assert_eq!(
            r.unpoisoned, 0,
            "thread {}: popped items still linked",
            r.seed
        );
        assert_eq!(r.timeouts, 0, "thread {}: lock timeouts", r.seed);
        assert_eq!(r.failed, 0, "thread {}: allocations failed", r.seed);
        assert_eq!(r.errors, 0, "thread {}: the library raised errors", r.seed);
        assert!(r.inserts + r.pops <= ITERS, "{r:?}");
        assert!(r.inserts > ITERS / 4 && r.pops > 0, "{r:?}");
    }

    let view = obj.arena().expect("arena");
    let t = RbTreeView::new(view, runs[0].tree + LOCKED_TREE_OFF);
    t.check()
        .unwrap_or_else(|e| panic!("RbTreeView::check(): {e}"));
    let inserted: u64 = runs.iter().map(|r| r.inserts).sum();
    let popped: u64 = runs.iter().map(|r| r.pops).sum();
    let nodes = t.nodes().expect("walk");
    assert_eq!(t.len(), Ok(inserted - popped), "nr = inserts - pops");
    assert_eq!(nodes.len() as u64, inserted - popped);

    // Every item left is intact, from one of the runs, with a key in range,
    // and no tag twice; equal keys of one run are in increasing seq order
    // (a run inserts in seq order and equal keys keep insertion order).
    let mut tags = HashSet::new();
    let mut last: HashMap<(u64, u64), u64> = HashMap::new();
    let mut left: HashMap<u64, u64> = HashMap::new();
    for &(key, n) in &nodes {
        let item = RbTreeView::entry_addr(n, NODE_OFF);
        let id: u64 = view.read(item).expect("id");
        let tag: u64 = view.read(item + TAG_OFF).expect("tag");
        assert_eq!(id, tag ^ CHURN_XOR, "item {item:#x}: id vs tag {tag:#x}");
        assert!(key < CHURN_KEYS, "item {item:#x}: key {key}");
        assert!(tags.insert(tag), "tag {tag:#x} twice");
        let (seed, seq) = (tag >> 32, tag & 0xffff_ffff);
        let run = runs.iter().find(|r| r.seed == seed);
        assert!(run.is_some(), "item {item:#x}: tag {tag:#x} from no run");
        if let Some(r) = run {
            assert!(
                seq < r.inserts + r.timeouts + r.failed,
                "run {seed}: seq {seq}"
            );
        }
        if let Some(&prev) = last.get(&(seed, key)) {
            assert!(prev < seq, "run {seed}, key {key}: seq {seq} after {prev}");
        }
        last.insert((seed, key), seq);
        *left.entry(seed).or_default() += 1;
    }
    for r in &runs {
        let n = left.get(&r.seed).copied().unwrap_or(0);
        assert!(
            n <= r.inserts,
            "run {}: {n} items left of {}",
            r.seed,
            r.inserts
        );
    }
}
