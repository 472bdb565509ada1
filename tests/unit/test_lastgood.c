/* lastgood: the copy holds exactly the configuration's *.lua files (top,
 * rules/, sinks/); a new save replaces it as a whole; a skipped or failed
 * save leaves the old copy and no staging directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "atomicfile.h"
#include "lastgood.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/herald-lastgood-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *rel, const char *text)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(atomicfile_write(path, text, strlen(text), err, sizeof(err)), 0);
}

/* The file's contents, or "(missing)". */
static const char *get(const char *rel)
{
	static char text[256];
	char path[256], err[256], *data;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int rc = atomicfile_read(path, sizeof(text) - 1, &data, &len, err, sizeof(err));
	if (rc != 0)
		return "(missing)";
	snprintf(text, sizeof(text), "%s", data);
	free(data);
	return text;
}

static bool exists(const char *rel)
{
	char path[256];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return stat(path, &sb) == 0;
}

static void make_config(void)
{
	char path[256];
	const char *dirs[] = { "config", "config/rules", "config/sinks", "state" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, dirs[i]);
		mkdir(path, 0700);
	}
	put("config/sinks.lua", "sink 1\n");
	put("config/README.md", "not configuration\n");
	put("config/rules/10.lua", "rule 10\n");
	put("config/rules/20.lua", "rule 20\n");
	put("config/rules/.hidden.lua", "hidden\n");
	put("config/sinks/mine.lua", "type mine\n");
}

static void test_a_save_copies_the_lua_files_and_a_new_one_replaces_them(void **state)
{
	char config[128], st[128], err[512], copy[256];
	make_config();
	snprintf(config, sizeof(config), "%s/config", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	assert_false(lastgood_dir(st, copy, sizeof(copy)));
	assert_int_equal(lastgood_save(st, config, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_true(lastgood_dir(st, copy, sizeof(copy)));
	assert_string_equal(get("state/lastgood/sinks.lua"), "sink 1\n");
	assert_string_equal(get("state/lastgood/rules/10.lua"), "rule 10\n");
	assert_string_equal(get("state/lastgood/rules/20.lua"), "rule 20\n");
	assert_string_equal(get("state/lastgood/sinks/mine.lua"), "type mine\n");
	assert_false(exists("state/lastgood/README.md"));
	assert_false(exists("state/lastgood/rules/.hidden.lua"));

	put("config/sinks.lua", "sink 2\n");
	char path[256];
	snprintf(path, sizeof(path), "%s/config/rules/20.lua", dir);
	unlink(path);
	assert_int_equal(lastgood_save(st, config, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(get("state/lastgood/sinks.lua"), "sink 2\n");
	assert_false(exists("state/lastgood/rules/20.lua"));   /* a whole new copy, not a merge */
	assert_false(exists("state/lastgood.new"));
}

static void test_a_rules_dir_elsewhere_is_copied_to_rules(void **state)
{
	char config[128], rules[128], st[128], err[512], path[256];
	make_config();
	snprintf(path, sizeof(path), "%s/other-rules", dir);
	mkdir(path, 0700);
	put("other-rules/50.lua", "rule 50\n");
	snprintf(config, sizeof(config), "%s/config", dir);
	snprintf(rules, sizeof(rules), "%s/other-rules", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	assert_int_equal(lastgood_save(st, config, rules, NULL, NULL, err, sizeof(err)), 0);
	assert_string_equal(get("state/lastgood/rules/50.lua"), "rule 50\n");
	assert_false(exists("state/lastgood/rules/10.lua"));
}

static bool say_changed(void *arg)
{
	return false;
}

static void test_a_failed_save_keeps_the_old_copy(void **state)
{
	char config[128], st[128], err[512], path[256];
	make_config();
	snprintf(config, sizeof(config), "%s/config", dir);
	snprintf(st, sizeof(st), "%s/state", dir);
	assert_int_equal(lastgood_save(st, config, NULL, NULL, NULL, err, sizeof(err)), 0);
	put("config/sinks.lua", "sink 3\n");
	snprintf(path, sizeof(path), "%s/config/rules/30.lua", dir);
	mkdir(path, 0700);   /* a "file" that cannot be read: skipped, not a state dir error */
	assert_int_equal(lastgood_save(st, config, NULL, NULL, NULL, err, sizeof(err)), 1);
	rmdir(path);
	assert_int_equal(lastgood_save(st, config, NULL, say_changed, NULL, err, sizeof(err)), 1);
	assert_string_equal(get("state/lastgood/sinks.lua"), "sink 1\n");
	assert_string_equal(get("state/lastgood/rules/10.lua"), "rule 10\n");
	assert_false(exists("state/lastgood.new"));
	snprintf(st, sizeof(st), "%s/no-such-dir", dir);   /* the state dir cannot be written */
	assert_int_equal(lastgood_save(st, config, NULL, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-dir/lastgood.new"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_save_copies_the_lua_files_and_a_new_one_replaces_them, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_rules_dir_elsewhere_is_copied_to_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_save_keeps_the_old_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
