/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/error.h - what the library does when it cannot go on.
 *
 * Some conditions leave no safe way forward: a lock that stays held past its
 * bound (a deadlock, or a holder that died), allocator metadata that fails a
 * consistency check. The library reports them with scx_arena_error() and then
 * returns an error to its caller; it never carries on as if nothing happened.
 * Callers must propagate that error and not touch the structure again.
 *
 * Reporting does two things:
 *
 *  - It counts the error in scx_arena_last_error and keeps the FIRST error's
 *    message there (later errors only bump the count). The record lives in
 *    the object's .bss, so a BPF test or userspace reads it like any global.
 *
 *  - On a kernel with sched_ext it ends the scheduler with that message as
 *    the exit reason (scx_bpf_error_bstr()). The kfunc is a weak reference, so
 *    the same object still loads on a kernel without sched_ext; there only
 *    the record is written.
 *
 *	if (scx_arena_lock_acquire(&q->lock)) {
 *		scx_arena_error("queue %llu: lock timeout", q->id);
 *		return -ETIMEDOUT;
 *	}
 */
#pragma once

#include <scx_arena/arena.h>

/* Size of the kept message, including its terminating NUL. */
#define SCX_ARENA_ERROR_MSG_LEN 128

/* Most arguments one scx_arena_error() call may pass. */
#define SCX_ARENA_ERROR_MAX_ARGS 4

/*
 * The error record, defined once in bpf/lib/error.bpf.c. count is the number
 * of scx_arena_error() calls so far; msg holds the first one's message,
 * NUL-terminated (and truncated to fit). The count is raised before the
 * message is written, so a reader racing with the first error may briefly
 * see count >= 1 and an empty msg.
 */
struct scx_arena_error_record {
	u64 count;
	char msg[SCX_ARENA_ERROR_MSG_LEN];
};

extern struct scx_arena_error_record scx_arena_last_error;

/* The arguments of one report, zero-padded to a fixed size. */
struct scx_arena_error_args {
	u64 data[SCX_ARENA_ERROR_MAX_ARGS];
};

/*
 * Ends the sched_ext scheduler, if there is one, with @fmt formatted from
 * @args. Returns 0. Use scx_arena_error(), which also fills the record.
 *
 * @fmt must be writable memory (a non-const static): the verifier checks a
 * global function's pointer arguments, and the kfunc's, for writes too, while
 * bpf_snprintf() insists on a format in read-only data. scx_arena_error()
 * therefore keeps one copy of each format for each purpose.
 */
int __scx_arena_error_raise(char *fmt, struct scx_arena_error_args *args);

/**
 * scx_arena_error - report an unrecoverable library error.
 * @fmt: a string literal in bpf_snprintf() syntax (%d %u %x %llu %s %p ...).
 * @...: up to SCX_ARENA_ERROR_MAX_ARGS integer (or kernel pointer) values.
 *
 * Counts the error in scx_arena_last_error, keeps its message there if it is
 * the first one, and on a sched_ext kernel ends the scheduler with this
 * error's message. %s reads a kernel string (a literal or a global), not
 * arena memory. Passing a pointer argument needs a privileged loader (root,
 * as sched_ext requires anyway).
 *
 * Usable from sleepable and non-sleepable programs alike: it does not sleep
 * and takes no lock. The record's message is formatted at the call site
 * (bpf_snprintf() must see its format in read-only data), so keep calls on
 * error paths. Evaluates to 0; the caller returns its own error code.
 */
#define scx_arena_error(fmt, args...)                                          \
	({                                                                     \
		static const char ___scx_err_fmt[] = fmt;                      \
		static char ___scx_err_fmt_rw[] = fmt;                         \
		struct scx_arena_error_args ___scx_err_args = {};              \
									       \
		_Static_assert(___bpf_narg(args) <= SCX_ARENA_ERROR_MAX_ARGS,  \
			       "scx_arena_error: too many arguments");         \
		_Pragma("GCC diagnostic push")                                 \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")         \
		___bpf_fill(___scx_err_args.data, ##args);                     \
		_Pragma("GCC diagnostic pop")                                  \
		if (__sync_fetch_and_add(&scx_arena_last_error.count, 1) == 0) \
			bpf_snprintf(scx_arena_last_error.msg,                 \
				     sizeof(scx_arena_last_error.msg),         \
				     ___scx_err_fmt, ___scx_err_args.data,     \
				     sizeof(___scx_err_args.data));            \
		__scx_arena_error_raise(___scx_err_fmt_rw, &___scx_err_args);  \
	})
