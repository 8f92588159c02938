// SPDX-License-Identifier: GPL-2.0-only
/* Address and CIDR parsing, containment and formatting. */
#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int df_addr_bytes(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

bool df_bit(const uint8_t *addr, unsigned int i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

int df_addr_parse(const char *s, struct df_cidr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = 4;
		out->plen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->addr) == 1) {
		out->family = 6;
		out->plen = 128;
		return 0;
	}
	return -1;
}

enum df_cidr_err df_cidr_parse(const char *s, struct df_cidr *out)
{
	char buf[DF_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	if (alen == 0 || alen >= sizeof(buf))
		return DF_CIDR_SYNTAX;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (df_addr_parse(buf, out))
		return DF_CIDR_SYNTAX;
	if (slash) {
		const char *p = slash + 1;
		unsigned long n = 0;

		if (*p == '\0' || strlen(p) > 3)
			return DF_CIDR_SYNTAX;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return DF_CIDR_SYNTAX;
			n = n * 10 + (unsigned long)(*p - '0');
		}
		if (n > (unsigned long)df_addr_bytes(out->family) * 8)
			return DF_CIDR_PLEN;
		out->plen = (uint8_t)n;
	}
	struct df_cidr m = *out;

	df_cidr_mask(&m);
	if (memcmp(m.addr, out->addr, sizeof(m.addr)))
		return DF_CIDR_HOSTBITS;
	return DF_CIDR_OK;
}

void df_cidr_mask(struct df_cidr *c)
{
	int nbytes = df_addr_bytes(c->family);

	for (int i = 0; i < 16; i++) {
		int bits = (int)c->plen - i * 8;

		if (i >= nbytes || bits <= 0)
			c->addr[i] = 0;
		else if (bits < 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void df_addr_unmap(struct df_cidr *a)
{
	if (a->family != 6 || a->plen < 96 || memcmp(a->addr, v4mapped, 12))
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = 4;
	a->plen -= 96;
}

bool df_addr_is_loopback(const struct df_cidr *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	if (a->family == 4)
		return a->addr[0] == 127;
	return memcmp(a->addr, one, 16) == 0;
}

bool df_cidr_contains(const struct df_cidr *c, const struct df_cidr *x)
{
	unsigned int full, rem;

	if (c->family != x->family || x->plen < c->plen)
		return false;
	full = c->plen / 8;
	rem = c->plen % 8;
	if (memcmp(c->addr, x->addr, full))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));

		if ((c->addr[full] & m) != (x->addr[full] & m))
			return false;
	}
	return true;
}

void df_cidr_format(const struct df_cidr *c, bool with_len, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	if (with_len)
		snprintf(buf, len, "%s/%u", a, c->plen);
	else
		snprintf(buf, len, "%s", a);
}

void df_addr_format(unsigned int family, const uint8_t addr[16], char *buf, size_t len)
{
	struct df_cidr c = { .family = (uint8_t)family, .plen = family == 4 ? 32 : 128 };

	if (family != 4 && family != 6) {
		snprintf(buf, len, "-");
		return;
	}
	memcpy(c.addr, addr, 16);
	df_cidr_format(&c, false, buf, len);
}
