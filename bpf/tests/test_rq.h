/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by test_rq.bpf.c and tests/rq.rs: the contexts of the rq_ops
 * and rq_churn programs. Naturally aligned, no implicit padding: the Rust
 * side mirrors them byte for byte.
 */
#pragma once

/* Task contexts (slots) the rq_ops driver queues. */
#define RQ_SLOTS 256
/* Operations of one rq_ops run. */
#define RQ_OPS_MAX 1024

enum rq_op_kind {
	RQ_OP_NOP = 0,
	RQ_OP_PUSH = 1,   /* push slot's context with pid and vtime; ret */
	RQ_OP_POP = 2,    /* pid = popped pid or 0, slot = its slot or -1; ret */
	RQ_OP_PEEK = 3,   /* pid, slot of the head (left queued); ret */
	RQ_OP_REMOVE = 4, /* ret = remove of slot's context */
	RQ_OP_NR = 5,     /* vtime = nr_queued */
	RQ_OP_QUEUED = 6, /* vtime = whether slot's context looks queued */
};

struct rq_op {
	__u32 op;    /* in: enum rq_op_kind */
	__s32 slot;  /* in (push, remove, queued) or out (pop, peek) */
	__s32 pid;   /* in (push) or out (pop, peek) */
	__u32 __pad;
	__u64 vtime; /* in (push) or out (nr, queued) */
	__s64 ret;   /* out: 0 or a negative error */
};

/*
 * Context of rq_ops. mode != 0xff (re)initialises the queue in that mode
 * first (and the slots' nodes); 0xff keeps the queue of the previous run.
 */
struct rq_ops_args {
	__u32 nr;    /* in: operations to run, at most RQ_OPS_MAX */
	__u32 mode;  /* in: enum scx_arena_rq_mode, or RQ_KEEP */
	__u64 buf;   /* out: arena address of the op buffer */
	__u64 rq;    /* out: arena address of the struct scx_arena_rq */
	__u64 slots; /* out: arena address of the RQ_SLOTS contexts */
	__s64 ret;   /* out: the (re)initialisation's return */
};

#define RQ_KEEP 0xff

/* Byte size of one slot's context (struct rq_task in test_rq.bpf.c). */
#define RQ_TASK_SIZE 64

/*
 * Context of rq_churn: all __u64, read by Rust as [u64; 10]. Each step pushes
 * one of the thread's own contexts (pid = thread tag | index, vtime random)
 * that is not queued, or pops the head and checks that it is queued no
 * more and that its pid names its context.
 */
struct rq_churn_args {
	__u64 iters;      /* in: push-or-pop steps */
	__u64 thread;     /* in: 0 or 1, selects the thread's contexts */
	__u64 pushes;     /* out */
	__u64 pops;       /* out: heads popped (of either thread) */
	__u64 mismatches; /* out: popped contexts whose pid was not theirs */
	__u64 timeouts;   /* out: operations that failed on the lock (nothing changed) */
	__u64 full;       /* out: pushes that failed otherwise */
	__u64 rq;         /* out: arena address of the struct scx_arena_rq */
	__u64 errors;     /* out: scx_arena_last_error.count at the end */
	__u64 tasks;      /* out: arena address of the 2 * RQ_CHURN_TASKS contexts */
};

/* Contexts per churn thread. */
#define RQ_CHURN_TASKS 512
