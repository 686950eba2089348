/* SPDX-License-Identifier: GPL-2.0-only */
/* The locked operations of scx_arena/rq.h. */
#include <scx_arena/rq.h>

/* Both pushes; @grow is a constant, so each keeps only its own heap call. */
static __always_inline int rq_push(struct scx_arena_rq __arena *q,
				   struct scx_arena_rq_node __arena *n, s32 pid, u64 vtime,
				   bool grow)
{
	int ret;

	__scx_list_pin(q);
	__scx_list_pin(n);
	if (!n)
		return -EINVAL;
	ret = __scx_arena_rq_lock(q);
	if (ret)
		return ret;
	if (q->mode != SCX_ARENA_RQ_VTIME)
		ret = scx_arena_list_push_back(&q->fifo, &n->fifo);
	else if (grow)
		ret = scx_arena_heap_push(&q->vtime, &n->vtime, vtime);
	else
		ret = scx_arena_heap_push_reserved(&q->vtime, &n->vtime, vtime);
	if (!ret)
		n->pid = pid;
	scx_arena_lock_release(&q->lock);
	return ret;
}

int __scx_arena_rq_push(struct scx_arena_rq __arena *q __arg_arena,
			struct scx_arena_rq_node __arena *n __arg_arena, s32 pid, u64 vtime)
{
	return rq_push(q, n, pid, vtime, true);
}

int __scx_arena_rq_push_reserved(struct scx_arena_rq __arena *q __arg_arena,
				 struct scx_arena_rq_node __arena *n __arg_arena, s32 pid, u64 vtime)
{
	return rq_push(q, n, pid, vtime, false);
}

/*
 * The head of @q, removed when @take: its node's arena address, 0 when @q
 * is empty, or -ETIMEDOUT. With @pid, also the head's pid, read under the
 * lock.
 */
s64 __scx_arena_rq_head(struct scx_arena_rq __arena *q __arg_arena, u32 take, s32 *pid)
{
	struct scx_arena_rq_node __arena *n;
	int ret;

	__scx_list_pin(q);
	ret = __scx_arena_rq_lock(q);
	if (ret)
		return ret;
	n = __scx_arena_rq_head_locked(q, take);
	if (n && pid)
		*pid = n->pid;
	scx_arena_lock_release(&q->lock);
	return (u64)n;
}

int __scx_arena_rq_remove(struct scx_arena_rq __arena *q __arg_arena,
			  struct scx_arena_rq_node __arena *n __arg_arena)
{
	int ret;

	__scx_list_pin(q);
	__scx_list_pin(n);
	if (!n)
		return -EINVAL;
	ret = __scx_arena_rq_lock(q);
	if (ret)
		return ret;
	if (q->mode == SCX_ARENA_RQ_VTIME)
		ret = scx_arena_heap_remove(&q->vtime, &n->vtime);
	else
		ret = scx_arena_list_del(&q->fifo, &n->fifo);
	scx_arena_lock_release(&q->lock);
	return ret;
}
