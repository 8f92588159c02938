/* SPDX-License-Identifier: GPL-2.0-only */
/* Signed policies (sshsig.c, signers.c): OpenSSH's SSHSIG signatures
 * (PROTOCOL.sshsig) over a policy file's exact bytes, as
 * `ssh-keygen -Y sign -n datafence-policy` writes them, checked against an
 * OpenSSH allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS). Key types
 * ssh-ed25519 and ecdsa-sha2-nistp256, hashes sha256 and sha512; the
 * cryptography is OpenSSL 3's. Parsers are bounded and never trust a
 * length they read. */
#ifndef DF_SSHSIG_H
#define DF_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define DF_SIG_NAMESPACE "datafence-policy"
#define DF_SIG_MAX_BLOCKS 16      /* signatures in one .sig */
#define DF_SIG_MAX_TEXT (64 << 10) /* bytes of a .sig file */
#define DF_SIGNERS_MAX (1 << 20)   /* bytes of an allowed_signers file */
#define DF_FPR_LEN 64              /* "SHA256:" + 43 base64 characters + NUL */

/* One allowed_signers line. */
struct df_signer {
	char *principals;           /* as written: comma-separated */
	char *key_type;             /* "ssh-ed25519" | "ecdsa-sha2-nistp256" */
	unsigned char *key;         /* the public key blob (SSH wire format) */
	size_t key_len;
	char *namespaces;           /* namespaces="..." (NULL: any) */
	int64_t valid_after;        /* unix seconds; 0: none */
	int64_t valid_before;       /* unix seconds; 0: none */
	int line;
	char fingerprint[DF_FPR_LEN]; /* "SHA256:..." as ssh-keygen -l prints it */
};

struct df_signers {
	struct df_signer *v;
	size_t n;
};

/* Parses an allowed_signers file: every line is checked, each problem a
 * diagnostic with its line (cert-authority lines are refused: certificates
 * are not supported). 0, or -EINVAL (then d has the errors). */
int df_signers_parse(const char *text, size_t len, const char *file, struct df_signers *out,
		     struct df_diags *d);
void df_signers_free(struct df_signers *s);

/* One signature block of a .sig file, as checked. */
struct df_sig_check {
	const struct df_signer *signer; /* the allowed_signers line of its key, or NULL
					 * (valid while the signers are) */
	char fingerprint[DF_FPR_LEN];   /* of the key the signature names ("" if unreadable) */
	char cause[200];                /* "" when valid; else why not */
	char principals[128];           /* its signer's principals ("" without one) */
};

struct df_sig_verdict {
	struct df_sig_check v[DF_SIG_MAX_BLOCKS];
	size_t n;          /* blocks found */
	size_t counted;    /* valid signatures by distinct keys of distinct principals */
	char error[200];   /* the .sig as a whole cannot be read (then n == 0) */
};

/* Checks every armored signature in sig (a .sig file's text) over msg, at
 * time now, against signers. Fills *out; returns out->counted. */
size_t df_sshsig_verify(const char *sig, size_t sig_len, const void *msg, size_t msg_len,
			const struct df_signers *signers, int64_t now, struct df_sig_verdict *out);

/* A push's signatures against agent.conf's signatures_required: 0 when
 * none are required or enough are counted; else -EPERM, each cause an
 * error in d (file: sig_file): the file missing, unreadable, each refused
 * signature, "K of N". sig NULL: there is no .sig. */
struct df_sig_require {
	const char *text;       /* the policy file's bytes */
	size_t len;
	const char *sig;        /* the .sig's text, or NULL */
	size_t sig_len;
	const char *sig_file;   /* for messages */
	const struct df_signers *signers;
	unsigned int required;
	int64_t now;
};
int df_sig_require(const struct df_sig_require *r, struct df_sig_verdict *out,
		   struct df_diags *d);

/* "SHA256:<base64 without padding>" of a public key blob. */
void df_key_fingerprint(const unsigned char *blob, size_t len, char out[DF_FPR_LEN]);

#endif
