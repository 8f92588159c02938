// SPDX-License-Identifier: GPL-2.0-only
/* safefile.h: what a planted link, FIFO, hard link or loose mode does to
 * the agent's reads and writes, in a private directory (no root needed;
 * the files of others are the e2e suite's, tests/e2e/test_agent.sh). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "safefile.h"

static char dir[64];
static char why[DF_WHY_LEN];

static const char *at(const char *name)
{
	static char path[4][160];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void put(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(at(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(at(name), mode), 0);
}

static char *slurp(const char *name)
{
	static char buf[256];
	FILE *f = fopen(at(name), "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/df-safefile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void reads_a_plain_file_whole(void **state)
{
	char *text;
	size_t n;

	put("policy.conf", "policy = 1;\n", 0644);
	assert_int_equal(df_file_read(at("policy.conf"), 1024, &text, &n, why, sizeof(why)), 0);
	assert_string_equal(text, "policy = 1;\n");
	assert_int_equal(n, 12);
	free(text);
	assert_int_equal(df_file_read(at("policy.conf"), 11, &text, &n, why, sizeof(why)), -EFBIG);
	assert_null(text);
	assert_non_null(strstr(why, "larger than 11 bytes"));
}

static void refuses_links_fifos_and_loose_modes(void **state)
{
	char *text;
	size_t n;

	put("real.conf", "x\n", 0644);
	assert_int_equal(symlink(at("real.conf"), at("link.conf")), 0);
	assert_int_equal(df_file_read(at("link.conf"), 1024, &text, &n, why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));
	assert_non_null(strstr(why, at("link.conf")));
	/* a FIFO: refused at once, not waited on */
	assert_int_equal(mkfifo(at("fifo.conf"), 0644), 0);
	assert_int_equal(df_file_read(at("fifo.conf"), 1024, &text, &n, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	put("loose.conf", "x\n", 0666);
	assert_int_equal(df_file_read(at("loose.conf"), 1024, &text, &n, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by group or others"));
	assert_int_equal(link(at("real.conf"), at("hard.conf")), 0);
	assert_int_equal(df_file_read(at("hard.conf"), 1024, &text, &n, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "2 hard links"));
	assert_int_equal(df_file_read(at("missing.conf"), 1024, &text, &n, why, sizeof(why)),
			 -ENOENT);
}

static void refuses_a_directory_others_may_write(void **state)
{
	char *text;
	size_t n;

	assert_int_equal(mkdir(at("open"), 0755), 0);
	assert_int_equal(chmod(at("open"), 0777), 0);
	put("open/policy.conf", "x\n", 0644);
	assert_int_equal(df_file_read(at("open/policy.conf"), 1024, &text, &n, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "writable by others (mode 0777)"));
	/* a shared directory takes only fresh files renamed into place */
	assert_int_equal(df_file_replace(at("open/m.prom"), "a 1\n", 4, 0644, DF_FILE_SHARED, why,
					 sizeof(why)), 0);
	assert_string_equal(slurp("open/m.prom"), "a 1\n");
	assert_int_equal(df_file_replace(at("open/m.prom"), "a 1\n", 4, 0644, 0, why,
					 sizeof(why)), -EPERM);
	/* durable, into a directory made for it (state_dir): root's 0700 */
	assert_int_equal(df_file_replace(at("state/serial"), "7 x\n", 4, 0600,
					 DF_FILE_DURABLE | DF_FILE_MKDIR, why, sizeof(why)), 0);
	assert_string_equal(slurp("state/serial"), "7 x\n");
	{
		struct stat st;

		assert_int_equal(stat(at("state"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	/* sticky, like /tmp: others cannot rename our entries there */
	assert_int_equal(mkdir(at("sticky"), 0755), 0);
	assert_int_equal(chmod(at("sticky"), 01777), 0);
	put("sticky/agent.conf", "z\n", 0644);
	assert_int_equal(df_file_read(at("sticky/agent.conf"), 1024, &text, &n, why, sizeof(why)),
			 0);
	free(text);
	/* a link on the way, made by the directory's owner, is resolved */
	assert_int_equal(mkdir(at("real"), 0755), 0);
	assert_int_equal(symlink(at("real"), at("via")), 0);
	put("real/p.conf", "y\n", 0644);
	assert_int_equal(df_file_read(at("via/p.conf"), 1024, &text, &n, why, sizeof(why)), 0);
	free(text);
}

static void replaces_links_and_fifos_without_following(void **state)
{
	put("secret", "root only\n", 0600);
	assert_int_equal(symlink(at("secret"), at("metrics.prom")), 0);
	assert_int_equal(df_file_replace(at("metrics.prom"), "m 2\n", 4, 0644, DF_FILE_SHARED, why,
					 sizeof(why)), 0);
	assert_string_equal(slurp("secret"), "root only\n");
	assert_string_equal(slurp("metrics.prom"), "m 2\n");
	assert_int_equal(unlink(at("metrics.prom")), 0);
	assert_int_equal(mkfifo(at("metrics.prom"), 0644), 0);
	assert_int_equal(df_file_replace(at("metrics.prom"), "m 3\n", 4, 0644, DF_FILE_SHARED, why,
					 sizeof(why)), 0);
	assert_string_equal(slurp("metrics.prom"), "m 3\n");
}

static void appends_only_to_a_plain_file(void **state)
{
	int fd;

	/* the missing directory is made, 0750 */
	fd = df_file_append(at("log/drops.jsonl"), why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\n", 2), 2);
	close(fd);
	fd = df_file_append(at("log/drops.jsonl"), why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "b\n", 2), 2);
	close(fd);
	assert_string_equal(slurp("log/drops.jsonl"), "a\nb\n");
	{
		struct stat st;

		assert_int_equal(stat(at("log"), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0750);
	}
	put("target", "t\n", 0600);
	assert_int_equal(symlink(at("target"), at("log/link.jsonl")), 0);
	assert_int_equal(df_file_append(at("log/link.jsonl"), why, sizeof(why)), -ELOOP);
	assert_int_equal(mkfifo(at("log/fifo.jsonl"), 0600), 0);
	/* O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) */
	assert_true(df_file_append(at("log/fifo.jsonl"), why, sizeof(why)) < 0);
	assert_string_equal(slurp("target"), "t\n");
	assert_int_equal(df_file_append(at("log/"), why, sizeof(why)), -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(reads_a_plain_file_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_links_fifos_and_loose_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_a_directory_others_may_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(replaces_links_and_fifos_without_following, setup,
						teardown),
		cmocka_unit_test_setup_teardown(appends_only_to_a_plain_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
