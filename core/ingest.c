/* ingest: framer -> runner glue. Owns the framer; the runtime owns
 * decisions; the caller's hooks own where routed items go. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "metrics.h"

static void skip(struct ingest *in, unsigned long line, long item, const char *category,
		 const char *why)
{
	in->stats.skipped++;
	metrics_inc(M_INPUT_SKIPPED_TOTAL, 1, "reason", category, NULL);
	if (item > 0)
		log_warn("%s:%lu: List item %ld skipped: %s", in->source, line, item, why);
	else
		log_warn("%s:%lu: record skipped: %s", in->source, line, why);
}

static void on_reject(void *arg, long item, const char *why)
{
	struct ingest *in = arg;
	skip(in, in->line, item, "bad_item", why);
}

static void on_routed(void *arg, const struct runner_event *ev)
{
	struct ingest *in = arg;
	in->stats.events++;
	metrics_series_inc(in->m_routed, 1);
	if (ev->nsinks == 0)
		metrics_inc(M_EVENTS_UNROUTED_TOTAL, 1, "rule", ev->dropped_by ? ev->dropped_by : "none", NULL);
	if (in->hooks.routed)
		in->hooks.routed(in->caller_arg, ev);
}

static void on_emit(void *arg, const struct runner_item *it)
{
	struct ingest *in = arg;
	if (in->hooks.emit)
		in->hooks.emit(in->caller_arg, it);
}

static int on_admit(void *arg, const struct runner_admit *a)
{
	struct ingest *in = arg;
	return in->hooks.admit ? in->hooks.admit(in->caller_arg, a) : 1;
}

static bool on_covered(void *arg, const char *uid, const char *rv)
{
	struct ingest *in = arg;
	return in->hooks.covered && in->hooks.covered(in->caller_arg, uid, rv);
}

static bool on_defer(void *arg, const struct runner_defer *d)
{
	struct ingest *in = arg;
	return in->hooks.defer ? in->hooks.defer(in->caller_arg, d) : false;
}

static void on_record(void *arg, const struct framer_record *rec)
{
	struct ingest *in = arg;
	in->stats.records++;
	char why[96];
	if (rec->flags & FRAMER_TOO_LARGE) {
		snprintf(why, sizeof(why), "longer than %u bytes", INGEST_MAX_RECORD);
		skip(in, rec->line, 0, "too_large", why);
		return;
	}
	if (rec->flags & FRAMER_BAD_UTF8) {
		skip(in, rec->line, 0, "bad_utf8", "invalid UTF-8");
		return;
	}
	if (rec->flags & FRAMER_MALFORMED) {
		skip(in, rec->line, 0, "malformed", "malformed JSON (cut short)");
		return;
	}
	struct runner_hooks hooks = {
		.arg = in,
		.describe = in->hooks.describe,
		.emit = on_emit,
		.routed = on_routed,
		.reject = on_reject,
		.admit = on_admit,
		.covered = on_covered,
		.defer = on_defer,
	};
	/* A record with a field over the limit: that field is cut to limit + 1
	 * bytes before decoding, so a 50 MB message costs no 50 MB decode and
	 * is reported as field_too_large (by the runtime), not as memory. */
	struct buf shrunk = BUF_INIT;
	if ((rec->flags & FRAMER_FIELD_TOO_LARGE) &&
	    json_shrink_strings(rec->data, rec->len, INGEST_MAX_FIELD, &shrunk) < 0) {
		buf_free(&shrunk);
		skip(in, rec->line, 0, "field_too_large", "a field is too large (out of memory)");
		return;
	}
	struct ingest_input input = {
		.data = shrunk.data ? shrunk.data : rec->data,
		.len = shrunk.data ? shrunk.len : rec->len,
		.has_empty_array = (rec->flags & FRAMER_EMPTY_ARRAY) != 0,
		.big_field = (rec->flags & FRAMER_FIELD_TOO_LARGE) != 0,
		.field_limit = INGEST_MAX_FIELD,
		.cluster = in->cluster,
	};
	struct ingest_result res;
	in->line = rec->line;
	int rc = runner_ingest(runtime_host(in->rt), &input, &hooks, &res);
	buf_free(&shrunk);
	if (rc < 0) {
		in->stats.failed++;
		metrics_inc(M_INGEST_FAILURES_TOTAL, 1, NULL);
		log_error("%s:%lu: %s", in->source, rec->line, res.message);
		if (in->on_result)
			in->on_result(in->caller_arg, &res); /* a watch shrinks a list page that ran out of memory */
		return;
	}
	switch (res.kind) {
	case INGEST_BAD:
		skip(in, rec->line, 0, strstr(res.message, "longer than") ? "field_too_large" :
				       strstr(res.message, "not enough memory") ? "too_large" :
				       strncmp(res.message, "malformed", 9) == 0 ? "malformed" : "not_event",
		     res.message);
		break;
	case INGEST_STATUS:
		if (!in->on_result)
			skip(in, rec->line, 0, "watch_error", res.message[0] ? res.message : res.reason);
		break;
	default:
		break;
	}
	if (in->on_result)
		in->on_result(in->caller_arg, &res);
}

void ingest_init(struct ingest *in, struct runtime *rt, const char *source,
		 const char *cluster, const struct runner_hooks *hooks)
{
	memset(in, 0, sizeof(*in));
	in->rt = rt;
	in->m_routed = metrics_series(M_EVENTS_ROUTED_TOTAL, NULL);
	in->source = source;
	in->cluster = cluster;
	in->hooks = *hooks;
	in->caller_arg = hooks->arg;
	framer_init(&in->framer, INGEST_MAX_RECORD, INGEST_MAX_FIELD, on_record, in);
}

void ingest_feed(struct ingest *in, const char *data, size_t len)
{
	framer_feed(&in->framer, data, len);
}

void ingest_finish(struct ingest *in)
{
	framer_finish(&in->framer);
}

void ingest_free(struct ingest *in)
{
	framer_free(&in->framer);
}
