fn main() {
    scx_arena_build::BpfBuild::new("src/bpf/main.bpf.c")
        .lib("alloc")
        .skeleton()
        .unwrap_or_else(scx_arena_build::fail);
}
