//! Reliability in the sched_ext VM: every bundled scheduler under the
//! hostile workload (`src/bin/hostile.rs`: 5,000 threads, a fork/exit
//! storm, affinity/nice/policy churn, hogs and sleepers, cgroup moves) with
//! a CPU going offline and online in the middle; a too-small arena; a
//! provoked stall. And the soak (`tools/soak`, ignored here).
//!
//! Run one: `cargo test -p scx-arena-tests --test vm_hostile template -- --nocapture`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use scx_arena::run::{build_scheduler, SchedRun, SchedRunResult, CLEAN_EXIT};
use scx_arena::vm::{tail_lines, VmConfig};

/// The hostile workload binary, built by cargo for these tests.
fn hostile_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hostile"))
}

/// Threads the hostile workload keeps alive at once.
const THREADS: u64 = 5000;

/// The workload: the hostile mix for `secs` (5,000 threads, forks, churn,
/// cgroups), and, when `hotplug`, CPU 1 going offline and online while it
/// runs. threads-max is raised so 5,000 threads fit whatever the memory.
fn hostile_workload(secs: u64, hotplug: bool) -> String {
    let hotplug = if hotplug {
        format!("sleep {}\n{}", secs / 3, SchedRun::hotplug_cycle(1))
    } else {
        String::new()
    };
    format!(
        "echo 100000 > /proc/sys/kernel/threads-max
hostile --secs {secs} --threads {THREADS} &
H=$!
{hotplug}
wait $H"
    )
}

/// The summary line of one hostile run, as `key=value` words.
#[derive(Debug, Clone)]
struct Summary(Vec<(String, String)>);

impl Summary {
    /// Every `HOSTILE ...` line of `log`.
    fn all(log: &str) -> Vec<Summary> {
        log.lines()
            .filter_map(|l| l.trim().strip_prefix("HOSTILE "))
            .map(|rest| {
                Summary(
                    rest.split_whitespace()
                        .filter_map(|w| w.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key=done/of` as (done, of).
    fn done_of(&self, key: &str) -> Option<(u64, u64)> {
        let (d, o) = self.get(key)?.split_once('/')?;
        Some((d.parse().ok()?, o.parse().ok()?))
    }

    /// A plain count.
    fn count(&self, key: &str) -> u64 {
        self.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// Tasks that finished their work: threads, forked children, workers.
    fn tasks_done(&self) -> u64 {
        ["threads", "forks", "workers"]
            .iter()
            .filter_map(|k| self.done_of(k))
            .map(|(d, _)| d)
            .sum()
    }

    /// Ok iff every task finished its work and every kind of churn
    /// happened; `threads` threads were asked for.
    fn check(&self, threads: u64) -> Result<(), String> {
        let all = |key: &str, of: Option<u64>| match self.done_of(key) {
            Some((d, o)) if d == o && o > 0 && of.is_none_or(|n| n == o) => Ok(()),
            got => Err(format!("{key}: {got:?} (done, of)")),
        };
        all("threads", Some(threads))?;
        all("forks", None)?;
        all("workers", None)?;
        for key in ["units", "affinity", "nice", "policy", "cgroup_moves"] {
            if self.count(key) == 0 {
                return Err(format!("no {key}"));
            }
        }
        match self.get("result") {
            Some("pass") => Ok(()),
            r => Err(format!("result {r:?}")),
        }
    }
}

/// The hostile mix for 20 s with a hotplug cycle, under `sched args`, in a
/// 2-vCPU VM. Pass: a clean run (no kick-out: the kernel's exit reason is
/// in the failure), the restarts around the hotplug, every task's work
/// done, and the scheduler's own counters moved.
fn hostile(sched: &str, args: &[&str]) -> SchedRunResult {
    let bin = build_scheduler(sched, false).expect("build the scheduler");
    let started = Instant::now();
    let result = SchedRun::new(&bin)
        .args(args.iter().copied())
        .workload(hostile_workload(20, true))
        .vm_config(
            VmConfig::new()
                .cpus(2)
                .binary(hostile_bin())
                .timeout(Duration::from_secs(600)),
        )
        .vm()
        .expect("VM run");
    println!(
        "[{sched} {args:?}] {:.0} s in all; final stats: {:?}",
        started.elapsed().as_secs_f64(),
        result.final_stats
    );
    if let Err(e) = result.check_clean() {
        panic!(
            "[{sched} {args:?}] kicked out or unclean (scheduler said {:?}): {e}",
            result.exit_reason
        );
    }
    assert_eq!(result.kernel_exit_reason.as_deref(), Some(CLEAN_EXIT));
    if let Err(e) = result.check_hotplug_restarts(sched) {
        panic!("[{sched} {args:?}] CPU hotplug: {e}");
    }
    let runs = Summary::all(&result.log);
    let [summary] = runs.as_slice() else {
        panic!(
            "{} HOSTILE lines:\n{}",
            runs.len(),
            tail_lines(&result.log, 40)
        );
    };
    println!("[{sched} {args:?}] {summary:?}");
    if let Err(e) = summary.check(THREADS) {
        panic!("[{sched} {args:?}] hostile workload: {e}");
    }
    assert!(
        result.stat("wake_to_run_count").unwrap_or(0) > 0,
        "[{sched} {args:?}] the scheduler saw no wakeups: {:?}",
        result.final_stats
    );
    result
}

#[test]
fn hostile_template_with_hotplug() {
    hostile("scx_template", &[]);
}

#[test]
fn hostile_fair_rbtree_with_hotplug() {
    hostile("scx_fair", &["--queue", "rbtree"]);
}

#[test]
fn hostile_deadline_heap_with_hotplug() {
    hostile("scx_deadline", &["--queue", "heap"]);
}

/// Runs `sched args` with an arena of `pages` pages under the hostile mix
/// (no hotplug): too small for a context per task, so allocations fail.
/// Pass: clean run, every task's work done, the failures counted in
/// `alloc_failed` and the tasks without a context sent to the fallback DSQ.
fn exhausted(sched: &str, args: &[&str], pages: u32) -> SchedRunResult {
    let bin = build_scheduler(sched, false).expect("build the scheduler");
    let pages = pages.to_string();
    let result = SchedRun::new(&bin)
        .args(args.iter().copied().chain(["--arena-pages", &pages]))
        .workload(hostile_workload(6, false))
        .vm_config(
            VmConfig::new()
                .cpus(2)
                .binary(hostile_bin())
                .timeout(Duration::from_secs(400)),
        )
        .vm()
        .expect("VM run");
    println!(
        "[{sched} {args:?}, {pages} arena pages] final stats: {:?}",
        result.final_stats
    );
    if let Err(e) = result.check_clean() {
        panic!(
            "[{sched}] with a full arena the run was not clean (scheduler said {:?}): {e}",
            result.exit_reason
        );
    }
    let runs = Summary::all(&result.log);
    let [summary] = runs.as_slice() else {
        panic!("{} HOSTILE lines", runs.len());
    };
    println!("[{sched}] {summary:?}");
    if let Err(e) = summary.check(THREADS) {
        panic!("[{sched}] with a full arena, the hostile workload: {e}");
    }
    let stat = |k: &str| {
        result
            .stat(k)
            .unwrap_or_else(|| panic!("no {k} in {:?}", result.final_stats))
    };
    assert!(
        stat("alloc_failed") > 0,
        "[{sched}] {pages} arena pages were enough: {:?}",
        result.final_stats
    );
    assert!(
        stat("fallback") > 0,
        "[{sched}] no task went to the fallback DSQ: {:?}",
        result.final_stats
    );
    result
}

/// An arena with no room for the allocator at all (256 pages: the
/// statistics and histograms take the first 512 KiB chunk, the arena's
/// globals the last): every context allocation fails, every task runs
/// through the kernel's DSQ.
#[test]
fn exhausted_arena_template_runs_every_task_through_the_fallback() {
    let result = exhausted("scx_template", &[], 256);
    assert_eq!(result.stat("global"), Some(0), "{:?}", result.final_stats);
}

/// An arena with one allocator chunk (384 pages): some tasks get a context
/// and wait in the arena heap, the rest run through the fallback DSQ, side
/// by side.
#[test]
fn exhausted_arena_deadline_mixes_heap_and_fallback() {
    let result = exhausted("scx_deadline", &["--queue", "heap"], 384);
    assert!(
        result.stat("enqueue").unwrap_or(0) > 0,
        "no task got a context: {:?}",
        result.final_stats
    );
}

/// A stalled task: the test scheduler never dispatches tasks named
/// `stallme` (a shell that wakes every 50 ms), and the sched_ext watchdog
/// ends it (timeout 8 s: under TCG load a shorter one can itself miss its
/// check-in, which is a different exit). The exit
/// reason names the stall and the task; the system is back on the default
/// scheduler, where the stalled task runs again and can be ended.
#[test]
fn stall_is_caught_by_the_watchdog_and_names_the_task() {
    let bin = build_scheduler("scx_alloc_check", false).expect("build scx_alloc_check");
    // Only a task itself may rename itself: the shell's builtin echo does.
    // It never forks (a child would inherit the name and stall instead):
    // it wakes from `read -t` on a pipe nobody writes.
    let workload = r#"sleep 120 | sh -c 'echo $$ > /tmp/stalled; echo -n stallme > /proc/self/comm; while :; do read -t 0.05 x; done' &
n=0; while [ ! -s /tmp/stalled ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
P=$(cat /tmp/stalled)
echo "SCXTEST stalled-pid $P"
n=0; while [ "$(cat /sys/kernel/sched_ext/state)" != disabled ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
echo "SCXTEST state-after-stall $(cat /sys/kernel/sched_ext/state)"
kill $P
n=0; while kill -0 $P 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
kill -0 $P 2>/dev/null || echo "SCXTEST stalled-task-ended"
stress-ng --cpu 2 --timeout 2s --metrics-brief"#;
    let result = SchedRun::new(&bin)
        .args(["--stall-comm", "stallme", "--timeout-ms", "8000"])
        .workload(workload)
        .vm_config(VmConfig::new().cpus(2).timeout(Duration::from_secs(240)))
        .vm()
        .expect("VM run");
    let log = &result.log;
    let pid = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("SCXTEST stalled-pid "))
        .unwrap_or_else(|| panic!("no stalled task:\n{}", tail_lines(log, 30)))
        .trim()
        .to_string();
    let reason = result.exit_reason.clone().unwrap_or_default();
    println!("the scheduler said: EXIT: {reason}");
    assert!(
        reason.contains("stall") && reason.contains(&format!("stallme[{pid}]")),
        "exit reason {reason:?} does not name the stall of stallme[{pid}]\n{}",
        tail_lines(log, 30)
    );
    assert_eq!(
        result.kernel_exit_reason.as_deref(),
        Some("runnable task stall")
    );
    assert_ne!(
        result.sched_rc,
        Some(0),
        "an error exit must not be status 0"
    );
    // Back on the default scheduler: the stalled task ran again (and was
    // ended), and the rest of the workload ran.
    assert!(log.contains("SCXTEST state-after-stall disabled"));
    assert!(log.contains("SCXTEST stalled-task-ended"));
    assert_eq!(result.workload_rc, Some(0));
    assert_eq!(result.states, ["disabled", "disabled", "disabled"]);
}

/// The soak (not in CI; `tools/soak` runs it): the hostile mix back to back
/// for `SOAK_MINUTES` (default 10), one VM boot per round of
/// `SOAK_ROUND_SECS` (default 300) per scheduler, the schedulers taken in
/// turn from `SOAK_SCHEDULERS` (comma-separated `name` or `name:flag flag`;
/// default the three bundled ones). Prints a line per round, then
/// `SOAK runs=.. kickouts=.. failed_runs=.. tasks=.. max_wake_to_run_us=..`,
/// and fails if a scheduler was kicked out or a task did not finish.
#[test]
#[ignore = "runs for minutes: tools/soak"]
fn soak() {
    let env_u64 = |k: &str, default: u64| {
        std::env::var(k)
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{k}={v}: not a number"))
            })
            .unwrap_or(default)
    };
    let minutes = env_u64("SOAK_MINUTES", 10);
    let round = env_u64("SOAK_ROUND_SECS", 300).max(30);
    let scheds = std::env::var("SOAK_SCHEDULERS")
        .unwrap_or_else(|_| "scx_template,scx_fair,scx_deadline".into());
    let scheds: Vec<(String, Vec<String>)> = scheds
        .split(',')
        .map(|s| {
            let (name, flags) = s.split_once(':').unwrap_or((s, ""));
            let flags = flags.split_whitespace().map(String::from).collect();
            (name.trim().to_string(), flags)
        })
        .collect();
    let workload = format!(
        "echo 100000 > /proc/sys/kernel/threads-max
end=$(( $(cut -d. -f1 /proc/uptime) + {round} ))
while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do hostile --secs 20 --threads {THREADS}; done
true"
    );
    let until = Instant::now() + Duration::from_secs(minutes * 60);
    let (mut rounds, mut runs, mut kickouts, mut failed, mut tasks, mut max_wake) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    while Instant::now() < until {
        let (name, flags) = &scheds[rounds as usize % scheds.len()];
        rounds += 1;
        let bin = build_scheduler(name, false).expect("build the scheduler");
        let result = SchedRun::new(&bin)
            .args(flags.iter().cloned())
            .workload(workload.clone())
            .vm_config(
                VmConfig::new()
                    .cpus(2)
                    .binary(hostile_bin())
                    .timeout(Duration::from_secs(round + 600)),
            )
            .vm();
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                println!("round {rounds} [{name} {flags:?}]: the VM failed: {e}");
                kickouts += 1;
                continue;
            }
        };
        let clean = result.check_clean();
        if let Err(e) = &clean {
            kickouts += 1;
            println!("round {rounds} [{name} {flags:?}]: KICKED OUT or unclean: {e}");
        }
        let summaries = Summary::all(&result.log);
        runs += summaries.len() as u64;
        for s in &summaries {
            tasks += s.tasks_done();
            if let Err(e) = s.check(THREADS) {
                failed += 1;
                println!("round {rounds} [{name}]: a run lost work: {e}: {s:?}");
            }
        }
        let wake = result.stat("wake_to_run_max_ns").unwrap_or(0);
        max_wake = max_wake.max(wake);
        println!(
            "round {rounds} [{name} {flags:?}]: {} runs, clean {}, max wake-to-run {} us",
            summaries.len(),
            clean.is_ok(),
            wake / 1000
        );
    }
    println!(
        "SOAK rounds={rounds} runs={runs} kickouts={kickouts} failed_runs={failed} tasks={tasks} max_wake_to_run_us={}",
        max_wake / 1000
    );
    assert_eq!((kickouts, failed), (0, 0), "the soak found failures");
    assert!(runs > 0, "no hostile run completed");
}
