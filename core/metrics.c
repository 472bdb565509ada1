/* metrics: a fixed table of series, found through a hash of (metric,
 * labels); the families (HELP/TYPE) come from metrics.def so /metrics
 * documents itself. Label values are escaped as the text format requires.
 * Owns the table; must not allocate after start (the table is static). */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"

#define SERIES_MAX 4096
#define SLOTS 8192                 /* power of two, over twice SERIES_MAX */
#define LABELS_LEN 256

struct metrics_series {
	enum metric m;
	char labels[LABELS_LEN];       /* k="v",k2="v2" */
	double value;
	bool shown;                    /* updated at least once: exposed */
};

const struct metric_def metrics_defs[METRIC_COUNT] = {
#define METRIC(id, name, type, labels, help) [id] = { name, type, labels, help },
#include "metrics.def"
#undef METRIC
};

static struct metrics_series table[SERIES_MAX];
static size_t used;
static uint16_t slots[SLOTS];      /* index + 1 into table; 0: empty */

static void format_labels(char *out, size_t len, va_list ap)
{
	size_t o = 0;
	out[0] = '\0';
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			v = "";
		o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s=\"", o ? "," : "", k);
		for (; *v && o + 3 < len; v++) {
			if (*v == '\\' || *v == '"' || *v == '\n') {
				out[o++] = '\\';
				out[o++] = *v == '\n' ? 'n' : *v;
			} else {
				out[o++] = *v;
			}
		}
		if (o + 1 < len)
			out[o++] = '"';
		out[o < len ? o : len - 1] = '\0';
	}
}

static size_t slot_of(enum metric m, const char *labels)
{
	return (size_t)((hash_string(labels) ^ ((uint64_t)m * 0x9e3779b97f4a7c15ull)) & (SLOTS - 1));
}

static struct metrics_series *find(enum metric m, const char *labels, bool create)
{
	size_t i = slot_of(m, labels);
	for (; slots[i]; i = (i + 1) & (SLOTS - 1)) {
		struct metrics_series *s = &table[slots[i] - 1];
		if (s->m == m && strcmp(s->labels, labels) == 0)
			return s;
	}
	if (!create)
		return NULL;
	if (used >= SERIES_MAX - 1 && m != M_METRICS_OVERFLOW_TOTAL)
		return find(M_METRICS_OVERFLOW_TOTAL, "", true);   /* the last row is kept for it */
	if (used >= SERIES_MAX)
		return &table[SERIES_MAX - 1];
	struct metrics_series *s = &table[used++];
	s->m = m;
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	s->value = 0;
	s->shown = false;
	slots[i] = (uint16_t)used;
	return s;
}

/* The series of m with the labels in ap (created when create). */
static struct metrics_series *series_of(enum metric m, va_list ap, bool create)
{
	char labels[LABELS_LEN];
	format_labels(labels, sizeof(labels), ap);
	return find(m, labels, create);
}

struct metrics_series *metrics_series(enum metric m, ...)
{
	va_list ap;
	va_start(ap, m);
	struct metrics_series *s = series_of(m, ap, true);
	va_end(ap);
	return s;
}

void metrics_series_inc(struct metrics_series *s, long n)
{
	s->value += (double)n;
	s->shown = true;
}

void metrics_series_set(struct metrics_series *s, double value)
{
	s->value = value;
	s->shown = true;
}

void metrics_inc(enum metric m, long n, ...)
{
	va_list ap;
	va_start(ap, n);
	metrics_series_inc(series_of(m, ap, true), n);
	va_end(ap);
}

void metrics_set(enum metric m, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	metrics_series_set(series_of(m, ap, true), value);
	va_end(ap);
}

double metrics_get(enum metric m, ...)
{
	va_list ap;
	va_start(ap, m);
	struct metrics_series *s = series_of(m, ap, false);
	va_end(ap);
	return s ? s->value : 0;
}

void metrics_expose(struct buf *out)
{
	for (int m = 0; m < METRIC_COUNT; m++) {
		const struct metric_def *d = &metrics_defs[m];
		bool any = false;
		for (size_t i = 0; i < used; i++) {
			if (table[i].m != (enum metric)m || !table[i].shown)
				continue;
			if (!any)
				buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
					   d->type == COUNTER ? "counter" : "gauge");
			any = true;
			if (table[i].labels[0])
				buf_printf(out, "%s{%s} %.17g\n", d->name, table[i].labels, table[i].value);
			else
				buf_printf(out, "%s %.17g\n", d->name, table[i].value);
		}
	}
}

void metrics_reset(void)
{
	used = 0;
	memset(slots, 0, sizeof(slots));
}
