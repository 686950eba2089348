//! The wakelat binary runs end to end on the host with small parameters and
//! prints a result line that parses, with ordered percentiles. No timing is
//! checked.

use std::process::Command;

use scx_arena_benches::wakelat::Summary;

#[test]
fn wakelat_prints_a_parsable_ordered_result() {
    let out = Command::new(env!("CARGO_BIN_EXE_wakelat"))
        .args([
            "--message-threads",
            "2",
            "--workers",
            "2",
            "--runtime",
            "1.5",
            "--warmup",
            "0.5",
            "--work-us",
            "20",
            "--json",
        ])
        .output()
        .expect("running wakelat");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wakelat failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Summary::parse(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert!(s.samples > 0, "{s:?}");
    assert!(s.rps > 0.0, "{s:?}");
    assert!(
        s.p50_us <= s.p90_us && s.p90_us <= s.p99_us && s.p99_us <= s.p99_9_us,
        "{s:?}"
    );
    assert!(s.p99_9_us <= s.max_us, "{s:?}");

    // The JSON line carries the same figures.
    let json = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line:\n{stdout}"));
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(v["samples"].as_u64(), Some(s.samples));
    let in_buckets: u64 = v["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b[2].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(in_buckets, s.samples);
}
