//! The arena hash table (bpf/include/scx_arena/htab.h) from the host: the
//! table against a `HashMap` model (proptest, driving `htab_ops` in
//! bpf/tests/test_htab.bpf.c), destroy returning every byte to the
//! allocator, the locked table under two concurrent `htab_churn` runs, and
//! all of it checked from userspace with `scx_arena::htab::HtabView`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::alloc::AllocView;
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::htab::{HtabView, LOCKED_HTAB_OFF};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_htab.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_htab.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_htab.bpf.o")),
};

/// bpf/tests/test_htab.bpf.c built in checked mode (build.rs: ALSO_CHECKED).
const CHECKED_OBJ: TestObject = TestObject {
    source: "test_htab.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_htab_checked.bpf.o")),
};

const OPS: &str = "htab_ops";
const CHURN: &str = "htab_churn";
const CHURN_INIT: &str = "htab_churn_init";

/// `HTAB_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `HTAB_ITEM_NODE_OFF`.
const NODE_OFF: u64 = 8;
/// Byte offset of `tag` in `struct htab_item`.
const TAG_OFF: u64 = 24;

const EEXIST: i64 = 17;
const ENOENT: i64 = 2;
const ENOSPC: i64 = 28;
const EBUSY: i64 = 16;

/// Capacities the model test uses: 1 (one bucket), around powers of two.
const CAPACITIES: &[u64] = &[1, 2, 3, 7, 16, 33, 64, 100];

/// `HTAB_VAL(k)`.
fn val_of(k: u64) -> u64 {
    k ^ 0x9e37_79b9_7f4a_7c15
}

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

/// `enum htab_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Kind {
    Init = 1,
    Insert = 2,
    Lookup = 3,
    Delete = 4,
    Len = 5,
    Iter = 6,
    IterDel = 7,
    Destroy = 8,
    Remove = 9,
}

/// `struct htab_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    pad: u32,
    key: u64,
    addr: u64,
    val: u64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

fn raw(op: Kind, key: u64, addr: u64, val: u64) -> RawOp {
    RawOp {
        op: op as u32,
        pad: 0,
        key,
        addr,
        val,
        ret: 0,
    }
}

/// Runs `ops` (at most `OPS_MAX`) in one htab_ops run; returns them with
/// their results, and the table's arena address.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

// ---------------------------------------------------------------------------
// (a) The table against a HashMap model.

/// One step of a generated sequence.
#[derive(Debug, Clone)]
enum Step {
    /// init with `CAPACITIES[i]`.
    Init(usize),
    Insert(u64),
    Lookup(u64),
    Delete(u64),
    /// remove of a live item picked by the index (skipped if none is known).
    Remove(Index),
    Len,
    Iter,
    IterDel(u64),
    Destroy,
}

/// Keys: mostly a small range (duplicates, collisions), sometimes any u64.
fn key() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..48,
        1 => any::<u64>(),
        1 => (0u64..8).prop_map(|k| (k << 32) | 7),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0..CAPACITIES.len()).prop_map(Step::Init),
        12 => key().prop_map(Step::Insert),
        6 => key().prop_map(Step::Lookup),
        6 => key().prop_map(Step::Delete),
        3 => any::<Index>().prop_map(Step::Remove),
        1 => Just(Step::Len),
        1 => Just(Step::Iter),
        1 => (0u64..3).prop_map(Step::IterDel),
        1 => Just(Step::Destroy),
    ]
}

/// The result an op must have.
#[derive(Debug, Clone)]
enum Expect {
    /// ret only.
    Ret(i64),
    /// A successful insert of this key: ret 0, a fresh item address.
    Inserted(u64),
    /// A failed insert: this ret, addr 0.
    InsertFailed(i64),
    /// A lookup: the item of this key, or addr 0 and val 0.
    Found(Option<u64>),
    /// A delete of this key that succeeds (ret 0, its item).
    Deleted(u64),
    /// val is the length.
    Len(u64),
    /// val = count, addr = xor of keys, ret 0 (no bad val).
    Iter(u64, u64),
    /// val = items deleted; these keys are gone.
    IterDel(u64, Vec<u64>),
    /// A remove (ret 0) of this key; or destroy (ret 0): everything gone.
    Removed(u64),
    Destroyed,
}

/// The model: capacity when initialised, the keys in the table, and the
/// item address of each key whose insert has been run.
#[derive(Default)]
struct Model {
    capacity: Option<u64>,
    keys: HashSet<u64>,
    addr: HashMap<u64, u64>,
    /// Keys inserted in the batch being planned: their address is not
    /// known yet (a key deleted and inserted again has a stale one).
    fresh: HashSet<u64>,
}

impl Model {
    /// The op for `s` and what it must return, updating the key model.
    fn plan(&mut self, s: &Step) -> Option<(RawOp, Expect)> {
        Some(match s {
            &Step::Init(i) => {
                let cap = CAPACITIES[i % CAPACITIES.len()];
                let e = if self.capacity.is_some() {
                    Expect::Ret(-EBUSY)
                } else {
                    self.capacity = Some(cap);
                    Expect::Ret(0)
                };
                (raw(Kind::Init, 0, 0, cap), e)
            }
            &Step::Insert(k) => {
                let e = match self.capacity {
                    _ if self.keys.contains(&k) => Expect::InsertFailed(-EEXIST),
                    Some(cap) if (self.keys.len() as u64) < cap => {
                        self.keys.insert(k);
                        self.fresh.insert(k);
                        Expect::Inserted(k)
                    }
                    _ => Expect::InsertFailed(-ENOSPC),
                };
                (raw(Kind::Insert, k, 0, 0), e)
            }
            &Step::Lookup(k) => (
                raw(Kind::Lookup, k, 0, 0),
                Expect::Found(self.keys.contains(&k).then_some(k)),
            ),
            &Step::Delete(k) => {
                let e = if self.keys.remove(&k) {
                    Expect::Deleted(k)
                } else {
                    Expect::Ret(-ENOENT)
                };
                (raw(Kind::Delete, k, 0, 0), e)
            }
            Step::Remove(i) => {
                // Only items whose address is known (inserted in an
                // earlier batch) and still in the table.
                let mut known: Vec<u64> = self
                    .keys
                    .iter()
                    .copied()
                    .filter(|k| self.addr.contains_key(k) && !self.fresh.contains(k))
                    .collect();
                if known.is_empty() {
                    return None;
                }
                known.sort_unstable();
                let k = known[i.index(known.len())];
                self.keys.remove(&k);
                (raw(Kind::Remove, 0, self.addr[&k], 0), Expect::Removed(k))
            }
            Step::Len => (raw(Kind::Len, 0, 0, 0), Expect::Len(self.keys.len() as u64)),
            Step::Iter => (
                raw(Kind::Iter, 0, 0, 0),
                Expect::Iter(
                    self.keys.len() as u64,
                    self.keys.iter().fold(0, |x, k| x ^ k),
                ),
            ),
            &Step::IterDel(v) => {
                let gone: Vec<u64> = self.keys.iter().copied().filter(|k| k % 3 == v).collect();
                for k in &gone {
                    self.keys.remove(k);
                }
                (
                    raw(Kind::IterDel, 0, 0, v),
                    Expect::IterDel(gone.len() as u64, gone),
                )
            }
            Step::Destroy => {
                self.capacity = None;
                self.keys.clear();
                (raw(Kind::Destroy, 0, 0, 0), Expect::Destroyed)
            }
        })
    }

    /// Checks one op's result against what the model expected, in order.
    fn verify(&mut self, i: usize, op: &RawOp, want: Expect) -> Result<(), TestCaseError> {
        match want {
            Expect::Ret(r) => prop_assert_eq!(op.ret, r, "op {} ({})", i, op.op),
            Expect::Inserted(k) => {
                prop_assert_eq!(op.ret, 0, "op {}: insert of key {:#x}", i, k);
                prop_assert!(op.addr != 0, "op {}: insert gave no item", i);
                self.addr.insert(k, op.addr);
            }
            Expect::InsertFailed(r) => {
                prop_assert_eq!(
                    (op.ret, op.addr),
                    (r, 0),
                    "op {}: insert of {:#x}",
                    i,
                    op.key
                )
            }
            Expect::Found(None) => prop_assert_eq!(
                (op.addr, op.val),
                (0, 0),
                "op {}: lookup of absent key {:#x}",
                i,
                op.key
            ),
            Expect::Found(Some(k)) => prop_assert_eq!(
                (op.addr, op.val),
                (self.addr[&k], val_of(k)),
                "op {}: lookup of key {:#x}",
                i,
                k
            ),
            Expect::Deleted(k) => {
                prop_assert_eq!(
                    (op.ret, op.addr),
                    (0, self.addr[&k]),
                    "op {}: delete of key {:#x}",
                    i,
                    k
                );
                self.addr.remove(&k);
            }
            Expect::Removed(k) => {
                prop_assert_eq!(op.ret, 0, "op {}: remove of key {:#x}", i, k);
                self.addr.remove(&k);
            }
            Expect::Len(n) => prop_assert_eq!(op.val, n, "op {}: len", i),
            Expect::Iter(n, x) => prop_assert_eq!(
                (op.val, op.addr, op.ret),
                (n, x, 0),
                "op {}: iteration (count, xor of keys, bad vals)",
                i
            ),
            Expect::IterDel(n, gone) => {
                prop_assert_eq!(op.val, n, "op {}: deleted while iterating", i);
                for k in gone {
                    self.addr.remove(&k);
                }
            }
            Expect::Destroyed => {
                prop_assert_eq!(op.ret, 0, "op {}: destroy", i);
                self.addr.clear();
            }
        }
        Ok(())
    }

    /// The table, read from userspace, holds exactly the model's items.
    fn compare(&self, view: ArenaView<'_>, tab: u64) -> Result<(), TestCaseError> {
        let h = HtabView::new(view, tab);
        let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(format!("HtabView: {e}"));
        h.check().map_err(|e| fail(&e))?;
        prop_assert_eq!(h.len().map_err(|e| fail(&e))?, self.keys.len() as u64);
        let head = h.head().map_err(|e| fail(&e))?;
        prop_assert_eq!(head.capacity, self.capacity.unwrap_or(0));
        let entries = h.entries().map_err(|e| fail(&e))?;
        let mut got = HashMap::new();
        for e in &entries {
            let item = HtabView::entry_addr(e.node, NODE_OFF);
            let v: u64 = view.read(item).map_err(|e| fail(&e))?;
            prop_assert_eq!(v, val_of(e.key), "item of key {:#x}", e.key);
            got.insert(e.key, item);
        }
        prop_assert_eq!(&got, &self.addr, "the table, read from userspace");
        Ok(())
    }
}

/// Runs one case from a destroyed table: init at `cap`, then the steps in
/// batches, checked op by op and compared after every batch.
fn run_case(obj: &LoadedObject, cap: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    let view = obj.arena().expect("arena");
    let mut model = Model::default();
    let start = [Step::Destroy, Step::Init(cap)];
    let mut n = 0usize;
    for batch in std::iter::once(&start[..]).chain(steps.chunks(OPS_MAX)) {
        model.fresh.clear();
        let (ops, want): (Vec<RawOp>, Vec<Expect>) =
            batch.iter().filter_map(|s| model.plan(s)).unzip();
        let (done, tab) = run_ops(obj, &ops);
        for (k, (op, w)) in done.iter().zip(want).enumerate() {
            model.verify(n + k, op, w)?;
        }
        n += ops.len();
        model.compare(view, tab)?;
    }
    Ok(())
}

#[test]
fn htab_matches_a_hashmap_model() {
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
    // One object for all cases: each case starts by destroying the table.
    let cache: RefCell<Option<LoadedObject>> = RefCell::new(None);
    let strategy = (0..CAPACITIES.len(), prop::collection::vec(step(), 4000));
    let result = runner.run(&strategy, |(cap, steps)| {
        let obj = cache.borrow_mut().take().unwrap_or_else(|| load(&[OPS]));
        let r = run_case(&obj, cap, &steps);
        *cache.borrow_mut() = Some(obj);
        r
    });
    eprintln!(
        "htab model test: 25 cases x 4000 steps in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// (b) Destroy returns every object and page.

/// Objects in use per slab class and buddy blocks held by callers per
/// order, from a full walk of the allocator's metadata (which must check
/// out).
fn usage(obj: &LoadedObject) -> (Vec<u64>, Vec<u64>) {
    let a = AllocView::of_object(obj.object()).expect("allocator");
    let r = a
        .check()
        .unwrap_or_else(|v| panic!("allocator metadata: {v:?}"));
    (r.objs_in_use.to_vec(), r.blocks_in_use.to_vec())
}

fn fill_and_destroy(obj: &LoadedObject, cap: u64, n: u64) {
    let mut ops = vec![raw(Kind::Destroy, 0, 0, 0), raw(Kind::Init, 0, 0, cap)];
    ops.extend((0..n).map(|k| raw(Kind::Insert, k * 7919, 0, 0)));
    for chunk in ops.chunks(OPS_MAX) {
        let (done, _) = run_ops(obj, chunk);
        assert!(done.iter().all(|op| op.ret == 0), "fill: {done:?}");
    }
    let tab = obj.ops_addrs(OPS).unwrap_or_else(|e| panic!("{e}")).obj;
    let h = HtabView::new(obj.arena().expect("arena"), tab);
    h.check().expect("filled table");
    assert_eq!(h.len(), Ok(n));
    let (done, _) = run_ops(obj, &[raw(Kind::Destroy, 0, 0, 0)]);
    assert_eq!(done[0].ret, 0, "destroy");
    assert_eq!(h.head().expect("head").buckets, 0, "destroyed: no buckets");
}

#[test]
fn destroy_with_elements_returns_all_memory() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = load(&[OPS]);
    // Warm up (the allocator's root, slabs, caches), then measure.
    fill_and_destroy(&obj, 3000, 2500);
    let before = usage(&obj);
    fill_and_destroy(&obj, 3000, 2500);
    let after = usage(&obj);
    assert_eq!(
        before, after,
        "objects and pages in use around fill + destroy"
    );
    // And while filled, the items and buckets were counted.
    let ops = [raw(Kind::Init, 0, 0, 100), raw(Kind::Insert, 5, 0, 0)];
    run_ops(&obj, &ops);
    let filled = usage(&obj);
    assert!(
        filled.0.iter().sum::<u64>() > before.0.iter().sum::<u64>(),
        "{filled:?} vs {before:?}"
    );
    run_ops(&obj, &[raw(Kind::Destroy, 0, 0, 0)]);
    assert_eq!(usage(&obj), before);
}

// ---------------------------------------------------------------------------
// (c) The locked table under concurrent churn.

/// `struct htab_churn_args`: twelve u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    iters: u64,
    seed: u64,
    inserts: u64,
    deletes: u64,
    found: u64,
    mismatches: u64,
    timeouts: u64,
    full: u64,
    failed: u64,
    seq: u64,
    tab: u64,
    errors: u64,
}

fn churn(obj: &LoadedObject, iters: u64, seed: u64) -> Churn {
    let mut w = [0u64; 12];
    w[0] = iters;
    w[1] = seed;
    let ret = obj
        .run_words(CHURN, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "htab_churn returned {}", ret as i32);
    Churn {
        iters: w[0],
        seed: w[1],
        inserts: w[2],
        deletes: w[3],
        found: w[4],
        mismatches: w[5],
        timeouts: w[6],
        full: w[7],
        failed: w[8],
        seq: w[9],
        tab: w[10],
        errors: w[11],
    }
}

#[test]
fn locked_htab_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    two_churns(&load(&[CHURN, CHURN_INIT]), 200_000);
}

/// The churn built in checked mode loads, runs and reports no bug. Its
/// locked operations run with preemption disabled, where the verifier
/// refuses a global function that may sleep: the checked accessors must
/// not be one.
#[test]
fn locked_htab_churns_in_checked_mode() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = CHECKED_OBJ
        .load(&[CHURN, CHURN_INIT])
        .unwrap_or_else(|e| panic!("{e}"));
    two_churns(&obj, 20_000);
    let view = AllocView::of_object(obj.object()).expect("allocator view");
    assert!(view.leaks().is_ok(), "the object is built in checked mode");
    let (bugs, n) = view.bugs().expect("reports");
    assert_eq!((bugs, n), (vec![], 0));
}

/// Initialises the shared table of `obj`, runs two concurrent htab_churn
/// runs of `iters` steps, and checks their counts and the table.
fn two_churns(obj: &LoadedObject, iters: u64) {
    let mut cap = [1u64 << 20];
    let ret = obj
        .run_words(CHURN_INIT, &mut cap)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "htab_churn_init");
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(2, |t| churn(obj, iters, t + 1));
    eprintln!(
        "htab churn: 2 threads x {iters} steps in {:.0} ms; (inserts, deletes, found) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter()
            .map(|r| (r.inserts, r.deletes, r.found))
            .collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!((r.iters, r.tab), (iters, runs[0].tab));
        assert_eq!(r.mismatches, 0, "run {}: items changed", r.seed);
        assert_eq!(r.timeouts, 0, "run {}: lock timeouts", r.seed);
        assert_eq!(r.failed, 0, "run {}: failures", r.seed);
        assert_eq!(r.full, 0, "run {}: table full", r.seed);
        assert_eq!(r.errors, 0, "run {}: library errors", r.seed);
        assert!(r.inserts > iters / 4 && r.deletes > 0, "{r:?}");
        assert_eq!(r.seq, r.inserts, "every key was inserted once");
    }
    let view = obj.arena().expect("arena");
    let h = HtabView::new(view, runs[0].tab + LOCKED_HTAB_OFF);
    h.check()
        .unwrap_or_else(|e| panic!("HtabView::check(): {e}"));
    let inserted: u64 = runs.iter().map(|r| r.inserts).sum();
    let deleted: u64 = runs.iter().map(|r| r.deletes).sum();
    assert_eq!(h.len(), Ok(inserted - deleted), "nr = inserts - deletes");
    let mut left: HashMap<u64, u64> = HashMap::new();
    for e in h.entries().expect("entries") {
        let item = HtabView::entry_addr(e.node, NODE_OFF);
        let val: u64 = view.read(item).expect("val");
        let tag: u64 = view.read(item + TAG_OFF).expect("tag");
        assert_eq!((val, tag), (val_of(e.key), e.key), "item {item:#x}");
        let (seed, seq) = (e.key >> 32, e.key & 0xffff_ffff);
        let run = runs
            .iter()
            .find(|r| r.seed == seed)
            .unwrap_or_else(|| panic!("key {:#x} from no run", e.key));
        assert!(seq < run.seq, "key {:#x} past its run's seq", e.key);
        *left.entry(seed).or_default() += 1;
    }
    for r in &runs {
        assert_eq!(
            left.get(&r.seed).copied().unwrap_or(0),
            r.inserts - r.deletes,
            "run {}: items left",
            r.seed
        );
    }
}
