/* SPDX-License-Identifier: GPL-2.0-only */
/* Ethernet frames from packet facts: what BPF_PROG_TEST_RUN judges for
 * `datafencectl test`, the datapath tests and the benchmark. */
#ifndef DF_FRAME_H
#define DF_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

#define DF_FRAME_MAX 256

/* Frame shapes beyond a plain packet. */
enum df_shape {
	DF_SHAPE_PLAIN,
	DF_SHAPE_FRAGMENT,     /* non-first fragment: no ports */
	DF_SHAPE_TRUNC_L4,     /* ends right after the IP header */
	DF_SHAPE_BAD_L3,       /* IPv4 header with IHL 3: unparseable (the kernel's test
				* runner refuses frames shorter than an IP header) */
	DF_SHAPE_EXTHDRS,      /* IPv6: 3 destination-option headers, then L4 */
	DF_SHAPE_EXTHDRS_DEEP, /* IPv6: more extension headers than the parser walks */
	DF_SHAPE_VLAN,         /* a plain packet behind an 802.1Q tag (VLAN 0) */
	DF_SHAPE_QINQ,         /* behind an 802.1ad tag and an 802.1Q tag */
	DF_SHAPE__COUNT,
};

/* Builds an Ethernet frame (at most DF_FRAME_MAX bytes) for the facts;
 * returns its length. The frame's family is the destination's. */
size_t df_frame_build(const struct df_packet *pkt, enum df_shape shape, uint8_t *buf);

#endif
