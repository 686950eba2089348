//! The wake-to-run probe on the host's own scheduler (EEVDF here), attached
//! to the scheduler tracepoints while the wakelat workload runs: filtered to
//! the workload's process, and to its worker threads by name, it counts as
//! many wakeups as the workload saw blocking waits end, and its percentiles
//! are ordered. Its own cost per event comes from the program stats. No
//! timing is checked.

use std::process::{Command, Stdio};

use scx_arena::lathist::LatHist;
use scx_arena::testing::host_ready;
use scx_arena_benches::probe::{Filter, ProbeCounts, ProbeSummary, WakeProbe};
use scx_arena_benches::progstats::{callback_costs, RunTimeStats};
use scx_arena_benches::wakelat::{Summary, WORKER_COMM};

/// Checks a probe's figures against the number of blocking waits the
/// workload counted for the same threads.
fn check(who: &str, hist: &LatHist, counts: &ProbeCounts, sleeps: u64) {
    let p50 = hist.percentile(50.0).expect("samples");
    let p99 = hist.percentile(99.0).expect("samples");
    eprintln!(
        "probe ({who}): samples {} wakeups {} dropped {} p50 {:.1} us p99 {:.1} us max {:.1} us; \
         blocking waits {sleeps}",
        hist.count,
        counts.wakeups,
        counts.dropped,
        p50 as f64 / 1e3,
        p99 as f64 / 1e3,
        hist.max_ns as f64 / 1e3,
    );
    assert!(hist.count > 0, "{who}: no samples");
    assert!(
        p50 <= p99 && p99 <= hist.max_ns,
        "{who}: percentiles out of order"
    );
    assert!(
        hist.count <= counts.wakeups,
        "{who}: a sample needs a wakeup"
    );
    // Every futex wait that blocked ends in exactly one wakeup the
    // tracepoints see, switched in (a sample) or, when the waker was
    // quicker than the sleeper, dropped; thread creation and exit add a
    // few. So the counts agree to within 10%.
    let seen = hist.count + counts.dropped;
    assert!(
        seen * 10 >= sleeps * 9 && seen * 10 <= sleeps * 11 + 1000,
        "{who}: probe samples {} (+{} dropped) vs the workload's blocking waits {sleeps}",
        hist.count,
        counts.dropped
    );
}

#[test]
fn probe_counts_the_workloads_wakeups() {
    if !host_ready("probe_counts_the_workloads_wakeups") {
        return;
    }
    let stats = RunTimeStats::enable().expect("BPF run-time statistics");
    let all = WakeProbe::attach(Filter::Watched).expect("attach the probe");
    let workers =
        WakeProbe::attach_comm(Filter::Watched, WORKER_COMM).expect("attach the worker probe");
    assert_eq!(all.nr_attached(), 3);
    // No warmup: the probes count from the start, the workload too. The
    // workload calibrates before starting its threads, so they start
    // after the watch.
    let child = Command::new(env!("CARGO_BIN_EXE_wakelat"))
        .args(["--message-threads", "2", "--workers", "2"])
        .args([
            "--runtime",
            "1",
            "--warmup",
            "0",
            "--work-us",
            "20",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wakelat");
    all.watch(child.id()).expect("watch wakelat");
    workers.watch(child.id()).expect("watch wakelat");
    let out = child.wait_with_output().expect("wakelat output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wakelat failed:\n{stdout}");
    let s = Summary::parse(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    let json: serde_json::Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line:\n{stdout}"));
    // The workers' samples are exactly their blocking waits.
    let worker_sleeps = s.samples;
    let message_sleeps = json["message_sleeps"].as_u64().expect("message_sleeps");
    eprintln!(
        "wakelat: samples {} p50 {:.1} us p99 {:.1} us; blocking waits: workers \
         {worker_sleeps}, message threads {message_sleeps}",
        s.samples, s.p50_us, s.p99_us
    );

    check(
        "whole process",
        &all.snapshot().expect("histograms"),
        &all.counts().expect("counters"),
        worker_sleeps + message_sleeps,
    );
    check(
        "worker threads",
        &workers.snapshot().expect("histograms"),
        &workers.counts().expect("counters"),
        worker_sleeps,
    );

    // The probe's own cost per event, from the kernel's program stats.
    let costs = callback_costs(all.object()).expect("program stats");
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
    drop(stats);
}

#[test]
fn a_long_comm_prefix_is_refused() {
    let err = WakeProbe::attach_comm(Filter::AllTasks, "a-much-too-long-prefix");
    assert!(err.is_err());
}

#[test]
fn wakeprobe_runs_wakelat_and_both_lines_agree() {
    if !host_ready("wakeprobe_runs_wakelat_and_both_lines_agree") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_wakeprobe"))
        .args(["--costs", "--comm", WORKER_COMM, "--"])
        .arg(env!("CARGO_BIN_EXE_wakelat"))
        .args(["-m", "1", "-t", "2", "--runtime", "1", "--warmup", "0"])
        .output()
        .expect("running wakeprobe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wakeprobe failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w = Summary::parse(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    let p = ProbeSummary::parse(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    eprintln!("{stdout}");
    assert!(p.samples > 0 && p.p50_us <= p.p99_us && p.p99_us <= p.max_us);
    let seen = p.samples + p.dropped;
    assert!(
        seen * 10 >= w.samples * 9 && seen * 10 <= w.samples * 11 + 1000,
        "probe {p:?} vs wakelat {w:?}"
    );
    for prog in ["wp_wakeup", "wp_wakeup_new", "wp_switch"] {
        assert!(
            stdout.contains(&format!("wakeprobe-cost: {prog} runs=")),
            "no cost line for {prog}:\n{stdout}"
        );
    }
}
