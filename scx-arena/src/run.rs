//! Runs a scheduler binary under a workload and reports what happened: in
//! the VM ([`crate::vm`]) where the host has no sched_ext, directly on a
//! sched_ext host otherwise.
//!
//! ```no_run
//! use scx_arena::run::SchedRun;
//! let result = SchedRun::new("target/release/scx_template").vm()?;
//! result.check_clean()?;
//! println!("{:?}", result.final_stats);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The scheduler is started in the background, the workload starts once
//! `/sys/kernel/sched_ext/state` reads `enabled`, and when the workload ends
//! the scheduler gets SIGINT, like a user pressing Ctrl-C. Its statistics are
//! the lines it printed with [`crate::stats::Snapshot::line`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::runtime::parse_stats_line;
use crate::vm::{tail_lines, Problem, SchedExtEventKind, VmConfig, VmError, VmRun};

/// The kernel's reason when userspace detaches a scheduler: a clean exit.
pub const CLEAN_EXIT: &str = "unregistered from user space";

/// Prefix of a scheduler's last statistics line, printed at exit.
pub const FINAL_STATS: &str = "stats-final:";

/// How long a scheduler may take from start to `enabled`, in tenths of a
/// second: generous, because the verifier is slow under TCG emulation.
const ENABLE_TIMEOUT_DS: u32 = 900;
/// The same in seconds, for messages.
const ENABLE_TIMEOUT_S: u32 = ENABLE_TIMEOUT_DS / 10;

/// Why a scheduler run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The VM could not be prepared or run.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// The guest kernel reported a problem.
    #[error(transparent)]
    Guest(#[from] Problem),
    /// The scheduler never became enabled.
    #[error("the scheduler did not attach: {0}")]
    NotEnabled(String),
    /// The run finished but not cleanly.
    #[error("{what}\n--- log tail ---\n{tail}")]
    Unclean {
        /// What was wrong.
        what: String,
        /// The end of the log.
        tail: String,
    },
    /// Building the scheduler failed.
    #[error("building {name} failed: {why}")]
    Build {
        /// The scheduler.
        name: String,
        /// What cargo said or did.
        why: String,
    },
    /// Running on the host failed.
    #[error("{context}: {source}")]
    Host {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// A scheduler plus a workload, to run once.
#[derive(Debug, Clone)]
pub struct SchedRun {
    binary: PathBuf,
    args: Vec<String>,
    workload: String,
    vm: VmConfig,
    watch_state: bool,
}

impl SchedRun {
    /// Runs `binary` (a scheduler built by this workspace) with no flags
    /// under the default workload: `stress-ng --cpu <vCPUs>` for 5 s, in a
    /// 2-vCPU VM.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        SchedRun {
            binary: binary.into(),
            args: Vec::new(),
            workload: Self::stress_ng_cpu(Duration::from_secs(5)),
            vm: VmConfig::new().cpus(2),
            watch_state: true,
        }
    }

    /// `stress-ng` CPU hogs, one per CPU, for `d`, with bogo-op metrics.
    pub fn stress_ng_cpu(d: Duration) -> String {
        format!(
            "stress-ng --cpu 0 --timeout {}s --metrics-brief",
            d.as_secs().max(1)
        )
    }

    /// A workload step: takes CPU `cpu` offline, then back online, while
    /// the scheduler runs. The kernel ends a scheduler that has no hotplug
    /// callbacks at each step and asks for a restart, which the shared
    /// runtime does; the step waits up to 90 s for the scheduler to be
    /// enabled again each time ([`HOTPLUG_WAIT_SH`]) and prints
    /// `SCXTEST hotplug-offline <state>` and `SCXTEST hotplug-online <state>`.
    /// Check the outcome with [`SchedRunResult::check_hotplug_restarts`].
    pub fn hotplug_cycle(cpu: u32) -> String {
        format!(
            r#"{HOTPLUG_WAIT_SH}
echo 0 > /sys/devices/system/cpu/cpu{cpu}/online; hp_wait
echo "SCXTEST hotplug-offline $(st)"
echo 1 > /sys/devices/system/cpu/cpu{cpu}/online; hp_wait
echo "SCXTEST hotplug-online $(st)""#
        )
    }

    /// Flags passed to the scheduler.
    /// The stress test every bundled scheduler must pass (issue 6): for
    /// `secs` seconds, stress-ng CPU hogs, fork storms and affinity churn
    /// beside back-to-back hackbench rounds; two statistics queries through
    /// the scheduler's own `--monitor 0` client (as `SCXQUERY-1`/`-2` lines),
    /// and between them a live `--tune name=value`. Check the outcome with
    /// [`SchedRunResult::check_stress_suite`].
    pub fn stress_suite(secs: u64, tune: (&str, u64)) -> String {
        let (name, value) = tune;
        let half = (secs / 2).max(3);
        format!(
            r#"stress-ng --cpu 2 --fork 2 --affinity 2 --timeout {secs}s --metrics-brief &
S=$!
end=$(( $(cut -d. -f1 /proc/uptime) + {secs} ))
( while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do hackbench -g 2 -l 50 || exit 1; done ) &
H=$!
sleep 2
$SCHED --monitor 0 | sed 's/^stats:/SCXQUERY-1/'
echo "SCXTEST tune-start $(cut -d" " -f1 /proc/uptime)"
$SCHED --tune {name}={value}; echo "SCXTEST tune-rc $? at $(cut -d" " -f1 /proc/uptime)"
sleep {half}
$SCHED --monitor 0 | sed 's/^stats:/SCXQUERY-2/'
wait $S; rs=$?
wait $H; rh=$?
echo "SCXTEST stress-rc $rs hackbench-rc $rh"
[ $rs -eq 0 ] && [ $rh -eq 0 ]"#
        )
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The workload: a shell snippet run once the scheduler is enabled.
    pub fn workload(mut self, script: impl Into<String>) -> Self {
        self.workload = script.into();
        self
    }

    /// The VM to use (vCPUs, memory, topology, timeout, streaming). Its
    /// `watch_state` is replaced by [`Self::watch_state`]'s.
    pub fn vm_config(mut self, vm: VmConfig) -> Self {
        self.vm = vm;
        self
    }

    /// Whether the guest also runs `/init`'s sched_ext state watcher (on by
    /// default): a shell that reads `/sys/kernel/sched_ext/state` every
    /// 100 ms and logs its changes, which helps reading a failed run's log.
    /// It forks two processes every 100 ms beside the workload, so a
    /// benchmark turns it off; the run's checks
    /// ([`SchedRunResult::check_clean`]) do not depend on it.
    pub fn watch_state(mut self, on: bool) -> Self {
        self.watch_state = on;
        self
    }

    fn name(&self) -> String {
        self.binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scheduler".into())
    }

    /// The guest script: start the scheduler, wait until it is enabled,
    /// run the workload, stop the scheduler, report each step.
    fn guest_script(&self) -> String {
        let cmd = std::iter::once(format!("/usr/local/bin/{}", self.name()))
            .chain(self.args.iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            r#"st() {{ cat /sys/kernel/sched_ext/state; }}
up() {{ cut -d' ' -f1 /proc/uptime; }}
echo "SCXRUN state-before $(st)"
{cmd} &
PID=$!
n=0
while [ "$(st)" != enabled ]; do
	if ! kill -0 $PID 2>/dev/null; then
		wait $PID; echo "SCXRUN sched-rc $?"
		echo "SCXRUN not-enabled the scheduler exited before it was enabled"
		exit 1
	fi
	n=$((n+1))
	if [ $n -ge {ENABLE_TIMEOUT_DS} ]; then
		echo "SCXRUN not-enabled still $(st) after {ENABLE_TIMEOUT_S} s"
		kill -INT $PID; wait $PID; echo "SCXRUN sched-rc $?"
		exit 1
	fi
	sleep 0.1
done
echo "SCXRUN enabled uptime=$(up)"
SCHED=/usr/local/bin/{name}; export SCHED
( {workload} )
echo "SCXRUN workload-rc $?"
echo "SCXRUN state-after-workload $(st)"
kill -INT $PID
wait $PID
rc=$?
echo "SCXRUN sched-rc $rc"
echo "SCXRUN state-after $(st)"
exit $rc
"#,
            workload = self.workload,
            name = self.name()
        )
    }

    /// Runs it in a VM booted on a sched_ext kernel.
    pub fn vm(&self) -> Result<SchedRunResult, RunError> {
        let vm = self
            .vm
            .clone()
            .watch_state(self.watch_state)
            .binary(&self.binary)
            .command("sched", self.guest_script());
        let run = vm.run()?;
        let mut result = SchedRunResult::parse(&run.console);
        if let (Some(boot), Some(init_up), Some(enabled_up)) = (
            run.boot_time,
            init_uptime(&run.console),
            result.enabled_uptime,
        ) {
            result.enabled_after =
                Some(boot + Duration::from_secs_f64((enabled_up - init_up).max(0.0)));
        }
        result.kernel_exit_reason = run.sched_ext.iter().rev().find_map(|e| match &e.kind {
            SchedExtEventKind::Disabled { reason } => Some(reason.clone()),
            _ => None,
        });
        result.vm = Some(run);
        Ok(result)
    }

    /// Runs it directly on this host, which must have sched_ext.
    pub fn host(&self) -> Result<SchedRunResult, RunError> {
        crate::runtime::require_sched_ext().map_err(|e| RunError::NotEnabled(e.to_string()))?;
        let host_err = |context: &str| {
            let context = context.to_string();
            move |source| RunError::Host { context, source }
        };
        let start = Instant::now();
        let mut log = String::new();
        let mut child = Command::new(&self.binary)
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(host_err(&format!("starting {}", self.binary.display())))?;
        // Collect both streams on threads so the scheduler never blocks.
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|r| {
            std::thread::spawn(move || {
                let mut out = String::new();
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    println!("{line}");
                    out.push_str(&line);
                    out.push('\n');
                }
                out
            })
        })
        .collect();

        let state = || std::fs::read_to_string("/sys/kernel/sched_ext/state").unwrap_or_default();
        log.push_str(&format!("SCXRUN state-before {}", state()));
        let mut enabled = false;
        for _ in 0..ENABLE_TIMEOUT_DS {
            if state().trim() == "enabled" {
                enabled = true;
                break;
            }
            if child
                .try_wait()
                .map_err(host_err("waiting for the scheduler"))?
                .is_some()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if enabled {
            log.push_str(&format!(
                "SCXRUN enabled uptime={:.3}\n",
                start.elapsed().as_secs_f64()
            ));
            let wl = Command::new("sh")
                .arg("-c")
                .arg(&self.workload)
                .output()
                .map_err(host_err("running the workload"))?;
            log.push_str(&String::from_utf8_lossy(&wl.stdout));
            log.push_str(&String::from_utf8_lossy(&wl.stderr));
            log.push_str(&format!(
                "SCXRUN workload-rc {}\n",
                wl.status.code().unwrap_or(-1)
            ));
            log.push_str(&format!("SCXRUN state-after-workload {}", state()));
        } else {
            log.push_str(&format!(
                "SCXRUN not-enabled the scheduler did not attach within {ENABLE_TIMEOUT_S} s\n"
            ));
        }
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child
            .wait()
            .map_err(host_err("waiting for the scheduler"))?;
        for r in readers {
            log.push_str(&r.join().unwrap_or_default());
        }
        log.push_str(&format!(
            "SCXRUN sched-rc {}\n",
            status.code().unwrap_or(-1)
        ));
        log.push_str(&format!("SCXRUN state-after {}", state()));
        let mut result = SchedRunResult::parse(&log);
        result.enabled_after = result.enabled_uptime.map(Duration::from_secs_f64);
        Ok(result)
    }

    /// In the VM unless this host can run sched_ext schedulers itself.
    pub fn auto(&self) -> Result<SchedRunResult, RunError> {
        if crate::runtime::require_sched_ext().is_ok() {
            self.host()
        } else {
            self.vm()
        }
    }
}

/// What one scheduler run produced.
#[derive(Debug, Clone, Default)]
pub struct SchedRunResult {
    /// The VM run (console, problems, sched_ext events), when it ran in one.
    pub vm: Option<VmRun>,
    /// The log the markers were parsed from (VM console or host output).
    pub log: String,
    /// `/sys/kernel/sched_ext/state` before start, after the workload and
    /// after stop, in that order, as far as they were reached.
    pub states: Vec<String>,
    /// Guest uptime when the scheduler was seen enabled, in seconds.
    pub enabled_uptime: Option<f64>,
    /// Host time from VM start (or scheduler start) to scheduler enabled.
    pub enabled_after: Option<Duration>,
    /// The workload's exit status.
    pub workload_rc: Option<i32>,
    /// Bogo operations stress-ng reported (progress of the workload).
    pub workload_ops: Option<u64>,
    /// Bogo operations per stress-ng stressor, in the order first seen.
    pub stressor_ops: Vec<(String, u64)>,
    /// hackbench rounds that completed (its `Time:` lines).
    pub hackbench_rounds: u32,
    /// The first line of each `SCXQUERY-<n>` statistics query, by n.
    pub queries: Vec<(u32, Vec<(String, u64)>)>,
    /// The scheduler's exit status.
    pub sched_rc: Option<i32>,
    /// The reason the scheduler printed (`EXIT: ...`).
    pub exit_reason: Option<String>,
    /// The reason in the kernel's "disabled (...)" message (VM runs).
    pub kernel_exit_reason: Option<String>,
    /// Why it never became enabled, if it did not.
    pub not_enabled: Option<String>,
    /// The scheduler's last statistics line, as key/value pairs.
    pub final_stats: Vec<(String, u64)>,
}

impl SchedRunResult {
    /// Extracts the `SCXRUN` markers, the exit line and the final stats.
    pub fn parse(log: &str) -> Self {
        let mut r = SchedRunResult {
            log: log.to_string(),
            ..Default::default()
        };
        for line in log.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(stats) = parse_stats_line(FINAL_STATS, line) {
                r.final_stats = stats;
            }
            // scx_utils prints "EXIT: <reason>", as an error "Error: EXIT: ...".
            if let Some(i) = line.find("EXIT: ") {
                r.exit_reason = Some(line[i + 6..].trim().to_string());
            }
            if let Some((stressor, ops)) = stress_ng_bogo_ops(line) {
                r.workload_ops = Some(r.workload_ops.unwrap_or(0) + ops);
                match r.stressor_ops.iter_mut().find(|(s, _)| s == stressor) {
                    Some((_, n)) => *n += ops,
                    None => r.stressor_ops.push((stressor.to_string(), ops)),
                }
            }
            if line.trim_start().starts_with("Time: ") {
                r.hackbench_rounds += 1;
            }
            if let Some((n, rest)) = line
                .trim()
                .strip_prefix("SCXQUERY-")
                .and_then(|q| q.split_once(' '))
            {
                if let (Ok(n), Some(stats)) = (n.parse(), parse_stats_line("", rest)) {
                    if !r.queries.iter().any(|(m, _)| *m == n) {
                        r.queries.push((n, stats));
                    }
                }
            }
            let Some(rest) = line.trim().strip_prefix("SCXRUN ") else {
                continue;
            };
            let (key, val) = rest.split_once(' ').unwrap_or((rest, ""));
            match key {
                "state-before" | "state-after-workload" | "state-after" => {
                    r.states.push(val.trim().to_string())
                }
                "enabled" => {
                    r.enabled_uptime = val
                        .trim()
                        .strip_prefix("uptime=")
                        .and_then(|v| v.parse().ok())
                }
                "workload-rc" => r.workload_rc = val.trim().parse().ok(),
                "sched-rc" => r.sched_rc = val.trim().parse().ok(),
                "not-enabled" => r.not_enabled = Some(val.trim().to_string()),
                _ => {}
            }
        }
        r
    }

    /// The final statistic `key`, if the scheduler printed it.
    pub fn stat(&self, key: &str) -> Option<u64> {
        self.final_stats
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// Ok iff a [`SchedRun::stress_suite`] run passed: clean (see
    /// [`Self::check_clean`]); every stressor (cpu, fork, affinity) and
    /// hackbench made progress; both statistics queries answered and
    /// `counter` grew between them; the retune `tune` was accepted and is
    /// what the final statistics show (as `tune_<name>`).
    pub fn check_stress_suite(&self, counter: &str, tune: (&str, u64)) -> Result<(), RunError> {
        self.check_clean()?;
        let unclean = |what: String| RunError::Unclean {
            what,
            tail: tail_lines(&self.log, 40),
        };
        for stressor in ["cpu", "fork", "affinity"] {
            let ops = self.stressor_ops.iter().find(|(s, _)| s == stressor);
            if ops.is_none_or(|(_, n)| *n == 0) {
                return Err(unclean(format!(
                    "stress-ng {stressor} made no progress (bogo ops {:?})",
                    self.stressor_ops
                )));
            }
        }
        if self.hackbench_rounds == 0 {
            return Err(unclean("no hackbench round completed".into()));
        }
        let query = |n: u32| {
            self.queries
                .iter()
                .find(|(m, _)| *m == n)
                .and_then(|(_, q)| q.iter().find(|(k, _)| k == counter))
                .map(|(_, v)| *v)
        };
        match (query(1), query(2)) {
            (Some(a), Some(b)) if b > a => {}
            (a, b) => {
                return Err(unclean(format!(
                    "statistics queries: {counter} was {a:?}, then {b:?}: it must grow"
                )))
            }
        }
        if !self.log.contains("SCXTEST tune-rc 0") {
            let said: Vec<&str> = self
                .log
                .lines()
                .filter(|l| l.contains("error:") || l.contains("SCXTEST tune-rc"))
                .collect();
            return Err(unclean(format!(
                "--tune {}={} failed: {}",
                tune.0,
                tune.1,
                said.join(" | ")
            )));
        }
        let key = format!("tune_{}", tune.0);
        if self.stat(&key) != Some(tune.1) {
            return Err(unclean(format!(
                "after --tune {}={}, the final statistics show {key}={:?}",
                tune.0,
                tune.1,
                self.stat(&key)
            )));
        }
        Ok(())
    }

    /// Ok iff a [`SchedRun::hotplug_cycle`] step worked for scheduler
    /// `name`: the scheduler was enabled again after the CPU went offline
    /// and after it came back, the runtime restarted it at least once when
    /// the kernel asked, and it attached once more than it restarted.
    pub fn check_hotplug_restarts(&self, name: &str) -> Result<(), RunError> {
        let unclean = |what: String| RunError::Unclean {
            what,
            tail: tail_lines(&self.log, 40),
        };
        for step in ["offline", "online"] {
            let marker = format!("SCXTEST hotplug-{step} ");
            let state = self
                .log
                .lines()
                .find_map(|l| l.trim().strip_prefix(marker.as_str()));
            if state.map(str::trim) != Some("enabled") {
                return Err(unclean(format!(
                    "after the CPU went {step} the scheduler was {state:?}, not enabled again"
                )));
            }
        }
        let restarts = self
            .log
            .matches(&format!("{name}: the kernel asked for a restart"))
            .count();
        let attached = self.log.matches(&format!("{name}: attached")).count();
        if restarts == 0 || attached != restarts + 1 {
            return Err(unclean(format!(
                "{restarts} restarts and {attached} attaches around the hotplug"
            )));
        }
        Ok(())
    }

    /// Ok iff the run was clean: no kernel problem, the scheduler went
    /// disabled → enabled → disabled, stayed enabled through the workload,
    /// exited 0 with the clean "unregistered from user space" reason, and
    /// the workload succeeded.
    pub fn check_clean(&self) -> Result<(), RunError> {
        if let Some(p) = self.vm.as_ref().and_then(|v| v.problems.first()) {
            return Err(RunError::Guest(p.clone()));
        }
        let unclean = |what: String| RunError::Unclean {
            what,
            tail: tail_lines(&self.log, 40),
        };
        if let Some(why) = &self.not_enabled {
            return Err(RunError::NotEnabled(format!(
                "{why}\n--- log tail ---\n{}",
                tail_lines(&self.log, 40)
            )));
        }
        let expect = ["disabled", "enabled", "disabled"];
        if self.states != expect {
            return Err(unclean(format!(
                "sched_ext states were {:?}, expected {:?} (before, during the workload, after)",
                self.states, expect
            )));
        }
        if self.sched_rc != Some(0) {
            return Err(unclean(format!(
                "the scheduler exited with {:?}",
                self.sched_rc
            )));
        }
        let reason = self
            .kernel_exit_reason
            .as_ref()
            .or(self.exit_reason.as_ref());
        if reason.map(String::as_str) != Some(CLEAN_EXIT) {
            return Err(unclean(format!(
                "exit reason {reason:?}, expected {CLEAN_EXIT:?}"
            )));
        }
        if self.workload_rc != Some(0) {
            return Err(unclean(format!(
                "the workload exited with {:?}",
                self.workload_rc
            )));
        }
        Ok(())
    }
}

/// Shell functions for a workload step that takes a CPU offline or online
/// while a scheduler runs: `st` prints the sched_ext state, and `hp_wait`
/// waits up to 10 s for the kernel to end the scheduler (it does so at a
/// hotplug event when the scheduler has no hotplug callbacks), then up to
/// 90 s for its runtime to have it enabled again.
pub const HOTPLUG_WAIT_SH: &str = r#"st() { cat /sys/kernel/sched_ext/state; }
hp_wait() {
	n=0; while [ "$(st)" = enabled ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
	n=0; while [ "$(st)" != enabled ] && [ $n -lt 900 ]; do sleep 0.1; n=$((n+1)); done
}"#;

/// Guest uptime at `/init` start (`SCXVM INIT uptime=`).
fn init_uptime(console: &str) -> Option<f64> {
    console
        .lines()
        .find_map(|l| l.trim().strip_prefix("SCXVM INIT uptime="))
        .and_then(|v| v.trim().parse().ok())
}

/// Stressor and bogo ops of one stress-ng metrics line
/// (`stress-ng: metrc: [pid] cpu 2068 ...`).
fn stress_ng_bogo_ops(line: &str) -> Option<(&str, u64)> {
    let rest = line.split("metrc:").nth(1)?;
    let mut words = rest.split_whitespace().skip(1);
    let stressor = words.next()?;
    if stressor == "stressor" || stressor.starts_with('(') {
        return None;
    }
    Some((stressor, words.next()?.parse().ok()?))
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=.,/:".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Builds scheduler package `name` of this workspace with cargo (release or
/// debug profile) and returns the path of its binary.
pub fn build_scheduler(name: &str, release: bool) -> Result<PathBuf, RunError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "-q", "-p", name]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| RunError::Build {
        name: name.into(),
        why: format!("cannot run cargo: {e}"),
    })?;
    if !status.success() {
        return Err(RunError::Build {
            name: name.into(),
            why: format!("cargo exited with {status}"),
        });
    }
    Ok(workspace_binary(
        name,
        if release { "release" } else { "debug" },
    ))
}

/// The binary `name` built by this workspace in `profile` (`release` or
/// `debug`), honouring `CARGO_TARGET_DIR`.
pub fn workspace_binary(name: &str, profile: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join(profile).join(name)
}

/// This workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
SCXVM INIT uptime=2.50
SCXVM BEGIN sched
SCXRUN state-before disabled
scx_template: attached (slice 20000 us)
SCXRUN enabled uptime=3.10
stress-ng: metrc: [95] stressor       bogo ops real time  usr time
stress-ng: metrc: [95]                           (secs)    (secs)
stress-ng: metrc: [95] cpu                2068      2.00      2.05
stats: local=1 global=2 dispatch=2
SCXRUN workload-rc 0
SCXRUN state-after-workload enabled
stats-final: local=10 global=20 dispatch=19
EXIT: unregistered from user space
SCXRUN sched-rc 0
SCXRUN state-after disabled
";

    #[test]
    fn parses_markers_stats_and_progress() {
        let r = SchedRunResult::parse(LOG);
        assert_eq!(r.states, ["disabled", "enabled", "disabled"]);
        assert_eq!(r.enabled_uptime, Some(3.10));
        assert_eq!(r.workload_rc, Some(0));
        assert_eq!(r.workload_ops, Some(2068));
        assert_eq!(r.sched_rc, Some(0));
        assert_eq!(r.exit_reason.as_deref(), Some(CLEAN_EXIT));
        assert_eq!(r.stat("global"), Some(20));
        assert_eq!(r.stat("dispatch"), Some(19));
        assert_eq!(init_uptime(LOG), Some(2.5));
        r.check_clean().expect("clean");
    }

    #[test]
    fn stress_suite_outcome_is_checked() {
        let suite = LOG
            .replace(
                "stats: local=1 global=2 dispatch=2\n",
                "stress-ng: metrc: [96] fork  300 2.0 1.0\n\
             stress-ng: metrc: [96] affinity 7 2.0 1.0\n\
             Time: 1.250\n\
             SCXQUERY-1 local=1 dispatch=5 tune_slice_us=20000\n\
             SCXQUERY-1 local=2 dispatch=9 tune_slice_us=20000\n\
             SCXTEST tune-rc 0\n\
             SCXQUERY-2 local=3 dispatch=40 tune_slice_us=5000\n",
            )
            .replace("dispatch=19", "dispatch=19 tune_slice_us=5000");
        let r = SchedRunResult::parse(&suite);
        assert_eq!(
            r.stressor_ops,
            [
                ("cpu".to_string(), 2068),
                ("fork".into(), 300),
                ("affinity".into(), 7)
            ]
        );
        assert_eq!(r.hackbench_rounds, 1);
        assert_eq!(r.queries.len(), 2, "first line of each query only");
        r.check_stress_suite("dispatch", ("slice_us", 5000))
            .expect("passes");
        // Each requirement fails it on its own.
        for (from, to) in [
            ("affinity 7", "affinity 0"),
            ("Time: 1.250\n", ""),
            ("dispatch=40", "dispatch=5"),
            ("SCXTEST tune-rc 0", "SCXTEST tune-rc 1"),
            (
                "dispatch=19 tune_slice_us=5000",
                "dispatch=19 tune_slice_us=20000",
            ),
        ] {
            let bad = SchedRunResult::parse(&suite.replace(from, to));
            assert!(
                bad.check_stress_suite("dispatch", ("slice_us", 5000))
                    .is_err(),
                "passed with {from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn unclean_runs_are_refused() {
        let kicked = LOG
            .replace(
                "state-after-workload enabled",
                "state-after-workload disabled",
            )
            .replace(
                "EXIT: unregistered from user space",
                "EXIT: runtime error (stall)",
            )
            .replace("sched-rc 0", "sched-rc 1");
        let err = SchedRunResult::parse(&kicked)
            .check_clean()
            .expect_err("unclean");
        assert!(err.to_string().contains("states were"), "{err}");

        let died = "SCXRUN state-before disabled\nSCXRUN sched-rc 1\nSCXRUN not-enabled the scheduler exited before it was enabled\n";
        let err = SchedRunResult::parse(died)
            .check_clean()
            .expect_err("not enabled");
        assert!(matches!(err, RunError::NotEnabled(_)), "{err}");
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("--slice-us=100"), "--slice-us=100");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
