// SPDX-License-Identifier: GPL-2.0-only
/* libconfig access for the policy parser: typed members, lists, known keys,
 * each problem reported once as a file:line diagnostic (pconf.h). */
#include "pconf.h"
#include "text.h"

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
		size_t n_allowed = 0;
		const char *hint;

		for (const char *const *a = allowed; *a; a++, n_allowed++) {
			if (name && !strcmp(name, *a))
				ok = true;
			if (strlen(list) + strlen(*a) + 3 < sizeof(list)) {
				if (list[0])
					strcat(list, ", ");
				strcat(list, *a);
			}
		}
		if (ok)
			continue;
		hint = df_did_you_mean(name, allowed, n_allowed);
		ERR(c, m, name, "unknown key '%s' in %s (known: %s)%s%s%s", name ? name : "?", what,
		    list, hint ? "; did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
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

/* ---- syntax errors said precisely -------------------------------------------------- */

/* What a scan of libconfig text found at one place. */
struct finding {
	int line;
	char culprit[64];
	char msg[200];
};

/* The text from a to b (one line, at most 63 bytes) as a culprit. */
static void span(struct finding *f, const char *a, const char *b)
{
	size_t n = (size_t)(b - a) + 1;

	if (memchr(a, '\n', n) || n >= sizeof(f->culprit))
		n = 1;
	memcpy(f->culprit, a, n);
	f->culprit[n] = '\0';
}

/* One pass over the text (strings, # // and C comments skipped as libconfig
 * does), up to line `upto` (0: all): the last finding at or before it in
 * *last, every pair of strings side by side in a list reported to d (when
 * given), and the line of a string never closed (0: none). */
static int scan(const char *t, int upto, struct finding *last, const char *file,
		struct df_diags *d)
{
	char stack[64], prev = 0;    /* the last significant character */
	const char *prev_at = NULL;  /* where it is */
	const char *str_at = NULL;   /* a string's opening quote */
	bool str_starts = false;     /* the last string begins a setting (a name's place) */
	int depth = 0, line = 1, prev_line = 0, str_line = 0;

	for (const char *p = t; *p; p++) {
		char ch = *p;

		if (upto && line > upto)
			break;
		if (ch == '\n') {
			line++;
			continue;
		}
		if (ch == '#' || (ch == '/' && p[1] == '/')) {
			while (p[1] && p[1] != '\n')
				p++;
			continue;
		}
		if (ch == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			if (!*p)
				return 0;
			p++;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r')
			continue;
		if (ch == '"') {
			const char *open = p;
			int open_line = line;

			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '\n')
					line++;
			}
			if (!*p)
				return open_line; /* never closed */
			if (depth && (stack[depth - 1] == '[' || stack[depth - 1] == '(') &&
			    prev == '"') {
				struct finding f = { .line = open_line };

				span(&f, prev_at, open);
				snprintf(f.msg, sizeof(f.msg),
					 "a missing comma: libconfig would join these two strings into one");
				if (d)
					df_diag_add(d, DF_SEV_ERROR, file, open_line, f.culprit, "%s",
						    f.msg);
				*last = f;
			}
			str_starts = !prev || prev == '{' || prev == ';' || prev == ',';
			str_at = open;
			str_line = open_line;
			prev = '"';
			prev_at = p;
			prev_line = line;
			continue;
		}
		if ((ch == '=' || ch == ':') && prev == '"' && str_starts &&
		    (!depth || stack[depth - 1] == '{')) {
			struct finding f = { .line = str_line };
			int n = (int)(prev_at - str_at - 1);

			snprintf(f.culprit, sizeof(f.culprit), "%.*s", n > 0 && n < 63 ? n : 0,
				 str_at + 1);
			snprintf(f.msg, sizeof(f.msg),
				 "a quoted name \"%s\": names are bare words in libconfig "
				 "(name = value;), not JSON keys", f.culprit);
			*last = f;
		}
		if ((ch == ']' || ch == ')') && prev == ',') {
			struct finding f = { .line = prev_line };

			span(&f, prev_at, p);
			snprintf(f.msg, sizeof(f.msg),
				 "a trailing comma before '%c': libconfig takes none after the last "
				 "element", ch);
			*last = f;
		}
		if (depth && (stack[depth - 1] == '[' || stack[depth - 1] == '(') &&
		    (isalnum((unsigned char)ch) || ch == '-' || ch == '+' || ch == '[' ||
		     ch == '(' || ch == '{') &&
		    (isalnum((unsigned char)prev) || prev == '"' || prev == ']' || prev == ')' ||
		     prev == '}') &&
		    !(isalnum((unsigned char)prev) && prev_at == p - 1)) {
			struct finding f = { .line = line };

			span(&f, prev_at, p);
			snprintf(f.msg, sizeof(f.msg), "a missing comma between two elements");
			*last = f;
		}
		if (ch == '[' || ch == '(' || ch == '{') {
			if (depth < (int)sizeof(stack))
				stack[depth++] = ch;
		} else if ((ch == ']' || ch == ')' || ch == '}') && depth) {
			depth--;
		}
		prev = ch;
		prev_at = p;
		prev_line = line;
	}
	return 0;
}

void df_conf_syntax_error(const char *text, const char *file, int line, const char *why,
			  struct df_diags *d)
{
	struct finding f = { 0 };
	int open = scan(text, 0, &f, NULL, NULL);

	if (open) {
		df_diag_add(d, DF_SEV_ERROR, file, open, NULL,
			    "syntax error: a string opened on this line is never closed (a quote "
			    "missing)");
		return;
	}
	memset(&f, 0, sizeof(f));
	scan(text, line, &f, NULL, NULL);
	if (why && !strcmp(why, "mismatched element type in array")) {
		df_diag_add(d, DF_SEV_ERROR, file, line, NULL,
			    "syntax error: an array [ ] holds values of one type (all strings or all "
			    "numbers); a list ( ) may mix them");
		return;
	}
	if (f.line && f.line >= line - 1) {
		df_diag_add(d, DF_SEV_ERROR, file, f.line, f.culprit[0] ? f.culprit : NULL,
			    "syntax error: %s", f.msg);
		return;
	}
	if (why && !strcmp(why, "syntax error"))
		why = "a missing ';', '=', quote or bracket at or before this line";
	df_diag_add(d, DF_SEV_ERROR, file, line, NULL, "syntax error: %s", why ? why : "unknown");
}

int df_conf_adjacent_strings(const char *text, const char *file, struct df_diags *d)
{
	struct finding f = { 0 };
	size_t before = d->errors;

	scan(text, 0, &f, file, d);
	return (int)(d->errors - before);
}
