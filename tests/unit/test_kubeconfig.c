/* kubeconfig: an exec plugin's args and env are read whole or refused with
 * a clear error (issue 12.7: an args item that was not a string silently
 * dropped the rest of the list and leaked it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kubeconfig.h"

static char path[64];

static int setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/herald-kubeconfig-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

/* Writes a kubeconfig whose user "u" has the given exec block, loads it. */
static int load(const char *exec, struct kubeconn *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		   "clusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n"
		   "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
		   "users:\n- name: u\n  user:\n    exec:\n%s", exec);
	fclose(f);
	return kubeconfig_load(path, NULL, c, err, errlen);
}

static void test_exec_args_and_env_are_read_whole(void **state)
{
	struct kubeconn c;
	char err[256] = "";
	assert_int_equal(load("      command: aws\n      args: [eks, get-token, --cluster-name, prod]\n"
			      "      env:\n      - name: AWS_PROFILE\n        value: ops\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.exec->command, "aws");
	const char *want[] = { "eks", "get-token", "--cluster-name", "prod", NULL };
	for (int i = 0; want[i]; i++)
		assert_string_equal(c.exec->args[i], want[i]);
	assert_null(c.exec->args[4]);
	assert_string_equal(c.exec->env[0], "AWS_PROFILE=ops");
	assert_null(c.exec->env[1]);
	kubeconn_free(&c);
}

static void test_bad_exec_items_are_clear_errors(void **state)
{
	static const struct { const char *exec, *want; } cases[] = {
		{ "      command: aws\n      args: [eks, {x: 1}, --cluster-name, prod]\n",
		  "user \"u\": exec.args item 2 is not a string" },
		{ "      command: aws\n      args: [eks, [a, b]]\n", "exec.args item 2 is not a string" },
		{ "      command: aws\n      args: eks get-token\n", "exec.args must be a list of strings" },
		{ "      command: aws\n      env:\n      - name: A\n      - value: b\n",
		  "exec.env item 1 needs a name and a value" },
		{ "      command: aws\n      env: {A: b}\n", "exec.env must be a list of {name, value}" },
		{ "      args: [a]\n", "user \"u\": exec needs a command" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct kubeconn c;
		char err[256] = "";
		assert_int_equal(load(cases[i].exec, &c, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		assert_null(c.exec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_args_and_env_are_read_whole),
		cmocka_unit_test(test_bad_exec_items_are_clear_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
