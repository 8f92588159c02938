/* SPDX-License-Identifier: GPL-2.0-only */
/* One logging module (log.c): "<program>: message" on stderr and, with the
 * agent's `syslog = true`, to syslog with its severity. libbpf's output
 * comes through here one level lower. */
#ifndef DF_LOG_H
#define DF_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* ident prefixes every line ("datafenced"). Messages go to stderr, and
 * with to_syslog to syslog too; but when stderr is systemd's journal stream
 * (JOURNAL_STREAM) and to_syslog, only to the journal, once, through
 * sd_journal with their priority (stderr lines there carry a "<N>" priority
 * prefix otherwise). Before it: "datafence:" on stderr. */
void df_log_init(const char *ident, bool to_syslog);
/* Are messages going to the journal's own API? */
bool df_log_journal(void);
/* A drop record's (or a storm summary's) line: to syslog, or to the
 * journal with its fields ("DATAFENCE_KEY=value", n of them); nothing
 * without to_syslog. Never to stderr. */
void df_log_record(int prio, const char *msg, char *const *fields, size_t n);
__attribute__((format(printf, 2, 3)))
void df_log(int prio, const char *fmt, ...);

#define pr_err(...) df_log(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) df_log(LOG_WARNING, __VA_ARGS__)
#define pr_notice(...) df_log(LOG_NOTICE, __VA_ARGS__)
#define pr_info(...) df_log(LOG_INFO, __VA_ARGS__)

/* Routes libbpf's messages through df_log (warnings as info; debug and
 * info only with DF_LIBBPF_DEBUG set); quiet drops them (probing). */
void df_log_libbpf(void);
void df_log_libbpf_quiet(bool quiet);

#endif
