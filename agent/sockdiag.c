// SPDX-License-Identifier: GPL-2.0-only
/* Revocation through sock_diag (sockdiag.h). */
#include "sockdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cgpath.h"
#include "log.h"
#include "netns.h"
#include "policy.h"
#include "refeval.h"

/* ---- cgroup ids to the paths policies name --------------------------------------------- */

/* One run's cgroups, resolved by file handle as sockets name them. */
static struct df_cgpaths cgs;

/* ---- one namespace ------------------------------------------------------------------------ */

#define MAX_DOOMED 4096

struct pass {
	struct df_diag_revoke *r;
	uint8_t proto;
	struct inet_diag_req_v2 doomed[MAX_DOOMED]; /* what to destroy once the dump is over */
	size_t n_doomed;
};

static void addr_of(uint8_t family, const __be32 *a, struct df_cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = family == AF_INET ? 4 : 6;
	c->plen = c->family == 4 ? 32 : 128;
	memcpy(c->addr, a, c->family == 4 ? 4 : 16);
}

static void report(struct pass *ps, const struct inet_diag_msg *m, const struct df_packet *pkt,
		   const struct df_result *res, uint64_t cgroup_id)
{
	struct df_diag_revoke *r = ps->r;
	struct df_event e = {
		.version = DF_EVENT_VERSION, .hook = DF_HOOK_REVOKE, .verdict = (uint8_t)res->verdict,
		.reason = (uint8_t)res->reason, .family = pkt->dst.family, .proto = ps->proto,
		.rule = res->rule < 0 ? DF_NO_RULE : (uint16_t)res->rule, .classes = res->classes,
		.sport = pkt->sport, .dport = pkt->dport, .uid = m->idiag_uid,
		.cgroup_id = cgroup_id, .ifindex = m->id.idiag_if, .serial = r->p->serial,
	};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	e.ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	memcpy(e.saddr, pkt->src.addr, 16);
	memcpy(e.daddr, pkt->dst.addr, 16);
	if (r->on_event)
		r->on_event(&e, r->ctx);
}

static int on_socket(const struct nlmsghdr *nlh, void *data)
{
	struct pass *ps = data;
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct df_packet pkt = { .proto = ps->proto, .uid = m->idiag_uid };
	uint64_t cgroup_id = 0;
	struct df_result res;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*m)) {
		if (mnl_attr_get_type(a) == INET_DIAG_MARK && mnl_attr_get_payload_len(a) >= 4)
			pkt.mark = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == INET_DIAG_CGROUP_ID &&
			 mnl_attr_get_payload_len(a) >= 8)
			cgroup_id = mnl_attr_get_u64(a);
	}
	addr_of(m->idiag_family, m->id.idiag_src, &pkt.src);
	addr_of(m->idiag_family, m->id.idiag_dst, &pkt.dst);
	df_addr_unmap(&pkt.dst);
	df_addr_unmap(&pkt.src);
	pkt.sport = ntohs(m->id.idiag_sport);
	pkt.dport = ntohs(m->id.idiag_dport);
	pkt.cgroup = df_cgpaths_get(&cgs, cgroup_id);
	/* a flow to a loopback address runs over the loopback device */
	pkt.flags = df_addr_is_loopback(&pkt.dst) ? 0 : DF_PKT_NOT_LO;
	ps->r->judged++;
	res.classes = df_ref_classify(ps->r->p, &pkt);
	if (!res.classes)
		return MNL_CB_OK;
	df_ref_verdict(ps->r->p, &pkt, res.classes, (int64_t)time(NULL), &res);
	if (res.verdict == DF_ALLOW)
		return MNL_CB_OK;
	if (res.verdict == DF_DROP && ps->n_doomed < MAX_DOOMED) {
		struct inet_diag_req_v2 *q = &ps->doomed[ps->n_doomed++];

		*q = (struct inet_diag_req_v2){ .sdiag_family = m->idiag_family,
						.sdiag_protocol = ps->proto,
						.idiag_states = ~0U, .id = m->id };
	}
	report(ps, m, &pkt, &res, cgroup_id);
	return MNL_CB_OK;
}

/* One request; dumps run cb on each answer, others take the ack. */
static int talk(struct mnl_socket *nl, uint16_t type, uint16_t flags,
		const struct inet_diag_req_v2 *req, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint32_t seq = (uint32_t)time(NULL), port = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(*req)), req, sizeof(*req));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, seq, port, cb, data);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

static void revoke_proto(struct mnl_socket *nl, struct pass *ps, uint8_t family)
{
	/* connected sockets: TCP that can still carry data, UDP with a peer */
	struct inet_diag_req_v2 req = {
		.sdiag_family = family, .sdiag_protocol = ps->proto,
		.idiag_states = ps->proto == IPPROTO_TCP ?
			(1U << TCP_ESTABLISHED) | (1U << TCP_SYN_SENT) | (1U << TCP_CLOSE_WAIT) :
			(1U << TCP_ESTABLISHED),
	};
	int err;

	ps->n_doomed = 0;
	err = talk(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, on_socket, ps);
	if (err)
		pr_warn("revocation: cannot list sockets: %s", strerror(-err));
	for (size_t i = 0; i < ps->n_doomed; i++) {
		err = talk(nl, SOCK_DESTROY, NLM_F_ACK, &ps->doomed[i], NULL, NULL);
		if (err && err != -ENOENT) { /* ENOENT: it went away by itself */
			ps->r->failed++;
			pr_warn("revocation: cannot destroy a socket: %s", strerror(-err));
		} else {
			ps->r->revoked++;
		}
	}
}

static void revoke_here(void *arg, const char *where)
{
	struct pass *ps = arg;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		pr_warn("revocation in %s: sock_diag: %s", where, strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return;
	}
	for (int f = 0; f < 2; f++) {
		ps->proto = IPPROTO_TCP;
		revoke_proto(nl, ps, f ? AF_INET6 : AF_INET);
		ps->proto = IPPROTO_UDP;
		revoke_proto(nl, ps, f ? AF_INET6 : AF_INET);
	}
	mnl_socket_close(nl);
}

int df_diag_revoke_run(struct df_diag_revoke *r)
{
	struct pass *ps = calloc(1, sizeof(*ps));
	int n;

	if (!ps)
		return -ENOMEM;
	ps->r = r;
	df_cgpaths_init(&cgs, r->cgroot);
	n = df_each_netns(revoke_here, ps);
	df_cgpaths_fini(&cgs);
	free(ps);
	return n;
}

int df_diag_revoke_probe(void)
{
	/* no socket has this id: a kernel that can destroy says ENOENT */
	struct inet_diag_req_v2 req = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
					.idiag_states = ~0U };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	int err;

	if (!nl)
		return -errno;
	err = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno :
		talk(nl, SOCK_DESTROY, NLM_F_ACK, &req, NULL, NULL);
	mnl_socket_close(nl);
	return err == -ENOENT ? 0 : err ? err : -EPROTO;
}

void df_diag_revoke_for(const struct df_backend_conf *c, const struct df_loaded *l,
			const char *why)
{
	struct df_diag_revoke r = { .p = l->p, .cgroot = c->cgroot, .on_event = c->on_event,
				    .ctx = c->ctx };
	int n = df_diag_revoke_run(&r);

	if (n < 0)
		pr_err("revocation (%s): %s", why, strerror(-n));
	else
		pr_info("revocation (%s, sock_diag): %u sockets judged in %d network namespaces, "
			"%u revoked%s", why, r.judged, n, r.revoked, r.failed ? ", some not" : "");
}
