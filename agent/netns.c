// SPDX-License-Identifier: GPL-2.0-only
/* Every network namespace of the host (netns.h). */
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct walk {
	void (*fn)(void *arg, const char *where);
	void *arg;
	struct { dev_t dev; ino_t ino; } *seen;
	size_t n, cap;
	int walked;
};

static bool first_visit(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return false;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		void *v = realloc(w->seen, cap * sizeof(*w->seen));

		if (!v)
			return false;
		w->seen = v;
		w->cap = cap;
	}
	w->seen[w->n].dev = st->st_dev;
	w->seen[w->n++].ino = st->st_ino;
	return true;
}

static void visit(struct walk *w, const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) || !first_visit(w, &st))
		return; /* the process is gone, or a namespace seen already */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (setns(fd, CLONE_NEWNET)) {
		pr_warn("cannot enter the network namespace %s: %s", path, strerror(errno));
	} else {
		w->fn(w->arg, path);
		w->walked++;
	}
	close(fd);
}

static void visit_dir(struct walk *w, const char *dir, bool procs)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[300];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (procs ? (de->d_name[0] < '1' || de->d_name[0] > '9') : de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), procs ? "%s/%s/ns/net" : "%s/%s", dir, de->d_name);
		visit(w, path);
	}
	closedir(d);
}

int df_each_netns(void (*fn)(void *arg, const char *where), void *arg)
{
	struct walk w = { .fn = fn, .arg = arg };
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err = 0;

	if (self < 0)
		return -errno;
	visit(&w, "/proc/self/ns/net");
	visit_dir(&w, "/proc", true);
	visit_dir(&w, "/run/netns", false);
	if (setns(self, CLONE_NEWNET)) {
		err = -errno;
		pr_err("cannot return to our network namespace: %s", strerror(errno));
	}
	close(self);
	free(w.seen);
	return err ? err : w.walked;
}
