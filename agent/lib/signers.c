// SPDX-License-Identifier: GPL-2.0-only
/* OpenSSH allowed_signers files (sshsig.h): one signer per line,
 * `principals [options] keytype base64-key [comment]`. */
#include "sshsig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "wire.h"

#define MAX_TOKEN 8192

/* The next whitespace-separated token of a line; double quotes group
 * (and stay in the token). NULL at the end of the line or on an
 * unterminated quote (*bad set). */
static const char *token(const char **pp, const char *end, size_t *len, bool *bad)
{
	const char *p = *pp, *start;
	bool quoted = false;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return NULL;
	start = p;
	while (p < end && (quoted || (*p != ' ' && *p != '\t'))) {
		if (*p == '"')
			quoted = !quoted;
		p++;
	}
	if (quoted) {
		*bad = true;
		return NULL;
	}
	*len = (size_t)(p - start);
	*pp = p;
	return start;
}

/* YYYYMMDD[HHMM[SS]][Z] (ssh-keygen(1)): UTC with Z, else local time. */
static int parse_time(const char *s, size_t n, int64_t *out)
{
	struct tm tm = { 0 };
	bool utc = n && (s[n - 1] == 'Z' || s[n - 1] == 'z');
	int v[6] = { 0 }, widths[6] = { 4, 2, 2, 2, 2, 2 }, k = 0;
	size_t digits = utc ? n - 1 : n, at = 0;
	time_t t;

	if (digits != 8 && digits != 12 && digits != 14)
		return -1;
	for (; at < digits; k++) {
		for (int w = 0; w < widths[k]; w++, at++) {
			if (s[at] < '0' || s[at] > '9')
				return -1;
			v[k] = v[k] * 10 + (s[at] - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -1;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* The value of one option, unquoted. */
static char *option_value(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		return dup_n(v + 1, n - 2);
	return dup_n(v, n);
}

/* namespaces="...", valid-after="...", valid-before="..." (comma-separated;
 * a comma inside quotes belongs to the value). */
static int parse_options(struct df_signer *s, const char *opt, size_t n, char *why, size_t len)
{
	const char *p = opt, *end = opt + n;

	while (p < end) {
		const char *q = p, *eq;
		bool quoted = false;
		char *val;
		int rc = 0;

		while (q < end && (quoted || *q != ',')) {
			if (*q == '"')
				quoted = !quoted;
			q++;
		}
		eq = memchr(p, '=', (size_t)(q - p));
		if (eq && !strncasecmp(p, "namespaces", (size_t)(eq - p)) && eq - p == 10) {
			free(s->namespaces);
			s->namespaces = option_value(eq + 1, (size_t)(q - eq - 1));
			if (!s->namespaces)
				return -ENOMEM;
		} else if (eq && ((eq - p == 11 && !strncasecmp(p, "valid-after", 11)) ||
				  (eq - p == 12 && !strncasecmp(p, "valid-before", 12)))) {
			val = option_value(eq + 1, (size_t)(q - eq - 1));
			if (!val)
				return -ENOMEM;
			rc = parse_time(val, strlen(val), eq - p == 11 ? &s->valid_after : &s->valid_before);
			if (rc)
				snprintf(why, len, "%.*s: \"%s\" is not YYYYMMDD[HHMM[SS]][Z]", (int)(eq - p),
					 p, val);
			free(val);
			if (rc)
				return -EINVAL;
		} else if ((size_t)(q - p) == 14 && !strncasecmp(p, "cert-authority", 14)) {
			snprintf(why, len, "cert-authority: certificates are not supported; list each "
					   "signer's own key");
			return -EINVAL;
		} else {
			snprintf(why, len, "unknown option \"%.*s\" (known: namespaces, valid-after, "
					   "valid-before)", (int)(q - p) > 60 ? 60 : (int)(q - p), p);
			return -EINVAL;
		}
		p = q < end ? q + 1 : q;
	}
	return 0;
}

static bool known_type(const char *t, size_t n)
{
	return (n == 11 && !strncmp(t, "ssh-ed25519", 11)) ||
	       (n == 19 && !strncmp(t, "ecdsa-sha2-nistp256", 19));
}

/* The base64 key: decoded, and its blob shaped as its type says. */
static int parse_key(struct df_signer *s, const char *b64, size_t n, char *why, size_t len)
{
	struct df_rd r;
	const unsigned char *t;
	size_t tn;

	s->key = malloc(n / 4 * 3 + 3);
	if (!s->key)
		return -ENOMEM;
	if (df_b64_decode(b64, n, s->key, &s->key_len)) {
		snprintf(why, len, "the key is not valid base64");
		return -EINVAL;
	}
	r = (struct df_rd){ s->key, s->key_len };
	if (df_rd_string(&r, &t, &tn) || tn != strlen(s->key_type) || memcmp(t, s->key_type, tn)) {
		snprintf(why, len, "the key is not a %s key", s->key_type);
		return -EINVAL;
	}
	if (df_key_check(s->key, s->key_len)) {
		snprintf(why, len, "the %s key is malformed", s->key_type);
		return -EINVAL;
	}
	df_key_fingerprint(s->key, s->key_len, s->fingerprint);
	return 0;
}

static void signer_free(struct df_signer *s)
{
	free(s->principals);
	free(s->key_type);
	free(s->key);
	free(s->namespaces);
	memset(s, 0, sizeof(*s));
}

/* One line: 0 (a signer in *s), 1 (blank or comment), -EINVAL (why). */
static int parse_line(const char *p, const char *end, struct df_signer *s, char *why, size_t len)
{
	const char *tok[4];
	size_t tl[4], n = 0;
	bool bad = false;
	int err;

	while (n < 4 && (tok[n] = token(&p, end, &tl[n], &bad)))
		n++;
	if (bad) {
		snprintf(why, len, "an unterminated quote");
		return -EINVAL;
	}
	if (!n)
		return 1;
	if (n < 3) {
		snprintf(why, len, "expected: principals [options] keytype base64-key [comment]");
		return -EINVAL;
	}
	if (tl[0] > MAX_TOKEN) {
		snprintf(why, len, "principals longer than %d bytes", MAX_TOKEN);
		return -EINVAL;
	}
	s->principals = tok[0][0] == '"' ? option_value(tok[0], tl[0]) : dup_n(tok[0], tl[0]);
	if (!s->principals)
		return -ENOMEM;
	/* the second word is the options unless it is a key type */
	if (!known_type(tok[1], tl[1])) {
		if (n < 4 || !known_type(tok[2], tl[2])) {
			snprintf(why, len, "unknown key type \"%.*s\" (supported: ssh-ed25519, "
					   "ecdsa-sha2-nistp256)",
				 (int)(n < 4 ? (tl[1] > 40 ? 40 : tl[1]) : (tl[2] > 40 ? 40 : tl[2])),
				 n < 4 ? tok[1] : tok[2]);
			return -EINVAL;
		}
		err = parse_options(s, tok[1], tl[1], why, len);
		if (err)
			return err;
		tok[1] = tok[2];
		tl[1] = tl[2];
		tok[2] = tok[3];
		tl[2] = tl[3];
	}
	s->key_type = dup_n(tok[1], tl[1]);
	if (!s->key_type)
		return -ENOMEM;
	if (tl[2] > MAX_TOKEN) {
		snprintf(why, len, "a key longer than %d bytes", MAX_TOKEN);
		return -EINVAL;
	}
	return parse_key(s, tok[2], tl[2], why, len);
}

int df_signers_parse(const char *text, size_t len, const char *file, struct df_signers *out,
		     struct df_diags *d)
{
	const char *p = text, *end = text + len;
	size_t errors = d->errors;
	int line = 0;

	memset(out, 0, sizeof(*out));
	if (len > DF_SIGNERS_MAX) {
		df_diag_add(d, DF_SEV_ERROR, file, 0, NULL, "larger than %d bytes", DF_SIGNERS_MAX);
		return -EINVAL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
		struct df_signer s = { 0 };
		char why[200] = "";
		int rc;

		line++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			rc = (snprintf(why, sizeof(why), "a NUL byte"), -EINVAL);
		else
			rc = parse_line(p, eol > p && eol[-1] == '\r' ? eol - 1 : eol, &s, why,
					sizeof(why));
		if (rc == 0) {
			struct df_signer *v = realloc(out->v, (out->n + 1) * sizeof(*v));

			if (!v) {
				signer_free(&s);
				df_signers_free(out);
				return -ENOMEM;
			}
			s.line = line;
			out->v = v;
			out->v[out->n++] = s;
		} else {
			signer_free(&s);
			if (rc == -ENOMEM) {
				df_signers_free(out);
				return rc;
			}
			if (rc < 0)
				df_diag_add(d, DF_SEV_ERROR, file, line, NULL, "%s", why);
		}
		p = nl ? nl + 1 : end;
	}
	if (d->errors != errors) {
		df_signers_free(out);
		return -EINVAL;
	}
	return 0;
}

void df_signers_free(struct df_signers *s)
{
	for (size_t i = 0; i < s->n; i++)
		signer_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
