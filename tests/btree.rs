//! The arena B+tree (bpf/include/scx_arena/btree.h) from the host: the tree
//! against a `BTreeMap` model (proptest, driving `btree_ops` in
//! bpf/tests/test_btree.bpf.c), the locked tree under two concurrent
//! `btree_churn` runs, and both checked from userspace with
//! `scx_arena::btree::BTreeView`.

use std::cell::RefCell;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::alloc::{AllocError, AllocView};
use scx_arena::arena::ArenaPod;
use scx_arena::btree::{BTreeView, LOCKED_TREE_OFF};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_btree.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_btree.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_btree.bpf.o")),
};

const OPS: &str = "btree_ops";
const CHURN: &str = "btree_churn";

/// `BTREE_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `BTREE_CHURN_VAL(key)` is `key ^ CHURN_XOR`.
const CHURN_XOR: u64 = 0x9e37_79b9_7f4a_7c15;
/// `BTREE_RANGE_P`.
const RANGE_P: u64 = 0x100_0000_01b3;
/// The slab class of a 512-byte node (16 << 5).
const NODE_CLASS: usize = 5;

const ENOENT: i64 = 2;
const EEXIST: i64 = 17;

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// btree_ops: struct btree_ops_args and struct btree_op of bpf/tests/test_btree.h.

/// `enum btree_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    Insert = 1,
    Upsert = 2,
    Remove = 3,
    Lookup = 4,
    LowerBound = 5,
    First = 6,
    Last = 7,
    PopFirst = 8,
    PopLast = 9,
    Range = 10,
    Len = 11,
    Destroy = 12,
    RangeBack = 13,
    InsertFault = 14,
}

/// `struct btree_op`, byte for byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
struct RawOp {
    op: u32,
    max: u32,
    key: u64,
    val: u64,
    hi: u64,
    ret: i64,
    out_key: u64,
    out_val: u64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

fn raw(op: OpKind, key: u64, val: u64) -> RawOp {
    RawOp {
        op: op as u32,
        key,
        val,
        ..RawOp::default()
    }
}

/// Runs `ops` (at most `OPS_MAX`) in one btree_ops run; returns them with
/// their results, and the tree's arena address.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

/// Nodes of the 512-byte class in use, from the allocator's counters (0
/// before the first allocation has created the allocator's root).
fn nodes_in_use(obj: &LoadedObject) -> i64 {
    match AllocView::of_object(obj.object()) {
        Ok(a) => a.stats().expect("allocator stats").classes[NODE_CLASS].objs_in_use,
        Err(AllocError::NoRoot) => 0,
        Err(e) => panic!("allocator root: {e}"),
    }
}

// ---------------------------------------------------------------------------
// (a) The tree against a BTreeMap model.

/// One step of a generated sequence. Keys are small numbers spread out by
/// `KEY_MUL` (so lower bounds fall between keys too).
#[derive(Debug, Clone)]
enum Step {
    Insert(u64, u64),
    /// An insert whose node allocation number `n` (1 or 2) fails first:
    /// if that fails, the tree must be unchanged; the insert is retried.
    InsertFault(u64, u64, u32),
    Upsert(u64, u64),
    Remove(u64),
    Lookup(u64),
    LowerBound(u64),
    First,
    Last,
    PopFirst,
    PopLast,
    /// [lo, lo + span) at most max keys.
    Range(u64, u64, u32),
    /// Descending from the largest key while key >= lo, at most max keys.
    RangeBack(u64, u32),
    Len,
}

/// Key space: keys are `k * KEY_MUL` for `k < KEYS`. Large enough for
/// trees of height 3 (a few thousand keys), small enough that removes hit.
const KEYS: u64 = 2500;
const KEY_MUL: u64 = 3;

fn key() -> impl Strategy<Value = u64> {
    (0..KEYS).prop_map(|k| k * KEY_MUL)
}

/// Any key, including ones between stored keys and past the end.
fn probe() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..KEYS * KEY_MUL + 4,
        1 => Just(0u64),
        1 => Just(u64::MAX),
    ]
}

/// Steps weighted towards growing (`grow`) or shrinking the tree.
fn step(grow: bool) -> impl Strategy<Value = Step> {
    let (ins, rem, pop) = if grow { (12, 3, 1) } else { (2, 10, 3) };
    prop_oneof![
        ins => (key(), any::<u64>()).prop_map(|(k, v)| Step::Insert(k, v)),
        4 => (key(), any::<u64>(), 1..=2u32).prop_map(|(k, v, n)| Step::InsertFault(k, v, n)),
        2 => (key(), any::<u64>()).prop_map(|(k, v)| Step::Upsert(k, v)),
        rem => key().prop_map(Step::Remove),
        2 => probe().prop_map(Step::Lookup),
        2 => probe().prop_map(Step::LowerBound),
        1 => Just(Step::First),
        1 => Just(Step::Last),
        pop => Just(Step::PopFirst),
        pop => Just(Step::PopLast),
        1 => (probe(), 0..200u64, 1..80u32).prop_map(|(lo, s, m)| Step::Range(lo, s, m)),
        1 => (probe(), 1..80u32).prop_map(|(lo, m)| Step::RangeBack(lo, m)),
        1 => Just(Step::Len),
    ]
}

/// The hash btree_ops computes over a range's (key, value) pairs.
fn range_hash<'a>(pairs: impl Iterator<Item = (&'a u64, &'a u64)>) -> (u64, u64) {
    let (mut h, mut n) = (0u64, 0u64);
    for (k, v) in pairs {
        h = (h ^ k).wrapping_mul(RANGE_P).wrapping_add(*v);
        n += 1;
    }
    (h, n)
}

/// Applies `s` to the model and returns the op with the results it must
/// have (ret, out_key, out_val).
fn plan(model: &mut BTreeMap<u64, u64>, s: &Step) -> (RawOp, RawOp) {
    let found = |r: Option<(u64, u64)>| match r {
        Some((k, v)) => (0, k, v),
        None => (-ENOENT, 0, 0),
    };
    let (op, (ret, k, v)) = match *s {
        Step::Insert(k, v) => {
            let r = match model.entry(k) {
                Entry::Occupied(_) => -EEXIST,
                Entry::Vacant(e) => {
                    e.insert(v);
                    0
                }
            };
            (raw(OpKind::Insert, k, v), (r, 0, 0))
        }
        Step::InsertFault(k, v, n) => {
            let r = match model.entry(k) {
                Entry::Occupied(_) => -EEXIST,
                Entry::Vacant(e) => {
                    e.insert(v);
                    0
                }
            };
            let mut op = raw(OpKind::InsertFault, k, v);
            op.max = n;
            // out_key (whether the first attempt failed) is not modelled.
            (op, (r, u64::MAX, 0))
        }
        Step::Upsert(k, v) => {
            let r = i64::from(model.insert(k, v).is_some());
            (raw(OpKind::Upsert, k, v), (r, 0, 0))
        }
        Step::Remove(k) => (
            raw(OpKind::Remove, k, 0),
            found(model.remove(&k).map(|v| (k, v))),
        ),
        Step::Lookup(k) => (
            raw(OpKind::Lookup, k, 0),
            found(model.get(&k).map(|&v| (k, v))),
        ),
        Step::LowerBound(k) => (
            raw(OpKind::LowerBound, k, 0),
            found(model.range(k..).next().map(|(&k, &v)| (k, v))),
        ),
        Step::First => (
            raw(OpKind::First, 0, 0),
            found(model.first_key_value().map(|(&k, &v)| (k, v))),
        ),
        Step::Last => (
            raw(OpKind::Last, 0, 0),
            found(model.last_key_value().map(|(&k, &v)| (k, v))),
        ),
        Step::PopFirst => (raw(OpKind::PopFirst, 0, 0), found(model.pop_first())),
        Step::PopLast => (raw(OpKind::PopLast, 0, 0), found(model.pop_last())),
        Step::Range(lo, span, max) => {
            let hi = lo.saturating_add(span);
            let mut op = raw(OpKind::Range, lo, 0);
            op.hi = hi;
            op.max = max;
            let (h, n) = if lo < hi {
                range_hash(model.range(lo..hi).take(max as usize))
            } else {
                (0, 0)
            };
            (op, (0, h, n))
        }
        Step::RangeBack(lo, max) => {
            let mut op = raw(OpKind::RangeBack, lo, 0);
            op.max = max;
            let (h, n) = range_hash(model.range(lo..).rev().take(max as usize));
            (op, (0, h, n))
        }
        Step::Len => (raw(OpKind::Len, 0, 0), (0, 0, model.len() as u64)),
    };
    let want = RawOp {
        ret,
        out_key: k,
        out_val: v,
        ..op
    };
    (op, want)
}

/// The tree in the arena, checked and read from userspace, is the model.
fn compare(
    obj: &LoadedObject,
    tree: u64,
    model: &BTreeMap<u64, u64>,
) -> Result<u32, TestCaseError> {
    let view = obj
        .arena()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let t = BTreeView::new(view, tree);
    let shape = t
        .check()
        .map_err(|e| TestCaseError::fail(format!("BTreeView::check(): {e}")))?;
    let entries = t
        .entries()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    prop_assert_eq!(entries.len(), want.len(), "length of the leaf walk");
    prop_assert!(entries == want, "the tree, read from userspace");
    prop_assert_eq!(t.len(), Ok(model.len() as u64));
    // The view's own range and lower bound agree with the model too.
    let (lo, hi) = (KEYS * KEY_MUL / 3, KEYS * KEY_MUL / 2);
    let r = t
        .range(lo, hi)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want_r: Vec<(u64, u64)> = model.range(lo..hi).map(|(&k, &v)| (k, v)).collect();
    prop_assert!(r == want_r, "BTreeView::range");
    Ok(shape.height)
}

/// Runs one generated sequence on `obj`, whose tree must be empty, in
/// batches; then destroys the tree and checks that every node went back to
/// the allocator (also the ones reserved by inserts that then failed).
/// Returns the greatest height seen and the number of inserts that failed
/// with -ENOMEM (injected) first.
fn run_case(obj: &LoadedObject, steps: &[Step]) -> Result<(u32, u64), TestCaseError> {
    let before = nodes_in_use(obj);
    let mut faults = 0u64;
    let mut model = BTreeMap::new();
    let tree = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
    let mut height = compare(obj, tree, &model)?;
    for batch in steps.chunks(OPS_MAX) {
        let (ops, want): (Vec<RawOp>, Vec<RawOp>) =
            batch.iter().map(|s| plan(&mut model, s)).unzip();
        let (done, tree) = run_ops(obj, &ops);
        for ((got, want), s) in done.iter().zip(&want).zip(batch) {
            let got_key = if want.out_key == u64::MAX && want.op == OpKind::InsertFault as u32 {
                prop_assert!(got.out_key <= 1, "step {:?}: flag {}", s, got.out_key);
                faults += got.out_key;
                u64::MAX
            } else {
                got.out_key
            };
            prop_assert_eq!(
                (got.ret, got_key, got.out_val),
                (want.ret, want.out_key, want.out_val),
                "step {:?}",
                s
            );
        }
        height = height.max(compare(obj, tree, &model)?);
    }
    let nodes = {
        let view = obj
            .arena()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        BTreeView::new(view, tree)
            .head()
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .nr_nodes
    };
    prop_assert_eq!(
        nodes_in_use(obj) - before,
        i64::from(nodes),
        "nodes in use vs nr_nodes"
    );
    let (done, _) = run_ops(obj, &[raw(OpKind::Destroy, 0, 0)]);
    prop_assert_eq!(done[0].ret, i64::from(nodes), "destroy frees every node");
    compare(obj, tree, &BTreeMap::new())?;
    prop_assert_eq!(nodes_in_use(obj), before, "destroy returns all memory");
    Ok((height, faults))
}

/// A case: a growing phase, then a shrinking one.
fn case() -> impl Strategy<Value = Vec<Step>> {
    (
        prop::collection::vec(step(true), 0..=3000),
        prop::collection::vec(step(false), 0..=2000),
    )
        .prop_map(|(mut g, s)| {
            g.extend(s);
            g
        })
}

#[test]
fn btree_matches_a_btreemap_model() {
    if !host_ready(module_path!()) {
        return;
    }
    // 60 cases of up to 5,000 steps (2,500 on average): about 150,000
    // operations, at least 100,000 (asserted below); the lengths vary so
    // that a failure shrinks to a short sequence.
    const CASES: u32 = 60;
    let config = Config {
        cases: CASES,
        max_shrink_iters: 8192,
        max_shrink_time: 120_000,
        failure_persistence: None,
        ..Config::default()
    };
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    // One object for all cases (each case destroys its tree), reloaded
    // only after a failed case whose tree cannot be destroyed, so
    // shrinking is not dominated by loading.
    let cache: RefCell<Option<LoadedObject>> = RefCell::new(None);
    let heights: RefCell<Vec<u32>> = RefCell::new(Vec::new());
    let total = RefCell::new(0usize);
    let faults = RefCell::new(0u64);
    let result = runner.run(&case(), |steps| {
        let obj = cache.borrow_mut().take().unwrap_or_else(|| load(&[OPS]));
        let r = run_case(&obj, &steps);
        match r {
            Ok((h, f)) => {
                heights.borrow_mut().push(h);
                *faults.borrow_mut() += f;
                *total.borrow_mut() += steps.len();
                *cache.borrow_mut() = Some(obj);
                Ok(())
            }
            Err(e) => {
                // Keep the object when its tree can be emptied (loading
                // costs more than a shrink step): destroy it, and if the
                // header reads empty afterwards, reuse the object.
                let (done, tree) = run_ops(&obj, &[raw(OpKind::Destroy, 0, 0)]);
                let view = obj.arena().expect("arena");
                let empty = BTreeView::new(view, tree)
                    .head()
                    .is_ok_and(|h| h.root == 0 && h.nr_nodes == 0);
                if done[0].ret >= 0 && empty {
                    *cache.borrow_mut() = Some(obj);
                }
                Err(e)
            }
        }
    });
    let heights = heights.into_inner();
    let total = total.into_inner();
    let faults = faults.into_inner();
    eprintln!(
        "btree model test: {CASES} cases, {total} steps in {:.1} s; {faults} inserts \
         failed first (injected -ENOMEM); max heights {:?}",
        start.elapsed().as_secs_f64(),
        heights
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(total >= 100_000, "only {total} steps ran");
    assert!(
        faults > 30,
        "only {faults} inserts failed on an injected -ENOMEM"
    );
    assert!(
        heights.iter().any(|&h| h >= 3),
        "no case grew a tree of height 3: {heights:?}"
    );
}

// ---------------------------------------------------------------------------
// (b) The locked tree under concurrent churn.

/// `struct btree_churn_args`: eleven u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    keys: u64,
    inserts: u64,
    removes: u64,
    mismatches: u64,
    timeouts: u64,
    failed: u64,
    tree: u64,
    errors: u64,
    lookups: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64, keys: u64) -> Churn {
    let mut w = [0u64; 11];
    w[0] = iters;
    w[1] = seed;
    w[2] = keys;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "btree_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        keys: w[2],
        inserts: w[3],
        removes: w[4],
        mismatches: w[5],
        timeouts: w[6],
        failed: w[7],
        tree: w[8],
        errors: w[9],
        lookups: w[10],
    }
}

#[test]
fn locked_btree_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    const THREADS: u64 = 2;
    const ITERS: u64 = 200_000;
    const KEYS: u64 = 20_000;
    let obj = load(&[CHURN]);
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(THREADS as usize, |t| churn(&obj, ITERS, t + 1, KEYS));
    eprintln!(
        "btree churn: {THREADS} threads x {ITERS} steps in {:.0} ms; (inserts, removes, lookups) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter()
            .map(|r| (r.inserts, r.removes, r.lookups))
            .collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!((r.iters, r.keys, r.tree), (ITERS, KEYS, runs[0].tree));
        assert_eq!(r.mismatches, 0, "thread {}: values changed", r.seed);
        assert_eq!(r.timeouts, 0, "thread {}: lock timeouts", r.seed);
        assert_eq!(r.failed, 0, "thread {}: allocations failed", r.seed);
        assert_eq!(r.errors, 0, "thread {}: the library raised errors", r.seed);
        assert!(r.inserts > ITERS / 8 && r.removes > 0, "{r:?}");
    }

    let view = obj.arena().expect("arena");
    let t = BTreeView::new(view, runs[0].tree + LOCKED_TREE_OFF);
    let shape = t
        .check()
        .unwrap_or_else(|e| panic!("BTreeView::check(): {e}"));
    let inserted: u64 = runs.iter().map(|r| r.inserts).sum();
    let removed: u64 = runs.iter().map(|r| r.removes).sum();
    let entries = t.entries().expect("entries");
    assert_eq!(t.len(), Ok(inserted - removed), "nr = inserts - removes");
    assert_eq!(entries.len() as u64, inserted - removed);
    assert!(shape.height >= 2, "{shape:?}");
    for (k, v) in entries {
        assert!(k < KEYS, "key {k} outside the key space");
        assert_eq!(v, k ^ CHURN_XOR, "key {k}: value {v:#x}");
    }
}
