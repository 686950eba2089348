//! scx_deadline in a real sched_ext kernel (the VM): each queue back end
//! under the shared stress suite (stress-ng cpu, fork, affinity churn and
//! hackbench, statistics queries, a live retune), and wakeup
//! latency beside a CPU hog (cyclictest) against the kernel's EEVDF in the
//! same deterministic boot.
//!
//! Run: `cargo test -p scx-arena-tests --test vm_deadline -- --nocapture`.

use std::time::Duration;

use scx_arena::run::{build_scheduler, SchedRun, SchedRunResult, CLEAN_EXIT};
use scx_arena::vm::VmConfig;

/// Runs the scheduler with `--queue <queue>` under the shared stress suite
/// for `secs` (stress-ng cpu/fork/affinity, hackbench, two stats queries, a
/// live retune `tune`) and checks it, its own counters and the clean exit.
fn stress_run(queue: &str, secs: u64, tune: (&str, u64)) -> SchedRunResult {
    let bin = build_scheduler("scx_deadline", false).expect("build scx_deadline");
    let result = SchedRun::new(&bin)
        .args(["--queue", queue])
        .workload(SchedRun::stress_suite(secs, tune))
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(300)))
        .vm()
        .expect("VM run");
    if let Some(t) = result.enabled_after {
        println!(
            "[{queue}] boot to scheduler enabled: {:.1} s",
            t.as_secs_f64()
        );
    }
    println!("[{queue}] final stats: {:?}", result.final_stats);
    println!(
        "[{queue}] stress-ng bogo ops {:?}, hackbench rounds {}",
        result.stressor_ops, result.hackbench_rounds
    );
    if let Err(e) = result.check_stress_suite("enqueue", tune) {
        panic!("[{queue}] stress suite failed: {e}");
    }
    assert_eq!(result.kernel_exit_reason.as_deref(), Some(CLEAN_EXIT));

    // The scheduler itself scheduled the workload: its own counters moved.
    let stat = |k: &str| result.stat(k).expect("final stats");
    assert!(stat("dispatch") > 0, "[{queue}] nothing dispatched");
    assert!(stat("local") > 0, "[{queue}] no idle-CPU placement");
    assert_eq!(stat("fallback"), 0, "[{queue}] the queue refused tasks");
    assert!(
        stat("wake_to_run_count") > 0,
        "[{queue}] no latency samples"
    );
    result
}

/// The default back end (arena heap): the full 20 s stress suite.
#[test]
fn heap_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("heap", 20, ("slice_us", 4000));
}

/// The arena red-black tree back end: a shorter run of the same suite.
#[test]
fn rbtree_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("rbtree", 8, ("preempt_us", 100));
}

/// The kernel's vtime DSQ back end: a shorter run of the same suite.
#[test]
fn dsq_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("dsq", 8, ("preempt_us", 100));
}

/// One CPU hog on one vCPU plus cyclictest (SCHED_OTHER, 1 ms period), its
/// latency histogram (1 µs buckets up to 20 ms) summed up in the guest as
/// `CYCLICTEST avg=<us> max=<us> p50=<us> p99=<us>` (-1: beyond 20 ms).
/// Busybox awk reads numbers with leading zeros as octal: d() strips them.
/// One vCPU: on two, the deterministic mode's round robin freezes a vCPU for
/// up to a tick while its woken task counts as running (README,
/// "Performance"), which swamps the scheduler's part.
const LATENCY_WORKLOAD: &str = r#"stress-ng --cpu 1 --timeout 8s &
SNG=$!
sleep 1
cyclictest --policy=other -t1 -i 1000 -D 4 -q -h 20000 --histfile=/tmp/ct.hist
awk 'function d(x) { sub(/^0+/, "", x); return x + 0 }
/^# Total:/ { n = d($3) }
/^# Avg Latencies:/ { avg = d($4) }
/^# Max Latencies:/ { max = d($4) }
!/^#/ { c[d($1)] = d($2) }
END {
	p50 = -1; p99 = -1; t = 0
	for (i = 0; i < 20000; i++) {
		t += c[i]
		if (p50 < 0 && t * 2 >= n) p50 = i
		if (p99 < 0 && t * 100 >= n * 99) p99 = i
	}
	print "CYCLICTEST avg=" avg " max=" max " p50=" p50 " p99=" p99
}' /tmp/ct.hist
wait $SNG"#;

/// Waits until the guest has been up 6 s. Right after boot the guest is not
/// yet quiet: cyclictest started at 2.7 s of uptime read an EEVDF p99 of
/// 756 us, and 57 us from 4.8 s on (1 s runs, seed 1). EEVDF's phase would
/// otherwise start 2 s before scx_deadline's (which waits for its load).
/// Idle time costs no host time in the deterministic mode.
const SETTLE: &str = "until awk '{ exit !($1 >= 6) }' /proc/uptime; do sleep 0.1; done";

/// cyclictest's latency summary in µs: avg, max, p50, p99 (p50 and p99
/// are -1 when beyond the histogram).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Latency {
    avg: i64,
    max: i64,
    p50: i64,
    p99: i64,
}

fn cyclictest_latency(log: &str) -> Option<Latency> {
    let line = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("CYCLICTEST "))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some(Latency {
        avg: field("avg")?,
        max: field("max")?,
        p50: field("p50")?,
        p99: field("p99")?,
    })
}

/// Wakeup preemption: cyclictest beside a CPU hog on one vCPU, first on the
/// kernel's EEVDF (no scheduler attached), then on scx_deadline, in one
/// deterministic boot (the guest clock counts instructions: the figures are
/// the same whatever the host's load, `DEADLINE_SEED` picks the seed).
/// The issue's aim is checked: scx_deadline's p99 at or below EEVDF's, and
/// its average no more than EEVDF's (a scheduler without wakeup preemption
/// averages 24 ms here, EEVDF about 90 us).
#[test]
fn wakeup_preemption_keeps_cyclictest_latency_at_or_below_eevdf() {
    let bin = build_scheduler("scx_deadline", false).expect("build scx_deadline");
    let seed =
        std::env::var("DEADLINE_SEED").map_or(1, |s| s.parse().expect("DEADLINE_SEED is a number"));
    let vm = VmConfig::new()
        .cpus(1)
        .deterministic(seed)
        .timeout(Duration::from_secs(600))
        .command("eevdf", format!("{SETTLE}\n{LATENCY_WORKLOAD}"));
    let result = SchedRun::new(&bin)
        .workload(LATENCY_WORKLOAD)
        .vm_config(vm)
        .vm()
        .expect("VM run");
    println!("final stats: {:?}", result.final_stats);
    if let Err(e) = result.check_clean() {
        panic!("latency run was not clean: {e}");
    }
    let run = result.vm.as_ref().expect("a VM run");
    assert_eq!(run.exit_code("eevdf"), Some(0), "the EEVDF phase failed");
    let eevdf = cyclictest_latency(run.output("eevdf").unwrap_or_default())
        .expect("cyclictest summary on EEVDF");
    let ours = cyclictest_latency(run.output("sched").unwrap_or_default())
        .expect("cyclictest summary on scx_deadline");
    println!("cyclictest beside 1 CPU hog, 1 vCPU, seed {seed} (us): avg     p50     p99     max");
    for (name, l) in [
        ("EEVDF (no scheduler)", eevdf),
        ("scx_deadline (heap)", ours),
    ] {
        println!(
            "  {name:<40} {:>7} {:>7} {:>7} {:>7}",
            l.avg, l.p50, l.p99, l.max
        );
    }
    let preempt = result.stat("preempt").expect("final stats");
    println!("preemptions: {preempt}");
    assert!(
        preempt > 0,
        "no wakeup preemption: {:?}",
        result.final_stats
    );
    // -1: beyond the histogram's 20 ms.
    assert!(
        ours.p99 >= 0 && (eevdf.p99 < 0 || ours.p99 <= eevdf.p99),
        "cyclictest p99 {} us against EEVDF's {} us",
        ours.p99,
        eevdf.p99
    );
    assert!(
        ours.avg <= eevdf.avg,
        "cyclictest average {} us against EEVDF's {} us",
        ours.avg,
        eevdf.avg
    );
}

#[test]
fn parses_cyclictest_output() {
    let log = "# /dev/cpu_dma_latency set to 0us\n\
               CYCLICTEST avg=69 max=3666 p50=65 p99=-1\n";
    assert_eq!(
        cyclictest_latency(log),
        Some(Latency {
            avg: 69,
            max: 3666,
            p50: 65,
            p99: -1
        })
    );
}
