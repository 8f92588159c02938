// SPDX-License-Identifier: GPL-2.0-only
/* The reference evaluator: the verdict algorithm of docs/semantics.md, step by step, from
 * the parsed policy. Slow and plain on purpose; the emulator and the kernel
 * are tested against it. */
#include <string.h>

#include "refeval.h"

#include "policy.h"
#include "values.h"

/* Is `cg` the selector path or below it? */
static bool cgroup_under(const char *cg, const char *sel)
{
	size_t n = strlen(sel);

	if (!strcmp(sel, "/"))
		return true;
	return !strncmp(cg, sel, n) && (cg[n] == '\0' || cg[n] == '/');
}

static bool class_matches(const struct df_class *c, const struct df_packet *pkt)
{
	if (c->all)
		return true;
	for (size_t i = 0; pkt->cgroup && i < c->n_cgroups; i++)
		if (cgroup_under(pkt->cgroup, c->cgroups[i]))
			return true;
	for (size_t i = 0; pkt->uid != DF_UID_NONE && i < c->n_uids; i++)
		if (c->uids[i] == pkt->uid)
			return true;
	for (size_t i = 0; i < c->n_marks; i++)
		if ((pkt->mark & c->marks[i].mask) == c->marks[i].value)
			return true;
	for (size_t i = 0; i < c->n_lports; i++)
		if (pkt->sport >= c->lports[i].lo && pkt->sport <= c->lports[i].hi)
			return true;
	for (size_t i = 0; i < c->n_laddrs; i++)
		if (df_cidr_contains(&c->laddrs[i], &pkt->src))
			return true;
	return false;
}

uint64_t df_ref_classify(const struct df_policy *p, const struct df_packet *pkt)
{
	struct df_packet q = *pkt;
	uint64_t mask = 0;

	df_addr_unmap(&q.src);
	for (size_t i = 0; i < p->n_classes; i++)
		if (class_matches(&p->classes[i], &q))
			mask |= 1ULL << i;
	return mask;
}

/* "contains the destination address (in cidrs, not in except)" */
static bool match_contains(const struct df_match *m, const struct df_cidr *a)
{
	bool in = false;

	for (size_t i = 0; i < m->n_cidrs && !in; i++)
		in = df_cidr_contains(&m->cidrs[i], a);
	for (size_t i = 0; i < m->n_except && in; i++)
		in = !df_cidr_contains(&m->except[i], a);
	return in;
}

static bool match_proto(const struct df_match *m, uint8_t proto)
{
	return m->protos & df_proto_bit(proto);
}

/* Ports constrain only tcp, udp and sctp packets. */
static bool match_port(const struct df_match *m, uint8_t proto, uint16_t port)
{
	if (!(df_proto_bit(proto) & DF_P_PORTED) || !m->n_ports)
		return true;
	for (size_t i = 0; i < m->n_ports; i++)
		if (port >= m->ports[i].lo && port <= m->ports[i].hi)
			return true;
	return false;
}

static bool exc_active(const struct df_exception *e, int64_t now)
{
	return e->not_before <= now && now < e->expires;
}

/* Step 4 for one class: the satisfying destination, else exception, or -1. */
static int satisfy_by_dest(const struct df_policy *p, int c, const struct df_packet *pkt)
{
	for (size_t i = 0; i < p->n_dests; i++) {
		const struct df_dest *d = &p->dests[i];

		if ((d->allow & (1ULL << c)) && match_contains(&d->m, &pkt->dst) &&
		    match_proto(&d->m, pkt->proto) && match_port(&d->m, pkt->proto, pkt->dport))
			return (int)i;
	}
	return -1;
}

/* The first exception for class c matching address, protocol and port,
 * active (want_active) or outside its window. */
static int find_exception(const struct df_policy *p, int c, const struct df_packet *pkt,
			  int64_t now, bool want_active)
{
	for (size_t i = 0; i < p->n_excs; i++) {
		const struct df_exception *e = &p->excs[i];

		if (e->class_idx == c && match_contains(&e->m, &pkt->dst) &&
		    match_proto(&e->m, pkt->proto) && match_port(&e->m, pkt->proto, pkt->dport) &&
		    exc_active(e, now) == want_active)
			return (int)(p->n_dests + i);
	}
	return -1;
}

/* Step 6: why class c is not satisfied, and the rule behind the reason. */
static enum df_reason why_not(const struct df_policy *p, int c, const struct df_packet *pkt,
			      int64_t now, int *rule)
{
	int first_allowing = -1;

	*rule = find_exception(p, c, pkt, now, false);
	if (*rule >= 0)
		return DF_R_EXCEPTION_INACTIVE;
	for (size_t i = 0; i < p->n_dests; i++) {
		const struct df_dest *d = &p->dests[i];

		if (!(d->allow & (1ULL << c)) || !match_contains(&d->m, &pkt->dst))
			continue;
		if (match_proto(&d->m, pkt->proto)) {
			*rule = (int)i;
			return DF_R_PORT_NOT_ALLOWED;
		}
		if (first_allowing < 0)
			first_allowing = (int)i;
	}
	if (first_allowing >= 0) {
		*rule = first_allowing;
		return DF_R_PROTOCOL_NOT_ALLOWED;
	}
	*rule = -1;
	for (size_t i = 0; i < p->n_dests; i++)
		if (match_contains(&p->dests[i].m, &pkt->dst))
			return DF_R_CLASS_NOT_ALLOWED;
	return DF_R_NO_DESTINATION;
}

void df_ref_verdict(const struct df_policy *p, const struct df_packet *pkt_in,
		    uint64_t classes, int64_t now, struct df_result *res)
{
	struct df_packet pkt = *pkt_in;
	uint64_t unsat = 0, by_exc = 0, enforce = 0;
	int first_rule = -1, exc_rule = -1;

	memset(res, 0, sizeof(*res));
	res->classes = classes;
	res->slot = classes ? __builtin_ctzll(classes) : DF_MAX_CLASSES;
	res->rule = -1;
	res->verdict = DF_ALLOW;

	/* 1. IPv4-mapped IPv6 is judged as the IPv4 address it is. */
	df_addr_unmap(&pkt.dst);
	/* 2. Loopback. */
	if (p->allow_loopback && !(pkt.flags & DF_PKT_NOT_LO) && df_addr_is_loopback(&pkt.dst)) {
		res->reason = DF_R_LOOPBACK;
		return;
	}
	/* 3. No class: not protected data. */
	if (!classes) {
		res->reason = DF_R_UNCLASSIFIED;
		return;
	}
	/* 3a. The dead-man posture: an expired policy or a stale agent. */
	if (p->drop_stale && ((p->expires && now >= p->expires) || (pkt.flags & DF_PKT_STALE))) {
		for (size_t c = 0; c < p->n_classes; c++)
			if ((classes & (1ULL << c)) && p->classes[c].mode == DF_MODE_ENFORCE)
				enforce |= 1ULL << c;
		res->verdict = enforce ? DF_DROP : DF_WOULD_DROP;
		res->slot = __builtin_ctzll(enforce ? enforce : classes);
		res->reason = p->expires && now >= p->expires ? DF_R_POLICY_EXPIRED : DF_R_AGENT_STALE;
		return;
	}
	/* 4. Each class: a destination, else an active exception. */
	for (size_t c = 0; c < p->n_classes; c++) {
		int r;

		if (!(classes & (1ULL << c)))
			continue;
		if (p->classes[c].mode == DF_MODE_ENFORCE)
			enforce |= 1ULL << c;
		r = satisfy_by_dest(p, (int)c, &pkt);
		if (r >= 0) {
			if (first_rule < 0)
				first_rule = r;
			continue;
		}
		r = find_exception(p, (int)c, &pkt, now, true);
		if (r >= 0) {
			by_exc |= 1ULL << c;
			if (exc_rule < 0)
				exc_rule = r;
			continue;
		}
		unsat |= 1ULL << c;
	}
	/* 5. All satisfied. */
	if (!unsat) {
		res->reason = by_exc ? DF_R_EXCEPTION : DF_R_DESTINATION;
		res->rule = by_exc ? exc_rule : first_rule;
		return;
	}
	/* 6. The first unsatisfied class of the deciding mode. */
	uint64_t deciding = (unsat & enforce) ? (unsat & enforce) : unsat;

	res->verdict = (unsat & enforce) ? DF_DROP : DF_WOULD_DROP;
	res->slot = __builtin_ctzll(deciding);
	res->reason = why_not(p, res->slot, &pkt, now, &res->rule);
}
