//! The benchmark binaries run end to end with tiny parameters: every BPF
//! program loads, and every contender computes the result the Rust
//! reference expects (the binaries fail otherwise). No timing is checked.

use std::process::Command;

use scx_arena::testing::host_ready;

fn run(bin: &str, args: &[&str]) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{bin} {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("| "), "{bin} printed no table:\n{stdout}");
}

#[test]
fn ds_bench_runs_and_every_contender_agrees() {
    if !host_ready("ds_bench_runs_and_every_contender_agrees") {
        return;
    }
    run(
        env!("CARGO_BIN_EXE_ds-bench"),
        &["--sizes", "1,64,300", "--iters", "2000", "--reps", "1"],
    );
}

#[test]
fn alloc_bench_runs() {
    if !host_ready("alloc_bench_runs") {
        return;
    }
    run(
        env!("CARGO_BIN_EXE_alloc-bench"),
        &[
            "--iters",
            "1000",
            "--reps",
            "1",
            "--threads",
            "1,2",
            "--sizes",
            "64,16384",
            "--mem-objects",
            "1000",
        ],
    );
}
