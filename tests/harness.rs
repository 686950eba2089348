//! Tests of the host harness itself: that a failing BPF assertion is
//! reported with file, line and values, and that userspace reads what BPF
//! wrote in the arena.

use scx_arena::arena::ArenaPod;
use scx_arena::testing::{host_ready, TestError, TestObject};

/// bpf/tests/test_arena.bpf.c, built by build.rs.
const OBJ: TestObject = TestObject {
    source: "test_arena.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_arena.bpf.o")),
};

#[test]
fn failed_assert_names_file_line_and_values() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = OBJ.load(&["harness_failing_assert"]).expect("load");
    let err = obj
        .run("harness_failing_assert", None)
        .expect_err("the assertion must fail");
    let TestError::Assertion { failure, .. } = &err else {
        panic!("expected an assertion failure, got {err}");
    };
    let src = include_str!("../bpf/tests/test_arena.bpf.c");
    let line = src
        .lines()
        .position(|l| l.contains("ASSERT_EQ(got, 42)"))
        .expect("assert in source") as u32
        + 1;
    assert_eq!(failure.file, "test_arena.bpf.c");
    assert_eq!(failure.line, line);
    assert_eq!(failure.expr, "got == 42");
    assert_eq!(failure.lhs as i64, -41);
    assert_eq!(failure.rhs, 42);
    let msg = err.to_string();
    assert!(msg.contains(&format!("test_arena.bpf.c:{line}")), "{msg}");
    assert!(
        msg.contains("left:  -41") && msg.contains("right: 42"),
        "{msg}"
    );
}

#[test]
fn unknown_program_is_a_clear_error() {
    if !host_ready(module_path!()) {
        return;
    }
    let err = OBJ.load(&["no_such_prog"]).expect_err("must fail");
    assert!(
        err.to_string().contains("no program named no_such_prog"),
        "{err}"
    );
}

/// The op-buffer runner refuses a batch larger than the buffer before it
/// runs anything, and a program that fails reports its assertion, not a
/// bare return value (the differential tests rely on both).
#[test]
fn op_buffer_runs_report_overflow_and_assertions() {
    if !host_ready(module_path!()) {
        return;
    }
    let prog = "harness_failing_assert";
    let obj = OBJ.load(&[prog]).expect("load");
    let err = obj
        .run_ops(prog, 2, &[0u64; 3])
        .expect_err("3 ops into a buffer of 2");
    assert!(matches!(err, TestError::Ops { .. }), "{err}");
    assert!(
        err.to_string().contains("3 operations, the buffer holds 2"),
        "{err}"
    );
    let err = obj
        .run_ops(prog, 8, &[0u64; 3])
        .expect_err("the program's assertion fails");
    assert!(matches!(err, TestError::Assertion { .. }), "{err}");
}

/// `struct test_node` of bpf/tests/test_arena.h.
#[derive(Clone, Copy)]
#[repr(C)]
struct TestNode {
    next: u64,
    val: u64,
}
// SAFETY: two u64s, any bits are valid.
unsafe impl ArenaPod for TestNode {}

#[test]
fn userspace_walks_a_list_bpf_built_in_the_arena() {
    if !host_ready(module_path!()) {
        return;
    }
    let obj = OBJ.load(&["arena_list_build"]).expect("load");
    let nr = 5000u64;
    // struct test_list_args { u64 nr; u64 head; }
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&nr.to_ne_bytes());
    obj.run("arena_list_build", Some(&mut ctx)).expect("build");
    let head = u64::from_ne_bytes(ctx[8..].try_into().expect("8 bytes"));

    let view = obj.arena().expect("arena view");
    assert!(
        head >= view.base() && head < view.base() + view.len(),
        "head {head:#x} outside arena"
    );
    let (mut n, mut expect, mut addr) = (0u64, 1u64, head);
    while addr != 0 {
        let node: TestNode = view.read(addr).expect("node inside the arena");
        assert_eq!(node.val, expect);
        expect += 1;
        n += 1;
        addr = node.next;
    }
    assert_eq!(n, nr);

    // A pointer just past the arena is refused, not dereferenced.
    assert!(view.read::<u64>(view.base() + view.len()).is_err());
}
