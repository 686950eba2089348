/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/task_ctx.h - a per-task context in arena memory.
 *
 * A scheduler keeps what it knows of each task in an arena object, where the
 * library's queues can link it and the Rust half can read it, and finds it
 * from the task through task storage (which holds the object's address):
 *
 *	struct task_ctx {
 *		struct scx_arena_rq_node rq;
 *		u64 vtime;
 *	};
 *	SCX_ARENA_TASK_CTX_DEFINE(taskc, struct task_ctx);
 *
 *	s32 BPF_STRUCT_OPS(x_init_task, struct task_struct *p, struct scx_init_task_args *args)
 *	{
 *		struct task_ctx __arena *c = taskc_create(p);
 *
 *		if (c)			// NULL: no memory; the task runs without one
 *			c->vtime = ...;
 *		return 0;
 *	}
 *
 *	any callback:	struct task_ctx __arena *c = taskc_get(p);	// may be NULL
 *
 *	void BPF_STRUCT_OPS(x_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
 *	{
 *		struct task_ctx __arena *c = taskc_take(p);
 *
 *		if (c) {
 *			... unlink it from every queue ...
 *			scx_arena_free(c);
 *		}
 *	}
 *
 * A task without a context (the arena or the task storage ran out) must
 * still be scheduled: every callback handles NULL, typically by sending the
 * task to a kernel DSQ. The context is zeroed when created.
 */
#pragma once

#include <scx_arena/arena.h>
#include <scx_arena/alloc.h>

/**
 * SCX_ARENA_TASK_CTX_DEFINE - per-task contexts of @ctx_type, with functions @name_*.
 * @name: prefix of the functions (and of the task storage map).
 * @ctx_type: the context's type, e.g. struct task_ctx.
 *
 * Defines:
 *   @ctx_type __arena *@name_create(struct task_struct *p): a zeroed context for
 *	@p (ops.init_task), or NULL when there is no memory for it;
 *   @ctx_type __arena *@name_get(struct task_struct *p): @p's context, or NULL;
 *   @ctx_type __arena *@name_take(struct task_struct *p): @p's context, which
 *	@p no longer refers to (ops.exit_task: unlink it, then free it), or NULL.
 * Each also ties the calling program to the arena (scx_arena_assoc()).
 */
#define SCX_ARENA_TASK_CTX_DEFINE(name, ctx_type)					\
struct name##__ref {								\
	u64 addr;								\
};										\
										\
struct {									\
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);				\
	__uint(map_flags, BPF_F_NO_PREALLOC);					\
	__type(key, int);							\
	__type(value, struct name##__ref);					\
} name##__storage SEC(".maps");							\
										\
static __always_inline ctx_type __arena *name##_get(struct task_struct *p)	\
{										\
	struct name##__ref *ref = bpf_task_storage_get(&name##__storage, p, NULL, 0); \
										\
	scx_arena_assoc();							\
	return ref ? scx_arena_from_u64(ctx_type, ref->addr) : NULL;		\
}										\
										\
static __always_inline ctx_type __arena *name##_create(struct task_struct *p)	\
{										\
	struct name##__ref *ref;						\
	ctx_type __arena *ctx;							\
										\
	ref = bpf_task_storage_get(&name##__storage, p, NULL,			\
				   BPF_LOCAL_STORAGE_GET_F_CREATE);		\
	if (!ref)								\
		return NULL;							\
	ctx = scx_arena_zalloc(sizeof(ctx_type));					\
	ref->addr = (u64)ctx;							\
	return ctx;								\
}										\
										\
static __always_inline ctx_type __arena *name##_take(struct task_struct *p)	\
{										\
	struct name##__ref *ref = bpf_task_storage_get(&name##__storage, p, NULL, 0); \
	u64 addr;								\
										\
	scx_arena_assoc();							\
	if (!ref)								\
		return NULL;							\
	addr = ref->addr;							\
	ref->addr = 0;								\
	return scx_arena_from_u64(ctx_type, addr);					\
}
