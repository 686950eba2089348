//! What every scheduler's userspace half does the same way: the flags they
//! share ([`CommonOpts`]), a check that the kernel can take a BPF scheduler,
//! a clean stop on SIGINT/SIGTERM, the loop that serves statistics and live
//! retuning while the scheduler runs ([`serve`]), the client modes
//! (`--monitor`, `--tune`), and the one line format tools and tests parse.
//!
//! A scheduler's `main` (see schedulers/scx_template/src/main.rs):
//!
//! ```ignore
//! fn main() -> ExitCode {
//!     runtime::report(runtime::run("scx_mine", &opts.common, |service, shutdown| {
//!         // open, set rodata and tunables, load (map_err(runtime::load_error)), attach ...
//!         runtime::serve(&mut Mine { skel: &mut skel }, opts.common.interval(), Some(service), shutdown)?;
//!         drop(link);
//!         Ok(uei_report!(&skel, uei)?.should_restart())
//!     }))
//! }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::serve::{json_line, Client, ServeError, Service, Tunable, DEFAULT_SOCKET};
use crate::stats::Snapshot;

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

/// Flags every scheduler has; `#[command(flatten)]` them into its own.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonOpts {
    /// Print statistics every SECS seconds (0: only once, at exit).
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    pub stats: f64,

    /// Do not load a scheduler: print the running one's statistics every
    /// SECS seconds, read from its stats socket, until interrupted (0: once).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub monitor: Option<f64>,

    /// Do not load a scheduler: change a live tunable of the running one
    /// through its stats socket. NAME=VALUE; repeat for several.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_name_value)]
    pub tune: Vec<(String, String)>,

    /// Serve the statistics as OpenMetrics (Prometheus) text at
    /// http://ADDR/metrics. Without ADDR: 127.0.0.1:9469 (loopback only;
    /// name another address to expose it).
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::serve::DEFAULT_METRICS_ADDR)]
    pub metrics_addr: Option<SocketAddr>,

    /// The stats/control socket (scx_stats protocol) the scheduler serves
    /// and --monitor/--tune talk to.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub stats_socket: PathBuf,

    /// Size of the scheduler's BPF arena in 4 KiB pages (256..=1048576;
    /// default: as built, 65536 = 256 MiB). It caps the scheduler's memory:
    /// pages are backed only when allocated. When the arena is full, tasks
    /// that get no context run through the kernel's DSQ (stats: fallback,
    /// alloc_failed).
    #[arg(long, value_name = "PAGES",
          value_parser = clap::value_parser!(u32).range(MIN_ARENA_PAGES as i64..=MAX_ARENA_PAGES as i64))]
    pub arena_pages: Option<u32>,
}

/// The smallest `--arena-pages`: 4 MiB, room for a scheduler's init-time
/// pages (statistics, histograms, the allocator's root) and a few allocator
/// chunks.
pub const MIN_ARENA_PAGES: u32 = 256;
/// The largest `--arena-pages`: 4 GiB, the most an arena can span.
pub const MAX_ARENA_PAGES: u32 = 1 << 20;

impl CommonOpts {
    /// `--stats` as a duration (zero: only the final line).
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.stats)
    }

    /// Applies `--arena-pages` to the object's arena map (`skel.maps.arena`)
    /// before load; without the flag the size it was built with stays.
    pub fn size_arena(&self, arena: &mut libbpf_rs::OpenMapMut) -> Result<(), libbpf_rs::Error> {
        match self.arena_pages {
            Some(pages) => arena.set_max_entries(pages),
            None => Ok(()),
        }
    }
}

/// A number of seconds, >= 0.
fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds >= 0")),
    }
}

/// `NAME=VALUE`.
fn parse_name_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not NAME=VALUE")),
    }
}

/// An error of a scheduler's own making (reading its maps, say).
pub type SchedError = Box<dyn std::error::Error + Send + Sync>;

/// [`serve`] could not read the scheduler.
#[derive(Debug, thiserror::Error)]
#[error("reading the scheduler: {0}")]
pub struct ReadError(#[source] pub SchedError);

/// What [`serve`] needs from a loaded, attached scheduler.
pub trait Scheduler {
    /// The knobs [`Scheduler::tune`] accepts, with their ranges.
    fn tunables(&self) -> &'static [Tunable];
    /// Everything it reports now, tunables included.
    fn snapshot(&mut self) -> Result<Snapshot, SchedError>;
    /// Sets one tunable, already checked against its range, in the running
    /// scheduler.
    fn tune(&mut self, name: &'static str, value: u64) -> Result<(), SchedError>;
    /// Whether the kernel ended the scheduler (`uei_exited!`).
    fn exited(&mut self) -> bool;
}

/// How often [`serve`] looks at the shutdown flag and the kernel's exit.
const POLL: Duration = Duration::from_millis(100);

/// Runs while the scheduler does: answers the stats socket, the metrics
/// endpoint and live retunes (with a `service`), prints a `stats:` line
/// every `interval` (never with a zero one), until SIGINT/SIGTERM or the
/// kernel ends it; then prints the `stats-final:` line. Returns the first
/// error reading the scheduler.
pub fn serve(
    sched: &mut dyn Scheduler,
    interval: Duration,
    service: Option<&Service>,
    shutdown: &AtomicBool,
) -> Result<(), ReadError> {
    let tunables = sched.tunables();
    let mut last = Instant::now();
    let mut failed: Option<SchedError> = None;
    while !shutdown.load(Ordering::Relaxed) && !sched.exited() {
        match service {
            Some(service) => {
                let cell = std::cell::RefCell::new(&mut *sched);
                service.answer(
                    POLL,
                    tunables,
                    &mut || cell.borrow_mut().snapshot().map_err(|e| e.to_string()),
                    &mut |name, v| {
                        let r = cell.borrow_mut().tune(name, v).map_err(|e| e.to_string());
                        if r.is_ok() {
                            println!("retuned: {name}={v}");
                        }
                        r
                    },
                );
            }
            None => std::thread::sleep(POLL),
        }
        if !interval.is_zero() && last.elapsed() >= interval {
            match sched.snapshot() {
                Ok(s) => println!("{}", s.line("stats:")),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            last = Instant::now();
        }
    }
    let s = sched.snapshot().map_err(ReadError)?;
    println!("{}", s.line("stats-final:"));
    match failed {
        Some(e) => Err(ReadError(e)),
        None => Ok(()),
    }
}

/// A scheduler binary's life: `--monitor`/`--tune` when asked (then it
/// loads nothing); otherwise the checks ([`require_sched_ext`]), libbpf's
/// log kept for [`load_error`], the stats/control socket and metrics
/// endpoint started once, and `once` run until it returns `false`: it
/// loads and attaches the scheduler, [`serve`]s it, and returns whether the
/// kernel asked for a restart (`uei_report!(..)?.should_restart()`).
pub fn run<E>(
    name: &str,
    opts: &CommonOpts,
    mut once: impl FnMut(&Service, &AtomicBool) -> Result<bool, E>,
) -> Result<(), E>
where
    E: From<RuntimeError> + From<ServeError>,
{
    let shutdown = shutdown_flag()?;
    if let Some(done) = client_mode(opts, &shutdown) {
        return Ok(done?);
    }
    require_sched_ext()?;
    capture_libbpf_log();
    let service = Service::launch(&opts.stats_socket, opts.metrics_addr)?;
    if let Some(addr) = service.metrics_addr() {
        println!("{name}: metrics at http://{addr}/metrics");
    }
    while once(&service, &shutdown)? {
        println!("{name}: the kernel asked for a restart");
    }
    Ok(())
}

/// `--monitor` and `--tune`: talk to the scheduler already running instead
/// of loading one. Returns `None` when neither was given.
pub fn client_mode(opts: &CommonOpts, shutdown: &AtomicBool) -> Option<Result<(), ServeError>> {
    if !opts.tune.is_empty() {
        return Some(Client::connect(&opts.stats_socket).and_then(|mut c| {
            let v = c.tune(&opts.tune)?;
            println!("{}", json_line("retuned:", &v));
            Ok(())
        }));
    }
    let secs = opts.monitor?;
    Some(Client::connect(&opts.stats_socket).and_then(|mut c| {
        while !shutdown.load(Ordering::Relaxed) {
            println!("{}", json_line("stats:", &c.stats()?));
            if secs == 0.0 {
                break;
            }
            let until = Instant::now() + Duration::from_secs_f64(secs);
            while Instant::now() < until && !shutdown.load(Ordering::Relaxed) {
                std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            }
        }
        Ok(())
    }))
}

/// libbpf's messages of this process (the tail of them), kept by
/// [`capture_libbpf_log`].
static LIBBPF_LOG: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
/// How much of libbpf's output is kept: enough for any verifier log's tail.
const LIBBPF_LOG_KEEP: usize = 1 << 20;
/// Verifier log lines a failed load shows.
pub const VERIFIER_TAIL_LINES: usize = 20;

fn keep_libbpf_message(level: libbpf_rs::PrintLevel, msg: String) {
    // Short warnings (a missing kfunc, a map fallback) are shown as they
    // come; a verifier log is kept for load_error() to quote its tail.
    // (The load failure itself is summed up by load_error.)
    let load_failure =
        msg.contains("LOAD LOG") || msg.contains("failed to load") || msg.contains("load failed");
    if level == libbpf_rs::PrintLevel::Warn && msg.lines().count() <= 2 && !load_failure {
        eprint!("{msg}");
    }
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push_str(&msg);
        if log.len() > LIBBPF_LOG_KEEP {
            let mut cut = log.len() - LIBBPF_LOG_KEEP / 2;
            while !log.is_char_boundary(cut) {
                cut += 1;
            }
            log.drain(..cut);
        }
    }
}

/// Keeps libbpf's messages instead of printing them whole: a verifier
/// rejection prints thousands of lines, of which [`load_error`] quotes the
/// useful tail. Call before opening the skeleton.
pub fn capture_libbpf_log() {
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Info, keep_libbpf_message)));
}

/// What a verifier rejection in `log` (libbpf's output) comes down to: the
/// program, libbpf's reason and the last `lines` lines of the verifier log.
/// `None` when the log holds no rejected program.
pub fn verifier_rejection(log: &str, lines: usize) -> Option<String> {
    // libbpf: prog 'NAME': BPF program load failed: REASON
    let (head, rest) = log.rsplit_once("BPF program load failed:")?;
    let prog = head
        .rsplit_once("prog '")
        .and_then(|(_, p)| p.split_once('\''))
        .map_or("?", |(p, _)| p);
    let reason = rest.lines().next().unwrap_or("").trim();
    let body = rest
        .split_once("-- BEGIN PROG LOAD LOG --")
        .map_or("", |(_, b)| b);
    let body = body.split("-- END PROG LOAD LOG --").next().unwrap_or("");
    let log_lines: Vec<&str> = body
        .lines()
        .map(|l| l.trim_end())
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &log_lines[log_lines.len().saturating_sub(lines)..];
    Some(format!(
        "the verifier rejected BPF program '{prog}' ({reason}); the last {} lines of its log:\n{}",
        tail.len(),
        tail.join("\n")
    ))
}

/// The error of a failed load. When libbpf's log (see
/// [`capture_libbpf_log`]) holds a verifier rejection, that is the whole
/// message: the program, the reason and the log's tail, after the system
/// error; guesses that wrappers added on the way (scx_utils blames any load
/// failure on a kernel's malformed kfunc BTF when it finds one) are left
/// out, since the log says what went wrong.
pub fn load_error(e: anyhow::Error) -> anyhow::Error {
    let log = LIBBPF_LOG.lock().map(|l| l.clone()).unwrap_or_default();
    match verifier_rejection(&log, VERIFIER_TAIL_LINES) {
        Some(why) => anyhow::anyhow!(
            "loading the BPF scheduler failed ({}): {why}",
            e.root_cause()
        ),
        None => e,
    }
}

/// A scheduler binary's exit: on error, one `error: ...` line with the
/// causes (no backtrace, whatever RUST_BACKTRACE says) and exit status 1.
pub fn report(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parses a line written by [`Snapshot::line`] with the given prefix.
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
    fn verifier_rejection_quotes_the_log_tail() {
        let mut log = String::from(
            "libbpf: loading object\n\
             libbpf: prog 'x_enqueue': BPF program load failed: Permission denied\n\
             libbpf: prog 'x_enqueue': -- BEGIN PROG LOAD LOG --\n",
        );
        for i in 0..100 {
            log.push_str(&format!("{i}: (b7) r1 = 0\n"));
        }
        log.push_str(
            "R0 invalid mem access 'scalar'\nprocessed 120 insns\n-- END PROG LOAD LOG --\n",
        );
        log.push_str("libbpf: failed to load object 'x'\n");
        let why = verifier_rejection(&log, 5).expect("a rejection");
        assert!(why.starts_with(
            "the verifier rejected BPF program 'x_enqueue' (Permission denied); the last 5 lines"
        ));
        assert!(why.ends_with(
            "98: (b7) r1 = 0\n99: (b7) r1 = 0\nR0 invalid mem access 'scalar'\nprocessed 120 insns"
        ));
        assert!(!why.contains("96:"));
        assert_eq!(verifier_rejection("libbpf: all fine\n", 5), None);
    }

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        common: CommonOpts,
    }

    fn flags(args: &[&str]) -> Result<CommonOpts, clap::Error> {
        use clap::Parser;
        Flags::try_parse_from(std::iter::once("sched").chain(args.iter().copied()))
            .map(|f| f.common)
    }

    #[test]
    fn metrics_are_off_by_default_and_on_loopback_when_asked() {
        assert_eq!(flags(&[]).expect("no flags").metrics_addr, None);
        let addr = flags(&["--metrics-addr"])
            .expect("bare flag")
            .metrics_addr
            .expect("an address");
        assert!(addr.ip().is_loopback(), "{addr}");
        let named = flags(&["--metrics-addr", "0.0.0.0:9000"]).expect("named");
        assert_eq!(
            named.metrics_addr,
            Some("0.0.0.0:9000".parse().expect("addr"))
        );
    }

    #[test]
    fn arena_pages_are_checked_and_optional() {
        assert_eq!(flags(&[]).expect("no flags").arena_pages, None);
        let f = flags(&["--arena-pages", "384"]).expect("in range");
        assert_eq!(f.arena_pages, Some(384));
        for bad in ["255", "1048577", "0", "-3", "4k"] {
            assert!(flags(&["--arena-pages", bad]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn stats_line_parses() {
        let line = "stats: local=3 global=40";
        let parsed = parse_stats_line("stats:", line).expect("parses");
        assert_eq!(
            parsed,
            vec![("local".to_string(), 3), ("global".to_string(), 40)]
        );
        assert_eq!(parse_stats_line("stats:", "other: a=1"), None);
        assert_eq!(parse_stats_line("stats:", "stats: a=x"), None);
    }
}
