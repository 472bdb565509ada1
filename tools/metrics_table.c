/* metrics_table: the README's table of metrics, generated from
 * core/metrics.def (through metrics_defs), between the README's
 *   <!-- metrics:begin --> and <!-- metrics:end --> lines.
 *   metrics_table                 prints the table
 *   metrics_table --check README  exits 1 when the README's table differs
 *   metrics_table --write README  rewrites the README's table */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

#define BEGIN "<!-- metrics:begin -->\n"
#define END "<!-- metrics:end -->\n"

static void table(struct buf *out)
{
	buf_printf(out, "| metric | type | labels | what it tells |\n|---|---|---|---|\n");
	for (int m = 0; m < METRIC_COUNT; m++) {
		const struct metric_def *d = &metrics_defs[m];
		buf_printf(out, "| `%s` | %s | ", d->name, d->type == COUNTER ? "counter" : "gauge");
		const char *p = d->labels;
		while (*p) {
			size_t n = strcspn(p, ",");
			buf_printf(out, "%s`%.*s`", p == d->labels ? "" : ", ", (int)n, p);
			p += n + (p[n] == ',');
		}
		buf_printf(out, " | %s |\n", d->help);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return b.data ? b.data : calloc(1, 1);
}

int main(int argc, char **argv)
{
	struct buf t = BUF_INIT;
	table(&t);
	int rc = 0;
	if (argc < 3) {
		fwrite(t.data, 1, t.len, stdout);
		buf_free(&t);
		return 0;
	}
	size_t len;
	char *text = slurp(argv[2], &len);
	char *begin = text ? strstr(text, BEGIN) : NULL;
	char *end = begin ? strstr(begin, END) : NULL;
	if (!end) {
		fprintf(stderr, "%s: no %.*s ... %.*s section\n", argv[2], (int)strlen(BEGIN) - 1, BEGIN,
			(int)strlen(END) - 1, END);
		rc = 1;
		goto out;
	}
	begin += strlen(BEGIN);
	bool same = (size_t)(end - begin) == t.len && memcmp(begin, t.data, t.len) == 0;
	if (strcmp(argv[1], "--check") == 0) {
		if (!same)
			fprintf(stderr, "%s: the metrics table differs from core/metrics.def; "
				"run `cmake --build build --target readme-metrics`\n", argv[2]);
		rc = same ? 0 : 1;
	} else if (strcmp(argv[1], "--write") == 0 && !same) {
		FILE *f = fopen(argv[2], "wb");
		rc = 1;
		if (f) {
			fwrite(text, 1, (size_t)(begin - text), f);
			fwrite(t.data, 1, t.len, f);
			fwrite(end, 1, len - (size_t)(end - text), f);
			rc = fclose(f) == 0 ? 0 : 1;
		}
	}
out:
	free(text);
	buf_free(&t);
	return rc;
}
