// SPDX-License-Identifier: GPL-2.0-only
/* The status document (status.h). */
#include "status.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "values.h"

bool df_json_array_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

json_t *df_time_json(time_t t)
{
	char buf[40];

	if (!t)
		return json_null();
	df_time_format((int64_t)t, buf, sizeof(buf));
	return json_string(buf);
}

json_t *df_revocation_json(const char *method, const char *why, time_t last_run)
{
	return json_pack("{s:b, s:o, s:o, s:o}", "available", method != NULL, "method",
			 method ? json_string(method) : json_null(), "why",
			 method ? json_null() : json_string(why), "last_run", df_time_json(last_run));
}

static json_t *exceptions_json(const struct df_policy *p)
{
	json_t *arr = json_array();
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; p && i < p->n_excs; i++) {
		const struct df_exception *e = &p->excs[i];
		const char *state = now < e->not_before ? "pending" : now < e->expires ? "active" : "expired";

		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I}", "id", e->id, "class",
				       p->classes[e->class_idx].name, "approved_by", e->approved_by,
				       "reason", e->reason, "not_before", df_time_json(e->not_before),
				       "expires", df_time_json(e->expires), "state", state,
				       "seconds_left", (json_int_t)(e->expires > now ? e->expires - now : 0)));
	}
	return arr;
}

/* The policy: the agent's, or what the kernel says of it (its serial). */
static json_t *policy_json(const struct df_agent_state *a, bool active, uint64_t serial)
{
	const struct df_policy *p = a && a->cur ? a->cur->p : NULL;

	if (p)
		return json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:o}", "name", p->name, "serial",
				 (json_int_t)p->serial, "sha256", a->cur->sha256, "mode",
				 df_mode_name(p->mode), "file", a->policy_file, "loaded_at",
				 df_time_json(a->loaded_at), "expires", df_time_json(p->expires));
	if (a || !active)
		return json_null();
	return json_pack("{s:n, s:I, s:n, s:n, s:n, s:n, s:n}", "name", "serial", (json_int_t)serial,
			 "sha256", "mode", "file", "loaded_at", "expires");
}

/* The same keys whether or not anything was pushed (null: nothing since
 * the agent started, or the agent is down). */
static json_t *last_push_json(const struct df_agent_state *a)
{
	if (!a || !a->pushed)
		return json_pack("{s:n, s:n, s:n, s:[]}", "result", "trigger", "at", "errors");
	return json_pack("{s:s, s:s, s:o, s:O}", "result", a->push_ok ? "accepted" : "refused",
			 "trigger", a->push_why, "at", df_time_json(a->push_at), "errors",
			 a->push_errors ? a->push_errors : json_array());
}

/* What the agent knows of itself: null fields when it is down. */
static void agent_fields(json_t *st, const struct df_agent_state *a, const char *why_down,
			 struct df_backends *bs)
{
	const char *backend = a ? a->backend : df_backends_name(bs);

	json_object_set_new(st, "source", json_string(a ? "agent" : "kernel"));
	json_object_set_new(st, "agent", json_string(a ? "running" : "down"));
	json_object_set_new(st, "why", a ? json_null() : json_string(why_down ? why_down : "?"));
	json_object_set_new(st, "pid", a ? json_integer(getpid()) : json_null());
	json_object_set_new(st, "version", a ? json_string(DF_VERSION) : json_null());
	json_object_set_new(st, "backend", backend ? json_string(backend) : json_null());
	json_object_set_new(st, "uptime_s",
			    a ? json_integer((json_int_t)(time(NULL) - a->started)) : json_null());
	json_object_set_new(st, "started_at", a ? df_time_json(a->started) : json_null());
	json_object_set_new(st, "last_push", last_push_json(a));
	/* the same keys with the agent down, null */
	json_object_set_new(st, "pushes", a && a->pushes ? json_deep_copy(a->pushes) :
					   json_pack("{s:n, s:n}", "accepted", "refused"));
	json_object_set_new(st, "approval",
			    a && a->approval ? a->approval :
					       json_pack("{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}",
							 "signatures_required", "allowed_signers",
							 "unsigned_accepted", "host_scope", "policy_scope",
							 "signed_by", "saved_serial", "expires",
							 "loaded_from", "state_error", "save_error"));
	json_object_set_new(st, "canary", a && a->canary ? a->canary :
					   json_pack("{s:n, s:n, s:n, s:n, s:n}", "enabled", "cgroup",
						     "why", "last_run", "result"));
	json_object_set_new(st, "exceptions", exceptions_json(a && a->cur ? a->cur->p : NULL));
}

static json_t *file_json(const char *path, const char *error)
{
	return json_pack("{s:s?, s:s?}", "path", path && path[0] ? path : NULL, "error", error);
}

/* The files the agent writes: a refused one (a link, someone else's
 * directory...) degrades health. Agent down: null values. */
static json_t *files_json(const struct df_agent_state *a, json_t *health)
{
	if (a && a->drop_log_error)
		json_array_append_new(health, json_string("drop log refused"));
	json_t *dl = file_json(a ? a->drop_log : NULL, a ? a->drop_log_error : NULL);

	if (a && a->metrics_error)
		json_array_append_new(health, json_string("metrics file refused"));
	/* the same keys with the agent down, null */
	json_t *more = a && a->drop_log_state ?
			       json_incref(a->drop_log_state) :
			       json_pack("{s:n, s:n, s:n, s:n, s:n}", "summaries_only", "free_mb",
					 "min_free_mb", "summaries", "folded");

	json_object_update(dl, more);
	json_decref(more);
	return json_pack("{s:o, s:o}", "drop_log", dl,
			 "metrics_file",
			 file_json(a ? a->metrics_file : NULL, a ? a->metrics_error : NULL));
}

/* Cgroup selectors that name nothing on this host: their classes protect
 * nothing here (a cause per path, with its classes). */
static void unresolved_selectors(const struct df_agent_state *a, json_t *health)
{
	const struct df_image *img = a && a->cur ? a->cur->img : NULL;
	const struct df_policy *p = a && a->cur ? a->cur->p : NULL;

	for (size_t i = 0; img && a->cgroot && i < img->n_cgroups; i++) {
		char path[1024], names[512] = "";
		struct stat sb;

		snprintf(path, sizeof(path), "%s%s", a->cgroot, img->cgroups[i].path);
		if (!stat(path, &sb))
			continue;
		for (size_t c = 0; c < p->n_classes; c++)
			if (img->cgroups[i].classes & (1ULL << c))
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 names[0] ? ", " : "", p->classes[c].name);
		json_array_append_new(health,
				      json_sprintf("selector not found: class %s: cgroup %s does not exist",
						   names, img->cgroups[i].path));
	}
}

json_t *df_status_json(const struct df_agent_state *a, const char *why_down,
		       struct df_backends *bs)
{
	const struct df_loaded *cur = a ? a->cur : NULL;
	json_t *st = json_object(), *health = json_array();
	struct df_counts c;
	const struct df_totals *t;
	uint64_t serial = 0;
	bool active = !df_backends_active(bs, &serial);

	agent_fields(st, a, why_down, bs);
	json_object_set_new(st, "policy", policy_json(a, active, serial));
	json_object_set_new(st, "enforcement", json_string(active ? "active" : "none"));
	json_object_set_new(st, "serial", active ? json_integer((json_int_t)serial) : json_null());
	if (!a)
		json_array_append_new(health, json_string("agent down"));
	if (a ? !cur : !active)
		json_array_append_new(health, json_string("no policy loaded"));
	if (a && a->pushed && !a->push_ok)
		json_array_append_new(health, json_string("last push refused"));
	if (a && a->canary) {
		const char *r = json_string_value(json_object_get(a->canary, "result"));

		if (r && strcmp(r, "refused"))
			json_array_append_new(health, json_string(r));
	}
	if (a && a->approval) {
		json_t *ap = a->approval;
		const char *from = json_string_value(json_object_get(ap, "loaded_from"));

		if (json_is_string(json_object_get(ap, "state_error")))
			json_array_append_new(health, json_sprintf("state unreadable: %s",
						json_string_value(json_object_get(ap, "state_error"))));
		if (json_is_string(json_object_get(ap, "save_error")))
			json_array_append_new(health, json_sprintf("state not saved: %s",
						json_string_value(json_object_get(ap, "save_error"))));
		if (from && a->policy_file && strcmp(from, a->policy_file))
			json_array_append_new(health, json_sprintf("last good policy in force: %s was "
						"refused at start", a->policy_file));
	}
	if (cur && cur->p->expires && time(NULL) >= cur->p->expires) {
		char t[40];

		df_time_format(cur->p->expires, t, sizeof(t));
		json_array_append_new(health, json_sprintf("policy expired: at %s", t));
	}
	unresolved_selectors(a, health);
	json_object_set_new(st, "files", files_json(a, health));
	/* each backend fills its section; absent ones stay null or empty */
	json_object_set_new(st, "bpf", json_null());
	json_object_set_new(st, "nftables", json_null());
	/* a backend that can revoke live sockets says so (the agent's probe) */
	json_object_set_new(st, "revocation",
			    a ? df_revocation_json(NULL, "no backend in use revokes live sockets", 0)
			      : json_pack("{s:n, s:n, s:n, s:n}", "available", "method", "why",
					  "last_run"));
	json_object_set_new(st, "attachments",
			    json_pack("{s:b, s:b, s:n, s:[], s:[]}", "cgroup_skb", 0, "sock_addr", 0,
				      "cgroup", "tc", "tc_missing"));
	for (size_t i = 0; i < bs->n; i++)
		bs->v[i]->ops->status(bs->v[i], cur, st, health);
	/* the counters, unless the caller read them already (metrics) */
	if (!a || !a->counts) {
		df_counts_init(&c);
		df_backends_counters(bs, cur ? cur->p : NULL, &c);
	}
	t = a && a->counts ? &a->counts->t : &c.t;
	json_object_set_new(st, "totals",
			    json_pack("{s:I, s:I, s:I, s:I}", "judged", (json_int_t)t->judged,
				      "allowed", (json_int_t)t->allowed, "dropped",
				      (json_int_t)t->dropped, "would_drop", (json_int_t)t->would_drop));
	json_object_set_new(st, "events",
			    json_pack("{s:I, s:I, s:I, s:I}", "sent", (json_int_t)t->events_sent, "lost",
				      (json_int_t)t->events_lost, "suppressed",
				      (json_int_t)t->events_suppressed, "over_budget",
				      (json_int_t)t->events_over_budget));
	if (!a || !a->counts)
		df_counts_free(&c);
	json_object_set_new(st, "warnings", json_array());
	if (a && a->approval && json_is_true(json_object_get(a->approval, "unsigned_accepted")))
		json_array_append_new(json_object_get(st, "warnings"),
				      json_string("unsigned policies are accepted (signatures_required = 0)"));
	if (a && json_is_true(json_object_get(a->drop_log_state, "summaries_only")))
		json_array_append_new(
			json_object_get(st, "warnings"),
			json_sprintf("drop log below its free-space floor (%lld MiB free, floor %lld "
				     "MiB): only summaries are written",
				     (long long)json_integer_value(json_object_get(a->drop_log_state,
										   "free_mb")),
				     (long long)json_integer_value(json_object_get(a->drop_log_state,
										   "min_free_mb"))));
	json_object_set_new(st, "health",
			    json_string(json_array_size(health) ? "degraded" : "healthy"));
	json_object_set_new(st, "health_reasons", health);
	return st;
}
