//! This scheduler's smoke test in a real sched_ext kernel: the VM boots
//! Debian's sched_ext kernel under qemu (cached after the first download),
//! or the scheduler runs directly on a sched_ext host. Needs root and qemu
//! (`tools/test` installs them). Run it alone with `cargo test -p scx_template`.
//!
//! A fork (`tools/new-scheduler`) gets this file renamed: keep it passing as
//! the policy changes, and add a test for each policy decision beside it.

use std::time::Duration;

use scx_arena::run::{SchedRun, CLEAN_EXIT};
use scx_arena::vm::{tail_lines, VmConfig};

/// The scheduler binary cargo built for this test.
const BIN: &str = env!("CARGO_BIN_EXE_scx_template");

/// What the run does besides the stress suite: the kernel's name for the
/// scheduler, an out-of-range retune, and a scrape of the metrics endpoint.
const CLIENTS: &str = r#"echo "SCXTEST ops $(cat /sys/kernel/sched_ext/root/ops)"
$SCHED --tune slice_us=5 2>&1; echo "SCXTEST bad-tune-rc $?"
wget -q -O - http://127.0.0.1:9469/metrics | grep -E '^scx_(tunable|global_total|wake_to_run_seconds_count)'"#;

/// The stress suite every scheduler must pass: stress-ng (cpu, fork,
/// affinity) and hackbench for 20 s with every worker making progress,
/// statistics queries whose counters move, a live retune that shows in the
/// stats, and the clean "unregistered from user space" exit. Also its
/// wake-to-run histograms, a refused retune and the metrics endpoint.
#[test]
fn stress_suite_runs_and_unregisters_cleanly() {
    let tune = ("slice_us", 5000);
    let result = SchedRun::new(BIN)
        .args(["--metrics-addr"])
        .workload(format!("{CLIENTS}\n{}", SchedRun::stress_suite(20, tune)))
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(240)))
        .vm()
        .expect("VM run");
    if let Some(t) = result.enabled_after {
        println!("boot to scheduler enabled: {:.1} s", t.as_secs_f64());
    }
    println!(
        "stress-ng bogo ops {:?}, hackbench rounds {}",
        result.stressor_ops, result.hackbench_rounds
    );
    if let Err(e) = result.check_stress_suite("dispatch", tune) {
        panic!("stress suite failed: {e}");
    }
    assert_eq!(result.kernel_exit_reason.as_deref(), Some(CLEAN_EXIT));
    // The scheduler itself scheduled the workload: its own counters moved.
    let stat = |key: &str| {
        result
            .stat(key)
            .unwrap_or_else(|| panic!("no {key} in the final stats: {:?}", result.final_stats))
    };
    assert!(
        stat("global") + stat("local") > 0,
        "it scheduled nothing: {:?}",
        result.final_stats
    );
    // The queue depth comes from the arena run queue, read through the mmap.
    assert!(
        stat("queued") <= stat("global"),
        "more tasks waiting than ever queued: {:?}",
        result.final_stats
    );
    // Wake-to-run latency, recorded in BPF into arena histograms.
    let (wakeups, p50, p99, max) = (
        stat("wake_to_run_count"),
        stat("wake_to_run_p50_ns"),
        stat("wake_to_run_p99_ns"),
        stat("wake_to_run_max_ns"),
    );
    assert!(wakeups > 0, "no wake-to-run samples");
    assert!(p50 <= p99 && p99 <= max, "p50 {p50} p99 {p99} max {max}");
    println!("wake-to-run: {wakeups} samples, p50 {p50} ns, p99 {p99} ns, max {max} ns");
    assert!(stat("alloc_pages") > 0);

    // The kernel knows it by its ops name (plus the runtime's version suffix).
    let log = &result.log;
    assert!(
        log.contains("SCXTEST ops template_"),
        "not attached under its own ops name:\n{}",
        tail_lines(log, 40)
    );

    // The retune was logged; a bad one was refused with a clear message
    // while the scheduler went on.
    assert!(
        log.contains("retuned: slice_us=5000"),
        "the retune was not logged"
    );
    assert!(
        log.contains("SCXTEST bad-tune-rc 1"),
        "a bad retune was accepted"
    );
    assert!(
        log.contains("slice_us: 5 is out of range 100..=1000000"),
        "no clear refusal"
    );
    // The metrics endpoint served OpenMetrics, labelled with this scheduler.
    assert!(
        log.contains("scx_tunable{scheduler=\"scx_template\",name=\"slice_us\"}"),
        "the metrics endpoint did not serve the tunable:\n{}",
        tail_lines(log, 40)
    );
    assert!(log.contains("scx_wake_to_run_seconds_count{scheduler=\"scx_template\"}"));
}
