/* metrics: counters and gauges for /metrics (Prometheus text format).
 * Every metric is one line of metrics.def, named in C by its enum (a
 * misspelt metric does not compile). Labels are bounded by construction:
 * clusters, sinks, rule files, result kinds; never object names or
 * messages. Past a fixed number of series, new ones fold into
 * herald_metrics_overflow_total. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H
#include <stddef.h>
#include "buf.h"

enum metric {
#define METRIC(id, name, type, labels, help) id,
#include "metrics.def"
#undef METRIC
	METRIC_COUNT
};

enum metric_type { COUNTER, GAUGE };

struct metric_def {
	const char *name;
	enum metric_type type;
	const char *labels;            /* label names, comma-separated */
	const char *help;
};

extern const struct metric_def metrics_defs[METRIC_COUNT];

/* labels: "name" then "value" pairs ended by NULL, e.g.
 * metrics_inc(M_RULE_ERRORS_TOTAL, 1, "file", path, NULL). */
void metrics_inc(enum metric m, long n, ...);
void metrics_set(enum metric m, double value, ...);
double metrics_get(enum metric m, ...);

/* One series, looked up once: hot paths (per event, per batch) keep the
 * pointer (per sink, per cluster) and update it directly. A series is
 * exposed from its first update on. Valid until metrics_reset. */
struct metrics_series;
struct metrics_series *metrics_series(enum metric m, ...);
void metrics_series_inc(struct metrics_series *s, long n);
void metrics_series_set(struct metrics_series *s, double value);

/* Appends every family in Prometheus text format (HELP, TYPE, series). */
void metrics_expose(struct buf *out);
void metrics_reset(void);

#endif
