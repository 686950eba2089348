//! scx-arena: userspace half of the scx-arena sched_ext framework.
//!
//! - [`arena`]: zero-copy, bounds-checked reads of BPF arena memory.
//! - [`testing`]: runs the BPF library's `SEC("syscall")` tests on the host.
//! - [`vm`]: boots a sched_ext kernel under qemu for schedulers and tests.

pub mod arena;
pub mod testing;
pub mod vm;
