/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An empty program: what the kernel's run-time statistics charge a program
 * that does nothing (two clock reads and the call), the overhead to subtract
 * from a scheduler callback's run_time_ns / run_cnt (benches/src/progstats.rs).
 */
#include <scx_arena/arena.h>

char _license[] SEC("license") = "GPL";

SEC("syscall")
int empty(void *ctx)
{
	return 0;
}
