// SPDX-License-Identifier: GPL-2.0-only
/* Signed policies: signatures made by ssh-keygen at test time (ed25519 and
 * ecdsa keys generated here), checked by our verifier, and every verdict
 * held equal to `ssh-keygen -Y verify`'s. Then the allowed_signers parser's
 * refusals with their lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sshsig.h"

static char dir[64];

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		fail();
	}
}

static char *slurp(const char *name, size_t *len)
{
	char path[256], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The public key line of KEY ("ssh-ed25519 AAAA... comment"). */
static char *pub(const char *key)
{
	size_t n;
	char name[64], *s;

	snprintf(name, sizeof(name), "%s.pub", key);
	s = slurp(name, &n);
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/df-sshsig-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* two approvers with ed25519 keys, one with ecdsa, one stranger */
	run("cd %s && for k in alice bob stranger; do ssh-keygen -q -t ed25519 -N '' -C $k -f $k; done"
	    " && ssh-keygen -q -t ecdsa -b 256 -N '' -C carol -f carol", dir);
	spit("policy.conf", "policy = { name = \"p\"; serial = 7; };\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	run("rm -rf %s", dir);
	return 0;
}

/* allowed_signers from lines "PRINCIPALS [OPTIONS] KEYNAME" */
static void signers_file(const char *name, const char *const *lines, size_t n)
{
	char text[8192] = "";

	for (size_t i = 0; i < n; i++) {
		char line[1024], keyname[32];
		const char *sp = strrchr(lines[i], ' ');
		char *pk;

		snprintf(keyname, sizeof(keyname), "%s", sp + 1);
		pk = pub(keyname);
		snprintf(line, sizeof(line), "%.*s %s\n", (int)(sp - lines[i]), lines[i], pk);
		strncat(text, line, sizeof(text) - strlen(text) - 1);
		free(pk);
	}
	spit(name, text);
}

/* sign FILE with KEY into OUT (hash: sha512 or sha256; ns: namespace) */
static void sign(const char *file, const char *key, const char *ns, const char *hash,
		 const char *out)
{
	run("cd %s && rm -f %s.sig && ssh-keygen -q -Y sign -n %s -O hashalg=%s -f %s %s "
	    ">/dev/null 2>&1 && mv %s.sig %s",
	    dir, file, ns, hash, key, file, file, out);
}

/* ssh-keygen's own verdict on a one-signature file for PRINCIPAL. */
static bool ssh_keygen_accepts(const char *file, const char *sig, const char *signers,
			       const char *principal)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && ssh-keygen -q -Y verify -f %s -I %s -n " DF_SIG_NAMESPACE
		 " -s %s < %s >/dev/null 2>&1",
		 dir, signers, principal, sig, file);
	return system(cmd) == 0;
}

/* Ours: the verdict, and the first block's cause. */
static size_t ours(const char *file, const char *sig, const char *signers, int64_t now,
		   struct df_sig_verdict *v)
{
	struct df_diags d = { 0 };
	struct df_signers ss;
	size_t fl, sl, al, counted;
	char *f = slurp(file, &fl), *s = slurp(sig, &sl), *a = slurp(signers, &al);

	assert_int_equal(df_signers_parse(a, al, signers, &ss, &d), 0);
	counted = df_sshsig_verify(s, sl, f, fl, &ss, now, v);
	df_signers_free(&ss);
	df_diags_free(&d);
	free(f);
	free(s);
	free(a);
	return counted;
}

struct sig_case {
	const char *desc;
	const char *sig;       /* file name of the signature */
	const char *principal; /* for ssh-keygen -Y verify */
	const char *cause;     /* "" valid; else a prefix of our cause */
};

static void signatures_agree_with_ssh_keygen(void **state)
{
	static const char *const signers[] = {
		"alice alice", "bob bob", "carol carol",
		"dave namespaces=\"git,file\" stranger",
	};
	static const struct sig_case cases[] = {
		{ "ed25519, sha512", "alice.sig", "alice", "" },
		{ "ed25519, sha256", "alice256.sig", "alice", "" },
		{ "ecdsa-sha2-nistp256, sha512", "carol.sig", "carol", "" },
		{ "ecdsa-sha2-nistp256, sha256", "carol256.sig", "carol", "" },
		{ "a changed byte", "changed.sig", "alice", "bad signature" },
		{ "another namespace", "otherns.sig", "alice", "wrong namespace" },
		{ "a key not allowed for our namespace", "stranger.sig", "dave", "key not allowed for namespace" },
		{ "a key not in allowed_signers", "unknown.sig", "alice", "unknown key" },
		{ "a truncated armor", "truncated.sig", "alice", "malformed" },
		{ "garbled base64", "garbled.sig", "alice", "malformed" },
	};
	size_t n;
	char *s;

	(void)state;
	signers_file("allowed_signers", signers, 4);
	signers_file("other_signers", (const char *const[]){ "bob bob" }, 1);
	sign("policy.conf", "alice", DF_SIG_NAMESPACE, "sha512", "alice.sig");
	sign("policy.conf", "alice", DF_SIG_NAMESPACE, "sha256", "alice256.sig");
	sign("policy.conf", "carol", DF_SIG_NAMESPACE, "sha512", "carol.sig");
	sign("policy.conf", "carol", DF_SIG_NAMESPACE, "sha256", "carol256.sig");
	sign("policy.conf", "alice", "file", "sha512", "otherns.sig");
	sign("policy.conf", "stranger", DF_SIG_NAMESPACE, "sha512", "stranger.sig");
	run("cd %s && cp alice.sig unknown.sig", dir);
	/* the signed file changed afterwards: verify a copy with one byte more */
	spit("changed.conf", "policy = { name = \"p\"; serial = 8; };\n");
	run("cd %s && cp alice.sig changed.sig", dir);
	s = slurp("alice.sig", &n);
	s[n / 2] = '\0'; /* cut in the middle of the base64 */
	spit("truncated.sig", s);
	free(s);
	s = slurp("alice.sig", &n);
	s[40] = s[40] == '!' ? '?' : '!';
	spit("garbled.sig", s);
	free(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sig_case *c = &cases[i];
		const char *file = !strcmp(c->sig, "changed.sig") ? "changed.conf" : "policy.conf";
		const char *as = !strcmp(c->sig, "unknown.sig") ? "other_signers" : "allowed_signers";
		struct df_sig_verdict v;
		size_t counted = ours(file, c->sig, as, (int64_t)time(NULL), &v);
		const char *cause = v.n ? v.v[0].cause : v.error;
		bool theirs = ssh_keygen_accepts(file, c->sig, as, c->principal);

		if (strncmp(cause, c->cause, strlen(c->cause)) || (c->cause[0] == '\0') != (counted == 1) ||
		    theirs != (counted == 1)) {
			fprintf(stderr, "%s: ours counted %zu (%s), ssh-keygen %s; want %s\n", c->desc,
				counted, cause, theirs ? "accepts" : "refuses",
				c->cause[0] ? c->cause : "valid");
			fail();
		}
	}
}

static const char *date_of(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y%m%d%H%M%SZ", &tm);
	return buf;
}

static void validity_windows_are_kept(void **state)
{
	time_t now = time(NULL);
	char a[32], b[32], lines[3][160];
	struct df_sig_verdict v;

	(void)state;
	sign("policy.conf", "alice", DF_SIG_NAMESPACE, "sha512", "alice.sig");
	/* valid-before in the past, valid-after in the future, a window around now */
	snprintf(lines[0], sizeof(lines[0]), "alice valid-before=\"%s\" alice", date_of(now - 3600, a, sizeof(a)));
	snprintf(lines[1], sizeof(lines[1]), "alice valid-after=\"%s\" alice", date_of(now + 3600, a, sizeof(a)));
	snprintf(lines[2], sizeof(lines[2]), "alice valid-after=\"%s\",valid-before=\"%s\" alice",
		 date_of(now - 3600, a, sizeof(a)), date_of(now + 3600, b, sizeof(b)));
	for (int i = 0; i < 3; i++) {
		const char *l[] = { lines[i] };
		size_t counted;

		signers_file("window_signers", l, 1);
		counted = ours("policy.conf", "alice.sig", "window_signers", (int64_t)now, &v);
		assert_int_equal(counted, i == 2 ? 1 : 0);
		if (i < 2)
			assert_non_null(strstr(v.v[0].cause, "key not valid at this time"));
		assert_int_equal(ssh_keygen_accepts("policy.conf", "alice.sig", "window_signers", "alice"),
				 i == 2);
	}
}

/* Several signers in one .sig (outputs concatenated): distinct keys of
 * distinct principals count; the same key twice, or two keys of one
 * principal, count once. */
static void concatenated_signatures_count_distinct_approvers(void **state)
{
	static const char *const signers[] = { "alice alice", "bob bob", "alice carol" };
	struct df_sig_verdict v;

	(void)state;
	signers_file("allowed_signers", signers, 3);
	sign("policy.conf", "alice", DF_SIG_NAMESPACE, "sha512", "a.sig");
	sign("policy.conf", "bob", DF_SIG_NAMESPACE, "sha512", "b.sig");
	sign("policy.conf", "carol", DF_SIG_NAMESPACE, "sha256", "c.sig");
	run("cd %s && cat a.sig b.sig > ab.sig && cat a.sig a.sig > aa.sig && cat a.sig c.sig > ac.sig"
	    " && cat a.sig b.sig a.sig c.sig > abac.sig", dir);
	assert_int_equal(ours("policy.conf", "ab.sig", "allowed_signers", time(NULL), &v), 2);
	assert_int_equal(ours("policy.conf", "aa.sig", "allowed_signers", time(NULL), &v), 1);
	assert_non_null(strstr(v.v[1].cause, "the same key as signature 1"));
	assert_int_equal(ours("policy.conf", "ac.sig", "allowed_signers", time(NULL), &v), 1);
	assert_non_null(strstr(v.v[1].cause, "principal alice signed already"));
	assert_int_equal(ours("policy.conf", "abac.sig", "allowed_signers", time(NULL), &v), 2);
	assert_int_equal(v.n, 4);
}

static void allowed_signers_refusals_name_their_line(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} cases[] = {
		{ "# comment\n\nalice ssh-rsa AAAAB3NzaC1yc2E=\n", 3, "unknown key type" },
		{ "alice cert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n", 1, "cert-authority" },
		{ "alice ssh-ed25519 !!!!\n", 1, "not valid base64" },
		{ "alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n", 1, "malformed" },
		{ "alice valid-after=\"2026-01-01\" ssh-ed25519 AAAA\n", 1, "valid-after" },
		{ "alice frobnicate ssh-ed25519 AAAA\n", 1, "unknown option" },
		{ "alice\n", 1, "expected: principals" },
		{ "alice namespaces=\"a ssh-ed25519 AAAA\n", 1, "unterminated quote" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct df_diags d = { 0 };
		struct df_signers ss;

		assert_int_not_equal(df_signers_parse(cases[i].text, strlen(cases[i].text), "as", &ss, &d), 0);
		assert_int_equal(d.v[0].line, cases[i].line);
		if (!strstr(d.v[0].msg, cases[i].msg)) {
			fprintf(stderr, "case %zu: %s\n", i, d.v[0].msg);
			fail();
		}
		df_diags_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signatures_agree_with_ssh_keygen),
		cmocka_unit_test(validity_windows_are_kept),
		cmocka_unit_test(concatenated_signatures_count_distinct_approvers),
		cmocka_unit_test(allowed_signers_refusals_name_their_line),
	};

	if (system("command -v ssh-keygen >/dev/null 2>&1")) {
		/* cmocka's skip: no test can run without the signing tool */
		printf("[  SKIPPED ] ssh-keygen (openssh-client) is not installed\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
