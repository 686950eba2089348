//! hostile: a workload that tries to make a scheduler lose a task, run in
//! the sched_ext VM (tests/vm_hostile.rs, tools/soak).
//!
//! Three processes run side by side:
//! - `threads`: N threads (default 5,000) alive at once (they meet at a
//!   barrier), each doing a little work before and after a short sleep;
//! - `forks`: a fork/exit storm for `--secs`: batches of children that spin
//!   briefly and exit with a known status, each reaped and checked;
//! - `churn`: workers, half CPU hogs and half frequent sleepers, counting
//!   work units while a churn thread changes their affinity (all CPUs or a
//!   single one), nice level and policy (SCHED_BATCH, SCHED_IDLE, back to
//!   SCHED_OTHER) for `--secs`; then each finishes a last unit.
//!
//! Meanwhile the main process moves the three between cgroups (cgroup2,
//! groups with different `cpu.weight`). At the end it prints one line,
//!
//! `HOSTILE threads=5000/5000 forks=812/812 workers=8/8 units=5123 affinity=.. nice=.. policy=.. cgroup_moves=.. refused=.. result=pass`
//!
//! (`done/of` for every task that had work to finish; `refused`: churn or
//! cgroup operations the kernel refused, e.g. a CPU that was offline), and
//! exits 0 iff every task finished its work before `--deadline`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

/// Where cgroup2 is (or gets) mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The groups the processes move between, with their `cpu.weight`.
const GROUPS: [(&str, u32); 3] = [("hostile-a", 50), ("hostile-b", 100), ("hostile-c", 400)];
/// Stack of each thread of the `threads` role: small, so thousands fit.
const THREAD_STACK: usize = 64 << 10;

#[derive(Debug, Parser)]
#[command(about = "A hostile workload for sched_ext schedulers: threads, forks, churn, cgroups")]
struct Opts {
    /// How long the fork storm and the churn run, in seconds (1..=3600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    secs: u64,

    /// Threads alive at once in the `threads` process (1..=100000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    threads: u64,

    /// Workers in the `churn` process, half hogs and half sleepers (2..=256).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(2..=256))]
    workers: u64,

    /// Give up (and fail) after this many seconds; default 10 x --secs + 60.
    #[arg(long)]
    deadline: Option<u64>,

    /// Internal: run one part in this process.
    #[arg(long, hide = true)]
    role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
enum Role {
    Threads,
    Forks,
    Churn,
}

/// CPU work that the compiler cannot drop.
fn spin(iterations: u64) {
    let mut x = 1u64;
    for i in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
}

/// N threads alive at once: work, meet everyone at a barrier, sleep, work.
fn threads(n: u64) -> String {
    let barrier = Arc::new(Barrier::new(n as usize));
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (barrier, done) = (barrier.clone(), done.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || {
                spin(2_000);
                barrier.wait();
                std::thread::sleep(Duration::from_millis(1 + i % 5));
                spin(2_000);
                done.fetch_add(1, Ordering::Relaxed);
            });
        match spawned {
            Ok(h) => handles.push(h),
            // The others wait at the barrier for ever: report and leave.
            Err(e) => return format!("threads=0/{n} error=spawn-{i}:{e}"),
        }
    }
    for h in handles {
        let _ = h.join();
    }
    format!("threads={}/{n}", done.load(Ordering::Relaxed))
}

/// Fork/exit storm for `secs`: batches of 16 children that spin and exit
/// with status 7; done counts children reaped with that status.
fn forks(secs: u64) -> String {
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut forked, mut ok, mut refused) = (0u64, 0u64, 0u64);
    while Instant::now() < end {
        let mut kids = Vec::with_capacity(16);
        for _ in 0..16 {
            // SAFETY: the child only spins and calls _exit (async-signal-safe).
            match unsafe { libc::fork() } {
                0 => {
                    spin(5_000);
                    // SAFETY: _exit ends the child without running atexit handlers.
                    unsafe { libc::_exit(7) }
                }
                -1 => refused += 1,
                pid => kids.push(pid),
            }
        }
        forked += kids.len() as u64;
        for pid in kids {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7 {
                ok += 1;
            }
        }
    }
    format!("forks={ok}/{forked} fork_refused={refused}")
}

/// The calling thread's id.
fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// The CPUs this process may run on now.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set; the kernel fills it in.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid cpu_set_t of the size given.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return vec![0];
    }
    // SAFETY: CPU_ISSET reads the set within its size.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Sets `tid`'s affinity to `cpus`; true on success.
fn set_affinity(tid: i32, cpus: &[usize]) -> bool {
    // SAFETY: as in allowed_cpus.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: c < CPU_SETSIZE (it came from allowed_cpus).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: a valid set of the size given.
    unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) == 0 }
}

/// Sets `tid`'s scheduling policy (priority 0); true on success.
fn set_policy(tid: i32, policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a valid sched_param.
    unsafe { libc::sched_setscheduler(tid, policy, &param) == 0 }
}

/// Sets `tid`'s nice level; true on success.
fn set_nice(tid: i32, nice: i32) -> bool {
    // SAFETY: setpriority on a thread id has no memory preconditions.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0 }
}

/// Hogs and sleepers counting work units while their affinity, nice level
/// and policy churn; after `secs` everything is reset and each worker
/// finishes one last unit.
fn churn(secs: u64, workers: u64) -> String {
    let stop = Arc::new(AtomicBool::new(false));
    let units = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicU64::new(0));
    let tids: Arc<Vec<AtomicI32>> = Arc::new((0..workers).map(|_| AtomicI32::new(0)).collect());
    let handles: Vec<_> = (0..workers as usize)
        .map(|w| {
            let (stop, units, finished, tids) =
                (stop.clone(), units.clone(), finished.clone(), tids.clone());
            std::thread::spawn(move || {
                tids[w].store(gettid(), Ordering::Relaxed);
                let hog = w % 2 == 0;
                loop {
                    // A hog spins for a long unit; a sleeper works briefly and sleeps.
                    if hog {
                        spin(200_000);
                    } else {
                        spin(2_000);
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    units.fetch_add(1, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                spin(20_000);
                finished.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();

    let cpus = allowed_cpus();
    let (mut affinity, mut nice, mut policy, mut refused) = (0u64, 0u64, 0u64, 0u64);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut step = 0usize;
    let count = |ok: bool, n: &mut u64, refused: &mut u64| {
        if ok {
            *n += 1
        } else {
            *refused += 1
        }
    };
    while Instant::now() < end {
        let tid = tids[step % workers as usize].load(Ordering::Relaxed);
        let k = step / workers as usize;
        if tid != 0 {
            match k % 6 {
                0 => count(
                    set_affinity(tid, &[cpus[k / 6 % cpus.len()]]),
                    &mut affinity,
                    &mut refused,
                ),
                1 => count(set_affinity(tid, &cpus), &mut affinity, &mut refused),
                2 => count(
                    set_nice(tid, (k as i32 * 7) % 25 - 5),
                    &mut nice,
                    &mut refused,
                ),
                3 => count(
                    set_policy(tid, libc::SCHED_BATCH),
                    &mut policy,
                    &mut refused,
                ),
                4 => count(set_policy(tid, libc::SCHED_IDLE), &mut policy, &mut refused),
                _ => count(
                    set_policy(tid, libc::SCHED_OTHER),
                    &mut policy,
                    &mut refused,
                ),
            }
        }
        step += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    // Back to normal before the last unit, so every worker can finish.
    for t in tids.iter() {
        let tid = t.load(Ordering::Relaxed);
        if tid != 0 {
            set_policy(tid, libc::SCHED_OTHER);
            set_nice(tid, 0);
            set_affinity(tid, &allowed_cpus());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    format!(
        "workers={}/{workers} units={} affinity={affinity} nice={nice} policy={policy} churn_refused={refused}",
        finished.load(Ordering::Relaxed),
        units.load(Ordering::Relaxed)
    )
}

/// The cgroups to move processes between: cgroup2 mounted if it is not,
/// the cpu controller enabled where possible, one group per [`GROUPS`].
fn cgroups() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if !root.join("cgroup.procs").exists() {
        let (src, fs, dir) = (c"cgroup2", c"cgroup2", c"/sys/fs/cgroup");
        // SAFETY: valid NUL-terminated strings, no data argument.
        let r =
            unsafe { libc::mount(src.as_ptr(), dir.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
        if r != 0 {
            eprintln!(
                "hostile: cannot mount cgroup2 at {CGROUP_ROOT}: {}",
                std::io::Error::last_os_error()
            );
            return Vec::new();
        }
    }
    // Weights only matter with the cpu controller; moves happen without it.
    let _ = std::fs::write(root.join("cgroup.subtree_control"), "+cpu");
    GROUPS
        .iter()
        .filter_map(|(name, weight)| {
            let dir = root.join(name);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("hostile: cannot create {}: {e}", dir.display());
                return None;
            }
            let _ = std::fs::write(dir.join("cpu.weight"), weight.to_string());
            Some(dir)
        })
        .collect()
}

/// Starts one role as a child process whose stdout is its result line.
fn start(role: &str, opts: &Opts) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["--role", role, "--secs", &opts.secs.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .args(["--workers", &opts.workers.to_string()])
        .stdout(Stdio::piped())
        .spawn()
}

/// The `key=value` word of `line` for `key`.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Whether `line` has `key=done/of` with done == of (and of > 0).
fn all_done(line: &str, key: &str) -> bool {
    field(line, key)
        .and_then(|v| v.split_once('/'))
        .is_some_and(|(d, o)| d == o && o.parse::<u64>().is_ok_and(|o| o > 0))
}

/// Runs the three roles, moving them between cgroups until they end (or
/// the deadline passes); prints the summary line.
fn orchestrate(opts: &Opts) -> bool {
    let deadline = Duration::from_secs(opts.deadline.unwrap_or(10 * opts.secs + 60));
    let start_at = Instant::now();
    let groups = cgroups();
    let mut kids: Vec<(Child, std::thread::JoinHandle<String>)> = Vec::new();
    for role in ["threads", "forks", "churn"] {
        match start(role, opts) {
            Ok(mut child) => {
                let out = child.stdout.take().map(BufReader::new);
                let reader = std::thread::spawn(move || {
                    out.map(|o| {
                        o.lines()
                            .map_while(Result::ok)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default()
                });
                kids.push((child, reader));
            }
            Err(e) => eprintln!("hostile: cannot start {role}: {e}"),
        }
    }
    let (mut moves, mut refused, mut step) = (0u64, 0u64, 0usize);
    let mut timed_out = false;
    loop {
        let running: Vec<u32> = kids
            .iter_mut()
            .filter_map(|(c, _)| matches!(c.try_wait(), Ok(None)).then(|| c.id()))
            .collect();
        if running.is_empty() {
            break;
        }
        if start_at.elapsed() > deadline {
            timed_out = true;
            for (c, _) in kids.iter_mut() {
                let _ = c.kill();
            }
            break;
        }
        if !groups.is_empty() {
            let pid = running[step % running.len()];
            let group = &groups[(step / 3 + step) % groups.len()];
            match std::fs::write(group.join("cgroup.procs"), pid.to_string()) {
                Ok(()) => moves += 1,
                Err(_) => refused += 1,
            }
            step += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut line = String::from("HOSTILE");
    for (mut c, reader) in kids {
        let _ = c.wait();
        let out = reader.join().unwrap_or_default();
        line.push(' ');
        line.push_str(out.trim());
    }
    for g in &groups {
        let _ = std::fs::remove_dir(g);
    }
    line.push_str(&format!(
        " cgroup_moves={moves} cgroup_refused={refused} secs={:.1}",
        start_at.elapsed().as_secs_f64()
    ));
    let pass = !timed_out
        && ["threads", "forks", "workers"]
            .iter()
            .all(|k| all_done(&line, k))
        && (groups.is_empty() || moves > 0);
    line.push_str(if timed_out {
        " result=timeout"
    } else if pass {
        " result=pass"
    } else {
        " result=fail"
    });
    println!("{line}");
    let _ = std::io::stdout().flush();
    pass
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    let line = match opts.role {
        Some(Role::Threads) => threads(opts.threads),
        Some(Role::Forks) => forks(opts.secs),
        Some(Role::Churn) => churn(opts.secs, opts.workers),
        None => {
            return if orchestrate(&opts) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    };
    println!("{line}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_counts_must_match() {
        let line = "HOSTILE threads=5/5 forks=3/4 workers=0/0";
        assert!(all_done(line, "threads"));
        assert!(!all_done(line, "forks"));
        assert!(!all_done(line, "workers"), "nothing to do is not done");
        assert!(!all_done(line, "units"));
        assert_eq!(field(line, "forks"), Some("3/4"));
    }
}
