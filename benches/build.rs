//! Builds the benchmark BPF objects with the library linked in:
//! `$OUT_DIR/alloc_bench.bpf.o` (src/bin/alloc-bench.rs) and
//! `$OUT_DIR/ds_bench.bpf.o` (src/bin/ds-bench.rs) and
//! `$OUT_DIR/wake_probe.bpf.o` (src/probe.rs) and `$OUT_DIR/empty.bpf.o`
//! (src/progstats.rs).

fn main() {
    scx_arena_build::BpfBuild::new("bpf/alloc_bench.bpf.c")
        .lib("alloc")
        // 1 GiB of address space (backed only when used): the bump runs
        // never free, and the buddy hold model keeps 64 blocks per thread.
        .define("SCX_ARENA_PAGES", "262144")
        .object("alloc_bench")
        .unwrap_or_else(scx_arena_build::fail);
    scx_arena_build::BpfBuild::new("bpf/ds_bench.bpf.c")
        .lib("rq")
        .lib("rbtree")
        .lib("btree")
        .object("ds_bench")
        .unwrap_or_else(scx_arena_build::fail);
    scx_arena_build::BpfBuild::new("bpf/wake_probe.bpf.c")
        // Room for the per-CPU histograms of WP_MAX_CPUS CPUs (4 MiB).
        .define("SCX_ARENA_PAGES", "1024")
        .object("wake_probe")
        .unwrap_or_else(scx_arena_build::fail);
    scx_arena_build::BpfBuild::new("bpf/empty.bpf.c")
        .object("empty")
        .unwrap_or_else(scx_arena_build::fail);
    println!("cargo:rerun-if-changed=bpf");
}
