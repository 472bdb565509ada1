/* seen: the delivered set dedupes by (uid, resourceVersion), forgets the
 * oldest first, and survives a restart through an atomic file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "seen.h"

static void test_dedupe_by_uid_and_version(void **state)
{
	struct seen *s = seen_new(10);
	assert_false(seen_has(s, "u1", "1"));
	seen_put(s, "u1", "1");
	assert_true(seen_has(s, "u1", "1"));
	assert_false(seen_has(s, "u1", "2"));     /* a repeat is new */
	seen_put(s, "u1", "2");
	assert_true(seen_has(s, "u1", "2"));
	assert_false(seen_has(s, "u1", "1"));
	assert_int_equal(seen_count(s), 1);
	seen_free(s);
}

static void test_bounded_oldest_forgotten_first(void **state)
{
	struct seen *s = seen_new(100);
	char uid[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		seen_put(s, uid, "7");
	}
	assert_int_equal(seen_count(s), 100);
	for (int i = 0; i < 1000; i++) {
		snprintf(uid, sizeof(uid), "uid-%d", i);
		assert_int_equal(seen_has(s, uid, "7"), i >= 900);
	}
	seen_free(s);
}

static void test_grows_to_capacity_keeping_everything(void **state)
{
	/* The set starts small and doubles: every entry survives the growth. */
	struct seen *s = seen_new(5000);
	char uid[32], rv[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(uid, sizeof(uid), "g-%d", i);
		snprintf(rv, sizeof(rv), "%d", i);
		seen_put(s, uid, rv);
	}
	assert_int_equal(seen_count(s), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(uid, sizeof(uid), "g-%d", i);
		snprintf(rv, sizeof(rv), "%d", i);
		assert_true(seen_has(s, uid, rv));
	}
	seen_put(s, "g-new", "1");   /* full: the oldest goes */
	assert_false(seen_has(s, "g-0", "0"));
	assert_true(seen_has(s, "g-1", "1"));
	seen_free(s);
}

static void test_save_and_load(void **state)
{
	char dir[] = "/tmp/herald-seen-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/c1.seen", dir);
	struct seen *s = seen_new(50);
	bool loaded = true;
	assert_int_equal(seen_load(s, path, &loaded), 0);   /* none yet: not an error */
	assert_false(loaded);
	seen_put(s, "a", "1");
	seen_put(s, "b", "2");
	seen_put(s, "a", "3");
	assert_true(seen_dirty(s));
	assert_int_equal(seen_save(s, path, NULL, 0), 0);
	assert_false(seen_dirty(s));
	seen_free(s);

	s = seen_new(50);
	assert_int_equal(seen_load(s, path, &loaded), 0);
	assert_true(loaded);
	assert_true(seen_has(s, "a", "3"));
	assert_true(seen_has(s, "b", "2"));
	assert_false(seen_has(s, "a", "1"));
	assert_int_equal(seen_count(s), 2);
	seen_free(s);

	/* Events an alert sink still holds are left out: a restart delivers
	 * them again. */
	s = seen_new(50);
	seen_put(s, "a", "3");
	seen_put(s, "b", "2");
	uint64_t skip[] = { seen_hash("b") };
	assert_int_equal(seen_save(s, path, skip, 1), 0);
	seen_free(s);
	s = seen_new(50);
	assert_int_equal(seen_load(s, path, &loaded), 0);
	assert_true(seen_has(s, "a", "3"));
	assert_false(seen_has(s, "b", "2"));
	seen_free(s);

	FILE *f = fopen(path, "w");
	fputs("something else\n", f);
	fclose(f);
	s = seen_new(50);
	assert_int_equal(seen_load(s, path, &loaded), -1);
	assert_false(loaded);
	seen_free(s);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedupe_by_uid_and_version),
		cmocka_unit_test(test_bounded_oldest_forgotten_first),
		cmocka_unit_test(test_grows_to_capacity_keeping_everything),
		cmocka_unit_test(test_save_and_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
