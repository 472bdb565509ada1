/* evmetrics: herald_kube_events_total{cluster,type,reason,namespace,kind},
 * the events of the clusters as Prometheus counts, with bounded
 * cardinality. Each of reason, namespace and kind keeps its own label
 * value for an allow-list of values when one is given, else for the first
 * N distinct values seen (the limit); every other value is "other". Past a
 * limit of series in all, a new combination is counted with reason,
 * namespace and kind "other". type is Normal, Warning or other. */
#ifndef HERALD_EVMETRICS_H
#define HERALD_EVMETRICS_H
#include <stddef.h>

enum evmetrics_label { EVM_REASON, EVM_NAMESPACE, EVM_KIND, EVM_SERIES, EVM_NLIMITS };

#define EVM_DEFAULT_REASONS 50
#define EVM_DEFAULT_NAMESPACES 50
#define EVM_DEFAULT_KINDS 20
#define EVM_DEFAULT_SERIES 1000
#define EVM_MAX_LIMIT 10000         /* per label and for the series */

struct evmetrics_config {
	long limit[EVM_NLIMITS];        /* -1: the default; series 0 turns the metric off */
	const char *allow[EVM_SERIES];  /* comma-separated values, or NULL */
};

/* Parses "reason=N,namespace=N,kind=N,series=N" (any subset) into c, or
 * "LABEL=V1,V2,..." into c->allow (allow: true; the string is kept, not
 * copied). -1 with err on a bad spec. */
int evmetrics_parse(struct evmetrics_config *c, const char *spec, int allow, char *err, size_t errlen);

/* Sets the limits (and forgets the values seen); NULL: the defaults.
 * -1 when out of memory (the metric is then off). */
int evmetrics_configure(const struct evmetrics_config *c);

/* Counts one event. NULL or "" values count as "". */
void evmetrics_count(const char *cluster, const char *type, const char *reason, const char *namespace,
		     const char *kind);

/* Frees what evmetrics_configure kept. */
void evmetrics_free(void);

#endif
