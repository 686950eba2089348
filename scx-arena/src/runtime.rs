//! What every scheduler's userspace half does the same way: check that the
//! kernel can take a BPF scheduler, stop cleanly on SIGINT/SIGTERM, and print
//! statistics in one line format that tools and tests parse.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a scheduler cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The running kernel was built without sched_ext.
    #[error(
        "this kernel ({0}) has no sched_ext (CONFIG_SCHED_CLASS_EXT): \
         run the scheduler in the VM instead: tools/run <scheduler>"
    )]
    NoSchedExt(String),
    /// Not root.
    #[error("loading a BPF scheduler needs root (CAP_SYS_ADMIN and CAP_BPF): run it with sudo")]
    NotRoot,
    /// Another BPF scheduler is already attached.
    #[error("another sched_ext scheduler is already running ({0}); stop it first")]
    Busy(String),
    /// The SIGINT/SIGTERM handler could not be installed.
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signal(String),
}

const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

/// Checks that a BPF scheduler can be loaded here: sched_ext in the kernel,
/// root, and no other scheduler attached.
pub fn require_sched_ext() -> Result<(), RuntimeError> {
    if !Path::new(SCHED_EXT_SYSFS).exists() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        return Err(RuntimeError::NoSchedExt(release));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(RuntimeError::NotRoot);
    }
    let state = std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/state")).unwrap_or_default();
    if state.trim() != "disabled" {
        let ops =
            std::fs::read_to_string(format!("{SCHED_EXT_SYSFS}/root/ops")).unwrap_or_default();
        return Err(RuntimeError::Busy(format!(
            "state {}, ops {}",
            state.trim(),
            ops.trim()
        )));
    }
    Ok(())
}

/// Installs the SIGINT/SIGTERM handler once and returns the flag it sets.
pub fn shutdown_flag() -> Result<Arc<AtomicBool>, RuntimeError> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || f.store(true, Ordering::Relaxed))
        .map_err(|e| RuntimeError::Signal(e.to_string()))?;
    Ok(flag)
}

/// Waits while the scheduler runs: until `shutdown` is set (SIGINT or
/// SIGTERM) or `exited()` says the kernel ended it, calling `tick()` every
/// `interval` (never with a zero interval). Returns `tick`'s first error.
///
/// A scheduler binary wraps it between `scx_ops_attach!` and `uei_report!`:
///
/// ```ignore
/// let link = scx_ops_attach!(skel, my_ops)?;
/// runtime::watch(&shutdown, interval, || uei_exited!(&skel, uei), || print_stats(&skel))?;
/// drop(link);
/// ```
pub fn watch<E>(
    shutdown: &AtomicBool,
    interval: Duration,
    mut exited: impl FnMut() -> bool,
    mut tick: impl FnMut() -> Result<(), E>,
) -> Result<(), E> {
    let mut last = Instant::now();
    while !shutdown.load(Ordering::Relaxed) && !exited() {
        std::thread::sleep(Duration::from_millis(100));
        if !interval.is_zero() && last.elapsed() >= interval {
            tick()?;
            last = Instant::now();
        }
    }
    Ok(())
}

/// One statistics line: `<prefix> key=value key=value ...`. Every scheduler
/// prints its counters this way so `vm::` results and tests can parse them
/// with [`parse_stats_line`].
pub fn stats_line(prefix: &str, pairs: &[(&str, u64)]) -> String {
    let mut line = prefix.to_string();
    for (k, v) in pairs {
        line.push_str(&format!(" {k}={v}"));
    }
    line
}

/// Parses a line written by [`stats_line`] with the given prefix.
pub fn parse_stats_line(prefix: &str, line: &str) -> Option<Vec<(String, u64)>> {
    let rest = line.trim().strip_prefix(prefix)?;
    rest.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_line_round_trips() {
        let line = stats_line("stats:", &[("local", 3), ("global", 40)]);
        assert_eq!(line, "stats: local=3 global=40");
        let parsed = parse_stats_line("stats:", &line).expect("parses");
        assert_eq!(
            parsed,
            vec![("local".to_string(), 3), ("global".to_string(), 40)]
        );
        assert_eq!(parse_stats_line("stats:", "other: a=1"), None);
        assert_eq!(parse_stats_line("stats:", "stats: a=x"), None);
    }
}
