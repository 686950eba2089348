/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Context of wake_probe_init (wake_probe.bpf.c), shared with
 * benches/src/probe.rs. Every field is a __u64, so the Rust side passes it
 * as [u64; WP_INIT_WORDS].
 */
#pragma once

/* CPUs the probe keeps a histogram and counters for; others are ignored. */
#define WP_MAX_CPUS 512

/* Bytes of a task's comm (TASK_COMM_LEN). */
#define WP_COMM_LEN 16

#define WP_INIT_WORDS 6

struct wp_init_args {
	__u64 nr_cpus;	/* in: possible CPUs (histograms to allocate) */
	__u64 filter;	/* in: 1 = only tasks of the tgids in wp_tgids */
	__u64 hists;	/* out: arena address of the per-CPU histograms */
	__u64 comm_len;	/* in: only tasks whose comm starts with comm[0..comm_len) */
	char comm[WP_COMM_LEN];	/* in: that prefix (comm_len < WP_COMM_LEN) */
};
