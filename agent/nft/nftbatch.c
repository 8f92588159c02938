// SPDX-License-Identifier: GPL-2.0-only
/* Netlink batches and dumps for the nftables backend (nftbatch.h). */
#include "nftbatch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>

#define BATCH_PAGE (256 * 1024)

/* ---- the batch ----------------------------------------------------------------- */

int nft_batch_init(struct nft_batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_PAGE);
	if (!bt->b)
		return -ENOMEM;
	bt->seq = bt->first_seq = (uint32_t)time(NULL);
	nftnl_batch_begin(nftnl_batch_buffer(bt->b), bt->seq++);
	nftnl_batch_update(bt->b);
	return 0;
}

void nft_batch_free(struct nft_batch *bt)
{
	for (size_t i = 0; i < bt->n_what; i++)
		free(bt->what[i]);
	free(bt->what);
	if (bt->b)
		nftnl_batch_free(bt->b);
}

/* A message header for the next message; `what` names it in errors. */
struct nlmsghdr *nft_msg(struct nft_batch *bt, uint16_t type, uint16_t flags, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	if (bt->n_what == bt->cap_what) {
		size_t cap = bt->cap_what ? bt->cap_what * 2 : 256;
		char **w = realloc(bt->what, cap * sizeof(*w));

		if (!w) {
			bt->err = -ENOMEM;
			return NULL;
		}
		bt->what = w;
		bt->cap_what = cap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	bt->what[bt->n_what++] = strdup(buf);
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type, DF_NFT_FAMILY, flags | NLM_F_ACK,
				     bt->seq++);
}

void nft_msg_done(struct nft_batch *bt)
{
	if (nftnl_batch_update(bt->b) < 0)
		bt->err = -ENOMEM;
}

struct mnl_socket *nft_nl_open(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	return nl;
}

struct ack_ctx {
	struct nft_batch *bt;
	size_t acked;
	int err;
	char detail[256];
};

static int on_ack(const struct nlmsghdr *nlh, void *data)
{
	struct ack_ctx *a = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return MNL_CB_OK;
	a->acked++;
	if (e->error && !a->err) {
		uint32_t i = e->msg.nlmsg_seq - a->bt->first_seq - 1;
		const char *why = NULL;
		const struct nlattr *at;

		a->err = e->error;
		/* the kernel's own words, when it gives them (extended ack) */
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			mnl_attr_for_each(at, nlh, sizeof(*e))
				if (mnl_attr_get_type(at) == NLMSGERR_ATTR_MSG)
					why = mnl_attr_get_str(at);
		snprintf(a->detail, sizeof(a->detail), "%s%s%s",
			 i < a->bt->n_what ? a->bt->what[i] : "batch", why ? ": " : "",
			 why ? why : "");
		if (getenv("DF_NFT_DEBUG"))
			fprintf(stderr, "error %d at seq %u\n", e->error, e->msg.nlmsg_seq);
	}
	return MNL_CB_OK;
}

/* Sends the batch and waits for every message's acknowledgement. */
int nft_batch_send(struct nft_batch *bt, char *detail, size_t dlen)
{
	struct mnl_socket *nl;
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct ack_ctx a = { .bt = bt };
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_ack };
	size_t total = 0;
	int n, err = 0;
	char *buf;

	nftnl_batch_end(nftnl_batch_buffer(bt->b), bt->seq++);
	if (nftnl_batch_update(bt->b) < 0 || bt->err)
		return bt->err ? bt->err : -ENOMEM;
	nl = nft_nl_open();
	if (!nl)
		return -errno;
	n = nftnl_batch_iovec_len(bt->b);
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	if (!iov || !buf) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n);
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	/* the whole batch is one sendmsg: make room for it (root) */
	int sz = (int)(total + 65536), rcv = 8 * 1024 * 1024;

	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	struct msghdr mh = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			     .msg_iovlen = (size_t)n };

	if (sendmsg(mnl_socket_get_fd(nl), &mh, 0) < 0) {
		err = -errno;
		snprintf(detail, dlen, "sending the batch (%zu bytes)", total);
		goto out;
	}
	while (a.acked < bt->n_what && !a.err) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);

		if (r < 0) {
			err = -errno;
			snprintf(detail, dlen, "reading acknowledgements");
			goto out;
		}
		if (mnl_cb_run2(buf, (size_t)r, 0, mnl_socket_get_portid(nl), NULL, &a, ctl,
				MNL_ARRAY_SIZE(ctl)) < 0 && !a.err) {
			err = -errno;
			snprintf(detail, dlen, "reading acknowledgements");
			goto out;
		}
	}
	err = a.err;
	if (err)
		snprintf(detail, dlen, "%s", a.detail);
out:
	free(iov);
	free(buf);
	mnl_socket_close(nl);
	return err;
}

/* One dump request, each reply message to cb. */
int nft_dump(uint16_t type, void (*build)(struct nlmsghdr *, const void *), const void *arg,
		mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = nft_nl_open();
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	uint32_t seq = (uint32_t)time(NULL);
	struct nlmsghdr *nlh;
	int ret = 0;

	if (!nl || !buf) {
		ret = errno ? -errno : -ENOMEM;
		goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, type, DF_NFT_FAMILY, NLM_F_DUMP, seq);
	if (build)
		build(nlh, arg);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), cb, data);
		if (ret <= 0) {
			ret = ret < 0 ? -errno : 0;
			break;
		}
	}
out:
	free(buf);
	if (nl)
		mnl_socket_close(nl);
	return ret;
}
