/* metrics: counters and gauges for /metrics (Prometheus text format).
 * Labels are bounded by construction: clusters, sinks, rule files, result
 * kinds; never object names or messages. Past a fixed number of series,
 * new ones fold into herald_metrics_overflow_total. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H
#include <stdio.h>
#include "buf.h"

/* labels: NULL, or "name" then "value" pairs ended by NULL, e.g.
 * metrics_inc("herald_rule_errors_total", 1, "file", path, NULL). */
void metrics_inc(const char *name, long n, ...);
void metrics_set(const char *name, double value, ...);
double metrics_get(const char *name, ...);
/* Appends every family in Prometheus text format (HELP, TYPE, series). */
void metrics_expose(struct buf *out);
void metrics_reset(void);

#endif
