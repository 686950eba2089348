//! Host demo of the arena core: BPF builds a linked list in arena pages, and
//! this process walks it through the arena mmap, with no syscall per node.

use std::process::ExitCode;

use scx_arena::arena::ArenaPod;
use scx_arena::testing::TestObject;

const OBJ: TestObject = TestObject {
    source: "test_arena.bpf.c",
    bytes: include_bytes!(concat!(env!("OUT_DIR"), "/test_arena.bpf.o")),
};

/// `struct test_node` of bpf/tests/test_arena.h.
#[derive(Clone, Copy)]
#[repr(C)]
struct Node {
    next: u64,
    val: u64,
}
// SAFETY: two u64s, any bits are valid.
unsafe impl ArenaPod for Node {}

fn main() -> ExitCode {
    let nr: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    match demo(nr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arena-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(nr: u64) -> Result<(), Box<dyn std::error::Error>> {
    let obj = OBJ.load(&["arena_list_build"])?;
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&nr.to_ne_bytes());
    obj.run("arena_list_build", Some(&mut ctx))?;
    let head = u64::from_ne_bytes(ctx[8..].try_into()?);

    let view = obj.arena()?;
    println!(
        "arena mapped at {:#x}, {} MiB of address space",
        view.base(),
        view.len() >> 20
    );
    println!("BPF built a {nr}-node list; head at {head:#x}");
    let (mut len, mut sum, mut addr) = (0u64, 0u64, head);
    while addr != 0 {
        let n: Node = view.read(addr)?;
        len += 1;
        sum += n.val;
        addr = n.next;
    }
    println!("userspace walked {len} nodes through the mmap, sum {sum}");
    if len != nr || sum != nr * (nr + 1) / 2 {
        return Err(format!("expected {nr} nodes summing to {}", nr * (nr + 1) / 2).into());
    }
    println!("ok");
    Ok(())
}
