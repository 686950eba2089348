/* SPDX-License-Identifier: GPL-2.0-only */
/* Types shared by the BPF half (main.bpf.c) and the Rust half (main.rs). */
#pragma once

/* CPU ids at or above this share the last statistics slot and domain 0. */
#define FAIR_MAX_CPUS 512
/* LLC domains, each with its own run queue. */
#define FAIR_MAX_DOMS 64

/* Queue back ends (--queue). */
enum fair_queue {
	FAIR_QUEUE_RBTREE = 0, /* one arena RB-tree per domain */
	FAIR_QUEUE_DSQ = 1,    /* one kernel vtime DSQ per domain */
};

/* Knobs read by every callback, rewritable while the scheduler runs. */
struct fair_tune {
	unsigned long long slice_ns; /* time slice; 0 means SCX_SLICE_DFL */
};

/* What the scheduler counts, per CPU, in arena memory. */
struct fair_cpu_stats {
	unsigned long long enqueues;   /* queued on a domain's run queue */
	unsigned long long dispatches; /* moved from a run queue to a CPU */
	unsigned long long local;      /* woke onto an idle CPU of the waker's or prev_cpu's domain */
	unsigned long long remote;     /* woke onto an idle CPU of another domain */
	unsigned long long stolen;     /* dispatched from another domain's run queue */
	unsigned long long fallback;   /* the arena tree refused: queued on SCX_DSQ_GLOBAL */
	unsigned long long __pad[2];   /* one cache line per CPU: no false sharing */
};

/* Per domain: its run queue depth, sampled when it changes (a gauge). */
struct fair_dom_stats {
	unsigned long long queued;
	unsigned long long __pad[7];
};

struct fair_stats {
	struct fair_cpu_stats cpu[FAIR_MAX_CPUS];
	struct fair_dom_stats dom[FAIR_MAX_DOMS];
};
