// SPDX-License-Identifier: GPL-2.0-only
/* SSHSIG verification (sshsig.h), after OpenSSH's PROTOCOL.sshsig:
 *   "SSHSIG" u32(1) string(publickey) string(namespace) string(reserved)
 *   string(hash_algorithm) string(signature)
 * signing  "SSHSIG" string(namespace) string(reserved) string(hash_algorithm)
 *   string(H(message)). */
#include "sshsig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "wire.h"

#define BEGIN "-----BEGIN SSH SIGNATURE-----"
#define END "-----END SSH SIGNATURE-----"
#define MAX_BLOB 8192

/* One signature, as read from its blob (pointers into the blob). */
struct sshsig {
	const unsigned char *key, *ns, *reserved, *hash, *sig;
	size_t key_len, ns_len, reserved_len, hash_len, sig_len;
};

static int parse_blob(const unsigned char *b, size_t n, struct sshsig *s)
{
	struct df_rd r = { b, n };
	uint32_t version;

	if (n < 6 || memcmp(b, "SSHSIG", 6))
		return -1;
	r.p += 6;
	r.n -= 6;
	if (df_rd_u32(&r, &version) || version != 1 || df_rd_string(&r, &s->key, &s->key_len) ||
	    df_rd_string(&r, &s->ns, &s->ns_len) ||
	    df_rd_string(&r, &s->reserved, &s->reserved_len) ||
	    df_rd_string(&r, &s->hash, &s->hash_len) || df_rd_string(&r, &s->sig, &s->sig_len) ||
	    r.n)
		return -1;
	return 0;
}

static bool str_is(const unsigned char *s, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(s, want, n);
}

static void put_string(unsigned char **p, const void *s, size_t n)
{
	(*p)[0] = (unsigned char)(n >> 24);
	(*p)[1] = (unsigned char)(n >> 16);
	(*p)[2] = (unsigned char)(n >> 8);
	(*p)[3] = (unsigned char)n;
	memcpy(*p + 4, s, n);
	*p += 4 + n;
}

/* The bytes the signer signed. */
static unsigned char *signed_data(const struct sshsig *s, const void *msg, size_t msg_len,
				  size_t *len)
{
	const EVP_MD *md = str_is(s->hash, s->hash_len, "sha512") ? EVP_sha512() : EVP_sha256();
	unsigned char h[EVP_MAX_MD_SIZE], *out, *p;
	unsigned int hn = 0;

	if (!EVP_Digest(msg, msg_len, h, &hn, md, NULL))
		return NULL;
	out = malloc(6 + 16 + s->ns_len + s->reserved_len + s->hash_len + hn);
	if (!out)
		return NULL;
	memcpy(out, "SSHSIG", 6);
	p = out + 6;
	put_string(&p, s->ns, s->ns_len);
	put_string(&p, s->reserved, s->reserved_len);
	put_string(&p, s->hash, s->hash_len);
	put_string(&p, h, hn);
	*len = (size_t)(p - out);
	return out;
}

/* An EVP_PKEY from a checked key blob (df_key_check). */
static EVP_PKEY *pkey_of(const unsigned char *blob, size_t len, bool *ecdsa)
{
	struct df_rd r = { blob, len };
	const unsigned char *t, *k;
	size_t tn, kn;
	EVP_PKEY *pkey = NULL;

	df_rd_string(&r, &t, &tn);
	*ecdsa = tn == 19;
	if (!*ecdsa) {
		df_rd_string(&r, &k, &kn);
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k, kn);
	}
	df_rd_string(&r, &k, &kn); /* "nistp256" */
	df_rd_string(&r, &k, &kn);
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
			OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)k, kn),
			OSSL_PARAM_END,
		};

		if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
		    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
			pkey = NULL;
		EVP_PKEY_CTX_free(ctx);
	}
	return pkey;
}

/* ecdsa's mpint r, mpint s as the DER OpenSSL verifies. */
static unsigned char *ecdsa_der(const unsigned char *b, size_t n, int *der_len)
{
	struct df_rd r = { b, n };
	const unsigned char *rs, *ss;
	size_t rn, sn;
	ECDSA_SIG *sig;
	unsigned char *der = NULL;
	BIGNUM *br, *bs;

	if (df_rd_string(&r, &rs, &rn) || df_rd_string(&r, &ss, &sn) || r.n || rn > 33 || sn > 33)
		return NULL;
	sig = ECDSA_SIG_new();
	br = BN_bin2bn(rs, (int)rn, NULL);
	bs = BN_bin2bn(ss, (int)sn, NULL);
	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		BN_free(br);
		BN_free(bs);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	*der_len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	return *der_len > 0 ? der : NULL;
}

/* The signature itself: 0 valid, -1 not. */
static int check_signature(const struct sshsig *s, const void *msg, size_t msg_len)
{
	struct df_rd r = { s->sig, s->sig_len };
	const unsigned char *type, *raw;
	size_t type_len, raw_len, data_len = 0;
	unsigned char *data = NULL, *der = NULL;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *pkey;
	bool ecdsa;
	int der_len = 0, ok = 0;

	if (df_rd_string(&r, &type, &type_len) || df_rd_string(&r, &raw, &raw_len) || r.n)
		return -1;
	pkey = pkey_of(s->key, s->key_len, &ecdsa);
	if (!pkey || !str_is(type, type_len, ecdsa ? "ecdsa-sha2-nistp256" : "ssh-ed25519"))
		goto out;
	data = signed_data(s, msg, msg_len, &data_len);
	ctx = EVP_MD_CTX_new();
	if (!data || !ctx)
		goto out;
	if (ecdsa) {
		der = ecdsa_der(raw, raw_len, &der_len);
		ok = der && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		     EVP_DigestVerify(ctx, der, (size_t)der_len, data, data_len) == 1;
	} else {
		ok = raw_len == 64 && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		     EVP_DigestVerify(ctx, raw, raw_len, data, data_len) == 1;
	}
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	free(data);
	return ok ? 0 : -1;
}

/* Does a comma-separated list hold word? */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);

		if (len == n && !strncmp(p, word, n))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* The allowed_signers line that allows this key here and now; else NULL
 * and why. */
static const struct df_signer *find_signer(const struct df_signers *ss, const struct sshsig *s,
					   int64_t now, char *why, size_t len)
{
	const struct df_signer *first = NULL;

	for (size_t i = 0; i < ss->n; i++) {
		const struct df_signer *k = &ss->v[i];

		if (k->key_len != s->key_len || memcmp(k->key, s->key, s->key_len))
			continue;
		if (!first)
			first = k;
		if (k->namespaces && !list_has(k->namespaces, DF_SIG_NAMESPACE))
			continue;
		if ((k->valid_after && now < k->valid_after) ||
		    (k->valid_before && now >= k->valid_before))
			continue;
		return k;
	}
	if (!first)
		snprintf(why, len, "unknown key: not in allowed_signers");
	else if (first->namespaces && !list_has(first->namespaces, DF_SIG_NAMESPACE))
		snprintf(why, len, "key not allowed for namespace %s (allowed_signers line %d)",
			 DF_SIG_NAMESPACE, first->line);
	else
		snprintf(why, len, "key not valid at this time (allowed_signers line %d)",
			 first->line);
	return NULL;
}

static void check_one(const unsigned char *blob, size_t n, const void *msg, size_t msg_len,
		      const struct df_signers *ss, int64_t now, struct df_sig_check *c)
{
	struct sshsig s;

	if (parse_blob(blob, n, &s) || df_key_check(s.key, s.key_len)) {
		snprintf(c->cause, sizeof(c->cause), "malformed: not an SSHSIG signature by an "
						     "ssh-ed25519 or ecdsa-sha2-nistp256 key");
		return;
	}
	df_key_fingerprint(s.key, s.key_len, c->fingerprint);
	if (!str_is(s.ns, s.ns_len, DF_SIG_NAMESPACE)) {
		snprintf(c->cause, sizeof(c->cause), "wrong namespace \"%.*s\" (want %s)",
			 (int)(s.ns_len > 64 ? 64 : s.ns_len), (const char *)s.ns, DF_SIG_NAMESPACE);
		return;
	}
	if (!str_is(s.hash, s.hash_len, "sha256") && !str_is(s.hash, s.hash_len, "sha512")) {
		snprintf(c->cause, sizeof(c->cause), "malformed: hash \"%.*s\" (sha256 or sha512)",
			 (int)(s.hash_len > 32 ? 32 : s.hash_len), (const char *)s.hash);
		return;
	}
	c->signer = find_signer(ss, &s, now, c->cause, sizeof(c->cause));
	if (c->signer && check_signature(&s, msg, msg_len)) {
		snprintf(c->cause, sizeof(c->cause), "bad signature: the file is not what %s signed",
			 c->signer->principals);
		c->signer = NULL;
	}
	if (c->signer)
		snprintf(c->principals, sizeof(c->principals), "%s", c->signer->principals);
}

/* The next armored block's base64, decoded; 0 found, 1 none left, -1 bad. */
static int next_block(const char **pp, const char *end, unsigned char *blob, size_t *n,
		      char *why, size_t len)
{
	const char *p = *pp, *b, *e;
	char b64[MAX_BLOB * 4 / 3 + 8];
	size_t k = 0;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p == end)
		return 1;
	if ((size_t)(end - p) < sizeof(BEGIN) - 1 || memcmp(p, BEGIN, sizeof(BEGIN) - 1)) {
		snprintf(why, len, "malformed: text outside the armor (want " BEGIN ")");
		return -1;
	}
	b = p + sizeof(BEGIN) - 1;
	e = memmem(b, (size_t)(end - b), END, sizeof(END) - 1);
	if (!e) {
		snprintf(why, len, "malformed: no " END);
		return -1;
	}
	for (const char *q = b; q < e; q++) {
		if (*q == '\n' || *q == '\r' || *q == ' ' || *q == '\t')
			continue;
		if (k == sizeof(b64) - 1) {
			snprintf(why, len, "malformed: a signature over %d bytes", MAX_BLOB);
			return -1;
		}
		b64[k++] = *q;
	}
	if (df_b64_decode(b64, k, blob, n)) {
		snprintf(why, len, "malformed: the armor is not valid base64");
		return -1;
	}
	*pp = e + sizeof(END) - 1;
	return 0;
}

/* Counted: a valid signature whose key and principals no counted one had. */
static void count(struct df_sig_verdict *out)
{
	for (size_t i = 0; i < out->n; i++) {
		struct df_sig_check *c = &out->v[i];
		bool again = false;

		if (c->cause[0])
			continue;
		for (size_t j = 0; j < i && !again; j++) {
			const struct df_sig_check *o = &out->v[j];

			if (o->cause[0])
				continue;
			if (!strcmp(o->fingerprint, c->fingerprint)) {
				snprintf(c->cause, sizeof(c->cause),
					 "not counted: the same key as signature %zu", j + 1);
				again = true;
			} else {
				/* any principal in common: the same approver */
				char *list = strdup(c->principals), *save = NULL;

				for (char *w = list ? strtok_r(list, ",", &save) : NULL; w && !again;
				     w = strtok_r(NULL, ",", &save))
					if (list_has(o->principals, w)) {
						snprintf(c->cause, sizeof(c->cause),
							 "not counted: principal %s signed already "
							 "(signature %zu)", w, j + 1);
						again = true;
					}
				free(list);
			}
		}
		if (!again)
			out->counted++;
	}
}

size_t df_sshsig_verify(const char *sig, size_t sig_len, const void *msg, size_t msg_len,
			const struct df_signers *signers, int64_t now, struct df_sig_verdict *out)
{
	const char *p = sig, *end = sig + sig_len;
	unsigned char blob[MAX_BLOB + 8];
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sig_len > DF_SIG_MAX_TEXT) {
		snprintf(out->error, sizeof(out->error), "malformed: larger than %d bytes",
			 DF_SIG_MAX_TEXT);
		return 0;
	}
	while ((rc = next_block(&p, end, blob, &n, out->error, sizeof(out->error))) == 0) {
		if (out->n == DF_SIG_MAX_BLOCKS) {
			snprintf(out->error, sizeof(out->error), "malformed: more than %d signatures",
				 DF_SIG_MAX_BLOCKS);
			rc = -1;
			break;
		}
		check_one(blob, n, msg, msg_len, signers, now, &out->v[out->n++]);
	}
	if (rc < 0) {
		out->n = 0;
		return 0;
	}
	if (!out->n)
		snprintf(out->error, sizeof(out->error), "missing: no signature in the file");
	count(out);
	return out->counted;
}

int df_sig_require(const struct df_sig_require *r, struct df_sig_verdict *out,
		   struct df_diags *d)
{
	memset(out, 0, sizeof(*out));
	if (!r->required)
		return 0;
	if (!r->sig) {
		df_diag_add(d, DF_SEV_ERROR, r->sig_file, 0, NULL,
			    "signature missing: %u signature%s required (ssh-keygen -Y sign -n %s)",
			    r->required, r->required > 1 ? "s" : "", DF_SIG_NAMESPACE);
		return -EPERM;
	}
	df_sshsig_verify(r->sig, r->sig_len, r->text, r->len, r->signers, r->now, out);
	if (out->counted >= r->required)
		return 0;
	if (out->error[0])
		df_diag_add(d, DF_SEV_ERROR, r->sig_file, 0, NULL, "signature %s", out->error);
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].cause[0])
			df_diag_add(d, DF_SEV_ERROR, r->sig_file, 0, NULL, "signature %zu%s%s%s: %s", i + 1,
				    out->v[i].fingerprint[0] ? " (" : "", out->v[i].fingerprint,
				    out->v[i].fingerprint[0] ? ")" : "", out->v[i].cause);
	df_diag_add(d, DF_SEV_ERROR, r->sig_file, 0, NULL,
		    "%zu of %u: %u valid signature%s required (distinct keys of distinct principals)",
		    out->counted, r->required, r->required, r->required > 1 ? "s" : "");
	return -EPERM;
}
