//! The BPF library's tests (bpf/tests, `--test bpf` on the host) on the
//! sched_ext VM's kernel, which is newer than the host's and takes other
//! paths: its arena kfuncs may be called from any context, so lock holders
//! run with preemption disabled (scx_arena/lock.h), and a program may not
//! return while holding a lock.

use std::time::Duration;

use scx_arena::vm::VmConfig;

/// Every test program passes, and every program of every test object
/// verifies, on the guest kernel (src/bin/bpf-tests.rs, run in the VM).
#[test]
fn library_tests_pass_on_the_guest_kernel() {
    let bin = env!("CARGO_BIN_EXE_bpf-tests");
    let run = VmConfig::new()
        .cpus(2)
        .timeout(Duration::from_secs(900))
        .binary(bin)
        .command("bpf-tests", "/usr/local/bin/bpf-tests")
        .run()
        .expect("VM run");
    let out = run.output("bpf-tests").unwrap_or("");
    let failed: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("FAILED"))
        .collect();
    let summary = out
        .lines()
        .find(|l| l.contains("BPF-TESTS "))
        .unwrap_or_else(|| panic!("no summary line; the guest printed:\n{out}"));
    println!("guest {summary}");
    assert!(
        failed.is_empty() && run.exit_code("bpf-tests") == Some(0),
        "{summary}; failures (with the verifier log's tail or the BPF report):\n{out}"
    );
    run.check().expect("guest ran cleanly");
}
