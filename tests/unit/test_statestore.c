/* statestore: bytes put under a key come back the same, from a directory
 * and from the ConfigMap backend's compressed copy; bad keys and a store
 * past its bound are refused and the previous copy stays. (The ConfigMap
 * round trip against a real apiserver: tests/integration/test_ha.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loop.h"
#include "statestore.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/herald-statestore-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_directory_round_trip(void **state)
{
	struct statestore *st = statestore_open_dir(dir);
	struct buf out = BUF_INIT;
	assert_int_equal(statestore_get(st, "prod.seen", &out), 1);            /* absent */
	assert_int_equal(statestore_put(st, "prod.seen", "abc\n", 4), 0);
	assert_false(statestore_pending(st));                                  /* written at once */
	assert_int_equal(statestore_get(st, "prod.seen", &out), 0);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "abc\n", 4);
	assert_int_equal(statestore_put(st, "../escape", "x", 1), -1);
	assert_int_equal(statestore_put(st, "a/b", "x", 1), -1);
	assert_int_equal(statestore_get(st, "..", &out), -1);
	buf_free(&out);
	statestore_free(st);
}

static void test_configmap_copy_round_trip_and_bound(void **state)
{
	struct loop *loop = loop_new();
	struct statestore *st = statestore_open_configmap(loop, NULL, "herald", "herald-checkpoint", 5000);
	struct buf out = BUF_INIT;
	char text[20000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "0123456789abcdef \n"[i % 18];
	assert_int_equal(statestore_get(st, "c1.seen", &out), 1);
	assert_int_equal(statestore_put(st, "c1.seen", text, sizeof(text)), 0);
	assert_true(statestore_pending(st));                                   /* written later, on the loop */
	assert_int_equal(statestore_get(st, "c1.seen", &out), 0);
	assert_int_equal(out.len, sizeof(text));
	assert_memory_equal(out.data, text, sizeof(text));
	/* incompressible bytes past the bound: refused, the old copy stays */
	size_t big = STATESTORE_MAX_BYTES + 1024;
	unsigned char *noise = malloc(big);
	uint64_t x = 88172645463325252ULL;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		noise[i] = (unsigned char)x;
	}
	assert_int_equal(statestore_put(st, "c1.seen", noise, big), -1);
	assert_int_equal(statestore_get(st, "c1.seen", &out), 0);
	assert_int_equal(out.len, sizeof(text));
	assert_int_equal(statestore_put(st, "c2.seen", noise, big), -1);
	assert_int_equal(statestore_get(st, "c2.seen", &out), 1);
	assert_int_equal(statestore_put(st, "bad key", "x", 1), -1);
	free(noise);
	buf_free(&out);
	statestore_free(st);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory_round_trip),
		cmocka_unit_test(test_configmap_copy_round_trip_and_bound),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
