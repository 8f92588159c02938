// SPDX-License-Identifier: GPL-2.0-only
/* NFLOG over libmnl: bind a group, read packet reports (see nflog.h). */
#include "nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>

#include "nft.h"
#include "verdict.h"

struct df_nflog {
	struct mnl_socket *nl;
	uint16_t group;
	char *buf;
};

static int config(struct df_nflog *l, uint16_t type, const void *data, size_t len,
		  uint8_t family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(l->group);
	mnl_attr_put(nlh, type, len, data);
	if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	ssize_t n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf));

	if (n < 0)
		return -errno;
	return mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(l->nl), NULL,
			  NULL) < 0 ? -errno : 0;
}

int df_nflog_open(uint16_t group, struct df_nflog **out)
{
	struct df_nflog *l = calloc(1, sizeof(*l));
	struct nfulnl_msg_config_cmd bind = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = { .copy_range = htonl(128),
					       .copy_mode = NFULNL_COPY_PACKET };
	int rcv = 4 * 1024 * 1024, err;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->group = group;
	l->buf = malloc(MNL_SOCKET_BUFFER_SIZE * 8);
	l->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!l->buf || !l->nl || mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = errno ? -errno : -ENOMEM;
		df_nflog_close(l);
		return err;
	}
	setsockopt(mnl_socket_get_fd(l->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	err = config(l, NFULA_CFG_CMD, &bind, sizeof(bind), AF_UNSPEC);
	if (!err) /* the packet's first 128 bytes; owner uid comes with it */
		err = config(l, NFULA_CFG_MODE, &mode, sizeof(mode), AF_UNSPEC);
	if (err) {
		df_nflog_close(l);
		return err;
	}
	*out = l;
	return 0;
}

int df_nflog_fd(const struct df_nflog *l)
{
	return mnl_socket_get_fd(l->nl);
}

struct read_ctx {
	df_nflog_cb cb;
	void *ctx;
};

static int on_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) >= 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *c = data;
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct df_nflog_rec r = { .family = nfg->nfgen_family };

	if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nfg), on_attr, tb);
	if (!tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	r.payload = mnl_attr_get_payload(tb[NFULA_PAYLOAD]);
	r.len = mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]);
	if (tb[NFULA_PREFIX])
		snprintf(r.prefix, sizeof(r.prefix), "%.*s",
			 (int)mnl_attr_get_payload_len(tb[NFULA_PREFIX]),
			 (const char *)mnl_attr_get_payload(tb[NFULA_PREFIX]));
	if (tb[NFULA_MARK])
		r.mark = ntohl(mnl_attr_get_u32(tb[NFULA_MARK]));
	if (tb[NFULA_UID]) {
		r.has_uid = true;
		r.uid = ntohl(mnl_attr_get_u32(tb[NFULA_UID]));
	}
	if (tb[NFULA_IFINDEX_OUTDEV])
		r.ifindex = ntohl(mnl_attr_get_u32(tb[NFULA_IFINDEX_OUTDEV]));
	if (tb[NFULA_TIMESTAMP] &&
	    mnl_attr_get_payload_len(tb[NFULA_TIMESTAMP]) >= sizeof(struct nfulnl_msg_packet_timestamp)) {
		const struct nfulnl_msg_packet_timestamp *t = mnl_attr_get_payload(tb[NFULA_TIMESTAMP]);

		r.ts_ns = (int64_t)be64toh(t->sec) * 1000000000LL + (int64_t)be64toh(t->usec) * 1000;
	}
	c->cb(&r, c->ctx);
	return MNL_CB_OK;
}

int df_nflog_read(struct df_nflog *l, df_nflog_cb cb, void *ctx, uint64_t *lost)
{
	struct read_ctx c = { cb, ctx };
	ssize_t n = recv(mnl_socket_get_fd(l->nl), l->buf, MNL_SOCKET_BUFFER_SIZE * 8, MSG_DONTWAIT);

	if (n < 0) {
		if (errno == ENOBUFS) {
			(*lost)++; /* at least one; the kernel does not say how many */
			return 0;
		}
		return errno == EAGAIN ? 0 : -errno;
	}
	mnl_cb_run(l->buf, (size_t)n, 0, 0, on_msg, &c);
	return 0;
}

void df_nflog_close(struct df_nflog *l)
{
	if (!l)
		return;
	if (l->nl)
		mnl_socket_close(l->nl);
	free(l->buf);
	free(l);
}

/* ---- report -> event ------------------------------------------------------------ */

/* The packet's addresses, protocol and ports (0 when it has none). */
static int parse_packet(const uint8_t *p, size_t len, struct df_event *e)
{
	size_t l4;
	uint8_t proto;

	if (len >= 20 && (p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0xf) * 4;

		if (ihl < 20 || ihl > len)
			return -EINVAL;
		e->family = 4;
		memcpy(e->saddr, p + 12, 4);
		memcpy(e->daddr, p + 16, 4);
		proto = p[9];
		l4 = ihl;
		if ((p[6] & 0x1f) || p[7]) /* a non-first fragment: no ports */
			l4 = len;
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		uint8_t next = p[6];

		e->family = 6;
		memcpy(e->saddr, p + 8, 16);
		memcpy(e->daddr, p + 24, 16);
		l4 = 40;
		/* a few extension headers (hop-by-hop, routing, destination) */
		for (int i = 0; i < 4 && (next == 0 || next == 43 || next == 60) && l4 + 8 <= len; i++) {
			next = p[l4];
			l4 += ((size_t)p[l4 + 1] + 1) * 8;
		}
		proto = next;
	} else {
		return -EINVAL;
	}
	e->proto = proto;
	if ((proto == 6 || proto == 17 || proto == 132) && l4 + 4 <= len) {
		e->sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
		e->dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	}
	return 0;
}

int df_nflog_event(const struct df_nflog_rec *r, const struct df_policy *p, uint64_t seq,
		   struct df_event *e)
{
	uint64_t serial;
	int slot, verdict, reason;
	struct timespec ts;

	memset(e, 0, sizeof(*e));
	if (df_nft_prefix_parse(r->prefix, &serial, &slot, &verdict, &reason) ||
	    parse_packet(r->payload, r->len, e))
		return -EINVAL;
	e->version = DF_EVENT_VERSION;
	e->hook = DF_HOOK_NFTABLES;
	e->verdict = (uint8_t)verdict;
	e->reason = (uint8_t)reason;
	e->rule = DF_NO_RULE;
	e->classes = slot < DF_MAX_CLASSES ? 1ULL << slot : 0;
	e->uid = r->has_uid ? r->uid : 0xffffffffu;
	e->ifindex = r->ifindex;
	e->serial = serial;
	e->seq = seq;
	if (r->ts_ns) {
		e->ts_ns = (uint64_t)r->ts_ns;
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		e->ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	/* the rule behind the reason, as the reference names it */
	if (p && p->serial == serial && e->classes) {
		struct df_packet pkt = { .proto = e->proto, .sport = e->sport, .dport = e->dport,
					 .uid = e->uid, .mark = r->mark };
		struct df_result res;

		pkt.dst.family = pkt.src.family = e->family;
		pkt.dst.plen = pkt.src.plen = e->family == 4 ? 32 : 128;
		memcpy(pkt.dst.addr, e->daddr, 16);
		memcpy(pkt.src.addr, e->saddr, 16);
		df_ref_verdict(p, &pkt, e->classes, (int64_t)(e->ts_ns / 1000000000ULL), &res);
		if (res.reason == (enum df_reason)reason && res.rule >= 0)
			e->rule = (uint16_t)res.rule;
	}
	return 0;
}
