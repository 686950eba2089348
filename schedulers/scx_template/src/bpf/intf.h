/* SPDX-License-Identifier: GPL-2.0-only */
/* Types shared by the BPF half (main.bpf.c) and the Rust half (main.rs). */
#pragma once

/* Per-CPU slots of the statistics; CPU ids at or above this share the last. */
#define TEMPLATE_MAX_CPUS 512

/* What the scheduler counts, per CPU, in arena memory. */
struct template_cpu_stats {
	unsigned long long local;    /* woke onto an idle CPU, dispatched directly */
	unsigned long long global;   /* queued on the shared arena run queue */
	unsigned long long dispatch; /* moved from the shared queue to a CPU */
	unsigned long long fallback; /* the arena queue refused: queued on SCX_DSQ_GLOBAL */
	unsigned long long __pad[4]; /* one cache line per CPU: no false sharing */
};

/*
 * Knobs the Rust half may change while the scheduler runs (--tune, or the
 * stats socket): callbacks read them on every use.
 */
struct template_tune {
	unsigned long long slice_ns; /* time slice of every task */
};

struct template_stats {
	struct template_cpu_stats cpu[TEMPLATE_MAX_CPUS];
};
