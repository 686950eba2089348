//! scx-arena: userspace half of the scx-arena sched_ext framework.
//!
//! - [`alloc`]: the arena allocator from userspace: statistics and a
//!   checker of all its metadata.
//! - [`arena`]: zero-copy, bounds-checked reads of BPF arena memory.
//! - [`bitmap`]: reads the BPF arena bitmap / cpumask (`scx_arena/bitmap.h`)
//! - [`btree`]: reads and checks the BPF arena B+tree (`scx_arena/btree.h`)
//!   from userspace.
//! - [`fork`]: forks `scx_template` into a new scheduler of the workspace.
//! - [`globals`]: reads of a BPF object's `.bss`/`.data` globals by name.
//! - [`heap`]: reads and checks the BPF arena heap (`scx_arena/heap.h`)
//!   from userspace.
//! - [`htab`]: lists and checks the BPF arena hash table
//!   (`scx_arena/htab.h`) from userspace.
//! - [`lathist`]: latency histograms (`scx_arena/lathist.h`) from
//!   userspace: merged per-CPU copies and percentiles.
//! - [`list`]: walks and checks the BPF arena list (`scx_arena/list.h`)
//!   from userspace.
//! - [`rbtree`]: walks and checks the BPF arena red-black tree
//!   (`scx_arena/rbtree.h`) from userspace.
//! - [`rq`]: the task run queue (`scx_arena/rq.h`) from userspace: the
//!   queued tasks in dispatch order, and a check of the queue.
//! - [`run`]: runs a scheduler under a workload, in the VM or on the host.
//! - [`runtime`]: what every scheduler binary does the same way: shared
//!   flags, the serving loop, the client modes.
//! - [`serve`]: the stats/control socket and the OpenMetrics endpoint.
//! - [`stats`]: a scheduler's statistics snapshot and its formats.
//! - [`testing`]: runs the BPF library's `SEC("syscall")` tests on the host.
//! - [`vm`]: boots a sched_ext kernel under qemu for schedulers and tests.

pub mod alloc;
pub mod arena;
pub mod bitmap;
pub mod btree;
pub mod fork;
pub mod globals;
pub mod heap;
pub mod htab;
pub mod lathist;
pub mod list;
pub mod rbtree;
pub mod rq;
pub mod run;
pub mod runtime;
pub mod serve;
pub mod stats;
pub mod testing;
pub mod vm;
