//! The dispatch-latency benchmark's smoke run (`bench --quick`): every
//! contender boots its VM, and every figure of every contender, every
//! scheduler's enqueue and dispatch cost, the table, the JSON and the plot
//! come out. No timing is checked: the figures are printed.
//!
//! Run: `cargo test -p scx-arena-benches --test bench_quick -- --nocapture`
//! (two deterministic VMs at a time, a few minutes).

use std::path::PathBuf;
use std::process::Command;

use scx_arena::testing::host_ready;
use scx_arena_benches::report::Report;
use scx_arena_benches::suite::{Contender, FIGURES};

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scx-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench(args: &[&str], out: &PathBuf) -> Report {
    let status = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .arg("--out")
        .arg(out)
        .status()
        .expect("running bench");
    let json = std::fs::read_to_string(out.join("report.json")).expect("report.json written");
    let report: Report = serde_json::from_str(&json).expect("report.json parses");
    assert!(
        status.success(),
        "bench failed: {status}; gaps: {:?}",
        report.gaps()
    );
    report
}

#[test]
fn quick_run_produces_every_figure_for_every_contender() {
    let out = out_dir("quick");
    let report = bench(&["--quick", "--debug", "--vm-only"], &out);
    assert!(report.gaps().is_empty(), "{:?}", report.gaps());
    let labels: Vec<&str> = report
        .contenders
        .iter()
        .map(|c| c.contender.label.as_str())
        .collect();
    let all: Vec<String> = Contender::all().into_iter().map(|c| c.label).collect();
    assert_eq!(labels, all);
    for c in &report.contenders {
        for f in FIGURES {
            assert!(
                c.figures.contains_key(f.key),
                "{}: no {}",
                c.contender.label,
                f.key
            );
            if c.contender.scheduler.is_some() {
                assert!(
                    c.ratios.contains_key(f.key),
                    "{}: no ratio for {}",
                    c.contender.label,
                    f.key
                );
            }
        }
        if c.contender.scheduler.is_some() {
            assert!(
                c.enqueue_dispatch_ns.is_some(),
                "{}: no enqueue+dispatch cost",
                c.contender.label
            );
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    let svg = std::fs::read_to_string(out.join("latency.svg")).expect("latency.svg");
    for label in &all {
        assert!(
            md.contains(&format!(" {label} |")),
            "{label} not in the table"
        );
        assert!(
            svg.contains(&format!(">{label}</text>")),
            "{label} not in the plot"
        );
    }
    println!("{md}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn host_micro_benchmarks_run_from_the_same_entry_point() {
    if !host_ready("host_micro_benchmarks_run_from_the_same_entry_point") {
        return;
    }
    let out = out_dir("host");
    let report = bench(&["--quick", "--host-only"], &out);
    for tool in ["alloc-bench", "ds-bench"] {
        assert!(report.host.contains_key(tool), "no JSON from {tool}");
        let table = &report.host_tables[tool];
        assert!(table.contains("| "), "{tool} printed no table: {table}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
