// SPDX-License-Identifier: GPL-2.0-only
/* The logging module (log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <bpf/libbpf.h>
#include <systemd/sd-journal.h>

static const char *log_ident = "datafence";
static bool log_syslog, libbpf_quiet;
static bool stderr_journal; /* stderr is systemd's journal stream */
static bool to_journal;     /* syslog = true there: the journal's own API instead */

/* Is stderr the journal stream systemd gave the service (JOURNAL_STREAM
 * names its device and inode)? */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void df_log_init(const char *ident, bool to_syslog)
{
	log_ident = ident;
	log_syslog = to_syslog;
	stderr_journal = stderr_is_journal();
	/* under systemd both stderr and syslog end in the journal: one copy,
	 * through sd_journal with its priority and fields */
	to_journal = to_syslog && stderr_journal;
	if (to_syslog && !to_journal)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

bool df_log_journal(void)
{
	return to_journal;
}

/* One entry to the journal: the message, its priority, our identifier and
 * fields ("KEY=value", n of them); < 0 when the journal is not there. */
static int journal_send(int prio, const char *msg, char *const *fields, size_t n)
{
	struct iovec iov[64];
	char m[2100], p[32], id[96];
	size_t k = 0;

	snprintf(m, sizeof(m), "MESSAGE=%s", msg);
	snprintf(p, sizeof(p), "PRIORITY=%d", prio);
	snprintf(id, sizeof(id), "SYSLOG_IDENTIFIER=%s", log_ident);
	iov[k++] = (struct iovec){ m, strlen(m) };
	iov[k++] = (struct iovec){ p, strlen(p) };
	iov[k++] = (struct iovec){ id, strlen(id) };
	for (size_t i = 0; i < n && k < sizeof(iov) / sizeof(iov[0]); i++)
		iov[k++] = (struct iovec){ fields[i], strlen(fields[i]) };
	return sd_journal_sendv(iov, (int)k);
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_journal && journal_send(prio, msg, NULL, 0) >= 0)
		return;
	/* the journal reads a "<N>" prefix as the line's priority */
	if (stderr_journal)
		fprintf(stderr, "<%d>", prio);
	fprintf(stderr, "%s: %s\n", log_ident, msg);
	if (log_syslog && !to_journal)
		syslog(prio, "%s", msg);
}

void df_log_record(int prio, const char *msg, char *const *fields, size_t n)
{
	if (!log_syslog)
		return;
	if (!to_journal || journal_send(prio, msg, fields, n) < 0)
		syslog(prio, "%s", msg); /* no journal (after all) */
}

void df_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (libbpf_quiet || (level != LIBBPF_WARN && !getenv("DF_LIBBPF_DEBUG")))
		return 0;
	/* its lines end in a newline, most begin with "libbpf: "; through
	 * our one path (stderr, syslog or the journal), as info */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	df_log(LOG_INFO, "%s%s", strncmp(msg, "libbpf: ", 8) ? "libbpf: " : "", msg);
	return (int)n;
}

void df_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void df_log_libbpf_quiet(bool quiet)
{
	libbpf_quiet = quiet;
	if (quiet)
		libbpf_set_print(libbpf_print); /* libbpf's own printer would not listen */
}
