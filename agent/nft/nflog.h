/* SPDX-License-Identifier: GPL-2.0-only */
/* The nftables backend's drop reports: NFLOG messages read over libmnl
 * (nftnames.h turns them into drop events; docs/nftables.md). */
#ifndef DF_NFLOG_H
#define DF_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>


/* What one NFLOG message carried. */
struct df_nflog_rec {
	uint8_t family;         /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	char prefix[128];
	const uint8_t *payload; /* from the network header */
	size_t len;
	uint32_t mark;
	bool has_uid;
	uint32_t uid;
	uint32_t ifindex;       /* output interface, 0 if none */
	int64_t ts_ns;          /* unix time; 0 if the message had none */
};

struct df_nflog;
/* Binds NFLOG group `group` in this network namespace. */
int df_nflog_open(uint16_t group, struct df_nflog **out);
int df_nflog_fd(const struct df_nflog *l);
typedef void (*df_nflog_cb)(const struct df_nflog_rec *r, void *ctx);
/* Reads one batch of pending messages; *lost grows when the socket
 * overflowed (the kernel dropped reports). */
int df_nflog_read(struct df_nflog *l, df_nflog_cb cb, void *ctx, uint64_t *lost);
void df_nflog_close(struct df_nflog *l);

#endif
