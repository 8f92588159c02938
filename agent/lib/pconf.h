/* SPDX-License-Identifier: GPL-2.0-only */
/* libconfig access for the policy parser: every lookup type-checks and
 * reports what is wrong as file:line (the parse goes on, so a file's errors
 * come all at once). Internal to the policy library. */
#ifndef DF_PCONF_H
#define DF_PCONF_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "policy.h"

/* One parse: where diagnostics go and what the caller allows. */
struct pctx {
	const char *file;
	struct df_diags *d;
	const struct df_parse_opts *o;
	bool oom;
};

/* The source line of a setting (or of its nearest ancestor that has one). */
int pc_line(const config_setting_t *s);

#define ERR(c, s, culprit, ...) \
	df_diag_add((c)->d, DF_SEV_ERROR, (c)->file, pc_line(s), culprit, __VA_ARGS__)
#define WARN(c, s, culprit, ...) \
	df_diag_add((c)->d, DF_SEV_WARNING, (c)->file, pc_line(s), culprit, __VA_ARGS__)

/* "integer", "string", "list"...: a CONFIG_TYPE_* in words. */
const char *pc_type_name(int type);
/* calloc/strdup that remember running out of memory in c->oom. */
void *pc_calloc(struct pctx *c, size_t n, size_t sz);
char *pc_strdup(struct pctx *c, const char *s);
/* Reports keys of `group` not in `allowed` (NULL-terminated). */
void pc_check_keys(struct pctx *c, const config_setting_t *group, const char *what,
		   const char *const *allowed);
/* The value of `key` in `group`, type-checked; NULL if absent or wrong (wrong
 * is reported). type: a CONFIG_TYPE_*, or -1 for any integer. */
config_setting_t *pc_member(struct pctx *c, const config_setting_t *group, const char *what,
			    const char *key, int type, bool required);
const char *pc_string(struct pctx *c, const config_setting_t *group, const char *what,
		      const char *key, bool required);
/* A list-valued key: array, list, or one scalar taken as a one-element list.
 * Returns the number of elements (0 if absent); *out is the setting. */
int pc_list(struct pctx *c, const config_setting_t *group, const char *what, const char *key,
	    bool required, config_setting_t **out);
/* Element i of what pc_list() returned. */
config_setting_t *pc_elem(config_setting_t *list, int i);

#endif
