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
#include "hash.h"

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

/* A request herald gave up on (its timeout) may still be counted by the
 * robot later, e.g. from a queue in front of it: its token must not come
 * back one period after herald gave up, or the robot sees 21 in a minute. */
static void test_a_request_without_answer_keeps_its_token_longer(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t robot[128];           /* when the robot counted each request */
	size_t n = 0;
	/* The first request times out at 10 s; the robot counts it at 11 s. */
	alerts_sending(a, 0);
	alerts_unanswered(a, 10000, 10000);
	robot[n++] = 11000;
	/* Then herald sends whenever it has a token, each answered in 50 ms. */
	for (uint64_t now = 10001; now < 200000; now++) {
		if (alerts_tokens(a, now) == 0)
			continue;
		assert_true(n < 128);
		alerts_sending(a, now);
		robot[n++] = now + 10;
		alerts_sent(a, now + 50);
	}
	for (size_t i = 0; i < n; i++) {
		size_t in_minute = 0;
		for (size_t j = 0; j < n; j++)
			in_minute += robot[j] <= robot[i] && robot[j] + 60000 > robot[i];
		assert_true(in_minute <= 20);
	}
	/* The token is back two periods after herald gave up... */
	alerts_free(a);
	a = alerts_new(&p);
	alerts_sending(a, 0);
	alerts_unanswered(a, 10000, 10000);
	assert_int_equal(alerts_tokens(a, 129999), 19);
	assert_int_equal(alerts_tokens(a, 130000), 20);
	alerts_free(a);
	/* ...or, with a window shorter than the timeout, one period after
	 * herald gave up plus the timeout. */
	p.rates[0] = (struct alert_rate){ 5, 1000 };
	a = alerts_new(&p);
	alerts_sending(a, 0);
	alerts_unanswered(a, 10000, 10000);
	assert_int_equal(alerts_token_at(a, 10000), 10000);
	assert_int_equal(alerts_tokens(a, 20999), 4);
	assert_int_equal(alerts_tokens(a, 21000), 5);
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

/* ---------------------------------------------------------------- the ledger */

#define WALL 1700000000000ull   /* the old process's "now" in wall ms */

/* A restart: the old process (clock `now`) exports at wall WALL; the new
 * one (clock `now2`) imports `later_ms` afterwards. */
static struct alerts *restart(struct alerts *old, const struct alert_msg *unsent, uint64_t now, uint64_t now2,
			      uint64_t later_ms)
{
	struct buf b = BUF_INIT;
	struct alerts_ledger_info info;
	char err[256];
	assert_int_equal(alerts_export(old, unsent, now, WALL, SIZE_MAX, &b, &info), 0);
	assert_int_equal(info.trimmed, 0);
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	assert_int_equal(alerts_import(a, b.data, b.len, now2, WALL + later_ms, err, sizeof(err)), 0);
	buf_free(&b);
	alerts_free(old);
	return a;
}

static void test_ledger_round_trip(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	for (uint64_t u = 1; u <= 5; u++)
		add(a, "sent", u, 1000);
	struct alert_msg *m = alerts_next(a, 11000, false, &wake);
	assert_non_null(m);
	send(a, 11000, 11200);
	alert_msg_free(m);
	add(a, "sent", 3, 12000);        /* a repeat, held */
	add(a, "held", 40, 13000);
	add(a, "held", 41, 13500);
	struct buf one = BUF_INIT, two = BUF_INIT;
	struct alerts_ledger_info info;
	char err[256];
	assert_int_equal(alerts_export(a, NULL, 14000, WALL, SIZE_MAX, &one, &info), 0);
	assert_int_equal(info.groups, 2);
	assert_int_equal(info.held, 3);
	struct alerts *b = alerts_new(&p);
	assert_int_equal(alerts_import(b, one.data, one.len, 14000, WALL, err, sizeof(err)), 0);
	assert_int_equal(alerts_export(b, NULL, 14000, WALL, SIZE_MAX, &two, &info), 0);
	assert_int_equal(one.len, two.len);
	assert_memory_equal(one.data, two.data, one.len);
	assert_int_equal(alerts_held(b), 3);
	assert_int_equal(alerts_tokens(b, 14000), 19);
	buf_free(&one);
	buf_free(&two);
	alerts_free(a);
	alerts_free(b);
}

static void test_restart_does_not_resend_and_sends_held_when_due(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake, t0 = 1000000;
	add(a, "crashloop", 1, t0);
	struct alert_msg *m = alerts_next(a, t0 + 10000, false, &wake);
	assert_non_null(m);
	send(a, t0 + 10000, t0 + 10100);
	alert_msg_free(m);
	add(a, "pending", 2, t0 + 20000);   /* held: due at t0 + 30000 */
	/* A clean restart at t0 + 25000 in a process whose clock reads 7e6;
	 * it starts 2 s later (wall). */
	uint64_t now2 = 7000000;
	a = restart(a, NULL, t0 + 25000, now2, 2000);
	/* The relist brings the alerted event again: a repeat, not news. */
	add(a, "crashloop", 1, now2);
	assert_null(alerts_next(a, now2, false, &wake));
	/* The held event is due 3 s after the restart (5 s after t0+25000,
	 * minus the 2 s the restart took). */
	assert_int_equal(wake, now2 + 3000);
	assert_null(alerts_next(a, now2 + 2999, false, &wake));
	m = alerts_next(a, now2 + 3000, false, &wake);
	assert_non_null(m);
	assert_string_equal(m->parts[0].key, "pending");
	assert_int_equal(m->parts[0].nsamples, 1);
	assert_int_equal(m->parts[0].samples[0].uid, 2);
	alert_msg_free(m);
	/* The crashloop repeat waits `repeat` from its first message, across
	 * the restart. */
	assert_null(alerts_next(a, now2 + 3000, false, &wake));
	assert_int_equal(wake, now2 + 3600000 + 10000 - 27000);
	alerts_free(a);
}

static void test_token_windows_honoured_across_restart(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	/* 20 messages a minute: the old process used 18, the last one still
	 * in flight when it stopped. */
	for (int i = 0; i < 17; i++)
		send(a, 1000 + (uint64_t)i * 100, 1000 + (uint64_t)i * 100 + 50);
	alerts_sending(a, 3000);
	assert_int_equal(alerts_tokens(a, 3000), 2);
	uint64_t now2 = 90000000;
	a = restart(a, NULL, 3000, now2, 1000);
	assert_int_equal(alerts_tokens(a, now2), 2);
	/* Tokens come back a minute after each request ended (the one in
	 * flight counts from the save). */
	assert_int_equal(alerts_token_at(a, now2), now2);
	for (int i = 0; i < 2; i++)
		send(a, now2, now2 + 10);
	assert_int_equal(alerts_tokens(a, now2 + 10), 0);
	/* The oldest ended at 1050 on the old clock: 57050 ms after the
	 * restart's wall time (3000 saved, 1000 ms restart). */
	assert_int_equal(alerts_token_at(a, now2 + 10), now2 + 60000 + 1050 - 3000 - 1000);
	assert_int_equal(alerts_tokens(a, now2 + 57049), 0);
	assert_int_equal(alerts_tokens(a, now2 + 57050), 1);
	assert_int_equal(alerts_tokens(a, now2 + 58999), 17);
	assert_int_equal(alerts_tokens(a, now2 + 59000), 18);   /* the one in flight at the save */
	alerts_free(a);
}

static void test_unsent_message_goes_first_after_restart(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "a", 1, 0);
	add(a, "a", 2, 0);
	struct alert_msg *m = alerts_next(a, 10000, false, &wake);
	assert_non_null(m);
	/* The process dies before the robot answered. */
	a = restart(a, m, 10000, 500, 0);
	struct alert_msg *again = alerts_next(a, 500, false, &wake);
	assert_non_null(again);
	assert_int_equal(again->nparts, 1);
	assert_string_equal(again->parts[0].key, "a");
	assert_int_equal(again->parts[0].count, 2);
	assert_int_equal(again->parts[0].nsamples, 2);
	assert_memory_equal(again->parts[0].samples[1].data, m->parts[0].samples[1].data, m->parts[0].samples[1].len);
	alert_msg_free(again);
	alert_msg_free(m);
	/* The group itself knows it was alerted: nothing else is due. */
	assert_null(alerts_next(a, 500, false, &wake));
	alerts_free(a);
}

static void test_ledger_past_max_groups_folds_into_overflow(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	char key[16];
	p.max_groups = 4;
	alerts_set_policy(a, &p);
	for (int i = 0; i < 6; i++) {   /* four groups, two events in the overflow group */
		snprintf(key, sizeof(key), "k%d", i);
		add(a, key, (uint64_t)i + 1, 100);
	}
	assert_int_equal(alerts_groups(a), 5);
	struct buf b = BUF_INIT;
	struct alerts_ledger_info info;
	char err[256];
	assert_int_equal(alerts_export(a, NULL, 200, WALL, SIZE_MAX, &b, &info), 0);
	p.max_groups = 2;
	struct alerts *small = alerts_new(&p);
	assert_int_equal(alerts_import(small, b.data, b.len, 200, WALL, err, sizeof(err)), 0);
	assert_int_equal(alerts_groups(small), 3);   /* two and the overflow */
	assert_int_equal(alerts_held(small), 6);     /* nothing lost */
	buf_free(&b);
	alerts_free(small);
	alerts_free(a);
}

static void test_corrupt_truncated_and_old_ledgers_are_refused(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	add(a, "x", 1, 0);
	add(a, "y", 2, 0);
	send(a, 0, 10);
	struct buf b = BUF_INIT;
	struct alerts_ledger_info info;
	char err[256];
	assert_int_equal(alerts_export(a, NULL, 100, WALL, SIZE_MAX, &b, &info), 0);
	struct alerts *c = alerts_new(&p);
	add(c, "mine", 9, 0);
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(alerts_import(c, b.data, n, 100, WALL, err, sizeof(err)), -1);
	for (size_t i = 0; i < b.len; i += 3) {
		char *copy = malloc(b.len);
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0x04;
		assert_int_equal(alerts_import(c, copy, b.len, 100, WALL, err, sizeof(err)), -1);
		free(copy);
	}
	const char *future = "herald-ledger 2\nend 0000000000000000\n";
	assert_int_equal(alerts_import(c, future, strlen(future), 100, WALL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 2"));
	const char *other = "herald-seen 2\n";
	assert_int_equal(alerts_import(c, other, strlen(other), 100, WALL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a herald alert ledger"));
	/* Refused means untouched. */
	assert_int_equal(alerts_groups(c), 1);
	assert_int_equal(alerts_held(c), 1);
	assert_int_equal(alerts_tokens(c, 100), 20);
	buf_free(&b);
	alerts_free(c);
	alerts_free(a);
}

static void test_ledger_size_is_bounded(void **state)
{
	/* The documented worst case: 200 groups, each with 256 uids alerted,
	 * 256 held (repeats), 5 samples of 512 bytes, keys of 100 bytes. */
	struct alert_policy p = policy();
	p.max_groups = 200;
	p.samples = 5;
	struct alerts *a = alerts_new(&p);
	char key[128], item[512];
	memset(item, 'x', sizeof(item));
	uint64_t wake;
	for (int g = 0; g < 200; g++) {
		snprintf(key, sizeof(key), "%0100d", g);
		for (uint64_t u = 1; u <= 256; u++)
			assert_int_equal(alerts_add(a, key, (uint64_t)g << 20 | u, item, sizeof(item), 0), 0);
	}
	struct alert_msg *m;
	while ((m = alerts_next(a, 0, true, &wake)))
		alert_msg_free(m);
	for (int g = 0; g < 200; g++) {
		snprintf(key, sizeof(key), "%0100d", g);
		for (uint64_t u = 1; u <= 256; u++)
			assert_int_equal(alerts_add(a, key, (uint64_t)g << 20 | u, item, sizeof(item), 1), 0);
	}
	struct buf b = BUF_INIT;
	struct alerts_ledger_info info;
	assert_int_equal(alerts_export(a, NULL, 2, WALL, SIZE_MAX, &b, &info), 0);
	assert_int_equal(info.trimmed, 0);
	assert_true(b.len < 2400000);
	buf_reset(&b);
	assert_int_equal(alerts_export(a, NULL, 2, WALL, 700000, &b, &info), 0);
	assert_int_equal(info.trimmed, 1);
	assert_true(b.len <= 700000);
	assert_int_equal(info.held, 200 * 256);
	/* Counts survive every step; only text and uid lists shrink. */
	buf_reset(&b);
	assert_int_equal(alerts_export(a, NULL, 2, WALL, 200000, &b, &info), 0);
	assert_int_equal(info.trimmed, 3);
	char err[256];
	struct alerts *c = alerts_new(&p);
	assert_int_equal(alerts_import(c, b.data, b.len, 2, WALL, err, sizeof(err)), 0);
	assert_int_equal(alerts_held(c), 200 * 256);
	/* Below even that: refused, out untouched. */
	buf_reset(&b);
	assert_int_equal(alerts_export(a, NULL, 2, WALL, 1000, &b, &info), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	alerts_free(c);
	alerts_free(a);
}

/* Damage the checksum does not catch: every byte changed in turn, the end
 * line made to match again. Never a crash; whatever loads still works. */
static void test_ledger_damage_behind_a_valid_checksum(void **state)
{
	struct alert_policy p = policy();
	struct alerts *a = alerts_new(&p);
	uint64_t wake;
	add(a, "x", 1, 0);
	add(a, "y", 2, 0);
	struct alert_msg *m = alerts_next(a, 10000, false, &wake);
	send(a, 10000, 10100);
	add(a, "x", 3, 10200);
	struct buf b = BUF_INIT;
	struct alerts_ledger_info info;
	assert_int_equal(alerts_export(a, m, 10300, WALL, SIZE_MAX, &b, &info), 0);
	size_t last = b.len - 1;
	while (last > 0 && b.data[last - 1] != '\n')
		last--;
	const unsigned char flips[] = { 0x01, 0x02, 0x10, 0x40 };
	for (size_t i = 0; i < last; i++)
		for (size_t f = 0; f < sizeof(flips); f++) {
			struct buf d = BUF_INIT;
			buf_append(&d, b.data, last);
			d.data[i] ^= (char)flips[f];
			buf_printf(&d, "end %016llx\n", (unsigned long long)fnv1a(FNV_OFFSET, d.data, last));
			struct alerts *c = alerts_new(&p);
			char err[256];
			if (alerts_import(c, d.data, d.len, 20000, WALL, err, sizeof(err)) == 0) {
				struct alert_msg *n;
				for (int k = 0; k < 8 && (n = alerts_next(c, 20000, true, &wake)); k++)
					alert_msg_free(n);
			} else {
				assert_true(strlen(err) > 0);
			}
			alerts_free(c);
			buf_free(&d);
		}
	alert_msg_free(m);
	buf_free(&b);
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
		cmocka_unit_test(test_a_request_without_answer_keeps_its_token_longer),
		cmocka_unit_test(test_two_windows_the_tighter_wins),
		cmocka_unit_test(test_short_windows_wait_instead_of_digesting),
		cmocka_unit_test(test_overflow_groups_fold_into_a_digest),
		cmocka_unit_test(test_held_uids_and_drain),
		cmocka_unit_test(test_reload_keeps_tokens_in_use),
		cmocka_unit_test(test_quiet_groups_are_forgotten),
		cmocka_unit_test(test_ledger_round_trip),
		cmocka_unit_test(test_restart_does_not_resend_and_sends_held_when_due),
		cmocka_unit_test(test_token_windows_honoured_across_restart),
		cmocka_unit_test(test_unsent_message_goes_first_after_restart),
		cmocka_unit_test(test_ledger_past_max_groups_folds_into_overflow),
		cmocka_unit_test(test_corrupt_truncated_and_old_ledgers_are_refused),
		cmocka_unit_test(test_ledger_size_is_bounded),
		cmocka_unit_test(test_ledger_damage_behind_a_valid_checksum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
