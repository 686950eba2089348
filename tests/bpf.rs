//! The BPF library's own tests: every `SEC("syscall")` program named
//! `test_*` in `bpf/tests/*.bpf.c` runs on the host kernel as one Rust test
//! (`cargo test -p scx-arena-tests --test bpf <name>`).

include!(concat!(env!("OUT_DIR"), "/bpf_tests.rs"));
