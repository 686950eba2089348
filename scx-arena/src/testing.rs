//! Host test harness for the BPF library: loads a BPF test object, runs its
//! `SEC("syscall")` programs through `BPF_PROG_TEST_RUN` and turns a failed
//! BPF-side assertion (`bpf/include/scx_arena/test.h`) into a Rust failure
//! naming the file, line, expression and both values.
//!
//! Without root or without arena support in the kernel the tests print why
//! and pass as skipped; with `CI=true` in the environment the missing
//! capability fails them instead, so CI cannot go green by testing nothing.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Barrier, Once, OnceLock};

use libbpf_rs::{MapCore, MapFlags, Object, ObjectBuilder, PrintLevel, ProgramInput};

use crate::arena::{ArenaError, ArenaPod, ArenaView};

/// Lines of the verifier log quoted when a load fails.
const VERIFIER_LOG_TAIL: usize = 40;

/// Name of the failure-record map (`bpf/lib/test.bpf.c`).
const FAILURE_MAP: &str = "scx_test_failure";

/// Everything that can go wrong running a BPF test.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The host cannot run BPF arena programs.
    #[error("host cannot run BPF arena tests: {0}")]
    Unsupported(String),
    /// libbpf could not parse the object.
    #[error("{source_file}: cannot open BPF object: {err}")]
    Open {
        /// The BPF source the object was built from.
        source_file: &'static str,
        /// libbpf's error.
        err: libbpf_rs::Error,
    },
    /// The kernel refused to load the object; carries the verifier log's tail.
    #[error("{source_file}: load failed: {err}\n--- verifier log (last lines) ---\n{log}")]
    Load {
        /// The BPF source the object was built from.
        source_file: &'static str,
        /// libbpf's error.
        err: libbpf_rs::Error,
        /// Tail of what libbpf printed while loading (the verifier log).
        log: String,
    },
    /// The object has no program of that name.
    #[error("{source_file}: no program named {prog}")]
    NoProgram {
        /// The BPF source the object was built from.
        source_file: &'static str,
        /// The program asked for.
        prog: String,
    },
    /// `BPF_PROG_TEST_RUN` itself failed.
    #[error("{prog}: BPF_PROG_TEST_RUN failed: {err}")]
    Run {
        /// The program run.
        prog: String,
        /// The error.
        err: libbpf_rs::Error,
    },
    /// A BPF-side assertion failed.
    #[error("{prog}: {failure}")]
    Assertion {
        /// The program run.
        prog: String,
        /// What the assertion recorded.
        failure: Failure,
    },
    /// The program returned nonzero without recording an assertion.
    #[error("{prog} returned {ret} without a recorded assertion (no scx_test_failure entry)")]
    Returned {
        /// The program run.
        prog: String,
        /// Its return value.
        ret: u32,
    },
    /// An op-buffer program ([`LoadedObject::run_ops`]) was given more
    /// operations than its buffer holds, or did not run exactly those it was given.
    #[error("{prog}: {what}")]
    Ops {
        /// The program run.
        prog: String,
        /// What went wrong.
        what: String,
    },
    /// The failure record could not be read back.
    #[error("cannot read the {FAILURE_MAP} map: {0}")]
    FailureMap(String),
    /// The object's arena could not be viewed.
    #[error(transparent)]
    Arena(#[from] ArenaError),
}

/// A failed BPF-side assertion, as `test.h` recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// File name of the assertion (`__FILE_NAME__`).
    pub file: String,
    /// Its line.
    pub line: u32,
    /// The asserted expression, as written.
    pub expr: String,
    /// Left value, raw bits.
    pub lhs: u64,
    /// Right value, raw bits.
    pub rhs: u64,
    /// Whether the values are signed.
    pub signed: bool,
}

impl Failure {
    /// Byte layout of `struct scx_test_failure` in `test.h`.
    const FILE_OFF: usize = 32;
    const FILE_LEN: usize = 64;
    const EXPR_OFF: usize = Self::FILE_OFF + Self::FILE_LEN;
    const EXPR_LEN: usize = 128;
    const SIZE: usize = Self::EXPR_OFF + Self::EXPR_LEN;

    /// Decodes the record; None when no failure was claimed.
    pub fn decode(raw: &[u8]) -> Option<Failure> {
        if raw.len() < Self::SIZE {
            return None;
        }
        let u32_at = |o: usize| u32::from_ne_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
        let text = |o: usize, n: usize| {
            let s = &raw[o..o + n];
            let end = s.iter().position(|&b| b == 0).unwrap_or(n);
            String::from_utf8_lossy(&s[..end]).into_owned()
        };
        if u32_at(0) == 0 {
            return None;
        }
        Some(Failure {
            line: u32_at(4),
            lhs: u64_at(8),
            rhs: u64_at(16),
            signed: u32_at(24) != 0,
            file: text(Self::FILE_OFF, Self::FILE_LEN),
            expr: text(Self::EXPR_OFF, Self::EXPR_LEN),
        })
    }

    fn value(&self, v: u64) -> String {
        if self.signed {
            format!("{}", v as i64)
        } else if v > 0xffff {
            format!("{v} ({v:#x})")
        } else {
            format!("{v}")
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: assertion failed: {}\n  left:  {}\n  right: {}",
            self.file,
            self.line,
            self.expr,
            self.value(self.lhs),
            self.value(self.rhs)
        )
    }
}

/// Whether this host can load and run BPF arena programs; probed once.
pub fn host_support() -> Result<(), TestError> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(probe_arena)
        .clone()
        .map_err(TestError::Unsupported)
}

/// The skip policy of every host BPF test: true when the host can run arena
/// programs; otherwise prints why `test` is skipped and returns false, or,
/// under `CI=true`, panics, so CI cannot pass by testing nothing.
pub fn host_ready(test: &str) -> bool {
    match host_support() {
        Ok(()) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{e} (CI=true: a missing capability fails the run)")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            false
        }
    }
}

fn probe_arena() -> Result<(), String> {
    let opts = libbpf_rs::libbpf_sys::bpf_map_create_opts {
        sz: std::mem::size_of::<libbpf_rs::libbpf_sys::bpf_map_create_opts>() as _,
        map_flags: libbpf_rs::libbpf_sys::BPF_F_MMAPABLE,
        ..Default::default()
    };
    // SAFETY: plain syscall wrapper; the name is a valid C string and opts
    // lives across the call.
    let fd = unsafe {
        libbpf_rs::libbpf_sys::bpf_map_create(
            libbpf_rs::libbpf_sys::BPF_MAP_TYPE_ARENA,
            c"scx_probe".as_ptr(),
            0,
            0,
            1,
            &opts,
        )
    };
    if fd >= 0 {
        // SAFETY: fd was just returned to us.
        unsafe { libc::close(fd) };
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "creating a BPF arena map needs root (CAP_BPF and CAP_SYS_ADMIN); run as root".into()
        }
        Some(libc::EINVAL) => {
            "the kernel has no BPF arena maps (Linux >= 6.9 with CONFIG_BPF_SYSCALL)".into()
        }
        _ => format!("creating a BPF arena map failed: {err}"),
    })
}

thread_local! {
    /// What libbpf printed on this thread during the current load.
    static LIBBPF_LOG: RefCell<String> = const { RefCell::new(String::new()) };
}

fn capture_libbpf_output() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        fn print(_level: PrintLevel, msg: String) {
            LIBBPF_LOG.with(|l| l.borrow_mut().push_str(&msg));
        }
        libbpf_rs::set_print(Some((PrintLevel::Info, print)));
    });
    LIBBPF_LOG.with(|l| l.borrow_mut().clear());
}

fn libbpf_log_tail() -> String {
    LIBBPF_LOG.with(|l| {
        let log = l.borrow();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(VERIFIER_LOG_TAIL)..].join("\n")
    })
}

/// A BPF test object embedded in the test binary.
#[derive(Debug, Clone, Copy)]
pub struct TestObject {
    /// The BPF source it was built from (for messages).
    pub source: &'static str,
    /// The linked ELF object.
    pub bytes: &'static [u8],
}

impl TestObject {
    /// Opens the object and loads only the programs named in `progs` (all
    /// of them when `progs` is empty), so a test verifies only what it runs.
    pub fn load(&self, progs: &[&str]) -> Result<LoadedObject, TestError> {
        host_support()?;
        capture_libbpf_output();
        let mut open = ObjectBuilder::default()
            .open_memory(self.bytes)
            .map_err(|err| TestError::Open {
                source_file: self.source,
                err,
            })?;
        if let Some(missing) = progs
            .iter()
            .find(|p| !open.progs().any(|q| q.name() == **p))
        {
            return Err(TestError::NoProgram {
                source_file: self.source,
                prog: missing.to_string(),
            });
        }
        for mut prog in open.progs_mut() {
            let wanted = progs.is_empty() || progs.iter().any(|p| prog.name() == *p);
            prog.set_autoload(wanted);
        }
        let obj = open.load().map_err(|err| TestError::Load {
            source_file: self.source,
            err,
            log: libbpf_log_tail(),
        })?;
        Ok(LoadedObject {
            source: self.source,
            obj,
        })
    }

    /// The object's test programs: `SEC("syscall")` programs named `test_*`,
    /// in the object's order.
    pub fn test_programs(&self) -> Result<Vec<String>, TestError> {
        let open = ObjectBuilder::default()
            .open_memory(self.bytes)
            .map_err(|err| TestError::Open {
                source_file: self.source,
                err,
            })?;
        Ok(open
            .progs()
            .filter(|p| p.section() == "syscall")
            .map(|p| p.name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("test_"))
            .collect())
    }

    /// Runs test program `prog` alone in a fresh instance of the object:
    /// Ok when it passes, else the load error (with the verifier log's
    /// tail) or the BPF-side report.
    pub fn try_run_test(&self, prog: &str) -> Result<(), TestError> {
        self.load(&[prog]).and_then(|obj| obj.run(prog, None))
    }

    /// [`TestObject::try_run_test`] that panics with the error. Skips (prints
    /// the reason and returns) when the host cannot run arena programs,
    /// unless `CI=true`.
    pub fn run_test(&self, prog: &str) {
        if !host_ready(prog) {
            return;
        }
        if let Err(e) = self.try_run_test(prog) {
            panic!("{e}");
        }
    }
}

/// A loaded BPF test object.
#[derive(Debug)]
pub struct LoadedObject {
    source: &'static str,
    obj: Object,
}

impl LoadedObject {
    /// Runs `prog` once with `ctx` as its context (written back by the
    /// kernel). Ok(()) when it returns 0; otherwise the recorded assertion,
    /// or the bare return value if none was recorded.
    pub fn run(&self, prog: &str, ctx: Option<&mut [u8]>) -> Result<(), TestError> {
        let ret = self.run_raw(prog, ctx)?;
        self.outcome(prog, ret)
    }

    /// What a run of `prog` that returned `ret` means: Ok for 0, else the
    /// recorded assertion, or the bare return value if none was recorded.
    pub fn outcome(&self, prog: &str, ret: u32) -> Result<(), TestError> {
        if ret == 0 {
            return Ok(());
        }
        match self.failure()? {
            Some(failure) => Err(TestError::Assertion {
                prog: prog.to_string(),
                failure,
            }),
            None => Err(TestError::Returned {
                prog: prog.to_string(),
                ret,
            }),
        }
    }

    /// Runs `prog` with a context made of 64-bit words (how the BPF test
    /// drivers define their contexts), writes the words the kernel copied
    /// back into `words`, and returns the program's return value as is.
    pub fn run_words(&self, prog: &str, words: &mut [u64]) -> Result<u32, TestError> {
        let mut ctx: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let ret = self.run_raw(prog, Some(&mut ctx))?;
        for (w, b) in words.iter_mut().zip(ctx.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(b);
            *w = u64::from_ne_bytes(bytes);
        }
        Ok(ret)
    }

    /// Runs `prog` once and returns its return value as is.
    pub fn run_raw(&self, prog: &str, ctx: Option<&mut [u8]>) -> Result<u32, TestError> {
        let p = self
            .obj
            .progs_mut()
            .find(|p| p.name() == prog)
            .ok_or_else(|| TestError::NoProgram {
                source_file: self.source,
                prog: prog.to_string(),
            })?;
        let input = ProgramInput {
            context_in: ctx,
            ..Default::default()
        };
        let out = p.test_run(input).map_err(|err| TestError::Run {
            prog: prog.to_string(),
            err,
        })?;
        Ok(out.return_value)
    }

    /// Runs `ops` through `prog`, a program of the op-buffer protocol of
    /// the library's differential tests (`bpf/tests/test_heap.h` and its
    /// siblings), and returns them with the results the program wrote into
    /// them, and the addresses it published.
    ///
    /// The protocol: the context is `{ __u32 nr; __u32 done; __u64 buf;
    /// __u64 obj; }`. The program runs the first `nr` entries of its op
    /// buffer in the arena (room for `capacity` entries of type `T`),
    /// writes each one's result into it, sets `done` to the number it ran,
    /// and publishes the buffer's address (`buf`) and that of the structure
    /// under test (`obj`). A run with `nr` 0 only publishes: see
    /// [`LoadedObject::ops_addrs`]. One batch is one `BPF_PROG_TEST_RUN`,
    /// and the ops go in and out through the arena's mapping, not a
    /// syscall each.
    pub fn run_ops<T: ArenaPod>(
        &self,
        prog: &str,
        capacity: usize,
        ops: &[T],
    ) -> Result<(Vec<T>, OpsAddrs), TestError> {
        if ops.len() > capacity {
            return Err(TestError::Ops {
                prog: prog.to_string(),
                what: format!("{} operations, the buffer holds {capacity}", ops.len()),
            });
        }
        let view = self.arena()?;
        let buf = self.ops_addrs(prog)?.buf;
        view.check(buf, capacity * size_of::<T>(), align_of::<T>())?;
        view.write_array(buf, ops)?;
        let addrs = self.ops_run(prog, ops.len())?;
        Ok((view.read_array(addrs.buf, ops.len())?, addrs))
    }

    /// Where op-buffer program `prog` ([`LoadedObject::run_ops`]) keeps its
    /// buffer and its structure: a run with no operations.
    pub fn ops_addrs(&self, prog: &str) -> Result<OpsAddrs, TestError> {
        self.ops_run(prog, 0)
    }

    /// One run of op-buffer program `prog` over the first `nr` entries.
    fn ops_run(&self, prog: &str, nr: usize) -> Result<OpsAddrs, TestError> {
        let nr32 = u32::try_from(nr).map_err(|_| TestError::Ops {
            prog: prog.to_string(),
            what: format!("{nr} operations do not fit the context's u32"),
        })?;
        let mut ctx = [0u8; 24];
        ctx[0..4].copy_from_slice(&nr32.to_ne_bytes());
        let ret = self.run_raw(prog, Some(&mut ctx))?;
        self.outcome(prog, ret)?;
        let done = u32::from_ne_bytes([ctx[4], ctx[5], ctx[6], ctx[7]]);
        if done != nr32 {
            return Err(TestError::Ops {
                prog: prog.to_string(),
                what: format!("ran {done} of {nr} operations"),
            });
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&ctx[i..i + 8]);
            u64::from_ne_bytes(b)
        };
        Ok(OpsAddrs {
            buf: word(8),
            obj: word(16),
        })
    }

    /// The assertion recorded so far, if any.
    pub fn failure(&self) -> Result<Option<Failure>, TestError> {
        let map = self
            .obj
            .maps()
            .find(|m| m.name() == FAILURE_MAP)
            .ok_or_else(|| TestError::FailureMap(format!("{} has no such map", self.source)))?;
        let raw = map
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| TestError::FailureMap(e.to_string()))?
            .unwrap_or_default();
        Ok(Failure::decode(&raw))
    }

    /// The object's arena, read through its mmap.
    pub fn arena(&self) -> Result<ArenaView<'_>, TestError> {
        Ok(ArenaView::of_object(&self.obj)?)
    }

    /// The underlying libbpf object.
    pub fn object(&self) -> &Object {
        &self.obj
    }
}

/// The addresses an op-buffer program publishes ([`LoadedObject::run_ops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsAddrs {
    /// Arena address of the op buffer.
    pub buf: u64,
    /// Arena address of the structure under test.
    pub obj: u64,
}

/// Runs `f(0)`, ..., `f(threads - 1)` on as many threads, released together
/// from a barrier so that the BPF runs they start overlap, and returns their
/// results in that order: how the concurrency tests drive one loaded object
/// from several CPUs. A panic in a thread (a failed check) is re-raised here.
pub fn run_at_once<T: Send>(threads: usize, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|t| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    barrier.wait();
                    f(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_at_once_returns_results_in_thread_order() {
        let got = run_at_once(4, |t| t * 10);
        assert_eq!(got, vec![0, 10, 20, 30]);
    }

    #[test]
    #[should_panic(expected = "thread 1 failed")]
    fn run_at_once_reraises_a_thread_panic() {
        run_at_once(2, |t| assert!(t != 1, "thread {t} failed"));
    }

    #[test]
    fn decodes_failure_record() {
        let mut raw = vec![0u8; Failure::SIZE];
        assert_eq!(Failure::decode(&raw), None);
        raw[0..4].copy_from_slice(&1u32.to_ne_bytes());
        raw[4..8].copy_from_slice(&57u32.to_ne_bytes());
        raw[8..16].copy_from_slice(&(-41i64 as u64).to_ne_bytes());
        raw[16..24].copy_from_slice(&42u64.to_ne_bytes());
        raw[24..28].copy_from_slice(&1u32.to_ne_bytes());
        raw[32..32 + 7].copy_from_slice(b"t.bpf.c");
        raw[96..96 + 9].copy_from_slice(b"got == 42");
        let f = Failure::decode(&raw).expect("claimed record");
        assert_eq!(f.line, 57);
        assert_eq!(
            f.to_string(),
            "t.bpf.c:57: assertion failed: got == 42\n  left:  -41\n  right: 42"
        );
    }
}
