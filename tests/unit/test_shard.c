/* shard: replicas sharing clusters on one fake apiserver with a simulated
 * clock: start, join, graceful leave, crash, partition, M = 1. Every
 * 50 ms tick checks that no cluster has two deliverers and that each
 * replica stepping down is handed off at once (its checkpoint written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_leases.h"
#include "shard.h"

#define WALL0 1764123456000000ll
#define MAXR 4
#define TICK 50

static struct fake_api api;
static const char *const five[] = { "alpha", "beta", "gamma", "delta", "epsilon" };

struct answer {
	size_t target;
	enum lease_result r;
	char *body;
	uint64_t at;
};

struct replica {
	struct shard *s;
	bool alive;             /* false: crashed (never runs again) */
	bool down;              /* partitioned: its requests fail */
	uint64_t wake;
	struct answer answers[8]; /* with latency: applied at once, answered later */
	size_t nanswers;
};

struct sim {
	struct replica r[MAXR];
	size_t nr, m;
	const char *const *clusters;
	uint64_t latency;       /* 0: answers at once */
};

static void add_replica(struct sim *sim, size_t i, uint64_t now)
{
	char id[32];
	snprintf(id, sizeof(id), "herald-%zu", i);
	struct shard_config c = { .namespace = "herald", .identity = id, .prefix = "herald",
				  .clusters = sim->clusters, .nclusters = sim->m,
				  .duration_ms = 15000, .renew_deadline_ms = 10000, .retry_ms = 2000,
				  .seed = i + 1 };
	char err[200];
	assert_int_equal(shard_config_check(&c, err, sizeof(err)), 0);
	sim->r[i].s = shard_new(&c);
	assert_non_null(sim->r[i].s);
	sim->r[i].alive = true;
	sim->r[i].wake = now;
	if (i >= sim->nr)
		sim->nr = i + 1;
}

static void step(struct sim *sim, struct replica *r, uint64_t now)
{
	for (size_t k = 0; k < r->nanswers;) {
		struct answer *a = &r->answers[k];
		if (a->at > now) {
			k++;
			continue;
		}
		shard_done(r->s, a->target, now, a->r, a->body, a->body ? strlen(a->body) : 0);
		free(a->body);
		*a = r->answers[--r->nanswers];
	}
	for (int round = 0; round < 16; round++) {
		struct shard_request req[8];
		size_t n = shard_next(r->s, now, WALL0 + (int64_t)now * 1000, req, 8, &r->wake);
		if (!n)
			break;
		for (size_t k = 0; k < n; k++) {
			enum lease_result res = r->down ? LEASE_FAILED : fake_call(&api, req[k].lease, req[k].op, req[k].body);
			if (!sim->latency) {
				shard_done(r->s, req[k].target, now, res, api.resp.data, api.resp.len);
				continue;
			}
			assert_true(r->nanswers < 8);
			r->answers[r->nanswers++] = (struct answer){ req[k].target, res,
				api.resp.data ? strdup(api.resp.data) : NULL, now + sim->latency };
		}
		if (sim->latency)
			break;
	}
	if (r->nanswers)
		r->wake = now + TICK;
	/* The caller's part of a step-down: checkpoint, then hand off. */
	for (size_t i = 0; i < sim->m; i++)
		if (shard_state(r->s, i, now) == LEASE_STEPPING_DOWN)
			shard_handoff_done(r->s, i);
}

/* Runs until `to`; returns the last time the cluster->deliverer mapping
 * changed. */
static uint64_t run(struct sim *sim, uint64_t from, uint64_t to)
{
	uint64_t changed = from;
	int last[8];
	for (size_t i = 0; i < sim->m; i++)
		last[i] = -2;
	for (uint64_t t = from; t <= to; t += TICK) {
		for (size_t i = 0; i < sim->nr; i++)
			if (sim->r[i].alive && t >= sim->r[i].wake)
				step(sim, &sim->r[i], t);
		for (size_t c = 0; c < sim->m; c++) {
			int who = -1;
			for (size_t i = 0; i < sim->nr; i++)
				if (sim->r[i].s && shard_may_deliver(sim->r[i].s, c, t)) {
					assert_int_equal(who, -1);   /* never two deliverers */
					who = (int)i;
				}
			if (who != last[c]) {
				last[c] = who;
				changed = t;
			}
		}
	}
	return changed;
}

/* Every cluster has exactly one deliverer among the live replicas, and
 * none of them holds more than ceil(M / live). */
static void assert_spread(struct sim *sim, uint64_t now, size_t live)
{
	size_t cap = (sim->m + live - 1) / live;
	for (size_t c = 0; c < sim->m; c++) {
		size_t n = 0;
		for (size_t i = 0; i < sim->nr; i++)
			if (sim->r[i].alive && shard_may_deliver(sim->r[i].s, c, now))
				n++;
		assert_int_equal(n, 1);
	}
	for (size_t i = 0; i < sim->nr; i++)
		if (sim->r[i].alive && !sim->r[i].down) {
			assert_true(shard_held(sim->r[i].s, now) <= cap);
			assert_int_equal(shard_members(sim->r[i].s, now), live);
		}
}

static void done(struct sim *sim)
{
	for (size_t i = 0; i < sim->nr; i++) {
		shard_free(sim->r[i].s);
		for (size_t k = 0; k < sim->r[i].nanswers; k++)
			free(sim->r[i].answers[k].body);
	}
	buf_free(&api.resp);
	memset(&api, 0, sizeof(api));
}

static void test_three_replicas_five_clusters(void **state)
{
	struct sim sim = { .m = 5, .clusters = five };
	for (size_t i = 0; i < 3; i++)
		add_replica(&sim, i, 0);
	run(&sim, 0, 30000);
	assert_spread(&sim, 30000, 3);
	/* Steady: nothing moves, and the requests per minute stay bounded. */
	unsigned long w0 = api.writes, r0 = api.reads;
	assert_int_equal(run(&sim, 30000, 90000), 30000);
	/* Per minute: 5 renewals every 2 s (150 writes), 3 member beats
	 * every 1.6-2 s (a GET and a PUT each, at most 113 of each), 10
	 * standby reads of cluster Leases every 1.6-2 s (at most 375). */
	unsigned long writes = api.writes - w0, reads = api.reads - r0;
	assert_true(writes >= 150 + 90 && writes <= 150 + 113);
	assert_true(reads >= 300 + 90 && reads <= 375 + 113);
	done(&sim);
}

static void test_join_takes_only_the_surplus(void **state)
{
	struct sim sim = { .m = 5, .clusters = five };
	add_replica(&sim, 0, 0);
	run(&sim, 0, 20000);
	assert_int_equal(shard_held(sim.r[0].s, 20000), 5);
	add_replica(&sim, 1, 20000);
	uint64_t settled = run(&sim, 20000, 60000);
	assert_true(settled <= 20000 + 8000);   /* a few retry periods */
	assert_spread(&sim, 60000, 2);
	add_replica(&sim, 2, 60000);
	run(&sim, 60000, 100000);
	assert_spread(&sim, 100000, 3);
	done(&sim);
}

static void test_graceful_leave_moves_at_once(void **state)
{
	struct sim sim = { .m = 5, .clusters = five };
	for (size_t i = 0; i < 3; i++)
		add_replica(&sim, i, 0);
	run(&sim, 0, 30000);
	shard_leave(sim.r[2].s);
	sim.r[2].wake = 30000;
	uint64_t settled = run(&sim, 30000, 60000);
	assert_true(shard_left(sim.r[2].s, 60000));
	assert_true(settled <= 30000 + 6000);   /* no lease duration waited */
	sim.r[2].alive = false;
	assert_spread(&sim, 60000, 2);
	done(&sim);
}

static void test_crash_clusters_move_within_lease_duration(void **state)
{
	struct sim sim = { .m = 5, .clusters = five };
	for (size_t i = 0; i < 3; i++)
		add_replica(&sim, i, 0);
	run(&sim, 0, 30000);
	size_t held = shard_held(sim.r[1].s, 30000);
	assert_true(held >= 1);
	sim.r[1].alive = false;                 /* kill -9 */
	uint64_t settled = run(&sim, 30000, 80000);
	/* Its last renewal was at most a retry period before; the others
	 * saw it at most a retry period later: duration + retry. */
	assert_true(settled <= 30000 + 15000 + 2000 + TICK);
	assert_spread(&sim, 80000, 2);
	done(&sim);
}

static void test_partition_and_return(void **state)
{
	struct sim sim = { .m = 5, .clusters = five };
	for (size_t i = 0; i < 3; i++)
		add_replica(&sim, i, 0);
	run(&sim, 0, 30000);
	sim.r[0].down = true;                   /* cut off from the apiserver */
	run(&sim, 30000, 70000);                 /* asserts one deliverer per tick */
	assert_int_equal(shard_held(sim.r[0].s, 70000), 0);
	for (size_t c = 0; c < sim.m; c++)
		assert_false(shard_may_deliver(sim.r[0].s, c, 70000));
	sim.r[0].down = false;
	run(&sim, 70000, 120000);
	assert_spread(&sim, 120000, 3);
	done(&sim);
}

static void test_single_cluster_two_replicas(void **state)
{
	static const char *const one[] = { "prod" };
	struct sim sim = { .m = 1, .clusters = one };
	add_replica(&sim, 0, 0);
	add_replica(&sim, 1, 0);
	run(&sim, 0, 20000);
	assert_non_null(fake_find(&api, "herald-prod"));
	assert_null(fake_find(&api, "herald.members"));  /* M = 1: no members Lease */
	size_t leader = shard_may_deliver(sim.r[0].s, 0, 20000) ? 0 : 1;
	assert_true(shard_may_deliver(sim.r[leader].s, 0, 20000));
	sim.r[leader].alive = false;
	uint64_t settled = run(&sim, 20000, 60000);
	assert_true(settled <= 20000 + 15000 + 2000 + TICK);
	assert_true(shard_may_deliver(sim.r[1 - leader].s, 0, 60000));
	assert_int_equal(shard_term(sim.r[1 - leader].s, 0), 1);
	done(&sim);
}

/* Answers 100 ms after each request (the write lands at once): members
 * beats race and answer 409, renewals overlap with reads. */
static void test_slow_apiserver(void **state)
{
	struct sim sim = { .m = 5, .clusters = five, .latency = 100 };
	for (size_t i = 0; i < 3; i++)
		add_replica(&sim, i, 0);
	run(&sim, 0, 30000);
	assert_spread(&sim, 30000, 3);
	unsigned long conflicts = 0;
	for (size_t i = 0; i < 3; i++)
		conflicts += shard_stats(sim.r[i].s)->member_conflicts;
	assert_true(conflicts > 0);       /* the races did happen */
	sim.r[0].alive = false;
	uint64_t settled = run(&sim, 30000, 80000);
	assert_true(settled <= 30000 + 15000 + 2000 + 2 * 100 + TICK);
	assert_spread(&sim, 80000, 2);
	add_replica(&sim, 3, 80000);
	run(&sim, 80000, 120000);
	assert_spread(&sim, 120000, 3);
	done(&sim);
}

/* M = 1 through a rolling update: a new pod starts, the leader leaves on
 * SIGTERM; the standby takes over at its next read. */
static void test_single_cluster_rolling_update(void **state)
{
	static const char *const one[] = { "prod" };
	struct sim sim = { .m = 1, .clusters = one };
	add_replica(&sim, 0, 0);
	run(&sim, 0, 5000);
	add_replica(&sim, 1, 5000);
	run(&sim, 5000, 20000);
	assert_true(shard_may_deliver(sim.r[0].s, 0, 20000));  /* the first stays */
	add_replica(&sim, 2, 20000);
	run(&sim, 20000, 25000);
	assert_true(shard_may_deliver(sim.r[0].s, 0, 25000));
	shard_leave(sim.r[0].s);
	sim.r[0].wake = 25000;
	uint64_t settled = run(&sim, 25000, 40000);
	assert_true(shard_left(sim.r[0].s, 40000));
	assert_true(settled <= 25000 + 2000 + TICK);
	sim.r[0].alive = false;
	assert_spread(&sim, 40000, 1);   /* M = 1 keeps no members list: N seen is 1 */
	done(&sim);
}

static void test_lease_names(void **state)
{
	char out[300];
	shard_lease_name("herald", "prod-eu.1", out, sizeof(out));
	assert_string_equal(out, "herald-prod-eu.1");
	shard_lease_name("herald", "Prod_EU", out, sizeof(out));
	assert_int_equal(strncmp(out, "herald-prod-eu-", 15), 0);
	assert_int_equal(strlen(out), 15 + 16);
	char other[300];
	shard_lease_name("herald", "prod-eu", other, sizeof(other));
	assert_string_not_equal(out, other);

	shard_lease_name("herald", "a..b", other, sizeof(other));
	assert_int_equal(strncmp(other, "herald-a--b-", 12), 0);
	shard_lease_name("herald", "edge-", other, sizeof(other));
	assert_int_equal(strncmp(other, "herald-edge-", 12), 0);
	assert_int_equal(strlen(other), 12 + 16);
	char longname[400];
	memset(longname, 'a', 399);
	longname[399] = '\0';
	shard_lease_name("herald", longname, other, sizeof(other));
	assert_int_equal(strlen(other), 253);

	/* Two cluster names on one Lease: refused with both names. */
	char name[320], err[400];
	snprintf(name, sizeof(name), "prod-eu-%s", out + 15);
	const char *clash[] = { "Prod_EU", name };
	struct shard_config c = { .namespace = "herald", .identity = "pod", .prefix = "herald",
				  .clusters = clash, .nclusters = 2, .duration_ms = 15000,
				  .renew_deadline_ms = 10000, .retry_ms = 2000 };
	assert_int_equal(shard_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"Prod_EU\" and"));
	clash[1] = "members";                     /* fine: the members Lease is herald.members */
	assert_int_equal(shard_config_check(&c, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_replicas_five_clusters),
		cmocka_unit_test(test_join_takes_only_the_surplus),
		cmocka_unit_test(test_graceful_leave_moves_at_once),
		cmocka_unit_test(test_crash_clusters_move_within_lease_duration),
		cmocka_unit_test(test_partition_and_return),
		cmocka_unit_test(test_single_cluster_two_replicas),
		cmocka_unit_test(test_slow_apiserver),
		cmocka_unit_test(test_single_cluster_rolling_update),
		cmocka_unit_test(test_lease_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
