/* lease: acquisition, renewal, 409s, expiry and takeover, the stop before
 * expiry, release, skewed clocks, a partitioned leader coming back; and
 * the Lease JSON both ways. Two electors share one fake apiserver and a
 * simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_leases.h"
#include "lease.h"
#include "leasejson.h"

#define WALL0 1764123456000000ll  /* 2025-11-26T02:17:36Z, in µs */

struct node {
	struct lease *l;
	bool down;              /* its requests fail (partitioned) */
	int64_t skew_us;        /* its wall clock minus the true one */
	uint64_t wake;
};

static struct fake_api api;

static struct lease *elector(const char *id, uint64_t seed)
{
	struct lease_config c = { .namespace = "herald", .name = "herald-prod", .identity = id, .seed = seed };
	lease_config_defaults(&c);
	struct lease *l = lease_new(&c);
	assert_non_null(l);
	return l;
}

/* Runs one node at now until it waits; answers come back at once. */
static void step(struct node *n, uint64_t now)
{
	for (int i = 0; i < 8; i++) {
		struct lease_action a;
		lease_next(n->l, now, WALL0 + (int64_t)now * 1000 + n->skew_us, &a);
		if (a.op == LEASE_WAIT) {
			n->wake = a.wake_ms;
			return;
		}
		enum lease_result r = n->down ? LEASE_FAILED
			: fake_call(&api, "herald-prod", a.op, a.body);
		lease_done(n->l, now, r, api.resp.data, api.resp.len);
	}
	fail_msg("no wait after 8 requests");
}

/* Steps the nodes (those not frozen) every 10 ms from `from` to `to`,
 * checking there is never more than one leader; returns the first time
 * `who` may deliver (UINT64_MAX if never). */
static uint64_t run(struct node **nodes, size_t n, uint64_t from, uint64_t to, struct node *who)
{
	uint64_t first = UINT64_MAX;
	for (uint64_t t = from; t <= to; t += 10) {
		size_t leaders = 0;
		for (size_t i = 0; i < n; i++) {
			if (!nodes[i])
				continue;
			if (t >= nodes[i]->wake)
				step(nodes[i], t);
			if (lease_may_deliver(nodes[i]->l, t))
				leaders++;
		}
		assert_true(leaders <= 1);
		if (who && first == UINT64_MAX && lease_may_deliver(who->l, t))
			first = t;
	}
	return first;
}

static void reset(void)
{
	buf_free(&api.resp);
	memset(&api, 0, sizeof(api));
}

static void test_acquire_free_lease_and_renew(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) };
	step(&a, 0);   /* GET: 404, then POST */
	assert_int_equal(lease_state(a.l, 0), LEASE_LEADER);
	assert_true(lease_may_deliver(a.l, 0));
	assert_int_equal(lease_term(a.l), 1);
	const struct lease_record *r = fake_find(&api, "herald-prod");
	assert_non_null(r);
	assert_string_equal(r->holder, "pod-a");
	assert_int_equal(r->duration_s, 15);
	assert_int_equal(r->transitions, 0);
	assert_int_equal(a.wake, 2000);          /* renews every retry period */
	int64_t renew0 = r->renew_us;
	step(&a, 2000);
	r = fake_find(&api, "herald-prod");
	assert_int_equal(r->renew_us - renew0, 2000000);
	assert_int_equal(r->acquire_us, renew0);  /* acquireTime stays */
	assert_string_equal(r->rv, "2");
	assert_int_equal(lease_term(a.l), 1);
	assert_int_equal(lease_stats(a.l)->acquired, 1);
	lease_free(a.l);
}

static void test_conflict_on_update_reads_again(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) };
	step(&a, 0);
	fake_touch(&api, "herald-prod");           /* someone else wrote */
	step(&a, 2000);                           /* PUT 409, GET, PUT */
	assert_int_equal(lease_stats(a.l)->conflicts, 1);
	assert_true(lease_may_deliver(a.l, 2000));
	assert_int_equal(fake_find(&api, "herald-prod")->renew_us, WALL0 + 2000000);

	/* Another holder took it meanwhile: the 409 read shows it, a
	 * leader no more. */
	struct lease_record *r = fake_find(&api, "herald-prod");
	snprintf(r->holder, sizeof(r->holder), "pod-x");
	fake_touch(&api, "herald-prod");
	step(&a, 4000);
	assert_int_equal(lease_state(a.l, 4000), LEASE_STANDBY);
	assert_false(lease_may_deliver(a.l, 4000));
	assert_int_equal(lease_stats(a.l)->lost, 1);
	lease_free(a.l);
}

static void test_expiry_and_takeover_within_bound(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) }, b = { .l = elector("pod-b", 2) };
	struct node *nodes[] = { &a, &b };
	run(nodes, 2, 0, 30000, NULL);
	assert_true(lease_may_deliver(a.l, 30000));
	assert_int_equal(lease_state(b.l, 30000), LEASE_STANDBY);
	uint64_t last_renew = 30000 - 30000 % 2000;
	/* kill -9 a */
	nodes[0] = NULL;
	uint64_t took = run(nodes, 2, 30010, 60000, &b);
	assert_true(took != UINT64_MAX);
	/* Not before the duration from the last renewal... */
	assert_true(took >= last_renew + 15000);
	/* ...and within duration + retry period. */
	assert_true(took <= last_renew + 15000 + 2000);
	assert_int_equal(fake_find(&api, "herald-prod")->transitions, 1);
	assert_string_equal(fake_find(&api, "herald-prod")->holder, "pod-b");
	lease_free(a.l);
	lease_free(b.l);
}

static void test_cannot_renew_stops_before_expiry(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) }, b = { .l = elector("pod-b", 2) };
	struct node *nodes[] = { &a, &b };
	run(nodes, 0 + 2, 0, 10000, NULL);
	int64_t last_wall = fake_find(&api, "herald-prod")->renew_us;
	uint64_t last_renew = (uint64_t)(last_wall - WALL0) / 1000;
	a.down = true;                            /* a's requests fail from now */
	uint64_t stopped = UINT64_MAX, started = UINT64_MAX;
	for (uint64_t t = 10010; t <= 40000; t += 10) {
		for (int i = 0; i < 2; i++)
			if (t >= nodes[i]->wake)
				step(nodes[i], t);
		if (stopped == UINT64_MAX && !lease_may_deliver(a.l, t))
			stopped = t;
		if (started == UINT64_MAX && lease_may_deliver(b.l, t))
			started = t;
		assert_false(lease_may_deliver(a.l, t) && lease_may_deliver(b.l, t));
	}
	/* a stops at its last successful renewal + the renew deadline... */
	assert_int_equal(stopped, last_renew + 10000);
	assert_int_equal(lease_stats(a.l)->lost, 1);
	/* ...b starts no earlier than the duration after it: 5 s margin. */
	assert_true(started != UINT64_MAX);
	assert_true(started >= stopped + 5000);
	lease_free(a.l);
	lease_free(b.l);
}

static void test_frozen_leader_does_not_deliver_on_waking(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) }, b = { .l = elector("pod-b", 2) };
	struct node *nodes[] = { &a, &b };
	run(nodes, 2, 0, 6000, NULL);
	assert_true(lease_may_deliver(a.l, 6000));
	/* SIGSTOP a for 20 s: nothing of it runs. */
	nodes[0] = NULL;
	uint64_t took = run(nodes, 2, 6010, 26000, &b);
	assert_true(took != UINT64_MAX);
	/* SIGCONT: before any request, it already knows it must not deliver. */
	assert_false(lease_may_deliver(a.l, 26010));
	assert_int_equal(lease_state(a.l, 26010), LEASE_STANDBY);
	nodes[0] = &a;
	a.wake = 0;
	assert_int_equal(run(nodes, 2, 26010, 60000, &a), UINT64_MAX);
	assert_true(lease_may_deliver(b.l, 60000));
	lease_free(a.l);
	lease_free(b.l);
}

static void test_partitioned_leader_comes_back_as_standby(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) }, b = { .l = elector("pod-b", 2) };
	struct node *nodes[] = { &a, &b };
	run(nodes, 2, 0, 5000, NULL);
	a.down = true;
	assert_true(run(nodes, 2, 5010, 40000, &b) != UINT64_MAX);
	assert_false(lease_may_deliver(a.l, 40000));
	a.down = false;                           /* the partition heals */
	assert_int_equal(run(nodes, 2, 40010, 80000, &a), UINT64_MAX);
	assert_true(lease_may_deliver(b.l, 80000));
	/* A late answer to a write a sent long ago does not make it leader. */
	lease_free(a.l);
	lease_free(b.l);
}

static void test_late_answer_counts_from_send_time(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) };
	step(&a, 0);
	struct lease_action act;
	lease_next(a.l, 2000, WALL0 + 2000000, &act);
	assert_int_equal(act.op, LEASE_UPDATE);
	enum lease_result r = fake_call(&api, "herald-prod", act.op, act.body);
	/* The answer arrives 13 s later (a hung connection): the deadline of
	 * the write before passed at 10 s, and this one was sent at 2 s. */
	assert_false(lease_may_deliver(a.l, 10000));
	lease_done(a.l, 15000, r, api.resp.data, api.resp.len);
	assert_false(lease_may_deliver(a.l, 15000));
	assert_int_equal(lease_state(a.l, 15000), LEASE_STANDBY);
	assert_int_equal(lease_term(a.l), 1);     /* no new term from it */
	assert_int_equal(lease_stats(a.l)->lost, 1);

	/* Slow but in time: the deadline still counts from the send. A
	 * standby may have seen this write just after it was sent. */
	step(&a, 20000);                          /* re-acquired: its own */
	assert_int_equal(lease_term(a.l), 2);
	lease_next(a.l, 22000, WALL0 + 22000000, &act);
	assert_int_equal(act.op, LEASE_UPDATE);
	r = fake_call(&api, "herald-prod", act.op, act.body);
	lease_done(a.l, 29000, r, api.resp.data, api.resp.len);
	assert_true(lease_may_deliver(a.l, 31999));
	assert_false(lease_may_deliver(a.l, 32000));
	lease_free(a.l);
}

static void test_release_hands_over_at_once(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) }, b = { .l = elector("pod-b", 2) };
	struct node *nodes[] = { &a, &b };
	run(nodes, 2, 0, 20000, NULL);
	lease_release(a.l);                       /* SIGTERM, checkpoint written */
	assert_false(lease_may_deliver(a.l, 20000));
	assert_true(lease_held(a.l, 20000));
	a.wake = 0;
	uint64_t took = run(nodes, 2, 20010, 40000, &b);
	assert_true(lease_released(a.l));
	assert_int_equal(lease_stats(a.l)->released, 1);
	assert_true(took <= 20010 + 2000);        /* its next read, not 15 s */
	assert_int_equal(lease_state(a.l, 40000), LEASE_STANDBY);
	lease_free(a.l);
	lease_free(b.l);
}

static void test_released_lease_is_not_taken_back(void **state)
{
	reset();
	struct node a = { .l = elector("pod-a", 1) };
	struct node *nodes[] = { &a };
	run(nodes, 1, 0, 5000, NULL);
	lease_release(a.l);
	a.wake = 0;
	assert_int_equal(run(nodes, 1, 5010, 40000, &a), UINT64_MAX);
	assert_string_equal(fake_find(&api, "herald-prod")->holder, "");
	assert_int_equal(fake_find(&api, "herald-prod")->duration_s, 1);
	/* A candidate again (the share changed): it acquires. */
	lease_set_candidate(a.l, true);
	lease_poke(a.l);
	a.wake = 0;
	assert_true(run(nodes, 1, 40010, 42000, &a) != UINT64_MAX);
	assert_int_equal(lease_term(a.l), 2);
	lease_free(a.l);
}

static void test_skewed_clocks_do_not_matter(void **state)
{
	reset();
	/* a's wall clock is an hour behind: the renewTime it writes always
	 * looks expired to b's clock. b must still wait for a change. */
	struct node a = { .l = elector("pod-a", 1), .skew_us = -3600ll * 1000000 };
	struct node b = { .l = elector("pod-b", 2), .skew_us = 3600ll * 1000000 };
	struct node *nodes[] = { &a, &b };
	run(nodes, 2, 0, 60000, NULL);
	assert_true(lease_may_deliver(a.l, 60000));
	assert_false(lease_may_deliver(b.l, 60000));
	/* And with a gone, b takes over by its own count, not the times. */
	nodes[0] = NULL;
	uint64_t took = run(nodes, 2, 60010, 100000, &b);
	assert_true(took >= 60000 + 15000 - 2000 && took <= 60000 + 15000 + 2000);
	lease_free(a.l);
	lease_free(b.l);
}

static void test_two_creates_one_wins(void **state)
{
	reset();
	struct lease *a = elector("pod-a", 1), *b = elector("pod-b", 2);
	struct lease_action x, y;
	lease_next(a, 0, WALL0, &x);
	lease_next(b, 0, WALL0, &y);
	assert_int_equal(x.op, LEASE_GET);
	assert_int_equal(y.op, LEASE_GET);
	lease_done(a, 1, fake_call(&api, "herald-prod", x.op, x.body), NULL, 0);
	lease_done(b, 1, fake_call(&api, "herald-prod", y.op, y.body), NULL, 0);
	lease_next(a, 2, WALL0, &x);
	lease_next(b, 2, WALL0, &y);
	assert_int_equal(x.op, LEASE_CREATE);
	assert_int_equal(y.op, LEASE_CREATE);
	enum lease_result ra = fake_call(&api, "herald-prod", x.op, x.body);
	lease_done(a, 3, ra, api.resp.data, api.resp.len);
	enum lease_result rb = fake_call(&api, "herald-prod", y.op, y.body);
	assert_int_equal(rb, LEASE_CONFLICT);   /* AlreadyExists */
	lease_done(b, 3, rb, NULL, 0);
	struct node nb = { .l = b };
	step(&nb, 3);                             /* reads: held by a */
	assert_true(lease_may_deliver(a, 3));
	assert_int_equal(lease_state(b, 3), LEASE_STANDBY);
	assert_string_equal(lease_record(b)->holder, "pod-a");
	lease_free(a);
	lease_free(b);
}

static void test_missing_namespace_does_not_spin(void **state)
{
	reset();
	struct lease *l = elector("pod-a", 1);
	struct lease_action a;
	lease_next(l, 0, WALL0, &a);
	lease_done(l, 1, LEASE_NOT_FOUND, NULL, 0);
	lease_next(l, 1, WALL0, &a);
	assert_int_equal(a.op, LEASE_CREATE);
	lease_done(l, 2, LEASE_NOT_FOUND, NULL, 0);   /* namespaces/x not found */
	lease_next(l, 2, WALL0, &a);
	assert_int_equal(a.op, LEASE_WAIT);
	assert_true(a.wake_ms >= 2 + 1600);
	assert_non_null(strstr(lease_last_error(l), "namespace"));
	assert_int_equal(lease_stats(l)->failures, 1);
	lease_free(l);
}

static void test_config_rules(void **state)
{
	struct lease_config c = { .namespace = "herald", .name = "x", .identity = "pod" };
	char err[200];
	lease_config_defaults(&c);
	assert_int_equal(lease_config_check(&c, err, sizeof(err)), 0);
	c.renew_deadline_ms = 15000;
	assert_int_equal(lease_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "greater than the renew deadline"));
	c.renew_deadline_ms = 10000;
	c.retry_ms = 9000;                        /* 9 s * 1.2 > 10 s */
	assert_int_equal(lease_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "times 1.2"));
	c.retry_ms = 2000;
	c.duration_ms = 15500;
	assert_int_equal(lease_config_check(&c, err, sizeof(err)), -1);
	c.duration_ms = 15000;
	c.identity = "";
	assert_int_equal(lease_config_check(&c, err, sizeof(err)), -1);
}

static void test_json_both_ways(void **state)
{
	/* As the apiserver answers (trimmed), with escapes and nulls. */
	const char *text =
		"{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"herald-prod\","
		"\"namespace\":\"herald\",\"uid\":\"1f\",\"resourceVersion\":\"4711\",\"creationTimestamp\":"
		"\"2026-11-26T02:00:00Z\",\"managedFields\":[{\"manager\":\"herald\",\"fieldsV1\":{\"f:spec\":{}}}],"
		"\"annotations\":{\"other\":\"x\",\"herald/members\":\"pod-a=1 pod-b=2\"}},"
		"\"spec\":{\"holderIdentity\":\"pod-\\u0061\",\"leaseDurationSeconds\":15,"
		"\"acquireTime\":\"2026-11-26T02:14:09.123456Z\",\"renewTime\":\"2026-11-26T03:14:09.5+01:00\","
		"\"leaseTransitions\":3,\"preferredHolder\":null}}";
	struct lease_record r;
	char err[128];
	assert_int_equal(leasejson_parse(text, strlen(text), &r, err, sizeof(err)), 0);
	assert_string_equal(r.holder, "pod-a");
	assert_string_equal(r.rv, "4711");
	assert_string_equal(r.members, "pod-a=1 pod-b=2");
	assert_int_equal(r.duration_s, 15);
	assert_int_equal(r.transitions, 3);
	assert_int_equal(r.renew_us - r.acquire_us, 376544);
	char t[40];
	leasejson_microtime(r.acquire_us, t, sizeof(t));
	assert_string_equal(t, "2026-11-26T02:14:09.123456Z");

	struct buf out = BUF_INIT;
	assert_int_equal(leasejson_write(&out, "herald", "herald-prod", &r), 0);
	assert_non_null(strstr(out.data, "\"resourceVersion\":\"4711\""));
	assert_non_null(strstr(out.data, "\"acquireTime\":\"2026-11-26T02:14:09.123456Z\""));
	assert_non_null(strstr(out.data, "\"renewTime\":\"2026-11-26T02:14:09.500000Z\""));
	struct lease_record back;
	assert_int_equal(leasejson_parse(out.data, out.len, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	buf_free(&out);

	/* Bad input: a clear reason, never a crash. */
	const char *bad[][2] = {
		{ "[1]", "expected an object" },
		{ "{\"spec\":{\"renewTime\":\"yesterday\"}}", "renewTime is not RFC 3339" },
		{ "{\"spec\":{\"leaseDurationSeconds\":\"15\"}}", "integer" },
		{ "{\"spec\":{\"leaseDurationSeconds\":-1}}", "non-negative" },
		{ "{\"metadata\":{\"resourceVersion\":\"1\"}} x", "trailing" },
		{ "{\"spec\":{\"holderIdentity\":\"abc", "unterminated" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(leasejson_parse(bad[i][0], strlen(bad[i][0]), &r, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i][1]));
	}
	char big[600];
	int n = snprintf(big, sizeof(big), "{\"spec\":{\"holderIdentity\":\"");
	memset(big + n, 'x', 300);
	snprintf(big + n + 300, sizeof(big) - (size_t)n - 300, "\"}}");
	assert_int_equal(leasejson_parse(big, strlen(big), &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holderIdentity longer than 253 bytes"));
}

/* Every truncation and many one-byte changes of a real answer: a result
 * or a reason, never a crash (the ASan build runs this too). */
static void test_json_mangled(void **state)
{
	struct lease_record r = { .duration_s = 15, .transitions = 2, .acquire_us = WALL0, .renew_us = WALL0 + 1 };
	snprintf(r.holder, sizeof(r.holder), "pod-\"a\"\\");
	snprintf(r.rv, sizeof(r.rv), "99");
	snprintf(r.members, sizeof(r.members), "pod-a=1 pod-b=2");
	struct buf good = BUF_INIT;
	assert_int_equal(leasejson_write(&good, "herald", "herald-prod", &r), 0);
	char *text = malloc(good.len + 1);
	static const char subst[] = "\"{}[]:,\\0-eu ";
	char err[128];
	struct lease_record out;
	for (size_t cut = 0; cut < good.len; cut++)
		assert_int_equal(leasejson_parse(good.data, cut, &out, err, sizeof(err)), -1);
	for (size_t i = 0; i < good.len; i++)
		for (size_t k = 0; k < sizeof(subst) - 1; k++) {
			memcpy(text, good.data, good.len + 1);
			text[i] = subst[k];
			if (leasejson_parse(text, good.len, &out, err, sizeof(err)) < 0)
				assert_true(err[0] != '\0');
		}
	assert_int_equal(leasejson_parse(good.data, good.len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.holder, r.holder);
	free(text);
	buf_free(&good);
}

static void test_bad_answer_is_counted(void **state)
{
	reset();
	struct lease *l = elector("pod-a", 1);
	struct lease_action a;
	lease_next(l, 0, WALL0, &a);
	assert_int_equal(a.op, LEASE_GET);
	lease_done(l, 5, LEASE_OK, "<html>", 6);
	assert_int_equal(lease_stats(l)->bad_records, 1);
	assert_non_null(strstr(lease_last_error(l), "expected an object"));
	assert_int_equal(lease_state(l, 5), LEASE_STANDBY);
	lease_next(l, 5, WALL0, &a);
	assert_int_equal(a.op, LEASE_WAIT);
	assert_true(a.wake_ms > 5 && a.wake_ms <= 2005);
	lease_free(l);
	buf_free(&api.resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire_free_lease_and_renew),
		cmocka_unit_test(test_conflict_on_update_reads_again),
		cmocka_unit_test(test_expiry_and_takeover_within_bound),
		cmocka_unit_test(test_cannot_renew_stops_before_expiry),
		cmocka_unit_test(test_frozen_leader_does_not_deliver_on_waking),
		cmocka_unit_test(test_partitioned_leader_comes_back_as_standby),
		cmocka_unit_test(test_late_answer_counts_from_send_time),
		cmocka_unit_test(test_release_hands_over_at_once),
		cmocka_unit_test(test_released_lease_is_not_taken_back),
		cmocka_unit_test(test_skewed_clocks_do_not_matter),
		cmocka_unit_test(test_two_creates_one_wins),
		cmocka_unit_test(test_missing_namespace_does_not_spin),
		cmocka_unit_test(test_config_rules),
		cmocka_unit_test(test_json_both_ways),
		cmocka_unit_test(test_json_mangled),
		cmocka_unit_test(test_bad_answer_is_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
