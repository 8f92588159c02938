// SPDX-License-Identifier: GPL-2.0-only
/* The BPF backend behind the backend interface (backend.h): the loader and
 * the swap for the daemon (programs attached at the cgroup2 root, tc on
 * the interfaces, drop events from the ring buffer), or the pinned maps
 * alone for the CLI with the agent down. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend.h"
#include "events.h"
#include "health.h"
#include "loader.h"
#include "log.h"
#include "nexthop.h"
#include "revoke.h"
#include "sockdiag.h"
#include "status.h"
#include "storm.h"
#include "swap.h"
#include "testrun.h"

#define MAX_TC 256

struct bpf_backend {
	struct df_backend b;
	struct df_backend_conf conf;
	struct df_loader *l;     /* the daemon's instance; NULL for a reader */
	int pinned[DF_MAP_ID__MAX]; /* a reader's pinned maps (-1: not there) */
	struct ring_buffer *rb;
	struct mnl_socket *nl;   /* interfaces that come and go */
	int tc[MAX_TC];          /* ifindexes with our tc filter */
	size_t n_tc;
	uint64_t lost_reported;
	bool nh_ok; /* the next-hop check's helper device is there (tc) */
	struct df_revoker *rv;   /* the socket iterators; NULL: sock_diag or nothing */
	const char *rv_method;   /* "bpf", "sock_diag", NULL: cannot revoke (rv_why) */
	char rv_why[200];
	time_t rv_last;          /* the last revocation run */
	json_t *causes;          /* the daemon's last check (health.h) */
	/* the storm summaries' reading of df_supp (the daemon's) */
	uint64_t *supp_prev;     /* df_supp as last read, summed over the CPUs */
	uint64_t over_seen;      /* DF_MISC_EVENTS_OVER_BUDGET as last read */
};

static void bpf_heartbeat(struct df_backend *b);

static struct bpf_backend *of(struct df_backend *b)
{
	return (struct bpf_backend *)b;
}

static int map_fd(struct bpf_backend *bb, enum df_map m)
{
	return bb->l ? df_loader_map_fd(bb->l, m) : bb->pinned[m];
}

/* ---- counters ------------------------------------------------------------------ */

/* A per-CPU array's first n entries, `words` u64 each, summed over the
 * CPUs into out[n * words]: batch reads of 1024 entries (a status reads
 * tens of thousands of counters: one syscall each was most of its time). */
static int percpu_sum(int fd, __u32 n, size_t words, uint64_t *out)
{
	const __u32 chunk = 1024;
	int ncpu = libbpf_num_possible_cpus();
	__u32 *keys = calloc(chunk, sizeof(*keys)), in = 0, next = 0, count;
	__u64 *v = calloc((size_t)chunk * (size_t)(ncpu > 0 ? ncpu : 1) * words, sizeof(*v));
	bool first = true;
	int err;

	memset(out, 0, (size_t)n * words * sizeof(*out));
	if (fd < 0 || ncpu <= 0 || !keys || !v) {
		err = fd < 0 ? fd : ncpu <= 0 ? -EINVAL : -ENOMEM;
		goto out;
	}
	do {
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &next, keys, v, &count, NULL);
		if (err && err != -ENOENT)
			break;
		for (__u32 i = 0; i < count; i++)
			for (size_t c = 0; keys[i] < n && c < (size_t)ncpu; c++)
				for (size_t w = 0; w < words; w++)
					out[keys[i] * words + w] += v[((size_t)i * (size_t)ncpu + c) * words + w];
		in = next;
		first = false;
	} while (!err);
	if (err == -ENOENT) /* the end reached */
		err = 0;
out:
	free(keys);
	free(v);
	return err;
}

/* df_supp (events over the budget) summed over the CPUs into
 * out[DF_N_SUPP]. */
static int supp_read(struct bpf_backend *bb, uint64_t *out)
{
	return percpu_sum(map_fd(bb, DF_MAP_ID_SUPP), DF_N_SUPP, 1, out);
}

static void supp_decode(__u32 idx, unsigned int *hook, unsigned int *slot, unsigned int *reason)
{
	*reason = idx % DF_REASON__MAX;
	*slot = (idx / DF_REASON__MAX) % (DF_MAX_CLASSES + 1);
	*hook = idx / DF_REASON__MAX / (DF_MAX_CLASSES + 1);
}

/* Events over the budget, the canary's left out (so that the summaries,
 * which leave it out too, add up to this). */
static uint64_t over_budget(struct bpf_backend *bb, uint64_t canary_mask)
{
	uint64_t *v = calloc(DF_N_SUPP, sizeof(*v)), n = 0;
	unsigned int hook, slot, reason;

	if (v && !supp_read(bb, v))
		for (__u32 i = 0; i < DF_N_SUPP; i++) {
			supp_decode(i, &hook, &slot, &reason);
			if (slot >= DF_MAX_CLASSES || !((canary_mask >> slot) & 1))
				n += v[i];
		}
	free(v);
	return n;
}

/* df_counters summed over the CPUs: {packets, bytes} per index (malloc'd,
 * NULL on error). */
static uint64_t *counters_read(struct bpf_backend *bb)
{
	uint64_t *v = malloc((size_t)DF_N_COUNTERS * 2 * sizeof(*v));

	if (v && percpu_sum(map_fd(bb, DF_MAP_ID_COUNTERS), DF_N_COUNTERS, 2, v)) {
		free(v);
		v = NULL;
	}
	return v;
}

static uint64_t bpf_slot_packets(struct df_backend *b, int slot)
{
	uint64_t *v = counters_read(of(b)), n = 0;

	for (__u32 hook = 0; v && hook < DF_HOOK__MAX; hook++)
		for (int vd = 0; vd < DF_VERDICT__MAX; vd++)
			for (int r = 0; r < DF_REASON__MAX; r++)
				n += v[2 * DF_CNT_INDEX(hook, slot, vd, r)];
	free(v);
	return n;
}

static void bpf_counters(struct df_backend *b, const struct df_policy *p, struct df_counts *c)
{
	struct bpf_backend *bb = of(b);
	int mfd = map_fd(bb, DF_MAP_ID_MISC);
	size_t n_rules = p ? p->n_dests + p->n_excs : DF_MAX_RULES;
	uint64_t *v = counters_read(bb), *rv = malloc(DF_MAX_RULES * 2 * sizeof(*rv));
	const struct {
		__u32 key;
		uint64_t *out;
	} misc[] = {
		{ DF_MISC_EVENTS_SENT, &c->t.events_sent },
		{ DF_MISC_EVENTS_LOST, &c->t.events_lost },
		{ DF_MISC_EVENTS_SUPPRESSED, &c->t.events_suppressed },
		{ DF_MISC_NO_POLICY, &c->t.no_policy },
	};

	struct df_policy_hdr hdr;
	struct df_state st;

	/* the canary's class: the agent's policy says, else the kernel's */
	if (p)
		c->canary_mask = p->canary;
	else if (!df_active_hdr(map_fd(bb, DF_MAP_ID_STATE), map_fd(bb, DF_MAP_ID_CFG), &st, &hdr))
		c->canary_mask = hdr.canary_mask;
	for (__u32 hook = 0; v && hook < DF_HOOK__MAX; hook++)
		for (int slot = 0; slot <= DF_MAX_CLASSES; slot++)
			for (int vd = 0; vd < DF_VERDICT__MAX; vd++)
				for (int r = 0; r < DF_REASON__MAX; r++) {
					const uint64_t *x = &v[2 * DF_CNT_INDEX(hook, slot, vd, r)];

					if (x[0])
						df_counts_add(c, df_hook_name(hook), p, slot, vd, r,
							      x[0], x[1]);
				}
	if (rv && percpu_sum(map_fd(bb, DF_MAP_ID_RULE_CNT), DF_MAX_RULES, 2, rv)) {
		free(rv);
		rv = NULL;
	}
	for (__u32 i = 0; rv && i < n_rules && i < DF_MAX_RULES; i++)
		if (rv[2 * i])
			df_counts_add_rule(c, p, (int)i, rv[2 * i], rv[2 * i + 1], NULL);
	free(v);
	free(rv);
	for (size_t i = 0; mfd >= 0 && i < sizeof(misc) / sizeof(misc[0]); i++) {
		__u64 x;

		if (!bpf_map_lookup_elem(mfd, &misc[i].key, &x))
			*misc[i].out += x;
	}
	c->t.events_over_budget += over_budget(bb, c->canary_mask);
}

/* ---- drop storms ------------------------------------------------------------------------ */

/* Takes every entry of an LRU map (the kernel's storm senders or
 * destinations), in batches; fn gets each. */
static void drain(int fd, size_t key_size, size_t val_size, __u32 max,
		  void (*fn)(const void *k, const void *v, struct df_storm *s), struct df_storm *s)
{
	char *keys = calloc(max, key_size), *vals = calloc(max, val_size);
	__u32 in, out, count;
	bool first = true;
	int err;

	do {
		count = max;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, vals, &count,
						      NULL);
		for (__u32 i = 0; keys && vals && (!err || err == -ENOENT) && i < count; i++)
			fn(keys + i * key_size, vals + i * val_size, s);
		in = out;
		first = false;
	} while (!err && keys && vals);
	free(keys);
	free(vals);
}

static void on_sender(const void *k, const void *v, struct df_storm *s)
{
	const struct df_storm_src_key *sk = k;
	const struct df_storm_src_val *sv = v;

	df_storm_sender(s, sk->cgroup_id, sk->uid, sk->pid, sv->comm, sv->count);
}

static void on_destination(const void *k, const void *v, struct df_storm *s)
{
	df_storm_destination(s, k, *(const __u64 *)v);
}

/* What the kernel did not send since the last call: df_supp's growth by
 * (hook, class, reason), exact; the senders and destinations it noted,
 * and its estimate of the distinct destinations (both taken and cleared:
 * an increment racing the clearing may be missed there, never in df_supp). */
static void bpf_storm(struct df_backend *b, const struct df_policy *p, struct df_storm *s)
{
	struct bpf_backend *bb = of(b);
	__u32 k = DF_MISC_EVENTS_OVER_BUDGET, zero = 0;
	uint64_t *now, canary = p ? p->canary : 0;
	unsigned int hook, slot, reason;
	struct df_hll hll;
	__u64 over = 0;

	if (!bb->supp_prev || bpf_map_lookup_elem(map_fd(bb, DF_MAP_ID_MISC), &k, &over) ||
	    over == bb->over_seen)
		return; /* nothing over the budget since */
	now = calloc(DF_N_SUPP, sizeof(*now));
	if (!now || supp_read(bb, now)) {
		free(now);
		return;
	}
	bb->over_seen = over;
	for (__u32 i = 0; i < DF_N_SUPP; i++) {
		uint64_t d = now[i] - bb->supp_prev[i];

		if (!d)
			continue;
		supp_decode(i, &hook, &slot, &reason);
		if (slot < DF_MAX_CLASSES && ((canary >> slot) & 1))
			continue; /* the agent's own */
		df_storm_count(s, hook, slot, reason, d);
		s->over_budget += d;
	}
	free(bb->supp_prev);
	bb->supp_prev = now;
	/* the estimate right after the counts (the drains take milliseconds:
	 * a storm's events in them would go to the next interval's estimate) */
	if (!bpf_map_lookup_elem(map_fd(bb, DF_MAP_ID_STORM_HLL), &zero, &hll)) {
		df_storm_merge_hll(s, &hll);
		memset(&hll, 0, sizeof(hll));
		bpf_map_update_elem(map_fd(bb, DF_MAP_ID_STORM_HLL), &zero, &hll, BPF_ANY);
	}
	drain(map_fd(bb, DF_MAP_ID_STORM_SRC), sizeof(struct df_storm_src_key),
	      sizeof(struct df_storm_src_val), 1024, on_sender, s);
	drain(map_fd(bb, DF_MAP_ID_STORM_DST), sizeof(struct df_storm_dst_key), sizeof(__u64), 4096,
	      on_destination, s);
}

/* ---- interfaces (tc egress) ------------------------------------------------------------ */

static bool wants_iface(struct bpf_backend *bb, const char *name)
{
	if (!bb->conf.hook_tc || !strcmp(name, "lo"))
		return false;
	if (!bb->conf.n_interfaces)
		return true;
	for (size_t i = 0; i < bb->conf.n_interfaces; i++)
		if (!strcmp(bb->conf.interfaces[i], name))
			return true;
	return false;
}

/* Has this instance attached tc to ifindex? */
static bool attached(const struct bpf_backend *bb, int ifindex)
{
	for (size_t i = 0; i < bb->n_tc; i++)
		if (bb->tc[i] == ifindex)
			return true;
	return false;
}

static void attach_iface(struct bpf_backend *bb, int ifindex, const char *name)
{
	if (attached(bb, ifindex) || !wants_iface(bb, name) || bb->n_tc == MAX_TC)
		return;
	if (df_loader_attach_tc(bb->l, ifindex)) {
		char now[IF_NAMESIZE];

		if (!if_indextoname((unsigned int)ifindex, now))
			df_loader_forget_tc(bb->l, ifindex); /* gone before we got to it */
		else
			pr_err("cannot attach tc egress to %s", name);
		return;
	}
	bb->tc[bb->n_tc++] = ifindex;
	pr_notice("attached tc egress to %s (ifindex %d)", name, ifindex);
}

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct bpf_backend *bb = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *attr;

	if (nlh->nlmsg_type == RTM_DELLINK) {
		for (size_t i = 0; i < bb->n_tc; i++)
			if (bb->tc[i] == ifi->ifi_index) {
				bb->tc[i] = bb->tc[--bb->n_tc];
				pr_notice("interface %d went away", ifi->ifi_index);
			}
		/* nothing of it stays: its pin, its entry (the table of
		 * devices would fill up on a host that makes and removes
		 * container interfaces all day, and tc attach no more) */
		df_loader_forget_tc(bb->l, ifi->ifi_index);
		return MNL_CB_OK;
	}
	mnl_attr_for_each(attr, nlh, sizeof(*ifi))
		if (mnl_attr_get_type(attr) == IFLA_IFNAME)
			attach_iface(bb, ifi->ifi_index, mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void attach_all_ifaces(struct bpf_backend *bb)
{
	struct if_nameindex *ifs = if_nameindex();

	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		attach_iface(bb, (int)i->if_index, i->if_name);
	if (ifs)
		if_freenameindex(ifs);
}

/* ---- drop events --------------------------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct bpf_backend *bb = ctx;
	const struct df_event *e = data;

	if (size >= sizeof(*e) && e->version == DF_EVENT_VERSION && bb->conf.on_event)
		bb->conf.on_event(e, bb->conf.ctx);
	return 0;
}

static uint64_t events_lost(struct bpf_backend *bb)
{
	__u32 k = DF_MISC_EVENTS_LOST;
	__u64 lost = 0;

	bpf_map_lookup_elem(map_fd(bb, DF_MAP_ID_MISC), &k, &lost);
	return lost;
}

/* ---- instances ------------------------------------------------------------------------ */

static struct bpf_backend *bpf_new(const struct df_backend_conf *c)
{
	struct bpf_backend *bb = calloc(1, sizeof(*bb));

	if (!bb)
		return NULL;
	bb->b.ops = &df_bpf_backend;
	bb->conf = *c;
	for (int i = 0; i < DF_MAP_ID__MAX; i++)
		bb->pinned[i] = -1;
	return bb;
}

static void bpf_close(struct df_backend *b)
{
	struct bpf_backend *bb = of(b);

	if (!bb)
		return;
	if (bb->rb)
		ring_buffer__consume(bb->rb); /* what is pending still goes out */
	ring_buffer__free(bb->rb);
	if (bb->nl)
		mnl_socket_close(bb->nl);
	for (int i = 0; i < DF_MAP_ID__MAX; i++)
		if (bb->pinned[i] >= 0)
			close(bb->pinned[i]);
	df_revoker_close(bb->rv);
	json_decref(bb->causes);
	free(bb->supp_prev);
	df_loader_close(bb->l);
	free(bb);
}

/* How live sockets will be revoked: the socket iterators, else sock_diag. */
static void revocation_probe(struct bpf_backend *bb)
{
	int err;

	if (bb->conf.revoke_sock_diag)
		snprintf(bb->rv_why, sizeof(bb->rv_why), "sock_diag chosen in agent.conf");
	else if (!df_revoker_open(bb->conf.pin_dir, &bb->rv, bb->rv_why, sizeof(bb->rv_why)))
		bb->rv_method = "bpf";
	if (!bb->rv) {
		err = df_diag_revoke_probe();
		if (!err)
			bb->rv_method = "sock_diag";
		else
			snprintf(bb->rv_why + strlen(bb->rv_why), sizeof(bb->rv_why) - strlen(bb->rv_why),
				 "; sock_diag cannot destroy sockets: %s", strerror(-err));
	}
	if (bb->rv_method)
		pr_notice("live sockets are revoked through %s", bb->rv_method);
	else
		pr_warn("live sockets cannot be revoked: %s", bb->rv_why);
}

/* The helper device for tc's next-hop check, made and set again. */
static void nh_helper(struct bpf_backend *bb)
{
	int ifindex = 0;
	bool ok = !df_nh_helper_ensure(&ifindex);

	df_loader_set_nh_helper(bb->l, ok ? ifindex : 0);
	if (ok && !bb->nh_ok)
		pr_notice("next-hop checks through %s (ifindex %d)", DF_NH_HELPER, ifindex);
	bb->nh_ok = ok;
}

/* Where an earlier instance attached tc and this one did not: a device
 * gone is forgotten; one agent.conf no longer names (or with the tc hook
 * off) loses our program, so nothing filters where agent.conf says nothing
 * should and health asks only about this instance's devices. A wanted
 * device this instance could not attach keeps the program it had. */
static void sweep_ifaces(struct bpf_backend *bb)
{
	int fd = map_fd(bb, DF_MAP_ID_IFACES), stale[1024];
	__u32 key, *prev = NULL;
	size_t n = 0;

	while (n < sizeof(stale) / sizeof(stale[0]) && !bpf_map_get_next_key(fd, prev, &key)) {
		if (!attached(bb, (int)key))
			stale[n++] = (int)key;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		char name[IF_NAMESIZE];

		if (!if_indextoname((unsigned int)stale[i], name))
			df_loader_forget_tc(bb->l, stale[i]);
		else if (!wants_iface(bb, name) && !df_loader_detach_tc(bb->l, stale[i]))
			pr_notice("took tc egress off %s (ifindex %d): %s", name, stale[i],
				  bb->conf.hook_tc ? "not among agent.conf's interfaces" :
						     "the tc hook is off in agent.conf");
	}
}

static void watch_interfaces(struct bpf_backend *bb)
{
	bb->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!bb->nl || mnl_socket_bind(bb->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		pr_warn("cannot watch interfaces (rtnetlink): %s", strerror(errno));
		if (bb->nl)
			mnl_socket_close(bb->nl);
		bb->nl = NULL;
	}
	attach_all_ifaces(bb);
	sweep_ifaces(bb);
}

static int bpf_start(const struct df_backend_conf *c, struct df_backend **out)
{
	struct df_loader_opts lo = { .pin_dir = c->pin_dir, .cgroup_skb = c->hook_cgroup_skb,
				     .sock_addr = c->hook_sock_addr,
				     .tc_clsact = c->tc_clsact };
	struct bpf_backend *bb = bpf_new(c);
	int err;

	if (!bb)
		return -ENOMEM;
	err = df_loader_open(&lo, &bb->l);
	if (!err)
		err = df_loader_attach(bb->l);
	if (err)
		goto fail;
	pr_notice("attached %s%s at cgroup %s; pins in %s", c->hook_cgroup_skb ? "cgroup_skb " : "",
		  c->hook_sock_addr ? "connect/sendmsg" : "", c->cgroot, c->pin_dir);
	if (c->hook_tc) {
		nh_helper(bb);
		watch_interfaces(bb);
	} else {
		sweep_ifaces(bb); /* an earlier start's tc programs */
	}
	bb->rb = ring_buffer__new(map_fd(bb, DF_MAP_ID_EVENTS), on_event, bb, NULL);
	if (!bb->rb) {
		err = -errno;
		goto fail;
	}
	bb->lost_reported = events_lost(bb);
	/* what was over the budget before this start is no storm of ours */
	bb->supp_prev = calloc(DF_N_SUPP, sizeof(*bb->supp_prev));
	if (bb->supp_prev && supp_read(bb, bb->supp_prev)) {
		free(bb->supp_prev);
		bb->supp_prev = NULL;
	} else {
		__u32 k = DF_MISC_EVENTS_OVER_BUDGET;

		bpf_map_lookup_elem(map_fd(bb, DF_MAP_ID_MISC), &k, &bb->over_seen);
	}
	df_loader_set_clock(bb->l);
	df_loader_set_event_rate(bb->l, c->event_rate);
	bpf_heartbeat(&bb->b); /* alive before the first policy goes in */
	revocation_probe(bb);
	*out = &bb->b;
	return 0;
fail:
	bpf_close(&bb->b);
	return err;
}

static int bpf_probe(const struct df_backend_conf *c, struct df_backend **out)
{
	static const enum df_map want[] = { DF_MAP_ID_STATE, DF_MAP_ID_CFG, DF_MAP_ID_COUNTERS,
					    DF_MAP_ID_RULE_CNT, DF_MAP_ID_MISC, DF_MAP_ID_IFACES,
					    DF_MAP_ID_SUPP };
	struct bpf_backend *bb;

	bb = bpf_new(c);
	if (!bb)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		bb->pinned[want[i]] = df_map_pinned_fd(c->pin_dir, want[i]);
	if (bb->pinned[DF_MAP_ID_STATE] < 0) {
		bpf_close(&bb->b);
		return -ENOENT;
	}
	*out = &bb->b;
	return 0;
}

/* ---- what the interface asks ------------------------------------------------------------- */

static int bpf_apply(struct df_backend *b, const struct df_loaded *l, struct df_diags *d)
{
	return df_loader_swap(of(b)->l, l->img, d);
}

static int bpf_revoke(struct df_backend *b, const struct df_loaded *l, const char *why)
{
	struct bpf_backend *bb = of(b);
	int n;

	if (!bb->rv_method)
		return -EOPNOTSUPP;
	bb->rv_last = time(NULL);
	if (!bb->rv) {
		df_diag_revoke_for(&bb->conf, l, why);
		return 0;
	}
	n = df_revoker_run(bb->rv);
	if (n < 0)
		pr_err("revocation (%s): %s", why, strerror(-n));
	else
		pr_info("revocation (%s): sockets judged in %d network namespaces", why, n);
	return 0;
}

static int bpf_active(struct df_backend *b, uint64_t *serial)
{
	struct bpf_backend *bb = of(b);

	return df_active_serial(map_fd(bb, DF_MAP_ID_STATE), map_fd(bb, DF_MAP_ID_CFG), serial);
}

static bool link_pinned(struct bpf_backend *bb, const char *prog)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/link_%s", bb->conf.pin_dir, prog);
	return !access(path, F_OK);
}

/* The daemon's last check, or a reader's own (no repairs). */
static void health_causes(struct bpf_backend *bb, const struct df_loaded *l, json_t *health)
{
	struct df_health_ctx c = { .pin_dir = bb->conf.pin_dir, .cgroot = bb->conf.cgroot,
				   .pol = l, .state_fd = map_fd(bb, DF_MAP_ID_STATE),
				   .cfg_fd = map_fd(bb, DF_MAP_ID_CFG) };
	int ifs[MAX_TC];
	json_t *v, *causes;
	size_t i;

	__u32 key, *prev = NULL;

	if (bb->l) {
		json_array_foreach(bb->causes, i, v)
			json_array_append(health, v);
		return;
	}
	/* where the daemon attached tc: the interfaces it described for it */
	while (c.n_tc < MAX_TC && !bpf_map_get_next_key(map_fd(bb, DF_MAP_ID_IFACES), prev, &key)) {
		ifs[c.n_tc++] = (int)key;
		prev = &key;
	}
	c.tc = ifs;
	causes = json_array();
	df_bpf_health(&c, causes);
	json_array_extend(health, causes);
	json_decref(causes);
}

static void bpf_status(struct df_backend *b, const struct df_loaded *l, json_t *st, json_t *health)
{
	struct bpf_backend *bb = of(b);
	json_t *att = json_object_get(st, "attachments"), *tc = json_array(), *missing = json_array();
	uint64_t serial = 0;
	bool active = !bpf_active(b, &serial);
	char name[IF_NAMESIZE];

	long long age = -1;
	unsigned int stale_after = 0;

	if (df_heartbeat_age(map_fd(bb, DF_MAP_ID_STATE), map_fd(bb, DF_MAP_ID_CFG), &age,
			     &stale_after))
		age = -1;
	json_object_set_new(st, "bpf",
			    json_pack("{s:s, s:o, s:{s:o, s:I}}", "pin_dir", bb->conf.pin_dir, "serial",
				      active ? json_integer((json_int_t)serial) : json_null(),
				      "heartbeat", "age_s",
				      age >= 0 ? json_integer(age) : json_null(), "stale_after",
				      (json_int_t)stale_after));
	if (bb->l) /* the daemon's probe at start */
		json_object_set_new(st, "revocation",
				    df_revocation_json(bb->rv_method, bb->rv_why, bb->rv_last));
	/* the daemon's attachments; a reader's from the pins and the interfaces */
	json_object_set_new(att, "cgroup", json_string(bb->conf.cgroot ? bb->conf.cgroot : ""));
	json_object_set_new(att, "cgroup_skb", json_boolean(bb->l ? bb->conf.hook_cgroup_skb :
							   link_pinned(bb, "cgroup_skb")));
	json_object_set_new(att, "sock_addr", json_boolean(bb->l ? bb->conf.hook_sock_addr :
							  link_pinned(bb, "connect4")));
	if (bb->l) {
		for (size_t i = 0; i < bb->n_tc; i++)
			json_array_append_new(tc, json_string(if_indextoname((unsigned int)bb->tc[i], name) ?
								      name : "?"));
		for (size_t i = 0; i < bb->conf.n_interfaces; i++)
			if (!attached(bb, (int)if_nametoindex(bb->conf.interfaces[i])))
				json_array_append_new(missing, json_string(bb->conf.interfaces[i]));
	} else {
		struct if_nameindex *ifs = if_nameindex();

		for (struct if_nameindex *i = ifs; i && i->if_index; i++)
			if (df_tc_where((int)i->if_index, NULL) != DF_TC_NONE)
				json_array_append_new(tc, json_string(i->if_name));
		if (ifs)
			if_freenameindex(ifs);
	}
	json_object_set_new(att, "tc", tc);
	json_object_set_new(att, "tc_missing", missing);
	health_causes(bb, l, health);
	if (json_array_size(missing))
		json_array_append_new(health, json_string("interface not attached"));
	if (bb->l && bb->conf.hook_tc && !bb->nh_ok)
		json_array_append_new(health, json_string("next-hop checks unavailable"));
}

static void bpf_tick(struct df_backend *b, const struct df_loaded *l)
{
	struct bpf_backend *bb = of(b);
	uint64_t lost = events_lost(bb);

	df_loader_set_clock(bb->l);
	if (bb->conf.hook_tc)
		nh_helper(bb);
	if (lost > bb->lost_reported) {
		pr_warn("%llu drop events lost (ring buffer full); counters are exact",
			(unsigned long long)(lost - bb->lost_reported));
		bb->lost_reported = lost;
	}
}

static bool bpf_check(struct df_backend *b, const struct df_loaded *l)
{
	struct bpf_backend *bb = of(b);
	struct df_health_ctx c = { .pin_dir = bb->conf.pin_dir, .cgroot = bb->conf.cgroot,
				   .l = bb->l, .tc = bb->tc, .n_tc = bb->n_tc, .pol = l,
				   .state_fd = map_fd(bb, DF_MAP_ID_STATE),
				   .cfg_fd = map_fd(bb, DF_MAP_ID_CFG) };
	json_t *causes = json_array();
	bool proven = df_bpf_health(&c, causes);
	size_t i;
	json_t *v;

	/* a cause is logged when it appears, and when it is gone */
	json_array_foreach(causes, i, v)
		if (!df_json_array_has(bb->causes, json_string_value(v)))
			pr_warn("health: %s", json_string_value(v));
	json_array_foreach(bb->causes, i, v)
		if (!df_json_array_has(causes, json_string_value(v)))
			pr_notice("health: no longer: %s", json_string_value(v));
	json_decref(bb->causes);
	bb->causes = causes;
	return proven;
}

static void bpf_heartbeat(struct df_backend *b)
{
	struct bpf_backend *bb = of(b);
	struct df_state st;
	struct timespec now;

	clock_gettime(CLOCK_BOOTTIME, &now);
	if (df_loader_read_state(bb->l, &st))
		return;
	st.heartbeat_ns = (__u64)now.tv_sec * 1000000000ULL + (__u64)now.tv_nsec;
	df_loader_write_state(bb->l, &st);
}

static int bpf_fds(struct df_backend *b, int *fds, int max)
{
	struct bpf_backend *bb = of(b);
	int n = 0;

	if (bb->rb && n < max)
		fds[n++] = ring_buffer__epoll_fd(bb->rb);
	if (bb->nl && n < max)
		fds[n++] = mnl_socket_get_fd(bb->nl);
	return n;
}

static void bpf_ready(struct df_backend *b, int fd, const struct df_loaded *l)
{
	struct bpf_backend *bb = of(b);
	char buf[MNL_SOCKET_BUFFER_SIZE];

	if (bb->nl && fd == mnl_socket_get_fd(bb->nl)) {
		ssize_t r = mnl_socket_recvfrom(bb->nl, buf, sizeof(buf));

		if (r > 0)
			mnl_cb_run(buf, (size_t)r, 0, 0, on_link, bb);
	} else if (bb->rb) {
		ring_buffer__consume(bb->rb);
	}
}

static int bpf_judge(const struct df_backend_conf *c, const struct df_loaded *l,
		     const struct df_flow_query *q, struct df_result *res, char *why, size_t len)
{
	return df_bpf_judge(c->pin_dir, q->pkt, q->classes, q->now_given ? q->now : 0, res, why,
			    len);
}

static int bpf_unload(const struct df_backend_conf *c, char *msg, size_t len)
{
	bool pinned = !access(c->pin_dir, F_OK);
	int err = df_loader_unload(c->pin_dir);

	if (err)
		snprintf(msg, len, "unload %s: %s", c->pin_dir, strerror(-err));
	else if (!pinned)
		snprintf(msg, len, "nothing pinned in %s", c->pin_dir);
	else
		snprintf(msg, len, "hooks detached, %s unpinned", c->pin_dir);
	return err ? err : pinned ? 0 : -ENOENT;
}

const struct df_backend_ops df_bpf_backend = {
	.name = "bpf",
	.judge_key = "kernel",
	.judge_what = "the kernel (the loaded program, BPF_PROG_TEST_RUN)",
	.start = bpf_start,
	.probe = bpf_probe,
	.close = bpf_close,
	.apply = bpf_apply,
	.active = bpf_active,
	.status = bpf_status,
	.counters = bpf_counters,
	.tick = bpf_tick,
	.fds = bpf_fds,
	.ready = bpf_ready,
	.judge = bpf_judge,
	.unload = bpf_unload,
	.revoke = bpf_revoke,
	.slot_packets = bpf_slot_packets,
	.check = bpf_check,
	.heartbeat = bpf_heartbeat,
	.storm = bpf_storm,
};
