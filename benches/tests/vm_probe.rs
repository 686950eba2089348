//! The wake-to-run probe and wakelat inside the VM, under a sched_ext
//! scheduler on the 7.2 kernel: both load and attach there, and the probe
//! counts the same worker wakeups wakelat measured itself (the benchmark of
//! issue 7 relies on the probe seeing every contender alike).

use std::time::Duration;

use scx_arena::run::{build_scheduler, SchedRun};
use scx_arena::vm::VmConfig;
use scx_arena_benches::probe::ProbeSummary;
use scx_arena_benches::wakelat::Summary;

#[test]
fn probe_and_wakelat_agree_under_sched_ext() {
    let sched = build_scheduler("scx_template", false).expect("build scx_template");
    let result = SchedRun::new(&sched)
        .workload(
            "wakeprobe --comm wl-worker -- \
             wakelat --runtime 3 --warmup 0 --message-threads 1 --workers 2",
        )
        .vm_config(
            VmConfig::new()
                .cpus(2)
                .timeout(Duration::from_secs(180))
                .binary(env!("CARGO_BIN_EXE_wakelat"))
                .binary(env!("CARGO_BIN_EXE_wakeprobe")),
        )
        .vm()
        .expect("VM run");
    if let Err(e) = result.check_clean() {
        panic!("the run was not clean: {e}");
    }
    let own = Summary::parse(&result.log).expect("wakelat's line");
    let probe = ProbeSummary::parse(&result.log).expect("the probe's line");
    println!(
        "under scx_template: wakelat p50 {} us p99 {} us ({} samples); probe p50 {} us p99 {} us ({} samples)",
        own.p50_us, own.p99_us, own.samples, probe.p50_us, probe.p99_us, probe.samples
    );
    assert!(own.samples > 0, "wakelat measured nothing");
    let (a, b) = (own.samples as f64, probe.samples as f64);
    assert!(
        (b - a).abs() <= 0.1 * a,
        "the probe saw {b} worker wakeups, wakelat {a}"
    );
}
