// SPDX-License-Identifier: GPL-2.0-only
/* Policy file version 1 (docs/policy.md): libconfig -> struct df_policy, with every
 * error of the file reported as file:line and nothing half-built returned. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include "datafence.h"

#define MAX_NAME 63
#define MAX_CGROUP_PATH 4096

struct pctx {
	const char *file;
	struct df_diags *d;
	const struct df_parse_opts *o;
	bool oom;
};

static int line_of(const config_setting_t *s)
{
	for (; s; s = config_setting_parent(s))
		if (config_setting_source_line(s))
			return (int)config_setting_source_line(s);
	return 0;
}

#define ERR(c, s, culprit, ...) \
	df_diag_add((c)->d, DF_SEV_ERROR, (c)->file, line_of(s), culprit, __VA_ARGS__)
#define WARN(c, s, culprit, ...) \
	df_diag_add((c)->d, DF_SEV_WARNING, (c)->file, line_of(s), culprit, __VA_ARGS__)

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "integer";
	case CONFIG_TYPE_FLOAT: return "float";
	case CONFIG_TYPE_STRING: return "string";
	case CONFIG_TYPE_BOOL: return "boolean";
	case CONFIG_TYPE_ARRAY: return "array";
	case CONFIG_TYPE_LIST: return "list";
	}
	return "unknown";
}

static void *xcalloc(struct pctx *c, size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		c->oom = true;
	return p;
}

static char *xstrdup(struct pctx *c, const char *s)
{
	char *p = strdup(s);

	if (!p)
		c->oom = true;
	return p;
}

/* Reports keys of `group` not in `allowed` (NULL-terminated). */
static void check_keys(struct pctx *c, const config_setting_t *group,
		       const char *what, const char *const *allowed)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(group, (unsigned int)i);
		const char *name = config_setting_name(m);
		bool ok = false;
		char list[256] = "";

		for (const char *const *a = allowed; *a; a++) {
			if (name && !strcmp(name, *a))
				ok = true;
			if (strlen(list) + strlen(*a) + 3 < sizeof(list)) {
				if (list[0])
					strcat(list, ", ");
				strcat(list, *a);
			}
		}
		if (!ok)
			ERR(c, m, name, "unknown key '%s' in %s (known: %s)",
			    name ? name : "?", what, list);
	}
}

/* The value of key `key` in `group`, type-checked. NULL if absent or wrong
 * (wrong is reported). type: a CONFIG_TYPE_*, or -1 for any integer. */
static config_setting_t *member(struct pctx *c, const config_setting_t *group,
				const char *what, const char *key, int type,
				bool required)
{
	config_setting_t *s = config_setting_get_member(group, key);

	if (!s) {
		if (required)
			ERR(c, group, NULL, "%s is missing required key '%s'", what, key);
		return NULL;
	}
	int t = config_setting_type(s);
	bool ok = type == -1 ? (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) :
		  t == type;

	if (!ok) {
		ERR(c, s, key, "'%s' in %s must be %s %s, not %s %s", key, what,
		    type == -1 || type == CONFIG_TYPE_INT ? "an" : "a",
		    type == -1 ? "integer" : type_name(type),
		    config_setting_type(s) == CONFIG_TYPE_INT ||
				    config_setting_type(s) == CONFIG_TYPE_ARRAY ?
			    "an" :
			    "a",
		    type_name(t));
		return NULL;
	}
	return s;
}

static const char *string_member(struct pctx *c, const config_setting_t *group,
				 const char *what, const char *key, bool required)
{
	config_setting_t *s = member(c, group, what, key, CONFIG_TYPE_STRING, required);

	return s ? config_setting_get_string(s) : NULL;
}

/* A list-valued key: array, list, or a single scalar taken as a one-element
 * list. Returns the count of elements (0 if absent) and the setting. */
static int list_member(struct pctx *c, const config_setting_t *group,
		       const char *what, const char *key, bool required,
		       config_setting_t **out)
{
	config_setting_t *s = config_setting_get_member(group, key);

	*out = NULL;
	if (!s) {
		if (required)
			ERR(c, group, NULL, "%s is missing required key '%s'", what, key);
		return 0;
	}
	if (config_setting_type(s) == CONFIG_TYPE_GROUP) {
		ERR(c, s, key, "'%s' in %s must be a list, not a group", key, what);
		return 0;
	}
	*out = s;
	if (config_setting_is_scalar(s))
		return 1;
	return config_setting_length(s);
}

static config_setting_t *elem(config_setting_t *list, int i)
{
	if (config_setting_is_scalar(list))
		return list;
	return config_setting_get_elem(list, (unsigned int)i);
}

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

static bool check_name(struct pctx *c, const config_setting_t *s, const char *what,
		       const char *name)
{
	if (valid_name(name))
		return true;
	ERR(c, s, name, "%s name '%s' is invalid: use 1-%d letters, digits, '.', '_', '-' or ':'",
	    what, name, MAX_NAME);
	return false;
}

static int parse_uint(const char *s, int base, unsigned long long max,
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
		    what, type_name(t));
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
	if (parse_uint(buf, 10, ULLONG_MAX, &lo))
		goto bad;
	hi = lo;
	if (dash && parse_uint(dash + 1, 10, ULLONG_MAX, &hi))
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

static int parse_ports(struct pctx *c, const config_setting_t *g, const char *what,
		       const char *key, struct df_port_range **out, size_t *n_out)
{
	config_setting_t *l;
	int n = list_member(c, g, what, key, false, &l);

	*out = NULL;
	*n_out = 0;
	if (!l)
		return 0;
	if (n == 0) {
		ERR(c, l, key, "'%s' in %s is empty: leave it out to allow any port", key, what);
		return 0;
	}
	*out = xcalloc(c, (size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_port_range(c, elem(l, i), what, &(*out)[*n_out]))
			(*n_out)++;
	return n;
}

static bool parse_cidr(struct pctx *c, config_setting_t *s, const char *what,
		       struct df_cidr *out)
{
	const char *str;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		ERR(c, s, NULL, "CIDR in %s must be a string, not %s", what,
		    type_name(config_setting_type(s)));
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

static int parse_cidrs(struct pctx *c, const config_setting_t *g, const char *what,
		       const char *key, bool required, struct df_cidr **out, size_t *n_out)
{
	config_setting_t *l;
	int n = list_member(c, g, what, key, required, &l);

	*out = NULL;
	*n_out = 0;
	if (!l)
		return 0;
	if (n == 0 && required) {
		ERR(c, l, key, "'%s' in %s is empty", key, what);
		return 0;
	}
	*out = xcalloc(c, (size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_cidr(c, elem(l, i), what, &(*out)[*n_out]))
			(*n_out)++;
	return n;
}

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

int df_proto_parse(const char *s, uint8_t *ipproto)
{
	unsigned long long v;

	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(protos[i].name, s)) {
			*ipproto = protos[i].ipproto;
			return 0;
		}
	if (!parse_uint(s, 10, 255, &v)) {
		*ipproto = (uint8_t)v;
		return 0;
	}
	return -EINVAL;
}

/* cidrs, except, protocols, ports: shared by destinations and exceptions. */
static int parse_match(struct pctx *c, const config_setting_t *g, const char *what,
		       bool with_except, struct df_match *m)
{
	config_setting_t *l;
	int n, err;

	err = parse_cidrs(c, g, what, "cidrs", true, &m->cidrs, &m->n_cidrs);
	if (err < 0)
		return err;
	if (with_except) {
		err = parse_cidrs(c, g, what, "except", false, &m->except, &m->n_except);
		if (err < 0)
			return err;
		for (size_t i = 0; i < m->n_except; i++) {
			bool inside = false;

			for (size_t j = 0; j < m->n_cidrs; j++)
				inside |= df_cidr_contains(&m->cidrs[j], &m->except[i]);
			if (!inside) {
				char buf[DF_ADDRSTRLEN];

				df_cidr_format(&m->except[i], true, buf, sizeof(buf));
				WARN(c, config_setting_get_member(g, "except"), buf,
				     "except \"%s\" in %s is outside every cidr: it has no effect",
				     buf, what);
			}
		}
	}

	n = list_member(c, g, what, "protocols", false, &l);
	m->protos = 0;
	if (l && n == 0)
		ERR(c, l, "protocols", "'protocols' in %s is empty: leave it out to allow any protocol",
		    what);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = elem(l, i);
		const char *s = config_setting_type(e) == CONFIG_TYPE_STRING ?
					config_setting_get_string(e) : NULL;
		uint8_t p;

		if (!s || df_proto_parse(s, &p) || df_proto_bit(p) == DF_P_OTHER ||
		    !df_proto_name(p) || strcmp(df_proto_name(p), s)) {
			ERR(c, e, s, "unknown protocol %s%s%s in %s (known: tcp, udp, sctp, icmp, icmpv6)",
			    s ? "\"" : "", s ? s : type_name(config_setting_type(e)),
			    s ? "\"" : "", what);
			continue;
		}
		m->protos |= df_proto_bit(p);
	}

	err = parse_ports(c, g, what, "ports", &m->ports, &m->n_ports);
	if (err < 0)
		return err;
	if (!l) {
		/* docs/policy.md: ports without protocols means tcp, udp and sctp. */
		m->protos = m->n_ports ? DF_P_PORTED : DF_P_ANY;
	} else if (m->n_ports && m->protos && !(m->protos & DF_P_PORTED)) {
		ERR(c, config_setting_get_member(g, "ports"), "ports",
		    "%s has ports but only icmp/icmpv6 protocols: ports apply to tcp, udp and sctp",
		    what);
	}
	return 0;
}

static int parse_cgroup_path(struct pctx *c, config_setting_t *s, const char *what,
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
	norm = xcalloc(c, strlen(str) + 2, 1);
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
	*out = norm;
	return 0;
}

static bool parse_mark(struct pctx *c, config_setting_t *s, const char *what,
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
	if (parse_uint(buf, 0, 0xffffffffu, &v) ||
	    (slash && parse_uint(slash + 1, 0, 0xffffffffu, &mask)))
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

static bool parse_uid(struct pctx *c, config_setting_t *s, const char *what, uint32_t *uid)
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

	if (!parse_uint(str, 10, 0xfffffffeu, &v)) {
		*uid = (uint32_t)v;
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

static int parse_selectors(struct pctx *c, config_setting_t *g, const char *what,
			   struct df_class *cl)
{
	static const char *const keys[] = { "cgroups", "uids", "marks", "local_ports",
					    "local_addrs", "all", NULL };
	config_setting_t *l, *s;
	int n, err;

	check_keys(c, g, what, keys);

	n = list_member(c, g, what, "cgroups", false, &l);
	cl->cgroups = xcalloc(c, (size_t)n, sizeof(char *));
	if (!cl->cgroups)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		err = parse_cgroup_path(c, elem(l, i), what, &cl->cgroups[cl->n_cgroups]);
		if (err)
			return err;
		if (cl->cgroups[cl->n_cgroups])
			cl->n_cgroups++;
	}

	n = list_member(c, g, what, "uids", false, &l);
	cl->uids = xcalloc(c, (size_t)n, sizeof(uint32_t));
	if (!cl->uids)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_uid(c, elem(l, i), what, &cl->uids[cl->n_uids]))
			cl->n_uids++;

	n = list_member(c, g, what, "marks", false, &l);
	cl->marks = xcalloc(c, (size_t)n, sizeof(struct df_mark));
	if (!cl->marks)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (parse_mark(c, elem(l, i), what, &cl->marks[cl->n_marks]))
			cl->n_marks++;

	err = parse_ports(c, g, what, "local_ports", &cl->lports, &cl->n_lports);
	if (err < 0)
		return err;
	err = parse_cidrs(c, g, what, "local_addrs", false, &cl->laddrs, &cl->n_laddrs);
	if (err < 0)
		return err;

	s = member(c, g, what, "all", CONFIG_TYPE_BOOL, false);
	cl->all = s && config_setting_get_bool(s);

	/* An empty selector list is an error even next to others: it usually
	 * means a templating mistake on the configuration management side. */
	for (const char *const *k = keys; *k; k++) {
		s = config_setting_get_member(g, *k);
		if (s && config_setting_is_aggregate(s) && config_setting_length(s) == 0)
			ERR(c, s, *k, "selector '%s' in %s is empty", *k, what);
	}
	return 0;
}

static bool parse_mode(struct pctx *c, const config_setting_t *g, const char *what,
		       enum df_mode *mode)
{
	config_setting_t *s = member(c, g, what, "mode", CONFIG_TYPE_STRING, false);
	const char *m;

	if (!s)
		return false;
	m = config_setting_get_string(s);
	if (!strcmp(m, "enforce"))
		*mode = DF_MODE_ENFORCE;
	else if (!strcmp(m, "audit"))
		*mode = DF_MODE_AUDIT;
	else {
		ERR(c, s, m, "mode \"%s\" in %s must be \"enforce\" or \"audit\"", m, what);
		return false;
	}
	return true;
}

/* Returns the setting that must be a list of groups, or NULL. */
static config_setting_t *group_list(struct pctx *c, config_setting_t *root, const char *key)
{
	config_setting_t *s = config_setting_get_member(root, key);

	if (!s)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)) {
		ERR(c, s, key, "'%s' must be a list of groups: %s = ( { ... }, { ... } );", key, key);
		return NULL;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);

		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			ERR(c, e, NULL, "element %d of '%s' must be a group { ... }, not %s", i + 1,
			    key, type_name(config_setting_type(e)));
			return NULL;
		}
	}
	return s;
}

static int parse_policy_hdr(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	static const char *const keys[] = { "name", "serial", "mode", "allow_loopback", NULL };
	config_setting_t *g = config_setting_get_member(root, "policy");
	config_setting_t *s;
	const char *name;

	p->mode = DF_MODE_ENFORCE;
	p->allow_loopback = true;
	if (!g || config_setting_type(g) != CONFIG_TYPE_GROUP) {
		if (g)
			ERR(c, g, "policy", "'policy' must be a group: policy = { name = ...; serial = ...; };");
		else
			df_diag_add(c->d, DF_SEV_ERROR, c->file, 1, NULL,
				    "missing 'policy' group (name, serial, mode)");
		return 0;
	}
	check_keys(c, g, "policy", keys);
	name = string_member(c, g, "policy", "name", true);
	if (name && check_name(c, config_setting_get_member(g, "name"), "policy", name)) {
		p->name = xstrdup(c, name);
		if (!p->name)
			return -ENOMEM;
	}
	s = member(c, g, "policy", "serial", -1, true);
	if (s) {
		long long v = config_setting_get_int64(s);

		if (v < 0)
			ERR(c, s, "serial", "serial %lld must not be negative", v);
		else
			p->serial = (uint64_t)v;
	}
	parse_mode(c, g, "policy", &p->mode);
	s = member(c, g, "policy", "allow_loopback", CONFIG_TYPE_BOOL, false);
	if (s)
		p->allow_loopback = config_setting_get_bool(s);
	return 0;
}

static int parse_classes(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	static const char *const keys[] = { "name", "mode", "match", NULL };
	config_setting_t *l = group_list(c, root, "classes");
	int n = l ? config_setting_length(l) : 0;

	if (n > DF_MAX_CLASSES) {
		ERR(c, config_setting_get_elem(l, DF_MAX_CLASSES), NULL,
		    "too many classes: %d, at most %d", n, DF_MAX_CLASSES);
		n = DF_MAX_CLASSES;
	}
	p->classes = xcalloc(c, (size_t)n, sizeof(*p->classes));
	if (!p->classes)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_class *cl = &p->classes[p->n_classes];
		const char *name;
		char what[96];
		config_setting_t *m;
		int err;

		check_keys(c, g, "class", keys);
		name = string_member(c, g, "class", "name", true);
		if (!name || !check_name(c, config_setting_get_member(g, "name"), "class", name))
			continue;
		snprintf(what, sizeof(what), "class '%s'", name);
		for (size_t j = 0; j < p->n_classes; j++)
			if (!strcmp(p->classes[j].name, name)) {
				ERR(c, g, name, "duplicate class name '%s' (first defined at line %d)",
				    name, p->classes[j].line);
				goto next;
			}
		cl->name = xstrdup(c, name);
		if (!cl->name)
			return -ENOMEM;
		cl->line = line_of(g);
		cl->mode = p->mode;
		parse_mode(c, g, what, &cl->mode);
		m = member(c, g, what, "match", CONFIG_TYPE_GROUP, true);
		if (m) {
			err = parse_selectors(c, m, what, cl);
			if (err)
				return err;
			/* Only when nothing was given: a selector with a bad value
			 * has its own error already. */
			if (config_setting_length(m) == 0 ||
			    (config_setting_length(m) == 1 && config_setting_get_member(m, "all") &&
			     !cl->all))
				ERR(c, m, "match",
				    "%s has no selector: give cgroups, uids, marks, local_ports, local_addrs or all = true",
				    what);
		}
		p->n_classes++;
next:;
	}
	return 0;
}

static int parse_dests(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	static const char *const keys[] = { "name", "cidrs", "except", "protocols",
					    "ports", "allow", NULL };
	config_setting_t *l = group_list(c, root, "destinations");
	int n = l ? config_setting_length(l) : 0;

	p->dests = xcalloc(c, (size_t)n, sizeof(*p->dests));
	if (!p->dests)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_dest *d = &p->dests[p->n_dests];
		config_setting_t *al;
		const char *name;
		char what[96];
		int k, err;

		check_keys(c, g, "destination", keys);
		name = string_member(c, g, "destination", "name", true);
		if (!name || !check_name(c, config_setting_get_member(g, "name"), "destination", name))
			continue;
		for (size_t j = 0; j < p->n_dests; j++)
			if (!strcmp(p->dests[j].name, name)) {
				ERR(c, g, name, "duplicate destination name '%s' (first defined at line %d)",
				    name, p->dests[j].line);
				goto next;
			}
		snprintf(what, sizeof(what), "destination '%s'", name);
		d->name = xstrdup(c, name);
		if (!d->name)
			return -ENOMEM;
		d->line = line_of(g);
		err = parse_match(c, g, what, true, &d->m);
		if (err)
			return err;
		k = list_member(c, g, what, "allow", true, &al);
		for (int j = 0; j < k; j++) {
			config_setting_t *e = elem(al, j);
			const char *cn = config_setting_type(e) == CONFIG_TYPE_STRING ?
						 config_setting_get_string(e) : NULL;
			int ci = cn ? df_class_index(p, cn) : -1;

			if (!cn)
				ERR(c, e, NULL, "'allow' in %s must list class names (strings)", what);
			else if (ci < 0)
				ERR(c, e, cn, "%s allows unknown class '%s'", what, cn);
			else
				d->allow |= 1ULL << ci;
		}
		if (al && k == 0)
			WARN(c, al, "allow", "%s allows no class: it only changes drop reasons", what);
		p->n_dests++;
next:;
	}
	return 0;
}

static bool parse_time_member(struct pctx *c, const config_setting_t *g, const char *what,
			      const char *key, bool required, int64_t *out)
{
	const char *s = string_member(c, g, what, key, required);

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

static int parse_exceptions(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	static const char *const keys[] = { "id", "approved_by", "reason", "class", "cidrs",
					    "protocols", "ports", "not_before", "expires", NULL };
	config_setting_t *l = group_list(c, root, "exceptions");
	int n = l ? config_setting_length(l) : 0;

	p->excs = xcalloc(c, (size_t)n, sizeof(*p->excs));
	if (!p->excs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_exception *e = &p->excs[p->n_excs];
		const char *id, *by, *why, *cls;
		char what[96];
		bool nb_ok, ex_ok;
		int err;

		check_keys(c, g, "exception", keys);
		id = string_member(c, g, "exception", "id", true);
		if (!id || !check_name(c, config_setting_get_member(g, "id"), "exception", id))
			continue;
		for (size_t j = 0; j < p->n_excs; j++)
			if (!strcmp(p->excs[j].id, id)) {
				ERR(c, g, id, "duplicate exception id '%s' (first defined at line %d)",
				    id, p->excs[j].line);
				goto next;
			}
		snprintf(what, sizeof(what), "exception '%s'", id);
		e->id = xstrdup(c, id);
		if (!e->id)
			return -ENOMEM;
		e->line = line_of(g);
		by = string_member(c, g, what, "approved_by", true);
		why = string_member(c, g, what, "reason", true);
		e->approved_by = xstrdup(c, by ? by : "");
		e->reason = xstrdup(c, why ? why : "");
		if (by && !*by)
			ERR(c, config_setting_get_member(g, "approved_by"), NULL,
			    "'approved_by' in %s is empty", what);
		cls = string_member(c, g, what, "class", true);
		e->class_idx = -1;
		if (cls) {
			e->class_idx = df_class_index(p, cls);
			if (e->class_idx < 0)
				ERR(c, config_setting_get_member(g, "class"), cls,
				    "%s is for unknown class '%s'", what, cls);
		}
		err = parse_match(c, g, what, false, &e->m);
		if (err)
			return err;
		e->not_before = 0;
		nb_ok = !config_setting_get_member(g, "not_before") ||
			parse_time_member(c, g, what, "not_before", false, &e->not_before);
		ex_ok = parse_time_member(c, g, what, "expires", true, &e->expires);
		if (nb_ok && ex_ok && e->expires <= e->not_before)
			ERR(c, config_setting_get_member(g, "expires"), "expires",
			    "%s expires before it starts (expires <= not_before)", what);
		else if (ex_ok && c->o && c->o->now && e->expires <= c->o->now)
			WARN(c, config_setting_get_member(g, "expires"), "expires",
			     "%s has already expired: it grants nothing", what);
		p->n_excs++;
next:;
	}
	return 0;
}

static void warn_unapproved_classes(struct pctx *c, config_setting_t *root,
				    const struct df_policy *p)
{
	uint64_t used = 0;

	for (size_t i = 0; i < p->n_dests; i++)
		used |= p->dests[i].allow;
	for (size_t i = 0; i < p->n_excs; i++)
		if (p->excs[i].class_idx >= 0)
			used |= 1ULL << p->excs[i].class_idx;
	for (size_t i = 0; i < p->n_classes; i++)
		if (!(used & (1ULL << i)))
			df_diag_add(c->d, DF_SEV_WARNING, c->file, p->classes[i].line,
				    p->classes[i].name,
				    "class '%s' is approved for no destination: all its traffic will be %s",
				    p->classes[i].name,
				    p->classes[i].mode == DF_MODE_ENFORCE ? "dropped" :
									    "reported as would-drop");
	(void)root;
}

int df_policy_parse(const char *text, size_t len, const char *file,
		    const struct df_parse_opts *opts, struct df_policy **out,
		    struct df_diags *diags)
{
	static const char *const keys[] = { "policy", "classes", "destinations",
					    "exceptions", NULL };
	struct pctx c = { .file = file ? file : "-", .d = diags, .o = opts };
	size_t errors_before = diags->errors, first_diag = diags->n;
	struct df_policy *p;
	config_t cfg;
	char *buf;
	int err = 0;

	*out = NULL;
	/* libconfig wants a NUL-terminated string; a NUL inside is an error. */
	if (memchr(text, '\0', len)) {
		df_diag_add(diags, DF_SEV_ERROR, c.file, 0, NULL, "file contains a NUL byte");
		return -EINVAL;
	}
	/* A policy is one file: what is checked is what is loaded. */
	for (size_t off = 0, line = 1; off < len; line++) {
		const char *l = text + off, *nl = memchr(l, '\n', len - off);
		size_t ws = 0;

		while (ws < len - off && (l[ws] == ' ' || l[ws] == '\t'))
			ws++;
		if (len - off - ws >= 8 && !memcmp(l + ws, "@include", 8)) {
			df_diag_add(diags, DF_SEV_ERROR, c.file, (int)line, "@include",
				    "@include is not supported: a policy is one file");
			return -EINVAL;
		}
		off = nl ? (size_t)(nl - text) + 1 : len;
	}
	buf = strndup(text, len);
	p = calloc(1, sizeof(*p));
	if (!buf || !p) {
		free(buf);
		free(p);
		return -ENOMEM;
	}
	config_init(&cfg);
	if (config_read_string(&cfg, buf) != CONFIG_TRUE) {
		const char *why = config_error_text(&cfg);

		if (why && !strcmp(why, "syntax error"))
			why = "a missing ';', '=', quote or bracket at or before this line";
		df_diag_add(diags, DF_SEV_ERROR, c.file, config_error_line(&cfg), NULL,
			    "syntax error: %s", why ? why : "unknown");
		err = -EINVAL;
		goto cleanup;
	}
	p->file = strdup(c.file);
	if (!p->file) {
		err = -ENOMEM;
		goto cleanup;
	}
	config_setting_t *root = config_root_setting(&cfg);

	check_keys(&c, root, "the policy file", keys);
	err = parse_policy_hdr(&c, root, p);
	if (!err)
		err = parse_classes(&c, root, p);
	if (!err)
		err = parse_dests(&c, root, p);
	if (!err)
		err = parse_exceptions(&c, root, p);
	if (!err && c.oom)
		err = -ENOMEM;
	if (!err && diags->errors == errors_before)
		warn_unapproved_classes(&c, root, p);
	if (!err && diags->errors != errors_before)
		err = -EINVAL;
cleanup:
	config_destroy(&cfg);
	free(buf);
	df_diags_sort(diags, first_diag);
	if (err) {
		df_policy_free(p);
		return err;
	}
	*out = p;
	return 0;
}

int df_policy_load_file(const char *path, const struct df_parse_opts *opts,
			struct df_policy **out, struct df_diags *diags, char **text_out)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int err;

	*out = NULL;
	if (text_out)
		*text_out = NULL;
	if (!f) {
		err = -errno;
		df_diag_add(diags, DF_SEV_ERROR, path, 0, NULL, "cannot open: %s", strerror(-err));
		return err;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *t;

			cap = cap ? cap * 2 : 65536;
			t = realloc(text, cap);
			if (!t) {
				err = -ENOMEM;
				goto cleanup;
			}
			text = t;
		}
		size_t got = fread(text + len, 1, cap - len - 1, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		err = -EIO;
		df_diag_add(diags, DF_SEV_ERROR, path, 0, NULL, "read error");
		goto cleanup;
	}
	text[len] = '\0';
	err = df_policy_parse(text, len, path, opts, out, diags);
cleanup:
	fclose(f);
	if (text_out && text)
		*text_out = text;
	else
		free(text);
	return err;
}

static void match_free(struct df_match *m)
{
	free(m->cidrs);
	free(m->except);
	free(m->ports);
}

void df_policy_free(struct df_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_classes; i++) {
		struct df_class *c = &p->classes[i];

		free(c->name);
		for (size_t j = 0; j < c->n_cgroups; j++)
			free(c->cgroups[j]);
		free(c->cgroups);
		free(c->uids);
		free(c->marks);
		free(c->lports);
		free(c->laddrs);
	}
	/* Classes that failed half-way are beyond n_classes: their arrays too. */
	free(p->classes);
	for (size_t i = 0; i < p->n_dests; i++) {
		free(p->dests[i].name);
		match_free(&p->dests[i].m);
	}
	free(p->dests);
	for (size_t i = 0; i < p->n_excs; i++) {
		free(p->excs[i].id);
		free(p->excs[i].approved_by);
		free(p->excs[i].reason);
		match_free(&p->excs[i].m);
	}
	free(p->excs);
	free(p->name);
	free(p->file);
	free(p);
}

int df_class_index(const struct df_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_classes; i++)
		if (!strcmp(p->classes[i].name, name))
			return (int)i;
	return -1;
}

const char *df_mode_name(enum df_mode m)
{
	return m == DF_MODE_AUDIT ? "audit" : "enforce";
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
