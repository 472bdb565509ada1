/* glob: the '*'-only pattern language of rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "glob.h"

static bool m(const char *pat, const char *s)
{
	return glob_match(pat, strlen(pat), s, strlen(s));
}

static void test_exact(void **state)
{
	assert_true(m("BackOff", "BackOff"));
	assert_false(m("BackOff", "Backoff"));
	assert_false(m("BackOff", "BackOffX"));
	assert_false(m("BackOff", "Back"));
	assert_true(m("", ""));
	assert_false(m("", "x"));
}

static void test_star(void **state)
{
	assert_true(m("*", ""));
	assert_true(m("*", "anything at all"));
	assert_true(m("sandbox-*", "sandbox-"));
	assert_true(m("sandbox-*", "sandbox-alice"));
	assert_false(m("sandbox-*", "prod-sandbox-alice"));
	assert_true(m("*-system", "kube-system"));
	assert_false(m("*-system", "kube-system2"));
	assert_true(m("Failed*Mount*", "FailedMount"));
	assert_true(m("Failed*Mount*", "FailedAttachMountVolume"));
	assert_true(m("*probe failed*", "Readiness probe failed: timeout"));
	assert_true(m("a*b*c", "abc"));
	assert_true(m("a*b*c", "aXbYbZc"));
	assert_false(m("a*b*c", "aXbYcZ"));
	assert_true(m("**", "x"));
}

static void test_other_bytes_are_literal(void **state)
{
	assert_true(m("a?c", "a?c"));
	assert_false(m("a?c", "abc"));
	assert_true(m("[x]*", "[x] y"));
	assert_false(m("[x]*", "x y"));
	assert_true(m("ns.*", "ns.prod"));
	assert_false(m("ns.*", "nsXprod"));
}

static void test_backtracking_is_bounded(void **state)
{
	/* Classic worst case for naive recursion: must finish at once. */
	char s[4001], pat[64];
	memset(s, 'a', 4000);
	s[4000] = '\0';
	strcpy(pat, "*a*a*a*a*a*a*a*a*a*a*b");
	assert_false(m(pat, s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_other_bytes_are_literal),
		cmocka_unit_test(test_backtracking_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
