//! The task run queue (bpf/include/scx_arena/rq.h) from the host: both modes
//! against a Rust model (a `VecDeque` for FIFO, a `BTreeMap` ordered by
//! (vtime, push order) for vtime), driving `rq_ops` in
//! bpf/tests/test_rq.bpf.c, and one vtime queue under two concurrent
//! `rq_churn` runs; the queue is read back with `scx_arena::rq::RqView`
//! after every batch.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::arena::ArenaPod;
use scx_arena::globals::read_global_bytes;
use scx_arena::rq::{RqMode, RqView};
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_rq.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_rq.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_rq.bpf.o")),
};

/// `RQ_SLOTS`.
const SLOTS: i32 = 256;
/// `RQ_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `RQ_KEEP`.
const KEEP: u32 = 0xff;
/// `RQ_TASK_SIZE`: bytes per context; the node sits at offset 8.
const TASK_SIZE: u64 = 64;
const NODE_OFF: u64 = 8;
/// `RQ_CHURN_TASKS`.
const CHURN_TASKS: u64 = 512;

const EINVAL: i64 = 22;
const EEXIST: i64 = 17;

/// `enum rq_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum OpKind {
    Push = 1,
    Pop = 2,
    Peek = 3,
    Remove = 4,
    Nr = 5,
    Queued = 6,
}

/// `struct rq_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    slot: i32,
    pid: i32,
    pad: u32,
    vtime: u64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

fn raw(op: OpKind, slot: i32, pid: i32, vtime: u64) -> RawOp {
    RawOp {
        op: op as u32,
        slot,
        pid,
        pad: 0,
        vtime,
        ret: 0,
    }
}

/// What one rq_ops run reported.
struct OpsRun {
    buf: u64,
    rq: u64,
    slots: u64,
    ret: i64,
}

/// One rq_ops run of the first `nr` buffer entries; `mode` re-initialises
/// the queue (or `KEEP`).
fn ops_run(obj: &LoadedObject, nr: usize, mode: u32) -> OpsRun {
    let mut ctx = [0u8; 40];
    ctx[0..4].copy_from_slice(&(nr as u32).to_ne_bytes());
    ctx[4..8].copy_from_slice(&mode.to_ne_bytes());
    let ret = obj
        .run_raw("rq_ops", Some(&mut ctx))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "rq_ops returned {}", ret as i32);
    let word = |i: usize| u64::from_ne_bytes(ctx[i..i + 8].try_into().expect("8 bytes"));
    OpsRun {
        buf: word(8),
        rq: word(16),
        slots: word(24),
        ret: word(32) as i64,
    }
}

/// Runs `ops` in one rq_ops run on the current queue; returns them with
/// their results.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> Vec<RawOp> {
    assert!(ops.len() <= OPS_MAX);
    let view = obj.arena().expect("arena");
    let buf = ops_run(obj, 0, KEEP).buf;
    view.write_array(buf, ops).expect("write the op buffer");
    ops_run(obj, ops.len(), KEEP);
    view.read_array::<RawOp>(buf, ops.len())
        .expect("read the op buffer")
}

/// One step of a generated sequence.
#[derive(Debug, Clone)]
enum Step {
    /// Push a context (slot; -1 is a NULL context) with this vtime.
    Push(i32, u64),
    Pop,
    Peek,
    Remove(i32),
    Nr,
    Queued(i32),
}

fn slot() -> impl Strategy<Value = i32> {
    prop_oneof![40 => 0..SLOTS, 1 => Just(-1)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Few distinct vtimes: plenty of ties, whose order is under test.
        6 => (slot(), 0u64..64).prop_map(|(s, v)| Step::Push(s, v)),
        4 => Just(Step::Pop),
        1 => Just(Step::Peek),
        2 => slot().prop_map(Step::Remove),
        1 => Just(Step::Nr),
        1 => slot().prop_map(Step::Queued),
    ]
}

/// The model of one queue.
struct Model {
    mode: RqMode,
    fifo: VecDeque<i32>,
    /// (vtime, push number) -> slot.
    vtime: BTreeMap<(u64, u64), i32>,
    /// slot -> its key in `vtime`.
    key: HashMap<i32, (u64, u64)>,
    pid: HashMap<i32, i32>,
    pushes: u64,
}

impl Model {
    fn new(mode: RqMode) -> Model {
        Model {
            mode,
            fifo: VecDeque::new(),
            vtime: BTreeMap::new(),
            key: HashMap::new(),
            pid: HashMap::new(),
            pushes: 0,
        }
    }

    fn queued(&self, s: i32) -> bool {
        match self.mode {
            RqMode::Fifo => self.fifo.contains(&s),
            RqMode::Vtime => self.key.contains_key(&s),
        }
    }

    fn len(&self) -> usize {
        match self.mode {
            RqMode::Fifo => self.fifo.len(),
            RqMode::Vtime => self.vtime.len(),
        }
    }

    fn head(&self) -> Option<i32> {
        match self.mode {
            RqMode::Fifo => self.fifo.front().copied(),
            RqMode::Vtime => self.vtime.values().next().copied(),
        }
    }

    fn take(&mut self, s: i32) {
        match self.mode {
            RqMode::Fifo => self.fifo.retain(|&x| x != s),
            RqMode::Vtime => {
                if let Some(k) = self.key.remove(&s) {
                    self.vtime.remove(&k);
                }
            }
        }
    }

    /// The slots in dispatch order.
    fn order(&self) -> Vec<i32> {
        match self.mode {
            RqMode::Fifo => self.fifo.iter().copied().collect(),
            RqMode::Vtime => self.vtime.values().copied().collect(),
        }
    }

    /// The op of `s` and the result it must have (`RawOp` with the outputs
    /// filled in), updating the model.
    fn plan(&mut self, s: &Step) -> (RawOp, RawOp) {
        match *s {
            Step::Push(slot, vt) => {
                self.pushes += 1;
                let pid = 1000 + self.pushes as i32;
                let op = raw(OpKind::Push, slot, pid, vt);
                let mut want = op;
                if slot < 0 {
                    want.ret = -EINVAL;
                } else if self.queued(slot) {
                    want.ret = -EEXIST;
                } else {
                    match self.mode {
                        RqMode::Fifo => self.fifo.push_back(slot),
                        RqMode::Vtime => {
                            self.vtime.insert((vt, self.pushes), slot);
                            self.key.insert(slot, (vt, self.pushes));
                        }
                    }
                    self.pid.insert(slot, pid);
                }
                (op, want)
            }
            Step::Pop | Step::Peek => {
                let kind = if matches!(s, Step::Pop) {
                    OpKind::Pop
                } else {
                    OpKind::Peek
                };
                let op = raw(kind, 0, 0, 0);
                let mut want = op;
                match self.head() {
                    Some(h) => {
                        want.slot = h;
                        want.pid = self.pid[&h];
                        if kind == OpKind::Pop {
                            self.take(h);
                        }
                    }
                    None => want.slot = -1,
                }
                (op, want)
            }
            Step::Remove(slot) => {
                let op = raw(OpKind::Remove, slot, 0, 0);
                let mut want = op;
                if slot >= 0 && self.queued(slot) {
                    self.take(slot);
                } else {
                    want.ret = -EINVAL;
                }
                (op, want)
            }
            Step::Nr => {
                let op = raw(OpKind::Nr, 0, 0, 0);
                let mut want = op;
                want.vtime = self.len() as u64;
                (op, want)
            }
            Step::Queued(slot) => {
                let op = raw(OpKind::Queued, slot, 0, 0);
                let mut want = op;
                want.vtime = u64::from(slot >= 0 && self.queued(slot));
                (op, want)
            }
        }
    }

    /// The queue in the arena, read from userspace, is the model.
    fn compare(&self, obj: &LoadedObject, run: &OpsRun) -> Result<(), TestCaseError> {
        let view = obj.arena().expect("arena");
        let q = RqView::new(view, run.rq);
        let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(format!("RqView: {e}"));
        q.check().map_err(|e| fail(&e))?;
        prop_assert_eq!(q.mode().map_err(|e| fail(&e))?, self.mode);
        let queued = q.queued().map_err(|e| fail(&e))?;
        let slots: Vec<i32> = queued
            .iter()
            .map(|t| ((t.node - NODE_OFF - run.slots) / TASK_SIZE) as i32)
            .collect();
        prop_assert_eq!(&slots, &self.order(), "the queue in dispatch order");
        for (t, s) in queued.iter().zip(&slots) {
            prop_assert_eq!(t.pid, self.pid[s], "pid of slot {}", s);
        }
        Ok(())
    }
}

/// Runs one generated sequence in `mode` on a freshly initialised queue.
fn run_case(obj: &LoadedObject, mode: RqMode, steps: &[Step]) -> Result<(), TestCaseError> {
    let run = ops_run(obj, 0, mode as u32);
    prop_assert_eq!(run.ret, 0, "rq init");
    let mut model = Model::new(mode);
    model.compare(obj, &run)?;
    for batch in steps.chunks(OPS_MAX) {
        let (ops, want): (Vec<RawOp>, Vec<RawOp>) = batch.iter().map(|s| model.plan(s)).unzip();
        let done = run_ops(obj, &ops);
        for (i, (got, want)) in done.iter().zip(&want).enumerate() {
            prop_assert_eq!(
                (got.slot, got.pid, got.vtime, got.ret),
                (want.slot, want.pid, want.vtime, want.ret),
                "op {} of the batch ({:?}): (slot, pid, vtime, ret)",
                i,
                batch[i]
            );
        }
        model.compare(obj, &run)?;
    }
    Ok(())
}

fn model_test(mode: RqMode) {
    // 25 cases of 4000 steps: 100,000 operations per mode.
    let config = Config {
        cases: 25,
        max_shrink_iters: 1024,
        max_shrink_time: 20_000,
        failure_persistence: None,
        ..Config::default()
    };
    let start = Instant::now();
    let mut runner = TestRunner::new(config);
    // One object for all cases: each case re-initialises the queue (and
    // returns the old heap array); reloaded after a panic.
    let cache: RefCell<Option<LoadedObject>> = RefCell::new(None);
    let result = runner.run(&prop::collection::vec(step(), 4000), |steps| {
        let obj = cache
            .borrow_mut()
            .take()
            .unwrap_or_else(|| OBJ.load(&["rq_ops"]).unwrap_or_else(|e| panic!("{e}")));
        let r = run_case(&obj, mode, &steps);
        *cache.borrow_mut() = Some(obj);
        r
    });
    eprintln!(
        "rq {mode:?} model test: 25 cases x 4000 steps in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn fifo_rq_matches_a_vecdeque_model() {
    if !host_ready(module_path!()) {
        return;
    }
    model_test(RqMode::Fifo);
}

#[test]
fn vtime_rq_matches_a_btreemap_model() {
    if !host_ready(module_path!()) {
        return;
    }
    model_test(RqMode::Vtime);
}

/// `struct rq_churn_args`: ten u64s.
#[derive(Debug, Default, Clone, Copy)]
struct Churn {
    thread: u64,
    pushes: u64,
    pops: u64,
    mismatches: u64,
    timeouts: u64,
    full: u64,
    rq: u64,
    tasks: u64,
}

fn churn(obj: &LoadedObject, iters: u64, thread: u64) -> Churn {
    let mut w = [0u64; 10];
    w[0] = iters;
    w[1] = thread;
    let ret = obj
        .run_words("rq_churn", &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "rq_churn returned {}", ret as i32);
    Churn {
        thread: w[1],
        pushes: w[2],
        pops: w[3],
        mismatches: w[4],
        timeouts: w[5],
        full: w[6],
        rq: w[7],
        tasks: w[9],
    }
}

#[test]
fn vtime_rq_survives_two_concurrent_churns() {
    if !host_ready(module_path!()) {
        return;
    }
    const ITERS: u64 = 300_000;
    let obj = OBJ
        .load(&["rq_churn", "rq_churn_init"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(obj.run_words("rq_churn_init", &mut [0u64; 1]).ok(), Some(0));
    let start = Instant::now();
    let runs: Vec<Churn> = run_at_once(2, |t| churn(&obj, ITERS, t));
    eprintln!(
        "rq churn: 2 threads x {ITERS} steps in {:.0} ms; (pushes, pops) {:?}",
        start.elapsed().as_secs_f64() * 1e3,
        runs.iter().map(|r| (r.pushes, r.pops)).collect::<Vec<_>>()
    );
    for r in &runs {
        assert_eq!(r.rq, runs[0].rq);
        assert_eq!(
            r.mismatches, 0,
            "thread {}: popped contexts wrong",
            r.thread
        );
        assert_eq!(r.timeouts, 0, "thread {}: lock timeouts", r.thread);
        assert_eq!(r.full, 0, "thread {}: pushes refused", r.thread);
        assert!(r.pushes > ITERS / 8 && r.pops > ITERS / 8, "{r:?}");
    }
    let record = read_global_bytes(obj.object(), "scx_arena_last_error").expect("error record");
    let errors = u64::from_ne_bytes(record[..8].try_into().expect("count"));
    assert_eq!(errors, 0, "the library raised errors");

    let view = obj.arena().expect("arena");
    let q = RqView::new(view, runs[0].rq);
    q.check().unwrap_or_else(|e| panic!("RqView::check(): {e}"));
    assert_eq!(q.mode(), Ok(RqMode::Vtime));
    let pushed: u64 = runs.iter().map(|r| r.pushes).sum();
    let popped: u64 = runs.iter().map(|r| r.pops).sum();
    let queued = q.queued().expect("queued tasks");
    assert_eq!(
        queued.len() as u64,
        pushed - popped,
        "queued = pushes - pops"
    );
    // Every task left carries its own pid (0x10000 | index), once, in
    // vtime order.
    let mut seen = HashSet::new();
    let mut last = 0u64;
    for t in &queued {
        let idx = (t.node - NODE_OFF - runs[0].tasks) / TASK_SIZE;
        assert!(
            idx < 2 * CHURN_TASKS,
            "task {:#x} is no churn context",
            t.node
        );
        assert!(seen.insert(t.node), "task {:#x} queued twice", t.node);
        assert_eq!(t.pid as u64, 0x10000 | idx, "pid of context {idx}");
        assert!(t.vtime >= last, "vtime order: {} after {last}", t.vtime);
        last = t.vtime;
    }
}
