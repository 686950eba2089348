//! Analysis of the VM's serial console.
//!
//! `/init` prints markers (`SCXVM BEGIN <name>`, `SCXVM EXIT <name> <rc>`,
//! `SCXVM STATE <state>`, `SCXVM WATCHDOG ...`, `SCXVM DONE`); the kernel
//! prints its own messages with a `[ seconds]` timestamp. [`analyze`] turns
//! both into a [`ConsoleReport`].

/// Lines quoted before a problem's first line.
const EXCERPT_BEFORE: usize = 2;
/// Lines quoted from a problem's first line on.
const EXCERPT_AFTER: usize = 12;

/// sched_ext exit reasons that are a normal unload, not an error
/// (`scx_exit_reason()` in the kernel).
const GRACEFUL_REASONS: &[&str] = &[
    "unregistered from user space",
    "unregistered from BPF",
    "unregistered from the main kernel",
    "disabled by sysrq-S",
    "parent exiting",
];

/// A kernel problem seen on the console; each quotes the log around it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// `Kernel panic - not syncing`.
    #[error("guest kernel panic:\n{excerpt}")]
    KernelPanic {
        /// Console lines around the panic.
        excerpt: String,
    },
    /// An `Oops:` (with `oops=panic` it is followed by a panic).
    #[error("guest kernel oops:\n{excerpt}")]
    Oops {
        /// Console lines around the oops.
        excerpt: String,
    },
    /// A `BUG:` line (other than a soft lockup).
    #[error("guest kernel BUG:\n{excerpt}")]
    Bug {
        /// Console lines around the BUG.
        excerpt: String,
    },
    /// A `WARNING:` splat.
    #[error("guest kernel WARNING:\n{excerpt}")]
    Warning {
        /// Console lines around the warning.
        excerpt: String,
    },
    /// An RCU stall report.
    #[error("guest RCU stall:\n{excerpt}")]
    RcuStall {
        /// Console lines around the stall report.
        excerpt: String,
    },
    /// `watchdog: BUG: soft lockup` or a hard LOCKUP report.
    #[error("guest soft/hard lockup:\n{excerpt}")]
    Lockup {
        /// Console lines around the lockup report.
        excerpt: String,
    },
    /// `INFO: task ... blocked for more than N seconds`.
    #[error("guest hung task:\n{excerpt}")]
    HungTask {
        /// Console lines around the report.
        excerpt: String,
    },
    /// A sched_ext scheduler was disabled for a reason other than a normal unload.
    #[error("sched_ext scheduler \"{scheduler}\" disabled ({reason}):\n{excerpt}")]
    SchedExtError {
        /// The scheduler's ops name.
        scheduler: String,
        /// The kernel's exit reason, e.g. `runtime error`.
        reason: String,
        /// Console lines from the disable message on (message, backtrace).
        excerpt: String,
    },
}

/// One guest command as seen on the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The command's name.
    pub name: String,
    /// Its exit status; `None` if it started but no exit marker was seen.
    pub exit_code: Option<i32>,
    /// Console lines between its begin and exit markers.
    pub output: String,
}

/// What happened to sched_ext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedExtEventKind {
    /// `sched_ext: BPF scheduler "X" enabled`.
    Enabled,
    /// `sched_ext: BPF scheduler "X" disabled (reason)`.
    Disabled {
        /// The kernel's exit reason.
        reason: String,
    },
    /// `/init`'s state watcher saw `/sys/kernel/sched_ext/state` change.
    State(String),
}

/// A sched_ext transition.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedExtEvent {
    /// Kernel timestamp in seconds, or guest uptime for state changes.
    pub time: Option<f64>,
    /// The scheduler's ops name (for kernel messages).
    pub scheduler: Option<String>,
    /// What happened.
    pub kind: SchedExtEventKind,
}

impl Eq for SchedExtEvent {}

/// Everything [`analyze`] extracts from a console log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleReport {
    /// Commands in the order they started.
    pub commands: Vec<CommandResult>,
    /// Kernel problems in the order they appeared (first of each kind, and
    /// every sched_ext error).
    pub problems: Vec<Problem>,
    /// sched_ext transitions.
    pub sched_ext: Vec<SchedExtEvent>,
    /// `SCXVM DONE` was printed.
    pub done: bool,
    /// `SCXVM WATCHDOG` was printed.
    pub watchdog_fired: bool,
    /// The watchdog's dump (`ps`, blocked tasks, dmesg tail), if it fired.
    pub watchdog_report: String,
}

/// Whether `s` (what follows a `[`) is the rest of a printk timestamp,
/// `%5lu.%06lu]`.
fn is_printk_stamp(s: &str) -> bool {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    s.split_once(']')
        .and_then(|(stamp, _)| stamp.trim_start_matches(' ').split_once('.'))
        .is_some_and(|(int, frac)| digits(int) && frac.len() == 6 && digits(frac))
}

/// Where a printk timestamp starts inside `line` after some other text, if
/// it does.
fn embedded_timestamp(line: &str) -> Option<usize> {
    line.match_indices('[')
        .map(|(at, _)| at)
        .find(|&at| !line[..at].trim().is_empty() && is_printk_stamp(&line[at + 1..]))
}

/// Undo the serial port's interleaving of kernel messages into guest output.
///
/// printk writes a whole line to the port at once, but a guest program's
/// line goes out in FIFO-sized pieces, so a kernel line can land in the
/// middle of it: `U1[  5.3] kernel line`, more kernel lines, then the rest
/// of the guest line, `U2`. That hides the kernel line from any reader
/// keyed on line starts and cuts guest markers in two. Here each such
/// kernel line gets its own line again and `U1` is rejoined with `U2`,
/// after the kernel lines that came between.
pub fn untangle(console: &str) -> String {
    let mut out = String::with_capacity(console.len());
    // The start of a guest line cut off by kernel lines (never blank).
    let mut cut = String::new();
    for raw in console.lines() {
        // Kernel lines go out whole, before a cut guest line resumes.
        if split_timestamp(raw).0.is_some() {
            out.push_str(raw);
            out.push('\n');
            continue;
        }
        let line = std::mem::take(&mut cut) + raw;
        let emit = match embedded_timestamp(&line) {
            Some(at) => {
                cut.push_str(&line[..at]);
                &line[at..]
            }
            None => &line[..],
        };
        out.push_str(emit);
        out.push('\n');
    }
    if !cut.is_empty() {
        out.push_str(&cut);
        out.push('\n');
    }
    out
}

/// Split an optional `[   12.345678] ` printk timestamp off a line.
pub fn split_timestamp(line: &str) -> (Option<f64>, &str) {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            if let Ok(v) = rest[..end].trim().parse::<f64>() {
                return (Some(v), rest[end + 1..].trim_start());
            }
        }
    }
    (None, line)
}

fn excerpt(lines: &[&str], i: usize) -> String {
    let start = i.saturating_sub(EXCERPT_BEFORE);
    let end = (i + EXCERPT_AFTER).min(lines.len());
    lines[start..end].join("\n")
}

/// Parse `sched_ext: BPF scheduler "NAME" enabled|disabled (REASON)`.
fn parse_sched_ext(msg: &str) -> Option<(String, SchedExtEventKind)> {
    const KEY: &str = "sched_ext: BPF scheduler \"";
    let at = msg.find(KEY)?;
    let rest = &msg[at + KEY.len()..];
    let q = rest.find('"')?;
    let name = rest[..q].to_string();
    let after = rest[q + 1..].trim();
    if after.starts_with("enabled") {
        Some((name, SchedExtEventKind::Enabled))
    } else if let Some(r) = after.strip_prefix("disabled") {
        let r = r.trim();
        let reason = r
            .strip_prefix('(')
            .and_then(|r| r.rfind(')').map(|e| &r[..e]))
            .unwrap_or(r)
            .to_string();
        Some((name, SchedExtEventKind::Disabled { reason }))
    } else {
        None
    }
}

/// Whether a sched_ext disable reason is a normal unload.
pub fn is_graceful_exit(reason: &str) -> bool {
    GRACEFUL_REASONS.iter().any(|g| reason.contains(g))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Panic,
    Oops,
    Bug,
    Warning,
    Rcu,
    Lockup,
    Hung,
}

fn classify(msg: &str) -> Option<Kind> {
    if msg.starts_with("Kernel panic - not syncing") {
        Some(Kind::Panic)
    } else if msg.starts_with("watchdog: BUG: soft lockup")
        || msg.contains("Watchdog detected hard LOCKUP")
    {
        Some(Kind::Lockup)
    } else if msg.starts_with("Oops:") || msg.contains(": Oops:") {
        Some(Kind::Oops)
    } else if msg.starts_with("BUG:") {
        Some(Kind::Bug)
    } else if msg.starts_with("WARNING:") || msg.starts_with("------------[ cut here ]") {
        // The cut-here line precedes WARNING/BUG; key on WARNING only.
        msg.starts_with("WARNING:").then_some(Kind::Warning)
    } else if (msg.contains("rcu") || msg.contains("RCU"))
        && (msg.contains("self-detected stall") || msg.contains("detected stalls"))
    {
        Some(Kind::Rcu)
    } else if msg.starts_with("INFO: task ") && msg.contains("blocked for more than") {
        Some(Kind::Hung)
    } else {
        None
    }
}

fn make_problem(kind: Kind, excerpt: String) -> Problem {
    match kind {
        Kind::Panic => Problem::KernelPanic { excerpt },
        Kind::Oops => Problem::Oops { excerpt },
        Kind::Bug => Problem::Bug { excerpt },
        Kind::Warning => Problem::Warning { excerpt },
        Kind::Rcu => Problem::RcuStall { excerpt },
        Kind::Lockup => Problem::Lockup { excerpt },
        Kind::Hung => Problem::HungTask { excerpt },
    }
}

/// Analyse a console log.
pub fn analyze(console: &str) -> ConsoleReport {
    let lines: Vec<&str> = console.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut rep = ConsoleReport::default();
    let mut seen: Vec<Kind> = Vec::new();
    // Index into rep.commands of the running command and its first line.
    let mut current: Option<(usize, usize)> = None;

    for (i, raw) in lines.iter().enumerate() {
        let (ts, msg) = split_timestamp(raw);

        if let Some(at) = msg.find("SCXVM ") {
            let marker = &msg[at + "SCXVM ".len()..];
            let mut words = marker.split_whitespace();
            match words.next() {
                Some("BEGIN") => {
                    if let Some(name) = words.next() {
                        rep.commands.push(CommandResult {
                            name: name.to_string(),
                            exit_code: None,
                            output: String::new(),
                        });
                        current = Some((rep.commands.len() - 1, i + 1));
                    }
                }
                Some("EXIT") => {
                    let name = words.next().unwrap_or_default();
                    let code = words.next().and_then(|c| c.parse::<i32>().ok());
                    let idx = match current {
                        Some((idx, _)) if rep.commands[idx].name == name => Some(idx),
                        _ => rep.commands.iter().rposition(|c| c.name == name),
                    };
                    if let Some(idx) = idx {
                        let first = match current {
                            Some((c, first)) if c == idx => first,
                            _ => i,
                        };
                        // /init prints one empty line before the marker.
                        let mut body = &lines[first.min(i)..i];
                        if at == 0 && body.last().is_some_and(|l| l.is_empty()) {
                            body = &body[..body.len() - 1];
                        }
                        // Leave out other markers (e.g. state changes).
                        let mut out = body
                            .iter()
                            .filter(|l| !split_timestamp(l).1.starts_with("SCXVM "))
                            .copied()
                            .collect::<Vec<_>>()
                            .join("\n");
                        // Output not ending in a newline shares the marker's line.
                        if at > 0 {
                            if !out.is_empty() {
                                out.push('\n');
                            }
                            out.push_str(&msg[..at]);
                        }
                        rep.commands[idx].exit_code = code;
                        rep.commands[idx].output = out;
                    }
                    current = None;
                }
                Some("DONE") => rep.done = true,
                Some("WATCHDOG") if !rep.watchdog_fired => {
                    rep.watchdog_fired = true;
                    rep.watchdog_report = lines[i..(i + 80).min(lines.len())].join("\n");
                    // The running command's output ends here.
                    if let Some((idx, first)) = current.take() {
                        rep.commands[idx].output = lines[first.min(i)..i].join("\n");
                    }
                }
                Some("STATE") => {
                    let state = words.next().unwrap_or("unknown").to_string();
                    let time = words
                        .next()
                        .and_then(|t| t.strip_prefix("uptime="))
                        .and_then(|t| t.parse().ok());
                    rep.sched_ext.push(SchedExtEvent {
                        time,
                        scheduler: None,
                        kind: SchedExtEventKind::State(state),
                    });
                }
                _ => {}
            }
            continue;
        }

        if let Some((name, kind)) = parse_sched_ext(msg) {
            if let SchedExtEventKind::Disabled { reason } = &kind {
                if !is_graceful_exit(reason) {
                    rep.problems.push(Problem::SchedExtError {
                        scheduler: name.clone(),
                        reason: reason.clone(),
                        excerpt: lines[i..(i + EXCERPT_AFTER).min(lines.len())].join("\n"),
                    });
                }
            }
            rep.sched_ext.push(SchedExtEvent {
                time: ts,
                scheduler: Some(name),
                kind,
            });
            continue;
        }

        if let Some(kind) = classify(msg) {
            if !seen.contains(&kind) {
                seen.push(kind);
                rep.problems.push(make_problem(kind, excerpt(&lines, i)));
            }
        }
    }
    // A command that never printed EXIT keeps what it printed so far.
    if let Some((idx, first)) = current {
        rep.commands[idx].output = lines[first.min(lines.len())..].join("\n");
    }
    rep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_inside_guest_lines_are_separated() {
        let raw = "SCXVM STATE enab[   17.866005] sched_ext: BPF scheduler \"x\" disabled (scx_bpf_error)\n\
                   [   17.866568] sched_ext: x: lock timeout\n\
                   ling uptime=17.82\n\
                   USER-1 xx[    5.420214] k1\n\
                   xx\n\
                   plain [not 1.5] text\n\
                   [    6.000000] whole kernel line\n";
        let u = untangle(raw);
        assert_eq!(
            u.lines().collect::<Vec<_>>(),
            [
                "[   17.866005] sched_ext: BPF scheduler \"x\" disabled (scx_bpf_error)",
                "[   17.866568] sched_ext: x: lock timeout",
                "SCXVM STATE enabling uptime=17.82",
                "[    5.420214] k1",
                "USER-1 xxxx",
                "plain [not 1.5] text",
                "[    6.000000] whole kernel line",
            ]
        );
        let r = analyze(&u);
        assert_eq!(
            r.sched_ext,
            [
                SchedExtEvent {
                    time: Some(17.866005),
                    scheduler: Some("x".into()),
                    kind: SchedExtEventKind::Disabled {
                        reason: "scx_bpf_error".into()
                    },
                },
                SchedExtEvent {
                    time: Some(17.82),
                    scheduler: None,
                    kind: SchedExtEventKind::State("enabling".into()),
                },
            ]
        );
        // A guest line cut at the end of the log keeps its start.
        assert_eq!(untangle("ab[    1.000000] k\n"), "[    1.000000] k\nab\n");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            split_timestamp("[    1.234567] foo"),
            (Some(1.234567), "foo")
        );
        assert_eq!(split_timestamp("plain"), (None, "plain"));
        assert_eq!(split_timestamp("[x] y"), (None, "[x] y"));
    }

    #[test]
    fn markers_and_exit_codes() {
        let log = "boot noise\nSCXVM INIT uptime=2.1\nSCXVM BEGIN uname\n7.2.12+deb13-amd64\nSCXVM STATE disabled uptime=1\n\n\
                   SCXVM EXIT uname 0\nSCXVM BEGIN fail\nno newlineSCXVM EXIT fail 3\n\
                   SCXVM BEGIN hang\nstill going\n";
        let r = analyze(log);
        assert_eq!(r.commands.len(), 3);
        assert_eq!(r.commands[0].name, "uname");
        assert_eq!(r.commands[0].exit_code, Some(0));
        assert_eq!(r.commands[0].output, "7.2.12+deb13-amd64");
        assert_eq!(r.commands[1].exit_code, Some(3));
        assert_eq!(r.commands[1].output, "no newline");
        assert_eq!(r.commands[2].exit_code, None);
        assert_eq!(r.commands[2].output, "still going");
        assert!(!r.done);
        assert!(r.problems.is_empty());
        let r = analyze("SCXVM DONE\r\n");
        assert!(r.done);
    }

    #[test]
    fn panic_and_oops_excerpts() {
        let log = "a\nb\n[    5.1] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n\
                   [    5.1] CPU: 1 PID: 0 Comm: swapper\n[    5.2] RIP: 0010:pick_task_fair+0x11c/0x2a0\n\
                   [    5.3] Kernel panic - not syncing: Fatal exception in interrupt\n";
        let r = analyze(log);
        assert_eq!(r.problems.len(), 2);
        match &r.problems[0] {
            Problem::Oops { excerpt } => {
                assert!(excerpt.starts_with("a\nb\n"));
                assert!(excerpt.contains("pick_task_fair"));
            }
            p => panic!("unexpected {p:?}"),
        }
        assert!(
            matches!(&r.problems[1], Problem::KernelPanic { excerpt } if excerpt.contains("Fatal exception"))
        );
        let msg = r.problems[1].to_string();
        assert!(msg.starts_with("guest kernel panic:\n"));
    }

    #[test]
    fn stalls_lockups_hung_bug() {
        let log = "[   30.0] rcu: INFO: rcu_preempt self-detected stall on CPU\n\
                   [   31.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n\
                   [   40.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [stress-ng:99]\n\
                   [  150.0] INFO: task kworker/0:1:12 blocked for more than 120 seconds.\n\
                   [  151.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n\
                   [  152.0] WARNING: CPU: 0 PID: 1 at kernel/sched/ext.c:123 foo+0x1/0x2\n";
        let r = analyze(log);
        let kinds: Vec<&str> = r
            .problems
            .iter()
            .map(|p| match p {
                Problem::RcuStall { .. } => "rcu",
                Problem::Lockup { .. } => "lockup",
                Problem::HungTask { .. } => "hung",
                Problem::Bug { .. } => "bug",
                Problem::Warning { .. } => "warn",
                _ => "other",
            })
            .collect();
        // The second RCU line is the same kind: reported once.
        assert_eq!(kinds, ["rcu", "lockup", "hung", "bug", "warn"]);
        assert!(
            matches!(&r.problems[1], Problem::Lockup { excerpt } if excerpt.contains("soft lockup"))
        );
        // Old kernels' wording.
        let r = analyze("INFO: rcu_sched self-detected stall on CPU { 0}\n");
        assert!(matches!(r.problems[0], Problem::RcuStall { .. }));
    }

    #[test]
    fn sched_ext_transitions_and_errors() {
        let log = "[    3.0] sched_ext: BPF scheduler \"proto_0.1.0\" enabled\n\
                   [    6.0] sched_ext: BPF scheduler \"proto_0.1.0\" disabled (unregistered from user space)\n\
                   SCXVM STATE enabled uptime=7.5\n\
                   [    8.0] sched_ext: BPF scheduler \"bad\" disabled (runtime error)\n\
                   [    8.0] sched_ext: bad: SCX_DSQ_LOCAL[_ON] cannot move migration disabled task\n\
                   [    8.0]    scx_bpf_dsq_insert+0x1/0x2\n";
        let r = analyze(log);
        assert_eq!(r.sched_ext.len(), 4);
        assert_eq!(r.sched_ext[0].kind, SchedExtEventKind::Enabled);
        assert_eq!(r.sched_ext[0].time, Some(3.0));
        assert_eq!(r.sched_ext[0].scheduler.as_deref(), Some("proto_0.1.0"));
        assert_eq!(
            r.sched_ext[1].kind,
            SchedExtEventKind::Disabled {
                reason: "unregistered from user space".into()
            }
        );
        assert_eq!(
            r.sched_ext[2].kind,
            SchedExtEventKind::State("enabled".into())
        );
        assert_eq!(r.sched_ext[2].time, Some(7.5));
        assert_eq!(r.problems.len(), 1);
        match &r.problems[0] {
            Problem::SchedExtError {
                scheduler,
                reason,
                excerpt,
            } => {
                assert_eq!(scheduler, "bad");
                assert_eq!(reason, "runtime error");
                assert!(excerpt.contains("cannot move migration disabled task"));
                assert!(excerpt.contains("scx_bpf_dsq_insert"));
            }
            p => panic!("unexpected {p:?}"),
        }
        assert!(is_graceful_exit("unregistered from BPF"));
        assert!(!is_graceful_exit("runnable task stall"));
        assert!(!is_graceful_exit("scx_bpf_error"));
    }

    #[test]
    fn watchdog_marker() {
        let r = analyze(
            "SCXVM BEGIN slow\nworking\nSCXVM WATCHDOG deadline 30s exceeded\nPID USER\nSCXVM WATCHDOG end\n",
        );
        assert!(r.watchdog_fired);
        assert_eq!(r.commands[0].output, "working");
        assert_eq!(r.commands[0].exit_code, None);
        assert!(r.watchdog_report.starts_with("SCXVM WATCHDOG deadline"));
        assert!(r.watchdog_report.contains("PID USER"));
    }
}
