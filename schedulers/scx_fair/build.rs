fn main() {
    scx_arena_build::BpfBuild::new("src/bpf/main.bpf.c")
        .lib("rbtree")
        .intf("src/bpf/intf.h", "bpf_intf.rs")
        .skeleton()
        .unwrap_or_else(scx_arena_build::fail);
}
