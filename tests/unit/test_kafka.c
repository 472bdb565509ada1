/* kafka: the producer module over librdkafka, driven by herald's loop.
 *
 * Without arguments: what needs no broker (property validation with
 * librdkafka's own text, secret masking, outcome classes). With a group
 * name, against the real broker of tests/servers/kafka.py, addressed by
 * HERALD_KAFKA_* variables (tests/kafka/test_module.py sets them and
 * reads the records back):
 *   produce   N records delivered ok; too large records are permanent;
 *             SCRAM and TLS listeners; a wrong SCRAM password is a clear
 *             error without the password in it
 *   restart   records keep coming while the broker is stopped and
 *             restarted (stdin/stdout lines synchronise with the driver) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "kafka.h"
#include "loop.h"

#define NPROPS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- no broker ---- */

static void test_unknown_property_is_refused_with_librdkafka_text(void **state)
{
	struct kafka_prop props[] = {
		{"bootstrap.servers", "127.0.0.1:1"},
		{"compression.type", "zstd"},
		{"no.such.property", "1"},
	};
	char err[512];
	size_t bad = 99;
	assert_int_equal(kafka_check(props, NPROPS(props), err, sizeof(err), &bad), -1);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(err, "No such configuration property"));
	assert_non_null(strstr(err, "no.such.property"));

	struct kafka_prop badval[] = {{"bootstrap.servers", "127.0.0.1:1"}, {"acks", "many"}};
	assert_int_equal(kafka_check(badval, NPROPS(badval), err, sizeof(err), &bad), -1);
	assert_int_equal(bad, 1);
	/* librdkafka names its own alias (request.required.acks): the
	 * operator's name comes first. */
	assert_int_equal(strncmp(err, "acks: ", 6), 0);

	struct kafka_prop ok[] = {{"bootstrap.servers", "127.0.0.1:1"}, {"linger.ms", "20"},
				  {"compression.type", "lz4"}, {"security.protocol", "SASL_SSL"},
				  {"sasl.mechanisms", "SCRAM-SHA-256"}, {"sasl.username", "u"},
				  {"sasl.password", "p4ssw0rd"}};
	if (kafka_check(ok, NPROPS(ok), err, sizeof(err), &bad) != 0)
		fail_msg("%s", err);
	/* What librdkafka checks only when a client is made, check sees too. */
	assert_int_equal(kafka_check(ok, NPROPS(ok) - 2, err, sizeof(err), &bad), -1);
	assert_int_equal(bad, NPROPS(ok) - 2);
	assert_string_equal(err, "sasl.username and sasl.password must be set");
}

static void test_missing_brokers_is_refused(void **state)
{
	struct kafka_prop props[] = {{"linger.ms", "5"}};
	char err[512];
	size_t bad = 99;
	assert_int_equal(kafka_check(props, NPROPS(props), err, sizeof(err), &bad), -1);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(err, "bootstrap.servers is required"));
}

static void test_secret_values_never_appear_in_errors(void **state)
{
	/* librdkafka quotes an invalid value back: a secret one must not be. */
	struct kafka_prop props[] = {
		{"bootstrap.servers", "127.0.0.1:1"},
		{"sasl.password", "hunter2-secret-value"},
		{"ssl.key.password", "keypass-secret-value"},
		{"compression.type", "hunter2-secret-value"},
	};
	char err[512];
	size_t bad = 99;
	assert_int_equal(kafka_check(props, NPROPS(props), err, sizeof(err), &bad), -1);
	assert_int_equal(bad, 3);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "***"));
	assert_true(kafka_prop_is_secret("sasl.password"));
	assert_true(kafka_prop_is_secret("ssl.key.password"));
	assert_true(kafka_prop_is_secret("sasl.oauthbearer.client.secret"));
	assert_false(kafka_prop_is_secret("sasl.username"));
}

static void test_new_refuses_what_librdkafka_refuses(void **state)
{
	struct loop *loop = loop_new();
	struct kafka_callbacks cb = {0};
	/* acks=1 contradicts the idempotent default: rd_kafka_new says so. */
	struct kafka_prop props[] = {{"bootstrap.servers", "127.0.0.1:1"}, {"acks", "1"}};
	char err[512];
	size_t bad = 99;
	assert_null(kafka_new(loop, "t", props, NPROPS(props), &cb, err, sizeof(err), &bad));
	assert_int_equal(bad, NPROPS(props));
	assert_non_null(strstr(err, "acks"));
	/* herald check sees it too, without a broker. */
	bad = 99;
	err[0] = '\0';
	assert_int_equal(kafka_check(props, NPROPS(props), err, sizeof(err), &bad), -1);
	assert_int_equal(bad, NPROPS(props));
	assert_non_null(strstr(err, "acks"));
	printf("COMBINATION %s\n", err);
	loop_free(loop);
}

static void test_outcome_classes(void **state)
{
	assert_int_equal(kafka_classify(0), KAFKA_OK);
	assert_int_equal(kafka_classify(10), KAFKA_PERMANENT);    /* MSG_SIZE_TOO_LARGE */
	assert_int_equal(kafka_classify(29), KAFKA_PERMANENT);    /* TOPIC_AUTHORIZATION_FAILED */
	assert_int_equal(kafka_classify(-192), KAFKA_RETRIABLE);  /* _MSG_TIMED_OUT */
	assert_int_equal(kafka_classify(-184), KAFKA_RETRIABLE);  /* _QUEUE_FULL */
	assert_int_equal(kafka_classify(19), KAFKA_RETRIABLE);    /* NOT_ENOUGH_REPLICAS */
}

/* ---- against a broker ---- */

struct run {
	struct loop *loop;
	struct loop_timer *deadline, *ticker;
	size_t want, ok, retriable, permanent, produced, total, pause_at;
	char last_reason[64], last_detail[512];
	char error_reason[64], error_detail[512];
	size_t errors;
	long *seen;             /* per record: reports received */
	bool timed_out, stdin_go;
	struct kafka *k;
	const char *topic;
};

static void on_delivered(void *arg, void *opaque, const struct kafka_report *r)
{
	struct run *run = arg;
	size_t i = (size_t)(uintptr_t)opaque;
	if (run->seen)
		run->seen[i]++;
	if (r->outcome == KAFKA_OK)
		run->ok++;
	else if (r->outcome == KAFKA_RETRIABLE)
		run->retriable++;
	else
		run->permanent++;
	snprintf(run->last_reason, sizeof(run->last_reason), "%s", r->reason);
	snprintf(run->last_detail, sizeof(run->last_detail), "%s", r->detail);
	if (run->ok + run->retriable + run->permanent >= run->want && run->produced >= run->total)
		loop_stop(run->loop);
}

static void on_client_error(void *arg, const char *reason, const char *detail, bool fatal)
{
	struct run *run = arg;
	run->errors++;
	snprintf(run->error_reason, sizeof(run->error_reason), "%s", reason);
	snprintf(run->error_detail, sizeof(run->error_detail), "%s", detail);
	printf("ERROR %s: %s\n", reason, detail);
	fflush(stdout);
}

static void on_deadline(struct loop *loop, void *arg)
{
	struct run *run = arg;
	run->timed_out = true;
	loop_stop(loop);
}

static void run_init(struct run *run, size_t want)
{
	memset(run, 0, sizeof(*run));
	run->loop = loop_new();
	run->deadline = loop_timer_new(run->loop, on_deadline, run);
	run->want = run->total = want;
}

/* Runs the loop until every wanted report arrived (or stop), or timeout. */
static void run_loop(struct run *run, uint64_t timeout_ms)
{
	loop_timer_start(run->deadline, timeout_ms);
	assert_int_equal(loop_run(run->loop), 0);
	loop_timer_stop(run->deadline);
}

static void run_done(struct run *run)
{
	kafka_free(run->k);
	loop_timer_free(run->deadline);
	if (run->ticker)
		loop_timer_free(run->ticker);
	loop_free(run->loop);
	free(run->seen);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v)
		fail_msg("%s is not set (run through tests/kafka/test_module.py)", name);
	return v;
}

static struct kafka *producer(struct run *run, const struct kafka_prop *props, size_t n)
{
	struct kafka_callbacks cb = {.delivered = on_delivered, .error = on_client_error, .arg = run};
	char err[512];
	size_t bad;
	struct kafka *k = kafka_new(run->loop, "test", props, n, &cb, err, sizeof(err), &bad);
	if (!k)
		fail_msg("kafka_new: %s", err);
	return k;
}

/* Record i: key "key-<i % 5>", value "<topic>-<i>", two headers. */
static int produce_one(struct run *run, size_t i, struct kafka_report *refused)
{
	char key[32], value[64];
	snprintf(key, sizeof(key), "key-%zu", i % 5);
	snprintf(value, sizeof(value), "%s-%06zu", run->topic, i);
	struct kafka_header h[] = {{"cluster", "c1", 2}, {"seq", value, strlen(value)}};
	struct kafka_record rec = {.topic = run->topic, .key = key, .key_len = strlen(key),
				   .value = value, .value_len = strlen(value),
				   .headers = h, .nheaders = 2};
	int rc = kafka_produce(run->k, &rec, (void *)(uintptr_t)i, refused);
	if (rc == 0)
		run->produced++;
	return rc;
}

static void test_records_are_delivered(void **state)
{
	struct run run;
	size_t n = (size_t)atoi(env("HERALD_KAFKA_N"));
	struct kafka_prop props[] = {{"bootstrap.servers", env("HERALD_KAFKA_BOOTSTRAP")},
				     {"linger.ms", "5"}};
	struct kafka_report refused;
	struct kafka_stats st;

	run_init(&run, n);
	run.topic = env("HERALD_KAFKA_TOPIC");
	run.seen = calloc(n, sizeof(long));
	run.k = producer(&run, props, NPROPS(props));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(produce_one(&run, i, &refused), 0);
	kafka_stats(run.k, &st);
	assert_int_equal(st.produced, n);
	assert_true(st.in_flight > 0);
	run_loop(&run, 60000);
	assert_false(run.timed_out);
	assert_int_equal(run.ok, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(run.seen[i], 1);
	kafka_stats(run.k, &st);
	assert_int_equal(st.delivered, n);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.queue_depth, 0);
	run_done(&run);
}

static void test_too_large_records_are_permanent(void **state)
{
	struct run run;
	static char big[20000];
	struct kafka_prop props[] = {{"bootstrap.servers", env("HERALD_KAFKA_BOOTSTRAP")},
				     {"message.max.bytes", "10000"}};
	struct kafka_report refused;

	memset(big, 'x', sizeof(big));
	run_init(&run, 1);
	run.k = producer(&run, props, NPROPS(props));
	/* Over the client's own message.max.bytes: refused at once. */
	struct kafka_record rec = {.topic = env("HERALD_KAFKA_SMALL_TOPIC"), .value = big,
				   .value_len = sizeof(big)};
	assert_int_equal(kafka_produce(run.k, &rec, NULL, &refused), -1);
	assert_int_equal(refused.outcome, KAFKA_PERMANENT);
	assert_string_equal(refused.reason, "msg_size_too_large");
	/* Over the topic's max.message.bytes (1000): the broker's verdict
	 * arrives as a delivery report. */
	rec.value_len = 5000;
	assert_int_equal(kafka_produce(run.k, &rec, NULL, &refused), 0);
	run.produced = 1;
	run_loop(&run, 60000);
	assert_false(run.timed_out);
	assert_int_equal(run.permanent, 1);
	assert_string_equal(run.last_reason, "msg_size_too_large");
	printf("PERMANENT %s: %s\n", run.last_reason, run.last_detail);
	run_done(&run);
}

static void one_record(const struct kafka_prop *props, size_t n, struct run *run, uint64_t timeout)
{
	struct kafka_report refused;
	run_init(run, 1);
	run->topic = env("HERALD_KAFKA_TOPIC_AUTH");
	run->k = producer(run, props, n);
	assert_int_equal(produce_one(run, 0, &refused), 0);
	run_loop(run, timeout);
	assert_false(run->timed_out);
}

/* librdkafka before 2.6.1 cannot do SCRAM with a Kafka 4 broker (its
 * nonce bug): then this test is skipped, and says why. */
static void test_scram_listener(void **state)
{
	struct run run;
	if (rd_kafka_version() < 0x020601ff) {
		printf("SCRAM skipped: librdkafka %s < 2.6.1 fails SCRAM against Kafka 4\n",
		       rd_kafka_version_str());
		skip();
	}
	for (int i = 0; i < 2; i++) {
		const char *mech = i ? "SCRAM-SHA-512" : "SCRAM-SHA-256";
		struct kafka_prop scram[] = {{"bootstrap.servers", env("HERALD_KAFKA_SASL")},
					     {"security.protocol", "SASL_PLAINTEXT"},
					     {"sasl.mechanisms", mech},
					     {"sasl.username", env("HERALD_KAFKA_SCRAM_USER")},
					     {"sasl.password", env("HERALD_KAFKA_SCRAM_PASSWORD")}};
		one_record(scram, NPROPS(scram), &run, 60000);
		assert_int_equal(run.ok, 1);
		printf("SCRAM ok %s\n", mech);
		run_done(&run);
	}
}

static void test_tls_listener(void **state)
{
	struct run run;
	struct kafka_prop tls[] = {{"bootstrap.servers", env("HERALD_KAFKA_SSL")},
				   {"security.protocol", "SSL"},
				   {"ssl.ca.location", env("HERALD_KAFKA_CA")}};
	one_record(tls, NPROPS(tls), &run, 60000);
	assert_int_equal(run.ok, 1);
	run_done(&run);
}

static void test_wrong_scram_password_is_a_clear_error(void **state)
{
	struct run run;
	const char *wrong = "wrong-password-4b1d";
	struct kafka_prop props[] = {{"bootstrap.servers", env("HERALD_KAFKA_SASL")},
				     {"security.protocol", "SASL_PLAINTEXT"},
				     {"sasl.mechanisms", "SCRAM-SHA-256"},
				     {"sasl.username", env("HERALD_KAFKA_SCRAM_USER")},
				     {"sasl.password", wrong},
				     {"message.timeout.ms", "5000"}};
	struct kafka_stats st;

	one_record(props, NPROPS(props), &run, 60000);
	/* Not stored: the record times out, a retriable outcome. */
	assert_int_equal(run.retriable, 1);
	assert_string_equal(run.last_reason, "msg_timed_out");
	assert_true(run.errors > 0);
	assert_non_null(strstr(run.error_detail, "Authentication failed"));
	assert_null(strstr(run.error_detail, wrong));
	kafka_stats(run.k, &st);
	assert_non_null(st.last_error);
	assert_null(strstr(st.last_error, wrong));
	printf("AUTH %s: %s\n", run.error_reason, run.error_detail);
	run_done(&run);
}

/* restart: produce at a steady pace (1,000 records/s); at pause_at / 2 say
 * STOP and go on producing while the driver stops the broker; at pause_at
 * wait for its "STOPPED" line (the broker is down), then produce the rest
 * into the down broker and say DOWN; the driver restarts it. */
static void tick(struct loop *loop, void *arg)
{
	struct run *run = arg;
	struct kafka_report refused;
	for (int i = 0; i < 10 && run->produced < run->total; i++) {
		if (run->produced == run->pause_at / 2) {
			printf("STOP %zu\n", run->produced);   /* and go on while it stops */
			fflush(stdout);
		}
		if (run->produced == run->pause_at && !run->stdin_go)
			return;   /* on_stdin restarts the ticker */
		if (produce_one(run, run->produced, &refused) < 0)
			fail_msg("refused: %s %s", refused.reason, refused.detail);
	}
	if (run->produced < run->total) {
		loop_timer_start(run->ticker, 10);
	} else {
		printf("DOWN %zu produced, %zu delivered\n", run->produced, run->ok);
		fflush(stdout);
	}
}

static void on_stdin(struct loop *loop, int fd, int events, void *arg)
{
	struct run *run = arg;
	char line[64];
	ssize_t got = read(fd, line, sizeof(line) - 1);
	loop_fd_unwatch(loop, fd);
	if (got > 0 && strncmp(line, "STOPPED", 7) == 0) {
		run->stdin_go = true;
		loop_timer_start(run->ticker, 0);
	}
}

static void test_broker_restart_loses_nothing(void **state)
{
	struct run run;
	size_t n = (size_t)atoi(env("HERALD_KAFKA_N"));
	struct kafka_prop props[] = {{"bootstrap.servers", env("HERALD_KAFKA_BOOTSTRAP")},
				     {"linger.ms", "5"}};

	run_init(&run, n);
	run.topic = env("HERALD_KAFKA_TOPIC");
	run.seen = calloc(n, sizeof(long));
	run.pause_at = 2 * n / 3;
	run.k = producer(&run, props, NPROPS(props));
	run.ticker = loop_timer_new(run.loop, tick, &run);
	loop_fd_watch(run.loop, 0, LOOP_READ, on_stdin, &run);
	loop_timer_start(run.ticker, 0);
	run_loop(&run, 240000);
	assert_false(run.timed_out);
	assert_int_equal(run.produced, n);
	assert_int_equal(run.ok, n);
	assert_int_equal(run.retriable + run.permanent, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(run.seen[i], 1);
	assert_true(run.errors > 0);   /* it did see the broker go */
	printf("DELIVERED %zu after %zu client errors\n", run.ok, run.errors);
	run_done(&run);
}

/* ---- the loop, with no broker listening ---- */

static void free_in_last_report(void *arg, void *opaque, const struct kafka_report *r)
{
	struct run *run = arg;
	on_delivered(arg, opaque, r);
	if (run->retriable == run->want) {
		kafka_free(run->k);   /* from inside its own callback: deferred */
		run->k = NULL;
	}
}

static void test_reports_arrive_through_the_loop(void **state)
{
	struct run run;
	struct kafka_prop props[] = {{"bootstrap.servers", "127.0.0.1:1"},
				     {"message.timeout.ms", "300"}};
	struct kafka_callbacks cb = {.delivered = free_in_last_report, .error = on_client_error,
				     .arg = &run};
	struct kafka_report refused;
	char err[512];
	size_t bad;

	run_init(&run, 3);
	run.topic = "nowhere";
	run.k = kafka_new(run.loop, "offline", props, NPROPS(props), &cb, err, sizeof(err), &bad);
	assert_non_null(run.k);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(produce_one(&run, i, &refused), 0);
	run_loop(&run, 20000);
	assert_false(run.timed_out);
	assert_int_equal(run.retriable, 3);
	assert_string_equal(run.last_reason, "msg_timed_out");
	assert_true(run.errors > 0);
	assert_null(run.k);
	run_done(&run);
}

static void stop_loop(struct loop *loop, void *arg) { loop_stop(loop); }

static void test_free_with_records_in_flight_reports_nothing(void **state)
{
	struct run run;
	struct kafka_prop props[] = {{"bootstrap.servers", "127.0.0.1:1"}};
	struct kafka_report refused;
	struct kafka_stats st;

	run_init(&run, 5);
	run.topic = "nowhere";
	run.k = producer(&run, props, NPROPS(props));
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(produce_one(&run, i, &refused), 0);
	run.ticker = loop_timer_new(run.loop, stop_loop, NULL);
	loop_timer_start(run.ticker, 300);
	run_loop(&run, 20000);
	kafka_stats(run.k, &st);
	assert_int_equal(st.in_flight, 5);
	assert_int_equal(st.queue_depth, 5);
	assert_int_equal(kafka_flush(run.k, 100), -1);
	uint64_t t0 = loop_update_time(run.loop);
	kafka_free(run.k);
	run.k = NULL;
	assert_true(loop_update_time(run.loop) - t0 < 3000);
	assert_int_equal(run.ok + run.retriable + run.permanent, 0);
	run_done(&run);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_unknown_property_is_refused_with_librdkafka_text),
		cmocka_unit_test(test_missing_brokers_is_refused),
		cmocka_unit_test(test_secret_values_never_appear_in_errors),
		cmocka_unit_test(test_new_refuses_what_librdkafka_refuses),
		cmocka_unit_test(test_outcome_classes),
		cmocka_unit_test(test_reports_arrive_through_the_loop),
		cmocka_unit_test(test_free_with_records_in_flight_reports_nothing),
	};
	const struct CMUnitTest produce[] = {
		cmocka_unit_test(test_records_are_delivered),
		cmocka_unit_test(test_too_large_records_are_permanent),
		cmocka_unit_test(test_scram_listener),
		cmocka_unit_test(test_tls_listener),
		cmocka_unit_test(test_wrong_scram_password_is_a_clear_error),
	};
	const struct CMUnitTest restart[] = {
		cmocka_unit_test(test_broker_restart_loses_nothing),
	};
	const char *group = argc > 1 ? argv[1] : "offline";
	if (strcmp(group, "offline") == 0)
		return cmocka_run_group_tests_name("kafka", offline, NULL, NULL);
	if (strcmp(group, "produce") == 0)
		return cmocka_run_group_tests_name("kafka broker", produce, NULL, NULL);
	if (strcmp(group, "restart") == 0)
		return cmocka_run_group_tests_name("kafka restart", restart, NULL, NULL);
	fprintf(stderr, "usage: test_kafka [offline|produce|restart]\n");
	return 2;
}
