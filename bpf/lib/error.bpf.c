/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The library's error record and the sched_ext exit of scx_arena/error.h.
 */
#include <scx_arena/error.h>

struct scx_arena_error_record scx_arena_last_error;

/*
 * Declared here only, and weak: a scheduler's <scx/common.bpf.h> declares
 * the same kfunc strongly, and an object built without sched_ext in the
 * running kernel must still load (the call below is then dead code the
 * verifier never checks).
 */
extern void scx_bpf_error_bstr(char *fmt, unsigned long long *data,
			       u32 data_len) __ksym __weak;

int __scx_arena_error_raise(char *fmt, struct scx_arena_error_args *args)
{
	/*
	 * The verifier types a global function's pointer arguments as
	 * maybe-NULL, and the kfunc wants them non-NULL (found on the 7.2
	 * sched_ext kernel: "Possibly NULL pointer passed to trusted R1").
	 */
	if (!fmt || !args)
		return 0;
	if (bpf_ksym_exists(scx_bpf_error_bstr))
		scx_bpf_error_bstr(fmt, args->data, sizeof(args->data));
	return 0;
}
