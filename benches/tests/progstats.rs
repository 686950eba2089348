//! Per-program BPF cost from the kernel's program statistics: a syscall
//! program run N times through BPF_PROG_TEST_RUN is counted N times, and
//! the run time the kernel charged covers the time the program measured
//! inside itself. No absolute timing is checked.

use scx_arena::testing::{host_ready, TestObject};
use scx_arena_benches::progstats::{callback_costs, RunTimeStats};

/// benches/bpf/alloc_bench.bpf.c (its `bench_empty` times a bare loop).
const OBJECT: TestObject = TestObject {
    source: "alloc_bench.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/alloc_bench.bpf.o")),
};
/// `BENCH_ARGS_WORDS` (alloc_bench.h).
const ARGS_WORDS: usize = 12;
const PROG: &str = "bench_empty";

#[test]
fn syscall_program_runs_are_counted_and_timed() {
    if !host_ready("syscall_program_runs_are_counted_and_timed") {
        return;
    }
    let obj = OBJECT.load(&[PROG]).expect("load alloc_bench");
    let before = callback_costs(obj.object()).expect("program stats");
    let stats = RunTimeStats::enable().expect("BPF run-time statistics");
    const RUNS: u64 = 200;
    let mut inside_ns = 0;
    for _ in 0..RUNS {
        // iters, size, thread; bench_empty writes elapsed_ns (word 3).
        let mut words = [0u64; ARGS_WORDS];
        words[0] = 1000;
        words[1] = 64;
        let ret = obj.run_words(PROG, &mut words).expect("test run");
        assert_eq!(ret, 0);
        inside_ns += words[3];
    }
    let after = callback_costs(obj.object()).expect("program stats");
    drop(stats);
    let find = |v: &[scx_arena_benches::progstats::CallbackCost]| {
        v.iter()
            .find(|c| c.name == PROG)
            .cloned()
            .expect("bench_empty in the object")
    };
    let cost = find(&after).since(&find(&before));
    eprintln!(
        "{PROG}: {} runs, {:.0} ns/run; timed inside: {:.0} ns/run",
        cost.run_cnt,
        cost.ns_per_run(),
        inside_ns as f64 / RUNS as f64
    );
    assert_eq!(cost.run_cnt, RUNS, "every test run counted once");
    assert!(cost.run_time_ns > 0);
    // The kernel times the whole run, which contains the timed loop (1%
    // slack for the two clocks' rounding).
    assert!(
        cost.run_time_ns * 101 / 100 >= inside_ns,
        "charged {} ns, measured inside {inside_ns} ns",
        cost.run_time_ns
    );
    // Programs left out of the load are not listed.
    assert_eq!(after.len(), 1, "{after:?}");
}
