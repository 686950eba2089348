//! scx_deadline in a real sched_ext kernel (the VM): each queue back end
//! under stress-ng (cpu, fork, affinity churn) and hackbench, and wakeup
//! latency under CPU load (cyclictest) against the kernel's EEVDF in the
//! same boot.
//!
//! Run: `cargo test -p scx-arena-tests --test vm_deadline -- --nocapture`.

use std::time::Duration;

use scx_arena::run::{build_scheduler, SchedRun, SchedRunResult, CLEAN_EXIT};
use scx_arena::vm::VmConfig;

/// stress-ng's cpu, fork and affinity stressors for `secs` seconds, with
/// hackbench rounds run alongside for `hackbench_secs` seconds; prints
/// `HACKBENCH-ROUNDS <n>` and fails if a hackbench round fails.
fn stress_workload(secs: u32, hackbench_secs: u32) -> String {
    format!(
        "stress-ng --cpu 2 --fork 2 --affinity 2 --timeout {secs}s --metrics-brief &
SNG=$!
end=$(($(date +%s) + {hackbench_secs}))
n=0
while [ $(date +%s) -lt $end ]; do
	hackbench -g 2 -l 50 > /tmp/hackbench.log 2>&1 || {{ cat /tmp/hackbench.log; kill $SNG; exit 1; }}
	n=$((n+1))
done
echo \"HACKBENCH-ROUNDS $n\"
tail -n 1 /tmp/hackbench.log
wait $SNG"
    )
}

/// Bogo ops per stress-ng stressor (`stress-ng: metrc: [pid] cpu 2068 ...`).
fn stressor_ops(log: &str) -> Vec<(String, u64)> {
    log.lines()
        .filter_map(|l| {
            let rest = l.split("metrc:").nth(1)?;
            let mut words = rest.split_whitespace().skip(1);
            let name = words.next()?;
            let ops = words.next()?.parse().ok()?;
            Some((name.to_string(), ops))
        })
        .collect()
}

fn hackbench_rounds(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix("HACKBENCH-ROUNDS "))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs the scheduler with `--queue <queue>` under the stress workload and
/// checks progress, counters and the clean exit.
fn stress_run(queue: &str, secs: u32, hackbench_secs: u32) -> SchedRunResult {
    let bin = build_scheduler("scx_deadline", false).expect("build scx_deadline");
    let result = SchedRun::new(&bin)
        .args(["--queue", queue])
        .workload(stress_workload(secs, hackbench_secs))
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
    if let Err(e) = result.check_clean() {
        panic!("[{queue}] run was not clean: {e}");
    }
    assert_eq!(result.states, ["disabled", "enabled", "disabled"]);
    assert_eq!(result.kernel_exit_reason.as_deref(), Some(CLEAN_EXIT));

    // Every stressor and hackbench made progress.
    let ops = stressor_ops(&result.log);
    println!("[{queue}] stress-ng bogo ops: {ops:?}");
    for s in ["cpu", "fork", "affinity"] {
        let n = ops.iter().find(|(n, _)| n == s).map(|(_, o)| *o);
        assert!(
            n.is_some_and(|n| n > 0),
            "[{queue}] stressor {s} made no progress: {ops:?}"
        );
    }
    let rounds = hackbench_rounds(&result.log).expect("hackbench rounds");
    println!("[{queue}] hackbench rounds: {rounds}");
    assert!(rounds > 0, "[{queue}] no hackbench round finished");

    // The scheduler itself scheduled the workload: its own counters moved.
    let stat = |k: &str| result.stat(k).expect("final stats");
    assert!(stat("enqueue") > 0, "[{queue}] nothing queued");
    assert!(stat("dispatch") > 0, "[{queue}] nothing dispatched");
    assert!(stat("local") > 0, "[{queue}] no idle-CPU placement");
    assert_eq!(stat("fallback"), 0, "[{queue}] the queue refused tasks");
    assert_eq!(
        stat("slice_us"),
        5000,
        "[{queue}] the tune struct reads back"
    );
    result
}

/// The default back end (arena heap): the full stress test.
#[test]
fn heap_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("heap", 20, 15);
}

/// The arena red-black tree back end: a shorter run of the same workload.
#[test]
fn rbtree_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("rbtree", 8, 5);
}

/// The kernel's vtime DSQ back end: a shorter run of the same workload.
#[test]
fn dsq_runs_stress_ng_and_hackbench_and_unregisters_cleanly() {
    stress_run("dsq", 8, 5);
}

/// Two CPU hogs on 2 vCPUs plus cyclictest (SCHED_OTHER, 1 ms period).
const LATENCY_WORKLOAD: &str = "stress-ng --cpu 2 --timeout 14s &
SNG=$!
sleep 1
cyclictest --policy=other -t1 -i 1000 -D 10 -q
wait $SNG";

/// cyclictest's (avg, max) latency in µs from its `-q` summary line
/// (`T: 0 ( 123) P: 0 I:1000 C: 9990 Min: 5 Act: 10 Avg: 20 Max: 300`).
fn cyclictest_avg_max(log: &str) -> Option<(u64, u64)> {
    let line = log
        .lines()
        .find(|l| l.contains("Avg:") && l.contains("Max:"))?;
    let field = |key: &str| {
        line.split(key)
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("Avg:")?, field("Max:")?))
}

/// Wakeup preemption: cyclictest under two CPU hogs, first on the kernel's
/// EEVDF (no scheduler attached), then on scx_deadline, in one boot.
/// Timings are printed; only a loose bound is asserted (the machine is
/// noisy): a scheduler without wakeup preemption averaged 20 ms here.
#[test]
fn wakeup_preemption_keeps_cyclictest_latency_low_under_cpu_load() {
    let bin = build_scheduler("scx_deadline", false).expect("build scx_deadline");
    let mut vm = VmConfig::new()
        .cpus(2)
        .timeout(Duration::from_secs(300))
        .command("eevdf", LATENCY_WORKLOAD);
    if let Ok(seed) = std::env::var("DEADLINE_SEED") {
        vm = vm.deterministic(seed.parse().expect("DEADLINE_SEED is a number"));
    }
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
    let eevdf = cyclictest_avg_max(run.output("eevdf").unwrap_or_default())
        .expect("cyclictest summary on EEVDF");
    let ours = cyclictest_avg_max(run.output("sched").unwrap_or_default())
        .expect("cyclictest summary on scx_deadline");
    println!("cyclictest under 2 CPU hogs, 2 vCPUs (us):   avg    max");
    println!(
        "  EEVDF (no scheduler)                   {:>7} {:>7}",
        eevdf.0, eevdf.1
    );
    println!(
        "  scx_deadline (heap)                    {:>7} {:>7}",
        ours.0, ours.1
    );

    for phase in ["eevdf", "sched"] {
        for l in run.output(phase).unwrap_or_default().lines() {
            if l.contains("Avg:") || l.starts_with("stats") {
                println!("[{phase}] {}", l.trim());
            }
        }
    }
    let preempt = result.stat("preempt").expect("final stats");
    println!("preemptions: {preempt}");
    assert!(
        preempt > 0,
        "no wakeup preemption: {:?}",
        result.final_stats
    );
    assert!(
        ours.0 < 10_000,
        "cyclictest average {} us: wakeup preemption is not working",
        ours.0
    );
}

#[test]
fn parses_cyclictest_and_stress_ng_output() {
    let log = "# /dev/cpu_dma_latency set to 0us\n\
               T: 0 (16114) P: 0 I:1000 C:   1996 Min:     34 Act:   65 Avg:   69 Max:    3666\n\
               stress-ng: metrc: [95] stressor       bogo ops real time\n\
               stress-ng: metrc: [95] cpu                2068      2.00\n\
               stress-ng: metrc: [95] fork                 12      2.00\n\
               HACKBENCH-ROUNDS 7\n";
    assert_eq!(cyclictest_avg_max(log), Some((69, 3666)));
    assert_eq!(
        stressor_ops(log),
        [("cpu".to_string(), 2068), ("fork".to_string(), 12)]
    );
    assert_eq!(hackbench_rounds(log), Some(7));
}
