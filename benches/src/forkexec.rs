//! The fork/exec storm: `parallel` threads each fork a child that execs a
//! program (`/bin/true`) and wait for it, until `count` children have run;
//! the figure is the wall time of the whole storm. Every child is a new task
//! the scheduler places (`sched_wakeup_new`, `select_cpu` on fork and
//! exec) and an exit it cleans up after.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use serde::{Deserialize, Serialize};

use crate::clock::now_ns;
use crate::resultline::{ParseError, ResultLine};

/// The prefix of the result line.
pub const LINE_PREFIX: &str = "forkexec:";

/// Why the storm failed.
#[derive(Debug, thiserror::Error)]
pub enum StormError {
    /// The program path holds a NUL byte.
    #[error("bad program path {0:?}")]
    Path(String),
    /// fork(2) failed.
    #[error("fork: {0}")]
    Fork(std::io::Error),
    /// A child did not exit with status 0 (the exec failed, say).
    #[error("a child of {program} ended with wait status {status:#x}")]
    Child {
        /// The program.
        program: String,
        /// Its wait status.
        status: i32,
    },
}

/// What the storm measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Children run.
    pub n: u64,
    /// Wall time of the whole storm, in ms.
    pub total_ms: f64,
    /// Wall time per child, in us (`total_ms` * 1000 / `n`).
    pub per_exec_us: f64,
}

impl Summary {
    /// `forkexec: n=.. total_ms=.. per_exec_us=..`
    pub fn line(&self) -> String {
        format!(
            "{LINE_PREFIX} n={} total_ms={:.3} per_exec_us={:.3}",
            self.n, self.total_ms, self.per_exec_us
        )
    }

    /// Reads the line out of `output`.
    pub fn parse(output: &str) -> Result<Self, ParseError> {
        let l = ResultLine::find(output, LINE_PREFIX)?;
        Ok(Summary {
            n: l.get("n")?,
            total_ms: l.get("total_ms")?,
            per_exec_us: l.get("per_exec_us")?,
        })
    }
}

/// Runs `count` fork+exec+wait of `program` (no arguments) from `parallel`
/// threads.
pub fn storm(program: &str, count: u64, parallel: usize) -> Result<Summary, StormError> {
    let path = CString::new(program).map_err(|_| StormError::Path(program.into()))?;
    let left = AtomicU64::new(count);
    let start = now_ns();
    thread::scope(|s| {
        let workers: Vec<_> = (0..parallel.max(1))
            .map(|_| s.spawn(|| run_children(&path, program, &left)))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })?;
    let total_ns = now_ns() - start;
    Ok(Summary {
        n: count,
        total_ms: total_ns as f64 / 1e6,
        per_exec_us: if count == 0 {
            0.0
        } else {
            total_ns as f64 / 1e3 / count as f64
        },
    })
}

/// One thread of the storm: takes children from `left` until none is left.
fn run_children(path: &CString, program: &str, left: &AtomicU64) -> Result<(), StormError> {
    let argv = [path.as_ptr(), std::ptr::null()];
    while left
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        // SAFETY: the child calls only async-signal-safe functions (execv,
        // _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(StormError::Fork(std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: see above; argv is NUL-terminated.
            unsafe {
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if status != 0 {
            return Err(StormError::Child {
                program: program.into(),
                status,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storm_runs_every_child_and_its_line_round_trips() {
        let s = storm("/bin/true", 20, 2).expect("storm");
        assert_eq!(s.n, 20);
        assert!(s.total_ms > 0.0);
        let line = Summary {
            n: 20,
            total_ms: 14.5,
            per_exec_us: 725.25,
        };
        assert_eq!(Summary::parse(&format!("x\n{}\n", line.line())), Ok(line));
        assert!(matches!(
            storm("/nonexistent/prog", 1, 1),
            Err(StormError::Child { status, .. }) if status != 0
        ));
    }
}
