/* SPDX-License-Identifier: GPL-2.0-only */
/* datafencectl's shared pieces (ctl.c): the global options, one way to
 * print (text, or JSON with errors as {"error": ...}), the agent's control
 * socket, the host's backends when the agent is down, and the commands. */
#ifndef DF_CTL_H
#define DF_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "compile.h"
#include "diag.h"

/* Exit codes scripts rely on (datafencectl.8). */
#define EXIT_OK 0
#define EXIT_INVALID 1  /* check, test: policy invalid; reload: refused; unload: failed */
#define EXIT_USAGE 2
#define EXIT_DISAGREE 3 /* test: evaluators disagree (a bug: report it) */
#define EXIT_DEGRADED 1 /* status: 0 healthy, 1 degraded, 5 agent down */
#define EXIT_DOWN 5     /* the agent cannot be reached (never a usage error: 2) */
#define EXIT_REFUSED 4  /* the agent refused the request: busy, not permitted */

/* Global options. */
extern bool ctl_json;
extern const char *opt_socket, *opt_pin_dir, *opt_nft_table;

/* Prints j (compact, keys sorted) and drops the reference. */
void ctl_print_json(json_t *j);
/* A usage error: to stderr, or {"error": ...} in JSON mode; EXIT_USAGE. */
__attribute__((format(printf, 1, 2)))
int ctl_usage_error(const char *fmt, ...);
/* Options of a command that takes only --json and --help: 0, -1 for
 * --help, or an exit code. */
int ctl_simple_opts(int argc, char **argv, const char *name);
/* Loads and compiles a policy file (user names resolved on this host);
 * diagnostics in d, the file's text in *text (for carets). */
int ctl_load_policy(const char *file, struct df_policy **p, struct df_image **img,
		    struct df_diags *d, char **text);
/* check --offline: user names are not resolved here (notes, not errors). */
extern bool ctl_offline;
/* Diagnostics as [{file, line, column, severity, message}] (column null
 * when unknown; source: the file's text, may be NULL). */
json_t *ctl_diags_json(const struct df_diags *d, const char *source);

/* One request to the agent; NULL (and *why) when it cannot be reached (or
 * is not root's). An answer that is not "ok" (but a refused reload's) ends
 * datafencectl with EXIT_REFUSED and the agent's error. */
json_t *ctl_ask(const char *cmd, json_t *extra, char *why, size_t whylen);
/* The backends' settings from the global options (cgroot: a buffer for the
 * cgroup2 mount point). */
struct df_backend_conf ctl_backend_conf(char *cgroot, size_t len);
/* The status document: the agent's, or, when it is down, the same keys
 * read from what this host holds (source "kernel"); "ok" removed. */
json_t *ctl_status(void);

/* The commands; each returns its exit code, or -1 for its --help. */
int cmd_check(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_counters(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_drops(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
