/* SPDX-License-Identifier: GPL-2.0-only */
/* IPv4/IPv6 addresses and CIDRs as the policy library sees them. */
#ifndef DF_ADDR_H
#define DF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address or prefix; IPv4 uses the first 4 bytes of addr. */
struct df_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16];
};

#define DF_ADDRSTRLEN 64

enum df_cidr_err {
	DF_CIDR_OK = 0,
	DF_CIDR_SYNTAX,
	DF_CIDR_PLEN,     /* prefix length out of range for the family */
	DF_CIDR_HOSTBITS, /* bits set after the prefix length */
};

/* Parses "a.b.c.d/n", "x::y/n" or a bare address (full length). */
enum df_cidr_err df_cidr_parse(const char *s, struct df_cidr *out);
/* Parses a bare address; IPv4-mapped IPv6 stays IPv6 (see df_addr_unmap). */
int df_addr_parse(const char *s, struct df_cidr *out);
/* ::ffff:a.b.c.d -> a.b.c.d (docs/semantics.md, verdict step 1). */
void df_addr_unmap(struct df_cidr *a);
bool df_addr_is_loopback(const struct df_cidr *a);
/* Does prefix c contain address or prefix x (same family, x at least as long)? */
bool df_cidr_contains(const struct df_cidr *c, const struct df_cidr *x);
void df_cidr_mask(struct df_cidr *c); /* clear host bits */
int df_addr_bytes(uint8_t family);    /* 4 or 16 */
/* "10.0.0.0/8"; with_len false prints the bare address. */
void df_cidr_format(const struct df_cidr *c, bool with_len, char *buf, size_t len);
/* A full-length address of a family (4, 6) from its 16 bytes; "-" for any
 * other family (a frame that is not IP). */
void df_addr_format(unsigned int family, const uint8_t addr[16], char *buf, size_t len);
bool df_bit(const uint8_t *addr, unsigned int i);

#endif
