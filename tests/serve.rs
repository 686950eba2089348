//! The stats/control socket under hostile input: 10,000 generated requests
//! (random bytes, broken JSON, wrong types, unknown commands and targets,
//! bad retunes) each get an error answer or a closed connection, never a
//! crash and never a change of the knob; a good request still works after.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use scx_arena::serve::{Client, Service, Tunable};
use scx_arena::stats::{Metric, Snapshot};

const KNOBS: &[Tunable] = &[Tunable {
    name: "slice_us",
    min: 100,
    max: 1_000_000,
}];

/// Requests a parser could choke on.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let json_value = prop_oneof![
        Just("null".to_string()),
        Just("-1".to_string()),
        Just("1e999".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        "\"[a-z_=0-9-]{0,12}\"",
        "-?[0-9]{1,25}",
    ];
    let req = prop_oneof![
        Just("stats".to_string()),
        Just("stats_meta".to_string()),
        "[a-z_]{0,10}",
    ];
    let structured = (req, json_value.clone(), json_value, any::<bool>()).prop_map(
        |(req, target, value, tune)| {
            let target = if tune { "\"tune\"".to_string() } else { target };
            format!(r#"{{"req":"{req}","args":{{"target":{target},"slice_us":{value}}}}}"#)
                .into_bytes()
        },
    );
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        structured,
    ]
    .prop_map(|mut v| {
        // One request per line, as the protocol frames them.
        v.retain(|&b| b != b'\n');
        v.push(b'\n');
        v
    })
}

/// A connection to the socket and a line reader on it.
fn connect(sock: &std::path::Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(sock).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

#[test]
fn hostile_requests_are_refused_and_the_server_lives() {
    let dir = std::env::temp_dir().join(format!("scx-arena-fuzz-{}", std::process::id()));
    let sock = dir.join("stats");
    let svc = Service::launch(&sock, None).expect("launch");
    let stop = Arc::new(AtomicBool::new(false));
    let loop_stop = stop.clone();
    // The scheduler's side: the knob, and its loop answering requests.
    let server = std::thread::spawn(move || {
        let mut slice = 20_000u64;
        let mut changes = Vec::new();
        while !loop_stop.load(Ordering::Relaxed) {
            let cell = std::cell::Cell::new(slice);
            svc.answer(
                Duration::from_millis(10),
                KNOBS,
                &mut || {
                    let mut s = Snapshot::new("fuzz");
                    s.push(Metric::counter("x", "x", 1));
                    s.tunables.push(("slice_us".into(), cell.get()));
                    Ok(s)
                },
                &mut |_, v| {
                    cell.set(v);
                    Ok(())
                },
            );
            if cell.get() != slice {
                changes.push(cell.get());
            }
            slice = cell.get();
        }
        changes
    });

    let conn = std::cell::RefCell::new(connect(&sock));
    let answered = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&hostile(), |req| {
            let mut c = conn.borrow_mut();
            let mut line = String::new();
            let got = c.0.write_all(&req).and_then(|_| c.1.read_line(&mut line));
            match got {
                Ok(n) if n > 0 => {
                    answered.set(answered.get() + 1);
                    let v: scx_stats::serde_json::Value =
                        scx_stats::serde_json::from_str(&line).expect("the answer is JSON");
                    prop_assert!(v.get("errno").is_some(), "no errno in {}", line);
                }
                // The server drops a connection it cannot read (bytes that
                // are not UTF-8): open another.
                _ => *c = connect(&sock),
            }
            Ok(())
        })
        .expect("every hostile request is handled");
    let answered = answered.get();
    assert!(answered > 1000, "only {answered} requests were answered");

    // Still serving, and only in-range values ever reached the knob.
    let mut c = Client::connect(&sock).expect("connect after the fuzzing");
    let v = c.tune(&[("slice_us".into(), "4000".into())]).expect("tune");
    assert_eq!(v["tunables"]["slice_us"], 4000);
    stop.store(true, Ordering::Relaxed);
    let changes = server.join().expect("the scheduler loop");
    assert!(
        changes.iter().all(|v| (100..=1_000_000).contains(v)),
        "out-of-range values reached the knob: {changes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
