// SPDX-License-Identifier: GPL-2.0-only
/* Drop records (records.h). */
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cgpath.h"
#include "events.h"
#include "log.h"
#include "safefile.h"
#include "storm.h"

#define N_RECENT 1024
/* Drop lines a second to syslog at most; beyond, and during a storm, the
 * summaries' lines only (the drop log has every record). */
#define SYSLOG_DROPS_PER_SECOND 100
#define USER_CACHE 64

struct df_records {
	char *path;
	FILE *log;
	char why[DF_WHY_LEN]; /* why the log could not open, or "" */
	bool to_syslog;
	char *recent[N_RECENT]; /* JSON lines, a ring */
	size_t head, n;
	struct df_cgpaths cgs; /* cgroup ids to paths */
	uint64_t max_bytes;    /* the drop log and its rotated files together; 0: no cap */
	unsigned int keep;     /* rotated files kept (path.1 .. path.keep) */
	uint64_t written;      /* bytes in the current file */
	struct df_storm *storm; /* this interval's drops not recorded one by one */
	bool storming;          /* the last interval had some: syslog gets summaries only */
	unsigned int syslogged; /* drop lines to syslog this interval */
	uint64_t min_free;      /* the free-space floor of the log's filesystem (bytes) */
	uint64_t free;          /* free there at the last tick (bytes) */
	bool below_floor;       /* only summaries are written */
	uint64_t summaries, folded; /* since the agent started */
};

/* path.1 .. path.keep shift by one (the oldest goes), path becomes path.1,
 * a new path is opened. The directory is root's (safefile.h checked it). */
static void rotate(struct df_records *r)
{
	char from[4200], to[4200];

	for (unsigned int k = r->keep; k >= 1; k--) {
		if (k == 1)
			snprintf(from, sizeof(from), "%s", r->path);
		else
			snprintf(from, sizeof(from), "%s.%u", r->path, k - 1);
		snprintf(to, sizeof(to), "%s.%u", r->path, k);
		if (rename(from, to) && errno != ENOENT)
			pr_err("drop log rotation: %s: %s", from, strerror(errno));
	}
	if (!r->keep && unlink(r->path) && errno != ENOENT)
		pr_err("drop log rotation: %s: %s", r->path, strerror(errno));
	df_records_reopen(r);
}

/* One line to the drop log; rotated when the current file reaches its
 * share of the cap. */
static void log_line(struct df_records *r, const char *line)
{
	if (!r->log)
		return;
	fprintf(r->log, "%s\n", line);
	r->written += strlen(line) + 1;
	if (r->max_bytes && r->log != stdout && r->written >= r->max_bytes / (r->keep + 1))
		rotate(r);
}

void df_records_limit(struct df_records *r, unsigned int max_mb, unsigned int keep)
{
	r->max_bytes = (uint64_t)max_mb << 20;
	r->keep = keep;
}

int df_records_reopen(struct df_records *r)
{
	int fd;

	if (r->log && r->log != stdout)
		fclose(r->log);
	r->log = NULL;
	r->why[0] = '\0';
	if (!r->path[0])
		return 0;
	if (!strcmp(r->path, "-")) {
		r->log = stdout;
		return 0;
	}
	/* root's file in root's directory, never through a link (safefile.h) */
	fd = df_file_append(r->path, r->why, sizeof(r->why));
	if (fd < 0 || !(r->log = fdopen(fd, "a"))) {
		int err = fd < 0 ? fd : -errno;

		if (fd >= 0) {
			snprintf(r->why, sizeof(r->why), "%s: %s", r->path, strerror(-err));
			close(fd);
		}
		pr_err("cannot open the drop log: %s", r->why);
		return err;
	}
	/* buffered: the loop flushes after each round (df_records_flush), so
	 * a storm's records go out in a few writes, not a write each */
	setvbuf(r->log, NULL, _IOFBF, 1 << 16);
	{
		struct stat st;

		r->written = fstat(fd, &st) ? 0 : (uint64_t)st.st_size;
	}
	return 0;
}

const char *df_records_error(const struct df_records *r)
{
	return r && r->why[0] ? r->why : NULL;
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
}

int df_records_open(const char *drop_log, const char *cgroot, bool to_syslog,
		    struct df_records **out)
{
	struct df_records *r = calloc(1, sizeof(*r));

	if (!r || !(r->path = strdup(drop_log)) || !(r->storm = malloc(sizeof(*r->storm)))) {
		if (r)
			free(r->path);
		free(r);
		return -ENOMEM;
	}
	df_storm_reset(r->storm, now_ns());
	r->to_syslog = to_syslog;
	df_cgpaths_init(&r->cgs, cgroot);
	df_records_reopen(r); /* a log that cannot open now may later (SIGUSR1) */
	*out = r;
	return 0;
}

/* uid -> user name through NSS (LDAP, SSSD: maybe slow, maybe hung) on a
 * thread of its own, never on the event loop: a uid not known yet gets no
 * "user" in its record now, its name (or that it has none) is remembered
 * for the next ones. One cache per process, never freed: the thread may
 * sit in NSS forever. */
enum { USER_EMPTY, USER_PENDING, USER_KNOWN };

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started;
	struct {
		uid_t uid;
		int state;
		char name[64]; /* "" for a uid without a user */
	} e[USER_CACHE];
	unsigned int next;
	uid_t queue[USER_CACHE];
	unsigned int qn;
} users = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *user_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&users.mu);
	for (;;) {
		struct passwd pw, *res = NULL;
		char buf[1024], name[64] = "";
		uid_t uid;

		while (!users.qn)
			pthread_cond_wait(&users.cv, &users.mu);
		uid = users.queue[--users.qn];
		pthread_mutex_unlock(&users.mu);
		if (!getpwuid_r(uid, &pw, buf, sizeof(buf), &res) && res)
			snprintf(name, sizeof(name), "%s", res->pw_name);
		pthread_mutex_lock(&users.mu);
		for (unsigned int i = 0; i < USER_CACHE; i++)
			if (users.e[i].state == USER_PENDING && users.e[i].uid == uid) {
				memcpy(users.e[i].name, name, sizeof(name));
				users.e[i].state = USER_KNOWN;
			}
	}
	return NULL;
}

/* The user name of uid into out (len bytes), if known; false if not (yet). */
static bool user_name(uid_t uid, char *out, size_t len)
{
	bool known = false;
	unsigned int i;

	pthread_mutex_lock(&users.mu);
	for (i = 0; i < USER_CACHE; i++)
		if (users.e[i].state != USER_EMPTY && users.e[i].uid == uid)
			break;
	if (i < USER_CACHE) {
		known = users.e[i].state == USER_KNOWN && users.e[i].name[0];
		if (known)
			snprintf(out, len, "%s", users.e[i].name);
	} else if (users.qn < USER_CACHE) { /* ask the thread */
		pthread_t t;

		if (!users.started)
			users.started = !pthread_create(&t, NULL, user_worker, NULL) &&
					!pthread_detach(t);
		i = users.next;
		users.next = (users.next + 1) % USER_CACHE;
		users.e[i].uid = uid;
		users.e[i].state = USER_PENDING;
		users.e[i].name[0] = '\0';
		users.queue[users.qn++] = uid;
		pthread_cond_signal(&users.cv);
	}
	pthread_mutex_unlock(&users.mu);
	return known;
}

/* A record's syslog line: under systemd, to the journal with the record's
 * keys as fields (DATAFENCE_<KEY>=value: strings as they are, the rest as
 * compact JSON). rec: the record (NULL: none to give). */
static void record_line(int prio, const char *line, const json_t *rec)
{
	char *fields[48], *val, *f, key[64];
	const char *k;
	size_t n = 0;
	json_t *v;

	if (df_log_journal() && rec)
		json_object_foreach((json_t *)rec, k, v) {
			if (n >= sizeof(fields) / sizeof(fields[0]) || strlen(k) >= sizeof(key))
				break;
			for (size_t i = 0; i <= strlen(k); i++)
				key[i] = (char)(k[i] >= 'a' && k[i] <= 'z' ? k[i] - 'a' + 'A' : k[i]);
			val = json_is_string(v) ? strdup(json_string_value(v)) :
						  json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			if (val && asprintf(&f, "DATAFENCE_%s=%s", key, val) >= 0)
				fields[n++] = f;
			free(val);
		}
	df_log_record(prio, line, fields, n);
	for (size_t i = 0; i < n; i++)
		free(fields[i]);
}

void df_records_add(struct df_records *r, const struct df_event *e, const struct df_policy *p)
{
	struct df_event_names n = { 0 };
	char line[512], user[64];
	json_t *rec;
	char *json;

	n.cgroup = df_cgpaths_get(&r->cgs, e->cgroup_id);
	if (e->uid != DF_UID_NONE && user_name(e->uid, user, sizeof(user)))
		n.user = user;
	rec = df_event_json(e, p, &n);
	json = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (r->below_floor) { /* the disk is nearly full: in the summary only */
		df_storm_fold(r->storm, e);
		r->folded += 1 + (uint64_t)e->suppressed;
	}
	if (json) {
		if (!r->below_floor)
			log_line(r, json);
		free(r->recent[r->head]);
		r->recent[r->head] = json; /* kept for `datafencectl drops` */
		r->head = (r->head + 1) % N_RECENT;
		if (r->n < N_RECENT)
			r->n++;
	}
	if (r->to_syslog && !r->storming && !r->below_floor &&
	    r->syslogged++ < SYSLOG_DROPS_PER_SECOND) { /* else: the summary's line */
		df_event_summary(e, p, line, sizeof(line));
		record_line(LOG_WARNING, line, rec);
	}
	json_decref(rec);
}

void df_records_audit(struct df_records *r, const char *action, long uid, long pid,
		      const char *result, const char *detail)
{
	char ts[64], *line;
	json_t *j;

	df_ts_format(now_ns(), ts, sizeof(ts));
	j = json_pack("{s:i, s:s, s:s, s:o, s:o, s:s, s:s?}", "schema", DF_RECORD_SCHEMA, "ts", ts,
		      "audit", action, "uid",
		      uid >= 0 ? json_integer(uid) : json_null(), "pid",
		      pid >= 0 ? json_integer(pid) : json_null(), "result", result, "detail", detail);
	line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (line)
		log_line(r, line);
	free(line);
	json_decref(j);
	pr_notice("audit: %s by uid %ld (pid %ld): %s%s%s", action, uid, pid, result,
		  detail ? ": " : "", detail ? detail : "");
}

void df_records_flush(struct df_records *r)
{
	if (r && r->log)
		fflush(r->log);
}

struct df_storm *df_records_storm(struct df_records *r)
{
	return r->storm;
}

void df_records_floor(struct df_records *r, unsigned int min_free_mb)
{
	r->min_free = (uint64_t)min_free_mb << 20;
}

static const char *cgroup_name(void *ctx, uint64_t id)
{
	return df_cgpaths_get(&((struct df_records *)ctx)->cgs, id);
}

static bool user_of(void *ctx, uint32_t uid, char *buf, size_t len)
{
	(void)ctx;
	return user_name(uid, buf, len);
}

/* The free space of the log's filesystem against the floor. */
static void check_floor(struct df_records *r)
{
	char dir[4200], *slash;
	struct statvfs vfs;
	bool below;

	if (!r->min_free || !r->path[0] || !strcmp(r->path, "-")) {
		r->below_floor = false;
		return;
	}
	snprintf(dir, sizeof(dir), "%s", r->path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (statvfs(dir, &vfs))
		return; /* as it was */
	r->free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	below = r->free < r->min_free;
	if (below != r->below_floor)
		pr_warn("drop log %s: %llu MiB free on its filesystem, %s the floor of %llu MiB: %s",
			r->path, (unsigned long long)(r->free >> 20), below ? "below" : "above",
			(unsigned long long)(r->min_free >> 20),
			below ? "only summaries are written" : "drop records are written again");
	r->below_floor = below;
}

void df_records_tick(struct df_records *r, const struct df_policy *p)
{
	struct df_storm_names n = { cgroup_name, user_of, r };
	uint64_t now = now_ns(), total = df_storm_total(r->storm);
	char line[1024], *text;
	json_t *j;

	check_floor(r);
	r->storming = total > 0 || r->syslogged > SYSLOG_DROPS_PER_SECOND;
	r->syslogged = 0;
	if (!total) {
		df_storm_reset(r->storm, now);
		return;
	}
	j = df_storm_json(r->storm, p, now, &n);
	text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text) {
		log_line(r, text); /* below the floor too: a summary a second is small */
		r->summaries++;
	}
	if (j && r->to_syslog) {
		df_storm_line(j, line, sizeof(line));
		record_line(LOG_WARNING, line, j);
	}
	free(text);
	json_decref(j);
	df_storm_reset(r->storm, now);
}

json_t *df_records_state(const struct df_records *r)
{
	return json_pack("{s:b, s:o, s:o, s:I, s:I}", "summaries_only", r->below_floor,
			 "free_mb", r->min_free ? json_integer((json_int_t)(r->free >> 20)) : json_null(),
			 "min_free_mb", r->min_free ? json_integer((json_int_t)(r->min_free >> 20)) :
						       json_null(),
			 "summaries", (json_int_t)r->summaries, "folded", (json_int_t)r->folded);
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
	df_cgpaths_fini(&r->cgs);
	free(r->storm);
	free(r->path);
	free(r);
}
