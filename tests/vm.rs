//! Schedulers in a real sched_ext kernel: the VM boots Debian's sched_ext
//! kernel under qemu (or the schedulers run directly on a sched_ext host).
//!
//! These tests need qemu and the kernel download (cached after the first
//! run); `tools/test` installs what they need.

use std::time::Duration;

use scx_arena::run::{build_scheduler, SchedRun};
use scx_arena::vm::{sched_ext_kernel, KernelOptions, VmConfig};

// The template's stress suite is its own smoke test, which forks take with
// them: schedulers/scx_template/tests/vm.rs.

/// A second scheduler cannot load while one runs: it exits with one clear
/// error line, and the first keeps running and unloads cleanly.
#[test]
fn second_scheduler_fails_to_load_with_one_clear_line() {
    let bin = build_scheduler("scx_template", false).expect("build scx_template");
    let script = "\
/usr/local/bin/scx_template --stats 0 > /tmp/first.log 2>&1 &
FIRST=$!
n=0
while [ \"$(cat /sys/kernel/sched_ext/state)\" != enabled ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
/usr/local/bin/scx_template > /tmp/second.log 2>&1
echo \"SECOND-RC $?\"
sed 's/^/SECOND-OUT /' /tmp/second.log
echo \"FIRST-STATE $(cat /sys/kernel/sched_ext/state)\"
kill -INT $FIRST; wait $FIRST; echo \"FIRST-RC $?\"
";
    let run = VmConfig::new()
        .cpus(2)
        .timeout(Duration::from_secs(120))
        .binary(&bin)
        .command("two", script)
        .run()
        .expect("VM run");
    run.check().expect("guest ran cleanly");
    let out = run.output("two").expect("command output");
    let line = |key: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
            .to_string()
    };
    assert_ne!(line("SECOND-RC"), "0", "the second scheduler must fail");
    let second: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SECOND-OUT "))
        .collect();
    assert_eq!(
        second.len(),
        1,
        "expected one error line, got:\n{}",
        second.join("\n")
    );
    println!("second scheduler said: {}", second[0]);
    assert!(second[0].contains("already running"), "{}", second[0]);
    assert_eq!(line("FIRST-STATE"), "enabled");
    assert_eq!(line("FIRST-RC"), "0");

    // The kernel is now cached: it is found again without any download.
    let offline = KernelOptions {
        offline: true,
        ..KernelOptions::default()
    };
    sched_ext_kernel(&offline).expect("the cached kernel is reused offline");
}

/// A program the verifier rejects: the scheduler exits non-zero with the
/// reason and the useful tail of the verifier log, not thousands of lines.
/// And run by a user other than root, it says so in one line.
#[test]
fn verifier_rejection_prints_the_log_tail() {
    let bin = build_scheduler("scx_alloc_check", false).expect("build scx_alloc_check");
    let script = "\
/usr/local/bin/scx_alloc_check --break-verifier > /tmp/out.log 2>&1
echo \"REJECT-RC $?\"
echo \"REJECT-LINES $(wc -l < /tmp/out.log)\"
sed 's/^/REJECT-OUT /' /tmp/out.log
echo \"STATE $(cat /sys/kernel/sched_ext/state)\"
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
echo 'nogroup:x:65534:' >> /etc/group
su -s /bin/sh nobody -c /usr/local/bin/scx_alloc_check > /tmp/noroot.log 2>&1
echo \"NOROOT-RC $?\"
sed 's/^/NOROOT-OUT /' /tmp/noroot.log
";
    let run = VmConfig::new()
        .cpus(2)
        .timeout(Duration::from_secs(180))
        .binary(&bin)
        .command("reject", script)
        .run()
        .expect("VM run");
    run.check().expect("guest ran cleanly");
    let out = run.output("reject").expect("command output");
    let line = |key: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
            .to_string()
    };
    assert_eq!(line("REJECT-RC"), "1");
    let said: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("REJECT-OUT "))
        .collect();
    let said = said.join("\n");
    println!("{said}");
    assert!(
        said.contains("the verifier rejected BPF program 'check_dispatch'"),
        "{said}"
    );
    assert!(said.contains("invalid mem access"), "{said}");
    let lines: usize = line("REJECT-LINES").parse().expect("a count");
    assert!(lines <= 40, "{lines} lines of output:\n{said}");
    assert_eq!(line("STATE"), "disabled");

    // Not root: one line saying so, before anything loads.
    assert_eq!(line("NOROOT-RC"), "1");
    let noroot: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("NOROOT-OUT "))
        .collect();
    assert_eq!(noroot.len(), 1, "one line, not {noroot:?}");
    assert!(noroot[0].contains("needs root"), "{}", noroot[0]);
}

/// The arena allocator inside real sched_ext callbacks: a test scheduler
/// allocates and frees slab and buddy objects in ops.enqueue (non-sleepable)
/// under load, unloads cleanly, and the allocator's metadata checks out from
/// userspace afterwards.
#[test]
fn allocator_works_in_sched_ext_callbacks() {
    let bin = build_scheduler("scx_alloc_check", false).expect("build scx_alloc_check");
    let result = SchedRun::new(&bin)
        .workload("stress-ng --cpu 2 --timeout 3s --metrics-brief && hackbench -g 2 -l 200")
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(180)))
        .vm()
        .expect("VM run");
    if let Err(e) = result.check_clean() {
        panic!("allocator test scheduler run was not clean: {e}");
    }
    let allocs = result.stat("allocs").expect("final stats");
    assert!(allocs > 100, "only {allocs} allocations in enqueue");
    assert_eq!(
        result.stat("failed"),
        Some(0),
        "allocations failed: {:?}",
        result.final_stats
    );
    assert!(
        result.log.lines().any(|l| l.trim() == "alloc-check: ok"),
        "allocator metadata check did not pass:\n{}",
        scx_arena::vm::tail_lines(&result.log, 30)
    );
}

/// A library lock held in a preemptible callback is not preempted: the
/// test scheduler holds its CPU's lock in ops.init_task() (which runs
/// preemptible, in the forking parent) across ticks that find the parent's
/// slice used up, and its ops.stopping() takes the same lock. A holder
/// preempted there leaves its CPU spinning in the switch away from the
/// parent until the lock timeout kicks the scheduler out (it did so before
/// the lock disabled preemption).
#[test]
fn lock_holder_in_a_preemptible_callback_is_not_preempted() {
    let bin = build_scheduler("scx_alloc_check", false).expect("build scx_alloc_check");
    let result = SchedRun::new(&bin)
        .args(["--preempt-holder"])
        .workload("for i in $(seq 100); do sleep 0; done; hackbench -g 1 -l 20")
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(180)))
        .vm()
        .expect("VM run");
    if let Err(e) = result.check_clean() {
        panic!(
            "kicked out or unclean (scheduler said {:?}, kernel {:?}): {e}",
            result.exit_reason, result.kernel_exit_reason
        );
    }
    // Every fork held the lock once: the workload forks 100 times and more.
    let rounds = result.stat("holder_rounds").unwrap_or(0);
    assert!(rounds >= 100, "only {rounds} lock holds in ops.init_task");
}

/// A lock timeout inside the library ends the scheduler with the reason,
/// instead of continuing on a broken lock.
#[test]
fn allocator_lock_timeout_is_a_scheduler_error_exit() {
    let bin = build_scheduler("scx_alloc_check", false).expect("build scx_alloc_check");
    let result = SchedRun::new(&bin)
        .args(["--break-lock"])
        .workload(SchedRun::stress_ng_cpu(Duration::from_secs(3)))
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(180)))
        .vm()
        .expect("VM run");
    let reason = result.exit_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("lock timeout"),
        "exit reason {reason:?}, kernel {:?}\n{}",
        result.kernel_exit_reason,
        scx_arena::vm::tail_lines(&result.log, 30)
    );
    // The kernel ejected it (often before the workload even starts) and the
    // scheduler exited with an error status.
    let console = result.vm.as_ref().map(|v| v.console.as_str()).unwrap_or("");
    assert_eq!(
        result.kernel_exit_reason.as_deref(),
        Some("scx_bpf_error"),
        "sched_ext events {:?}\nconsole tail:\n{}",
        result.vm.as_ref().map(|v| &v.sched_ext),
        scx_arena::vm::tail_lines(console, 60)
    );
    assert_ne!(result.sched_rc, Some(0));
    assert!(result.check_clean().is_err());
    // The system is back on the default scheduler, and stays there.
    assert_eq!(
        result.states.last().map(String::as_str),
        Some("disabled"),
        "{:?}",
        result.states
    );
}

/// Kernel lines that the serial port cut into a guest line come out on their
/// own, and the guest line whole: the guest prints long lines while
/// /dev/kmsg writes race with them (about 1 in 150 lands inside one here).
#[test]
fn kernel_lines_cut_into_guest_output_are_untangled() {
    let script = r#"
( for i in $(seq 300); do echo "kmsg-line-$i with some padding text" > /dev/kmsg; done ) &
for i in $(seq 600); do echo "GUEST-LINE $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx end"; done
wait
"#;
    let run = VmConfig::new()
        .cpus(2)
        .timeout(Duration::from_secs(120))
        .command("race", script)
        .run()
        .expect("VM run");
    run.check().expect("guest ran cleanly");
    let guest: Vec<&str> = run
        .console
        .lines()
        .filter(|l| l.contains("GUEST-LINE"))
        .collect();
    let whole = |l: &&str| {
        l.starts_with("GUEST-LINE ") && l.ends_with(" end") && l.split_whitespace().count() == 4
    };
    let broken: Vec<&&str> = guest.iter().filter(|l| !whole(l)).collect();
    assert!(broken.is_empty(), "guest lines not whole: {broken:#?}");
    assert_eq!(guest.len(), 600);
    let kernel = run
        .console
        .lines()
        .filter(|l| l.contains("kmsg-line-"))
        .filter(|l| scx_arena::vm::console::split_timestamp(l).0.is_some())
        .count();
    assert_eq!(kernel, 300, "every kernel line on its own line");
}
