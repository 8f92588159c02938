// SPDX-License-Identifier: GPL-2.0-only
/* SSH wire format, base64, key blobs (wire.h). */
#include "wire.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "sshsig.h"

int df_rd_u32(struct df_rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return 0;
}

int df_rd_string(struct df_rd *r, const unsigned char **s, size_t *len)
{
	uint32_t n;

	if (df_rd_u32(r, &n) || n > r->n)
		return -1;
	*s = r->p;
	*len = n;
	r->p += n;
	r->n -= n;
	return 0;
}

int df_rd_string_is(struct df_rd *r, const char *want)
{
	const unsigned char *s;
	size_t n;

	if (df_rd_string(r, &s, &n) || n != strlen(want) || memcmp(s, want, n))
		return -1;
	return 0;
}

int df_b64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
	size_t pad = 0;
	int got;

	if (!n || n % 4 || n > (size_t)1 << 24)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '=') {
			if (i < n - 2)
				return -1;
			pad++;
		} else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return -1;
		}
	}
	got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad)
		return -1;
	*out_len = (size_t)got - pad;
	return 0;
}

int df_key_check(const unsigned char *blob, size_t len)
{
	struct df_rd r = { blob, len };
	const unsigned char *t, *k;
	size_t tn, kn;

	if (df_rd_string(&r, &t, &tn))
		return -1;
	if (tn == 11 && !memcmp(t, "ssh-ed25519", 11))
		return df_rd_string(&r, &k, &kn) || kn != 32 || r.n ? -1 : 0;
	if (tn == 19 && !memcmp(t, "ecdsa-sha2-nistp256", 19))
		return df_rd_string_is(&r, "nistp256") || df_rd_string(&r, &k, &kn) || kn != 65 ||
			       k[0] != 0x04 || r.n ?
			       -1 : 0;
	return -1;
}

void df_key_fingerprint(const unsigned char *blob, size_t len, char out[DF_FPR_LEN])
{
	unsigned char md[32], b64[48];
	unsigned int mdn = 0;
	int n;

	EVP_Digest(blob, len, md, &mdn, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, (int)mdn);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, DF_FPR_LEN, "SHA256:%.*s", n, b64);
}
