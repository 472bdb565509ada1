/* alerts: grouping (wait, interval, repeat), the rate windows, digests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alerts.h"

static struct alert_policy policy(void)
{
	return (struct alert_policy){
		.wait_ms = 10000, .interval_ms = 60000, .repeat_ms = 3600000,
		.samples = 3, .max_groups = 1000,
		.rates = { { 20, 60000 } }, .nrates = 1,
	};
}

static void add(struct alerts *a, const char *key, uint64_t uid, uint64_t now)
{
	char item[64];
	int n = snprintf(item, sizeof(item), "{\"uid\":%llu}", (unsigned long long)uid);
	assert_int_equal(alerts_add(a, key, uid, item, (size_t)n, now), 0);
}

/* Sends m the way the sink does: a token taken, the answer at `done`. */
static void send(struct alerts *a, uint64_t start, uint64_t done)
{
	alerts_sending(a, start);
	alerts_sent(a, done);
}

static void test_wait_then_one_message(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "prod/web", 1, 1000);
	add(a, "prod/web", 2, 4000);
	assert_null(alerts_next(a, 5000, false, &wake));
	assert_int_equal(wake, 11000);   /* wait counts from the first event */
	struct alert_msg *m = alerts_next(a, 11000, false, &wake);
	assert_non_null(m);
	assert_false(m->digest);
	assert_int_equal(m->nparts, 1);
	assert_string_equal(m->parts[0].key, "prod/web");
	assert_int_equal(m->parts[0].count, 2);
	assert_int_equal(m->parts[0].nsamples, 2);
	assert_string_equal(m->parts[0].samples[1].data, "{\"uid\":2}");
	assert_int_equal(m->events, 2);
	assert_int_equal(alerts_held(a), 0);
	alert_msg_free(m);
	assert_null(alerts_next(a, 12000, false, &wake));
	assert_int_equal(wake, UINT64_MAX);
	alerts_free(a);
}

static void test_interval_for_new_events_repeat_for_repeats(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "g", 1, 0);
	alert_msg_free(alerts_next(a, 10000, false, &wake));
	/* The same event again (its count went up): only after `repeat`. */
	add(a, "g", 1, 20000);
	assert_null(alerts_next(a, 70000, false, &wake));
	assert_int_equal(wake, 10000 + 3600000);
	/* A new event in the group: after `interval` from the last message. */
	add(a, "g", 2, 30000);
	assert_null(alerts_next(a, 69999, false, &wake));
	assert_int_equal(wake, 70000);
	struct alert_msg *m = alerts_next(a, 70000, false, &wake);
	assert_non_null(m);
	assert_int_equal(m->parts[0].count, 2);
	assert_int_equal(m->parts[0].total, 3);
	assert_int_equal(m->parts[0].sent_before, 1);
	assert_false(m->parts[0].repeat);
	alert_msg_free(m);
	/* Only a repeat now: flagged so, due after `repeat`. */
	add(a, "g", 2, 80000);
	m = alerts_next(a, 70000 + 3600000, false, &wake);
	assert_non_null(m);
	assert_true(m->parts[0].repeat);
	alert_msg_free(m);
	alerts_free(a);
}

static void test_samples_keep_the_newest_version_of_each_event(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "g", 1, 0);
	add(a, "g", 2, 1);
	add(a, "g", 1, 2);     /* replaces its older version, moves to the end */
	add(a, "g", 3, 3);
	add(a, "g", 4, 4);     /* pushes out the oldest (2) */
	struct alert_msg *m = alerts_next(a, 20000, false, &wake);
	assert_int_equal(m->parts[0].count, 5);
	assert_int_equal(m->parts[0].nsamples, 3);
	assert_int_equal(m->parts[0].samples[0].uid, 1);
	assert_int_equal(m->parts[0].samples[1].uid, 3);
	assert_int_equal(m->parts[0].samples[2].uid, 4);
	alert_msg_free(m);
	alerts_free(a);
}

/* The storm of the issue: 1,000 events over 50 objects. Never more than
 * 20 requests in any minute; every event is in exactly one message. */
static void test_storm_never_exceeds_the_rate_and_loses_nothing(void **state)
{
	struct alert_policy p = policy();
	p.wait_ms = 2000;
	struct alerts *a = alerts_new(&p);
	uint64_t sends[200];
	size_t nsends = 0, events = 0, digests = 0;
	uint64_t now = 0, next_event = 0;
	int added = 0;
	uint64_t wake = 0;
	while (now < 400000 && (added < 1000 || alerts_held(a))) {
		while (added < 1000 && next_event <= now) {
			char key[16];
			snprintf(key, sizeof(key), "obj-%d", added % 50);
			add(a, key, (uint64_t)added + 1, now);
			added++;
			next_event += 10;      /* 1,000 events in 10 s */
		}
		struct alert_msg *m = alerts_next(a, now, false, &wake);
		if (m) {
			assert_true(nsends < 200);
			sends[nsends++] = now;
			events += m->events;
			digests += m->digest;
			send(a, now, now + 150);
			alert_msg_free(m);
		}
		now += 10;
	}
	assert_int_equal(events, 1000);
	assert_true(digests >= 1);
	for (size_t i = 0; i + 20 < nsends; i++)
		assert_true(sends[i + 20] - sends[i] >= 60000);
	alerts_free(a);
}

static void test_digest_takes_the_last_token(void **state)
{
	struct alert_policy p = policy();
	p.rates[0].count = 3;
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	for (int i = 0; i < 6; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		add(a, key, (uint64_t)i + 1, (uint64_t)i);
	}
	struct alert_msg *m;
	for (int i = 0; i < 2; i++) {
		m = alerts_next(a, 20000, false, &wake);
		assert_false(m->digest);
		send(a, 20000, 20100);
		alert_msg_free(m);
	}
	m = alerts_next(a, 20200, false, &wake);
	assert_true(m->digest);
	assert_int_equal(m->nparts, 4);
	assert_int_equal(m->events, 4);
	send(a, 20200, 20300);
	alert_msg_free(m);
	/* No token left: a new group waits for the first one to come back. */
	add(a, "late", 99, 21000);
	assert_null(alerts_next(a, 40000, false, &wake));
	assert_int_equal(wake, 20100 + 60000);
	assert_int_equal(alerts_tokens(a, 80099), 0);
	assert_int_equal(alerts_tokens(a, 80100), 2);   /* both sent at 20000, answered at 20100 */
	m = alerts_next(a, 80100, false, &wake);
	assert_non_null(m);
	alert_msg_free(m);
	alerts_free(a);
}

static void test_two_windows_the_tighter_wins(void **state)
{
	struct alert_policy p = policy();
	p.rates[0] = (struct alert_rate){ 100, 60000 };
	p.rates[1] = (struct alert_rate){ 5, 1000 };
	p.nrates = 2;
	struct alerts *a = alerts_new(&p);
	for (int i = 0; i < 5; i++)
		send(a, 0, 10);
	assert_int_equal(alerts_tokens(a, 500), 0);
	assert_int_equal(alerts_tokens(a, 1010), 5);
	alerts_free(a);
}

/* A limit like Slack's (1 a second): waiting a second beats a digest. */
static void test_short_windows_wait_instead_of_digesting(void **state)
{
	struct alert_policy p = policy();
	p.rates[0] = (struct alert_rate){ 1, 1000 };
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "a", 1, 0);
	add(a, "b", 2, 0);
	add(a, "c", 3, 0);
	struct alert_msg *m = alerts_next(a, 10000, false, &wake);
	assert_false(m->digest);
	send(a, 10000, 10050);
	alert_msg_free(m);
	assert_null(alerts_next(a, 10100, false, &wake));
	assert_int_equal(wake, 11050);
	m = alerts_next(a, 11050, false, &wake);
	assert_false(m->digest);
	alert_msg_free(m);
	alerts_free(a);
}

static void test_overflow_groups_fold_into_a_digest(void **state)
{
	struct alert_policy p = policy();
	p.max_groups = 2;
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "a", 1, 0);
	add(a, "b", 2, 0);
	add(a, "c", 3, 0);
	add(a, "d", 4, 0);
	assert_int_equal(alerts_groups(a), 3);
	assert_int_equal(alerts_held(a), 4);
	size_t events = 0;
	struct alert_msg *m;
	while ((m = alerts_next(a, 10000, false, &wake))) {
		events += m->events;
		send(a, 10000, 10000);
		alert_msg_free(m);
	}
	assert_int_equal(events, 4);
	alerts_free(a);
}

static void test_held_uids_and_drain(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake, *uids = NULL;
	size_t n = 0, cap = 0;
	add(a, "a", 7, 0);
	add(a, "b", 8, 0);
	add(a, "b", 8, 1);
	assert_true(alerts_held_uids(a, &uids, &n, &cap));
	assert_int_equal(n, 2);
	/* Shutting down: every group with news is due at once. */
	struct alert_msg *m = alerts_next(a, 5, true, &wake);
	assert_non_null(m);
	alert_msg_free(m);
	m = alerts_next(a, 5, true, &wake);
	assert_non_null(m);
	alert_msg_free(m);
	/* ...but repeats of what was sent are not news. */
	add(a, "a", 7, 6);
	add(a, "a", 9, 6);
	add(a, "b", 8, 6);
	assert_int_equal(alerts_drop_repeats(a), 1);
	assert_int_equal(alerts_held(a), 2);
	free(uids);
	alerts_free(a);
}

static void test_reload_keeps_tokens_in_use(void **state)
{
	struct alert_policy p = policy();
	p.rates[0].count = 2;
	struct alerts *a = alerts_new(&p);
	send(a, 0, 100);
	send(a, 0, 100);
	assert_int_equal(alerts_tokens(a, 1000), 0);
	p.rates[0].count = 3;
	p.samples = 1;
	alerts_set_policy(a, &p);
	assert_int_equal(alerts_tokens(a, 1000), 1);
	alerts_free(a);
}

static void test_quiet_groups_are_forgotten(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "a", 1, 0);
	alert_msg_free(alerts_next(a, 10000, false, &wake));
	assert_int_equal(alerts_groups(a), 1);
	assert_null(alerts_next(a, 3600000 + 1, false, &wake));
	assert_int_equal(alerts_groups(a), 0);
	/* The same key later is news again: `wait`, not `repeat`. */
	add(a, "a", 1, 3700000);
	struct alert_msg *m = alerts_next(a, 3710000, false, &wake);
	assert_non_null(m);
	assert_int_equal(m->parts[0].sent_before, 0);
	alert_msg_free(m);
	alerts_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_then_one_message),
		cmocka_unit_test(test_interval_for_new_events_repeat_for_repeats),
		cmocka_unit_test(test_samples_keep_the_newest_version_of_each_event),
		cmocka_unit_test(test_storm_never_exceeds_the_rate_and_loses_nothing),
		cmocka_unit_test(test_digest_takes_the_last_token),
		cmocka_unit_test(test_two_windows_the_tighter_wins),
		cmocka_unit_test(test_short_windows_wait_instead_of_digesting),
		cmocka_unit_test(test_overflow_groups_fold_into_a_digest),
		cmocka_unit_test(test_held_uids_and_drain),
		cmocka_unit_test(test_reload_keeps_tokens_in_use),
		cmocka_unit_test(test_quiet_groups_are_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
