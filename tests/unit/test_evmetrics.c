/* evmetrics: herald_kube_events_total stays bounded whatever the events
 * say, keeps the values it promised, and counts every event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "evmetrics.h"
#include "metrics.h"

/* Series of herald_kube_events_total in /metrics, and the sum of their values. */
static size_t series(double *sum)
{
	struct buf out = BUF_INIT;
	metrics_expose(&out);
	size_t n = 0;
	*sum = 0;
	for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "herald_kube_events_total{", 25) != 0)
			continue;
		n++;
		double v = 0;
		sscanf(strrchr(line, ' ') + 1, "%lf", &v);
		*sum += v;
	}
	buf_free(&out);
	return n;
}

static double value(const char *type, const char *reason, const char *ns, const char *kind)
{
	return metrics_get(M_KUBE_EVENTS_TOTAL, "cluster", "c1", "type", type, "reason", reason, "namespace", ns,
			   "kind", kind, NULL);
}

static int setup(void **state)
{
	metrics_reset();
	return 0;
}

static int teardown(void **state)
{
	evmetrics_free();
	return 0;
}

static void ten_thousand_reasons_stay_bounded(void **state)
{
	assert_int_equal(evmetrics_configure(NULL), 0);
	char reason[32], ns[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(reason, sizeof(reason), "Reason%d", i);
		snprintf(ns, sizeof(ns), "ns%d", i % 300);
		evmetrics_count("c1", i % 2 ? "Warning" : "Normal", reason, ns, "Pod");
	}
	double sum;
	size_t n = series(&sum);
	assert_true(n <= EVM_DEFAULT_SERIES + 3);
	assert_true(n > 50);
	assert_int_equal((long)sum, 10000);                 /* every event counted */
	/* the first reasons keep their name; later ones are "other" */
	assert_true(value("Normal", "Reason0", "ns0", "Pod") == 1);
	assert_true(value("Warning", "other", "other", "Pod") > 0);
	assert_true(value("Normal", "Reason9998", "other", "Pod") == 0);
}

static void limits_and_allow_lists_choose_the_values(void **state)
{
	struct evmetrics_config c = { .limit = { 2, -1, -1, -1 } };
	char err[160];
	assert_int_equal(evmetrics_parse(&c, "kind=Pod,Node", 1, err, sizeof(err)), 0);
	assert_int_equal(evmetrics_configure(&c), 0);
	evmetrics_count("c1", "Warning", "BackOff", "a", "Pod");
	evmetrics_count("c1", "Warning", "Failed", "a", "Deployment");
	evmetrics_count("c1", "Warning", "OOMKilling", "a", "Node");
	evmetrics_count("c1", "Weird", "BackOff", "a", "Pod");
	assert_true(value("Warning", "BackOff", "a", "Pod") == 1);
	assert_true(value("Warning", "Failed", "a", "other") == 1);      /* not allowed */
	assert_true(value("Warning", "other", "a", "Node") == 1);        /* third reason */
	assert_true(value("other", "BackOff", "a", "Pod") == 1);         /* type is bounded too */
}

static void series_zero_turns_it_off(void **state)
{
	struct evmetrics_config c = { .limit = { -1, -1, -1, -1 } };
	char err[160];
	assert_int_equal(evmetrics_parse(&c, "series=0", 0, err, sizeof(err)), 0);
	assert_int_equal(evmetrics_configure(&c), 0);
	evmetrics_count("c1", "Warning", "BackOff", "a", "Pod");
	double sum;
	assert_int_equal(series(&sum), 0);
}

static void bad_specs_are_refused(void **state)
{
	struct evmetrics_config c = { .limit = { -1, -1, -1, -1 } };
	char err[160];
	const char *bad[] = { "reason", "reason=", "reason=x", "color=3", "reason=3,", "series=-1",
			      "reason=100000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(evmetrics_parse(&c, bad[i], 0, err, sizeof(err)), -1);
	assert_int_equal(evmetrics_parse(&c, "series=3", 1, err, sizeof(err)), -1);
	assert_int_equal(evmetrics_parse(&c, "reason=", 1, err, sizeof(err)), -1);
	assert_int_equal(evmetrics_parse(&c, "reason=10,kind=0", 0, err, sizeof(err)), 0);
	assert_int_equal(c.limit[EVM_REASON], 10);
	assert_int_equal(c.limit[EVM_KIND], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ten_thousand_reasons_stay_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(limits_and_allow_lists_choose_the_values, setup, teardown),
		cmocka_unit_test_setup_teardown(series_zero_turns_it_off, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_specs_are_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
