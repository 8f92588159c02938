// SPDX-License-Identifier: GPL-2.0-only
/* datafenced: loads pushed policies into the backends and keeps enforcing;
 * reports every drop. One epoll loop: the policy file and the cgroups its
 * selectors name (inotify), the backends' own file descriptors (drop
 * events, interfaces), the control socket, signals, a 1 s timer: the
 * health check every DF_CHECK_TICKS (health.h: what the kernel says of our
 * enforcement, repaired where it can be), the heartbeat and systemd's
 * watchdog every tick while enforcement is proven, clocks and the metrics
 * file every DF_SLOW_TICKS. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agentconf.h"
#include "backend.h"
#include "canary.h"
#include "control.h"
#include "loader.h"
#include "log.h"
#include "privs.h"
#include "proto.h"
#include "records.h"
#include "report.h"
#include "safefile.h"
#include "status.h"
#include "values.h"

#define MAX_CG_WATCHES 256
#define DF_POLICY_MAX (256u << 20) /* bytes: 1M prefixes take about 25 MB */
#define MAX_FDS 16
#define DF_CHECK_TICKS 2  /* seconds between health checks */
#define DF_SLOW_TICKS 10  /* seconds between clock, helper and metrics work */
#define DF_CANARY_TICKS 10 /* seconds between canary probes */

struct agent {
	const char *conf_file;
	struct df_agent_conf conf;
	struct df_backend_conf bconf;
	struct df_backends bs;
	struct df_records *rec;
	struct df_ctl *ctl;
	/* the policy in force */
	struct df_policy *pol;
	struct df_image *img;
	char sha256[65];
	struct df_loaded cur;
	char cgroot[512];
	int ino_fd, pol_wd;
	int cg_wd[MAX_CG_WATCHES];
	size_t n_cg_wd;
	int sig_fd, timer_fd;
	int edge_fd; /* fires at the next end of an exception window (revocation) */
	bool stop, unloaded;
	/* for status */
	time_t started, loaded_at, push_at;
	bool pushed, push_ok;
	char push_why[64];
	json_t *push_errors; /* ["file:line: error: ..."] of the last refused push */
	json_t *pushes;      /* {"accepted": N, "refused": {CAUSE: N}} (status, metrics) */
	char policy_summary[160]; /* the last push: "'NAME' serial N" or its first error */
	char metrics_why[DF_WHY_LEN]; /* why the metrics file was refused, or "" */
	/* health (backend.h check) */
	unsigned long ticks;
	bool proven;   /* the last check proved enforcement: the heartbeat goes on */
	bool notified; /* systemd was told READY=1 */
	/* the canary (canary.h) */
	struct df_canary *canary; /* NULL: off (canary_off says why) */
	char canary_off[300];     /* why there is no canary for the policy in force */
	char canary_result[300];  /* the last probe: "" refused as it must be, else what */
	bool canary_blocks;       /* that result means enforcement is broken */
	time_t canary_at;
};

static const struct df_loaded *in_force(const struct agent *a)
{
	return a->pol ? &a->cur : NULL;
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* Every drop event of every backend. */
static void on_event(const struct df_event *e, void *ctx)
{
	struct agent *a = ctx;

	if (a->pol && e->serial == a->pol->serial && (e->classes & a->pol->canary))
		return; /* the canary's own drop: not the operator's */
	df_records_add(a->rec, e, a->pol);
}

static void log_diags(const struct df_diags *d, int prio)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];
		const char *sev = x->sev == DF_SEV_ERROR ? "error" : "warning";

		if (x->line > 0)
			df_log(prio, "%s:%d: %s: %s", x->file ? x->file : "-", x->line, sev,
			       x->msg ? x->msg : "");
		else
			df_log(prio, "%s: %s: %s", x->file ? x->file : "policy", sev, x->msg ? x->msg : "");
	}
}

/* ---- cgroups that come and go ------------------------------------------------------ */

/* Watches the parent directory of every cgroup selector (or its deepest
 * existing ancestor), so a service cgroup made after the policy loaded is
 * classified without anyone asking. */
static void watch_cgroups(struct agent *a)
{
	for (size_t i = 0; i < a->n_cg_wd; i++)
		inotify_rm_watch(a->ino_fd, a->cg_wd[i]);
	a->n_cg_wd = 0;
	for (size_t i = 0; a->img && i < a->img->n_cgroups && a->n_cg_wd < MAX_CG_WATCHES; i++) {
		char dir[1024];
		int wd = -1;

		snprintf(dir, sizeof(dir), "%s%s", a->cgroot, a->img->cgroups[i].path);
		while (wd < 0 && strlen(dir) > strlen(a->cgroot)) {
			char *slash = strrchr(dir, '/');

			if (!slash)
				break;
			*slash = '\0';
			wd = inotify_add_watch(a->ino_fd, dir[0] ? dir : "/",
					       IN_CREATE | IN_DELETE | IN_ONLYDIR);
		}
		if (wd < 0)
			wd = inotify_add_watch(a->ino_fd, a->cgroot, IN_CREATE | IN_DELETE | IN_ONLYDIR);
		if (wd >= 0)
			a->cg_wd[a->n_cg_wd++] = wd;
	}
}

/* The same policy again, its cgroup selectors resolved anew. */
static void reresolve_cgroups(struct agent *a)
{
	struct df_diags d = { 0 };

	if (!df_backends_apply(&a->bs, &a->cur, &a->cur, &d))
		pr_info("cgroups changed: selectors resolved again");
	log_diags(&d, LOG_INFO);
	df_diags_free(&d);
	watch_cgroups(a);
}

/* ---- policy -------------------------------------------------------------------------- */

/* Why a push was refused, in one word (metrics label, status "pushes"). */
static const char *refusal_cause(int err, bool read_ok, bool parsed, bool compiled)
{
	if (!read_ok)
		return "unreadable";
	if (!parsed)
		return "invalid";
	if (!compiled)
		return err == -E2BIG ? "capacity" : "invalid";
	return err == -ESTALE ? "serial" : "kernel";
}

static void count_push(struct agent *a, const char *cause)
{
	json_t *refused = json_object_get(a->pushes, "refused");

	if (!cause) {
		json_object_set_new(a->pushes, "accepted",
				    json_integer(json_integer_value(json_object_get(a->pushes,
										      "accepted")) + 1));
		return;
	}
	json_object_set_new(refused, cause,
			    json_integer(json_integer_value(json_object_get(refused, cause)) + 1));
}

static void record_push(struct agent *a, const char *why, int err, const struct df_diags *d)
{
	a->pushed = true;
	a->push_ok = !err;
	a->push_at = time(NULL);
	snprintf(a->push_why, sizeof(a->push_why), "%s", why);
	json_decref(a->push_errors);
	a->push_errors = json_array();
	for (size_t i = 0; err && i < d->n; i++)
		if (d->v[i].sev == DF_SEV_ERROR)
			json_array_append_new(a->push_errors,
					      json_sprintf("%s:%d: error: %s",
							   d->v[i].file ? d->v[i].file : "-",
							   d->v[i].line, d->v[i].msg ? d->v[i].msg : ""));
}

/* The new policy becomes the one in force (the old one is freed). */
static void take(struct agent *a, struct df_policy *p, struct df_image *img, const char *sha)
{
	df_policy_free(a->pol);
	df_image_free(a->img);
	a->pol = p;
	a->img = img;
	snprintf(a->sha256, sizeof(a->sha256), "%s", sha);
	a->cur = (struct df_loaded){ .p = p, .img = img, .sha256 = a->sha256 };
	a->loaded_at = time(NULL);
	watch_cgroups(a);
}

/* Loads the policy file. A push must parse, validate, compile and carry a
 * higher serial than the loaded policy; anything else is refused and the
 * loaded policy stays in force. `same_ok` accepts an equal serial (start-up
 * adoption of our own pinned policy). */
/* The edge timer, at the next end of an exception window of the policy in
 * force (a little after it: the kernel judges by whole seconds), or off. */
static void arm_exception_edge(struct agent *a)
{
	struct itimerspec it = { 0 };
	int64_t now = (int64_t)time(NULL), next = INT64_MAX;

	for (size_t i = 0; a->pol && i < a->pol->n_excs; i++)
		if (a->pol->excs[i].expires > now && a->pol->excs[i].expires < next)
			next = a->pol->excs[i].expires;
	if (next != INT64_MAX) {
		it.it_value.tv_sec = (time_t)next;
		it.it_value.tv_nsec = 200 * 1000 * 1000;
	}
	if (a->edge_fd >= 0)
		timerfd_settime(a->edge_fd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* The policy file: root's, not writable by others, in root's directories,
 * no link, FIFO or device, at most DF_POLICY_MAX bytes (safefile.h). */
static int read_policy(struct agent *a, const struct df_parse_opts *o, struct df_policy **p,
		       struct df_diags *d, char **text)
{
	char why[DF_WHY_LEN];
	size_t n;
	int err;

	err = df_file_read(a->conf.policy_file, DF_POLICY_MAX, text, &n, why, sizeof(why));
	if (err) {
		df_diag_add(d, DF_SEV_ERROR, a->conf.policy_file, 0, NULL, "cannot read: %s", why);
		return err;
	}
	return df_policy_parse(*text, n, a->conf.policy_file, o, p, d);
}

/* The canary's class into a policy about to load (canary.h); a policy it
 * cannot join runs without a canary, logged and in status. */
static void add_canary(struct agent *a, struct df_policy *p)
{
	char why[sizeof(a->canary_off)] = "";

	if (!a->canary)
		return;
	if (df_canary_add_class(a->canary, p, why, sizeof(why)) && strcmp(why, a->canary_off))
		pr_warn("no canary for policy '%s': %s", p->name, why);
	snprintf(a->canary_off, sizeof(a->canary_off), "%s", why);
}

static int apply_policy(struct agent *a, const char *why, bool same_ok)
{
	struct df_parse_opts o = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	uint64_t active = 0;
	char *text = NULL, sha[65] = "";
	int err, has_active;

	bool read_ok, parsed, compiled = false;

	err = read_policy(a, &o, &p, &d, &text);
	read_ok = text != NULL;
	parsed = !err;
	if (text)
		sha256_hex(text, strlen(text), sha);
	if (!err) { /* the posture (verdict step 3a) is agent.conf's */
		p->drop_stale = !strcmp(a->conf.stale_posture, "drop-protected");
		p->stale_after = a->conf.stale_after;
		add_canary(a, p);
	}
	if (!err && a->pol && !strcmp(sha, a->sha256))
		goto cleanup; /* the same bytes again (editors, touch): nothing to do */
	if (!err)
		err = df_compile(p, &img, &d);
	compiled = parsed && !err;
	has_active = !df_backends_active(&a->bs, &active);
	if (!err && has_active && (p->serial < active || (p->serial == active && !same_ok))) {
		df_diag_add(&d, DF_SEV_ERROR, a->conf.policy_file, 0, NULL,
			    "serial %llu is not higher than the loaded policy's %llu",
			    (unsigned long long)p->serial, (unsigned long long)active);
		err = -ESTALE;
	}
	if (!err) {
		struct df_loaded next = { .p = p, .img = img, .sha256 = sha };

		err = df_backends_apply(&a->bs, &next, in_force(a), &d);
	}
	record_push(a, why, err, &d);
	if (err)
		snprintf(a->policy_summary, sizeof(a->policy_summary), "%s",
			 json_array_size(a->push_errors) ?
				 json_string_value(json_array_get(a->push_errors, 0)) : "refused");
	else
		snprintf(a->policy_summary, sizeof(a->policy_summary), "'%s' serial %llu", p->name,
			 (unsigned long long)p->serial);
	count_push(a, err ? refusal_cause(err, read_ok, parsed, compiled) : NULL);
	if (err) {
		pr_err("policy push refused (%s): %s; %s", why, a->conf.policy_file,
		       has_active ? "the loaded policy stays in force" : "no policy is enforced");
		log_diags(&d, LOG_ERR);
		goto cleanup;
	}
	log_diags(&d, LOG_WARNING);
	pr_notice("policy loaded (%s): '%s' serial %llu sha256 %s, %zu classes, %zu destinations, %zu exceptions",
		  why, p->name, (unsigned long long)p->serial, sha, p->n_classes - (p->canary ? 1 : 0),
		  p->n_dests, p->n_excs);
	take(a, p, img, sha);
	p = NULL;
	img = NULL;
	df_backends_revoke(&a->bs, in_force(a), why);
	arm_exception_edge(a);
cleanup:
	df_policy_free(p);
	df_image_free(img);
	df_diags_free(&d);
	free(text);
	return err;
}

/* ---- control socket ------------------------------------------------------------ */

static json_t *canary_json(struct agent *a)
{
	bool on = a->canary && a->pol && a->pol->canary;

	return json_pack("{s:b, s:s?, s:s?, s:o, s:s?}", "enabled", on, "cgroup",
			 a->canary ? df_canary_cgroup(a->canary) : NULL, "why",
			 on ? NULL : a->canary_off[0] ? a->canary_off : "no policy loaded",
			 "last_run", df_time_json(on ? a->canary_at : 0), "result",
			 !on || !a->canary_at ? NULL : a->canary_result[0] ? a->canary_result : "refused");
}

static json_t *status_json(struct agent *a)
{
	struct df_agent_state st = {
		.backend = a->conf.backend, .policy_file = a->conf.policy_file, .cur = in_force(a),
		.cgroot = a->cgroot,
		.started = a->started, .loaded_at = a->loaded_at, .pushed = a->pushed,
		.push_ok = a->push_ok, .push_why = a->push_why, .push_at = a->push_at,
		.push_errors = a->push_errors, .drop_log = a->conf.drop_log,
		.drop_log_error = df_records_error(a->rec), .metrics_file = a->conf.metrics_file,
		.metrics_error = a->metrics_why[0] ? a->metrics_why : NULL, .pushes = a->pushes,
		.canary = canary_json(a),
	};
	json_t *j = df_status_json(&st, NULL, &a->bs);

	json_object_set_new(j, "ok", json_true());
	return j;
}

static json_t *counters_json(struct agent *a, bool metrics)
{
	struct df_counts c;
	json_t *r;

	df_counts_init(&c);
	df_backends_counters(&a->bs, a->pol, &c);
	if (metrics) {
		json_t *st = status_json(a);
		char *text = df_report_metrics(&c, a->pol, st);

		json_decref(st);

		r = json_pack("{s:b, s:s}", "ok", 1, "text", text ? text : "");
		free(text);
	} else {
		r = json_pack("{s:b, s:O, s:O}", "ok", 1, "counters", c.counters, "rules", c.rules);
	}
	df_counts_free(&c);
	return r;
}

static json_t *drops_json(struct agent *a, json_t *req)
{
	json_int_t since = json_integer_value(json_object_get(req, "since_seq"));
	json_int_t limit = json_is_integer(json_object_get(req, "limit")) ?
				   json_integer_value(json_object_get(req, "limit")) : 100;
	const char *cls = json_string_value(json_object_get(req, "class"));

	return json_pack("{s:b, s:o}", "ok", 1, "drops",
			 df_records_query(a->rec, since, (long)limit, cls));
}

/* What changes the agent: admins only (root, admin_group). */
static bool changes_state(const char *cmd)
{
	return !strcmp(cmd, DF_CMD_RELOAD) || !strcmp(cmd, DF_CMD_UNLOAD);
}

/* Every backend of agent.conf unloaded (the same unload as datafenced
 * --unload); the agent then stops: it would otherwise attach again. */
static json_t *unload_json(struct agent *a, const struct df_ctl_peer *peer)
{
	struct df_backend_conf c = { .pin_dir = a->conf.pin_dir, .nft_table = a->conf.nft_table };
	const struct df_backend_ops *kinds[DF_MAX_BACKENDS];
	struct df_unload_result res[DF_MAX_BACKENDS];
	json_t *arr = json_array();
	char detail[600] = "";
	size_t n = 0;
	int err = df_backend_kinds(a->conf.backend, kinds, &n);

	if (!err)
		err = df_backends_unload(kinds, n, &c, res);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "backend", res[i].backend,
						     "outcome", df_unload_outcome(&res[i]),
						     "message", res[i].msg));
		snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), "%s%s: %s",
			 i ? "; " : "", df_unload_outcome(&res[i]), res[i].msg);
	}
	df_records_audit(a->rec, "unload", (long)peer->uid, (long)peer->pid,
			 err ? "failed" : "done", detail);
	a->stop = a->unloaded = !err;
	return json_pack("{s:b, s:o}", "ok", !err, "results", arr);
}

static json_t *on_request(json_t *req, const struct df_ctl_peer *peer, void *ctx)
{
	struct agent *a = ctx;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (changes_state(cmd) && !peer->admin) {
		df_records_audit(a->rec, cmd, (long)peer->uid, (long)peer->pid, "not permitted",
				 "not root or admin_group");
		return json_pack("{s:b, s:s}", "ok", 0, "error",
				 "not permitted: only root or admin_group may change the agent");
	}
	if (!strcmp(cmd, DF_CMD_STATUS))
		return status_json(a);
	if (!strcmp(cmd, DF_CMD_VERSION))
		return json_pack("{s:b, s:s}", "ok", 1, "version", DF_VERSION);
	if (!strcmp(cmd, DF_CMD_COUNTERS) || !strcmp(cmd, DF_CMD_METRICS))
		return counters_json(a, !strcmp(cmd, DF_CMD_METRICS));
	if (!strcmp(cmd, DF_CMD_DROPS))
		return drops_json(a, req);
	if (!strcmp(cmd, DF_CMD_UNLOAD))
		return unload_json(a, peer);
	if (!strcmp(cmd, DF_CMD_RELOAD)) {
		int err = apply_policy(a, "datafencectl reload", false);

		df_records_audit(a->rec, "reload", (long)peer->uid, (long)peer->pid,
				 err ? "refused" : "accepted", a->policy_summary);

		return json_pack("{s:b, s:s, s:O}", "ok", !err, "result", err ? "refused" : "accepted",
				 "errors", a->push_errors ? a->push_errors : json_array());
	}
	return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command; try \"datafencectl help\"");
}

/* node_exporter's textfile collector: a fresh temporary renamed into place,
 * in a directory its user may write (safefile.h). A refusal is logged when
 * it starts or changes, and status says it while it lasts. */
static void write_metrics_file(struct agent *a)
{
	char why[DF_WHY_LEN] = "";
	const char *text;
	json_t *resp;

	if (!a->conf.metrics_file[0])
		return;
	resp = counters_json(a, true);
	text = json_string_value(json_object_get(resp, "text"));
	if (!text)
		text = "";
	if (df_file_replace(a->conf.metrics_file, text, strlen(text), 0644, true, why,
			    sizeof(why)) &&
	    strcmp(why, a->metrics_why))
		pr_warn("cannot write the metrics file: %s", why);
	snprintf(a->metrics_why, sizeof(a->metrics_why), "%s", why);
	json_decref(resp);
}

/* gid of a group name, or (gid_t)-1 for "" (none) or an unknown group
 * (logged: its members then get nothing more than others). */
static gid_t group_gid(const char *key, const char *name)
{
	struct group *g;

	if (!name[0])
		return (gid_t)-1;
	g = getgrnam(name);
	if (!g)
		pr_err("%s %s: no such group", key, name);
	return g ? g->gr_gid : (gid_t)-1;
}

static void open_control_socket(struct agent *a)
{
	gid_t cg = group_gid("control_group", a->conf.control_group);
	char why[DF_WHY_LEN];
	int err;

	if (!a->conf.control_socket[0])
		return;
	err = df_ctl_open(a->conf.control_socket, group_gid("admin_group", a->conf.admin_group),
			  on_request, a, &a->ctl, why, sizeof(why));
	if (err) {
		pr_err("cannot open the control socket: %s", why);
		return;
	}
	if (cg != (gid_t)-1 &&
	    (chown(a->conf.control_socket, 0, cg) || chmod(a->conf.control_socket, 0660)))
		pr_err("control_group %s: %s", a->conf.control_group, strerror(errno));
}

/* ---- main loop ----------------------------------------------------------------------- */

static void handle_inotify(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char *base = strrchr(a->conf.policy_file, '/');
	bool policy = false, cgroups = false;
	ssize_t n = read(a->ino_fd, buf, sizeof(buf));

	base = base ? base + 1 : a->conf.policy_file;
	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *ev = (struct inotify_event *)p;

		if (ev->wd == a->pol_wd) {
			if (ev->len && !strcmp(ev->name, base) &&
			    (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)))
				policy = true;
		} else if (ev->mask & (IN_CREATE | IN_DELETE)) {
			cgroups = true;
		}
		p += sizeof(*ev) + ev->len;
	}
	if (policy)
		apply_policy(a, "file changed", false);
	if (cgroups && a->pol)
		reresolve_cgroups(a);
}

static void handle_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		int err = apply_policy(a, "SIGHUP", false);

		df_records_audit(a->rec, "reload (SIGHUP)", (long)si.ssi_uid, (long)si.ssi_pid,
				 err ? "refused" : "accepted", a->policy_summary);
	}
	else if (si.ssi_signo == SIGUSR1)
		df_records_reopen(a->rec);
	else
		a->stop = true;
}

/* The canary's packets counted so far (apart from every other total). */
static uint64_t canary_count(struct agent *a)
{
	struct df_counts c;
	uint64_t n;

	df_counts_init(&c);
	df_backends_counters(&a->bs, a->pol, &c);
	n = c.t.canary;
	df_counts_free(&c);
	return n;
}

/* One probe: refused with EPERM and counted, or a cause (logged when it
 * changes). A probe that could not run says so without blocking the
 * heartbeat; one whose datagram was not refused, or not counted, blocks it. */
static void run_canary(struct agent *a)
{
	char why[256], res[sizeof(a->canary_result)] = "";
	uint64_t before;
	int rc;

	if (!a->canary || !a->pol || !a->pol->canary)
		return;
	before = canary_count(a);
	rc = df_canary_probe(a->canary, why, sizeof(why));
	a->canary_blocks = rc > 0;
	if (rc < 0)
		snprintf(res, sizeof(res), "canary unavailable: %s", why);
	else if (rc > 0)
		snprintf(res, sizeof(res), "canary not refused: %s", why);
	else if (canary_count(a) <= before)
		snprintf(res, sizeof(res), "canary not counted: refused, but no counter of its class moved");
	a->canary_blocks |= rc == 0 && res[0];
	if (strcmp(res, a->canary_result) || !a->canary_at) {
		if (res[0])
			pr_err("%s", res);
		else
			pr_notice("canary: refused and counted, as it must be");
	}
	snprintf(a->canary_result, sizeof(a->canary_result), "%s", res);
	a->canary_at = time(NULL);
}

/* The health check: repairs, then what is still wrong (backend.h). With
 * enforcement proven, systemd hears READY=1 once (a policy in force) and
 * every tick WATCHDOG=1, as the kernel hears the heartbeat. */
static void check_health(struct agent *a)
{
	bool was = a->proven;

	a->proven = df_backends_check(&a->bs, in_force(a)) && !a->canary_blocks;
	if (was && !a->proven)
		pr_err("enforcement not proven: the heartbeat stops until it is (status says why)");
	else if (!was && a->proven && a->ticks)
		pr_notice("enforcement proven again: the heartbeat resumes");
}

static void heartbeat(struct agent *a)
{
	if (!a->proven)
		return;
	df_backends_heartbeat(&a->bs);
	if (!a->notified && a->pol) {
		sd_notify(0, "READY=1\nSTATUS=enforcing");
		a->notified = true;
	}
	sd_notify(0, "WATCHDOG=1");
}

static void handle_timer(struct agent *a)
{
	uint64_t t;

	if (read(a->timer_fd, &t, sizeof(t)) < 0)
		return;
	a->ticks++;
	if (a->ticks % DF_CANARY_TICKS == 0)
		run_canary(a);
	if (a->ticks % DF_CHECK_TICKS == 0)
		check_health(a);
	heartbeat(a);
	if (a->ticks % DF_SLOW_TICKS)
		return;
	for (size_t i = 0; i < a->bs.n; i++)
		a->bs.v[i]->ops->tick(a->bs.v[i], in_force(a));
	write_metrics_file(a);
}

/* An exception window ended: its flows end too. */
static void handle_edge(struct agent *a)
{
	uint64_t t;

	if (read(a->edge_fd, &t, sizeof(t)) < 0)
		return;
	df_backends_revoke(&a->bs, in_force(a), "exception ended");
	arm_exception_edge(a);
}

/* Whose a ready descriptor is: data.u64 = tag << 32 | fd. The control
 * socket's own descriptors carry tag 0 (control.c). */
enum { TAG_CTL = 0, TAG_SIGNAL, TAG_TIMER, TAG_EDGE, TAG_INOTIFY, TAG_BACKEND };

static void watch_fd(int ep, int fd, uint32_t tag)
{
	epoll_ctl(ep, EPOLL_CTL_ADD, fd,
		  &(struct epoll_event){ .events = EPOLLIN,
					 .data.u64 = (uint64_t)tag << 32 | (uint32_t)fd });
}

static void watch_all(struct agent *a, int ep)
{
	int fds[MAX_FDS];

	watch_fd(ep, a->sig_fd, TAG_SIGNAL);
	watch_fd(ep, a->timer_fd, TAG_TIMER);
	watch_fd(ep, a->edge_fd, TAG_EDGE);
	watch_fd(ep, a->ino_fd, TAG_INOTIFY);
	for (size_t i = 0; i < a->bs.n; i++) {
		int n = a->bs.v[i]->ops->fds(a->bs.v[i], fds, MAX_FDS);

		for (int k = 0; k < n; k++)
			watch_fd(ep, fds[k], TAG_BACKEND + (uint32_t)i);
	}
	if (a->ctl)
		df_ctl_epoll_add(a->ctl, ep);
}

static int run(struct agent *a)
{
	struct epoll_event ev[8];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN); /* a peer gone away is an error return, never our end */
	a->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	timerfd_settime(a->timer_fd, 0,
			&(struct itimerspec){ .it_interval = { 1, 0 }, .it_value = { 1, 0 } }, NULL);
	watch_all(a, ep);
	while (!a->stop) {
		int n = epoll_wait(ep, ev, 8, 500);

		if (a->ctl)
			df_ctl_expire(a->ctl, ep); /* slow clients: gone after 2 s */
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(ev[i].data.u64 >> 32);
			int fd = (int)(uint32_t)ev[i].data.u64;

			if (tag == TAG_CTL && a->ctl)
				df_ctl_handle(a->ctl, ep, fd, ev[i].events);
			else if (tag == TAG_SIGNAL)
				handle_signal(a);
			else if (tag == TAG_TIMER)
				handle_timer(a);
			else if (tag == TAG_EDGE)
				handle_edge(a);
			else if (tag == TAG_INOTIFY)
				handle_inotify(a);
			else if (tag - TAG_BACKEND < a->bs.n)
				a->bs.v[tag - TAG_BACKEND]->ops->ready(a->bs.v[tag - TAG_BACKEND], fd,
								       in_force(a));
		}
	}
	close(ep);
	return 0;
}

/* May root write into dir by its mode alone (owner, group or others)? */
static bool root_may_write(const char *path)
{
	char dir[1024];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st))
		return true; /* nothing to keep a privilege for */
	return (st.st_uid == 0 && (st.st_mode & 0200)) || (st.st_gid == 0 && (st.st_mode & 020)) ||
	       (st.st_mode & 02);
}

/* Everything that needs more than the kept capabilities is done; an agent
 * that cannot drop them says so and goes on enforcing. */
static void drop_privileges(struct agent *a)
{
	bool shared = a->conf.metrics_file[0] && !root_may_write(a->conf.metrics_file);
	char kept[256];
	int err = df_privs_drop(shared, kept, sizeof(kept));

	if (err)
		pr_err("cannot drop privileges: %s", strerror(-err));
	else
		pr_notice("capabilities kept: %s; no new privileges", kept);
}

static void open_canary(struct agent *a)
{
	char why[256];

	if (!a->conf.canary) {
		snprintf(a->canary_off, sizeof(a->canary_off), "canary = false in agent.conf");
		return;
	}
	if (!a->conf.hook_cgroup_skb && !a->conf.hook_sock_addr) {
		snprintf(a->canary_off, sizeof(a->canary_off),
			 "it needs the cgroup_skb or sock_addr hook (its namespace has no tc filter)");
		return;
	}
	if (!strcmp(a->conf.backend, "nftables")) {
		snprintf(a->canary_off, sizeof(a->canary_off),
			 "the nftables backend: the canary's network namespace has no table");
		return;
	}
	if (df_canary_open(a->cgroot, &a->canary, why, sizeof(why))) {
		snprintf(a->canary_off, sizeof(a->canary_off), "%s", why);
		pr_err("no canary: %s", why);
		return;
	}
	pr_notice("canary: cgroup %s, a datagram to %s:%d from its own network namespace every %d s",
		  df_canary_cgroup(a->canary), DF_CANARY_DST, DF_CANARY_PORT, DF_CANARY_TICKS);
}

static int start(struct agent *a)
{
	const struct df_backend_ops *kinds[DF_MAX_BACKENDS];
	char dir[1024];
	size_t n;
	int err;

	err = df_cgroup2_root(a->cgroot, sizeof(a->cgroot));
	if (err) {
		pr_err("no cgroup2 mount found");
		return err;
	}
	a->bconf = (struct df_backend_conf){
		.pin_dir = a->conf.pin_dir, .hook_cgroup_skb = a->conf.hook_cgroup_skb,
		.hook_tc = a->conf.hook_tc, .hook_sock_addr = a->conf.hook_sock_addr,
		.interfaces = a->conf.interfaces, .n_interfaces = a->conf.n_interfaces,
		.nft_table = a->conf.nft_table, .nft_log_group = (uint16_t)a->conf.nft_log_group,
		.nft_log_rate = a->conf.nft_log_rate, .cgroot = a->cgroot, .on_event = on_event,
		.ctx = a, .revoke_sock_diag = !strcmp(a->conf.revocation, "sock_diag"),
	};
	err = df_records_open(a->conf.drop_log, a->cgroot, a->conf.syslog, &a->rec);
	if (!err)
		err = df_backend_kinds(a->conf.backend, kinds, &n);
	if (!err)
		err = df_backends_start(kinds, n, &a->bconf, &a->bs);
	if (err)
		return err;
	a->edge_fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	a->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	snprintf(dir, sizeof(dir), "%s", a->conf.policy_file);
	a->pol_wd = inotify_add_watch(a->ino_fd, dirname(dir),
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	if (a->pol_wd < 0)
		pr_warn("cannot watch %s for pushes: %s (SIGHUP still reloads)", dir, strerror(errno));
	open_control_socket(a);
	open_canary(a);
	a->started = time(NULL);
	apply_policy(a, "start", true);
	drop_privileges(a);
	run_canary(a);
	check_health(a);
	heartbeat(a);
	if (!a->notified)
		sd_notifyf(0, "STATUS=%s", a->pol ? "enforcement not proven (datafencectl status)" :
						   "no policy enforced (datafencectl status)");
	write_metrics_file(a);
	return 0;
}

/* datafenced --unload: every configured backend's enforcement removed. */
static int unload(struct agent *a)
{
	struct df_backend_conf c = { .pin_dir = a->conf.pin_dir, .nft_table = a->conf.nft_table };
	const struct df_backend_ops *kinds[DF_MAX_BACKENDS];
	struct df_unload_result res[DF_MAX_BACKENDS];
	size_t n = 0;
	int err = df_backend_kinds(a->conf.backend, kinds, &n);

	if (!err)
		err = df_backends_unload(kinds, n, &c, res);
	for (size_t i = 0; i < n; i++)
		df_log(res[i].err && res[i].err != -ENOENT ? LOG_ERR : LOG_NOTICE,
		       "audit: unload by uid %u (pid %d): %s: %s", (unsigned int)getuid(),
		       (int)getpid(), df_unload_outcome(&res[i]), res[i].msg);
	return err ? 1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: datafenced [--config FILE] [--foreground] [--unload] [--help] [--version]\n"
		"  -c, --config FILE  agent configuration (default %s)\n"
		"  -f, --foreground   stay in the foreground (logs on stderr; the default under systemd)\n"
		"      --unload       remove enforcement: detach every hook, remove the pins (and the\n"
		"                     nftables table), exit\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n"
		"Signals: SIGHUP reloads the policy, SIGUSR1 reopens the drop log, SIGTERM stops\n"
		"the agent and leaves enforcement in place.\n",
		DF_AGENT_CONF);
}

/* Options and agent.conf; returns -1 to go on, else the exit code. */
static int configure(struct agent *a, int argc, char **argv, bool *foreground, bool *do_unload)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "foreground", no_argument, NULL, 'f' },
					      { "unload", no_argument, NULL, 'u' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { 0 } };
	struct df_diags d = { 0 };
	int c, err;

	while ((c = getopt_long(argc, argv, "c:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->conf_file = optarg; break;
		case 'f': *foreground = true; break;
		case 'u': *do_unload = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("datafenced %s\n", DF_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	/* every key is optional: no file at the default path = defaults */
	if (!strcmp(a->conf_file, DF_AGENT_CONF) && access(a->conf_file, F_OK) && errno == ENOENT)
		err = df_agent_conf_load(NULL, &a->conf, &d);
	else
		err = df_agent_conf_load(a->conf_file, &a->conf, &d);
	df_diags_print(&d, stderr, NULL);
	df_diags_free(&d);
	return err ? 1 : -1;
}

int main(int argc, char **argv)
{
	struct agent a = { .conf_file = DF_AGENT_CONF, .ino_fd = -1, .pol_wd = -1, .edge_fd = -1,
			   .pushes = json_pack("{s:i, s:{}}", "accepted", 0, "refused") };
	bool foreground = false, do_unload = false;
	int rc = configure(&a, argc, argv, &foreground, &do_unload), err;

	if (rc >= 0)
		goto out;
	df_log_init("datafenced", a.conf.syslog);
	if (do_unload) {
		rc = unload(&a);
		goto out;
	}
	if (!foreground && daemon(0, 1)) {
		pr_err("cannot daemonize: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	pr_notice("starting %s (config %s)", DF_VERSION, a.conf_file);
	err = start(&a);
	if (!err)
		err = run(&a);
	if (a.unloaded)
		pr_notice("stopping: enforcement removed (unload)");
	else
		df_log(err ? LOG_ERR : LOG_NOTICE,
		       "%s; enforcement stays in place (datafenced --unload removes it)",
		       err ? "stopping on error" : "stopping");
	rc = err ? 1 : 0;
	df_ctl_close(a.ctl);
	df_backends_close(&a.bs);
	df_records_close(a.rec);
	df_canary_close(a.canary);
	json_decref(a.push_errors);
	df_policy_free(a.pol);
	df_image_free(a.img);
out:
	json_decref(a.pushes);
	df_agent_conf_free(&a.conf);
	return rc;
}
