/* backoff: delays double from min to max, jitter only lowers them and
 * stays within its share, and a healthy stream starts the sequence again
 * (issue 12.6: ten watch resets once took 154 s to recover). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static void test_doubles_up_to_max(void **state)
{
	struct backoff b;
	backoff_init(&b, 800, 30000, 0, 1);
	const uint64_t want[] = { 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		assert_int_equal(backoff_next(&b), want[i]);
	assert_int_equal(backoff_base(&b, 0), 800);
	assert_int_equal(backoff_base(&b, 1000), 30000); /* no overflow */
	assert_int_equal(backoff_base(&b, 5), 25600);
}

static void test_jitter_stays_within_its_share(void **state)
{
	struct backoff b;
	backoff_init(&b, 1000, 8000, 0.5, 42);
	uint64_t lowest = UINT64_MAX, highest = 0;
	for (int round = 0; round < 500; round++) {
		backoff_reset(&b);
		for (unsigned n = 0; n < 5; n++) {
			uint64_t base = backoff_base(&b, n);
			uint64_t d = backoff_next(&b);
			assert_true(d <= base && d >= base / 2);
			if (n == 0) {
				lowest = d < lowest ? d : lowest;
				highest = d > highest ? d : highest;
			}
		}
	}
	/* The draws spread over the range, not one value. */
	assert_true(lowest < 600 && highest > 900);
	/* The same seed gives the same sequence. */
	struct backoff x, y;
	backoff_init(&x, 100, 10000, 1, 7);
	backoff_init(&y, 100, 10000, 1, 7);
	for (int i = 0; i < 20; i++)
		assert_int_equal(backoff_next(&x), backoff_next(&y));
	/* Full jitter never waits 0 ms. */
	for (int i = 0; i < 1000; i++)
		assert_true(backoff_next(&x) >= 1);
}

static void test_a_healthy_stream_resets_it(void **state)
{
	struct backoff b;
	backoff_init(&b, 800, 30000, 0, 3);
	for (int i = 0; i < 6; i++)
		backoff_next(&b);
	assert_int_equal(b.last_ms, 25600);
	/* Failed at once, nothing delivered: keeps growing. */
	assert_false(backoff_stream_ended(&b, false, 100));
	assert_int_equal(backoff_next(&b), 30000);
	/* Delivered data: back to min. */
	assert_true(backoff_stream_ended(&b, true, 10));
	assert_int_equal(backoff_next(&b), 800);
	assert_int_equal(backoff_next(&b), 1600);
	/* Lasted longer than the delay it waited: back to min. */
	assert_false(backoff_stream_ended(&b, false, 1600));
	assert_true(backoff_stream_ended(&b, false, 1601));
	assert_int_equal(backoff_next(&b), 800);
	/* Ten resets of streams that each delivered events cost ten short waits. */
	backoff_reset(&b);
	uint64_t total = 0;
	for (int i = 0; i < 10; i++) {
		total += backoff_next(&b);
		backoff_stream_ended(&b, true, 60000);
	}
	assert_int_equal(total, 8000);
}

/* Local outputs retry in step with themselves: no jitter, same rule. */
static void test_plain_delays_have_no_jitter(void **state)
{
	struct backoff b;
	backoff_init(&b, 500, 30000, 0.5, 7);
	const uint64_t want[] = { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		assert_int_equal(backoff_next_plain(&b), want[i]);
	backoff_reset(&b);
	assert_int_equal(backoff_next_plain(&b), 500);
}

static void test_bad_settings_are_clamped(void **state)
{
	struct backoff b;
	backoff_init(&b, 0, 0, 3.0, 0);
	assert_int_equal(b.min_ms, 1);
	assert_int_equal(b.max_ms, 1);
	assert_true(b.jitter == 1.0);
	assert_int_equal(backoff_next(&b), 1);
	backoff_init(&b, 500, 100, -1, 0);
	assert_int_equal(b.max_ms, 500);
	assert_true(b.jitter == 0.0);
	assert_int_equal(backoff_next(&b), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_up_to_max),
		cmocka_unit_test(test_jitter_stays_within_its_share),
		cmocka_unit_test(test_a_healthy_stream_resets_it),
		cmocka_unit_test(test_plain_delays_have_no_jitter),
		cmocka_unit_test(test_bad_settings_are_clamped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
