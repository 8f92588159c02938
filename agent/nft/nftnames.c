// SPDX-License-Identifier: GPL-2.0-only
/* The nftables backend's names and reports, pure (no netlink): counter
 * names, the NFLOG prefix, and a report turned into a drop event. Shared by
 * the agent, datafencectl and the fuzz targets. */
#include "nftnames.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "verdict.h"
#include "refeval.h"

/* ---- names ------------------------------------------------------------------- */

static void word(char *dst, size_t len, const char *w)
{
	size_t i;

	for (i = 0; w[i] && i + 1 < len; i++)
		dst[i] = w[i] == '-' ? '_' : w[i];
	dst[i] = '\0';
}

void df_nft_counter_name(char *buf, size_t len, int slot, int verdict, int reason)
{
	char v[32], r[32], s[16];

	word(v, sizeof(v), df_verdict_name((enum df_verdict)verdict));
	word(r, sizeof(r), df_reason_name((enum df_reason)reason));
	if (slot >= DF_MAX_CLASSES)
		snprintf(s, sizeof(s), "none");
	else
		snprintf(s, sizeof(s), "c%d", slot);
	snprintf(buf, len, "df_%s_%s_%s", s, v, r);
}

void df_nft_fast_name(char *buf, size_t len, int slot, int rule)
{
	snprintf(buf, len, "df_a%d_r%d", slot, rule);
}

int df_nft_fast_parse(const char *name, int *slot, int *rule)
{
	char back[96];
	int n = -1;

	if (sscanf(name, "df_a%d_r%d%n", slot, rule, &n) != 2 || n != (int)strlen(name) ||
	    *slot < 0 || *slot >= DF_MAX_CLASSES || *rule < 0)
		return -1;
	df_nft_fast_name(back, sizeof(back), *slot, *rule); /* one spelling: df_a07 is not ours */
	return strcmp(back, name) ? -1 : 0;
}

void df_nft_over_name(char *buf, size_t len, int slot, int reason)
{
	char r[32];

	word(r, sizeof(r), df_reason_name((enum df_reason)reason));
	snprintf(buf, len, "df_over_c%d_%s", slot, r);
}

int df_nft_over_parse(const char *name, int *slot, int *reason)
{
	char back[96];
	int n = -1;

	if (sscanf(name, "df_over_c%d_%n", slot, &n) != 1 || n <= 0 || *slot < 0 ||
	    *slot >= DF_MAX_CLASSES)
		return -1;
	for (int r = 0; r < DF_REASON__MAX; r++) {
		df_nft_over_name(back, sizeof(back), *slot, r);
		if (!strcmp(back, name)) {
			*reason = r;
			return 0;
		}
	}
	return -1;
}

int df_nft_counter_parse(const char *name, int *slot, int *verdict, int *reason, int *rule)
{
	const char *p;
	char w[48];
	int n = -1;

	*slot = *verdict = *reason = *rule = -1;
	if (sscanf(name, "df_r%d%n", rule, &n) == 1 && n == (int)strlen(name) && *rule >= 0)
		return 1;
	*rule = -1;
	if (!strncmp(name, "df_none_", 8)) {
		*slot = DF_MAX_CLASSES;
		p = name + 8;
	} else if (sscanf(name, "df_c%d_%n", slot, &n) == 1 && n > 0 && *slot >= 0 &&
		   *slot < DF_MAX_CLASSES) {
		p = name + n;
	} else {
		*slot = -1;
		return -1;
	}
	for (int v = 0; v < DF_VERDICT__MAX; v++) {
		size_t len;

		word(w, sizeof(w), df_verdict_name((enum df_verdict)v));
		len = strlen(w);
		if (strncmp(p, w, len) || p[len] != '_')
			continue;
		for (int r = 0; r < DF_REASON__MAX; r++) {
			word(w, sizeof(w), df_reason_name((enum df_reason)r));
			if (!strcmp(p + len + 1, w)) {
				char back[96];

				/* the canonical spelling only (no "c007") */
				df_nft_counter_name(back, sizeof(back), *slot, v, r);
				if (strcmp(back, name))
					break;
				*verdict = v;
				*reason = r;
				return 0;
			}
		}
	}
	*slot = -1;
	return -1;
}

int df_nft_prefix_parse(const char *prefix, uint64_t *serial, int *slot, int *verdict,
			int *reason)
{
	unsigned long long s;
	int n = -1;

	if (sscanf(prefix, "df %llu %d %d %d%n", &s, slot, verdict, reason, &n) != 4 ||
	    (prefix[n] != '\0' && prefix[n] != ' ') || *slot < 0 || *slot > DF_MAX_CLASSES ||
	    *verdict < 0 || *verdict >= DF_VERDICT__MAX || *reason < 0 ||
	    *reason >= DF_REASON__MAX)
		return -1;
	*serial = s;
	return 0;
}

/* ---- report -> event ------------------------------------------------------------ */

/* The packet's addresses, protocol and ports (0 when it has none). */
static int parse_packet(const uint8_t *p, size_t len, struct df_event *e)
{
	size_t l4;
	uint8_t proto;

	if (len >= 20 && (p[0] >> 4) == 4) {
		size_t ihl = (size_t)(p[0] & 0xf) * 4;

		if (ihl < 20 || ihl > len)
			return -EINVAL;
		e->family = 4;
		memcpy(e->saddr, p + 12, 4);
		memcpy(e->daddr, p + 16, 4);
		proto = p[9];
		l4 = ihl;
		if ((p[6] & 0x1f) || p[7]) /* a non-first fragment: no ports */
			l4 = len;
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		uint8_t next = p[6];

		e->family = 6;
		memcpy(e->saddr, p + 8, 16);
		memcpy(e->daddr, p + 24, 16);
		l4 = 40;
		/* a few extension headers (hop-by-hop, routing, destination) */
		for (int i = 0; i < 4 && (next == 0 || next == 43 || next == 60) && l4 + 8 <= len; i++) {
			next = p[l4];
			l4 += ((size_t)p[l4 + 1] + 1) * 8;
		}
		proto = next;
	} else {
		return -EINVAL;
	}
	e->proto = proto;
	if ((proto == 6 || proto == 17 || proto == 132) && l4 + 4 <= len) {
		e->sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
		e->dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	}
	return 0;
}

bool df_flow_report(struct df_flow_limiter *fl, struct df_event *e, uint64_t now_ns)
{
	/* FNV-1a over what makes a flow */
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *parts[] = { &e->family, &e->proto, &e->verdict, e->saddr, e->daddr,
				   (const uint8_t *)&e->sport, (const uint8_t *)&e->dport };
	const size_t lens[] = { 1, 1, 1, 16, 16, 2, 2 };
	struct df_flow_slot *s;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t k = 0; k < lens[i]; k++)
			h = (h ^ parts[i][k]) * 1099511628211ULL;
	h |= 1; /* 0: an empty slot */
	s = &fl->slot[h % DF_FLOW_SLOTS];
	if (s->hash == h && now_ns - s->last_ns < 1000000000ULL) {
		s->folded++;
		return false;
	}
	e->suppressed = s->hash == h ? s->folded : 0;
	s->hash = h;
	s->last_ns = now_ns;
	s->folded = 0;
	return true;
}

int df_nflog_event(const struct df_nflog_rec *r, const struct df_policy *p, uint64_t seq,
		   struct df_event *e)
{
	uint64_t serial;
	int slot, verdict, reason;
	struct timespec ts;

	memset(e, 0, sizeof(*e));
	if (df_nft_prefix_parse(r->prefix, &serial, &slot, &verdict, &reason) ||
	    parse_packet(r->payload, r->len, e))
		return -EINVAL;
	e->version = DF_EVENT_VERSION;
	e->hook = DF_HOOK_NFTABLES;
	e->verdict = (uint8_t)verdict;
	e->reason = (uint8_t)reason;
	e->rule = DF_NO_RULE;
	e->classes = slot < DF_MAX_CLASSES ? 1ULL << slot : 0;
	e->uid = r->has_uid ? r->uid : 0xffffffffu;
	e->ifindex = r->ifindex;
	e->serial = serial;
	e->seq = seq;
	if (r->ts_ns) {
		e->ts_ns = (uint64_t)r->ts_ns;
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		e->ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	}
	/* the rule behind the reason, as the reference names it */
	if (p && p->serial == serial && e->classes) {
		struct df_packet pkt = { .proto = e->proto, .sport = e->sport, .dport = e->dport,
					 .uid = e->uid, .mark = r->mark };
		struct df_result res;

		pkt.dst.family = pkt.src.family = e->family;
		pkt.dst.plen = pkt.src.plen = e->family == 4 ? 32 : 128;
		memcpy(pkt.dst.addr, e->daddr, 16);
		memcpy(pkt.src.addr, e->saddr, 16);
		df_ref_verdict(p, &pkt, e->classes, (int64_t)(e->ts_ns / 1000000000ULL), &res);
		if (res.reason == (enum df_reason)reason && res.rule >= 0)
			e->rule = (uint16_t)res.rule;
	}
	return 0;
}
