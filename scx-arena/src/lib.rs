//! scx-arena: userspace half of the scx-arena sched_ext framework.
//!
//! - [`arena`]: zero-copy, bounds-checked reads of BPF arena memory.
//! - [`run`]: runs a scheduler under a workload, in the VM or on the host.
//! - [`runtime`]: what every scheduler binary does the same way.
//! - [`testing`]: runs the BPF library's `SEC("syscall")` tests on the host.
//! - [`vm`]: boots a sched_ext kernel under qemu for schedulers and tests.

pub mod arena;
pub mod run;
pub mod runtime;
pub mod testing;
pub mod vm;
