// SPDX-License-Identifier: GPL-2.0-only
/* datafencectl drops: the recent drop records, from the agent, or from the
 * drop log when the agent is down; --follow keeps reading. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "events.h"
#include "proto.h"
#include "text.h"
#include "values.h"

/* "10m", "2h", "30s", "1d" -> seconds */
static int parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case 's': case '\0': break;
	case 'm': v *= 60; break;
	case 'h': v *= 3600; break;
	case 'd': v *= 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	*out = v;
	return 0;
}

static void print_drop(json_t *d)
{
	char cls[256] = "";
	size_t i, n = 0;
	json_t *c, *rule = json_object_get(d, "rule");

	json_array_foreach(json_object_get(d, "classes"), i, c)
		n += (size_t)snprintf(cls + n, sizeof(cls) - n, "%s%s", i ? "," : "",
				      json_is_string(c) ? json_string_value(c) : "?");
	bool v6 = !strcmp(json_string_value(json_object_get(d, "family")) ?: "", "ipv6");
	const char *opt = json_string_value(json_object_get(d, "option"));

	printf("%s %-10s ", json_string_value(json_object_get(d, "ts")),
	       json_string_value(json_object_get(d, "verdict")));
	if (opt) /* a refused socket option: no flow */
		printf("setsockopt %s ", opt);
	else
		printf("%-4s %s%s%s:%lld -> %s%s%s:%lld ", json_string_value(json_object_get(d, "proto")),
		       v6 ? "[" : "", json_string_value(json_object_get(d, "src")), v6 ? "]" : "",
		       (long long)json_integer_value(json_object_get(d, "sport")), v6 ? "[" : "",
		       json_string_value(json_object_get(d, "dst")), v6 ? "]" : "",
		       (long long)json_integer_value(json_object_get(d, "dport")));
	printf("%-20s class %s", json_string_value(json_object_get(d, "reason")), cls);
	if (json_is_string(json_object_get(rule, "name")))
		printf(" rule %s", json_string_value(json_object_get(rule, "name")));
	if (json_is_string(json_object_get(d, "comm"))) {
		/* the agent escaped it (\xNN); a drop log read here may come
		 * from elsewhere */
		const char *comm = json_string_value(json_object_get(d, "comm"));
		char safe[4 * 64 + 1];

		printf(" %s[%lld]", df_text_escape(comm, strlen(comm), false, safe, sizeof(safe)),
		       (long long)json_integer_value(json_object_get(d, "pid")));
	}
	if (json_integer_value(json_object_get(d, "suppressed")))
		printf(" (+%lld earlier)", (long long)json_integer_value(json_object_get(d, "suppressed")));
	printf(" [%s]\n", json_string_value(json_object_get(d, "hook")));
}

/* The agent is down: the last records of the drop log instead. */
static json_t *drops_from_log(const char *path, const char *cls, long limit, char *why,
			      size_t whylen)
{
	FILE *f = fopen(path, "r");
	json_t *arr = json_array();
	char *line = NULL;
	size_t cap = 0;

	if (!f) {
		snprintf(why + strlen(why), whylen - strlen(why), "; no drop log %s: %s", path,
			 strerror(errno));
		json_decref(arr);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *rec = json_loads(line, 0, NULL);

		if (rec)
			df_drops_keep(arr, rec, cls, limit);
		json_decref(rec);
	}
	free(line);
	fclose(f);
	fprintf(stderr, "datafencectl: the agent is down; the last records of %s:\n", path);
	return json_pack("{s:b, s:o}", "ok", 1, "drops", arr);
}

int cmd_drops(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' }, { "since", required_argument, NULL, 's' },
		{ "class", required_argument, NULL, 'c' }, { "limit", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	const char *cls = NULL, *log = DF_DROP_LOG;
	bool follow = false;
	int64_t since_s = -1;
	long limit = 100;
	json_int_t next_seq = 0;
	char why[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fs:c:n:l:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 's':
			if (parse_duration(optarg, &since_s))
				return ctl_usage_error("drops: bad --since \"%s\" (e.g. 30s, 10m, 2h, 1d)", optarg);
			break;
		case 'c': cls = optarg; break;
		case 'n': limit = strtol(optarg, NULL, 10); break;
		case 'l': log = optarg; break;
		case 'j': ctl_json = true; break;
		case 'h': return -1;
		default: return ctl_usage_error("drops: bad option; try \"datafencectl help drops\"");
		}
	}
	for (int round = 0;; round++) {
		json_t *req = json_pack("{s:I, s:I}", "since_seq", next_seq, "limit", (json_int_t)limit);
		json_t *r, *d;
		size_t i;

		if (cls)
			json_object_set_new(req, "class", json_string(cls));
		r = ctl_ask(DF_CMD_DROPS, req, why, sizeof(why));
		if (!r && round == 0 && !follow)
			r = drops_from_log(log, cls, limit, why, sizeof(why));
		if (!r)
			return (ctl_usage_error("agent down: %s", why), EXIT_DOWN);
		json_array_foreach(json_object_get(r, "drops"), i, d) {
			int64_t ts = 0;

			next_seq = json_integer_value(json_object_get(d, "seq")) + 1;
			if (since_s >= 0 && round == 0 &&
			    (df_time_parse(json_string_value(json_object_get(d, "ts")) ?: "", &ts) ||
			     ts < (int64_t)time(NULL) - since_s))
				continue;
			if (ctl_json) {
				char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);

				puts(s);
				free(s);
			} else {
				print_drop(d);
			}
		}
		json_decref(r);
		fflush(stdout);
		if (!follow)
			return EXIT_OK;
		usleep(500000);
	}
}
