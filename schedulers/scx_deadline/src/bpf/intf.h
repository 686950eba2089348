/* SPDX-License-Identifier: GPL-2.0-only */
/* Types shared by the BPF half (main.bpf.c) and the Rust half (main.rs). */
#pragma once

/* Per-CPU slots of the statistics; CPU ids at or above this share the last. */
#define DEADLINE_MAX_CPUS 512

/* Where waiting tasks are kept, ordered by deadline (--queue). */
enum deadline_queue {
	DEADLINE_QUEUE_HEAP = 0,   /* arena run queue in vtime mode (rq.h) */
	DEADLINE_QUEUE_RBTREE = 1, /* arena red-black tree (rbtree.h) */
	DEADLINE_QUEUE_DSQ = 2,    /* the kernel's vtime DSQ */
};

/* Knobs the callbacks read each time: may be rewritten while running. */
struct deadline_tune {
	unsigned long long slice_ns;   /* time slice; also the request behind a deadline */
	unsigned long long preempt_ns; /* deadline lead a waking task needs to preempt */
};

/* What the scheduler counts, per CPU, in arena memory. */
struct deadline_cpu_stats {
	unsigned long long local;    /* went straight to an idle CPU */
	unsigned long long enqueue;  /* queued by deadline */
	unsigned long long dispatch; /* moved from the queue to a CPU */
	unsigned long long preempt;  /* woke and preempted a later deadline */
	unsigned long long fallback; /* the arena queue refused: SCX_DSQ_GLOBAL */
	unsigned long long __pad[3]; /* one cache line per CPU: no false sharing */
};

struct deadline_stats {
	unsigned long long queued; /* queue depth, sampled at each dispatch */
	unsigned long long __pad[7];
	struct deadline_cpu_stats cpu[DEADLINE_MAX_CPUS];
};

/* The task each CPU runs: what preemption and the virtual clock look at. */
struct deadline_cpu_curr {
	unsigned long long deadline; /* its deadline; 0: none of ours */
	unsigned long long vruntime; /* its vruntime when it started */
	unsigned long long __pad[6];
};

struct deadline_curr {
	struct deadline_cpu_curr cpu[DEADLINE_MAX_CPUS];
};
