// SPDX-License-Identifier: GPL-2.0-only
/* libconfig access for the policy parser: typed members, lists, known keys,
 * each problem reported once as a file:line diagnostic (pconf.h). */
#include "pconf.h"

#include <stdlib.h>
#include <string.h>

int pc_line(const config_setting_t *s)
{
	for (; s; s = config_setting_parent(s))
		if (config_setting_source_line(s))
			return (int)config_setting_source_line(s);
	return 0;
}

const char *pc_type_name(int type)
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

void *pc_calloc(struct pctx *c, size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p)
		c->oom = true;
	return p;
}

char *pc_strdup(struct pctx *c, const char *s)
{
	char *p = strdup(s);

	if (!p)
		c->oom = true;
	return p;
}

/* Reports keys of `group` not in `allowed` (NULL-terminated). */
void pc_check_keys(struct pctx *c, const config_setting_t *group,
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
config_setting_t *pc_member(struct pctx *c, const config_setting_t *group,
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
		    type == -1 ? "integer" : pc_type_name(type),
		    config_setting_type(s) == CONFIG_TYPE_INT ||
				    config_setting_type(s) == CONFIG_TYPE_ARRAY ?
			    "an" :
			    "a",
		    pc_type_name(t));
		return NULL;
	}
	return s;
}

const char *pc_string(struct pctx *c, const config_setting_t *group,
				 const char *what, const char *key, bool required)
{
	config_setting_t *s = pc_member(c, group, what, key, CONFIG_TYPE_STRING, required);

	return s ? config_setting_get_string(s) : NULL;
}

/* A list-valued key: array, list, or a single scalar taken as a one-element
 * list. Returns the count of elements (0 if absent) and the setting. */
int pc_list(struct pctx *c, const config_setting_t *group,
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

config_setting_t *pc_elem(config_setting_t *list, int i)
{
	if (config_setting_is_scalar(list))
		return list;
	return config_setting_get_elem(list, (unsigned int)i);
}
