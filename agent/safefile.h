/* SPDX-License-Identifier: GPL-2.0-only */
/* Files the agent reads and writes as root, in directories others may
 * control (docs/agent.md, "Files"). Every path is resolved once, then
 * walked from / one directory at a time without following links; each
 * directory on the way must be root's and not writable by others (unless
 * sticky, like /tmp). Files are opened relative to their directory with
 * O_NOFOLLOW|O_NONBLOCK: a symlink or a FIFO planted by someone else is
 * refused, never followed or waited on. Every refusal says the path and
 * the reason in why. Functions return 0 (or an fd) or -errno. */
#ifndef DF_SAFEFILE_H
#define DF_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DF_WHY_LEN 512

/* The directory of path, checked; *base points into path at its last
 * component. shared: the directory itself may belong to someone else or
 * be writable by others (node_exporter's textfile directory); only ever
 * written through a fresh O_EXCL name and renameat (df_file_replace).
 * mkmode: make the last directory (root's, this mode) if it is missing; 0:
 * do not. */
int df_dir_open(const char *path, bool shared, mode_t mkmode, const char **base, char *why,
		size_t len);

/* A whole regular file, at most max bytes, NUL-terminated: root's (or
 * ours) and not writable by group or others. */
int df_file_read(const char *path, size_t max, char **text, size_t *n, char *why, size_t len);

/* Replace path with these bytes: a fresh temporary beside it (O_EXCL,
 * mode), then renameat over the name (a link or FIFO there is replaced,
 * not followed). flags: DF_FILE_*. */
#define DF_FILE_SHARED 0x1  /* the directory may be someone else's (df_dir_open) */
#define DF_FILE_DURABLE 0x2 /* fsync the file before the rename, the directory after */
#define DF_FILE_MKDIR 0x4   /* make the directory (root's, 0700) if it is missing */
int df_file_replace(const char *path, const char *text, size_t n, mode_t mode, unsigned int flags,
		    char *why, size_t len);

/* Open path to append (created 0640 if missing, its directory 0750): a
 * regular file of root's with one link. Returns the fd. */
int df_file_append(const char *path, char *why, size_t len);

#endif
