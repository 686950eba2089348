//! The latency histogram (bpf/include/scx_arena/lathist.h) against its Rust
//! model: random samples of every magnitude go through `lathist_record`
//! (bpf/tests/test_lathist.bpf.c), and the histogram read back through the
//! arena must match `scx_arena::lathist::LatHist::record` bucket for bucket;
//! its percentiles must bound the exact ones from above within 12.5%.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use scx_arena::lathist::{bucket_of, LatHist};
use scx_arena::testing::{host_ready, LoadedObject, TestObject};

/// bpf/tests/test_lathist.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_lathist.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_lathist.bpf.o")),
};

const RECORD: &str = "lathist_record";
/// `LATHIST_SAMPLES_MAX`.
const SAMPLES_MAX: usize = 4096;

/// Records `samples` in BPF; returns what they added to the histogram
/// (which keeps earlier runs' samples), and its max afterwards.
fn record(obj: &LoadedObject, samples: &[u64]) -> (LatHist, u64) {
    assert!(samples.len() <= SAMPLES_MAX);
    let view = obj.arena().expect("arena");
    let mut w = [0u64, 0, 0];
    assert_eq!(obj.run_words(RECORD, &mut w).expect("run"), 0);
    let before = LatHist::read(&view, w[2]).expect("read the histogram");
    view.write_array(w[1], samples).expect("write the samples");
    w[0] = samples.len() as u64;
    assert_eq!(obj.run_words(RECORD, &mut w).expect("run"), 0);
    let after = LatHist::read(&view, w[2]).expect("read the histogram");
    let added = LatHist {
        count: after.count - before.count,
        sum_ns: after.sum_ns.wrapping_sub(before.sum_ns),
        max_ns: 0,
        buckets: after
            .buckets
            .iter()
            .zip(&before.buckets)
            .map(|(a, b)| a - b)
            .collect(),
    };
    (added, after.max_ns)
}

/// Samples spread over every scale, from 0 to beyond the last bucket.
fn sample() -> impl Strategy<Value = u64> {
    (0u32..64, any::<u64>()).prop_map(|(bits, r)| if bits == 0 { 0 } else { r >> (64 - bits) })
}

#[test]
fn bpf_buckets_match_the_model() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = OBJ.load(&[RECORD]).unwrap_or_else(|e| panic!("{e}"));
    let all = std::cell::RefCell::new(Vec::new());
    let max = std::cell::Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(sample(), 1..SAMPLES_MAX), |batch| {
            let mut model = LatHist::default();
            for &s in &batch {
                model.record(s);
            }
            let (mut got, got_max) = record(&obj, &batch);
            max.set(max.get().max(model.max_ns));
            prop_assert_eq!(got_max, max.get());
            got.max_ns = model.max_ns;
            prop_assert_eq!(&got, &model);
            all.borrow_mut().extend_from_slice(&batch);
            Ok(())
        })
        .expect("BPF and the model agree");
    let mut all = all.into_inner();
    assert!(all.len() >= 100_000, "only {} samples", all.len());

    // Percentiles: never below the exact one, at most one bucket above.
    let mut model = LatHist::default();
    for &s in &all {
        model.record(s);
    }
    all.sort_unstable();
    for p in [50.0, 90.0, 99.0, 99.9, 100.0] {
        let rank = ((p / 100.0) * all.len() as f64).ceil() as usize;
        let exact = all[rank - 1];
        let got = model.percentile(p).expect("not empty");
        assert!(got >= exact, "p{p}: {got} below the exact {exact}");
        assert_eq!(bucket_of(got), bucket_of(exact), "p{p}: {got} vs {exact}");
    }
}
