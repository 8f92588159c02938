// SPDX-License-Identifier: GPL-2.0-only
/* libconfig access for the policy parser: typed members, lists, known keys,
 * each problem reported once as a file:line diagnostic (pconf.h). */
#include "pconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
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

/* Where a number may start: not inside a name (libconfig names take
 * letters, digits, '-', '_' and '*') or another number. */
static bool number_starts(const char *text, size_t i)
{
	char prev = i ? text[i - 1] : ' ';

	return !(isalnum((unsigned char)prev) || prev == '_' || prev == '*' || prev == '-' ||
		 prev == '.' || prev == '+');
}

/* The integer literal at text[i] (an optional sign, decimal or 0x hex):
 * its end, whether it is a float, and whether it fits in an int or in
 * 64 bits at all. */
static size_t scan_number(const char *text, size_t len, size_t i, bool *is_float, bool *fits_int,
			  bool *fits_64)
{
	size_t j = i, digits;
	bool neg = false, hex = false;
	unsigned long long v = 0;

	*is_float = false;
	*fits_64 = true;
	if (text[j] == '-' || text[j] == '+')
		neg = text[j++] == '-';
	if (j + 1 < len && text[j] == '0' && (text[j + 1] == 'x' || text[j + 1] == 'X')) {
		hex = true;
		j += 2;
	}
	for (digits = j; j < len && (hex ? isxdigit((unsigned char)text[j]) :
					   isdigit((unsigned char)text[j])); j++) {
		unsigned int dgt = isdigit((unsigned char)text[j]) ? (unsigned int)(text[j] - '0') :
				   (unsigned int)(tolower((unsigned char)text[j]) - 'a' + 10);

		if (v > (ULLONG_MAX - dgt) / (hex ? 16 : 10))
			*fits_64 = false;
		v = v * (hex ? 16 : 10) + dgt;
	}
	if (!hex && j < len && (text[j] == '.' || text[j] == 'e' || text[j] == 'E')) {
		*is_float = true; /* libconfig's own: nothing to widen */
		while (j < len && (isdigit((unsigned char)text[j]) || strchr(".eE+-", text[j])))
			j++;
		return j;
	}
	if (j == digits)
		return i + 1; /* a lone sign or "0x": not ours to judge */
	/* hex: libconfig keeps the bit pattern of 64 bits; decimal: signed */
	if (hex)
		*fits_int = *fits_64 && v <= INT_MAX;
	else {
		*fits_64 = *fits_64 && v <= (neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX);
		*fits_int = *fits_64 && v <= (neg ? (unsigned long long)INT_MAX + 1 : INT_MAX);
	}
	return j;
}

char *df_conf_widen_ints(const char *text, size_t len, const char *file, struct df_diags *d,
			 int *err)
{
	char *out = malloc(len * 2 + 1); /* at most one 'L' per two bytes */
	size_t o = 0, line = 1;

	*err = 0;
	if (!out) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < len;) {
		char ch = text[i];

		if (ch == '"') { /* a string, escapes and all */
			size_t j = i + 1;

			while (j < len && text[j] != '"')
				j += text[j] == '\\' && j + 1 < len ? 2 : 1;
			j = j < len ? j + 1 : len;
			for (size_t k = i; k < j; k++)
				line += text[k] == '\n';
			memcpy(out + o, text + i, j - i);
			o += j - i;
			i = j;
		} else if (ch == '#' || (ch == '/' && i + 1 < len && text[i + 1] == '/') ||
			   (ch == '/' && i + 1 < len && text[i + 1] == '*')) {
			bool block = ch == '/' && text[i + 1] == '*';
			const char *e = block ? strstr(text + i + 2, "*/") : memchr(text + i, '\n', len - i);
			size_t j = e ? (size_t)(e - text) + (block ? 2 : 0) : len;

			j = j > len ? len : j;
			for (size_t k = i; k < j; k++)
				line += text[k] == '\n';
			memcpy(out + o, text + i, j - i);
			o += j - i;
			i = j;
		} else if ((isdigit((unsigned char)ch) ||
			    ((ch == '-' || ch == '+') && i + 1 < len &&
			     isdigit((unsigned char)text[i + 1]))) &&
			   number_starts(text, i)) {
			bool is_float, fits_int = true, fits_64;
			size_t j = scan_number(text, len, i, &is_float, &fits_int, &fits_64);

			memcpy(out + o, text + i, j - i);
			o += j - i;
			if (!is_float && !fits_64) {
				df_diag_add(d, DF_SEV_ERROR, file, (int)line, NULL,
					    "the number %.*s is beyond a 64-bit integer", (int)(j - i),
					    text + i);
				*err = -ERANGE;
			} else if (!is_float && !fits_int && (j >= len || text[j] != 'L')) {
				out[o++] = 'L';
			}
			i = j;
		} else {
			line += ch == '\n';
			out[o++] = ch;
			i++;
		}
	}
	out[o] = '\0';
	if (*err) {
		free(out);
		return NULL;
	}
	return out;
}
