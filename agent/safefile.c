// SPDX-License-Identifier: GPL-2.0-only
/* Files opened safely as root (safefile.h). */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int refuse(int err, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(int err, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

static bool ours(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* A directory on the way to our files: ours, and no one else may rename
 * our entries in it (not writable by group or others, or sticky like /tmp:
 * there others' names are refused by the checks of the file). shared: the
 * last one, whose entries we only ever create fresh. */
static int check_dir(const struct stat *st, const char *at, bool shared, bool last, char *why,
		     size_t len)
{
	if (!S_ISDIR(st->st_mode))
		return refuse(-ENOTDIR, why, len, "%s: not a directory", at);
	if (shared && last)
		return 0;
	if (!ours(st->st_uid))
		return refuse(-EPERM, why, len, "%s: owned by uid %u, not root", at,
			      (unsigned int)st->st_uid);
	if ((st->st_mode & 022) && !(st->st_mode & S_ISVTX))
		return refuse(-EPERM, why, len, "%s: writable by %s (mode %04o)", at,
			      st->st_mode & 002 ? "others" : "its group",
			      (unsigned int)(st->st_mode & 07777));
	return 0;
}

/* dir resolved once, then walked from / without following links. */
static int walk(const char *dir, bool shared, char *why, size_t len)
{
	char real[PATH_MAX], at[PATH_MAX] = "/", *save = NULL, *c;
	struct stat st;
	int fd, next;

	if (!realpath(dir, real))
		return refuse(-errno, why, len, "%s: %s", dir, strerror(errno));
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return refuse(-errno, why, len, "/: %s", strerror(errno));
	for (c = strtok_r(real, "/", &save);; c = strtok_r(NULL, "/", &save)) {
		int err;

		if (fstat(fd, &st)) {
			err = refuse(-errno, why, len, "%s: %s", at, strerror(errno));
			close(fd);
			return err;
		}
		err = check_dir(&st, at, shared, !c, why, len);
		if (err || !c) {
			if (err)
				close(fd);
			return err ? err : fd;
		}
		next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		snprintf(at + strlen(at), sizeof(at) - strlen(at), "%s%s", at[1] ? "/" : "", c);
		close(fd);
		if (next < 0)
			return refuse(-errno, why, len, "%s: %s", at,
				      errno == ENOTDIR || errno == ELOOP ? "changed while opened"
									 : strerror(errno));
		fd = next;
	}
}

int df_dir_open(const char *path, bool shared, mode_t mkmode, const char **base, char *why,
		size_t len)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, pfd;

	*base = slash ? slash + 1 : path;
	if (!**base)
		return refuse(-EISDIR, why, len, "%s: names a directory, not a file", path);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
		 slash ? path : ".");
	fd = walk(dir, shared, why, len);
	if (fd != -ENOENT || !mkmode)
		return fd;
	/* the last directory is missing: made root's in a checked parent */
	slash = strrchr(dir, '/');
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - dir) + (slash == dir) : 1,
		 slash ? dir : ".");
	pfd = walk(parent, false, why, len);
	if (pfd < 0)
		return pfd;
	if (mkdirat(pfd, slash ? slash + 1 : dir, mkmode)) {
		if (errno != EEXIST) {
			int err = refuse(-errno, why, len, "%s: cannot create: %s", dir,
					 strerror(errno));

			close(pfd);
			return err;
		}
	} else { /* the mode asked for, whatever the umask */
		fchmodat(pfd, slash ? slash + 1 : dir, mkmode, 0);
	}
	close(pfd);
	return walk(dir, shared, why, len);
}

/* The opened file: what we expect at that name. */
static int check_file(int fd, const char *path, bool writable_ok, struct stat *st, char *why,
		      size_t len)
{
	if (fstat(fd, st))
		return refuse(-errno, why, len, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return refuse(-EINVAL, why, len, "%s: not a regular file", path);
	if (!ours(st->st_uid))
		return refuse(-EPERM, why, len, "%s: owned by uid %u, not root", path,
			      (unsigned int)st->st_uid);
	if (!writable_ok && (st->st_mode & 022))
		return refuse(-EPERM, why, len, "%s: writable by group or others (mode %04o)", path,
			      (unsigned int)(st->st_mode & 07777));
	if (st->st_nlink != 1)
		return refuse(-EPERM, why, len, "%s: has %lu hard links", path,
			      (unsigned long)st->st_nlink);
	return 0;
}

static int open_at(int dirfd, const char *base, const char *path, int flags, mode_t mode,
		   char *why, size_t len)
{
	int fd = openat(dirfd, base, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);

	if (fd >= 0)
		return fd;
	return refuse(-errno, why, len, "%s: %s", path,
		      errno == ELOOP ? "a symbolic link (name the file itself)" : strerror(errno));
}

int df_file_read(const char *path, size_t max, char **text, size_t *n, char *why, size_t len)
{
	const char *base;
	struct stat st;
	size_t got = 0;
	char *buf = NULL;
	int dirfd, fd, err;

	*text = NULL;
	*n = 0;
	dirfd = df_dir_open(path, false, 0, &base, why, len);
	if (dirfd < 0)
		return dirfd;
	fd = open_at(dirfd, base, path, O_RDONLY, 0, why, len);
	close(dirfd);
	if (fd < 0)
		return fd;
	err = check_file(fd, path, false, &st, why, len);
	if (!err && (size_t)st.st_size > max)
		err = refuse(-EFBIG, why, len, "%s: larger than %zu bytes", path, max);
	if (!err && !(buf = malloc((size_t)st.st_size + 1)))
		err = -ENOMEM;
	while (!err) { /* the size it had when checked, no more */
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = refuse(-errno, why, len, "%s: %s", path, strerror(errno));
		else if (r == 0 || (got += (size_t)r) == (size_t)st.st_size)
			break;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[got] = '\0';
	*text = buf;
	*n = got;
	return 0;
}

static int write_all(int fd, const char *text, size_t n)
{
	while (n) {
		ssize_t w = write(fd, text, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		text += w;
		n -= (size_t)w;
	}
	return 0;
}

int df_file_replace(const char *path, const char *text, size_t n, mode_t mode, unsigned int flags,
		    char *why, size_t len)
{
	const char *base;
	char tmp[NAME_MAX + 1];
	int dirfd, fd = -1, err = 0;

	dirfd = df_dir_open(path, flags & DF_FILE_SHARED, flags & DF_FILE_MKDIR ? 0700 : 0, &base,
			    why, len);
	if (dirfd < 0)
		return dirfd;
	for (int i = 0; i < 16 && fd < 0; i++) { /* a name planted first is skipped */
		unsigned int r[2] = { 0 };

		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			r[0] = (unsigned int)getpid(), r[1] = (unsigned int)i;
		snprintf(tmp, sizeof(tmp), ".%.200s.%08x%08x", base, r[0], r[1]);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = refuse(-errno, why, len, "%s: cannot create a temporary beside it: %s", path,
			     strerror(errno));
		close(dirfd);
		return err;
	}
	err = write_all(fd, text, n);
	if (!err && fchmod(fd, mode))
		err = -errno;
	if (!err && (flags & DF_FILE_DURABLE) && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dirfd, tmp, dirfd, base))
		err = -errno;
	/* the rename itself on disk before the caller goes on (dirfd is
	 * O_PATH: fsync needs the directory opened for reading) */
	if (!err && (flags & DF_FILE_DURABLE)) {
		int d = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (d < 0 || fsync(d))
			err = -errno;
		if (d >= 0)
			close(d);
	}
	if (err) {
		refuse(err, why, len, "%s: %s", path, strerror(-err));
		unlinkat(dirfd, tmp, 0);
	}
	close(dirfd);
	return err;
}

int df_file_append(const char *path, char *why, size_t len)
{
	const char *base;
	struct stat st;
	int dirfd, fd, err;

	dirfd = df_dir_open(path, false, 0750, &base, why, len);
	if (dirfd < 0)
		return dirfd;
	fd = open_at(dirfd, base, path, O_WRONLY | O_APPEND | O_CREAT, 0640, why, len);
	close(dirfd);
	if (fd < 0)
		return fd;
	err = check_file(fd, path, true, &st, why, len);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
