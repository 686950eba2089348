/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_arena/arena.h - the arena every scx-arena object shares, and the
 * pieces that keep arena pointers usable in BPF C.
 *
 * Include this first in a library file or a BPF test. A scheduler includes
 * <scx/common.bpf.h> before it; the two agree on __arena and cast_*().
 *
 * From the scx headers that scx_cargo bundles (<bpf_arena_common.bpf.h>) we
 * take, rather than redefine:
 *   __arena          pointer qualifier, address_space(1): LLVM (clang >= 19)
 *                    then emits the addr_space_cast the verifier needs before
 *                    every access through such a pointer.
 *   __arena_global   places a global in the arena (.addr_space.1); libbpf
 *                    maps it at the end of the arena.
 *   cast_kern/cast_user  no-ops with clang >= 19 (LLVM casts by itself);
 *                    kept so code reads the same on older toolchains.
 *   can_loop, cond_break  may_goto based bounds for loops whose trip count
 *                    the verifier cannot see.
 */
#pragma once

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf_arena_common.bpf.h>
#include <asm-generic/errno.h>

#ifndef __BPF_FEATURE_ADDR_SPACE_CAST
#error "scx-arena needs clang >= 19 (address-space casts for arena pointers)"
#endif

#ifndef NUMA_NO_NODE
/* "any node" for bpf_arena_alloc_pages(); scx/common.bpf.h defines it too. */
#define NUMA_NO_NODE (-1)
#endif

#ifndef __arg_arena
/*
 * Tag for an arena pointer argument of a global (non-static) function.
 * The verifier checks a global function once, on its own, from its BTF
 * signature; without the tag a struct pointer argument must be a kernel
 * pointer of known size and a caller passing an arena pointer is rejected.
 */
#define __arg_arena __attribute__((btf_decl_tag("arg:arena")))
#endif

/*
 * Address-space reservation of the arena, in pages. Pages are backed only
 * when allocated, so a large reservation costs nothing until used. Userspace
 * may change it before load (bpf_map__set_max_entries); the arena can span at
 * most 4 GiB.
 */
#ifndef SCX_ARENA_PAGES
#define SCX_ARENA_PAGES (1u << 16)
#endif

/*
 * The arena map. Exactly one exists per BPF object (the kernel allows one
 * arena per program), so the library and every program name it "arena".
 * Every unit that includes this header carries the same weak definition and
 * libbpf's linker keeps one. (An extern declaration plus one strong
 * definition does not survive libbpf-cargo's per-unit link when the unit
 * also defines maps of its own: the extern turns into a second strong
 * definition and the final link fails with "conflicting non-weak symbol".)
 *
 * No map_extra: the kernel picks the user address, which lets several
 * objects coexist in one process (tests load many in parallel). BPF's and
 * userspace's pointers into the arena are the same numbers either way.
 */
struct scx_arena_map {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SCX_ARENA_PAGES);
};

struct scx_arena_map arena SEC(".maps") __weak;

/*
 * scx_arena_assoc - tie the current program to the arena.
 *
 * The verifier accepts the address-space casts LLVM emits only in a program
 * that references the arena map itself (an ld_imm64 of &arena somewhere in
 * the program or its subprograms). A callback that merely follows arena
 * pointers it found in .bss or in a task context has no such reference and
 * fails to load with "addr_space_cast insn can only be used in a program that
 * has an associated arena". Calling this once in such a callback adds the
 * reference; it emits no instruction that runs.
 */
#define scx_arena_assoc() asm volatile("" : : "r"(&arena))

/*
 * Page accounting of scx_arena_pages_alloc()/free(), kept in .bss of the
 * object so a scheduler can report it and a test can check it. Counters are
 * updated atomically; callers on several CPUs may race.
 */
struct scx_arena_page_stats {
	u64 nr_pages;       /* pages currently allocated through the wrapper */
	u64 nr_pages_peak;  /* high-water mark of nr_pages */
	u64 nr_failed;      /* allocations the kernel refused */
};

extern struct scx_arena_page_stats scx_arena_page_stats;

/*
 * Returning arena memory from a global function.
 *
 * The verifier checks a global (non-static) function on its own and lets it
 * return only a scalar: "Global function X() doesn't return scalar". Library
 * functions that hand out arena memory therefore return its address as u64,
 * and a static inline wrapper gives the pointer its type back. LLVM casts the
 * value into the arena address space at the first access, where the verifier
 * turns it into an arena pointer again.
 */
#define scx_arena_from_u64(type, addr) ((type __arena *)(unsigned long)(addr))

u64 __scx_arena_pages_alloc(u64 addr, u32 nr_pages);

/**
 * scx_arena_pages_alloc - allocate @nr_pages contiguous zeroed arena pages.
 * @nr_pages: number of pages, >= 1.
 *
 * Returns the arena address of the first page, or NULL when the arena (or
 * memory) is exhausted; a failure is counted in scx_arena_page_stats and
 * never retried here. Callable wherever bpf_arena_alloc_pages() is: syscall
 * programs always, sched_ext callbacks on kernels that allow non-sleepable
 * arena allocation.
 */
static __always_inline void __arena *scx_arena_pages_alloc(u32 nr_pages)
{
	return scx_arena_from_u64(void, __scx_arena_pages_alloc(0, nr_pages));
}

/**
 * scx_arena_pages_alloc_at - scx_arena_pages_alloc() at a chosen address.
 * @addr: page-aligned arena address of the first page.
 * @nr_pages: number of pages.
 *
 * Returns @addr, or NULL if any page of the range is already in use (or
 * memory is short). The allocators use it to place blocks at aligned offsets.
 */
static __always_inline void __arena *scx_arena_pages_alloc_at(u64 addr, u32 nr_pages)
{
	return scx_arena_from_u64(void, __scx_arena_pages_alloc(addr, nr_pages));
}

/*
 * The arena's bounds as user addresses, read from the kernel's struct
 * bpf_arena behind the map (CO-RE relocated). Arena offsets are relative to
 * scx_arena_start().
 */
static __always_inline u64 scx_arena_start(void)
{
	return ((struct bpf_arena *)&arena)->user_vm_start;
}

/* The user address just past the arena's last page (see scx_arena_start()). */
static __always_inline u64 scx_arena_end(void)
{
	return ((struct bpf_arena *)&arena)->user_vm_end;
}

/**
 * scx_arena_pages_free - return pages obtained from scx_arena_pages_alloc().
 * @p: the address scx_arena_pages_alloc() returned; NULL is ignored.
 * @nr_pages: the count passed to the matching allocation.
 *
 * Returns 0. (Global functions must return a scalar on the kernels we
 * support, even when there is nothing to report.)
 */
int scx_arena_pages_free(void __arena *p __arg_arena, u32 nr_pages);

/*
 * Call depth. The verifier allows 8 frames (the program plus 7 nested
 * calls of static or global functions). The library inlines its internal
 * helpers (static __always_inline) and keeps global functions for entry
 * points, so a library call costs the caller at most 4 frames.
 */
