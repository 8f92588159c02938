/* SPDX-License-Identifier: GPL-2.0-only */
/* The values of a policy file, parsed and checked (values.c): protocols and
 * times for everyone; the pv_* parsers for the policy parser, each reporting
 * a wrong value as a file:line diagnostic and returning false (or 0 with
 * nothing stored), -ENOMEM only when memory runs out. */
#ifndef DF_VALUES_H
#define DF_VALUES_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "pconf.h"
#include "policy.h"

/* Protocols: IPPROTO_* <-> "tcp", "udp", "sctp", "icmp", "icmpv6". */
uint8_t df_proto_bit(uint8_t ipproto); /* DF_P_*; DF_P_OTHER for the rest */
const char *df_proto_name(uint8_t ipproto); /* NULL for the rest */
/* Its name, or its number in buf (8 bytes are enough). */
const char *df_proto_str(uint8_t ipproto, char *buf, size_t len);
int df_proto_parse(const char *s, uint8_t *ipproto); /* a name or a number */

/* RFC 3339 "2026-11-01T00:00:00Z" (or +hh:mm offset) -> unix seconds. */
int df_time_parse(const char *s, int64_t *out);
void df_time_format(int64_t t, char *buf, size_t len);

/* The host's user database (getpwnam_r). */
int df_resolve_user_nss(const char *name, uint32_t *uid, void *ctx);

/* A name (policy, class, destination, exception id): 1-63 letters, digits,
 * '.', '_', '-' or ':'. */
bool pv_name(struct pctx *c, const config_setting_t *s, const char *what, const char *name);
/* An unsigned number in `base` (0: C rules), at most max; -1 if not. */
int pv_uint(const char *s, int base, unsigned long long max, unsigned long long *out);
/* `key` of g: ports or "lo-hi" ranges; returns the list length or -ENOMEM. */
int pv_ports(struct pctx *c, const config_setting_t *g, const char *what, const char *key,
	     struct df_port_range **out, size_t *n_out);
/* `key` of g: CIDRs; returns the list length or -ENOMEM. */
int pv_cidrs(struct pctx *c, const config_setting_t *g, const char *what, const char *key,
	     bool required, struct df_cidr **out, size_t *n_out);
/* A cgroup v2 path from the cgroup2 root, normalised into *out (NULL if wrong). */
int pv_cgroup_path(struct pctx *c, config_setting_t *s, const char *what, char **out);
bool pv_mark(struct pctx *c, config_setting_t *s, const char *what, struct df_mark *m);
/* A uid: a number, or a user name through c->o->resolve_user. */
bool pv_uid(struct pctx *c, config_setting_t *s, const char *what, uint32_t *uid);
/* g's optional "mode": enforce or audit; false if absent or wrong. */
bool pv_mode(struct pctx *c, const config_setting_t *g, const char *what, enum df_mode *mode);
/* g's `key` as an RFC 3339 time; false if absent or wrong. */
bool pv_time(struct pctx *c, const config_setting_t *g, const char *what, const char *key,
	     bool required, int64_t *out);

#endif
