// SPDX-License-Identifier: GPL-2.0-only
/* datafenced: loads pushed policies into the backends and keeps enforcing;
 * reports every drop. One epoll loop: the policy file and the cgroups its
 * selectors name (inotify), the backends' own file descriptors (drop
 * events, interfaces), the control socket, signals, a 1 s timer: the
 * self-check (selfcheck.c: the health check every DF_CHECK_TICKS, the
 * canary, the heartbeat and systemd's watchdog every tick while enforcement
 * is proven), clocks and the metrics file every DF_SLOW_TICKS. Pushes are
 * push.c's. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
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

#include "agent.h"
#include "loader.h"
#include "log.h"
#include "privs.h"
#include "proto.h"
#include "records.h"
#include "report.h"
#include "safefile.h"
#include "status.h"
#include "values.h"


/* Every drop event of every backend. */
static void on_event(const struct df_event *e, void *ctx)
{
	struct agent *a = ctx;

	if (a->pol && e->serial == a->pol->serial && (e->classes & a->pol->canary))
		return; /* the canary's own drop: not the operator's */
	df_records_add(a->rec, e, a->pol);
}

/* ---- control socket ------------------------------------------------------------ */

/* status's "approval" (docs/signing.md): what is required, who signed what
 * is in force, the scopes, the saved serial, where the policy came from. */
static json_t *approval_json(struct agent *a)
{
	const struct df_policy *p = a->pol;
	json_t *scope = json_array();
	char sig[1200];

	for (size_t i = 0; p && i < p->n_scope; i++)
		json_array_append_new(scope, json_string(p->scope[i]));
	snprintf(sig, sizeof(sig), "%s.sig", a->conf.policy_file);
	return json_pack("{s:i, s:s?, s:b, s:s, s:o, s:o, s:o, s:o, s:s?, s:s?, s:s?}",
			 "signatures_required", a->conf.signatures_required, "allowed_signers",
			 a->conf.allowed_signers[0] ? a->conf.allowed_signers : NULL,
			 "unsigned_accepted", !a->conf.signatures_required, "host_scope",
			 a->conf.scope, "policy_scope", scope, "signed_by",
			 a->signed_by && p ? json_incref(a->signed_by) : json_array(),
			 "saved_serial",
			 a->saved.present ? json_integer((json_int_t)a->saved.serial) : json_null(),
			 "expires", df_time_json(p ? p->expires : 0), "loaded_from",
			 p && a->policy_source[0] ? a->policy_source : NULL, "state_error",
			 a->saved_error[0] ? a->saved_error : NULL, "save_error",
			 a->save_error[0] ? a->save_error : NULL);
}

/* counts: the counters if the caller read them already (else NULL). */
static json_t *status_json(struct agent *a, const struct df_counts *counts)
{
	struct df_agent_state st = {
		.backend = a->conf.backend, .policy_file = a->conf.policy_file, .cur = in_force(a),
		.cgroot = a->cgroot,
		.started = a->started, .loaded_at = a->loaded_at, .pushed = a->pushed,
		.push_ok = a->push_ok, .push_why = a->push_why, .push_at = a->push_at,
		.push_errors = a->push_errors, .drop_log = a->conf.drop_log,
		.drop_log_error = df_records_error(a->rec), .metrics_file = a->conf.metrics_file,
		.metrics_error = a->metrics_why[0] ? a->metrics_why : NULL, .pushes = a->pushes,
		.canary = agent_canary_json(a), .approval = approval_json(a), .counts = counts,
		.drop_log_state = df_records_state(a->rec),
	};
	json_t *j = df_status_json(&st, NULL, &a->bs);

	json_decref(st.drop_log_state);
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
		json_t *st = status_json(a, &c); /* health, pushes, approval: no second read */
		json_t *fams = df_report_metrics_json(&c, a->pol, st);
		char *text = df_metrics_text(fams);

		json_decref(st);
		r = json_pack("{s:b, s:s, s:o}", "ok", 1, "text", text ? text : "", "metrics", fams);
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
		return status_json(a, NULL);
	if (!strcmp(cmd, DF_CMD_VERSION))
		return json_pack("{s:b, s:s}", "ok", 1, "version", DF_VERSION);
	if (!strcmp(cmd, DF_CMD_COUNTERS) || !strcmp(cmd, DF_CMD_METRICS))
		return counters_json(a, !strcmp(cmd, DF_CMD_METRICS));
	if (!strcmp(cmd, DF_CMD_DROPS))
		return drops_json(a, req);
	if (!strcmp(cmd, DF_CMD_UNLOAD))
		return unload_json(a, peer);
	if (!strcmp(cmd, DF_CMD_RELOAD)) {
		int err = agent_apply_policy(a, "datafencectl reload", false);

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
	if (df_file_replace(a->conf.metrics_file, text, strlen(text), 0644, DF_FILE_SHARED, why,
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
		agent_apply_policy(a, "file changed", false);
	if (cgroups && a->pol)
		agent_reresolve_cgroups(a);
}

static void handle_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		int err = agent_apply_policy(a, "SIGHUP", false);

		df_records_audit(a->rec, "reload (SIGHUP)", (long)si.ssi_uid, (long)si.ssi_pid,
				 err ? "refused" : "accepted", a->policy_summary);
	}
	else if (si.ssi_signo == SIGUSR1)
		df_records_reopen(a->rec);
	else
		a->stop = true;
}

static void handle_timer(struct agent *a)
{
	uint64_t t;

	if (read(a->timer_fd, &t, sizeof(t)) < 0)
		return;
	a->ticks++;
	if (a->ticks % DF_CANARY_TICKS == 0)
		agent_run_canary(a);
	if (a->ticks % DF_CHECK_TICKS == 0)
		agent_check_health(a);
	agent_heartbeat(a);
	/* a drop storm's summary of the second */
	df_backends_storm(&a->bs, a->pol, df_records_storm(a->rec));
	df_records_tick(a->rec, a->pol);
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
	agent_arm_exception_edge(a);
}

/* Whose a ready descriptor is: data.u64 = tag << 32 | fd. The control
 * socket's own descriptors carry tag 0 (control.c). */
enum { TAG_CTL = 0, TAG_SIGNAL, TAG_TIMER, TAG_EDGE, TAG_INOTIFY, TAG_PACE, TAG_BACKEND };

static void watch_fd(int ep, int fd, uint32_t tag)
{
	epoll_ctl(ep, EPOLL_CTL_ADD, fd,
		  &(struct epoll_event){ .events = EPOLLIN,
					 .data.u64 = (uint64_t)tag << 32 | (uint32_t)fd });
}

/* A backend's fd was read: left out until the pace timer fires (at most
 * DF_PACE_MS later), then watched again (level-triggered: what came in
 * between wakes the loop at once). */
static void mute(struct agent *a, int ep, uint64_t data)
{
	if (a->n_muted >= MAX_FDS ||
	    epoll_ctl(ep, EPOLL_CTL_MOD, (int)(uint32_t)data,
		      &(struct epoll_event){ .events = 0, .data.u64 = data }))
		return;
	a->muted[a->n_muted++] = data;
	if (a->n_muted == 1)
		timerfd_settime(a->pace_fd, 0,
				&(struct itimerspec){ .it_value = { 0, DF_PACE_MS * 1000000L } }, NULL);
}

static void unmute(struct agent *a, int ep)
{
	uint64_t t;

	if (read(a->pace_fd, &t, sizeof(t)) < 0)
		return;
	for (size_t i = 0; i < a->n_muted; i++)
		epoll_ctl(ep, EPOLL_CTL_MOD, (int)(uint32_t)a->muted[i],
			  &(struct epoll_event){ .events = EPOLLIN, .data.u64 = a->muted[i] });
	a->n_muted = 0;
}

static void watch_all(struct agent *a, int ep)
{
	int fds[MAX_FDS];

	watch_fd(ep, a->sig_fd, TAG_SIGNAL);
	watch_fd(ep, a->timer_fd, TAG_TIMER);
	watch_fd(ep, a->edge_fd, TAG_EDGE);
	watch_fd(ep, a->ino_fd, TAG_INOTIFY);
	watch_fd(ep, a->pace_fd, TAG_PACE);
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
	a->pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
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
			else if (tag == TAG_PACE)
				unmute(a, ep);
			else if (tag - TAG_BACKEND < a->bs.n) {
				a->bs.v[tag - TAG_BACKEND]->ops->ready(a->bs.v[tag - TAG_BACKEND], fd,
								       in_force(a));
				mute(a, ep, ev[i].data.u64);
			}
		}
		df_records_flush(a->rec); /* what this round wrote, in one write */
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

/* The highest accepted serial (state.h); unreadable: pushes are refused
 * until it is mended (fail closed), and status says so. */
static void read_saved(struct agent *a)
{
	char why[DF_WHY_LEN];

	if (df_saved_read(a->conf.state_dir, &a->saved, why, sizeof(why))) {
		snprintf(a->saved_error, sizeof(a->saved_error), "%s", why);
		pr_err("the saved serial cannot be read: %s; pushes are refused until it is mended",
		       why);
	} else if (a->saved.present) {
		pr_notice("highest accepted serial %llu (%s)", (unsigned long long)a->saved.serial,
			  a->conf.state_dir);
	}
	if (!a->conf.signatures_required)
		pr_warn("unsigned policies are accepted (signatures_required = 0)");
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
		.tc_clsact = !strcmp(a->conf.tc_attach, "clsact"),
		.interfaces = a->conf.interfaces, .n_interfaces = a->conf.n_interfaces,
		.nft_table = a->conf.nft_table, .nft_log_group = (uint16_t)a->conf.nft_log_group,
		.nft_log_rate = a->conf.nft_log_rate, .cgroot = a->cgroot, .on_event = on_event,
		.ctx = a, .revoke_sock_diag = !strcmp(a->conf.revocation, "sock_diag"),
		.event_rate = a->conf.event_rate,
	};
	err = df_records_open(a->conf.drop_log, a->cgroot, a->conf.syslog, &a->rec);
	if (!err) {
		df_records_limit(a->rec, a->conf.drop_log_max_mb, a->conf.drop_log_keep);
		df_records_floor(a->rec, a->conf.drop_log_min_free_mb);
	}
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
	agent_open_canary(a);
	a->started = time(NULL);
	read_saved(a);
	/* a host that ever accepted a policy never runs without one: a
	 * missing or refused file at start falls back to the last good */
	if (agent_apply_policy(a, "start", true) && !a->pol)
		agent_apply_last_good(a);
	drop_privileges(a);
	agent_run_canary(a);
	agent_check_health(a);
	agent_heartbeat(a);
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
	json_decref(a.signed_by);
	json_decref(a.push_errors);
	df_policy_free(a.pol);
	df_image_free(a.img);
out:
	json_decref(a.pushes);
	df_agent_conf_free(&a.conf);
	return rc;
}
