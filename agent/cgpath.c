// SPDX-License-Identifier: GPL-2.0-only
/* cgroup ids to paths (cgpath.h). */
#include "cgpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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
