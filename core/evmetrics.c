/* evmetrics: owns the label values kept per label and the set of series
 * of herald_kube_events_total; the counts themselves live in metrics.
 * Must not keep more than its limits: a cluster's events choose the label
 * values, so every value past a limit becomes "other". */
#include "evmetrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "metrics.h"

#define VALUE_MAX 63                /* a longer value is "other" (Kubernetes names are <= 63) */

struct dim {
	char **values;              /* kept values, in the order first seen */
	size_t n;
	bool allow;                 /* values is an allow-list: nothing is added */
};

static const char *const names[EVM_NLIMITS] = { "reason", "namespace", "kind", "series" };
static const long defaults[EVM_NLIMITS] = {
	EVM_DEFAULT_REASONS, EVM_DEFAULT_NAMESPACES, EVM_DEFAULT_KINDS, EVM_DEFAULT_SERIES,
};

static struct dim dims[EVM_SERIES];
static long limits[EVM_NLIMITS];
static uint64_t *combos;            /* open addressing; 0: empty */
static size_t ncombos, nslots;
static bool configured;

static int label_index(const char *name, size_t len)
{
	for (int i = 0; i < EVM_NLIMITS; i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return i;
	return -1;
}

int evmetrics_parse(struct evmetrics_config *c, const char *spec, int allow, char *err, size_t errlen)
{
	if (allow) {
		const char *eq = strchr(spec, '=');
		int i = eq ? label_index(spec, (size_t)(eq - spec)) : -1;
		if (i < 0 || i == EVM_SERIES || !eq[1]) {
			snprintf(err, errlen, "wants reason=, namespace= or kind= and values (a,b,c), not '%s'", spec);
			return -1;
		}
		c->allow[i] = eq + 1;
		return 0;
	}
	const char *p = spec;
	while (*p) {
		const char *eq = strchr(p, '=');
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		int i = eq && eq < end ? label_index(p, (size_t)(eq - p)) : -1;
		char *num_end;
		long v = i >= 0 ? strtol(eq + 1, &num_end, 10) : -1;
		if (i < 0 || num_end != end || eq + 1 == end || v < 0 || v > EVM_MAX_LIMIT ||
		    (*end == ',' && !end[1])) {
			snprintf(err, errlen, "wants reason=N,namespace=N,kind=N,series=N (0..%d), not '%s'",
				 EVM_MAX_LIMIT, spec);
			return -1;
		}
		c->limit[i] = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

void evmetrics_free(void)
{
	for (int i = 0; i < EVM_SERIES; i++) {
		for (size_t j = 0; j < dims[i].n; j++)
			free(dims[i].values[j]);
		free(dims[i].values);
		dims[i] = (struct dim){ 0 };
	}
	free(combos);
	combos = NULL;
	ncombos = nslots = 0;
	configured = false;
}

static int add_value(struct dim *d, const char *v, size_t len)
{
	char **grown = realloc(d->values, (d->n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	d->values = grown;
	if (!(d->values[d->n] = strndup(v, len)))
		return -1;
	d->n++;
	return 0;
}

int evmetrics_configure(const struct evmetrics_config *c)
{
	evmetrics_free();
	configured = true;
	for (int i = 0; i < EVM_NLIMITS; i++)
		limits[i] = c && c->limit[i] >= 0 ? c->limit[i] : defaults[i];
	for (int i = 0; c && i < EVM_SERIES; i++) {
		if (!c->allow[i])
			continue;
		dims[i].allow = true;
		for (const char *p = c->allow[i]; *p;) {
			size_t len = strcspn(p, ",");
			if (len && add_value(&dims[i], p, len) < 0)
				goto fail;
			p += len + (p[len] == ',');
		}
	}
	nslots = 16;
	while (nslots < (size_t)limits[EVM_SERIES] * 2)
		nslots *= 2;
	if (!(combos = calloc(nslots, sizeof(*combos))))
		goto fail;
	return 0;
fail:
	evmetrics_free();
	configured = true;
	limits[EVM_SERIES] = 0;
	return -1;
}

/* The label value v stands for in dimension i. */
static const char *bucket(int i, const char *v)
{
	struct dim *d = &dims[i];
	size_t len = strlen(v);
	if (len > VALUE_MAX)
		return "other";
	for (size_t j = 0; j < d->n; j++)
		if (strcmp(d->values[j], v) == 0)
			return d->values[j];
	if (d->allow || (long)d->n >= limits[i] || add_value(d, v, len) < 0)
		return "other";
	return d->values[d->n - 1];
}

/* Whether the combination may have a series of its own: it has one
 * already, or there is room for one more. */
static bool admit_combo(const char *const v[5])
{
	uint64_t h = FNV_OFFSET;
	for (int i = 0; i < 5; i++)
		h = fnv1a(h, v[i], strlen(v[i]) + 1);
	if (!h)
		h = 1;
	size_t s = (size_t)h & (nslots - 1);
	for (; combos[s]; s = (s + 1) & (nslots - 1))
		if (combos[s] == h)
			return true;
	if ((long)ncombos >= limits[EVM_SERIES])
		return false;
	combos[s] = h;
	ncombos++;
	return true;
}

void evmetrics_count(const char *cluster, const char *type, const char *reason, const char *namespace,
		     const char *kind)
{
	if (!configured)
		evmetrics_configure(NULL);
	if (limits[EVM_SERIES] == 0)
		return;
	const char *t = type && (strcmp(type, "Normal") == 0 || strcmp(type, "Warning") == 0) ? type : "other";
	const char *v[5] = {
		cluster ? cluster : "", t,
		bucket(EVM_REASON, reason ? reason : ""),
		bucket(EVM_NAMESPACE, namespace ? namespace : ""),
		bucket(EVM_KIND, kind ? kind : ""),
	};
	if (!admit_combo(v))
		v[2] = v[3] = v[4] = "other";   /* bounded by clusters x 3 types */
	metrics_inc(M_KUBE_EVENTS_TOTAL, 1, "cluster", v[0], "type", v[1], "reason", v[2], "namespace", v[3],
		    "kind", v[4], NULL);
}
