/* SPDX-License-Identifier: GPL-2.0-only */
/* A cgroup's path from its id, without walking the tree: on cgroup2 the id
 * is the cgroup's file handle (open_by_handle_at, CAP_DAC_READ_SEARCH). */
#ifndef DF_CGPATH_H
#define DF_CGPATH_H

#include <stddef.h>
#include <stdint.h>

/* rootfd: the cgroup2 mount point cgroot, opened. out: the path from that
 * root ("/" for the root, "/system.slice/x.service"). -ESTALE: no such
 * cgroup (any more). */
int df_cgpath_of(int rootfd, const char *cgroot, uint64_t id, char *out, size_t len);

#endif
