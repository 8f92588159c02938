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

