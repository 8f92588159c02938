/* SPDX-License-Identifier: GPL-2.0-only */
/* Netlink for the nftables backend: a batch of messages sent at once and
 * acknowledged one by one (an error names the message it answers), and
 * dumps. */
#ifndef DF_NFTBATCH_H
#define DF_NFTBATCH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h> /* before linux/netfilter.h: glibc's in.h first */
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>

#define DF_NFT_FAMILY NFPROTO_INET

struct nftnl_batch;

/* One transaction: the kernel applies every message or none. */
struct nft_batch {
	struct nftnl_batch *b;
	uint32_t seq, first_seq;
	char **what; /* per message, for error reports */
	size_t n_what, cap_what;
	int err;
};

int nft_batch_init(struct nft_batch *bt);
void nft_batch_free(struct nft_batch *bt);
/* A header for the next message; `fmt` names it in errors. NULL when out
 * of memory (bt->err says so). */
__attribute__((format(printf, 4, 5)))
struct nlmsghdr *nft_msg(struct nft_batch *bt, uint16_t type, uint16_t flags, const char *fmt, ...);
/* Closes the message begun by nft_msg(). */
void nft_msg_done(struct nft_batch *bt);
/* Sends the batch and waits for every acknowledgement; on error `detail`
 * names the refused message and the kernel's words. */
int nft_batch_send(struct nft_batch *bt, char *detail, size_t dlen);
/* A netlink socket for nf_tables (extended acks on). */
struct mnl_socket *nft_nl_open(void);
/* One dump request (`build` fills its payload), each reply message to cb. */
int nft_dump(uint16_t type, void (*build)(struct nlmsghdr *, const void *), const void *arg,
	     mnl_cb_t cb, void *data);

#endif
