// SPDX-License-Identifier: GPL-2.0-only
/* Ethernet frames from packet facts (see frame.h). */
#include "frame.h"

#include <arpa/inet.h>
#include <string.h>

static size_t put_l4(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	uint16_t s = htons(sport), d = htons(dport);

	switch (proto) {
	case 6: memset(p, 0, 20); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); p[12] = 5 << 4; return 20;
	case 17: memset(p, 0, 8); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); p[5] = 8; return 8;
	case 132: memset(p, 0, 12); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); return 12;
	default: memset(p, 0, 8); p[0] = 8; return 8; /* icmp echo or payload */
	}
}

static size_t frame_ip(const struct df_packet *pkt, enum df_shape shape, uint8_t *buf)
{
	uint8_t *p = buf + 14;
	uint16_t et = htons(pkt->dst.family == 4 ? 0x0800 : 0x86dd);
	size_t l3, l4;

	memset(buf, 0, 14);
	buf[0] = 0x02; buf[6] = 0x02; buf[11] = 1;
	memcpy(buf + 12, &et, 2);
	if (shape == DF_SHAPE_BAD_L3) {
		et = htons(0x0800);
		memcpy(buf + 12, &et, 2);
		memset(p, 0, 20);
		p[0] = 0x43;
		p[3] = 20;
		return 14 + 20;
	}
	if (pkt->dst.family == 4) {
		memset(p, 0, 20);
		p[0] = 0x45;
		p[8] = 64;
		p[9] = pkt->proto;
		memcpy(p + 12, pkt->src.addr, 4);
		memcpy(p + 16, pkt->dst.addr, 4);
		if (shape == DF_SHAPE_FRAGMENT) {
			uint16_t fo = htons(185); /* offset 1480 bytes */

			memcpy(p + 6, &fo, 2);
		}
		l3 = 20;
	} else {
		int n_ext = shape == DF_SHAPE_EXTHDRS ? 3 : shape == DF_SHAPE_EXTHDRS_DEEP ? 9 : 0;
		uint8_t next = pkt->proto;

		memset(p, 0, 40);
		p[0] = 0x60;
		p[7] = 64;
		memcpy(p + 8, pkt->src.addr, 16);
		memcpy(p + 24, pkt->dst.addr, 16);
		l3 = 40;
		if (shape == DF_SHAPE_FRAGMENT) {
			p[6] = 44;
			memset(p + l3, 0, 8);
			p[l3] = next;
			p[l3 + 2] = 0x05; /* offset 1280/8 << 3 */
			p[l3 + 3] = 0x00;
			l3 += 8;
		} else if (n_ext) {
			p[6] = 60;
			for (int i = 0; i < n_ext; i++) {
				memset(p + l3, 0, 8);
				p[l3] = i + 1 < n_ext ? 60 : next;
				p[l3 + 2] = 1; /* PadN */
				p[l3 + 3] = 4;
				l3 += 8;
			}
		} else {
			p[6] = next;
		}
	}
	if (shape == DF_SHAPE_TRUNC_L4)
		l4 = 0;
	else
		l4 = put_l4(p + l3, pkt->proto, pkt->sport, pkt->dport);
	if (pkt->dst.family == 4) {
		uint16_t tot = htons((uint16_t)(l3 + l4));

		memcpy(p + 2, &tot, 2);
	} else {
		uint16_t pl = htons((uint16_t)(l3 - 40 + l4));

		memcpy(p + 4, &pl, 2);
	}
	return 14 + l3 + l4;
}


size_t df_frame_build(const struct df_packet *pkt, enum df_shape shape, uint8_t *buf)
{
	static const uint8_t tags[] = { 0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x00 };
	size_t n = shape == DF_SHAPE_QINQ ? 8 : shape == DF_SHAPE_VLAN ? 4 : 0;
	size_t len = frame_ip(pkt, n ? DF_SHAPE_PLAIN : shape, buf);

	/* the tags go between the MAC addresses and the ethertype */
	memmove(buf + 12 + n, buf + 12, len - 12);
	memcpy(buf + 12, tags + (sizeof(tags) - n), n);
	return len + n;
}
