// SPDX-License-Identifier: GPL-2.0-only
/* Policy pushes (agent.h): the policy file read safely, parsed, compiled,
 * checked against the serial in force, into every backend; the cgroups its
 * selectors name watched; the edge timer at the next exception end. */
#include <errno.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "safefile.h"
#include "values.h"

static void sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void log_diags(const struct df_diags *d, int prio)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];
		const char *sev = x->sev == DF_SEV_ERROR ? "error" : "warning";

		if (x->line > 0)
			df_log(prio, "%s:%d: %s: %s", x->file ? x->file : "-", x->line, sev,
			       x->msg ? x->msg : "");
		else
			df_log(prio, "%s: %s: %s", x->file ? x->file : "policy", sev, x->msg ? x->msg : "");
	}
}

/* Watches the parent directory of every cgroup selector (or its deepest
 * existing ancestor), so a service cgroup made after the policy loaded is
 * classified without anyone asking. */
void agent_watch_cgroups(struct agent *a)
{
	for (size_t i = 0; i < a->n_cg_wd; i++)
		inotify_rm_watch(a->ino_fd, a->cg_wd[i]);
	a->n_cg_wd = 0;
	for (size_t i = 0; a->img && i < a->img->n_cgroups && a->n_cg_wd < MAX_CG_WATCHES; i++) {
		char dir[1024];
		int wd = -1;

		snprintf(dir, sizeof(dir), "%s%s", a->cgroot, a->img->cgroups[i].path);
		while (wd < 0 && strlen(dir) > strlen(a->cgroot)) {
			char *slash = strrchr(dir, '/');

			if (!slash)
				break;
			*slash = '\0';
			wd = inotify_add_watch(a->ino_fd, dir[0] ? dir : "/",
					       IN_CREATE | IN_DELETE | IN_ONLYDIR);
		}
		if (wd < 0)
			wd = inotify_add_watch(a->ino_fd, a->cgroot, IN_CREATE | IN_DELETE | IN_ONLYDIR);
		if (wd >= 0)
			a->cg_wd[a->n_cg_wd++] = wd;
	}
}

/* The same policy again, its cgroup selectors resolved anew. */
void agent_reresolve_cgroups(struct agent *a)
{
	struct df_diags d = { 0 };

	if (!df_backends_apply(&a->bs, &a->cur, &a->cur, &d))
		pr_info("cgroups changed: selectors resolved again");
	log_diags(&d, LOG_INFO);
	df_diags_free(&d);
	agent_watch_cgroups(a);
}

/* Why a push was refused, in one word (metrics label, status "pushes"). */
static const char *refusal_cause(int err, bool read_ok, bool parsed, bool compiled)
{
	if (!read_ok)
		return "unreadable";
	if (!parsed)
		return "invalid";
	if (!compiled)
		return err == -E2BIG ? "capacity" : "invalid";
	return err == -ESTALE ? "serial" : "kernel";
}

static void count_push(struct agent *a, const char *cause)
{
	json_t *refused = json_object_get(a->pushes, "refused");

	if (!cause) {
		json_object_set_new(a->pushes, "accepted",
				    json_integer(json_integer_value(json_object_get(a->pushes,
										      "accepted")) + 1));
		return;
	}
	json_object_set_new(refused, cause,
			    json_integer(json_integer_value(json_object_get(refused, cause)) + 1));
}

static void record_push(struct agent *a, const char *why, int err, const struct df_diags *d)
{
	a->pushed = true;
	a->push_ok = !err;
	a->push_at = time(NULL);
	snprintf(a->push_why, sizeof(a->push_why), "%s", why);
	json_decref(a->push_errors);
	a->push_errors = json_array();
	for (size_t i = 0; err && i < d->n; i++)
		if (d->v[i].sev == DF_SEV_ERROR)
			json_array_append_new(a->push_errors,
					      json_sprintf("%s:%d: error: %s",
							   d->v[i].file ? d->v[i].file : "-",
							   d->v[i].line, d->v[i].msg ? d->v[i].msg : ""));
}

/* The new policy becomes the one in force (the old one is freed). */
static void take(struct agent *a, struct df_policy *p, struct df_image *img, const char *sha)
{
	df_policy_free(a->pol);
	df_image_free(a->img);
	a->pol = p;
	a->img = img;
	snprintf(a->sha256, sizeof(a->sha256), "%s", sha);
	a->cur = (struct df_loaded){ .p = p, .img = img, .sha256 = a->sha256 };
	a->loaded_at = time(NULL);
	agent_watch_cgroups(a);
}

/* The edge timer, at the next end of an exception window of the policy in
 * force (a little after it: the kernel judges by whole seconds), or off. */
void agent_arm_exception_edge(struct agent *a)
{
	struct itimerspec it = { 0 };
	int64_t now = (int64_t)time(NULL), next = INT64_MAX;

	for (size_t i = 0; a->pol && i < a->pol->n_excs; i++)
		if (a->pol->excs[i].expires > now && a->pol->excs[i].expires < next)
			next = a->pol->excs[i].expires;
	if (next != INT64_MAX) {
		it.it_value.tv_sec = (time_t)next;
		it.it_value.tv_nsec = 200 * 1000 * 1000;
	}
	if (a->edge_fd >= 0)
		timerfd_settime(a->edge_fd, TFD_TIMER_ABSTIME, &it, NULL);
}

/* The policy file: root's, not writable by others, in root's directories,
 * no link, FIFO or device, at most DF_POLICY_MAX bytes (safefile.h). */
static int read_policy(struct agent *a, const struct df_parse_opts *o, struct df_policy **p,
		       struct df_diags *d, char **text)
{
	char why[DF_WHY_LEN];
	size_t n;
	int err;

	err = df_file_read(a->conf.policy_file, DF_POLICY_MAX, text, &n, why, sizeof(why));
	if (err) {
		df_diag_add(d, DF_SEV_ERROR, a->conf.policy_file, 0, NULL, "cannot read: %s", why);
		return err;
	}
	return df_policy_parse(*text, n, a->conf.policy_file, o, p, d);
}

/* The canary's class into a policy about to load (canary.h); a policy it
 * cannot join runs without a canary, logged and in status. */
static void add_canary(struct agent *a, struct df_policy *p)
{
	char why[sizeof(a->canary_off)] = "";

	if (!a->canary)
		return;
	if (df_canary_add_class(a->canary, p, why, sizeof(why)) && strcmp(why, a->canary_off))
		pr_warn("no canary for policy '%s': %s", p->name, why);
	snprintf(a->canary_off, sizeof(a->canary_off), "%s", why);
}

/* Loads the policy file. A push must parse, validate, compile and carry a
 * higher serial than the loaded policy; anything else is refused and the
 * loaded policy stays in force. `same_ok` accepts an equal serial (start-up
 * adoption of our own pinned policy). */
int agent_apply_policy(struct agent *a, const char *why, bool same_ok)
{
	struct df_parse_opts o = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	uint64_t active = 0;
	char *text = NULL, sha[65] = "";
	int err, has_active;

	bool read_ok, parsed, compiled = false;

	err = read_policy(a, &o, &p, &d, &text);
	read_ok = text != NULL;
	parsed = !err;
	if (text)
		sha256_hex(text, strlen(text), sha);
	if (!err) { /* the posture (verdict step 3a) is agent.conf's */
		p->drop_stale = !strcmp(a->conf.stale_posture, "drop-protected");
		p->stale_after = a->conf.stale_after;
		add_canary(a, p);
	}
	if (!err && a->pol && !strcmp(sha, a->sha256))
		goto cleanup; /* the same bytes again (editors, touch): nothing to do */
	if (!err)
		err = df_compile(p, &img, &d);
	compiled = parsed && !err;
	has_active = !df_backends_active(&a->bs, &active);
	if (!err && has_active && (p->serial < active || (p->serial == active && !same_ok))) {
		df_diag_add(&d, DF_SEV_ERROR, a->conf.policy_file, 0, NULL,
			    "serial %llu is not higher than the loaded policy's %llu",
			    (unsigned long long)p->serial, (unsigned long long)active);
		err = -ESTALE;
	}
	if (!err) {
		struct df_loaded next = { .p = p, .img = img, .sha256 = sha };

		err = df_backends_apply(&a->bs, &next, in_force(a), &d);
	}
	record_push(a, why, err, &d);
	if (err)
		snprintf(a->policy_summary, sizeof(a->policy_summary), "%s",
			 json_array_size(a->push_errors) ?
				 json_string_value(json_array_get(a->push_errors, 0)) : "refused");
	else
		snprintf(a->policy_summary, sizeof(a->policy_summary), "'%s' serial %llu", p->name,
			 (unsigned long long)p->serial);
	count_push(a, err ? refusal_cause(err, read_ok, parsed, compiled) : NULL);
	if (err) {
		pr_err("policy push refused (%s): %s; %s", why, a->conf.policy_file,
		       has_active ? "the loaded policy stays in force" : "no policy is enforced");
		log_diags(&d, LOG_ERR);
		goto cleanup;
	}
	log_diags(&d, LOG_WARNING);
	pr_notice("policy loaded (%s): '%s' serial %llu sha256 %s, %zu classes, %zu destinations, %zu exceptions",
		  why, p->name, (unsigned long long)p->serial, sha, p->n_classes - (p->canary ? 1 : 0),
		  p->n_dests, p->n_excs);
	take(a, p, img, sha);
	p = NULL;
	img = NULL;
	df_backends_revoke(&a->bs, in_force(a), why);
	agent_arm_exception_edge(a);
cleanup:
	df_policy_free(p);
	df_image_free(img);
	df_diags_free(&d);
	free(text);
	return err;
}
