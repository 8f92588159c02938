// SPDX-License-Identifier: GPL-2.0-only
/* Drop records (records.h). */
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "events.h"
#include "log.h"

#define N_RECENT 1024
#define CG_CACHE 128

struct df_records {
	char *path;
	FILE *log;
	bool to_syslog;
	char cgroot[512];
	char *recent[N_RECENT]; /* JSON lines, a ring */
	size_t head, n;
	struct {
		__u64 id;
		char path[256];
	} cg[CG_CACHE];
	unsigned int cg_next;
};

int df_records_reopen(struct df_records *r)
{
	int fd;

	if (r->log && r->log != stdout)
		fclose(r->log);
	r->log = NULL;
	if (!r->path[0])
		return 0;
	if (!strcmp(r->path, "-")) {
		r->log = stdout;
		return 0;
	}
	{
		char *dup = strdup(r->path);

		if (dup) {
			mkdir(dirname(dup), 0750);
			free(dup);
		}
	}
	fd = open(r->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || !(r->log = fdopen(fd, "a"))) {
		int err = -errno;

		pr_err("cannot open drop log %s: %s", r->path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	setvbuf(r->log, NULL, _IOLBF, 0);
	return 0;
}

int df_records_open(const char *drop_log, const char *cgroot, bool to_syslog,
		    struct df_records **out)
{
	struct df_records *r = calloc(1, sizeof(*r));

	if (!r || !(r->path = strdup(drop_log))) {
		free(r);
		return -ENOMEM;
	}
	r->to_syslog = to_syslog;
	snprintf(r->cgroot, sizeof(r->cgroot), "%s", cgroot);
	df_records_reopen(r); /* a log that cannot open now may later (SIGUSR1) */
	*out = r;
	return 0;
}

/* cgroup id -> path: a walk of the cgroup tree on a miss, remembered (the
 * limiters keep events rare, so walks are too). nftw has no context
 * argument: the walk's state is static. */
static __u64 walk_id;
static char walk_found[256];
static size_t walk_root_len;

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_D || st->st_ino != walk_id)
		return 0;
	snprintf(walk_found, sizeof(walk_found), "%s", path[walk_root_len] ? path + walk_root_len : "/");
	return 1;
}

static const char *cgroup_name(struct df_records *r, __u64 id)
{
	for (unsigned int i = 0; i < CG_CACHE; i++)
		if (r->cg[i].id == id)
			return r->cg[i].path;
	walk_id = id;
	walk_root_len = strlen(r->cgroot);
	walk_found[0] = '\0';
	if (nftw(r->cgroot, walk_cb, 16, FTW_PHYS | FTW_MOUNT) != 1)
		return NULL;
	r->cg[r->cg_next].id = id;
	snprintf(r->cg[r->cg_next].path, sizeof(r->cg[0].path), "%s", walk_found);
	r->cg_next = (r->cg_next + 1) % CG_CACHE;
	return walk_found;
}

void df_records_add(struct df_records *r, const struct df_event *e, const struct df_policy *p)
{
	struct df_event_names n = { 0 };
	struct passwd pw, *res = NULL;
	char ubuf[1024], line[512];
	char *json;

	n.cgroup = e->cgroup_id ? cgroup_name(r, e->cgroup_id) : NULL;
	if (e->uid != DF_UID_NONE && !getpwuid_r(e->uid, &pw, ubuf, sizeof(ubuf), &res) && res)
		n.user = res->pw_name;
	json = df_event_json(e, p, &n);
	if (json) {
		if (r->log)
			fprintf(r->log, "%s\n", json);
		free(r->recent[r->head]);
		r->recent[r->head] = json; /* kept for `datafencectl drops` */
		r->head = (r->head + 1) % N_RECENT;
		if (r->n < N_RECENT)
			r->n++;
	}
	if (r->to_syslog) {
		df_event_summary(e, p, line, sizeof(line));
		syslog(LOG_WARNING, "%s", line);
	}
}

json_t *df_records_query(struct df_records *r, json_int_t since_seq, long limit, const char *cls)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < r->n; k++) {
		size_t i = (r->head + N_RECENT - r->n + k) % N_RECENT;
		json_t *rec = json_loads(r->recent[i], 0, NULL);

		if (rec && json_integer_value(json_object_get(rec, "seq")) >= since_seq)
			df_drops_keep(arr, rec, cls, limit);
		json_decref(rec);
	}
	return arr;
}

void df_records_close(struct df_records *r)
{
	if (!r)
		return;
	if (r->log && r->log != stdout)
		fclose(r->log);
	for (size_t i = 0; i < N_RECENT; i++)
		free(r->recent[i]);
	free(r->path);
	free(r);
}
