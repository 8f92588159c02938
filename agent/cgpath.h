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

/* The calling process's own cgroup v2 path from the root ("" for the root
 * itself, "/system.slice/x.service"), from /proc/self/cgroup; -ENOENT: no
 * cgroup v2 line. */
int df_cgroup_self(char *out, size_t len);

/* The last DF_CGPATHS ids asked, with their paths (NULL: no such cgroup),
 * found and not found both remembered. */
#define DF_CGPATHS 128

struct df_cgpaths {
	int rootfd;
	char root[512];
	unsigned int next;
	struct {
		uint64_t id;
		char *path;
	} v[DF_CGPATHS];
};

void df_cgpaths_init(struct df_cgpaths *c, const char *cgroot);
/* id's path from the cgroup2 root, or NULL (id 0 included). */
const char *df_cgpaths_get(struct df_cgpaths *c, uint64_t id);
void df_cgpaths_fini(struct df_cgpaths *c);

#endif
