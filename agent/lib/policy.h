/* SPDX-License-Identifier: GPL-2.0-only */
/* The policy library: libconfig text -> struct df_policy with file:line
 * diagnostics (policy.c: the file's structure; values.c: its values).
 * Pure: no syscalls besides the optional user-name resolver. */
#ifndef DF_POLICY_H
#define DF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "addr.h"

enum df_mode { DF_MODE_ENFORCE = 0, DF_MODE_AUDIT = 1 };

struct df_port_range {
	uint16_t lo, hi;
};

struct df_mark {
	uint32_t value, mask;
};

struct df_class {
	char *name;
	int line;
	enum df_mode mode;
	char **cgroups; /* normalised, absolute within the cgroup2 root */
	size_t n_cgroups;
	uint32_t *uids;
	size_t n_uids;
	struct df_mark *marks;
	size_t n_marks;
	struct df_port_range *lports;
	size_t n_lports;
	struct df_cidr *laddrs;
	size_t n_laddrs;
	bool all;
};

/* What destinations and exceptions share: where, which protocols, ports. */
struct df_match {
	struct df_cidr *cidrs;
	size_t n_cidrs;
	struct df_cidr *except; /* destinations only */
	size_t n_except;
	uint8_t protos;              /* DF_P_* bits */
	struct df_port_range *ports; /* none: any port */
	size_t n_ports;
};

struct df_dest {
	char *name;
	int line;
	struct df_match m;
	uint64_t allow; /* class bits */
};

struct df_exception {
	char *id;
	char *approved_by;
	char *reason;
	int line;
	int class_idx;
	struct df_match m;
	int64_t not_before; /* unix seconds */
	int64_t expires;    /* unix seconds, exclusive */
};

struct df_policy {
	char *file;
	char *name;
	uint64_t serial;
	enum df_mode mode;
	bool allow_loopback;
	int64_t expires; /* unix seconds; 0: never (then stale: verdict step 3a) */
	char **scope;    /* host groups it is for (agent.conf scope); none: every host
			  * without a scope */
	size_t n_scope;
	uint64_t supersedes; /* the saved serial this policy may go below (docs/signing.md); 0 */
	/* The agent's posture (agent.conf, not the file): set before compiling. */
	bool drop_stale;      /* stale_posture = "drop-protected" */
	uint32_t stale_after; /* seconds without a heartbeat = stale; 0: off */
	uint64_t canary;      /* the agent's canary class bit (canary.h); 0: none */
	struct df_class *classes;
	size_t n_classes;
	struct df_dest *dests;
	size_t n_dests;
	struct df_exception *excs;
	size_t n_excs;
};

/* Resolves a user name to a uid; returns 0 or -ENOENT (the host's:
 * df_resolve_user_nss in values.h). */
typedef int (*df_user_resolver)(const char *name, uint32_t *uid, void *ctx);

struct df_parse_opts {
	df_user_resolver resolve_user; /* NULL: user names are errors (but see offline) */
	bool offline;                  /* user names are resolved on each host later: a
					* note, not an error (datafencectl check --offline) */
	void *resolve_ctx;
	int64_t now; /* for warnings about expired exceptions; 0: skip */
};

/* Parses and validates policy text. On success returns 0 and *out; on error
 * returns -EINVAL (or -ENOMEM) and every problem is in diags. Warnings may be
 * present either way. `file` names the source in diagnostics. */
int df_policy_parse(const char *text, size_t len, const char *file,
		    const struct df_parse_opts *opts, struct df_policy **out,
		    struct df_diags *diags);
/* Is the policy for a host of this scope (agent.conf `scope`, "" or NULL:
 * none)? A policy without a scope is for hosts without one only. */
bool df_policy_in_scope(const struct df_policy *p, const char *scope);
/* A whole file of at most max bytes, NUL-terminated, for tools that need no
 * root (the agent reads through safefile.h): 0, or -errno (-EFBIG: larger). */
int df_read_text(const char *path, size_t max, char **text, size_t *len);
/* Reads FILE and parses it; I/O errors become diagnostics. */
int df_policy_load_file(const char *path, const struct df_parse_opts *opts,
			struct df_policy **out, struct df_diags *diags,
			char **text_out);
void df_policy_free(struct df_policy *p);

int df_class_index(const struct df_policy *p, const char *name);
/* Rule i (destinations, then exceptions): where it matches, and its line. */
const struct df_match *df_rule_match(const struct df_policy *p, size_t i, int *line);
const char *df_mode_name(enum df_mode m);

/* libconfig 1.5 reads an integer written without `L` into an int (a serial
 * 202611291530 becomes 747828618): a copy of text where every integer
 * literal outside the int range carries its `L`, so every value is read as
 * written. A literal beyond 64 bits is an error with its line (NULL; *err
 * set, -ENOMEM when out of memory). */
/* libconfig's syntax error at `line` (its words: why) of text, said
 * precisely into d: a string never closed (at the line it opens), a
 * trailing comma, a quoted JSON-style name, a missing comma between
 * elements, an array of mixed types; else libconfig's words. */
void df_conf_syntax_error(const char *text, const char *file, int line, const char *why,
			  struct df_diags *d);
/* Strings side by side in a list (libconfig would join them into one):
 * an error each into d; returns how many. */
int df_conf_adjacent_strings(const char *text, const char *file, struct df_diags *d);
char *df_conf_widen_ints(const char *text, size_t len, const char *file, struct df_diags *d,
			 int *err);

#endif
