/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/check.h - checked mode ("arena ASAN"): catches out-of-bounds
 * accesses, use-after-free, double and invalid frees, and leaks in arena
 * memory.
 *
 * Chosen at build time: BpfBuild::checked() (or SCX_ARENA_CHECKED=1 in the
 * environment of the build) compiles every unit with -DSCX_ARENA_CHECKED=1.
 * Without it, everything below compiles to nothing.
 *
 * In checked mode, scx_arena_alloc() places each object between a 32-byte
 * header (the left redzone: magic, state, size, allocation site) and a right
 * redzone of at least SCX_ARENA_CHECK_RZ bytes. A shadow map, one byte per
 * 8 bytes of every allocator chunk, says which bytes may be touched.
 * scx_arena_free() poisons the object (shadow and content) and parks it in a
 * FIFO quarantine; only when it leaves the quarantine is it really freed, so
 * a dangling pointer keeps pointing at poisoned memory for a while. Leaving
 * the quarantine also verifies the content poison: a write after free shows.
 *
 * clang-19 cannot instrument BPF loads and stores (clang >= 22 can: see
 * BpfBuild::asan(), which makes plain C arena accesses of the object's own
 * code report the same way), so detection of bad accesses needs the
 * checked accessors below, which the library's own data
 * structures use and which scheduler code can use too:
 *
 *	v = scx_arena_ld(&obj->field);      (instead of v = obj->field)
 *	scx_arena_st(&obj->field, v);       (instead of obj->field = v)
 *
 * A detected bug is recorded as a report (kind, address, object address and
 * size, allocation site) in the allocator root, readable from userspace
 * (scx_arena::alloc), and raised with scx_arena_error(), which ends a
 * sched_ext scheduler with the report as its exit reason.
 */
#pragma once

#include <scx_arena/arena.h>

/* Kinds of reports; the Rust side decodes the same numbers. */
enum scx_arena_bug {
	SCX_ARENA_BUG_OVERFLOW = 1,     /* access to an object's redzone */
	SCX_ARENA_BUG_USE_AFTER_FREE,   /* access to a freed object */
	SCX_ARENA_BUG_DOUBLE_FREE,      /* free of an already freed object */
	SCX_ARENA_BUG_INVALID_FREE,     /* free of something never allocated */
	SCX_ARENA_BUG_WRITE_AFTER_FREE, /* poison of a freed object was changed */
	SCX_ARENA_BUG_WILD,             /* access to unallocated allocator memory */
	SCX_ARENA_BUG_LEAK,             /* reported by userspace at teardown */
};

/* Object header (left redzone) in checked mode. */
#define SCX_ARENA_CHECK_HDR 32
/* Minimum right redzone. */
#define SCX_ARENA_CHECK_RZ 16
/* Objects kept freed-but-not-reusable. */
#define SCX_ARENA_CHECK_QUARANTINE 256
/* Reports kept; later ones are counted only. */
#define SCX_ARENA_CHECK_REPORTS 16

#define SCX_ARENA_CHECK_MAGIC 0x5c7ac4ec
#define SCX_ARENA_OBJ_LIVE 1
#define SCX_ARENA_OBJ_QUARANTINED 2

/* Shadow byte values (per 8 bytes of arena). 1..7: only that many bytes. */
#define SCX_ARENA_SHADOW_OK 0x00
#define SCX_ARENA_SHADOW_REDZONE 0xfa
#define SCX_ARENA_SHADOW_FREED 0xfd
#define SCX_ARENA_SHADOW_UNALLOC 0xfe

/* Content of a quarantined object. */
#define SCX_ARENA_POISON 0xfdfdfdfdfdfdfdfdull

struct scx_arena_obj_hdr {
	u32 magic;
	u32 state;  /* SCX_ARENA_OBJ_* */
	u64 size;   /* bytes the caller asked for */
	u32 line;   /* allocation site: line ... */
	u32 __pad;
	char file[8]; /* ... and the first 8 bytes of the file name */
};

struct scx_arena_bug_report {
	u32 kind;     /* enum scx_arena_bug */
	u32 line;     /* allocation site of the object, 0 if unknown */
	u64 addr;     /* the bad access or free */
	u64 obj;      /* the object's address, 0 if none was found */
	u64 size;     /* its size */
	char file[8]; /* allocation site file (first 8 bytes) */
};

/* Checked-mode state, inside the allocator root. */
struct scx_arena_check {
	u32 enabled;      /* built with SCX_ARENA_CHECKED */
	u32 __pad;
	u64 nr_reports;   /* bugs found, including those not kept */
	struct scx_arena_bug_report reports[SCX_ARENA_CHECK_REPORTS];
	u64 shadow;       /* table: per chunk, address of its shadow */
	u64 quarantine;   /* ring of SCX_ARENA_CHECK_QUARANTINE objects */
	u64 q_head;       /* next slot to fill (monotonic) */
	u64 q_bytes;      /* bytes in quarantine */
};

#ifdef SCX_ARENA_CHECKED

int __scx_arena_check_access(u64 addr, u64 size);

/* Reports (and lets through) an access to memory it may not touch. */
#define SCX_ARENA_CHECK_ACCESS(p, size) __scx_arena_check_access((u64)(p), (size))

#ifdef __SANITIZE_ADDRESS__
/*
 * Built with compiler instrumentation (scx-arena-build's BpfBuild::asan):
 * clang calls these (bpf/lib/check.bpf.c) before each arena access of an
 * instrumented unit. libbpf's linker wants BTF for every extern function,
 * and clang emits it only for functions the source calls, never for the
 * calls it adds itself: the function below calls each one once, so every
 * unit carries their BTF. It is never called.
 */
#define __SCX_ASAN_DECL(size)                                                  \
	int __asan_load##size##_noabort(u64 addr);                             \
	int __asan_store##size##_noabort(u64 addr);
__SCX_ASAN_DECL(1)
__SCX_ASAN_DECL(2)
__SCX_ASAN_DECL(4)
__SCX_ASAN_DECL(8)
__SCX_ASAN_DECL(16)
int __asan_loadN_noabort(u64 addr, u64 size);
int __asan_storeN_noabort(u64 addr, u64 size);

__weak int __scx_arena_asan_btf(u64 a)
{
	return __asan_load1_noabort(a) | __asan_store1_noabort(a) |
	       __asan_load2_noabort(a) | __asan_store2_noabort(a) |
	       __asan_load4_noabort(a) | __asan_store4_noabort(a) |
	       __asan_load8_noabort(a) | __asan_store8_noabort(a) |
	       __asan_load16_noabort(a) | __asan_store16_noabort(a) |
	       __asan_loadN_noabort(a, 1) | __asan_storeN_noabort(a, 1);
}
#endif /* __SANITIZE_ADDRESS__ */

#else

#define SCX_ARENA_CHECK_ACCESS(p, size) ((void)(p), 0)

#endif /* SCX_ARENA_CHECKED */

/** scx_arena_ld - load *@p, checked in checked mode. */
#define scx_arena_ld(p)                                                        \
	({                                                                     \
		SCX_ARENA_CHECK_ACCESS(p, sizeof(*(p)));                        \
		*(p);                                                          \
	})

/** scx_arena_st - store @v to *@p, checked in checked mode. */
#define scx_arena_st(p, v)                                                     \
	({                                                                     \
		SCX_ARENA_CHECK_ACCESS(p, sizeof(*(p)));                        \
		*(p) = (v);                                                    \
	})
