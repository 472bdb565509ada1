/* main: the command line. Parses options, builds the parts, runs one
 * command. Owns nothing past its own lifetime; every module it builds is
 * freed before exit. Exit codes are part of the interface (see usage). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "confwatch.h"
#include "http.h"
#include "httpd.h"
#include "json.h"
#include "ingest.h"
#include "kubeconfig.h"
#include "log.h"
#include "loop.h"
#include "luahost.h"
#include "metrics.h"
#include "runner.h"
#include "seen.h"
#include "sinks.h"
#include "watch.h"

enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,     /* configuration invalid, or an example failed */
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,      /* replay/run --from: some input records skipped */
	EXIT_IO = 4,         /* input unreadable, or events left undelivered */
};

static const char usage_text[] =
	"usage: herald [run] [options]            watch, route, deliver\n"
	"       herald check [options]            validate the configuration, run its examples\n"
	"       herald replay [options] FILE|-    show where recorded events would go; send nothing\n"
	"       herald --help | --version\n"
	"\n"
	"options:\n"
	"  -c, --config DIR       sinks.lua and rules/ (default: $HERALD_CONFIG, else .)\n"
	"      --rules-dir DIR    the rule files (default: the config's rules/)\n"
	"      --secrets-dir DIR  where secret \"name\" reads files\n"
	"                         (default: $HERALD_SECRETS_DIR, else /etc/herald/secrets)\n"
	"      --scripts-dir DIR  read herald's own Lua from DIR instead of the built-in copy\n"
	"      --from FILE|-      run: read events from FILE or stdin instead of watching clusters\n"
	"      --kubeconfig PATHS kubeconfig file(s), ':'-separated (default: $KUBECONFIG,\n"
	"                         else ~/.kube/config; in a pod: the service account)\n"
	"      --context NAME     kubeconfig context (default: current-context)\n"
	"      --cluster-name N   the cluster events are tagged with (default: default;\n"
	"                         replay keeps an event's own `cluster` when it has one)\n"
	"      --cluster NAME=KUBECONFIG[:CONTEXT]\n"
	"                         watch this cluster too (repeatable; replaces the default one)\n"
	"      --namespace NS     watch only these namespaces (repeatable or a,b,c; default: all)\n"
	"      --state-dir DIR    remember what was delivered across restarts\n"
	"      --max-event-age D  without --state-dir, alert sinks skip events older than D\n"
	"                         when herald starts (default 5m; seconds or 30s, 5m, 1h)\n"
	"      --watch-timeout S  a watch lasts S/2..S seconds before it is renewed (default 600)\n"
	"      --json             replay: one JSON object per event:\n"
	"                         {\"uid\",\"namespace\",\"reason\",\"routes\":[...]}\n"
	"      --log-level L      debug, info, warn, error (default: info)\n"
	"      --log-format F     text or json (one object per line)\n"
	"      --listen ADDR      serve /metrics, /healthz, /readyz, /status on ADDR\n"
	"                         (host:port; default :9090 in a pod, else off; off disables)\n"
	"\n"
	"Input (replay, --from): JSON lines of Events or of watch events\n"
	"({\"type\":..,\"object\":..}), or `kubectl get events -o json` output.\n"
	"\n"
	"exit codes: 0 ok; 1 configuration invalid or an example failed; 2 usage;\n"
	"            3 some input records were skipped (each reported with its line);\n"
	"            4 input unreadable or events left undelivered\n";

#define MAX_CLUSTERS 128
#define MAX_NAMESPACES 64

struct options {
	const char *command;
	const char *kubeconfig;
	const char *context;
	const char *clusters[MAX_CLUSTERS];   /* NAME=KUBECONFIG[:CONTEXT] */
	int nclusters;
	char *namespaces[MAX_NAMESPACES];
	int nnamespaces;
	const char *state_dir;
	const char *listen;           /* NULL: default (in a pod :9090, else off) */
	long max_event_age_s;
	int watch_timeout_s;
	const char *config_dir;
	const char *rules_dir;
	const char *secrets_dir;
	const char *scripts_dir;
	const char *from;
	const char *cluster;
	bool cluster_given;
	bool json;
	const char *input;
};

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "herald: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'herald --help'.\n");
	return EXIT_USAGE;
}

static struct luahost *make_host(const struct options *o)
{
	struct luahost_opts ho = { .scripts_dir = o->scripts_dir, .limits = LUAHOST_DEFAULT_LIMITS };
	struct luahost *h = luahost_new(&ho);
	if (h)
		runner_register(h);
	return h;
}

/* Loads the configuration; prints a one-line verdict for check. */
static int load_config(struct luahost *h, const struct options *o, enum runner_mode mode,
		       const struct runner_report *report, struct runner_config *cfg)
{
	bool check = mode == RUNNER_CHECK;
	if (runner_load(h, o->config_dir, o->rules_dir, o->secrets_dir, mode, report, cfg) < 0)
		return -1;
	if (report)
		return cfg->ok ? 0 : -1;
	if (check || !cfg->ok)
		fprintf(check ? stdout : stderr,
			"%s: %zu sink%s, %zu rule file%s, %zu rule%s, %zu example%s (%zu failed), "
			"%zu error%s, %zu warning%s\n",
			cfg->ok ? "ok" : "invalid",
			cfg->nsinks, cfg->nsinks == 1 ? "" : "s", cfg->files, cfg->files == 1 ? "" : "s",
			cfg->rules, cfg->rules == 1 ? "" : "s", cfg->examples, cfg->examples == 1 ? "" : "s",
			cfg->examples_failed, cfg->errors, cfg->errors == 1 ? "" : "s",
			cfg->warnings, cfg->warnings == 1 ? "" : "s");
	return cfg->ok ? 0 : -1;
}

static int cmd_check(const struct options *o)
{
	struct luahost *h = make_host(o);
	if (!h)
		return EXIT_CONFIG;
	struct runner_config cfg;
	int rc = load_config(h, o, RUNNER_CHECK, NULL, &cfg) == 0 ? EXIT_OK : EXIT_CONFIG;
	runner_config_free(&cfg);
	luahost_free(h);
	return rc;
}

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

static int cmd_replay(const struct options *o)
{
	if (!o->input)
		return usage_error("replay needs a FILE (or - for stdin)");
	struct luahost *h = make_host(o);
	if (!h)
		return EXIT_CONFIG;
	struct runner_config cfg;
	if (load_config(h, o, RUNNER_REPLAY, NULL, &cfg) < 0) {
		runner_config_free(&cfg);
		luahost_free(h);
		return EXIT_CONFIG;
	}
	struct ingest in;
	struct replay r = { .cfg = &cfg, .in = &in, .json = o->json,
			    .alerts = calloc(cfg.nsinks ? cfg.nsinks : 1, sizeof(struct alerts *)) };
	struct runner_hooks hooks = {
		.arg = &r, .describe = true, .emit = replay_emit, .routed = replay_routed,
	};
	ingest_init(&in, h, strcmp(o->input, "-") == 0 ? "stdin" : o->input,
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
	runner_config_free(&cfg);
	luahost_free(h);
	return exit_code;
}

/* run: events from clusters (or a file or a pipe), through the loop, to
 * sinks. */
struct cluster {
	char *name;
	struct kubeconn conn;
	struct seen *seen;
	char *state_path;
	struct watch *watches[MAX_NAMESPACES];
	int nwatches;
};

struct runner_state {
	const struct options *o;
	struct luahost *host;          /* the Lua state in force */
	struct runner_config cfg;      /* its configuration */
	struct loop *loop;
	struct http *http;
	struct sinks *sinks;
	struct confwatch *confwatch;
	struct httpd *httpd;
	uint64_t loaded_hash, refused_hash;
	time_t loaded_at;
	bool rejected;                 /* the files hold a refused configuration */
	struct buf reload_errors;      /* the last refusal's lines, for /status */
	struct ingest in;
	struct loop_timer *read_timer;
	struct loop_timer *state_timer;
	struct loop_timer *resume_timer;
	struct loop_timer *drain_timer;
	struct cluster *clusters;
	int nclusters;
	int fd;
	bool eof, io_error, stopping;
};

#define SEEN_CAPACITY 200000   /* events remembered per cluster (an hour of a busy cluster) */
#define STATE_SAVE_MS 5000

static void run_emit(void *arg, const struct runner_item *it)
{
	struct runner_state *st = arg;
	sinks_push(st->sinks, it);
}

static void run_flush(void *arg)
{
	struct runner_state *st = arg;
	sinks_flush_due(st->sinks);
}

static bool run_blocked(void *arg)
{
	struct runner_state *st = arg;
	return sinks_blocked(st->sinks);
}

/* Writes what the local sinks hold, then what was delivered: a state file
 * never claims an event that is still in a queue or in flight to a server.
 * While a sink still has events queued or in flight the save waits for a
 * later tick (so a crash may deliver again, never lose). Events alert
 * groups hold (for minutes, by design) are left out of the file instead. */
static void save_state(struct runner_state *st)
{
	bool drained = false;
	uint64_t *held = NULL;
	size_t nheld = 0;
	for (int i = 0; i < st->nclusters; i++) {
		struct cluster *c = &st->clusters[i];
		if (!c->state_path || !seen_dirty(c->seen))
			continue;
		if (!drained) {
			if (sinks_drain(st->sinks) > 0 || sinks_unsettled(st->sinks) > 0 ||
			    !sinks_held_uids(st->sinks, &held, &nheld))
				break; /* not everything is delivered yet: keep the old state */
			drained = true;
		}
		seen_save(c->seen, c->state_path, held, nheld);
	}
	free(held);
}

static void on_state_timer(struct loop *loop, void *arg)
{
	struct runner_state *st = arg;
	save_state(st);
	loop_timer_start(st->state_timer, STATE_SAVE_MS);
}

/* Resumes paused watches once no sink is over its bound. */
static void on_resume_timer(struct loop *loop, void *arg)
{
	struct runner_state *st = arg;
	if (!sinks_blocked(st->sinks))
		for (int i = 0; i < st->nclusters; i++)
			for (int j = 0; j < st->clusters[i].nwatches; j++)
				watch_resume(st->clusters[i].watches[j]);
	loop_timer_start(st->resume_timer, 100);
}

static void read_some(struct runner_state *st)
{
	char chunk[65536];
	ssize_t n = read(st->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0) {
			log_error("reading %s: %s", st->in.source, strerror(errno));
			st->io_error = true;
		}
		st->eof = true;
		ingest_finish(&st->in);
		sinks_flush_due(st->sinks);
		loop_fd_unwatch(st->loop, st->fd);
		loop_stop(st->loop);
		return;
	}
	ingest_feed(&st->in, chunk, (size_t)n);
	sinks_flush_due(st->sinks);
}

static void on_input(struct loop *loop, int fd, int events, void *arg)
{
	struct runner_state *st = arg;
	if (sinks_blocked(st->sinks)) {
		/* A sink's output is failing: stop reading until it drains. */
		loop_fd_unwatch(loop, fd);
		loop_timer_start(st->read_timer, 100);
		return;
	}
	read_some(st);
}

static void on_read_timer(struct loop *loop, void *arg)
{
	/* Regular files (which epoll cannot watch) are read one chunk per
	 * turn, so timers and signals still run between chunks. */
	struct runner_state *st = arg;
	if (sinks_blocked(st->sinks)) {
		loop_timer_start(st->read_timer, 100);
		return;
	}
	if (loop_fd_watch(loop, st->fd, LOOP_READ, on_input, st) == 0)
		return;
	read_some(st);
	if (!st->eof)
		loop_timer_start(st->read_timer, 0);
}

static void reload(struct runner_state *st, bool forced);

#define DRAIN_MS 10000

static void on_drain_check(struct loop *loop, void *arg)
{
	struct runner_state *st = arg;
	if (sinks_pending(st->sinks) == 0)
		loop_stop(loop);
	else
		loop_timer_start(st->drain_timer, 50);
}

static void on_drain_deadline(struct loop *loop, void *arg)
{
	log_warn("draining took longer than %d s: stopping with events still queued", DRAIN_MS / 1000);
	loop_stop(loop);
}

/* Runs the loop until the HTTP sinks have sent what they hold, or the
 * deadline passes (a second signal ends it too). */
static void drain_async(struct runner_state *st)
{
	log_info("sending %zu queued events before stopping", sinks_pending(st->sinks));
	st->drain_timer = loop_timer_new(st->loop, on_drain_check, st);
	struct loop_timer *deadline = loop_timer_new(st->loop, on_drain_deadline, st);
	if (!st->drain_timer || !deadline) {
		loop_timer_free(st->drain_timer);
		loop_timer_free(deadline);
		return;
	}
	sinks_set_draining(st->sinks);
	loop_timer_start(st->drain_timer, 0);
	loop_timer_start(deadline, DRAIN_MS);
	loop_run(st->loop);
	loop_timer_free(deadline);
	loop_timer_free(st->drain_timer);
	st->drain_timer = NULL;
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct runner_state *st = arg;
	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading the configuration");
		reload(st, true);
		return;
	}
	log_info("signal %d: draining queues and stopping", signo);
	st->stopping = true;
	loop_stop(loop);
}

/* Reads how to reach every cluster. -1 (logged) on the first failure. */
static int open_clusters(const struct options *o, struct runner_state *st)
{
	int n = o->nclusters ? o->nclusters : 1;
	st->clusters = calloc((size_t)n, sizeof(*st->clusters));
	if (!st->clusters)
		return -1;
	char err[512];
	for (int i = 0; i < n; i++) {
		struct cluster *c = &st->clusters[i];
		st->nclusters = i + 1;
		int rc;
		if (o->nclusters) {
			/* NAME=KUBECONFIG[:CONTEXT] */
			const char *eq = strchr(o->clusters[i], '=');
			c->name = strndup(o->clusters[i], (size_t)(eq - o->clusters[i]));
			char *path = strdup(eq + 1);
			char *colon = strchr(path, ':');
			if (colon)
				*colon = '\0';
			rc = kubeconfig_load(path, colon && colon[1] ? colon + 1 : NULL, &c->conn, err, sizeof(err));
			free(path);
		} else {
			c->name = strdup(o->cluster);
			bool in_pod = !o->kubeconfig && getenv("KUBERNETES_SERVICE_HOST") &&
				      *getenv("KUBERNETES_SERVICE_HOST");
			rc = in_pod ? kubeconfig_in_cluster(&c->conn, err, sizeof(err))
				    : kubeconfig_load(o->kubeconfig, o->context, &c->conn, err, sizeof(err));
		}
		if (rc < 0) {
			log_error("cluster %s: %s", c->name, err);
			return -1;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(st->clusters[j].name, c->name) == 0) {
				log_error("cluster %s is named twice", c->name);
				return -1;
			}
		}
		c->seen = seen_new(SEEN_CAPACITY);
		if (!c->seen)
			return -1;
	}
	return 0;
}

static int start_clusters(const struct options *o, struct runner_state *st, struct luahost *h)
{
	time_t now = time(NULL);
	for (int i = 0; i < st->nclusters; i++) {
		struct cluster *c = &st->clusters[i];
		bool loaded = false;
		if (o->state_dir) {
			struct buf path = BUF_INIT;
			buf_printf(&path, "%s/%s.seen", o->state_dir, c->name);
			c->state_path = path.data;
			seen_load(c->seen, c->state_path, &loaded);
			if (loaded)
				log_info("cluster %s: %zu delivered events remembered from %s", c->name,
					 seen_count(c->seen), c->state_path);
		}
		int nns = o->nnamespaces ? o->nnamespaces : 1;
		for (int j = 0; j < nns; j++) {
			struct watch_config wc = {
				.cluster = c->name,
				.conn = &c->conn,
				.namespace = o->nnamespaces ? o->namespaces[j] : NULL,
				.timeout_s = o->watch_timeout_s,
				.page_size = 500,
				.seen = c->seen,
				.fresh_start = !loaded,
				.started = now,
				.max_event_age_s = o->max_event_age_s,
				.emit = run_emit,
				.after_data = run_flush,
				.blocked = run_blocked,
				.arg = st,
			};
			c->watches[j] = watch_new(st->loop, st->http, h, &wc);
			if (!c->watches[j])
				return -1;
			c->nwatches = j + 1;
			watch_start(c->watches[j]);
		}
	}
	return 0;
}

static void close_clusters(struct runner_state *st)
{
	for (int i = 0; i < st->nclusters; i++) {
		struct cluster *c = &st->clusters[i];
		for (int j = 0; j < c->nwatches; j++)
			watch_free(c->watches[j]);
		seen_free(c->seen);
		kubeconn_free(&c->conn);
		free(c->state_path);
		free(c->name);
	}
	free(st->clusters);
}

/* The directories a configuration is read from. */
static size_t config_dirs(const struct options *o, char dirs[3][4096])
{
	size_t n = 0;
	snprintf(dirs[n++], 4096, "%s", o->config_dir);
	if (o->rules_dir)
		snprintf(dirs[n++], 4096, "%s", o->rules_dir);
	else
		snprintf(dirs[n++], 4096, "%s/rules", o->config_dir);
	snprintf(dirs[n++], 4096, "%s/sinks", o->config_dir);
	return n;
}

static uint64_t config_hash(const struct options *o)
{
	char dirs[3][4096];
	size_t n = config_dirs(o, dirs);
	const char *ptrs[3] = { dirs[0], dirs[1], dirs[2] };
	return confwatch_hash(ptrs, n);
}

static void collect_line(void *arg, const char *severity, const char *text)
{
	struct runner_state *st = arg;
	if (strcmp(severity, "error") == 0) {
		log_error("reload: %s", text);
		buf_printf(&st->reload_errors, "%s\n", text);
	} else {
		log_warn("reload: %s", text);
	}
}

/* A Kubernetes Event about herald itself, on its own Pod (POD_NAME and
 * POD_NAMESPACE from the downward API), through the first cluster. */
static void post_rejection(struct runner_state *st)
{
	const char *pod = getenv("POD_NAME"), *ns = getenv("POD_NAMESPACE");
	if (!pod || !*pod || !ns || !*ns || st->nclusters == 0 || st->clusters[0].nwatches == 0)
		return;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct buf msg = BUF_INIT, body = BUF_INIT, path = BUF_INIT;
	buf_printf(&msg, "herald refused the new configuration; the previous one keeps running: %.*s",
		   (int)(st->reload_errors.len > 900 ? 900 : st->reload_errors.len),
		   st->reload_errors.data ? st->reload_errors.data : "");
	msg.len = log_redact(msg.data, msg.len);
	buf_printf(&body, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":\"herald-\"},"
		   "\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"namespace\":");
	json_append_string(&body, ns, strlen(ns));
	buf_printf(&body, ",\"name\":");
	json_append_string(&body, pod, strlen(pod));
	if (getenv("POD_UID") && *getenv("POD_UID")) {
		buf_printf(&body, ",\"uid\":");
		json_append_string(&body, getenv("POD_UID"), strlen(getenv("POD_UID")));
	}
	buf_printf(&body, "},\"reason\":\"RulesRejected\",\"type\":\"Warning\",\"message\":");
	json_append_string(&body, msg.data, msg.len);
	buf_printf(&body, ",\"source\":{\"component\":\"herald\"},\"reportingComponent\":\"herald\","
		   "\"reportingInstance\":");
	json_append_string(&body, pod, strlen(pod));
	buf_printf(&body, ",\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\",\"count\":1}", now, now);
	buf_printf(&path, "/api/v1/namespaces/%s/events", ns);
	watch_post(st->clusters[0].watches[0], path.data, body.data);
	buf_free(&msg);
	buf_free(&body);
	buf_free(&path);
}

/* Builds a new Lua state from the files, validates it (compiles, checks
 * sinks and options, runs the examples, opens outputs) and only then swaps
 * it in, between two events. On any failure the old state keeps running. */
static void reload(struct runner_state *st, bool forced)
{
	uint64_t hash = config_hash(st->o);
	if (!forced && (hash == st->loaded_hash || hash == st->refused_hash))
		return; /* nothing new (or the same refused files again) */
	buf_reset(&st->reload_errors);
	struct runner_report report = { collect_line, st };
	struct luahost *h = make_host(st->o);
	struct runner_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	bool ok = h && load_config(h, st->o, RUNNER_RUN, &report, &cfg) == 0 &&
		  sinks_apply(st->sinks, cfg.sinks, cfg.nsinks) == 0;
	if (!ok) {
		if (!st->reload_errors.len)
			buf_printf(&st->reload_errors, "%s\n", h ? "a sink's output could not be opened" : "the Lua state could not be created");
		runner_config_free(&cfg);
		luahost_free(h);
		st->refused_hash = hash;
		st->rejected = true;
		metrics_inc("herald_config_reloads_total", 1, "result", "refused", NULL);
		metrics_set("herald_config_rejected", 1, NULL);
		log_error("reload refused; the previous configuration keeps running");
		post_rejection(st);
		return;
	}
	struct luahost *old = st->host;
	st->host = h;
	for (int i = 0; i < st->nclusters; i++)
		for (int j = 0; j < st->clusters[i].nwatches; j++)
			watch_set_host(st->clusters[i].watches[j], h);
	if (st->o->from)
		st->in.host = h;
	sinks_set_host(st->sinks, h);
	runner_config_free(&st->cfg);
	st->cfg = cfg;
	luahost_free(old);
	st->loaded_hash = hash;
	st->refused_hash = 0;
	st->rejected = false;
	st->loaded_at = time(NULL);
	metrics_inc("herald_config_reloads_total", 1, "result", "ok", NULL);
	metrics_set("herald_config_rejected", 0, NULL);
	metrics_set("herald_config_last_reload_success_timestamp_seconds", (double)st->loaded_at, NULL);
	log_info("configuration reloaded: %zu sink%s, %zu rule%s, %zu example%s", cfg.nsinks,
		 cfg.nsinks == 1 ? "" : "s", cfg.rules, cfg.rules == 1 ? "" : "s", cfg.examples,
		 cfg.examples == 1 ? "" : "s");
}

static void on_config_change(void *arg)
{
	reload(arg, false);
}

static bool all_established(const struct runner_state *st)
{
	for (int i = 0; i < st->nclusters; i++)
		for (int j = 0; j < st->clusters[i].nwatches; j++)
			if (!watch_established(st->clusters[i].watches[j]))
				return false;
	return true;
}

static int serve(void *arg, const char *path, struct buf *body, const char **type)
{
	struct runner_state *st = arg;
	if (strcmp(path, "/healthz") == 0) {
		buf_printf(body, "ok\n"); /* answering at all means the loop runs */
		return 200;
	}
	if (strcmp(path, "/readyz") == 0) {
		bool ready = all_established(st);
		buf_printf(body, ready ? "ok\n" : "not ready: a cluster's watch is not established\n");
		return ready ? 200 : 503;
	}
	if (strcmp(path, "/metrics") == 0) {
		sinks_export_metrics(st->sinks);
		for (int i = 0; i < st->nclusters; i++) {
			bool up = true;
			for (int j = 0; j < st->clusters[i].nwatches; j++)
				up = up && watch_established(st->clusters[i].watches[j]);
			metrics_set("herald_watch_established", up ? 1 : 0, "cluster", st->clusters[i].name, NULL);
		}
		metrics_expose(body);
		*type = "text/plain; version=0.0.4; charset=utf-8";
		return 200;
	}
	if (strcmp(path, "/status") == 0) {
		*type = "application/json";
		buf_printf(body, "{\"version\":\"%s\",\"config\":{\"state\":\"%s\",\"loaded_at\":%lld,"
			   "\"sinks\":%zu,\"rules\":%zu,\"refused\":[", HERALD_VERSION,
			   st->rejected ? "refused" : "ok", (long long)st->loaded_at, st->cfg.nsinks, st->cfg.rules);
		const char *p = st->reload_errors.data;
		bool first = true;
		while (st->rejected && p && *p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			if (!first)
				buf_putc(body, ',');
			json_append_string(body, p, len);
			first = false;
			p += len + (nl ? 1 : 0);
		}
		buf_printf(body, "]},\"clusters\":[");
		for (int i = 0; i < st->nclusters; i++) {
			bool up = true;
			for (int j = 0; j < st->clusters[i].nwatches; j++)
				up = up && watch_established(st->clusters[i].watches[j]);
			buf_printf(body, "%s{\"name\":", i ? "," : "");
			json_append_string(body, st->clusters[i].name, strlen(st->clusters[i].name));
			buf_printf(body, ",\"established\":%s}", up ? "true" : "false");
		}
		buf_printf(body, "]}\n");
		body->len = log_redact(body->data, body->len);
		return 200;
	}
	buf_printf(body, "not found\n");
	return 404;
}

static int cmd_run(const struct options *o)
{
	if (o->state_dir && !o->from) {
		struct stat sb;
		if (stat(o->state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return usage_error("--state-dir %s is not a directory", o->state_dir);
	}
	struct runner_state st = { .o = o, .fd = -1 };
	int exit_code = EXIT_OK;
	/* Watch the configuration before reading it: an edit that lands while
	 * it loads is then seen (its hash differs from the loaded one). */
	st.loop = loop_new();
	if (!st.loop)
		return EXIT_IO;
	char dirs[3][4096];
	size_t ndirs = config_dirs(o, dirs);
	const char *dir_ptrs[3] = { dirs[0], dirs[1], dirs[2] };
	st.loaded_hash = config_hash(o);
	st.confwatch = confwatch_new(st.loop, dir_ptrs, ndirs, 1000, 30000, st.loaded_hash,
				     on_config_change, &st);
	st.host = make_host(o);
	if (!st.host) {
		exit_code = EXIT_CONFIG;
		goto out;
	}
	if (load_config(st.host, o, RUNNER_RUN, NULL, &st.cfg) < 0) {
		exit_code = EXIT_CONFIG;
		goto out;
	}
	st.loaded_at = time(NULL);
	metrics_set("herald_build_info", 1, "version", HERALD_VERSION, NULL);
	metrics_set("herald_config_last_reload_success_timestamp_seconds", (double)st.loaded_at, NULL);
	metrics_set("herald_config_rejected", 0, NULL);
	st.http = http_new(st.loop);
	st.sinks = st.http ? sinks_new(st.loop, st.host, st.http) : NULL;
	st.read_timer = st.loop ? loop_timer_new(st.loop, on_read_timer, &st) : NULL;
	st.state_timer = st.loop ? loop_timer_new(st.loop, on_state_timer, &st) : NULL;
	if (!st.sinks || !st.read_timer || !st.state_timer ||
	    sinks_apply(st.sinks, st.cfg.sinks, st.cfg.nsinks) < 0) {
		exit_code = EXIT_IO;
		goto out;
	}
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	if (loop_signals(st.loop, signals, 3, on_signal, &st) < 0)
		log_warn("signals: %s", strerror(errno));
	const char *listen = o->listen;
	if (!listen && getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST"))
		listen = ":9090";
	if (listen && strcmp(listen, "off") != 0) {
		st.httpd = httpd_new(st.loop, listen, serve, &st);
		if (!st.httpd) {
			exit_code = EXIT_USAGE;
			goto out;
		}
		log_info("serving /metrics, /healthz, /readyz, /status on port %d", httpd_port(st.httpd));
	}
	if (o->from) {
		st.fd = strcmp(o->from, "-") == 0 ? STDIN_FILENO : open(o->from, O_RDONLY | O_CLOEXEC);
		if (st.fd < 0) {
			log_error("%s: %s", o->from, strerror(errno));
			exit_code = EXIT_IO;
			goto out;
		}
		struct runner_hooks hooks = { .arg = &st, .emit = run_emit };
		ingest_init(&st.in, st.host, strcmp(o->from, "-") == 0 ? "stdin" : o->from, o->cluster, &hooks);
		log_info("herald %s: routing events from %s to %zu sink%s", HERALD_VERSION, st.in.source,
			 st.cfg.nsinks, st.cfg.nsinks == 1 ? "" : "s");
		loop_timer_start(st.read_timer, 0);
	} else {
		if (open_clusters(o, &st) < 0 || start_clusters(o, &st, st.host) < 0) {
			exit_code = EXIT_CONFIG;
			goto out;
		}
		log_info("herald %s: watching %d cluster%s, routing to %zu sink%s", HERALD_VERSION,
			 st.nclusters, st.nclusters == 1 ? "" : "s", st.cfg.nsinks, st.cfg.nsinks == 1 ? "" : "s");
		loop_timer_start(st.state_timer, STATE_SAVE_MS);
		st.resume_timer = loop_timer_new(st.loop, on_resume_timer, &st);
		if (st.resume_timer)
			loop_timer_start(st.resume_timer, 100);
	}
	if (loop_run(st.loop) < 0)
		exit_code = EXIT_IO;
	loop_update_time(st.loop);
	/* Stop reading, then deliver what is queued: local outputs at once,
	 * HTTP ones within DRAIN_MS. */
	for (int i = 0; i < st.nclusters; i++)
		for (int j = 0; j < st.clusters[i].nwatches; j++)
			watch_stop(st.clusters[i].watches[j]);
	size_t left = sinks_drain(st.sinks);
	if (sinks_pending(st.sinks) > left)
		drain_async(&st);
	left = sinks_pending(st.sinks);
	if (left) {
		log_error("%zu event%s could not be delivered", left, left == 1 ? "" : "s");
		exit_code = EXIT_IO;
	} else {
		save_state(&st);
	}
	if (o->from) {
		log_info("done: %lu events routed, %lu records or items skipped", st.in.stats.events,
			 st.in.stats.skipped);
		if (exit_code == EXIT_OK && st.io_error)
			exit_code = EXIT_IO;
		if (exit_code == EXIT_OK && !st.stopping && (st.in.stats.skipped || st.in.stats.failed))
			exit_code = EXIT_INPUT;
		ingest_free(&st.in);
	}
out:
	if (st.fd > STDIN_FILENO)
		close(st.fd);
	close_clusters(&st);
	confwatch_free(st.confwatch);
	httpd_free(st.httpd);
	sinks_free(st.sinks);   /* cancels its requests in flight: before http */
	http_free(st.http);
	loop_timer_free(st.read_timer);
	loop_timer_free(st.state_timer);
	loop_timer_free(st.resume_timer);
	loop_free(st.loop);
	runner_config_free(&st.cfg);
	luahost_free(st.host);
	buf_free(&st.reload_errors);
	return exit_code;
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "secrets-dir", required_argument, NULL, 256 },
	{ "scripts-dir", required_argument, NULL, 257 },
	{ "from", required_argument, NULL, 258 },
	{ "cluster-name", required_argument, NULL, 259 },
	{ "json", no_argument, NULL, 260 },
	{ "log-level", required_argument, NULL, 261 },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 262 },
	{ "kubeconfig", required_argument, NULL, 263 },
	{ "context", required_argument, NULL, 264 },
	{ "cluster", required_argument, NULL, 265 },
	{ "namespace", required_argument, NULL, 266 },
	{ "state-dir", required_argument, NULL, 267 },
	{ "max-event-age", required_argument, NULL, 268 },
	{ "watch-timeout", required_argument, NULL, 269 },
	{ "rules-dir", required_argument, NULL, 270 },
	{ "listen", required_argument, NULL, 271 },
	{ "log-format", required_argument, NULL, 272 },
	{ NULL, 0, NULL, 0 },
};

/* "90", "90s", "5m", "1h" -> seconds; -1 when it is none of those. */
static long parse_duration_s(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "m") == 0)
		return v * 60;
	if (strcmp(end, "h") == 0)
		return v * 3600;
	return -1;
}

/* Reads options until the first non-option. Returns -1 to go on, or the
 * exit code (after --help, --version or a usage error). */
static int parse_options(int argc, char **argv, struct options *o)
{
	int c;
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		enum log_level level;
		switch (c) {
		case 'c': o->config_dir = optarg; break;
		case 256: o->secrets_dir = optarg; break;
		case 257: o->scripts_dir = optarg; break;
		case 258: o->from = optarg; break;
		case 259: o->cluster = optarg; o->cluster_given = true; break;
		case 260: o->json = true; break;
		case 261:
			if (log_parse_level(optarg, &level) < 0)
				return usage_error("unknown log level '%s'", optarg);
			log_set_level(level);
			break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case 262: printf("herald %s\n", HERALD_VERSION); return EXIT_OK;
		case 263: o->kubeconfig = optarg; break;
		case 264: o->context = optarg; break;
		case 265:
			if (o->nclusters == MAX_CLUSTERS)
				return usage_error("at most %d --cluster", MAX_CLUSTERS);
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return usage_error("--cluster wants NAME=KUBECONFIG[:CONTEXT], not '%s'", optarg);
			o->clusters[o->nclusters++] = optarg;
			break;
		case 266: {
			char *copy = strdup(optarg), *save = NULL;
			for (char *ns = strtok_r(copy, ",", &save); ns; ns = strtok_r(NULL, ",", &save)) {
				if (o->nnamespaces == MAX_NAMESPACES)
					return usage_error("at most %d namespaces", MAX_NAMESPACES);
				o->namespaces[o->nnamespaces++] = strdup(ns);
			}
			free(copy);
			break;
		}
		case 267: o->state_dir = optarg; break;
		case 270: o->rules_dir = optarg; break;
		case 271: o->listen = optarg; break;
		case 272:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return usage_error("--log-format is text or json, not '%s'", optarg);
			log_set_json(strcmp(optarg, "json") == 0);
			break;
		case 268:
			if ((o->max_event_age_s = parse_duration_s(optarg)) < 0)
				return usage_error("--max-event-age: '%s' is not a duration (30s, 5m, 1h)", optarg);
			break;
		case 269:
			if ((o->watch_timeout_s = (int)parse_duration_s(optarg)) < 2)
				return usage_error("--watch-timeout: '%s' is not a duration of 2s or more", optarg);
			break;
		default: return usage_error("%s", "bad option");
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct options o = {
		.config_dir = getenv("HERALD_CONFIG") ? getenv("HERALD_CONFIG") : ".",
		.secrets_dir = getenv("HERALD_SECRETS_DIR") ? getenv("HERALD_SECRETS_DIR")
							    : "/etc/herald/secrets",
		.cluster = "default",
		.max_event_age_s = 300,
		.watch_timeout_s = 600,
	};
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid()); /* backoff jitter differs per process */
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	o.command = "run";
	if (optind < argc) {
		/* Options may also follow the command: herald replay --json FILE.
		 * Parse the rest as if the command were the program name. */
		o.command = argv[optind];
		argc -= optind;
		argv += optind;
		optind = 1;
		if ((rc = parse_options(argc, argv, &o)) >= 0)
			return rc;
		if (optind < argc)
			o.input = argv[optind++];
		if (optind < argc)
			return usage_error("unexpected argument '%s'", argv[optind]);
	}
	if (strcmp(o.command, "check") == 0)
		rc = o.input ? usage_error("check takes no FILE ('%s')", o.input) : cmd_check(&o);
	else if (strcmp(o.command, "replay") == 0)
		rc = cmd_replay(&o);
	else if (strcmp(o.command, "run") == 0)
		rc = o.input ? usage_error("run takes no FILE ('%s'): use --from", o.input) : cmd_run(&o);
	else
		rc = usage_error("unknown command '%s'", o.command);
	for (int i = 0; i < o.nnamespaces; i++)
		free(o.namespaces[i]);
	return rc;
}
