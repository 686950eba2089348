/* SPDX-License-Identifier: GPL-2.0-only */
/* The failure record of scx_arena/test.h; linked into every BPF test object. */
#include <scx_arena/test.h>

struct scx_test_failure_map scx_test_failure SEC(".maps");
