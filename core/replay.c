/* replay: `herald replay FILE|-`: where recorded events would go and what
 * each sink would get, sending nothing. Owns its runtime, its ingest and
 * the alert groups it shows; must not open any output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts.h"
#include "cli.h"
#include "ingest.h"
#include "replay.h"
#include "runtime.h"
#include "sinks.h"

/* Reads a whole input through ingest; -1 when it could not be read. */
static int read_input(const char *path, struct ingest *in)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "herald: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char chunk[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "herald: %s: %s\n", path, strerror(errno));
			rc = -1;
			break;
		}
		ingest_feed(in, chunk, (size_t)n);
	}
	ingest_finish(in);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
}

/* replay: what each event would reach, and what each sink would get. */
struct replay {
	const struct runner_config *cfg;
	struct ingest *in;
	bool json;
	struct { int sink; char *item; size_t len; } *items;
	size_t nitems, cap;
	struct alerts **alerts;       /* per sink: the groups of alert sinks */
};

static bool is_alert_sink(const struct runner_config *cfg, int sink)
{
	return sink >= 1 && (size_t)sink <= cfg->nsinks && cfg->sinks[sink - 1].alert;
}

/* Alert sinks group what they get; replay shows their messages at the
 * end, one per group, as if every event had arrived at once with no rate
 * limit. */
static void replay_group(struct replay *r, const struct runner_item *it)
{
	if (!r->alerts)
		return;
	const struct sink_spec *sp = &r->cfg->sinks[it->sink - 1];
	struct alerts **a = &r->alerts[it->sink - 1];
	if (!*a) {
		struct alert_policy p = sp->policy;
		p.nrates = 0;
		p.max_groups = (size_t)-1;
		if (!(*a = alerts_new(&p)))
			return;
	}
	sinks_group(*a, it, 0);
}

/* scheme://host of a URL: the rest may hold a token (DingTalk's
 * access_token, Slack's and Feishu's paths). */
static void print_origin(const char *url)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	printf("%.*s/...", (int)strcspn(host, "/?#") + (int)(host - url), url);
}

static void replay_alerts(struct replay *r, struct luahost *h)
{
	for (size_t i = 0; i < r->cfg->nsinks; i++) {
		if (!r->alerts[i])
			continue;
		const char *name = r->cfg->sinks[i].name;
		uint64_t wake;
		struct alert_msg *m;
		size_t n = 0;
		printf("%s would send %zu message%s:\n", name, alerts_groups(r->alerts[i]),
		       alerts_groups(r->alerts[i]) == 1 ? "" : "s");
		while ((m = alerts_next(r->alerts[i], 0, true, &wake))) {
			struct sink_request req;
			printf("  message %zu (%zu event%s): ", ++n, m->events, m->events == 1 ? "" : "s");
			if (runner_alert_request(h, (int)i + 1, name, m, &req) == 0) {
				printf("%s ", req.method ? req.method : "POST");
				print_origin(req.url);
				printf("\n    %.*s\n", (int)req.body_len, req.body ? req.body : "");
				sink_request_free(&req);
			} else {
				printf("the sink type could not build it (see the log)\n");
			}
			alert_msg_free(m);
		}
		alerts_free(r->alerts[i]);
	}
}

static void replay_emit(void *arg, const struct runner_item *it)
{
	struct replay *r = arg;
	int sink = it->sink;
	const char *item = it->data;
	size_t len = it->len;
	if (r->json)
		return;
	if (is_alert_sink(r->cfg, sink))
		replay_group(r, it);
	if (r->nitems == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		void *grown = realloc(r->items, cap * sizeof(*r->items));
		if (!grown)
			return;
		r->items = grown;
		r->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, item, len);
	copy[len] = '\0';
	r->items[r->nitems].sink = sink;
	r->items[r->nitems].item = copy;
	r->items[r->nitems].len = len;
	r->nitems++;
}

static const char *sink_name(const struct runner_config *cfg, int index)
{
	return index >= 1 && (size_t)index <= cfg->nsinks ? cfg->sinks[index - 1].name : "?";
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void replay_routed(void *arg, const struct runner_event *ev)
{
	struct replay *r = arg;
	const char *names[64];
	size_t n = ev->nsinks < 64 ? ev->nsinks : 64;
	for (size_t i = 0; i < n; i++)
		names[i] = sink_name(r->cfg, ev->sinks[i]);
	if (r->json) {
		qsort(names, n, sizeof(*names), compare_strings);
		printf("{\"uid\":");
		json_string(ev->uid);
		printf(",\"namespace\":");
		json_string(ev->namespace);
		printf(",\"reason\":");
		json_string(ev->reason);
		printf(",\"routes\":[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				putchar(',');
			json_string(names[i]);
		}
		printf("]}\n");
		return;
	}
	printf("line %lu", r->in->line);
	if (ev->item)
		printf(" item %ld", ev->item);
	printf(": %s %s %s %s%s%s (uid %s) -> ", ev->type, ev->reason, ev->kind, ev->namespace,
	       ev->namespace[0] ? "/" : "", ev->name, ev->uid[0] ? ev->uid : "none");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", names[i]);
	if (n == 0)
		printf(ev->dropped_by ? "dropped by %s" : "no route", ev->dropped_by);
	else if (ev->dropped_by)
		printf(" (then dropped by %s)", ev->dropped_by);
	putchar('\n');
	for (size_t i = 0; i < r->nitems; i++) {
		int sink = r->items[i].sink;
		if (is_alert_sink(r->cfg, sink))
			printf("  %s: grouped for an alert (messages below)\n", sink_name(r->cfg, sink));
		else
			printf("  %s would get: %s\n", sink_name(r->cfg, sink), r->items[i].item);
		free(r->items[i].item);
	}
	r->nitems = 0;
}

int replay_run(const struct options *o)
{
	if (!o->input)
		return cli_usage_error("replay needs a FILE (or - for stdin)");
	struct runtime_opts ro = { o->config_dir, o->rules_dir, o->secrets_dir, o->scripts_dir,
				   o->memory_files, o->memory_secrets };
	struct runtime *rt = runtime_new(&ro);
	if (!rt || runtime_load(rt, RUNNER_REPLAY) < 0) {
		runtime_free(rt);
		return EXIT_CONFIG;
	}
	const struct runner_config *cfg = runtime_config(rt);
	struct luahost *h = runtime_host(rt);
	struct ingest in;
	struct replay r = { .cfg = cfg, .in = &in, .json = o->json,
			    .alerts = calloc(cfg->nsinks ? cfg->nsinks : 1, sizeof(struct alerts *)) };
	struct runner_hooks hooks = {
		.arg = &r, .describe = true, .emit = replay_emit, .routed = replay_routed,
	};
	ingest_init(&in, rt, strcmp(o->input, "-") == 0 ? "stdin" : o->input,
		    o->cluster_given ? o->cluster : NULL, &hooks);
	int rc = read_input(o->input, &in);
	if (r.alerts)
		replay_alerts(&r, h);
	free(r.alerts);
	fflush(stdout);
	fprintf(stderr, "replay: %lu event%s routed, %lu record%s or item%s skipped\n",
		in.stats.events, in.stats.events == 1 ? "" : "s", in.stats.skipped,
		in.stats.skipped == 1 ? "" : "s", in.stats.skipped == 1 ? "" : "s");
	int exit_code = rc < 0 ? EXIT_IO : (in.stats.skipped || in.stats.failed) ? EXIT_INPUT : EXIT_OK;
	for (size_t i = 0; i < r.nitems; i++)
		free(r.items[i].item);
	free(r.items);
	ingest_free(&in);
	runtime_free(rt);
	return exit_code;
}

