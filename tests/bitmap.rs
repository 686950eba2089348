//! The arena bitmap (bpf/include/scx_arena/bitmap.h) from the host: every
//! operation against a Rust bitset model (proptest, driving `bitmap_ops` in
//! bpf/tests/test_bitmap.bpf.c), atomic claims by two concurrent
//! `bitmap_claim` runs, and both read back from userspace with
//! `scx_arena::bitmap::BitmapView`.

use std::cell::RefCell;
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use scx_arena::arena::{ArenaPod, ArenaView};
use scx_arena::bitmap::BitmapView;
use scx_arena::testing::{host_ready, run_at_once, LoadedObject, TestObject};

/// bpf/tests/test_bitmap.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_bitmap.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_bitmap.bpf.o")),
};

const OPS: &str = "bitmap_ops";
const CLAIM: &str = "bitmap_claim";

/// `BM_OPS_MAX`.
const OPS_MAX: usize = 1024;
/// `BM_NR`.
const NR: usize = 3;
/// `BM_CLAIM_BITS`.
const CLAIM_BITS: u32 = 4096;

const EINVAL: i64 = 22;
const ENOENT: i64 = 2;

/// Sizes the bitmaps get: word boundaries and a cpumask's.
const SIZES: &[u32] = &[1, 2, 63, 64, 65, 127, 128, 129, 200, 512, 1000];

fn load(progs: &[&str]) -> LoadedObject {
    OBJ.load(progs).unwrap_or_else(|e| panic!("{e}"))
}

/// `enum bm_op_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Kind {
    Alloc = 1,
    Set = 2,
    Clear = 3,
    Test = 4,
    TestAndSet = 5,
    TestAndClear = 6,
    Fill = 7,
    Zero = 8,
    And = 9,
    Or = 10,
    AndNot = 11,
    Copy = 12,
    Equal = 13,
    Subset = 14,
    Intersects = 15,
    Empty = 16,
    Full = 17,
    First = 18,
    Next = 19,
    FirstZero = 20,
    Weight = 21,
}

/// `struct bm_op`, byte for byte.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct RawOp {
    op: u32,
    dst: u32,
    a: u32,
    b: u32,
    arg: i64,
    ret: i64,
}
// SAFETY: integers only, no padding; any bits are valid.
unsafe impl ArenaPod for RawOp {}

/// Runs `ops` (at most `OPS_MAX`) in one bitmap_ops run; returns them with
/// their results, and the address of `bm_ops_maps`.
fn run_ops(obj: &LoadedObject, ops: &[RawOp]) -> (Vec<RawOp>, u64) {
    let (done, at) = obj
        .run_ops(OPS, OPS_MAX, ops)
        .unwrap_or_else(|e| panic!("{e}"));
    (done, at.obj)
}

/// One generated step: an operation on bitmap indices, with `arg`
/// picking (modulo) its bit (0..=nr_bits + 1, so past the end too) or a size.
#[derive(Debug, Clone)]
struct Step {
    kind: Kind,
    dst: usize,
    a: usize,
    b: usize,
    arg: u64,
    /// For Next: start at -1 (or lower) instead.
    low: bool,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        1 => Just(Kind::Alloc),
        8 => Just(Kind::Set),
        4 => Just(Kind::Clear),
        3 => Just(Kind::Test),
        4 => Just(Kind::TestAndSet),
        3 => Just(Kind::TestAndClear),
        1 => Just(Kind::Fill),
        1 => Just(Kind::Zero),
        2 => Just(Kind::And),
        2 => Just(Kind::Or),
        2 => Just(Kind::AndNot),
        1 => Just(Kind::Copy),
        2 => Just(Kind::Equal),
        2 => Just(Kind::Subset),
        2 => Just(Kind::Intersects),
        1 => Just(Kind::Empty),
        1 => Just(Kind::Full),
        2 => Just(Kind::First),
        4 => Just(Kind::Next),
        2 => Just(Kind::FirstZero),
        2 => Just(Kind::Weight),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        kind(),
        0..NR,
        0..NR,
        0..NR,
        any::<u64>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(kind, dst, a, b, arg, low)| Step {
            kind,
            dst,
            a,
            b,
            arg,
            low,
        })
}

/// The model: each bitmap's bits.
struct Model {
    maps: [Vec<bool>; NR],
}

impl Model {
    /// Plans `s` against the model: the raw op and the `ret` it must give.
    fn plan(&mut self, s: &Step, case_size: u32) -> (RawOp, i64) {
        let n = self.maps[s.dst].len();
        let bit = (s.arg % (n as u64 + 2)) as usize;
        let mut arg = bit as i64;
        let ret: i64 = match s.kind {
            Kind::Alloc => {
                // Mostly the case's size, so binary ops mostly apply.
                let size = if s.low {
                    SIZES[(s.arg % SIZES.len() as u64) as usize]
                } else {
                    case_size
                };
                arg = i64::from(size);
                self.maps[s.dst] = vec![false; size as usize];
                0
            }
            Kind::Set | Kind::Clear | Kind::TestAndSet | Kind::TestAndClear if bit >= n => -EINVAL,
            Kind::Set => {
                self.maps[s.dst][bit] = true;
                0
            }
            Kind::Clear => {
                self.maps[s.dst][bit] = false;
                0
            }
            Kind::Test => i64::from(bit < n && self.maps[s.dst][bit]),
            Kind::TestAndSet => {
                let old = self.maps[s.dst][bit];
                self.maps[s.dst][bit] = true;
                i64::from(old)
            }
            Kind::TestAndClear => {
                let old = self.maps[s.dst][bit];
                self.maps[s.dst][bit] = false;
                i64::from(old)
            }
            Kind::Fill | Kind::Zero => {
                let v = s.kind == Kind::Fill;
                self.maps[s.dst].iter_mut().for_each(|b| *b = v);
                0
            }
            Kind::And | Kind::Or | Kind::AndNot => {
                let (a, b) = (&self.maps[s.a], &self.maps[s.b]);
                if a.len() != n || b.len() != n {
                    -EINVAL
                } else {
                    let r: Vec<bool> = a
                        .iter()
                        .zip(b)
                        .map(|(&x, &y)| match s.kind {
                            Kind::And => x && y,
                            Kind::Or => x || y,
                            _ => x && !y,
                        })
                        .collect();
                    self.maps[s.dst] = r;
                    0
                }
            }
            Kind::Copy => {
                if self.maps[s.a].len() != n {
                    -EINVAL
                } else {
                    self.maps[s.dst] = self.maps[s.a].clone();
                    0
                }
            }
            Kind::Equal | Kind::Subset | Kind::Intersects => {
                let (a, b) = (&self.maps[s.a], &self.maps[s.b]);
                let r = a.len() == b.len()
                    && match s.kind {
                        Kind::Equal => a == b,
                        Kind::Subset => a.iter().zip(b).all(|(&x, &y)| !x || y),
                        _ => a.iter().zip(b).any(|(&x, &y)| x && y),
                    };
                i64::from(r)
            }
            Kind::Empty => i64::from(!self.maps[s.dst].iter().any(|&b| b)),
            Kind::Full => i64::from(self.maps[s.dst].iter().all(|&b| b)),
            Kind::First | Kind::Next | Kind::FirstZero => {
                let from = if s.kind == Kind::Next {
                    if s.low {
                        arg = -1 - (bit as i64 % 3);
                    } else {
                        // After n, around the end too.
                        arg = bit as i64 - 1;
                    }
                    (arg.max(-1) + 1) as usize
                } else {
                    0
                };
                let want = s.kind != Kind::FirstZero;
                self.maps[s.dst]
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|(_, &b)| b == want)
                    .map_or(-ENOENT, |(i, _)| i as i64)
            }
            Kind::Weight => self.maps[s.dst].iter().filter(|&&b| b).count() as i64,
        };
        let op = RawOp {
            op: s.kind as u32,
            dst: s.dst as u32,
            a: s.a as u32,
            b: s.b as u32,
            arg,
            ret: 0,
        };
        (op, ret)
    }

    /// Every bitmap, read from userspace, holds the model's bits.
    fn compare(&self, view: ArenaView<'_>, maps: u64) -> Result<(), TestCaseError> {
        let addrs = view
            .read::<[u64; NR]>(maps)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (i, (&addr, want)) in addrs.iter().zip(&self.maps).enumerate() {
            let bm = BitmapView::read(view, addr)
                .map_err(|e| TestCaseError::fail(format!("bitmap {i}: {e}")))?;
            bm.check()
                .map_err(|e| TestCaseError::fail(format!("bitmap {i}: {e}")))?;
            prop_assert_eq!(bm.nr_bits() as usize, want.len(), "bitmap {} size", i);
            prop_assert_eq!(&bm.to_bools(), want, "bitmap {} bits", i);
            let ones: Vec<u32> = bm.ones().collect();
            let want_ones: Vec<u32> = (0..want.len() as u32)
                .filter(|&b| want[b as usize])
                .collect();
            prop_assert_eq!(bm.weight() as usize, want_ones.len());
            prop_assert_eq!(ones, want_ones, "bitmap {} set bits", i);
        }
        Ok(())
    }
}

/// Runs one generated case: all bitmaps (re)allocated at `size`, then the
/// steps in batches, each op's result checked against the model, and the
/// bitmaps compared after every batch.
fn run_case(obj: &LoadedObject, size: u32, steps: &[Step]) -> Result<(), TestCaseError> {
    let view = obj.arena().expect("arena");
    let mut model = Model {
        maps: [vec![], vec![], vec![]],
    };
    let init: Vec<Step> = (0..NR)
        .map(|i| Step {
            kind: Kind::Alloc,
            dst: i,
            a: 0,
            b: 0,
            arg: 0,
            low: false,
        })
        .collect();
    let mut done_steps = 0usize;
    for batch in std::iter::once(&init[..]).chain(steps.chunks(OPS_MAX)) {
        let (ops, want): (Vec<RawOp>, Vec<i64>) = batch.iter().map(|s| model.plan(s, size)).unzip();
        let (done, maps) = run_ops(obj, &ops);
        for (k, (op, w)) in done.iter().zip(want).enumerate() {
            prop_assert_eq!(
                op.ret,
                w,
                "step {} ({:?} dst {} a {} b {} arg {})",
                done_steps + k,
                batch[k].kind,
                op.dst,
                op.a,
                op.b,
                op.arg
            );
        }
        done_steps += batch.len();
        model.compare(view, maps)?;
    }
    Ok(())
}

#[test]
fn bitmap_matches_a_bitset_model() {
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
    // One object for all cases: each case reallocates its bitmaps first.
    let cache: RefCell<Option<LoadedObject>> = RefCell::new(None);
    let strategy = (
        prop::sample::select(SIZES),
        prop::collection::vec(step(), 4000),
    );
    let result = runner.run(&strategy, |(size, steps)| {
        let obj = cache.borrow_mut().take().unwrap_or_else(|| load(&[OPS]));
        let r = run_case(&obj, size, &steps);
        *cache.borrow_mut() = Some(obj);
        r
    });
    eprintln!(
        "bitmap model test: 25 cases x 4000 steps in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// Atomic claims by two concurrent runs.

/// `struct bm_claim_args`: six u64s.
#[derive(Debug, Clone, Copy)]
struct Claim {
    won: u64,
    shared: u64,
    mine: u64,
    errors: u64,
}

fn claim(obj: &LoadedObject, mode: u64, thread: u64) -> Claim {
    let mut w = [mode, thread, 0, 0, 0, 0];
    let ret = obj
        .run_words(CLAIM, &mut w)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ret, 0, "bitmap_claim returned {}", ret as i32);
    Claim {
        won: w[2],
        shared: w[3],
        mine: w[4],
        errors: w[5],
    }
}

#[test]
fn two_threads_claim_every_bit_exactly_once() {
    if !host_ready(module_path!()) {
        return;
    }
    const ROUNDS: usize = 150;
    let obj = load(&[CLAIM]);
    let view = obj.arena().expect("arena");
    let start = Instant::now();
    let mut contended = 0u64;
    for round in 0..ROUNDS {
        for mode in [0u64, 1] {
            let runs: Vec<Claim> = run_at_once(2, |t| claim(&obj, mode, t));
            let what = if mode == 0 { "claim" } else { "release" };
            let mine: Vec<BitmapView> = runs
                .iter()
                .map(|r| BitmapView::read(view, r.mine).expect("record bitmap"))
                .collect();
            for (t, (r, m)) in runs.iter().zip(&mine).enumerate() {
                assert_eq!(r.errors, 0, "round {round} {what}: thread {t} errors");
                assert_eq!(u64::from(m.weight()), r.won, "round {round} {what}");
            }
            // Each bit won by exactly one of the two.
            for bit in 0..CLAIM_BITS {
                let n = mine.iter().filter(|m| m.test(bit)).count();
                assert_eq!(n, 1, "round {round} {what}: bit {bit} won {n} times");
            }
            assert_eq!(runs[0].won + runs[1].won, u64::from(CLAIM_BITS));
            contended += runs[0].won.min(runs[1].won);
            let shared = BitmapView::read(view, runs[0].shared).expect("shared");
            shared.check().expect("shared bitmap");
            let want = if mode == 0 { CLAIM_BITS } else { 0 };
            assert_eq!(shared.weight(), want, "round {round} {what}: shared bitmap");
        }
    }
    eprintln!(
        "bitmap claims: {ROUNDS} rounds x 2 x {CLAIM_BITS} bits in {:.0} ms; \
         bits won by the thread that won fewer: {contended}",
        start.elapsed().as_secs_f64() * 1e3
    );
}
