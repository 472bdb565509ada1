/* status: the HTTP endpoints of a running daemon: liveness, readiness,
 * metrics and the /status JSON. Reads the daemon and asks its sources;
 * must not change either. */
#include <string.h>

#include "daemon.h"
#include "elect.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "statedir.h"

/* Every source this replica delivers is caught up (a standby is ready:
 * it has nothing to deliver). */
static bool all_established(const struct daemon *d)
{
	for (size_t i = 0; i < d->sources.n; i++) {
		const struct source *s = d->sources.all[i];
		if (d->elect && !elect_may_deliver(d->elect, i))
			continue;
		if (s->ops->established && !s->ops->established(s))
			return false;
	}
	return true;
}

static void status_json(const struct daemon *d, struct buf *body)
{
	const struct runner_config *cfg = runtime_config(d->rt);
	buf_printf(body, "{\"version\":\"%s\",\"config\":{\"state\":\"%s\",\"loaded_at\":%lld,"
		   "\"last_good\":%s,\"sinks\":%zu,\"rules\":%zu,\"refused\":[", HERALD_VERSION,
		   d->rejected ? "refused" : "ok", (long long)d->loaded_at, d->on_lastgood ? "true" : "false",
		   cfg->nsinks, cfg->rules);
	const char *p = d->reload_errors.data;
	bool first = true;
	while (d->rejected && p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (!first)
			buf_putc(body, ',');
		json_append_string(body, p, len);
		first = false;
		p += len + (nl ? 1 : 0);
	}
	buf_printf(body, "]},");
	if (d->o->state_dir) {
		buf_printf(body, "\"state_dir\":{\"path\":");
		json_append_string(body, d->o->state_dir, strlen(d->o->state_dir));
		buf_printf(body, ",\"writable\":%s,\"failed_saves\":%lu,\"error\":",
			   statedir_writable() ? "true" : "false", statedir_failures());
		json_append_string(body, statedir_error(), strlen(statedir_error()));
		buf_printf(body, "},");
	}
	buf_printf(body, "\"clusters\":[");
	first = true;
	for (size_t i = 0; i < d->sources.n; i++) {
		const struct source *s = d->sources.all[i];
		if (!s->ops->status)
			continue;
		if (!first)
			buf_putc(body, ',');
		s->ops->status(s, body);
		first = false;
	}
	buf_putc(body, ']');
	if (d->elect) {
		buf_putc(body, ',');
		elect_status(d->elect, body);
	}
	buf_printf(body, "}\n");
	body->len = log_redact(body->data, body->len);
}

int status_serve(void *arg, const char *path, struct buf *body, const char **type)
{
	struct daemon *d = arg;
	if (strcmp(path, "/healthz") == 0) {
		buf_printf(body, "ok\n"); /* answering at all means the loop runs */
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		if (!statedir_writable()) {
			buf_printf(body, "not ready: the state dir cannot be written: %s\n", statedir_error());
			body->len = log_redact(body->data, body->len);
			return 503;
		}
		if (d->elect && !elect_observed(d->elect)) {
			buf_printf(body, "not ready: leader election has not read its Leases yet (see the log)\n");
			return 503;
		}
		bool ready = all_established(d);
		buf_printf(body, ready ? "ok\n" : "not ready: a cluster's watch is not established\n");
		return ready ? 200 : 503;
	}
	if (strcmp(path, "/metrics") == 0) {
		sinks_export_metrics(d->sinks);
		if (d->elect)
			elect_export_metrics(d->elect);
		for (size_t i = 0; i < d->sources.n; i++)
			if (d->sources.all[i]->ops->export_metrics)
				d->sources.all[i]->ops->export_metrics(d->sources.all[i]);
		metrics_expose(body);
		*type = "text/plain; version=0.0.4; charset=utf-8";
		return 200;
	}
	if (strcmp(path, "/status") == 0) {
		*type = "application/json";
		status_json(d, body);
		return 200;
	}
	buf_printf(body, "not found\n");
	return 404;
}
