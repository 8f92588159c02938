// SPDX-License-Identifier: GPL-2.0-only
/* Drop event formatting (docs/agent.md lists the JSON keys). */
#include "events.h"

#include <jansson.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"
#include "verdict.h"
#include "values.h"

const char *df_hook_name(unsigned int hook)
{
	static const char *const n[] = { "cgroup_skb", "tc",	 "connect", "sendmsg",
					 "setsockopt", "revoke", "nftables" };

	return hook <= DF_HOOK__MAX ? n[hook] : "?"; /* DF_HOOK__MAX: the nftables backend */
}

/* The option a setsockopt event names (level and optname ride in sport
 * and dport). */
static const char *option_str(const struct df_event *e, char *buf, size_t len)
{
	static const char *const xdp[] = { [XDP_RX_RING] = "XDP_RX_RING",
					   [XDP_TX_RING] = "XDP_TX_RING",
					   [XDP_UMEM_REG] = "XDP_UMEM_REG",
					   [XDP_UMEM_FILL_RING] = "XDP_UMEM_FILL_RING",
					   [XDP_UMEM_COMPLETION_RING] = "XDP_UMEM_COMPLETION_RING" };

	if (e->sport == SOL_PACKET && e->dport == PACKET_QDISC_BYPASS)
		return "PACKET_QDISC_BYPASS";
	if (e->sport == SOL_XDP && e->dport < sizeof(xdp) / sizeof(xdp[0]) && xdp[e->dport])
		return xdp[e->dport];
	snprintf(buf, len, "level %u option %u", e->sport, e->dport);
	return buf;
}

void df_ts_format(__u64 ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	char b[32];

	gmtime_r(&s, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06lluZ", b, (unsigned long long)(ns % 1000000000ULL) / 1000);
}

void df_drops_keep(json_t *arr, json_t *rec, const char *cls, long limit)
{
	bool match = !cls;
	size_t i;
	json_t *c;

	if (!json_is_string(json_object_get(rec, "hook")))
		return; /* an audit record or a storm's summary: no drop of its own */
	json_array_foreach(json_object_get(rec, "classes"), i, c)
		match |= cls && json_is_string(c) && !strcmp(json_string_value(c), cls);
	if (match)
		json_array_append(arr, rec);
	while (limit >= 0 && (long)json_array_size(arr) > limit)
		json_array_remove(arr, 0); /* keep the newest */
}

/* A name others chose, escaped, as a JSON string (never NULL: never a lost
 * key). */
static json_t *json_text(const char *s, size_t n)
{
	char buf[4 * 4096 + 1];

	return json_string(df_text_escape(s, n, true, buf, sizeof(buf)));
}

json_t *df_event_json(const struct df_event *e, const struct df_policy *p,
		      const struct df_event_names *n)
{
	char src[DF_ADDRSTRLEN], dst[DF_ADDRSTRLEN], ts[64], pb[8], comm[17];
	bool named = p && p->serial == e->serial;
	json_t *j, *classes = json_array();

	df_addr_format(e->family, e->saddr, src, sizeof(src));
	df_addr_format(e->family, e->daddr, dst, sizeof(dst));
	df_ts_format(e->ts_ns, ts, sizeof(ts));
	memcpy(comm, e->comm, 16);
	comm[16] = '\0';
	for (unsigned int i = 0; i < DF_MAX_CLASSES; i++) {
		if (!(e->classes & (1ULL << i)))
			continue;
		if (named && i < p->n_classes)
			json_array_append_new(classes, json_string(p->classes[i].name));
		else
			json_array_append_new(classes, json_integer(i));
	}
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I}",
		      "schema", DF_RECORD_SCHEMA, "ts", ts, "hook", df_hook_name(e->hook), "verdict",
		      df_verdict_name(e->verdict), "reason", df_reason_name(e->reason), "classes",
		      classes, "proto", df_proto_str(e->proto, pb, sizeof(pb)), "src", src, "dst", dst,
		      "sport", e->sport, "dport", e->dport, "serial", (json_int_t)e->serial, "seq",
		      (json_int_t)e->seq, "suppressed", (json_int_t)e->suppressed, "ifindex",
		      (json_int_t)e->ifindex);
	if (!j)
		return NULL;
	if (e->hook == DF_HOOK_SETSOCKOPT) {
		char ob[40];

		json_object_set_new(j, "option", json_string(option_str(e, ob, sizeof(ob))));
	}
	json_object_set_new(j, "family", json_string(e->family == 4   ? "ipv4" :
						     e->family == 6 ? "ipv6" :
								      "non-ip"));
	if (e->uid != 0xffffffffu) {
		json_object_set_new(j, "uid", json_integer(e->uid));
		if (n && n->user)
			json_object_set_new(j, "user", json_text(n->user, strlen(n->user)));
	}
	if (e->cgroup_id) {
		json_object_set_new(j, "cgroup_id", json_integer((json_int_t)e->cgroup_id));
		if (n && n->cgroup)
			json_object_set_new(j, "cgroup", json_text(n->cgroup, strlen(n->cgroup)));
	}
	if (e->pid) {
		json_object_set_new(j, "pid", json_integer(e->pid));
		json_object_set_new(j, "comm", json_text(comm, strlen(comm)));
	}
	if (e->rule != DF_NO_RULE) {
		const char *kind = "rule", *name = named ? df_rule_name(p, e->rule, &kind) : NULL;

		json_object_set_new(j, "rule", name ? json_pack("{s:s, s:s}", "kind", kind, "name", name) :
						      json_pack("{s:i}", "index", e->rule));
	}
	if (named)
		json_object_set_new(j, "policy", json_string(p->name));
	return j;
}

void df_event_summary(const struct df_event *e, const struct df_policy *p, char *buf, size_t len)
{
	char src[DF_ADDRSTRLEN], dst[DF_ADDRSTRLEN], pb[8];
	const char *cls = "?";
	bool named = p && p->serial == e->serial;

	df_addr_format(e->family, e->saddr, src, sizeof(src));
	df_addr_format(e->family, e->daddr, dst, sizeof(dst));
	if (named && e->classes) {
		unsigned int i = (unsigned int)__builtin_ctzll(e->classes);

		if (i < p->n_classes)
			cls = p->classes[i].name;
	}
	if (e->hook == DF_HOOK_SETSOCKOPT) {
		char ob[40];

		snprintf(buf, len, "%s setsockopt %s reason %s class %s uid %d pid %u%s",
			 df_verdict_name(e->verdict), option_str(e, ob, sizeof(ob)),
			 df_reason_name(e->reason), cls, e->uid == 0xffffffffu ? -1 : (int)e->uid,
			 e->pid, e->suppressed ? " (and earlier refusals)" : "");
		return;
	}
	snprintf(buf, len, "%s %s %s%s%s:%u -> %s%s%s:%u reason %s class %s hook %s uid %d pid %u%s",
		 df_verdict_name(e->verdict), df_proto_str(e->proto, pb, sizeof(pb)),
		 e->family == 6 ? "[" : "", src, e->family == 6 ? "]" : "", e->sport,
		 e->family == 6 ? "[" : "", dst, e->family == 6 ? "]" : "", e->dport,
		 df_reason_name(e->reason), cls, df_hook_name(e->hook),
		 e->uid == 0xffffffffu ? -1 : (int)e->uid, e->pid,
		 e->suppressed ? " (and earlier drops of this flow)" : "");
}
