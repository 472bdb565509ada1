/* metrics: named counters and gauges with at most one label, bounded in
 * number (labels are sink names, rule files, clusters: never object names
 * or messages). The /metrics endpoint of a later part reads them. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H
#include <stdio.h>

void metrics_inc(const char *name, const char *label, long n);
void metrics_set(const char *name, const char *label, long value);
long metrics_get(const char *name, const char *label);
/* Writes "name{label} value" lines (for summaries and tests). */
void metrics_write(FILE *f);
void metrics_reset(void);

#endif
