// SPDX-License-Identifier: GPL-2.0-only
/* Health as proof for the BPF backend (health.h). */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"

#define TC_PRIO 0xdf        /* our filter's (loader.c) */
#define MAX_IDS 256
#define MAX_SUBTREE 4096    /* cgroups looked at below one selector */

/* The cgroup attach types our programs use, and their names in causes. */
static const struct {
	enum bpf_attach_type type;
	const char *name;
} cg_types[] = {
	{ BPF_CGROUP_INET_EGRESS, "cgroup_skb" },    { BPF_CGROUP_INET_SOCK_CREATE, "sock_create" },
	{ BPF_CGROUP_INET4_CONNECT, "connect4" },    { BPF_CGROUP_INET6_CONNECT, "connect6" },
	{ BPF_CGROUP_UDP4_SENDMSG, "sendmsg4" },     { BPF_CGROUP_UDP6_SENDMSG, "sendmsg6" },
	{ BPF_CGROUP_SETSOCKOPT, "setsockopt" },
};
#define N_CG_TYPES (sizeof(cg_types) / sizeof(cg_types[0]))

/* One of our hooks as the kernel has it. */
struct hook {
	const char *name;
	__u32 prog_id;
	__u32 type;
};

struct run {
	const struct df_health_ctx *c;
	json_t *causes;
	bool proven;
	struct hook hooks[DF_PROG__MAX];
	size_t n_hooks;
};

static void cause(struct run *r, bool blocks, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends a cause once; blocks: enforcement is not proven (no heartbeat). */
static void cause(struct run *r, bool blocks, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	size_t i;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->proven &= !blocks;
	json_array_foreach(r->causes, i, v)
		if (!strcmp(json_string_value(v), buf))
			return;
	json_array_append_new(r->causes, json_string(buf));
}

/* ---- pins ------------------------------------------------------------------------------- */

static void check_pins(struct run *r)
{
	struct df_pin_report pr;

	if (!r->c->l) {
		if (access(r->c->pin_dir, F_OK))
			cause(r, true, "pins missing: %s is gone", r->c->pin_dir);
		return;
	}
	df_loader_pins(r->c->l, true, &pr);
	if (pr.repaired[0])
		pr_notice("repaired: pinned again in %s: %s", r->c->pin_dir, pr.repaired);
	if (pr.n_missing)
		cause(r, true, "pins missing: %s in %s", pr.missing, r->c->pin_dir);
}

/* ---- cgroup hooks ------------------------------------------------------------------------- */

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* Is prog_id among the programs that run for cgroup fd (effective)? */
static bool effective_at(int fd, __u32 type, __u32 prog_id)
{
	__u32 ids[MAX_IDS], cnt = MAX_IDS;

	if (bpf_prog_query(fd, (enum bpf_attach_type)type, BPF_F_QUERY_EFFECTIVE, NULL, ids, &cnt))
		return false;
	for (__u32 i = 0; i < cnt; i++)
		if (ids[i] == prog_id)
			return true;
	return false;
}

/* The daemon's link of hook p, or the reader's pin; -ENOENT: none. */
static int hook_fd(struct run *r, enum df_prog p, bool *owned)
{
	char path[512];
	int fd;

	*owned = false;
	if (r->c->l)
		return df_loader_hook_on(r->c->l, p) ? df_loader_link_fd(r->c->l, p) : -ENOENT;
	snprintf(path, sizeof(path), "%s/link_%s", r->c->pin_dir, df_prog_name(p));
	fd = bpf_obj_get(path);
	*owned = fd >= 0;
	return fd >= 0 ? fd : -ENOENT;
}

/* A detached link of the daemon's attached again (logged); false if not. */
static bool reattach(struct run *r, enum df_prog p, int *fd, struct bpf_link_info *info)
{
	int err;

	if (!r->c->l)
		return false;
	err = df_loader_reattach(r->c->l, p);
	if (err) {
		pr_err("cannot attach %s again: %s", df_prog_name(p), strerror(-err));
		return false;
	}
	*fd = df_loader_link_fd(r->c->l, p);
	if (link_info(*fd, info) || !info->cgroup.cgroup_id)
		return false;
	pr_notice("repaired: %s was detached from the cgroup; attached again", df_prog_name(p));
	return true;
}

static void check_hooks(struct run *r, int rootfd)
{
	for (int p = 0; p < DF_PROG__MAX; p++) {
		struct bpf_link_info info;
		bool owned;
		int fd;

		if (p == DF_PROG_TC)
			continue;
		fd = hook_fd(r, (enum df_prog)p, &owned);
		if (fd < 0)
			continue;
		if (link_info(fd, &info)) {
			cause(r, true, "hook detached: %s (its link cannot be read)", df_prog_name(p));
		} else if (!info.cgroup.cgroup_id && !reattach(r, (enum df_prog)p, &fd, &info)) {
			cause(r, true, "hook detached: %s", df_prog_name(p));
		} else if (!effective_at(rootfd, info.cgroup.attach_type, info.prog_id)) {
			cause(r, true, "hook not effective: %s at %s", df_prog_name(p), r->c->cgroot);
		} else {
			r->hooks[r->n_hooks++] = (struct hook){ df_prog_name(p), info.prog_id,
								info.cgroup.attach_type };
		}
		if (owned)
			close(fd);
	}
	if (!r->n_hooks && !json_array_size(r->causes))
		cause(r, true, "hook detached: no cgroup hook of ours is attached");
}

/* Programs attached at one cgroup (not inherited) with override or
 * exclusive semantics: they are not ours, and they rule its subtree. */
static void check_foreign(struct run *r, int fd, const char *rel)
{
	for (size_t t = 0; t < N_CG_TYPES; t++) {
		__u32 ids[MAX_IDS], cnt = MAX_IDS, flags = 0;

		if (bpf_prog_query(fd, cg_types[t].type, 0, &flags, ids, &cnt) || !cnt)
			continue;
		if (!(flags & BPF_F_ALLOW_MULTI))
			cause(r, true, "foreign program with override: %s program id %u at %s%s",
			      cg_types[t].name, ids[0], rel[0] ? "" : "/", rel);
	}
}

/* Our hooks effective at this cgroup. */
static void check_effective(struct run *r, int fd, const char *rel)
{
	for (size_t h = 0; h < r->n_hooks; h++)
		if (!effective_at(fd, r->hooks[h].type, r->hooks[h].prog_id))
			cause(r, true, "hook not effective: %s at %s", r->hooks[h].name, rel);
}

static struct run *walk_run; /* nftw has no context argument */
static size_t walk_left;

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	int fd;

	(void)sb;
	(void)ftw;
	if (flag != FTW_D)
		return 0;
	if (!walk_left--)
		return 1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	check_foreign(walk_run, fd, path + strlen(walk_run->c->cgroot));
	close(fd);
	return 0;
}

static void check_selectors(struct run *r)
{
	const struct df_image *img = r->c->pol ? r->c->pol->img : NULL;

	for (size_t i = 0; img && i < img->n_cgroups; i++) {
		const char *rel = img->cgroups[i].path;
		char path[1024];
		int fd;

		snprintf(path, sizeof(path), "%s%s", r->c->cgroot, rel);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue; /* status says it, for every backend (status.c) */
		check_effective(r, fd, rel);
		close(fd);
		/* the selector's ancestors below the root, then its subtree */
		for (char *slash; (slash = strrchr(path, '/')) && slash > path + strlen(r->c->cgroot);) {
			*slash = '\0';
			fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				check_foreign(r, fd, path + strlen(r->c->cgroot));
				close(fd);
			}
		}
		snprintf(path, sizeof(path), "%s%s", r->c->cgroot, rel);
		walk_run = r;
		walk_left = MAX_SUBTREE;
		nftw(path, walk_one, 16, FTW_PHYS);
	}
}

/* ---- tc ------------------------------------------------------------------------------------ */

struct tc_dump {
	int below;      /* filters that run before ours (a lower priority) */
	unsigned int prio;
	char kind[32];
};

static int on_filter(const struct nlmsghdr *nlh, void *data)
{
	struct tc_dump *d = data;
	struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	unsigned int prio = TC_H_MAJ(t->tcm_info) >> 16;
	const char *kind = "?";
	uint32_t chain = 0;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*t)) {
		if (mnl_attr_get_type(a) == TCA_KIND)
			kind = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == TCA_CHAIN)
			chain = mnl_attr_get_u32(a);
	}
	/* chain 0 is where classification starts; others run by goto only */
	if (chain == 0 && prio < TC_PRIO && (!d->below || prio < d->prio)) {
		d->prio = prio;
		snprintf(d->kind, sizeof(d->kind), "%s", kind);
	}
	if (chain == 0 && prio < TC_PRIO)
		d->below++;
	return MNL_CB_OK;
}

/* Filters on ifindex's egress that run before our priority. */
static int tc_ahead(int ifindex, struct tc_dump *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct tcmsg *t;
	unsigned int seq = (unsigned int)time(NULL), port;
	ssize_t n;
	int ret = 0;

	memset(d, 0, sizeof(*d));
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	port = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		ret = mnl_cb_run(buf, (size_t)n, seq, port, on_filter, d);
		if (ret <= MNL_CB_STOP)
			break;
	}
	ret = ret < 0 ? -errno : 0;
out:
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

static void check_tc(struct run *r)
{
	for (size_t i = 0; i < r->c->n_tc; i++) {
		int ifindex = r->c->tc[i];
		char name[IF_NAMESIZE] = "?";
		enum df_tc_place where;
		struct tc_dump d;
		__u32 ahead = 0;

		if (!if_indextoname((unsigned int)ifindex, name))
			continue; /* gone: the interface watch forgets it */
		where = df_tc_where(ifindex, &ahead);
		if (where == DF_TC_NONE) {
			if (r->c->l && !df_loader_attach_tc(r->c->l, ifindex))
				pr_notice("repaired: our tc program on %s was gone; attached again", name);
			else
				cause(r, true, "tc filter missing: %s", name);
			where = df_tc_where(ifindex, &ahead);
		}
		/* what runs before ours may redirect around it */
		if (where != DF_TC_NONE && ahead)
			cause(r, true, "tcx program ahead of ours: %s (program id %u)", name, ahead);
		if (where == DF_TC_CLSACT && !tc_ahead(ifindex, &d) && d.below)
			cause(r, true, "tc filter ahead of ours: %s (priority %u, %s)", name, d.prio,
			      d.kind);
	}
}

/* ---- heartbeat ---------------------------------------------------------------------------- */

int df_heartbeat_age(int state_fd, int cfg_fd, long long *age_s, unsigned int *stale_after)
{
	struct df_policy_hdr hdr;
	struct df_state st;
	struct timespec now;
	int err = df_active_hdr(state_fd, cfg_fd, &st, &hdr);

	if (err)
		return err;
	clock_gettime(CLOCK_BOOTTIME, &now);
	*stale_after = hdr.stale_after;
	*age_s = st.heartbeat_ns ? ((long long)now.tv_sec * 1000000000LL + now.tv_nsec -
				    (long long)st.heartbeat_ns) / 1000000000LL :
				   -1;
	return 0;
}

static void check_heartbeat(struct run *r)
{
	unsigned int stale_after = 0, limit;
	long long age;

	if (df_heartbeat_age(r->c->state_fd, r->c->cfg_fd, &age, &stale_after))
		return; /* no policy: said elsewhere */
	limit = stale_after ? stale_after : DF_HEARTBEAT_STALE_S;
	/* the words stay the same while it lasts (a cause is logged when it
	 * appears); status has the age */
	if (age < 0)
		cause(r, false, "heartbeat stale: never written");
	else if (age > limit)
		cause(r, false, "heartbeat stale: older than %u s", limit);
}

bool df_bpf_health(const struct df_health_ctx *c, json_t *causes)
{
	struct run r = { .c = c, .causes = causes, .proven = true };
	int rootfd = open(c->cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	check_pins(&r);
	if (rootfd < 0) {
		cause(&r, true, "hook not effective: cannot open %s: %s", c->cgroot, strerror(errno));
	} else {
		check_hooks(&r, rootfd);
		close(rootfd);
	}
	check_selectors(&r);
	check_tc(&r);
	check_heartbeat(&r);
	return r.proven;
}
