/* SPDX-License-Identifier: GPL-2.0-only */
/* The agent's saved state (state.c, agent.conf state_dir): the highest
 * accepted serial with its policy's sha256, and the last accepted policy
 * with its signatures. Written only after a load succeeded, each file a
 * fresh temporary fsynced and renamed (the serial last: it commits);
 * read at start, so that neither a replayed older policy nor a refused
 * file at boot can open the fence (docs/signing.md). */
#ifndef DF_STATE_H
#define DF_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DF_STATE_SERIAL "serial"
#define DF_STATE_POLICY "policy.conf"
#define DF_STATE_SIG "policy.conf.sig"

struct df_saved {
	bool present;    /* a serial was ever saved */
	uint64_t serial;
	char sha256[65];
};

/* The saved serial (present false when there is none yet); -errno when the
 * file is there but cannot be trusted or read (why). */
int df_saved_read(const char *dir, struct df_saved *s, char *why, size_t len);
/* Saves an accepted policy: its text and signatures (sig NULL: none, an
 * old .sig is removed), then its serial. */
int df_saved_write(const char *dir, uint64_t serial, const char *sha256, const char *text,
		   size_t n, const char *sig, size_t sig_n, char *why, size_t len);
/* The serial rule of a push (docs/signing.md): a policy's serial, the
 * sha256 of its bytes and its `supersedes`, against the saved serial and,
 * when active is given, the serial loaded in the kernel. same_ok: the same
 * serial with the same bytes is no change (a start, a reload, a check).
 * *reset: a signed `supersedes` names the saved serial (it goes back). 0,
 * or -EPERM/-ESTALE with why (state_dir names the saved serial's file). */
int df_serial_allowed(const struct df_saved *saved, const uint64_t *active, uint64_t serial,
		      const char *sha256, uint64_t supersedes, bool signatures_required,
		      bool same_ok, const char *state_dir, bool *reset, char *why, size_t len);
/* The sha256 of a policy's bytes, in hex. */
void df_sha256_hex(const char *text, size_t len, char out[65]);
/* Paths of the last good policy and its .sig in dir. */
void df_saved_paths(const char *dir, char *policy, char *sig, size_t len);

#endif
