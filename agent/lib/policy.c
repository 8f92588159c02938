// SPDX-License-Identifier: GPL-2.0-only
/* Policy file version 1 (docs/policy.md): libconfig -> struct df_policy, with every
 * error of the file reported as file:line and nothing half-built returned. */
#include "policy.h"

#include <errno.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/types.h>
#include "datafence.h"
#include "pconf.h"
#include "text.h"
#include "values.h"

/* cidrs, except, protocols, ports: shared by destinations and exceptions. */
static int parse_match(struct pctx *c, const config_setting_t *g, const char *what,
		       bool with_except, struct df_match *m)
{
	config_setting_t *l;
	int n, err;

	err = pv_cidrs(c, g, what, "cidrs", true, &m->cidrs, &m->n_cidrs);
	if (err < 0)
		return err;
	if (with_except) {
		err = pv_cidrs(c, g, what, "except", false, &m->except, &m->n_except);
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

	n = pc_list(c, g, what, "protocols", false, &l);
	m->protos = 0;
	if (l && n == 0)
		ERR(c, l, "protocols", "'protocols' in %s is empty: leave it out to allow any protocol",
		    what);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = pc_elem(l, i);
		const char *s = config_setting_type(e) == CONFIG_TYPE_STRING ?
					config_setting_get_string(e) : NULL;
		uint8_t p;

		if (!s || df_proto_parse(s, &p) || df_proto_bit(p) == DF_P_OTHER ||
		    !df_proto_name(p) || strcmp(df_proto_name(p), s)) {
			static const char *const known[] = { "tcp", "udp", "sctp", "icmp", "icmpv6" };
			const char *hint = df_did_you_mean(s, known, 5);

			ERR(c, e, s, "unknown protocol %s%s%s in %s (known: tcp, udp, sctp, icmp, icmpv6)%s%s%s",
			    s ? "\"" : "", s ? s : pc_type_name(config_setting_type(e)),
			    s ? "\"" : "", what, hint ? "; did you mean \"" : "", hint ? hint : "",
			    hint ? "\"?" : "");
			continue;
		}
		m->protos |= df_proto_bit(p);
	}

	err = pv_ports(c, g, what, "ports", &m->ports, &m->n_ports);
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

static int parse_selectors(struct pctx *c, config_setting_t *g, const char *what,
			   struct df_class *cl)
{
	static const char *const keys[] = { "cgroups", "uids", "marks", "local_ports",
					    "local_addrs", "all", NULL };
	config_setting_t *l, *s;
	int n, err;

	pc_check_keys(c, g, what, keys);

	n = pc_list(c, g, what, "cgroups", false, &l);
	cl->cgroups = pc_calloc(c, (size_t)n, sizeof(char *));
	if (!cl->cgroups)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		err = pv_cgroup_path(c, pc_elem(l, i), what, &cl->cgroups[cl->n_cgroups]);
		if (err)
			return err;
		if (cl->cgroups[cl->n_cgroups])
			cl->n_cgroups++;
	}

	n = pc_list(c, g, what, "uids", false, &l);
	cl->uids = pc_calloc(c, (size_t)n, sizeof(uint32_t));
	if (!cl->uids)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (pv_uid(c, pc_elem(l, i), what, &cl->uids[cl->n_uids]))
			cl->n_uids++;

	n = pc_list(c, g, what, "marks", false, &l);
	cl->marks = pc_calloc(c, (size_t)n, sizeof(struct df_mark));
	if (!cl->marks)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		if (pv_mark(c, pc_elem(l, i), what, &cl->marks[cl->n_marks]))
			cl->n_marks++;

	err = pv_ports(c, g, what, "local_ports", &cl->lports, &cl->n_lports);
	if (err < 0)
		return err;
	err = pv_cidrs(c, g, what, "local_addrs", false, &cl->laddrs, &cl->n_laddrs);
	if (err < 0)
		return err;

	s = pc_member(c, g, what, "all", CONFIG_TYPE_BOOL, false);
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
			    key, pc_type_name(config_setting_type(e)));
			return NULL;
		}
	}
	return s;
}

/* scope = [ "host-group", ... ]: the host groups a policy is for. */
static int parse_scope(struct pctx *c, config_setting_t *g, struct df_policy *p)
{
	config_setting_t *l;
	int n = pc_list(c, g, "policy", "scope", false, &l);

	if (!l)
		return 0;
	if (!n)
		ERR(c, l, "scope", "scope is empty: leave it out for a policy meant for every host");
	p->scope = pc_calloc(c, (size_t)(n > 0 ? n : 1), sizeof(*p->scope));
	if (!p->scope)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *e = pc_elem(l, i);
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ?
					config_setting_get_string(e) : NULL;

		if (!v) {
			ERR(c, e, NULL, "scope entries are host group names (strings)");
			continue;
		}
		if (!pv_name(c, e, "scope", v))
			continue;
		p->scope[p->n_scope] = pc_strdup(c, v);
		if (!p->scope[p->n_scope++])
			return -ENOMEM;
	}
	return 0;
}

bool df_policy_in_scope(const struct df_policy *p, const char *scope)
{
	if (!p->n_scope)
		return !scope || !scope[0];
	for (size_t i = 0; scope && scope[0] && i < p->n_scope; i++)
		if (!strcmp(p->scope[i], scope))
			return true;
	return false;
}

static int parse_policy_hdr(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	static const char *const keys[] = { "name", "serial", "mode", "allow_loopback", "expires",
					    "scope", "supersedes", NULL };
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
	pc_check_keys(c, g, "policy", keys);
	name = pc_string(c, g, "policy", "name", true);
	if (name && pv_name(c, config_setting_get_member(g, "name"), "policy", name)) {
		p->name = pc_strdup(c, name);
		if (!p->name)
			return -ENOMEM;
	}
	s = pc_member(c, g, "policy", "serial", -1, true);
	if (s) {
		long long v = config_setting_get_int64(s);

		if (v < 1)
			ERR(c, s, "serial", "serial %lld: a serial is an integer from 1 to %lld", v,
			    (long long)INT64_MAX);
		else
			p->serial = (uint64_t)v;
	}
	pv_mode(c, g, "policy", &p->mode);
	s = pc_member(c, g, "policy", "allow_loopback", CONFIG_TYPE_BOOL, false);
	if (s)
		p->allow_loopback = config_setting_get_bool(s);
	if (parse_scope(c, g, p))
		return -ENOMEM;
	s = pc_member(c, g, "policy", "supersedes", -1, false);
	if (s) {
		long long v = config_setting_get_int64(s);

		if (v < 1)
			ERR(c, s, "supersedes", "supersedes %lld: a serial is an integer from 1 to %lld",
			    v, (long long)INT64_MAX);
		else
			p->supersedes = (uint64_t)v;
	}
	/* after `expires` the policy is stale (agent.conf stale_posture) */
	if (config_setting_get_member(g, "expires") &&
	    pv_time(c, g, "policy", "expires", true, &p->expires) && c->o && c->o->now &&
	    p->expires <= c->o->now)
		ERR(c, config_setting_get_member(g, "expires"), "expires",
		    "the policy expired at %s: an expired policy is refused",
		    config_setting_get_string(config_setting_get_member(g, "expires")));
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
	p->classes = pc_calloc(c, (size_t)n, sizeof(*p->classes));
	if (!p->classes)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_class *cl = &p->classes[p->n_classes];
		const char *name;
		char what[96];
		config_setting_t *m;
		int err;

		pc_check_keys(c, g, "class", keys);
		name = pc_string(c, g, "class", "name", true);
		if (!name || !pv_name(c, config_setting_get_member(g, "name"), "class", name))
			continue;
		snprintf(what, sizeof(what), "class '%s'", name);
		for (size_t j = 0; j < p->n_classes; j++)
			if (!strcmp(p->classes[j].name, name)) {
				ERR(c, g, name, "duplicate class name '%s' (first defined at line %d)",
				    name, p->classes[j].line);
				goto next;
			}
		cl->name = pc_strdup(c, name);
		if (!cl->name)
			return -ENOMEM;
		cl->line = pc_line(g);
		cl->mode = p->mode;
		if (pv_mode(c, g, what, &cl->mode) && p->mode == DF_MODE_AUDIT &&
		    cl->mode == DF_MODE_ENFORCE)
			WARN(c, config_setting_get_member(g, "mode"), "mode",
			     "%s enforces in an audit policy: its traffic is dropped, not only reported",
			     what);
		m = pc_member(c, g, what, "match", CONFIG_TYPE_GROUP, true);
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

/* "; did you mean 'NAME'?" for a class name that is a typo of one of p's,
 * or "". */
static const char *class_hint(const struct df_policy *p, const char *name, char *buf, size_t len)
{
	const char *names[DF_MAX_CLASSES], *hint;
	size_t n = 0;

	for (size_t i = 0; i < p->n_classes && n < DF_MAX_CLASSES; i++)
		names[n++] = p->classes[i].name;
	hint = df_did_you_mean(name, names, n);
	if (!hint)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", hint);
	return buf;
}

static int parse_dests(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	char hint[320];
	static const char *const keys[] = { "name", "cidrs", "except", "protocols",
					    "ports", "allow", NULL };
	config_setting_t *l = group_list(c, root, "destinations");
	int n = l ? config_setting_length(l) : 0;

	p->dests = pc_calloc(c, (size_t)n, sizeof(*p->dests));
	if (!p->dests)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_dest *d = &p->dests[p->n_dests];
		config_setting_t *al;
		const char *name;
		char what[96];
		int k, err;

		pc_check_keys(c, g, "destination", keys);
		name = pc_string(c, g, "destination", "name", true);
		if (!name || !pv_name(c, config_setting_get_member(g, "name"), "destination", name))
			continue;
		for (size_t j = 0; j < p->n_dests; j++)
			if (!strcmp(p->dests[j].name, name)) {
				ERR(c, g, name, "duplicate destination name '%s' (first defined at line %d)",
				    name, p->dests[j].line);
				goto next;
			}
		snprintf(what, sizeof(what), "destination '%s'", name);
		d->name = pc_strdup(c, name);
		if (!d->name)
			return -ENOMEM;
		d->line = pc_line(g);
		err = parse_match(c, g, what, true, &d->m);
		if (err)
			return err;
		k = pc_list(c, g, what, "allow", true, &al);
		for (int j = 0; j < k; j++) {
			config_setting_t *e = pc_elem(al, j);
			const char *cn = config_setting_type(e) == CONFIG_TYPE_STRING ?
						 config_setting_get_string(e) : NULL;
			int ci = cn ? df_class_index(p, cn) : -1;

			if (!cn)
				ERR(c, e, NULL, "'allow' in %s must list class names (strings)", what);
			else if (ci < 0)
				ERR(c, e, cn, "%s allows unknown class '%s'%s", what, cn,
				    class_hint(p, cn, hint, sizeof(hint)));
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

static int parse_exceptions(struct pctx *c, config_setting_t *root, struct df_policy *p)
{
	char hint[320];
	static const char *const keys[] = { "id", "approved_by", "reason", "class", "cidrs",
					    "protocols", "ports", "not_before", "expires", NULL };
	config_setting_t *l = group_list(c, root, "exceptions");
	int n = l ? config_setting_length(l) : 0;

	p->excs = pc_calloc(c, (size_t)n, sizeof(*p->excs));
	if (!p->excs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned int)i);
		struct df_exception *e = &p->excs[p->n_excs];
		const char *id, *by, *why, *cls;
		char what[96];
		bool nb_ok, ex_ok;
		int err;

		pc_check_keys(c, g, "exception", keys);
		id = pc_string(c, g, "exception", "id", true);
		if (!id || !pv_name(c, config_setting_get_member(g, "id"), "exception", id))
			continue;
		for (size_t j = 0; j < p->n_excs; j++)
			if (!strcmp(p->excs[j].id, id)) {
				ERR(c, g, id, "duplicate exception id '%s' (first defined at line %d)",
				    id, p->excs[j].line);
				goto next;
			}
		snprintf(what, sizeof(what), "exception '%s'", id);
		e->id = pc_strdup(c, id);
		if (!e->id)
			return -ENOMEM;
		e->line = pc_line(g);
		by = pc_string(c, g, what, "approved_by", true);
		why = pc_string(c, g, what, "reason", true);
		e->approved_by = pc_strdup(c, by ? by : "");
		e->reason = pc_strdup(c, why ? why : "");
		if (by && !*by)
			ERR(c, config_setting_get_member(g, "approved_by"), NULL,
			    "'approved_by' in %s is empty", what);
		cls = pc_string(c, g, what, "class", true);
		e->class_idx = -1;
		if (cls) {
			e->class_idx = df_class_index(p, cls);
			if (e->class_idx < 0)
				ERR(c, config_setting_get_member(g, "class"), cls,
				    "%s is for unknown class '%s'%s", what, cls,
				    class_hint(p, cls, hint, sizeof(hint)));
		}
		err = parse_match(c, g, what, false, &e->m);
		if (err)
			return err;
		e->not_before = 0;
		nb_ok = !config_setting_get_member(g, "not_before") ||
			pv_time(c, g, what, "not_before", false, &e->not_before);
		ex_ok = pv_time(c, g, what, "expires", true, &e->expires);
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

#define DF_LINT_EXC_DAYS 90 /* an exception longer than this is a standing approval */
#define DF_LINT_SOON_DAYS 7

/* What is valid but probably not meant (warnings; check --strict fails
 * on them): a policy without classes, a protected class approved to every
 * address, exceptions that stand too long or are about to end. */
static void lint(struct pctx *c, const struct df_policy *p)
{
	if (!p->n_classes)
		df_diag_add(c->d, DF_SEV_WARNING, c->file, 0, NULL,
			    "the policy has no classes: it protects nothing");
	for (size_t i = 0; i < p->n_dests; i++) {
		const struct df_dest *d = &p->dests[i];

		for (size_t j = 0; j < d->m.n_cidrs; j++) {
			uint64_t enf = 0;

			if (d->m.cidrs[j].plen)
				continue;
			for (size_t k = 0; k < p->n_classes; k++)
				if ((d->allow >> k & 1) && p->classes[k].mode == DF_MODE_ENFORCE)
					enf |= 1ULL << k;
			if (enf)
				df_diag_add(c->d, DF_SEV_WARNING, c->file, d->line, NULL,
					    "destination '%s' approves protected class '%s' to every %s address (%s/0)",
					    d->name, p->classes[__builtin_ctzll(enf)].name,
					    d->m.cidrs[j].family == 4 ? "IPv4" : "IPv6",
					    d->m.cidrs[j].family == 4 ? "0.0.0.0" : "::");
		}
	}
	for (size_t i = 0; i < p->n_excs; i++) {
		const struct df_exception *e = &p->excs[i];
		int64_t from = e->not_before, now = c->o ? c->o->now : 0;

		if (now > from)
			from = now;
		if (e->expires - from > DF_LINT_EXC_DAYS * 86400LL)
			df_diag_add(c->d, DF_SEV_WARNING, c->file, e->line, NULL,
				    "exception '%s' lasts %lld days: exceptions are meant to end (at most %d days)",
				    e->id, (long long)((e->expires - from) / 86400), DF_LINT_EXC_DAYS);
		else if (now && e->expires > now && e->expires - now < DF_LINT_SOON_DAYS * 86400LL)
			df_diag_add(c->d, DF_SEV_WARNING, c->file, e->line, NULL,
				    "exception '%s' ends within %d days",
				    e->id, DF_LINT_SOON_DAYS);
	}
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
	{ /* every integer read as written (pconf.h) */
		char *wide = df_conf_widen_ints(buf, len, c.file, diags, &err);

		free(buf);
		buf = wide;
		if (!buf) {
			free(p);
			return err;
		}
	}
	config_init(&cfg);
	if (config_read_string(&cfg, buf) != CONFIG_TRUE) {
		df_conf_syntax_error(buf, c.file, config_error_line(&cfg), config_error_text(&cfg),
				     diags);
		err = -EINVAL;
		goto cleanup;
	}
	if (df_conf_adjacent_strings(buf, c.file, diags)) {
		err = -EINVAL;
		goto cleanup;
	}
	p->file = strdup(c.file);
	if (!p->file) {
		err = -ENOMEM;
		goto cleanup;
	}
	config_setting_t *root = config_root_setting(&cfg);

	pc_check_keys(&c, root, "the policy file", keys);
	err = parse_policy_hdr(&c, root, p);
	if (!err)
		err = parse_classes(&c, root, p);
	if (!err)
		err = parse_dests(&c, root, p);
	if (!err)
		err = parse_exceptions(&c, root, p);
	if (!err && c.oom)
		err = -ENOMEM;
	if (!err && diags->errors == errors_before) {
		warn_unapproved_classes(&c, root, p);
		lint(&c, p);
	}
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

int df_read_text(const char *path, size_t max, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *buf = NULL;
	int err = 0;

	*text = NULL;
	*len = 0;
	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (*len + 4096 + 1 > cap) {
			char *t;

			cap = cap ? cap * 2 : 65536;
			t = realloc(buf, cap);
			if (!t) {
				err = -ENOMEM;
				break;
			}
			buf = t;
		}
		got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
		if (*len > max) {
			err = -EFBIG;
			break;
		}
		if (got == 0) {
			err = ferror(f) ? -EIO : 0;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		*len = 0;
		return err;
	}
	buf[*len] = '\0';
	*text = buf;
	return 0;
}

int df_policy_load_file(const char *path, const struct df_parse_opts *opts,
			struct df_policy **out, struct df_diags *diags, char **text_out)
{
	char *text;
	size_t len;
	int err = df_read_text(path, (size_t)-2, &text, &len);

	*out = NULL;
	if (text_out)
		*text_out = NULL;
	if (err) {
		df_diag_add(diags, DF_SEV_ERROR, path, 0, NULL, "cannot read: %s", strerror(-err));
		return err;
	}
	err = df_policy_parse(text, len, path, opts, out, diags);
	if (text_out)
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
	for (size_t i = 0; i < p->n_scope; i++)
		free(p->scope[i]);
	free(p->scope);
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

const struct df_match *df_rule_match(const struct df_policy *p, size_t i, int *line)
{
	if (i < p->n_dests) {
		*line = p->dests[i].line;
		return &p->dests[i].m;
	}
	*line = p->excs[i - p->n_dests].line;
	return &p->excs[i - p->n_dests].m;
}

const char *df_mode_name(enum df_mode m)
{
	return m == DF_MODE_AUDIT ? "audit" : "enforce";
}

