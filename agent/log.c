// SPDX-License-Identifier: GPL-2.0-only
/* The logging module (log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

static const char *log_ident = "datafence";
static bool log_syslog, libbpf_quiet;

void df_log_init(const char *ident, bool to_syslog)
{
	log_ident = ident;
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	fprintf(stderr, "%s: ", log_ident);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (log_syslog)
		vsyslog(prio, fmt, copy);
	va_end(copy);
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
	if (libbpf_quiet || (level != LIBBPF_WARN && !getenv("DF_LIBBPF_DEBUG")))
		return 0;
	/* libbpf's lines end in a newline: printed as they are */
	fprintf(stderr, "libbpf: ");
	return vfprintf(stderr, fmt, ap);
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
