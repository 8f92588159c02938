// SPDX-License-Identifier: GPL-2.0-only
/* The agent's saved state (state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "safefile.h"

static void path_of(const char *dir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void df_saved_paths(const char *dir, char *policy, char *sig, size_t len)
{
	path_of(dir, DF_STATE_POLICY, policy, len);
	path_of(dir, DF_STATE_SIG, sig, len);
}

int df_saved_read(const char *dir, struct df_saved *s, char *why, size_t len)
{
	char path[1024], *text = NULL, sha[65];
	unsigned long long serial;
	size_t n;
	int err;

	memset(s, 0, sizeof(*s));
	path_of(dir, DF_STATE_SERIAL, path, sizeof(path));
	if (access(path, F_OK) && errno == ENOENT)
		return 0;
	err = df_file_read(path, 256, &text, &n, why, len);
	if (err)
		return err;
	if (sscanf(text, "%llu %64[0-9a-f]", &serial, sha) != 2 || strlen(sha) != 64 || !serial) {
		snprintf(why, len, "%s: not \"SERIAL SHA256\"", path);
		free(text);
		return -EINVAL;
	}
	free(text);
	s->present = true;
	s->serial = serial;
	snprintf(s->sha256, sizeof(s->sha256), "%s", sha);
	return 0;
}

int df_saved_write(const char *dir, uint64_t serial, const char *sha256, const char *text,
		   size_t n, const char *sig, size_t sig_n, char *why, size_t len)
{
	const unsigned int flags = DF_FILE_DURABLE | DF_FILE_MKDIR;
	char path[1024], line[128];
	int err;

	path_of(dir, DF_STATE_SIG, path, sizeof(path));
	if (sig)
		err = df_file_replace(path, sig, sig_n, 0600, flags, why, len);
	else
		err = unlink(path) && errno != ENOENT ? -errno : 0;
	if (err) {
		if (!sig)
			snprintf(why, len, "%s: %s", path, strerror(-err));
		return err;
	}
	path_of(dir, DF_STATE_POLICY, path, sizeof(path));
	err = df_file_replace(path, text, n, 0600, flags, why, len);
	if (err)
		return err;
	path_of(dir, DF_STATE_SERIAL, path, sizeof(path));
	snprintf(line, sizeof(line), "%" PRIu64 " %s\n", serial, sha256);
	return df_file_replace(path, line, strlen(line), 0600, flags, why, len);
}

int df_serial_allowed(const struct df_saved *saved, const uint64_t *active, uint64_t serial,
		      const char *sha256, uint64_t supersedes, bool signatures_required,
		      bool same_ok, const char *state_dir, bool *reset, char *why, size_t len)
{
	unsigned long long s = serial, sv = saved->present ? saved->serial : 0;

	*reset = supersedes && signatures_required &&
		 (supersedes == sv || (!sv && active && supersedes == *active));
	if (supersedes && !signatures_required) {
		snprintf(why, len, "supersedes needs signed policies (agent.conf signatures_required)");
		return -EPERM;
	}
	if (supersedes && !*reset) {
		snprintf(why, len, "supersedes %llu does not name the saved serial %llu",
			 (unsigned long long)supersedes, sv);
		return -ESTALE;
	}
	if (*reset)
		return 0;
	if (sv && (s < sv || (s == sv && (!same_ok || strcmp(sha256, saved->sha256))))) {
		snprintf(why, len, "serial %llu is not higher than the highest accepted %llu (%s/%s)",
			 s, sv, state_dir, DF_STATE_SERIAL);
		return -ESTALE;
	}
	if (active && (s < *active || (s == *active && !same_ok))) {
		snprintf(why, len, "serial %llu is not higher than the loaded policy's %llu", s,
			 (unsigned long long)*active);
		return -ESTALE;
	}
	return 0;
}

void df_sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}
