//! bpf-tests: the BPF library's own tests (every `test_*` program of
//! `bpf/tests/*.bpf.c`, the ones `cargo test --test bpf` runs) as one
//! binary, for a kernel the test harness does not run on: the sched_ext VM
//! (tests/vm.rs), whose newer kernel takes other paths than the host's (its
//! arena kfuncs may be called from any context, so lock holders run with
//! preemption disabled).
//!
//! It loads every object whole (every program verifies, the drivers of the
//! Rust-side tests included; skipped when filters are given), runs each test
//! program alone in a fresh instance of its object and prints `ok <name>` or `FAILED <name>: <report>` (the BPF-side assertion,
//! or the verifier log's tail), then one line,
//!
//! `BPF-TESTS passed=N failed=M`
//!
//! and exits 0 iff nothing failed (and at least one test ran).

use std::process::ExitCode;

use clap::Parser;

include!(concat!(env!("OUT_DIR"), "/bpf_tests.rs"));

/// Flags of bpf-tests.
#[derive(Parser)]
#[command(about = "Run the BPF library's test programs on this kernel")]
struct Args {
    /// Run only tests whose name contains one of these (all when none).
    filters: Vec<String>,
    /// Skip tests whose name contains this (repeatable).
    #[arg(long)]
    skip: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (mut passed, mut failed) = (0u32, 0u32);
    for obj in ALL_OBJECTS {
        // Every program verifies, the drivers of the Rust-side tests too
        // (as tests/bpf.rs checks on the host).
        let load_all = format!("load_all:{}", obj.source);
        if args.filters.is_empty() && !args.skip.iter().any(|s| load_all.contains(s)) {
            match obj.load(&[]) {
                Ok(_) => {
                    println!("ok {load_all}");
                    passed += 1;
                }
                Err(e) => {
                    println!("FAILED {load_all}: {e}");
                    failed += 1;
                }
            }
        }
        let names = match obj.test_programs() {
            Ok(n) => n,
            Err(e) => {
                println!("FAILED {}: {e}", obj.source);
                failed += 1;
                continue;
            }
        };
        for name in names {
            let wanted = args.filters.is_empty() || args.filters.iter().any(|f| name.contains(f));
            if !wanted || args.skip.iter().any(|s| name.contains(s)) {
                continue;
            }
            match obj.try_run_test(&name) {
                Ok(()) => {
                    println!("ok {name}");
                    passed += 1;
                }
                Err(e) => {
                    println!("FAILED {name}: {e}");
                    failed += 1;
                }
            }
        }
    }
    println!("BPF-TESTS passed={passed} failed={failed}");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
