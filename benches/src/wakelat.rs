//! The wakeup-latency workload (in the spirit of schbench): message threads
//! wake worker threads, each worker measures how long it took from the
//! wake to running, does a request's worth of CPU work and replies.
//!
//! One round of a message thread: for each of its workers, stamp the clock
//! and wake it (futex); then sleep until every worker has replied. A worker
//! that runs reads the clock: `now - stamp` is its wake-to-run latency, as
//! the workload sees it (wake syscall, scheduler, return to user). Only
//! requests that found the worker asleep (its futex wait blocked) are
//! latency samples: a worker that saw the request before it got to sleep
//! was never woken, and its few hundred ns of handoff say nothing about the
//! scheduler (they are counted apart, as `requests_unblocked`). The
//! latencies go into a log-linear histogram ([`LatHist`], the same buckets
//! BPF's `scx_arena/lathist.h` uses), so percentiles are exact to a bucket
//! (at most 12.5% wide) and compare bucket for bucket with the BPF probe's
//! ([`crate::probe`]).
//!
//! The work is a fixed number of iterations of a small arithmetic loop
//! (calibrated at start, or given), so a request costs the same CPU under
//! every scheduler, whatever the preemptions.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use scx_arena::lathist::{bucket_range, LatHist};
use serde::{Deserialize, Serialize};

use crate::clock::now_ns;
use crate::futex;
use crate::resultline::{ParseError, ResultLine};

/// The prefix of the result line.
pub const LINE_PREFIX: &str = "wakelat:";
/// Name prefix of the worker threads (their comm, for a probe's filter).
pub const WORKER_COMM: &str = "wl-worker";
/// Name prefix of the message threads.
pub const MESSAGE_COMM: &str = "wl-message";

/// A worker's state word: waiting for a request.
const IDLE: u32 = 0;
/// A request is pending.
const GO: u32 = 1;
/// The workload is over.
const EXIT: u32 = 2;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Message threads.
    pub message_threads: usize,
    /// Workers per message thread.
    pub workers: usize,
    /// Measured time after the warmup.
    pub runtime: Duration,
    /// Time run before measuring; its samples are discarded.
    pub warmup: Duration,
    /// Iterations of the work loop per request.
    pub work_loops: u64,
}

/// The figures of the result line (latencies in microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Median wake-to-run latency.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p99_9_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Requests completed per second of measured time.
    pub rps: f64,
    /// Latency samples measured: requests that woke a sleeping worker.
    pub samples: u64,
}

impl Summary {
    /// The percentiles of `hist`, and `requests` over `runtime`.
    pub fn of(hist: &LatHist, requests: u64, runtime: Duration) -> Self {
        let us = |p: f64| hist.percentile(p).unwrap_or(0) as f64 / 1000.0;
        let secs = runtime.as_secs_f64();
        Summary {
            p50_us: us(50.0),
            p90_us: us(90.0),
            p99_us: us(99.0),
            p99_9_us: us(99.9),
            max_us: hist.max_ns as f64 / 1000.0,
            rps: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            samples: hist.count,
        }
    }

    /// The one-line result: `wakelat: p50_us=.. p90_us=.. p99_us=..
    /// p99_9_us=.. max_us=.. rps=.. samples=..` (latencies to the ns).
    pub fn line(&self) -> String {
        format!(
            "{LINE_PREFIX} p50_us={:.3} p90_us={:.3} p99_us={:.3} p99_9_us={:.3} max_us={:.3} rps={:.1} samples={}",
            self.p50_us, self.p90_us, self.p99_us, self.p99_9_us, self.max_us, self.rps, self.samples
        )
    }

    /// Reads the result line out of `output` (the first line that starts
    /// with [`LINE_PREFIX`], other lines ignored).
    pub fn parse(output: &str) -> Result<Self, ParseError> {
        let l = ResultLine::find(output, LINE_PREFIX)?;
        Ok(Summary {
            p50_us: l.get("p50_us")?,
            p90_us: l.get("p90_us")?,
            p99_us: l.get("p99_us")?,
            p99_9_us: l.get("p99_9_us")?,
            max_us: l.get("max_us")?,
            rps: l.get("rps")?,
            samples: l.get("samples")?,
        })
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// What ran.
    pub config: Config,
    /// Wake-to-run latencies of the measured phase.
    pub hist: LatHist,
    /// Requests completed in the measured phase.
    pub requests: u64,
    /// Of those, the ones the worker found without going to sleep (not
    /// latency samples).
    pub requests_unblocked: u64,
    /// Measured rounds in which a message thread slept waiting for replies.
    pub message_sleeps: u64,
}

impl Report {
    /// The figures of the result line.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.hist, self.requests, self.config.runtime)
    }

    /// The report as one JSON object: the summary's fields, the
    /// configuration, the mean, and the histogram's non-empty buckets as
    /// `[low_ns, high_ns, count]`.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!(self.summary());
        let buckets: Vec<[u64; 3]> = self
            .hist
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(b, &n)| {
                let (low, high) = bucket_range(b);
                [low, high, n]
            })
            .collect();
        let extra = serde_json::json!({
            "mean_us": self.hist.mean().unwrap_or(0.0) / 1000.0,
            "requests": self.requests,
            "requests_unblocked": self.requests_unblocked,
            "message_sleeps": self.message_sleeps,
            "message_threads": self.config.message_threads,
            "workers": self.config.workers,
            "runtime_s": self.config.runtime.as_secs_f64(),
            "warmup_s": self.config.warmup.as_secs_f64(),
            "work_loops": self.config.work_loops,
            "buckets": buckets,
        });
        if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    }
}

/// `loops` iterations of the request's work: a dependent chain of
/// multiply-xorshift steps the compiler cannot fold. Returns the result.
pub fn work(loops: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15u64);
    for _ in 0..loops {
        x ^= x << 13;
        x ^= x >> 7;
        x = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    black_box(x)
}

/// Work-loop iterations per microsecond on this CPU: the best of a few
/// timed runs (the least disturbed), about 50 ms in all.
pub fn calibrate_loops_per_us() -> f64 {
    let mut loops = 1u64 << 12;
    // Grow until one run takes at least 5 ms, then keep the best of 5.
    loop {
        let t0 = now_ns();
        work(loops);
        if now_ns() - t0 >= 5_000_000 || loops >= 1 << 40 {
            break;
        }
        loops *= 2;
    }
    (0..5)
        .map(|_| {
            let t0 = now_ns();
            work(loops);
            loops as f64 * 1000.0 / (now_ns() - t0).max(1) as f64
        })
        .fold(0.0, f64::max)
}

/// One worker's mailbox, on its own cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Mailbox {
    /// IDLE, GO or EXIT; the worker sleeps on it.
    state: AtomicU32,
    /// `now_ns()` just before the wake.
    stamp: AtomicU64,
}

/// A message thread and its workers.
#[derive(Debug)]
struct Group {
    /// Workers that have not replied in this round; the message thread
    /// sleeps on it.
    pending: AtomicU32,
    mailboxes: Vec<Mailbox>,
}

/// What a worker measured.
#[derive(Debug, Default)]
struct WorkerResult {
    hist: LatHist,
    requests: u64,
    unblocked: u64,
}

/// The measured window, in `now_ns()` time: stamps in `[start, end)` count.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
}

impl Window {
    fn contains(&self, t: u64) -> bool {
        t >= self.start && t < self.end
    }
}

/// Sleeps on `word` until it leaves `value`; returns whether the thread
/// slept in the kernel at least once.
fn wait_while(word: &AtomicU32, value: u32) -> bool {
    let mut slept = false;
    while word.load(Ordering::Acquire) == value {
        slept |= futex::wait(word, value);
    }
    slept
}

fn worker(group: &Group, me: usize, window: Window, work_loops: u64) -> WorkerResult {
    let mb = &group.mailboxes[me];
    let mut out = WorkerResult::default();
    loop {
        let slept = wait_while(&mb.state, IDLE);
        let now = now_ns();
        if mb.state.load(Ordering::Acquire) == EXIT {
            return out;
        }
        let stamp = mb.stamp.load(Ordering::Acquire);
        let counted = window.contains(stamp);
        if counted && slept {
            out.hist.record(now.saturating_sub(stamp));
        }
        out.unblocked += u64::from(counted && !slept);
        work(work_loops);
        if counted {
            out.requests += 1;
        }
        // The message thread starts no round before every worker replied,
        // so this store cannot hide a new request.
        mb.state.store(IDLE, Ordering::Release);
        if group.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            futex::wake(&group.pending, 1);
        }
    }
}

/// Runs rounds until the window ends; returns the measured rounds in which
/// the message thread slept waiting for replies. A round is measured when
/// all its stamps are in the window, i.e. when the workers count all its
/// requests (a round that starts just before the window ends can stamp
/// after it).
fn message(group: &Group, window: Window) -> u64 {
    let n = group.mailboxes.len() as u32;
    let mut sleeps = 0;
    loop {
        let round = now_ns();
        if round >= window.end {
            break;
        }
        group.pending.store(n, Ordering::Release);
        let mut measured = true;
        for mb in &group.mailboxes {
            let stamp = now_ns();
            measured &= window.contains(stamp);
            mb.stamp.store(stamp, Ordering::Release);
            mb.state.store(GO, Ordering::Release);
            futex::wake(&mb.state, 1);
        }
        let mut slept = false;
        loop {
            let p = group.pending.load(Ordering::Acquire);
            if p == 0 {
                break;
            }
            slept |= futex::wait(&group.pending, p);
        }
        if measured {
            sleeps += u64::from(slept);
        }
    }
    for mb in &group.mailboxes {
        mb.state.store(EXIT, Ordering::Release);
        futex::wake(&mb.state, 1);
    }
    sleeps
}

/// Runs the workload: warmup, then the measured phase. Fails only when a
/// thread cannot be created.
pub fn run(config: &Config) -> std::io::Result<Report> {
    let start = now_ns();
    let window = Window {
        start: start + config.warmup.as_nanos() as u64,
        end: start + (config.warmup + config.runtime).as_nanos() as u64,
    };
    let groups: Vec<Arc<Group>> = (0..config.message_threads)
        .map(|_| {
            Arc::new(Group {
                pending: AtomicU32::new(0),
                mailboxes: (0..config.workers).map(|_| Mailbox::default()).collect(),
            })
        })
        .collect();
    let mut workers = Vec::new();
    let mut messages = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        for w in 0..config.workers {
            let g = Arc::clone(g);
            let loops = config.work_loops;
            workers.push(
                thread::Builder::new()
                    .name(format!("{WORKER_COMM}-{i}-{w}"))
                    .spawn(move || worker(&g, w, window, loops))?,
            );
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let g = Arc::clone(g);
        messages.push(
            thread::Builder::new()
                .name(format!("{MESSAGE_COMM}-{i}"))
                .spawn(move || message(&g, window))?,
        );
    }
    let mut report = Report {
        config: config.clone(),
        hist: LatHist::default(),
        requests: 0,
        requests_unblocked: 0,
        message_sleeps: 0,
    };
    // A thread that panicked lost its figures; the rest still count.
    for m in messages {
        report.message_sleeps += m.join().unwrap_or(0);
    }
    for w in workers {
        let r = w.join().unwrap_or_default();
        report.hist.merge(&r.hist);
        report.requests += r.requests;
        report.requests_unblocked += r.unblocked;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips() {
        let s = Summary {
            p50_us: 12.5,
            p90_us: 20.0,
            p99_us: 50.125,
            p99_9_us: 80.0,
            max_us: 1234.567,
            rps: 4567.8,
            samples: 42,
        };
        let text = format!("noise\n{}\nmore\n", s.line());
        assert_eq!(Summary::parse(&text), Ok(s));
    }

    #[test]
    fn parse_reports_what_is_wrong() {
        assert_eq!(
            Summary::parse("nothing"),
            Err(ParseError::NoLine(LINE_PREFIX))
        );
        assert_eq!(
            Summary::parse("wakelat: p50_us=1"),
            Err(ParseError::Missing("p90_us"))
        );
        let bad = "wakelat: p50_us=x p90_us=1 p99_us=1 p99_9_us=1 max_us=1 rps=1 samples=1";
        assert!(matches!(
            Summary::parse(bad),
            Err(ParseError::BadValue {
                field: "p50_us",
                ..
            })
        ));
    }

    #[test]
    fn a_short_run_measures_every_request() {
        let config = Config {
            message_threads: 1,
            workers: 2,
            runtime: Duration::from_millis(200),
            warmup: Duration::from_millis(50),
            work_loops: 100,
        };
        let r = run(&config).expect("threads");
        assert!(r.hist.count > 0);
        assert_eq!(
            r.hist.count + r.requests_unblocked,
            r.requests,
            "a request is a sample or found its worker awake"
        );
        assert!(r.message_sleeps <= r.requests / 2);
        let s = r.summary();
        assert!(s.p50_us <= s.p99_us && s.p99_us <= s.max_us, "{s:?}");
    }
}
