/* atomicfile: a replaced file holds the old or the new bytes, never a mix;
 * a failed write leaves the old contents and no temporary file. */
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

#include "atomicfile.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/herald-atomicfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_write_then_replace(void **state)
{
	char path[128], err[256], *data;
	size_t len;
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(atomicfile_read(path, 1024, &data, &len, err, sizeof(err)), 1);   /* missing */
	assert_null(data);
	assert_int_equal(atomicfile_write(path, "first\n", 6, err, sizeof(err)), 0);
	assert_int_equal(atomicfile_write(path, "second\n", 7, err, sizeof(err)), 0);
	assert_int_equal(atomicfile_read(path, 1024, &data, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 7);
	assert_string_equal(data, "second\n");
	free(data);
	char tmp[140];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_failure_keeps_the_old_file(void **state)
{
	char path[128], err[256] = "", *data;
	size_t len;
	snprintf(path, sizeof(path), "%s/nodir/state", dir);
	assert_int_equal(atomicfile_write(path, "x", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nodir"));
	/* A directory where the file should be: the rename fails, nothing torn. */
	snprintf(path, sizeof(path), "%s/isdir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(atomicfile_write(path, "x", 1, err, sizeof(err)), -1);
	char tmp[140];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	/* A full disk (/dev/full under the temporary name): ENOSPC, the old
	 * contents stay whole. */
	if (access("/dev/full", W_OK) == 0) {
		snprintf(path, sizeof(path), "%s/full", dir);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		assert_int_equal(atomicfile_write(path, "old\n", 4, err, sizeof(err)), 0);
		assert_int_equal(symlink("/dev/full", tmp), 0);
		assert_int_equal(atomicfile_write(path, "new contents\n", 13, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "No space left"));
		assert_int_equal(atomicfile_read(path, 1024, &data, &len, err, sizeof(err)), 0);
		assert_string_equal(data, "old\n");
		free(data);
	}
}

static void test_read_refuses_oversized(void **state)
{
	char path[128], err[256] = "", *data;
	size_t len;
	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(atomicfile_write(path, "0123456789", 10, err, sizeof(err)), 0);
	assert_int_equal(atomicfile_read(path, 9, &data, &len, err, sizeof(err)), -1);
	assert_null(data);
	assert_non_null(strstr(err, "over the 9 allowed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_replace),
		cmocka_unit_test(test_failure_keeps_the_old_file),
		cmocka_unit_test(test_read_refuses_oversized),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
