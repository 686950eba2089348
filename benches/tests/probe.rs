//! The wake-to-run probe on the host's own scheduler (EEVDF here): attached
//! to the scheduler tracepoints and filtered to the wakelat workload, it
//! counts about as many wakeups as the workload performed, and its
//! percentiles are ordered. No timing is checked.

use std::process::Command;

use scx_arena::testing::host_ready;
use scx_arena_benches::probe::{Filter, WakeProbe};
use scx_arena_benches::progstats::{callback_costs, RunTimeStats};
use scx_arena_benches::wakelat::Summary;

#[test]
fn probe_counts_the_workloads_wakeups() {
    if !host_ready("probe_counts_the_workloads_wakeups") {
        return;
    }
    let stats = RunTimeStats::enable().expect("BPF run-time statistics");
    let probe = WakeProbe::attach(Filter::Watched).expect("attach the probe");
    assert_eq!(probe.nr_attached(), 3);
    // No warmup: the probe counts from the start, the workload too.
    let child = Command::new(env!("CARGO_BIN_EXE_wakelat"))
        .args([
            "--message-threads",
            "2",
            "--workers",
            "2",
            "--runtime",
            "1",
            "--warmup",
            "0",
            "--work-us",
            "20",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wakelat");
    probe.watch(child.id()).expect("watch wakelat");
    let out = child.wait_with_output().expect("wakelat output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wakelat failed:\n{stdout}");
    let s = Summary::parse(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    let json: serde_json::Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line:\n{stdout}"));
    let sleeps = json["futex_sleeps"].as_u64().expect("futex_sleeps");

    let hist = probe.snapshot().expect("read the histograms");
    let counts = probe.counts().expect("read the counters");
    let p50 = hist.percentile(50.0).expect("samples");
    let p99 = hist.percentile(99.0).expect("samples");
    eprintln!(
        "wakelat: samples {} futex_sleeps {sleeps} p50 {:.1} us p99 {:.1} us | \
         probe: samples {} wakeups {} dropped {} p50 {:.1} us p99 {:.1} us max {:.1} us",
        s.samples,
        s.p50_us,
        s.p99_us,
        hist.count,
        counts.wakeups,
        counts.dropped,
        p50 as f64 / 1e3,
        p99 as f64 / 1e3,
        hist.max_ns as f64 / 1e3,
    );
    assert!(hist.count > 0);
    assert!(p50 <= p99 && p99 <= hist.max_ns);
    assert!(
        hist.count <= counts.wakeups,
        "a sample needs a stamped wakeup"
    );
    // Every futex wait of the workload that blocked ends in exactly one
    // wakeup the tracepoints see, switched in (a sample) or, when the
    // waker was quicker than the sleeper, dropped. Thread creation and
    // exits add a few more. So the two counts agree to within 10%.
    let seen = hist.count + counts.dropped;
    assert!(
        seen * 10 >= sleeps * 9 && seen * 10 <= sleeps * 11 + 1000,
        "probe samples {} (+{} dropped) vs the workload's blocking waits {sleeps}",
        hist.count,
        counts.dropped
    );

    // The probe's own cost per event, from the kernel's program stats.
    let costs = callback_costs(probe.object()).expect("program stats");
    for c in &costs {
        eprintln!(
            "{}: {} runs, {:.0} ns/run",
            c.name,
            c.run_cnt,
            c.ns_per_run()
        );
    }
    let switch = costs
        .iter()
        .find(|c| c.name == "wp_switch")
        .expect("wp_switch");
    assert!(switch.run_cnt > 0);
    drop(probe);
    drop(stats);
}
