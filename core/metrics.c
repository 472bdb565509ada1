/* metrics: a fixed table of series; families (HELP/TYPE) are listed here
 * so /metrics documents itself. Label values are escaped as the text
 * format requires. */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define SERIES_MAX 1024
#define NAME_LEN 72
#define LABELS_LEN 256

struct series {
	char name[NAME_LEN];
	char labels[LABELS_LEN];  /* k="v",k2="v2" */
	double value;
};

static struct series table[SERIES_MAX];
static size_t used;

static const struct family {
	const char *name, *type, *help;
} families[] = {
	{ "herald_build_info", "gauge", "herald's version (value 1)" },
	{ "herald_events_received_total", "counter", "Events received from a cluster, by cluster and type" },
	{ "herald_events_already_delivered_total", "counter", "Events seen again after a relist or restart and not delivered twice" },
	{ "herald_last_event_timestamp_seconds", "gauge", "When the last event of a cluster arrived (unix time)" },
	{ "herald_events_routed_total", "counter", "Events that went through the rules" },
	{ "herald_events_unrouted_total", "counter", "Events that reached no sink: dropped by a rule (rule=file:line) or matched none" },
	{ "herald_rule_errors_total", "counter", "Errors in operator Lua (rules, documents, templates), by file" },
	{ "herald_input_skipped_total", "counter", "Input records skipped as unusable, by reason" },
	{ "herald_ingest_failures_total", "counter", "Records the runtime failed on" },
	{ "herald_sink_events_total", "counter", "Events queued for a sink" },
	{ "herald_sink_encode_errors_total", "counter", "Events a sink type could not encode" },
	{ "herald_sink_stale_skipped_total", "counter", "Events an alert sink skipped as older than --max-event-age at start" },
	{ "herald_sink_batches_total", "counter", "Batches written or sent, by sink and result" },
	{ "herald_sink_events_written_total", "counter", "Events written or sent by a sink" },
	{ "herald_sink_retries_total", "counter", "Retries of a failed batch" },
	{ "herald_sink_events_failed_total", "counter", "Events a sink's server refused for good (dead-lettered)" },
	{ "herald_sink_queue_events", "gauge", "Events waiting in a sink's queue" },
	{ "herald_sink_queue_bytes", "gauge", "Bytes waiting in a sink's queue" },
	{ "herald_alert_messages_total", "counter", "Alert messages, by sink, kind (group, digest) and result (sent, retry, failed)" },
	{ "herald_alert_events_digested_total", "counter", "Events sent inside digests because the robot's rate limit left no room" },
	{ "herald_alert_groups", "gauge", "Alert groups an alert sink keeps" },
	{ "herald_alert_events_held", "gauge", "Events alert groups hold for their next message" },
	{ "herald_alert_tokens", "gauge", "Messages an alert sink may send now within its rate limits" },
	{ "herald_watch_starts_total", "counter", "Watch requests started" },
	{ "herald_watch_lists_total", "counter", "Complete lists of a cluster's events" },
	{ "herald_watch_relists_total", "counter", "Relists after 410 Gone or a too-large resourceVersion" },
	{ "herald_watch_retries_total", "counter", "List or watch attempts after a failure" },
	{ "herald_watch_established", "gauge", "1 when a cluster's watch runs" },
	{ "herald_watch_pauses_total", "counter", "Times a watch paused because a sink was full (backpressure)" },
	{ "herald_config_reloads_total", "counter", "Configuration reloads, by result (ok, refused)" },
	{ "herald_config_last_reload_success_timestamp_seconds", "gauge", "When the configuration in force was loaded (unix time)" },
	{ "herald_config_rejected", "gauge", "1 while the files hold a configuration that was refused" },
	{ "herald_metrics_overflow_total", "counter", "Updates to series past the table's bound" },
};

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

static struct series *find(const char *name, const char *labels, int create)
{
	for (size_t i = 0; i < used; i++)
		if (strcmp(table[i].name, name) == 0 && strcmp(table[i].labels, labels) == 0)
			return &table[i];
	if (!create)
		return NULL;
	if (used >= SERIES_MAX - 1) {
		name = "herald_metrics_overflow_total";
		labels = "";
		for (size_t i = 0; i < used; i++)
			if (strcmp(table[i].name, name) == 0)
				return &table[i];
	}
	struct series *s = &table[used++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->labels, sizeof(s->labels), "%s", labels);
	s->value = 0;
	return s;
}

/* The series of name with the labels in ap (created when create). */
static struct series *series_of(const char *name, va_list ap, int create)
{
	char labels[LABELS_LEN];
	format_labels(labels, sizeof(labels), ap);
	return find(name, labels, create);
}

void metrics_inc(const char *name, long n, ...)
{
	va_list ap;
	va_start(ap, n);
	series_of(name, ap, 1)->value += (double)n;
	va_end(ap);
}

void metrics_set(const char *name, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	series_of(name, ap, 1)->value = value;
	va_end(ap);
}

double metrics_get(const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	struct series *s = series_of(name, ap, 0);
	va_end(ap);
	return s ? s->value : 0;
}

static void expose_family(struct buf *out, const char *name)
{
	for (size_t i = 0; i < used; i++) {
		if (strcmp(table[i].name, name) != 0)
			continue;
		if (table[i].labels[0])
			buf_printf(out, "%s{%s} %.17g\n", name, table[i].labels, table[i].value);
		else
			buf_printf(out, "%s %.17g\n", name, table[i].value);
	}
}

void metrics_expose(struct buf *out)
{
	for (size_t f = 0; f < sizeof(families) / sizeof(*families); f++) {
		bool any = false;
		for (size_t i = 0; i < used && !any; i++)
			any = strcmp(table[i].name, families[f].name) == 0;
		if (!any)
			continue;
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
			   families[f].name, families[f].type);
		expose_family(out, families[f].name);
	}
}

void metrics_reset(void)
{
	used = 0;
}
