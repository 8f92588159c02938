// SPDX-License-Identifier: GPL-2.0-only
/* The values of a policy file: names, numbers, ports, CIDRs, cgroup paths,
 * marks, uids, modes, protocols and RFC 3339 times, each checked with a
 * file:line diagnostic that says what was expected (values.h). */
#include "values.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/types.h>
#include "datafence.h"
#include "text.h"

#define MAX_NAME 63
#define MAX_CGROUP_PATH 4096

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_NAME)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-:", *s))
			return false;
	return true;
}

bool pv_name(struct pctx *c, const config_setting_t *s, const char *what,
		       const char *name)
{
	if (valid_name(name))
		return true;
	ERR(c, s, name, "%s name '%s' is invalid: use 1-%d letters, digits, '.', '_', '-' or ':'",
	    what, name, MAX_NAME);
	return false;
}

int pv_uint(const char *s, int base, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoull(s, &end, base);
	if (errno || *end || *out > max)
		return -1;
	return 0;
}

/* Port or port range: 443, "443", "9000-9100". */
static bool parse_port_range(struct pctx *c, config_setting_t *s, const char *what,
			     struct df_port_range *r)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);

		if (v < 1 || v > 65535) {
			ERR(c, s, NULL, "port %lld in %s is out of range (1-65535)", v, what);
			return false;
		}
		r->lo = r->hi = (uint16_t)v;
		return true;
	}
	if (t != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "port in %s must be an integer or a \"lo-hi\" string, not %s",
		    what, pc_type_name(t));
		return false;
	}
	const char *str = config_setting_get_string(s);
	char buf[32];
	char *dash;
	unsigned long long lo, hi;

	if (strlen(str) >= sizeof(buf))
		goto bad;
	strcpy(buf, str);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (pv_uint(buf, 10, ULLONG_MAX, &lo))
		goto bad;
	hi = lo;
	if (dash && pv_uint(dash + 1, 10, ULLONG_MAX, &hi))
		goto bad;
	if (lo < 1 || hi < 1 || lo > 65535 || hi > 65535) {
		ERR(c, s, str, "port range \"%s\" in %s is out of range (1-65535)", str, what);
		return false;
	}
	if (lo > hi) {
		ERR(c, s, str, "port range \"%s\" in %s is reversed (did you mean \"%llu-%llu\"?)",
		    str, what, hi, lo);
		return false;
	}
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
bad:
	ERR(c, s, str, "bad port range \"%s\" in %s: expected N or \"LO-HI\"", str, what);
	return false;
}

int pv_ports(struct pctx *c, const config_setting_t *g, const char *what,
		       const char *key, struct df_port_range **out, size_t *n_out)
{
	config_setting_t *l;
	int n = pc_list(c, g, what, key, false, &l);

	*out = NULL;
	*n_out = 0;
	if (!l)
		return 0;
	if (n == 0) {
		ERR(c, l, key, "'%s' in %s is empty: leave it out to allow any port", key, what);
		return 0;
	}
	*out = pc_calloc(c, (size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_port_range(c, pc_elem(l, i), what, &(*out)[*n_out]))
			(*n_out)++;
	return n;
}

static bool parse_cidr(struct pctx *c, config_setting_t *s, const char *what,
		       struct df_cidr *out)
{
	const char *str;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "CIDR in %s must be a string, not %s", what,
		    pc_type_name(config_setting_type(s)));
		return false;
	}
	str = config_setting_get_string(s);
	switch (df_cidr_parse(str, out)) {
	case DF_CIDR_OK:
		return true;
	case DF_CIDR_SYNTAX:
		ERR(c, s, str, "bad CIDR \"%s\" in %s", str, what);
		return false;
	case DF_CIDR_PLEN:
		ERR(c, s, str, "CIDR \"%s\" in %s: prefix length exceeds %d for %s", str,
		    what, df_addr_bytes(out->family) * 8, out->family == 4 ? "IPv4" : "IPv6");
		return false;
	case DF_CIDR_HOSTBITS: {
		struct df_cidr m = *out;
		char buf[DF_ADDRSTRLEN];

		df_cidr_mask(&m);
		df_cidr_format(&m, true, buf, sizeof(buf));
		ERR(c, s, str, "CIDR \"%s\" in %s has host bits set (did you mean \"%s\"?)",
		    str, what, buf);
		return false;
	}
	}
	return false;
}

int pv_cidrs(struct pctx *c, const config_setting_t *g, const char *what,
		       const char *key, bool required, struct df_cidr **out, size_t *n_out)
{
	config_setting_t *l;
	int n = pc_list(c, g, what, key, required, &l);

	*out = NULL;
	*n_out = 0;
	if (!l)
		return 0;
	if (n == 0 && required) {
		ERR(c, l, key, "'%s' in %s is empty", key, what);
		return 0;
	}
	*out = pc_calloc(c, (size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_cidr(c, pc_elem(l, i), what, &(*out)[*n_out]))
			(*n_out)++;
	return n;
}

/* ---- protocols ---------------------------------------------------------- */

static const struct {
	const char *name;
	uint8_t ipproto;
	uint8_t bit;
} protos[] = {
	{ "tcp", 6, DF_P_TCP },	    { "udp", 17, DF_P_UDP },
	{ "sctp", 132, DF_P_SCTP }, { "icmp", 1, DF_P_ICMP },
	{ "icmpv6", 58, DF_P_ICMPV6 },
};

uint8_t df_proto_bit(uint8_t ipproto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].ipproto == ipproto)
			return protos[i].bit;
	return DF_P_OTHER;
}

const char *df_proto_name(uint8_t ipproto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].ipproto == ipproto)
			return protos[i].name;
	return NULL;
}

const char *df_proto_str(uint8_t ipproto, char *buf, size_t len)
{
	const char *n = df_proto_name(ipproto);

	if (n)
		return n;
	snprintf(buf, len, "%u", ipproto);
	return buf;
}

int df_proto_parse(const char *s, uint8_t *ipproto)
{
	unsigned long long v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(protos[i].name, s)) {
			*ipproto = protos[i].ipproto;
			return 0;
		}
	if (!pv_uint(s, 10, 255, &v)) {
		*ipproto = (uint8_t)v;
		return 0;
	}
	return -EINVAL;
}

int pv_cgroup_path(struct pctx *c, config_setting_t *s, const char *what,
			     char **out)
{
	const char *str;
	char *norm, *w;

	*out = NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "cgroup in %s must be a string path", what);
		return 0;
	}
	str = config_setting_get_string(s);
	if (str[0] != '/' || strlen(str) > MAX_CGROUP_PATH) {
		ERR(c, s, str, "cgroup \"%s\" in %s must be an absolute path within the cgroup2 root, like \"/us-data.slice\"",
		    str, what);
		return 0;
	}
	norm = pc_calloc(c, strlen(str) + 2, 1);
	if (!norm)
		return -ENOMEM;
	/* Collapse "//", drop a trailing "/"; refuse "." and ".." components. */
	w = norm;
	for (const char *p = str; *p;) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (!len)
			break;
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			ERR(c, s, str, "cgroup \"%s\" in %s must not contain '.' or '..' components",
			    str, what);
			free(norm);
			return 0;
		}
		*w++ = '/';
		memcpy(w, p, len);
		w += len;
		p += len;
	}
	if (w == norm)
		*w++ = '/';
	*w = '\0';
	/* the datapath looks for a selector among a socket's ancestors at
	 * levels 0..DF_MAX_CG_LEVEL: one deeper would never match */
	{
		unsigned int level = 0;

		for (const char *q = norm; *q; q++)
			level += *q == '/' && q[1];
		if (level > DF_MAX_CG_LEVEL) {
			ERR(c, s, str, "cgroup \"%s\" in %s is %u levels below the root: the datapath "
			    "matches cgroups at most %d levels deep (a process deeper than that is "
			    "matched by its ancestors)", str, what, level, DF_MAX_CG_LEVEL);
			free(norm);
			return 0;
		}
	}
	*out = norm;
	return 0;
}

bool pv_mark(struct pctx *c, config_setting_t *s, const char *what,
		       struct df_mark *m)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);

		if (v < 0 || v > 0xffffffffLL) {
			ERR(c, s, NULL, "mark %lld in %s is out of range (32 bits)", v, what);
			return false;
		}
		m->value = (uint32_t)v;
		m->mask = 0xffffffffu;
		return true;
	}
	if (t != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "mark in %s must be an integer or a \"value/mask\" string", what);
		return false;
	}
	const char *str = config_setting_get_string(s);
	char buf[64];
	char *slash;
	unsigned long long v, mask = 0xffffffffu;

	if (strlen(str) >= sizeof(buf))
		goto bad;
	strcpy(buf, str);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (pv_uint(buf, 0, 0xffffffffu, &v) ||
	    (slash && pv_uint(slash + 1, 0, 0xffffffffu, &mask)))
		goto bad;
	if (mask == 0) {
		ERR(c, s, str, "mark \"%s\" in %s has mask 0: it would match every packet (use all = true)",
		    str, what);
		return false;
	}
	if (v & ~mask) {
		ERR(c, s, str, "mark \"%s\" in %s has value bits outside its mask: it can never match",
		    str, what);
		return false;
	}
	m->value = (uint32_t)v;
	m->mask = (uint32_t)mask;
	return true;
bad:
	ERR(c, s, str, "bad mark \"%s\" in %s: expected \"value/mask\" of 32-bit numbers", str, what);
	return false;
}

bool pv_uid(struct pctx *c, config_setting_t *s, const char *what, uint32_t *uid)
{
	int t = config_setting_type(s);
	unsigned long long v;

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long x = config_setting_get_int64(s);

		if (x < 0 || x >= 0xffffffffLL) {
			ERR(c, s, NULL, "uid %lld in %s is out of range", x, what);
			return false;
		}
		*uid = (uint32_t)x;
		return true;
	}
	if (t != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "uid in %s must be a number or a user name", what);
		return false;
	}
	const char *str = config_setting_get_string(s);

	if (!pv_uint(str, 10, 0xfffffffeu, &v)) {
		*uid = (uint32_t)v;
		return true;
	}
	if (c->o && c->o->offline) {
		df_diag_add(c->d, DF_SEV_NOTE, c->file, pc_line(s), str,
			    "user name \"%s\" in %s is resolved on each host (not checked offline)",
			    str, what);
		/* a stand-in of its own (a policy checked offline is never
		 * loaded): the name's hash, above the uids hosts hand out */
		*uid = 0x80000000u;
		for (const char *k = str; *k; k++)
			*uid = (*uid ^ (unsigned char)*k) * 16777619u;
		*uid = 0x80000000u | (*uid & 0x7ffffffeu);
		return true;
	}
	if (!c->o || !c->o->resolve_user) {
		ERR(c, s, str, "user name \"%s\" in %s cannot be resolved here: use a numeric uid",
		    str, what);
		return false;
	}
	if (c->o->resolve_user(str, uid, c->o->resolve_ctx)) {
		ERR(c, s, str, "unknown user \"%s\" in %s", str, what);
		return false;
	}
	return true;
}

bool pv_mode(struct pctx *c, const config_setting_t *g, const char *what,
		       enum df_mode *mode)
{
	config_setting_t *s = pc_member(c, g, what, "mode", CONFIG_TYPE_STRING, false);
	const char *m;

	if (!s)
		return false;
	m = config_setting_get_string(s);
	if (!strcmp(m, "enforce"))
		*mode = DF_MODE_ENFORCE;
	else if (!strcmp(m, "audit"))
		*mode = DF_MODE_AUDIT;
	else {
		static const char *const modes[] = { "enforce", "audit" };
		const char *hint = df_did_you_mean(m, modes, 2);

		ERR(c, s, m, "mode \"%s\" in %s must be \"enforce\" or \"audit\"%s%s%s", m, what,
		    hint ? "; did you mean \"" : "", hint ? hint : "", hint ? "\"?" : "");
		return false;
	}
	return true;
}

bool pv_time(struct pctx *c, const config_setting_t *g, const char *what,
			      const char *key, bool required, int64_t *out)
{
	const char *s = pc_string(c, g, what, key, required);

	if (!s)
		return false;
	if (df_time_parse(s, out)) {
		ERR(c, config_setting_get_member(g, key), s,
		    "'%s' in %s: bad time \"%s\", expected RFC 3339 like \"2026-12-31T23:59:59Z\"",
		    key, what, s);
		return false;
	}
	return true;
}

int df_resolve_user_nss(const char *name, uint32_t *uid, void *ctx)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	(void)ctx;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*uid = res->pw_uid;
	return 0;
}

static int digits(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*out = *out * 10 + (**p - '0');
	}
	return 0;
}

int df_time_parse(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	struct tm tm = { 0 };
	time_t t;

	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
	    digits(&p, 2, &D) || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') /* fractional seconds: accepted, truncated */
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL; /* a zone is required: hosts differ in local time */
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (tm.tm_mday != D) /* 2026-02-31 normalised to March */
		return -EINVAL;
	*out = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

void df_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}
