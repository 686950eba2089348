//! A scheduler's command line on this host (no sched_ext here): every bad
//! flag value is refused with one clear error and exit status 2 before
//! anything loads; a good command line fails with one clear line naming the
//! missing kernel feature (status 1); the client modes say no scheduler
//! runs. Nothing here needs the VM.

use std::process::Command;

use scx_arena::run::build_scheduler;

/// Runs the template with `args`; returns (status, stdout + stderr).
fn template(args: &[&str]) -> (i32, String) {
    let bin = build_scheduler("scx_template", false).expect("build scx_template");
    let out = Command::new(bin)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run scx_template");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_flag_values_are_refused_clearly() {
    // (flag, value, what the error must say)
    let table: &[(&str, &str, &str)] = &[
        ("--slice-us", "-5", "invalid digit"),
        ("--slice-us", "0", "0 is not in 100..=1000000"),
        ("--slice-us", "99", "99 is not in 100..=1000000"),
        ("--slice-us", "1000001", "1000001 is not in 100..=1000000"),
        ("--slice-us", "fast", "invalid digit"),
        ("--slice-us", "", "invalid"),
        ("--stats", "-1", "is not a number of seconds >= 0"),
        ("--stats", "x", "is not a number of seconds >= 0"),
        ("--stats", "inf", "is not a number of seconds >= 0"),
        ("--stats", "NaN", "is not a number of seconds >= 0"),
        ("--monitor", "soon", "is not a number of seconds >= 0"),
        ("--arena-pages", "0", "0 is not in 256..=1048576"),
        ("--arena-pages", "255", "255 is not in 256..=1048576"),
        (
            "--arena-pages",
            "1048577",
            "1048577 is not in 256..=1048576",
        ),
        ("--arena-pages", "-1", "-1 is not in 256..=1048576"),
        ("--arena-pages", "1M", "invalid digit"),
        ("--tune", "slice_us", "is not NAME=VALUE"),
        ("--tune", "=5", "is not NAME=VALUE"),
        ("--metrics-addr", "localhost", "invalid socket address"),
        (
            "--metrics-addr",
            "127.0.0.1:99999",
            "invalid socket address",
        ),
        (
            "--no-such-flag",
            "1",
            "unexpected argument '--no-such-flag'",
        ),
    ];
    for (flag, value, says) in table {
        let arg = format!("{flag}={value}");
        let (rc, text) = template(&[&arg]);
        assert_eq!(rc, 2, "{arg}: exit status {rc}\n{text}");
        assert!(text.contains(says), "{arg}: no '{says}' in:\n{text}");
        assert!(!text.contains("panicked"), "{arg}:\n{text}");
    }
}

#[test]
fn no_sched_ext_is_one_clear_line() {
    if std::path::Path::new("/sys/kernel/sched_ext").exists() {
        eprintln!("SKIPPED: this host has sched_ext");
        return;
    }
    let (rc, text) = template(&["--slice-us", "5000"]);
    assert_eq!(rc, 1, "{text}");
    assert_eq!(text.lines().count(), 1, "one line, not:\n{text}");
    assert!(
        text.starts_with("error: this kernel (") && text.contains("has no sched_ext"),
        "{text}"
    );
}

#[test]
fn client_modes_without_a_scheduler_say_so() {
    let sock = std::env::temp_dir().join(format!("scx-arena-cli-{}.sock", std::process::id()));
    let sock = sock.to_str().expect("utf-8 path");
    for args in [
        vec!["--monitor", "0", "--stats-socket", sock],
        vec!["--tune", "slice_us=5000", "--stats-socket", sock],
    ] {
        let (rc, text) = template(&args);
        assert_eq!(rc, 1, "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{args:?}: one line, not:\n{text}");
        assert!(
            text.contains("no scheduler answers on") && text.contains("is one running?"),
            "{args:?}: {text}"
        );
    }
}
