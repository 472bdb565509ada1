/* metrics: a small fixed table of counters. Past METRICS_MAX distinct
 * series new ones are folded into one overflow series, so a bug in a
 * label can never grow memory without bound. */
#include "metrics.h"

#include <string.h>

#define METRICS_MAX 512
#define NAME_MAX_LEN 64
#define LABEL_MAX_LEN 192

struct series {
	char name[NAME_MAX_LEN];
	char label[LABEL_MAX_LEN];
	long value;
};

static struct series table[METRICS_MAX];
static size_t used;

static struct series *find(const char *name, const char *label, int create)
{
	if (!label)
		label = "";
	for (size_t i = 0; i < used; i++)
		if (strcmp(table[i].name, name) == 0 && strcmp(table[i].label, label) == 0)
			return &table[i];
	if (!create)
		return NULL;
	if (used == METRICS_MAX - 1) {
		name = "metrics_overflow";
		label = "";
		for (size_t i = 0; i < used; i++)
			if (strcmp(table[i].name, name) == 0)
				return &table[i];
	}
	struct series *s = &table[used++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->label, sizeof(s->label), "%s", label);
	s->value = 0;
	return s;
}

void metrics_inc(const char *name, const char *label, long n)
{
	find(name, label, 1)->value += n;
}

void metrics_set(const char *name, const char *label, long value)
{
	find(name, label, 1)->value = value;
}

long metrics_get(const char *name, const char *label)
{
	struct series *s = find(name, label, 0);
	return s ? s->value : 0;
}

void metrics_write(FILE *f)
{
	for (size_t i = 0; i < used; i++) {
		if (table[i].label[0])
			fprintf(f, "%s{%s} %ld\n", table[i].name, table[i].label, table[i].value);
		else
			fprintf(f, "%s %ld\n", table[i].name, table[i].value);
	}
}

void metrics_reset(void)
{
	used = 0;
}
