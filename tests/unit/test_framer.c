/* framer: records out of arbitrary chunks, and every kind of bad input
 * reported with its line, never stopping the stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framer.h"

#define MAXREC 32

struct seen {
	char data[MAXREC][256];
	unsigned flags[MAXREC];
	unsigned long line[MAXREC];
	int n;
};

static void collect(void *arg, const struct framer_record *rec)
{
	struct seen *s = arg;
	assert_true(s->n < MAXREC);
	size_t len = rec->len < 255 ? rec->len : 255;
	memcpy(s->data[s->n], rec->data, len);
	s->data[s->n][len] = '\0';
	s->flags[s->n] = rec->flags;
	s->line[s->n] = rec->line;
	s->n++;
}

/* Feeds text in chunks of `step` bytes (every split point is exercised
 * by the callers looping over step). */
static void frame(struct seen *s, const char *text, size_t step, size_t max_record, size_t max_field)
{
	struct framer f;
	memset(s, 0, sizeof(*s));
	framer_init(&f, max_record, max_field, collect, s);
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i += step)
		framer_feed(&f, text + i, len - i < step ? len - i : step);
	framer_finish(&f);
	framer_free(&f);
}

static void test_json_lines_any_chunking(void **state)
{
	const char *text = "{\"a\":1}\n{\"b\":\"x}y{\"}\n\n  {\"c\":[1,{\"d\":2}]}\n";
	for (size_t step = 1; step <= strlen(text); step++) {
		struct seen s;
		frame(&s, text, step, 1 << 20, 1 << 20);
		assert_int_equal(s.n, 3);
		assert_string_equal(s.data[0], "{\"a\":1}");
		assert_string_equal(s.data[1], "{\"b\":\"x}y{\"}");
		assert_string_equal(s.data[2], "{\"c\":[1,{\"d\":2}]}");
		assert_int_equal(s.line[0], 1);
		assert_int_equal(s.line[1], 2);
		assert_int_equal(s.line[2], 4);
		for (int i = 0; i < 3; i++)
			assert_int_equal(s.flags[i], 0);
	}
}

static void test_pretty_printed_and_concatenated(void **state)
{
	const char *text = "{\n    \"kind\": \"List\",\n    \"items\": [\n        {\"x\": 1}\n    ]\n}\n"
			   "{\"a\":1}{\"b\":2}\n";
	for (size_t step = 1; step <= 7; step++) {
		struct seen s;
		frame(&s, text, step, 1 << 20, 1 << 20);
		assert_int_equal(s.n, 3);
		assert_non_null(strstr(s.data[0], "\"items\""));
		assert_int_equal(s.line[0], 1);
		assert_string_equal(s.data[1], "{\"a\":1}");
		assert_string_equal(s.data[2], "{\"b\":2}");
		assert_int_equal(s.line[2], 7);
	}
}

static void test_escapes_and_brackets_in_strings(void **state)
{
	struct seen s;
	frame(&s, "{\"m\":\"a \\\"quoted\\\" {brace} [x] \\\\\"}\n", 3, 1 << 20, 1 << 20);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.flags[0], 0);
}

static void test_cut_short_line_recovers(void **state)
{
	/* A line cut mid-string, then good lines: the cut one is flagged and
	 * the next ones still arrive with their own line numbers. */
	struct seen s;
	frame(&s, "{\"a\":\"cut\n{\"b\":1}\n{\"c\":{\"d\":\n{\"e\":2}\n", 5, 1 << 20, 1 << 20);
	assert_int_equal(s.n, 4);
	assert_true(s.flags[0] & FRAMER_MALFORMED);
	assert_string_equal(s.data[1], "{\"b\":1}");
	assert_int_equal(s.line[1], 2);
	assert_true(s.flags[2] & FRAMER_MALFORMED);     /* cut outside a string */
	assert_int_equal(s.line[2], 3);
	assert_string_equal(s.data[3], "{\"e\":2}");
	assert_int_equal(s.flags[3], 0);
	assert_int_equal(s.line[3], 4);
}

static void test_scalars_and_garbage_are_records(void **state)
{
	struct seen s;
	frame(&s, "42\nnot json\n\"str\"\n{\"ok\":true}\n", 4, 1 << 20, 1 << 20);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.data[0], "42");
	assert_string_equal(s.data[1], "not json");
	assert_string_equal(s.data[3], "{\"ok\":true}");
	assert_int_equal(s.line[3], 4);
}

static void test_unterminated_at_eof(void **state)
{
	struct seen s;
	frame(&s, "{\"a\":1}\n{\"b\":", 2, 1 << 20, 1 << 20);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.flags[0], 0);
	assert_true(s.flags[1] & FRAMER_MALFORMED);
}

static void test_too_large_is_flagged_not_kept(void **state)
{
	char text[400];
	memset(text, 0, sizeof(text));
	strcpy(text, "{\"big\":\"");
	memset(text + strlen(text), 'x', 200);
	strcat(text, "\"}\n{\"small\":1}\n");
	struct seen s;
	frame(&s, text, 16, 64, 1 << 20);
	assert_int_equal(s.n, 2);
	assert_true(s.flags[0] & FRAMER_TOO_LARGE);
	assert_string_equal(s.data[0], "");
	assert_string_equal(s.data[1], "{\"small\":1}");
	assert_int_equal(s.flags[1], 0);
}

static void test_field_too_large(void **state)
{
	struct seen s;
	frame(&s, "{\"m\":\"0123456789\"}\n{\"m\":\"0123\"}\n", 3, 1 << 20, 8);
	assert_int_equal(s.n, 2);
	assert_true(s.flags[0] & FRAMER_FIELD_TOO_LARGE);
	assert_int_equal(s.flags[1], 0);
}

static void test_utf8_validation(void **state)
{
	struct {
		const char *text;
		bool bad;
	} cases[] = {
		{ "{\"m\":\"caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"}\n", false },
		{ "{\"m\":\"\xff\"}\n", true },                 /* never valid */
		{ "{\"m\":\"\xc0\xaf\"}\n", true },             /* overlong '/' */
		{ "{\"m\":\"\xed\xa0\x80\"}\n", true },         /* UTF-16 surrogate */
		{ "{\"m\":\"\xf4\x90\x80\x80\"}\n", true },     /* above U+10FFFF */
		{ "{\"m\":\"\xe4\xb8\"}\n", true },             /* cut sequence */
		{ "{\"m\":\"\xc3\"}\n", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		for (size_t step = 1; step <= 3; step++) {
			struct seen s;
			frame(&s, cases[i].text, step, 1 << 20, 1 << 20);
			assert_int_equal(s.n, 1);
			assert_int_equal((s.flags[0] & FRAMER_BAD_UTF8) != 0, cases[i].bad);
		}
	}
}

static void test_empty_array_noticed(void **state)
{
	struct seen s;
	frame(&s, "{\"a\":[ ]}\n{\"a\":[1]}\n{\"a\":\"[]\"}\n", 2, 1 << 20, 1 << 20);
	assert_int_equal(s.n, 3);
	assert_true(s.flags[0] & FRAMER_EMPTY_ARRAY);
	assert_false(s.flags[1] & FRAMER_EMPTY_ARRAY);
	assert_false(s.flags[2] & FRAMER_EMPTY_ARRAY);
}

static void test_reset_forgets_partial(void **state)
{
	struct seen s;
	memset(&s, 0, sizeof(s));
	struct framer f;
	framer_init(&f, 1 << 20, 1 << 20, collect, &s);
	framer_feed(&f, "{\"partial\":", 11);
	framer_reset(&f);
	framer_feed(&f, "{\"whole\":1}\n", 12);
	framer_finish(&f);
	framer_free(&f);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.data[0], "{\"whole\":1}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines_any_chunking),
		cmocka_unit_test(test_pretty_printed_and_concatenated),
		cmocka_unit_test(test_escapes_and_brackets_in_strings),
		cmocka_unit_test(test_cut_short_line_recovers),
		cmocka_unit_test(test_scalars_and_garbage_are_records),
		cmocka_unit_test(test_unterminated_at_eof),
		cmocka_unit_test(test_too_large_is_flagged_not_kept),
		cmocka_unit_test(test_field_too_large),
		cmocka_unit_test(test_utf8_validation),
		cmocka_unit_test(test_empty_array_noticed),
		cmocka_unit_test(test_reset_forgets_partial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
