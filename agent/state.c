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
