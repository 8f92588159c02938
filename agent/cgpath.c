// SPDX-License-Identifier: GPL-2.0-only
/* cgroup ids to paths (cgpath.h). */
#include "cgpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe /* include/linux/exportfs.h: cgroup2's handles */
#endif

int df_cgpath_of(int rootfd, const char *cgroot, uint64_t id, char *out, size_t len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	char link[64], path[PATH_MAX];
	size_t root = strlen(cgroot);
	ssize_t n;
	int fd;

	while (root > 1 && cgroot[root - 1] == '/')
		root--;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(rootfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* what /proc says of the opened cgroup: its path in our mounts */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	path[n] = '\0';
	if (strncmp(path, cgroot, root) || (path[root] && path[root] != '/'))
		return -EXDEV; /* a cgroup outside this mount */
	snprintf(out, len, "%s", path[root] ? path + root : "/");
	return 0;
}

void df_cgpaths_init(struct df_cgpaths *c, const char *cgroot)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->root, sizeof(c->root), "%s", cgroot);
	c->rootfd = cgroot[0] ? open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

const char *df_cgpaths_get(struct df_cgpaths *c, uint64_t id)
{
	char path[PATH_MAX];
	unsigned int slot;

	if (!id)
		return NULL;
	for (unsigned int i = 0; i < DF_CGPATHS; i++)
		if (c->v[i].id == id)
			return c->v[i].path;
	slot = c->next;
	c->next = (slot + 1) % DF_CGPATHS;
	free(c->v[slot].path);
	c->v[slot].id = id;
	c->v[slot].path = c->rootfd >= 0 &&
				  !df_cgpath_of(c->rootfd, c->root, id, path, sizeof(path)) ?
				  strdup(path) : NULL;
	return c->v[slot].path;
}

void df_cgpaths_fini(struct df_cgpaths *c)
{
	for (unsigned int i = 0; i < DF_CGPATHS; i++)
		free(c->v[i].path);
	if (c->rootfd >= 0)
		close(c->rootfd);
	c->rootfd = -1;
}

int df_cgroup_self(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int err = -ENOENT;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", strcmp(line + 3, "/") ? line + 3 : "");
			err = 0;
		}
	if (f)
		fclose(f);
	return err;
}
