// SPDX-License-Identifier: GPL-2.0-only
/* datafenced: loads pushed policies into the datapath and keeps enforcing;
 * reports every drop. One epoll loop: policy file (inotify), cgroups that
 * come and go (inotify), interfaces that appear (rtnetlink over libmnl),
 * drop events (ring buffer), signals, a periodic timer. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agentconf.h"
#include "control.h"
#include "report.h"
#include "compile.h"
#include "events.h"
#include "loader.h"
#include "nfttable.h"
#include "nftnames.h"
#include "nflog.h"
#include "nftplan.h"
#include "policy.h"
#include "values.h"
#include "swap.h"

#define DF_VERSION "0.1.0"
#define MAX_CG_WATCHES 256

struct agent {
	const char *conf_file;
	struct df_agent_conf conf;
	struct df_loader *l;   /* BPF backend (NULL without it) */
	struct df_nft_opts nft; /* nftables backend (conf.use_nft) */
	struct df_nflog *nflog;
	struct df_nft_plan *plan;
	uint64_t nft_seq, nft_lost, nft_lost_reported, nft_folded;
	struct df_flow_limiter *nft_flows; /* per-flow folding of nftables reports */
	struct df_policy *pol; /* the loaded policy (names for events) */
	struct df_image *img;
	char sha256[65];
	char cgroot[512];
	int ino_fd, pol_wd;
	int cg_wd[MAX_CG_WATCHES];
	size_t n_cg_wd;
	struct mnl_socket *nl;
	struct ring_buffer *rb;
	int sig_fd, timer_fd;
	FILE *drop_log;
	int tc_ifindex[256];
	size_t n_tc;
	uint64_t lost_reported;
	bool stop;
	/* for status and the control socket */
	struct df_ctl *ctl;
	time_t started, loaded_at, push_at;
	bool pushed, push_ok;
	char push_why[64];
	json_t *push_errors; /* ["file:line: error: ..."] of the last refused push */
	char *recent[1024];  /* the last drop records (JSON), a ring */
	size_t recent_head, recent_n;
};

#define N_RECENT (sizeof(((struct agent *)0)->recent) / sizeof(char *))

static bool use_syslog;

__attribute__((format(printf, 2, 3)))
static void logm(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "datafenced: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (use_syslog) {
		va_start(ap, fmt);
		vsyslog(prio, fmt, ap);
		va_end(ap);
	}
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* ---- drop log ------------------------------------------------------------------ */

static int open_drop_log(struct agent *a)
{
	const char *path = a->conf.drop_log;
	int fd;

	if (a->drop_log && a->drop_log != stdout)
		fclose(a->drop_log);
	a->drop_log = NULL;
	if (!path[0])
		return 0;
	if (!strcmp(path, "-")) {
		a->drop_log = stdout;
		return 0;
	}
	{
		char *dup = strdup(path);

		if (dup) {
			mkdir(dirname(dup), 0750);
			free(dup);
		}
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || !(a->drop_log = fdopen(fd, "a"))) {
		logm(LOG_ERR, "cannot open drop log %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	setvbuf(a->drop_log, NULL, _IOLBF, 0);
	return 0;
}

/* cgroup id -> path: a walk of the cgroup tree on a miss, remembered (the
 * limiter keeps events rare, so walks are too). */
#define CG_CACHE 128
static struct {
	__u64 id;
	char path[256];
} cg_cache[CG_CACHE];
static unsigned int cg_next;
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

static const char *cgroup_name(struct agent *a, __u64 id, char *buf, size_t len)
{
	for (unsigned int i = 0; i < CG_CACHE; i++)
		if (cg_cache[i].id == id) {
			snprintf(buf, len, "%s", cg_cache[i].path);
			return buf;
		}
	walk_id = id;
	walk_root_len = strlen(a->cgroot);
	walk_found[0] = '\0';
	if (nftw(a->cgroot, walk_cb, 16, FTW_PHYS | FTW_MOUNT) != 1)
		return NULL;
	cg_cache[cg_next].id = id;
	snprintf(cg_cache[cg_next].path, sizeof(cg_cache[0].path), "%s", walk_found);
	cg_next = (cg_next + 1) % CG_CACHE;
	snprintf(buf, len, "%s", walk_found);
	return buf;
}

/* One drop event of either backend: drop log, recent drops, syslog. */
static void record_event(struct agent *a, const struct df_event *e)
{
	struct df_event_names n = { 0 };
	char cg[512], ubuf[1024], line[512];
	struct passwd pw, *res = NULL;
	char *json;

	n.cgroup = e->cgroup_id ? cgroup_name(a, e->cgroup_id, cg, sizeof(cg)) : NULL;
	if (e->uid != 0xffffffffu && !getpwuid_r(e->uid, &pw, ubuf, sizeof(ubuf), &res) && res)
		n.user = res->pw_name;
	json = df_event_json(e, a->pol, &n);
	if (json) {
		if (a->drop_log)
			fprintf(a->drop_log, "%s\n", json);
		free(a->recent[a->recent_head]);
		a->recent[a->recent_head] = json; /* kept for `datafencectl drops` */
		a->recent_head = (a->recent_head + 1) % N_RECENT;
		if (a->recent_n < N_RECENT)
			a->recent_n++;
	}
	if (use_syslog) {
		df_event_summary(e, a->pol, line, sizeof(line));
		syslog(LOG_WARNING, "%s", line);
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct df_event *e = data;

	if (size >= sizeof(*e) && e->version == DF_EVENT_VERSION)
		record_event(ctx, e);
	return 0;
}

static void on_nflog(const struct df_nflog_rec *r, void *ctx)
{
	struct agent *a = ctx;
	struct df_event e;

	if (df_nflog_event(r, a->pol, a->nft_seq + 1, &e))
		return;
	if (a->nft_flows && !df_flow_report(a->nft_flows, &e, e.ts_ns)) {
		a->nft_folded++;
		return;
	}
	a->nft_seq++;
	record_event(a, &e);
}

static void report_lost(struct agent *a)
{
	int fd = a->l ? df_loader_map_fd(a->l, DF_MAP_ID_MISC) : -1;
	__u32 k = DF_MISC_EVENTS_LOST;
	__u64 lost = 0;

	if (a->nft_lost > a->nft_lost_reported) {
		logm(LOG_WARNING, "nftables drop reports lost (NFLOG socket overflowed); counters are exact");
		a->nft_lost_reported = a->nft_lost;
	}
	if (fd >= 0 && !bpf_map_lookup_elem(fd, &k, &lost) && lost > a->lost_reported) {
		logm(LOG_WARNING, "%llu drop events lost (ring buffer full); counters are exact",
		     (unsigned long long)(lost - a->lost_reported));
		a->lost_reported = lost;
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

/* ---- policy -------------------------------------------------------------------------- */

static void log_diags(const struct df_diags *d, int prio)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];

		if (x->line > 0)
			logm(prio, "%s:%d: %s: %s", x->file ? x->file : "-", x->line,
			     x->sev == DF_SEV_ERROR ? "error" : "warning", x->msg ? x->msg : "");
		else
			logm(prio, "%s: %s: %s", x->file ? x->file : "policy",
			     x->sev == DF_SEV_ERROR ? "error" : "warning", x->msg ? x->msg : "");
	}
}

/* The new policy into every backend: nftables first (one batch), then BPF;
 * if BPF refuses it, nftables goes back to the policy in force, so both
 * always hold the same one. */
static int swap_backends(struct agent *a, const struct df_policy *p, const struct df_image *img,
			 const char *sha, struct df_nft_plan **plan, struct df_diags *d)
{
	int err = 0;

	if (a->conf.use_nft) {
		err = df_nft_plan_build(p, img, plan);
		if (err)
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "nftables: cannot plan the table: %s",
				    strerror(-err));
		if (!err)
			err = df_nft_apply(&a->nft, p, *plan, a->cgroot, sha, d);
	}
	if (!err && a->l) {
		err = df_loader_swap(a->l, img, d);
		if (err && a->conf.use_nft && a->pol && a->plan) {
			struct df_diags d2 = { 0 };

			if (df_nft_apply(&a->nft, a->pol, a->plan, a->cgroot, a->sha256, &d2))
				log_diags(&d2, LOG_ERR);
			df_diags_free(&d2);
		}
	}
	return err;
}

/* Loads the policy file. A push must parse, validate, compile and carry a
 * higher serial than the loaded policy; anything else is refused and the
 * loaded policy stays in force. `same_ok` accepts an equal serial (start-up
 * adoption of our own pinned policy). */
static int apply_policy(struct agent *a, const char *why, bool same_ok)
{
	struct df_parse_opts o = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	uint64_t active = 0;
	char *text = NULL, sha[65] = "";
	struct df_nft_plan *plan = NULL;
	int err, has_active;

	err = df_policy_load_file(a->conf.policy_file, &o, &p, &d, &text);
	if (text)
		sha256_hex(text, strlen(text), sha);
	if (!err && a->pol && !strcmp(sha, a->sha256)) {
		err = 0; /* the same bytes again (editors, touch): nothing to do */
		goto cleanup;
	}
	if (!err)
		err = df_compile(p, &img, &d);
	if (a->l) {
		has_active = !df_loader_active_serial(a->l, &active);
	} else {
		struct df_nft_info info;

		has_active = !df_nft_info(&a->nft, &info) && info.loaded;
		active = info.serial;
	}
	if (!err && has_active && (p->serial < active || (p->serial == active && !same_ok))) {
		df_diag_add(&d, DF_SEV_ERROR, a->conf.policy_file, 0, NULL,
			    "serial %llu is not higher than the loaded policy's %llu",
			    (unsigned long long)p->serial, (unsigned long long)active);
		err = -ESTALE;
	}
	if (!err)
		err = swap_backends(a, p, img, sha, &plan, &d);
	a->pushed = true;
	a->push_ok = !err;
	a->push_at = time(NULL);
	snprintf(a->push_why, sizeof(a->push_why), "%s", why);
	json_decref(a->push_errors);
	a->push_errors = json_array();
	if (err) {
		logm(LOG_ERR, "policy push refused (%s): %s; %s", why, a->conf.policy_file,
		     has_active ? "the loaded policy stays in force" : "no policy is enforced");
		log_diags(&d, LOG_ERR);
		for (size_t i = 0; i < d.n; i++)
			if (d.v[i].sev == DF_SEV_ERROR)
				json_array_append_new(a->push_errors,
						      json_sprintf("%s:%d: error: %s",
								   d.v[i].file ? d.v[i].file : "-",
								   d.v[i].line, d.v[i].msg ? d.v[i].msg : ""));
		goto cleanup;
	}
	a->loaded_at = time(NULL);
	log_diags(&d, LOG_WARNING);
	logm(LOG_NOTICE, "policy loaded (%s): '%s' serial %llu sha256 %s, %zu classes, %zu destinations, %zu exceptions",
	     why, p->name, (unsigned long long)p->serial, sha, p->n_classes, p->n_dests, p->n_excs);
	df_policy_free(a->pol);
	df_image_free(a->img);
	df_nft_plan_free(a->plan);
	a->pol = p;
	a->img = img;
	a->plan = plan;
	p = NULL;
	img = NULL;
	plan = NULL;
	snprintf(a->sha256, sizeof(a->sha256), "%s", sha);
	watch_cgroups(a);
cleanup:
	df_policy_free(p);
	df_image_free(img);
	df_nft_plan_free(plan);
	df_diags_free(&d);
	free(text);
	return err;
}

/* The table is ours: if someone deleted it or loaded something else into
 * it, the policy in force goes back (every 10 s). */
static void check_nft_table(struct agent *a)
{
	struct df_nft_info info;
	struct df_diags d = { 0 };

	if (!a->conf.use_nft || !a->pol || !a->plan || df_nft_info(&a->nft, &info))
		return;
	if (info.loaded && info.serial == a->pol->serial)
		return;
	logm(LOG_WARNING, "table inet %s %s: loading serial %llu again", a->nft.table,
	     !info.present ? "is gone" : "holds something else",
	     (unsigned long long)a->pol->serial);
	if (df_nft_apply(&a->nft, a->pol, a->plan, a->cgroot, a->sha256, &d))
		log_diags(&d, LOG_ERR);
	else
		logm(LOG_NOTICE, "table inet %s restored", a->nft.table);
	df_diags_free(&d);
}

/* ---- interfaces ----------------------------------------------------------------------- */

static bool wants_iface(struct agent *a, const char *name)
{
	if (!a->conf.hook_tc || !strcmp(name, "lo"))
		return false;
	if (!a->conf.n_interfaces)
		return true;
	for (size_t i = 0; i < a->conf.n_interfaces; i++)
		if (!strcmp(a->conf.interfaces[i], name))
			return true;
	return false;
}

static void attach_iface(struct agent *a, int ifindex, const char *name)
{
	for (size_t i = 0; i < a->n_tc; i++)
		if (a->tc_ifindex[i] == ifindex)
			return;
	if (!wants_iface(a, name) || a->n_tc == sizeof(a->tc_ifindex) / sizeof(a->tc_ifindex[0]))
		return;
	if (df_loader_attach_tc(a->l, ifindex)) {
		logm(LOG_ERR, "cannot attach tc egress to %s", name);
		return;
	}
	a->tc_ifindex[a->n_tc++] = ifindex;
	logm(LOG_NOTICE, "attached tc egress to %s (ifindex %d)", name, ifindex);
}

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct agent *a = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *attr;

	if (nlh->nlmsg_type == RTM_DELLINK) {
		for (size_t i = 0; i < a->n_tc; i++)
			if (a->tc_ifindex[i] == ifi->ifi_index) {
				a->tc_ifindex[i] = a->tc_ifindex[--a->n_tc];
				logm(LOG_NOTICE, "interface %d went away", ifi->ifi_index);
			}
		return MNL_CB_OK;
	}
	mnl_attr_for_each(attr, nlh, sizeof(*ifi))
		if (mnl_attr_get_type(attr) == IFLA_IFNAME)
			attach_iface(a, ifi->ifi_index, mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void attach_all_ifaces(struct agent *a)
{
	struct if_nameindex *ifs = if_nameindex();

	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		attach_iface(a, (int)i->if_index, i->if_name);
	if (ifs)
		if_freenameindex(ifs);
}

/* ---- control socket ------------------------------------------------------------ */

static json_t *time_json(time_t t)
{
	char buf[40];

	if (!t)
		return json_null();
	df_time_format((int64_t)t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *exceptions_json(const struct df_policy *p)
{
	json_t *arr = json_array();
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; p && i < p->n_excs; i++) {
		const struct df_exception *e = &p->excs[i];
		const char *state = now < e->not_before ? "pending" : now < e->expires ? "active" : "expired";

		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I}", "id", e->id, "class",
				       p->classes[e->class_idx].name, "approved_by", e->approved_by,
				       "reason", e->reason, "not_before", time_json(e->not_before),
				       "expires", time_json(e->expires), "state", state,
				       "seconds_left", (json_int_t)(e->expires > now ? e->expires - now : 0)));
	}
	return arr;
}

/* Counters of every backend in one list (and per rule), totals summed. */
static void collect(struct agent *a, struct df_totals *t, json_t **counters, json_t **rules)
{
	*counters = df_report_counters(a->l ? df_loader_map_fd(a->l, DF_MAP_ID_COUNTERS) : -1, a->pol, t);
	if (rules)
		*rules = df_report_rules(a->l ? df_loader_map_fd(a->l, DF_MAP_ID_RULE_CNT) : -1, a->pol);
	if (a->l)
		df_report_misc(df_loader_map_fd(a->l, DF_MAP_ID_MISC), t);
	if (a->conf.use_nft) {
		df_report_nft(&a->nft, a->pol, counters, rules, t);
		t->events_sent += a->nft_seq;
		t->events_lost += a->nft_lost;
		t->events_suppressed += a->nft_folded;
	}
}

static json_t *status_json(struct agent *a)
{
	struct df_totals t = { 0 };
	json_t *counters, *tc = json_array(), *missing = json_array(), *health = json_array();
	json_t *nft = json_null();
	const struct df_policy *p = a->pol;

	collect(a, &t, &counters, NULL);
	json_decref(counters);
	if (a->conf.use_nft) {
		struct df_nft_info info;
		int err = df_nft_info(&a->nft, &info);

		nft = json_pack("{s:s, s:b, s:o, s:i, s:b}", "table", a->nft.table, "present",
				!err && info.present, "serial",
				!err && info.loaded ? json_integer((json_int_t)info.serial) : json_null(),
				"log_group", (int)a->nft.log_group, "reports", a->nflog != NULL);
		if (err || !info.present)
			json_array_append_new(health, json_string("nftables table missing"));
		else if (p && (!info.loaded || info.serial != p->serial))
			json_array_append_new(health, json_string("nftables table holds another policy"));
		if (!a->nflog)
			json_array_append_new(health, json_string("nftables drop reports unavailable"));
	}
	for (size_t i = 0; i < a->n_tc; i++) {
		char name[IF_NAMESIZE];

		json_array_append_new(tc, json_string(if_indextoname((unsigned int)a->tc_ifindex[i], name) ?
							      name : "?"));
	}
	for (size_t i = 0; i < a->conf.n_interfaces; i++) {
		unsigned int idx = if_nametoindex(a->conf.interfaces[i]);
		bool found = false;

		for (size_t k = 0; k < a->n_tc; k++)
			found |= a->tc_ifindex[k] == (int)idx;
		if (!found)
			json_array_append_new(missing, json_string(a->conf.interfaces[i]));
	}
	if (!p)
		json_array_append_new(health, json_string("no policy loaded"));
	if (a->pushed && !a->push_ok)
		json_array_append_new(health, json_string("last push refused"));
	if (json_array_size(missing))
		json_array_append_new(health, json_string("interface not attached"));
	return json_pack(
		"{s:b, s:s, s:i, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:{s:b, s:b, s:s, s:o, s:o}, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:o, s:s, s:o}",
		"ok", 1, "agent", "running", "pid", (int)getpid(), "version", DF_VERSION,
		"backend", a->conf.backend, "nftables", nft,
		"uptime_s", (json_int_t)(time(NULL) - a->started), "started_at", time_json(a->started),
		"policy",
		p ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "name", p->name, "serial",
			      (json_int_t)p->serial, "sha256", a->sha256, "mode", df_mode_name(p->mode),
			      "file", a->conf.policy_file, "loaded_at", time_json(a->loaded_at)) :
		    json_null(),
		"last_push",
		a->pushed ? json_pack("{s:s, s:s, s:o, s:O}", "result", a->push_ok ? "accepted" : "refused",
				      "trigger", a->push_why, "at", time_json(a->push_at), "errors",
				      a->push_errors) :
			    json_null(),
		"attachments", "cgroup_skb", a->l && a->conf.hook_cgroup_skb, "sock_addr",
		a->l && a->conf.hook_sock_addr,
		"cgroup", a->cgroot, "tc", tc, "tc_missing", missing, "totals", "judged",
		(json_int_t)t.judged, "allowed", (json_int_t)t.allowed, "dropped", (json_int_t)t.dropped,
		"would_drop", (json_int_t)t.would_drop, "events", "sent", (json_int_t)t.events_sent,
		"lost", (json_int_t)t.events_lost, "suppressed", (json_int_t)t.events_suppressed,
		"exceptions", exceptions_json(p), "health", json_array_size(health) ? "degraded" : "healthy",
		"health_reasons", health);
}

static json_t *drops_json(struct agent *a, json_t *req)
{
	json_int_t since = json_integer_value(json_object_get(req, "since_seq"));
	json_int_t limit = json_is_integer(json_object_get(req, "limit")) ?
				   json_integer_value(json_object_get(req, "limit")) : 100;
	const char *cls = json_string_value(json_object_get(req, "class"));
	json_t *arr = json_array();

	for (size_t k = 0; k < a->recent_n; k++) {
		size_t i = (a->recent_head + N_RECENT - a->recent_n + k) % N_RECENT;
		json_t *rec = json_loads(a->recent[i], 0, NULL);

		if (rec && json_integer_value(json_object_get(rec, "seq")) >= since)
			df_drops_keep(arr, rec, cls, (long)limit);
		json_decref(rec);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "drops", arr);
}

static json_t *on_request(json_t *req, void *ctx)
{
	struct agent *a = ctx;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!strcmp(cmd, "status"))
		return status_json(a);
	if (!strcmp(cmd, "version"))
		return json_pack("{s:b, s:s}", "ok", 1, "version", DF_VERSION);
	if (!strcmp(cmd, "counters") || !strcmp(cmd, "metrics")) {
		struct df_totals t = { 0 };
		json_t *c, *r;

		collect(a, &t, &c, &r);
		if (!strcmp(cmd, "counters"))
			return json_pack("{s:b, s:o, s:o}", "ok", 1, "counters", c, "rules", r);
		char *text = df_report_metrics(c, r, &t, a->pol, a->pol ? a->pol->serial : 0);
		json_t *resp = json_pack("{s:b, s:s}", "ok", 1, "text", text ? text : "");

		free(text);
		json_decref(c);
		json_decref(r);
		return resp;
	}
	if (!strcmp(cmd, "drops"))
		return drops_json(a, req);
	if (!strcmp(cmd, "reload")) {
		int err = apply_policy(a, "datafencectl reload", false);

		return json_pack("{s:b, s:s, s:O}", "ok", !err, "result", err ? "refused" : "accepted",
				 "errors", a->push_errors ? a->push_errors : json_array());
	}
	return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command; try \"datafencectl help\"");
}

/* node_exporter's textfile collector: written whole, renamed into place. */
static void write_metrics_file(struct agent *a)
{
	json_t *req, *resp;
	const char *text;
	char tmp[1100];
	FILE *f;

	if (!a->conf.metrics_file[0])
		return;
	req = json_pack("{s:s}", "cmd", "metrics");
	resp = on_request(req, a);
	json_decref(req);
	text = json_string_value(json_object_get(resp, "text"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->conf.metrics_file);
	f = fopen(tmp, "we");
	if (!f || fputs(text ? text : "", f) < 0 || fclose(f) || rename(tmp, a->conf.metrics_file)) {
		logm(LOG_WARNING, "cannot write %s: %s", a->conf.metrics_file, strerror(errno));
		if (f)
			unlink(tmp);
	}
	json_decref(resp);
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
	if (cgroups && a->img) {
		struct df_diags d = { 0 };

		/* same policy, cgroup ids resolved anew */
		if ((!a->conf.use_nft || !a->plan ||
		     !df_nft_apply(&a->nft, a->pol, a->plan, a->cgroot, a->sha256, &d)) &&
		    (!a->l || !df_loader_swap(a->l, a->img, &d)))
			logm(LOG_INFO, "cgroups changed: selectors resolved again");
		log_diags(&d, LOG_INFO);
		df_diags_free(&d);
		watch_cgroups(a);
	}
}

static int run(struct agent *a)
{
	struct epoll_event ev[8];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char nlbuf[MNL_SOCKET_BUFFER_SIZE];
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	timerfd_settime(a->timer_fd, 0,
			&(struct itimerspec){ .it_interval = { 10, 0 }, .it_value = { 10, 0 } }, NULL);
	int fds[] = { a->sig_fd, a->timer_fd, a->ino_fd, a->rb ? ring_buffer__epoll_fd(a->rb) : -1,
		      a->nl ? mnl_socket_get_fd(a->nl) : -1, a->nflog ? df_nflog_fd(a->nflog) : -1 };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			epoll_ctl(ep, EPOLL_CTL_ADD, fds[i],
				  &(struct epoll_event){ .events = EPOLLIN, .data.fd = fds[i] });
	if (a->ctl)
		df_ctl_epoll_add(a->ctl, ep);
	while (!a->stop) {
		int n = epoll_wait(ep, ev, 8, 500);

		if (a->ctl)
			df_ctl_expire(a->ctl, ep); /* slow clients: gone after 2 s */
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (a->ctl && df_ctl_handle(a->ctl, ep, fd, ev[i].events))
				continue;
			if (fd == a->sig_fd) {
				struct signalfd_siginfo si;

				if (read(fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP)
					apply_policy(a, "SIGHUP", false);
				else if (si.ssi_signo == SIGUSR1)
					open_drop_log(a);
				else
					a->stop = true;
			} else if (fd == a->timer_fd) {
				uint64_t t;

				if (read(fd, &t, sizeof(t)) < 0)
					continue;
				if (a->l)
					df_loader_set_clock(a->l);
				check_nft_table(a);
				report_lost(a);
				write_metrics_file(a);
			} else if (fd == a->ino_fd) {
				handle_inotify(a);
			} else if (a->nl && fd == mnl_socket_get_fd(a->nl)) {
				ssize_t r = mnl_socket_recvfrom(a->nl, nlbuf, sizeof(nlbuf));

				if (r > 0)
					mnl_cb_run(nlbuf, (size_t)r, 0, 0, on_link, a);
			} else if (a->nflog && fd == df_nflog_fd(a->nflog)) {
				df_nflog_read(a->nflog, on_nflog, a, &a->nft_lost);
			} else if (a->rb) {
				ring_buffer__consume(a->rb);
			}
		}
	}
	if (a->rb)
		ring_buffer__consume(a->rb);
	close(ep);
	return 0;
}

static int start(struct agent *a)
{
	struct df_loader_opts lo = { .pin_dir = a->conf.pin_dir, .cgroup_skb = a->conf.hook_cgroup_skb,
				     .sock_addr = a->conf.hook_sock_addr };
	char dir[1024];
	int err;

	err = df_cgroup2_root(a->cgroot, sizeof(a->cgroot));
	if (err) {
		logm(LOG_ERR, "no cgroup2 mount found");
		return err;
	}
	a->nft = (struct df_nft_opts){ .table = a->conf.nft_table,
				       .log_group = (uint16_t)a->conf.nft_log_group,
				       .log_rate = a->conf.nft_log_rate };
	if (a->conf.use_nft) {
		a->nft_flows = calloc(1, sizeof(*a->nft_flows));
		err = df_nflog_open(a->nft.log_group, &a->nflog);
		if (err)
			logm(LOG_ERR, "nftables: cannot read drop reports from NFLOG group %u: %s (enforcement is unaffected)",
			     a->conf.nft_log_group, strerror(-err));
		logm(LOG_NOTICE, "nftables backend: table inet %s, drop reports on NFLOG group %u",
		     a->nft.table, a->conf.nft_log_group);
	}
	if (!a->conf.use_bpf)
		goto common;
	err = df_loader_open(&lo, &a->l);
	if (err)
		return err;
	err = df_loader_attach(a->l);
	if (err)
		return err;
	logm(LOG_NOTICE, "attached %s%s at cgroup %s; pins in %s",
	     a->conf.hook_cgroup_skb ? "cgroup_skb " : "",
	     a->conf.hook_sock_addr ? "connect/sendmsg" : "", a->cgroot, a->conf.pin_dir);
	if (a->conf.hook_tc) {
		a->nl = mnl_socket_open(NETLINK_ROUTE);
		if (!a->nl || mnl_socket_bind(a->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
			logm(LOG_WARNING, "cannot watch interfaces (rtnetlink): %s", strerror(errno));
			if (a->nl)
				mnl_socket_close(a->nl);
			a->nl = NULL;
		}
		attach_all_ifaces(a);
	}
	a->rb = ring_buffer__new(df_loader_map_fd(a->l, DF_MAP_ID_EVENTS), on_event, a, NULL);
	if (!a->rb)
		return -errno;
	{
		int fd = df_loader_map_fd(a->l, DF_MAP_ID_MISC);
		__u32 k = DF_MISC_EVENTS_LOST;

		bpf_map_lookup_elem(fd, &k, &a->lost_reported);
	}
common:
	a->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	snprintf(dir, sizeof(dir), "%s", a->conf.policy_file);
	a->pol_wd = inotify_add_watch(a->ino_fd, dirname(dir),
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	if (a->pol_wd < 0)
		logm(LOG_WARNING, "cannot watch %s for pushes: %s (SIGHUP still reloads)", dir,
		     strerror(errno));
	open_drop_log(a);
	if (a->conf.control_socket[0]) {
		err = df_ctl_open(a->conf.control_socket, on_request, a, &a->ctl);
		if (err)
			logm(LOG_ERR, "cannot open the control socket %s: %s", a->conf.control_socket,
			     strerror(-err));
		else if (a->conf.control_group[0]) {
			struct group *g = getgrnam(a->conf.control_group);

			if (!g || chown(a->conf.control_socket, 0, g->gr_gid) ||
			    chmod(a->conf.control_socket, 0660))
				logm(LOG_ERR, "control_group %s: %s", a->conf.control_group,
				     g ? strerror(errno) : "no such group");
		}
	}
	a->started = time(NULL);
	if (a->l)
		df_loader_set_clock(a->l);
	apply_policy(a, "start", true);
	write_metrics_file(a);
	return 0;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "foreground", no_argument, NULL, 'f' },
					      { "unload", no_argument, NULL, 'u' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { 0 } };
	struct agent a = { .conf_file = DF_AGENT_CONF, .ino_fd = -1, .pol_wd = -1 };
	struct df_diags d = { 0 };
	bool foreground = false, unload = false;
	int c, err;

	while ((c = getopt_long(argc, argv, "c:fhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.conf_file = optarg; break;
		case 'f': foreground = true; break;
		case 'u': unload = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("datafenced %s\n", DF_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(a.conf_file, DF_AGENT_CONF) && access(a.conf_file, F_OK) && errno == ENOENT) {
		/* every key is optional: no file at the default path = defaults */
		err = df_agent_conf_load("/dev/null", &a.conf, &d);
	} else {
		err = df_agent_conf_load(a.conf_file, &a.conf, &d);
	}
	df_diags_print(&d, stderr, NULL);
	df_diags_free(&d);
	if (err)
		return 1;
	use_syslog = a.conf.syslog;
	if (use_syslog)
		openlog("datafenced", LOG_PID, LOG_DAEMON);
	if (unload) {
		struct df_nft_opts no = { .table = a.conf.nft_table };
		int nerr = 0;

		err = 0;
		if (a.conf.use_bpf) {
			err = df_loader_unload(a.conf.pin_dir);
			if (err)
				logm(LOG_ERR, "unload %s: %s", a.conf.pin_dir, strerror(-err));
			else
				logm(LOG_NOTICE, "enforcement removed: hooks detached, %s unpinned",
				     a.conf.pin_dir);
		}
		if (a.conf.use_nft) {
			nerr = df_nft_remove(&no);
			if (nerr && nerr != -ENOENT)
				logm(LOG_ERR, "unload: table inet %s: %s", no.table, strerror(-nerr));
			else if (nerr)
				logm(LOG_NOTICE, "no table inet %s in this network namespace", no.table);
			else
				logm(LOG_NOTICE, "enforcement removed: table inet %s deleted", no.table);
		}
		df_agent_conf_free(&a.conf);
		return err || (nerr && nerr != -ENOENT) ? 1 : 0;
	}
	if (!foreground && daemon(0, 1)) {
		logm(LOG_ERR, "cannot daemonize: %s", strerror(errno));
		return 1;
	}
	logm(LOG_NOTICE, "starting %s (config %s)", DF_VERSION, a.conf_file);
	err = start(&a);
	if (!err)
		err = run(&a);
	logm(err ? LOG_ERR : LOG_NOTICE, "%s; enforcement stays in place (datafenced --unload removes it)",
	     err ? "stopping on error" : "stopping");
	df_ctl_close(a.ctl);
	for (size_t i = 0; i < N_RECENT; i++)
		free(a.recent[i]);
	json_decref(a.push_errors);
	ring_buffer__free(a.rb);
	if (a.nl)
		mnl_socket_close(a.nl);
	df_nflog_close(a.nflog);
	free(a.nft_flows);
	df_loader_close(a.l);
	df_policy_free(a.pol);
	df_image_free(a.img);
	df_nft_plan_free(a.plan);
	if (a.drop_log && a.drop_log != stdout)
		fclose(a.drop_log);
	df_agent_conf_free(&a.conf);
	return err ? 1 : 0;
}
