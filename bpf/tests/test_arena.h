/* SPDX-License-Identifier: GPL-2.0-only */
/* Types shared by test_arena.bpf.c and the Rust tests that read them. */
#pragma once

#define TEST_LIST_MAX 100000

/* A singly linked list node; next is an arena address. */
struct test_node {
	struct test_node __arena *next;
	__u64 val;
};

/* Context of arena_list_build: nr in, head out. */
struct test_list_args {
	__u64 nr;
	__u64 head;
};
