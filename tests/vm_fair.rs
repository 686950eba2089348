//! scx_fair in the sched_ext VM: both queue back ends under stress-ng (cpu,
//! fork, affinity churn) and hackbench on a simulated 2-LLC machine (4 vCPUs,
//! two sockets with an L3 each), with the cross-domain steals the topology
//! must produce, and nice levels honoured on a shared CPU.

use std::time::Duration;

use scx_arena::run::{build_scheduler, SchedRun, SchedRunResult, CLEAN_EXIT};
use scx_arena::vm::{Topology, VmConfig};

/// Work that keeps one LLC domain overloaded while the other runs dry, so
/// its CPUs must steal: busy loops start pinned to domain 0 (CPUs 0-1) and
/// are then allowed everywhere; they never sleep, so no wakeup moves them
/// and only the other domain's dispatches can.
const UNEVEN: &str = "\
pids=''
for i in 1 2 3 4 5 6; do taskset 0x3 sh -c 'while :; do :; done' & pids=\"$pids $!\"; done
sleep 1
for p in $pids; do taskset -p 0xf $p > /dev/null; done
sleep 4
kill $pids
wait $pids 2>/dev/null
echo UNEVEN-DONE";

/// Weighted fairness: two counting loops share CPU 3, one at nice 0 (weight
/// 1024) and one reniced to 5 (weight 335), for 6 s; each prints its count
/// (busybox has renice, not nice).
const WEIGHTS: &str = "\
taskset 0x8 sh -c 'trap \"echo COUNT-nice0 \\$n; exit 0\" TERM; n=0; while :; do n=$((n+1)); done' & A=$!
taskset 0x8 sh -c 'trap \"echo COUNT-nice5 \\$n; exit 0\" TERM; n=0; while :; do n=$((n+1)); done' & B=$!
renice 5 -p $B > /dev/null
sleep 6
kill -TERM $A $B
wait $A $B";

/// The workload: the shared stress suite (stress-ng cpu/fork/affinity,
/// hackbench, two stats queries, the live retune `tune`) with the uneven
/// burst beside it, then the weights.
fn workload(secs: u64, tune: (&str, u64)) -> String {
    format!(
        "( {UNEVEN} ) &
U=$!
( {} )
rc=$?
wait $U
{WEIGHTS}
exit $rc",
        SchedRun::stress_suite(secs, tune)
    )
}

/// The count a weight-test loop printed (`COUNT-<name> <n>`).
fn count(log: &str, name: &str) -> u64 {
    let key = format!("COUNT-{name} ");
    log.lines()
        .find_map(|l| l.trim().strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no {key}line in the log:\n{}",
                scx_arena::vm::tail_lines(log, 30)
            )
        })
}

fn run(args: &[&str], secs: u64) -> SchedRunResult {
    let tune = ("slice_us", 10_000);
    let bin = build_scheduler("scx_fair", false).expect("build scx_fair");
    let result = SchedRun::new(&bin)
        .args(args.iter().copied())
        .workload(workload(secs, tune))
        .vm_config(
            VmConfig::new()
                .topology(Topology::llcs(2, 2))
                .timeout(Duration::from_secs(400)),
        )
        .vm()
        .expect("VM run");
    if let Some(t) = result.enabled_after {
        println!("boot to scheduler enabled: {:.1} s", t.as_secs_f64());
    }
    println!("final stats: {:?}", result.final_stats);
    println!(
        "stress-ng bogo ops {:?}, hackbench rounds {}",
        result.stressor_ops, result.hackbench_rounds
    );
    if let Err(e) = result.check_stress_suite("enqueues", tune) {
        panic!("scx_fair {args:?} stress suite failed: {e}");
    }
    assert_eq!(result.kernel_exit_reason.as_deref(), Some(CLEAN_EXIT));
    assert!(
        result.log.contains("UNEVEN-DONE"),
        "the uneven burst did not end"
    );

    // The scheduler saw both LLCs and scheduled the work itself.
    let stat = |k: &str| {
        result
            .stat(k)
            .unwrap_or_else(|| panic!("no {k} in the final stats"))
    };
    assert_eq!(stat("domains"), 2, "{:?}", result.final_stats);
    assert!(stat("enqueues") > 0, "{:?}", result.final_stats);
    assert!(stat("dispatches") > 0, "{:?}", result.final_stats);
    assert!(
        stat("local") + stat("remote") > 0,
        "{:?}",
        result.final_stats
    );
    assert_eq!(stat("fallback"), 0, "{:?}", result.final_stats);
    assert!(stat("wake_to_run_count") > 0, "{:?}", result.final_stats);

    // Weight 1024 against 335 on one CPU: about 3 to 1; at least 1.5 to 1.
    let (heavy, light) = (count(&result.log, "nice0"), count(&result.log, "nice5"));
    let ratio = heavy as f64 / light.max(1) as f64;
    println!("nice 0 vs nice 5 on one CPU: {heavy} vs {light} loops, ratio {ratio:.2}");
    assert!(ratio > 1.5, "weights not honoured: {heavy} vs {light}");
    result
}

/// The arena RB-tree back end on 2 LLCs: stress-ng and hackbench for more
/// than 20 s, every stressor progressing, clean unload, and the idle domain
/// stealing from the overloaded one.
#[test]
fn fair_rbtree_two_llcs_stress_steals_and_unloads_cleanly() {
    let result = run(&["--queue", "rbtree"], 20);
    let stolen = result.stat("stolen").expect("stolen in the final stats");
    assert!(
        stolen > 0,
        "no cross-domain steals: {:?}",
        result.final_stats
    );
}

/// The kernel-DSQ back end under the same policy, shorter.
#[test]
fn fair_dsq_two_llcs_stress_unloads_cleanly() {
    let result = run(&["--queue", "dsq"], 8);
    let stolen = result.stat("stolen").expect("stolen in the final stats");
    println!("dsq back end: {stolen} steals");
}
