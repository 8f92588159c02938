/* SPDX-License-Identifier: GPL-2.0-only */
/* SSH wire format (RFC 4251) read within bounds, base64, public key blobs
 * (wire.c): what sshsig.c and signers.c share. */
#ifndef DF_WIRE_H
#define DF_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A reader: p advances, n shrinks; every read checks n first. */
struct df_rd {
	const unsigned char *p;
	size_t n;
};

int df_rd_u32(struct df_rd *r, uint32_t *v);
/* A string: its bytes stay in the buffer (*s), *len its length. */
int df_rd_string(struct df_rd *r, const unsigned char **s, size_t *len);
/* The string equals the C string want. */
int df_rd_string_is(struct df_rd *r, const char *want);

/* Standard base64 with padding, whitespace not allowed: out must hold
 * n / 4 * 3 bytes. 0 or -1. */
int df_b64_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

/* A public key blob of a supported type, whole and well formed: 0 or -1. */
int df_key_check(const unsigned char *blob, size_t len);

#endif
