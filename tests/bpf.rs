//! The BPF library's own tests: every `SEC("syscall")` program named
//! `test_*` in `bpf/tests/*.bpf.c` runs on the host kernel as one Rust test
//! (`cargo test -p scx-arena-tests --test bpf <name>`).

include!(concat!(env!("OUT_DIR"), "/bpf_tests.rs"));

/// Every program of every test object passes the verifier, including the
/// driver programs that only hand-written Rust tests run.
#[test]
fn every_program_of_every_test_object_verifies() {
    if !scx_arena::testing::host_ready("every_program_of_every_test_object_verifies") {
        return;
    }
    for obj in ALL_OBJECTS {
        if let Err(e) = obj.load(&[]) {
            panic!("{e}");
        }
    }
}
