// SPDX-License-Identifier: GPL-2.0-only
/* Policy pushes (agent.h): the policy file read safely, parsed, compiled,
 * checked against the serial in force, into every backend; the cgroups its
 * selectors name watched; the edge timer at the next exception end. */
#include <errno.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "safefile.h"
#include "sshsig.h"
#include "state.h"
#include "values.h"

static void log_diags(const struct df_diags *d, int prio)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct df_diag *x = &d->v[i];
		const char *sev = df_sev_name(x->sev);

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

/* One push on its way in: what was read, what it became, why it stops. */
struct push {
	const char *file, *sig_file; /* the policy and its .sig */
	char *text, *sig;            /* sig NULL: there is no .sig */
	size_t n, sig_n;
	char sha[65];
	struct df_policy *p;
	struct df_image *img;
	struct df_sig_verdict sigs;
	const char *cause;           /* why it was refused, one word (metrics, status) */
	struct df_diags d;
};

static int refuse(struct push *x, const char *cause, int err)
{
	x->cause = cause;
	return err;
}

/* refuse() with the error that says why, on file. */
static int refuse_with(struct push *x, const char *cause, int err, const char *file,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int refuse_with(struct push *x, const char *cause, int err, const char *file,
		       const char *fmt, ...)
{
	char msg[DF_WHY_LEN + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	df_diag_add(&x->d, DF_SEV_ERROR, file, 0, NULL, "%s", msg);
	return refuse(x, cause, err);
}

/* The policy file and its .sig: root's, not writable by others, in root's
 * directories, no link, FIFO or device (safefile.h). A .sig that is not
 * there is no .sig; one that is there must be readable. */
static int read_push(struct push *x)
{
	char why[DF_WHY_LEN];
	int err = df_file_read(x->file, DF_POLICY_MAX, &x->text, &x->n, why, sizeof(why));

	if (err)
		return refuse_with(x, "unreadable", err, x->file, "cannot read: %s", why);
	df_sha256_hex(x->text, x->n, x->sha);
	if (access(x->sig_file, F_OK) && errno == ENOENT)
		return 0;
	err = df_file_read(x->sig_file, DF_SIG_MAX_TEXT, &x->sig, &x->sig_n, why, sizeof(why));
	if (err)
		return refuse_with(x, "signature", err, x->sig_file, "cannot read: %s", why);
	return 0;
}

/* signatures_required: the allowed signers of today (read again at every
 * push: rotation needs no restart) and enough valid signatures. */
static int approve(struct agent *a, struct push *x)
{
	struct df_sig_require r = { .text = x->text, .len = x->n, .sig = x->sig,
				    .sig_len = x->sig_n, .sig_file = x->sig_file,
				    .required = a->conf.signatures_required, .now = time(NULL) };
	struct df_signers ss = { 0 };
	char why[DF_WHY_LEN], *text = NULL;
	size_t n;
	int err;

	if (!r.required)
		return 0;
	err = df_file_read(a->conf.allowed_signers, DF_SIGNERS_MAX, &text, &n, why, sizeof(why));
	if (err)
		return refuse_with(x, "signature", err, a->conf.allowed_signers, "cannot read: %s",
				   why);
	err = df_signers_parse(text, n, a->conf.allowed_signers, &ss, &x->d);
	free(text);
	if (!err) {
		r.signers = &ss;
		err = df_sig_require(&r, &x->sigs, &x->d);
		df_signers_free(&ss); /* who signed stays: fingerprints and principals */
	}
	return err ? refuse(x, "signature", err) : 0;
}

/* This host's scope (agent.conf) among the policy's. */
static int check_scope(struct agent *a, struct push *x)
{
	const struct df_policy *p = x->p;
	char list[512] = "";

	if (df_policy_in_scope(p, a->conf.scope))
		return 0;
	for (size_t i = 0; i < p->n_scope; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 p->scope[i]);
	if (!p->n_scope)
		return refuse_with(x, "scope", -EPERM, x->file,
				   "the policy has no scope; this host's scope is '%s'", a->conf.scope);
	if (!a->conf.scope[0])
		return refuse_with(x, "scope", -EPERM, x->file,
				   "the policy is for scope [%s]; this host has no scope", list);
	return refuse_with(x, "scope", -EPERM, x->file,
			   "the policy is for scope [%s], not this host's '%s'", list, a->conf.scope);
}

/* Above the serial in force (the kernel's) and the saved one (state_dir):
 * an older policy is never loaded again, across restarts and reboots. An
 * equal one only at start and only the same bytes (adoption, the last
 * good). `supersedes` (signed policies only) goes below a saved serial it
 * names: the way back from a compromised key's huge serial. */
static int check_serial(struct agent *a, struct push *x, bool same_ok)
{
	uint64_t in_kernel = 0;
	bool has_active = !df_backends_active(&a->bs, &in_kernel), reset;
	char why[300];
	int err;

	if (a->saved_error[0])
		return refuse_with(x, "serial", -EIO, a->conf.state_dir,
				   "the saved serial cannot be read: %s; mend or remove it",
				   a->saved_error);
	err = df_serial_allowed(&a->saved, has_active ? &in_kernel : NULL, x->p->serial, x->sha,
				x->p->supersedes, a->conf.signatures_required, same_ok,
				a->conf.state_dir, &reset, why, sizeof(why));
	if (err)
		return refuse_with(x, "serial", err, x->file, "%s", why);
	if (reset)
		pr_warn("policy serial %llu supersedes serial %llu (signed): the saved serial goes back",
			(unsigned long long)x->p->serial, (unsigned long long)x->p->supersedes);
	return 0;
}

/* Read, approve, parse, scope, compile, serial: refused at the first
 * stage that fails (x->cause), with every error in x->d. */
static int prepare(struct agent *a, struct push *x, bool same_ok)
{
	struct df_parse_opts o = { .resolve_user = df_resolve_user_nss, .now = time(NULL) };
	int err = read_push(x);

	if (!err)
		err = approve(a, x);
	if (err)
		return err;
	err = df_policy_parse(x->text, x->n, x->file, &o, &x->p, &x->d);
	if (err)
		return refuse(x, "invalid", err);
	/* the posture (verdict step 3a) is agent.conf's */
	x->p->drop_stale = !strcmp(a->conf.stale_posture, "drop-protected");
	x->p->stale_after = a->conf.stale_after;
	err = check_scope(a, x);
	if (err)
		return err;
	if (a->pol && !strcmp(x->sha, a->sha256))
		return 1; /* the same bytes again (editors, touch): nothing to do */
	add_canary(a, x->p);
	err = df_compile(x->p, &x->img, &x->d);
	if (err)
		return refuse(x, err == -E2BIG ? "capacity" : "invalid", err);
	return check_serial(a, x, same_ok);
}

/* Who signed what is in force (status, metrics). */
static void keep_signers(struct agent *a, const struct push *x)
{
	json_decref(a->signed_by);
	a->signed_by = json_array();
	for (size_t i = 0; i < x->sigs.n; i++)
		if (!x->sigs.v[i].cause[0])
			json_array_append_new(a->signed_by,
					      json_pack("{s:s, s:s}", "principals",
							x->sigs.v[i].principals, "fingerprint",
							x->sigs.v[i].fingerprint));
}

/* After a load: the serial and the policy saved (state.h); a failure is
 * logged and shown in status, the policy stays loaded. */
static void save(struct agent *a, const struct push *x)
{
	char why[DF_WHY_LEN] = "";

	if (df_saved_write(a->conf.state_dir, x->p->serial, x->sha, x->text, x->n, x->sig, x->sig_n,
			   why, sizeof(why))) {
		pr_err("the accepted policy was not saved in %s: %s", a->conf.state_dir, why);
		snprintf(a->save_error, sizeof(a->save_error), "%s", why);
		return;
	}
	a->save_error[0] = '\0';
	a->saved.present = true;
	a->saved.serial = x->p->serial;
	snprintf(a->saved.sha256, sizeof(a->saved.sha256), "%s", x->sha);
}

static void finish(struct agent *a, struct push *x, const char *why, int err)
{
	record_push(a, why, err, &x->d);
	if (err)
		snprintf(a->policy_summary, sizeof(a->policy_summary), "%s",
			 json_array_size(a->push_errors) ?
				 json_string_value(json_array_get(a->push_errors, 0)) : "refused");
	else
		snprintf(a->policy_summary, sizeof(a->policy_summary), "'%s' serial %llu",
			 x->p->name, (unsigned long long)x->p->serial);
	count_push(a, err ? (x->cause ? x->cause : "kernel") : NULL);
}

/* Loads a policy file: the pushed one (why: what made the agent look), or
 * the last good one. It must be readable, signed as agent.conf requires,
 * parse, validate, be for this host's scope, compile, and carry a serial
 * above the one in force and the saved one; anything else is refused and
 * the policy in force stays. same_ok: an equal serial (start-up adoption). */
static int load(struct agent *a, const char *file, const char *sig_file, const char *why,
		bool same_ok)
{
	struct push x = { .file = file, .sig_file = sig_file };
	int err = prepare(a, &x, same_ok);

	if (err == 1) {
		err = 0;
		goto cleanup;
	}
	if (!err) {
		struct df_loaded next = { .p = x.p, .img = x.img, .sha256 = x.sha };

		err = df_backends_apply(&a->bs, &next, in_force(a), &x.d);
	}
	finish(a, &x, why, err);
	if (err) {
		uint64_t pinned = 0;

		if (a->pol)
			pr_err("policy push refused (%s): %s; the loaded policy stays in force", why, file);
		else if (!df_backends_active(&a->bs, &pinned))
			pr_err("policy push refused (%s): %s; the kernel keeps enforcing the pinned "
			       "policy, serial %llu", why, file, (unsigned long long)pinned);
		else
			pr_err("policy push refused (%s): %s; no policy is enforced", why, file);
		log_diags(&x.d, LOG_ERR);
		goto cleanup;
	}
	log_diags(&x.d, LOG_WARNING);
	pr_notice("policy loaded (%s): '%s' serial %llu sha256 %s, %zu classes, %zu destinations, %zu exceptions%s",
		  why, x.p->name, (unsigned long long)x.p->serial, x.sha,
		  x.p->n_classes - (x.p->canary ? 1 : 0), x.p->n_dests, x.p->n_excs,
		  a->conf.signatures_required ? ", signed" : "");
	save(a, &x);
	keep_signers(a, &x);
	take(a, x.p, x.img, x.sha);
	snprintf(a->policy_source, sizeof(a->policy_source), "%s", file);
	x.p = NULL;
	x.img = NULL;
	df_backends_revoke(&a->bs, in_force(a), why);
	agent_arm_exception_edge(a);
cleanup:
	df_policy_free(x.p);
	df_image_free(x.img);
	df_diags_free(&x.d);
	free(x.text);
	free(x.sig);
	return err;
}

int agent_apply_policy(struct agent *a, const char *why, bool same_ok)
{
	char sig[1100];

	snprintf(sig, sizeof(sig), "%s.sig", a->conf.policy_file);
	return load(a, a->conf.policy_file, sig, why, same_ok);
}

int agent_apply_last_good(struct agent *a)
{
	char policy[1100], sig[1100];

	if (!a->saved.present)
		return -ENOENT;
	df_saved_paths(a->conf.state_dir, policy, sig, sizeof(policy));
	pr_warn("the policy file was not loaded at start: loading the last good policy, serial %llu, "
		"from %s (verified again)",
		(unsigned long long)a->saved.serial, policy);
	return load(a, policy, sig, "start: last good", true);
}
