/* watch: one list+watch loop. Owns its transfer, its timers and its
 * ingest (framer) and the "current event" note it holds while an event
 * is routed; the API client and the checkpoint belong to the cluster
 * (source_kube.c). Must not flush sinks: the loop's before-wait hook does. */
#include "watch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "enrich.h"
#include "evmetrics.h"
#include "http.h"
#include "ingest.h"
#include "kubeapi.h"
#include "log.h"
#include "metrics.h"

/* Retries wait 0.8 s * 2^n (at most 30 s), less up to half at random. */
#define BACKOFF_MIN_MS 800
#define BACKOFF_MAX_MS 30000
#define BACKOFF_JITTER 0.5

enum phase { PHASE_IDLE, PHASE_LIST, PHASE_WATCH, PHASE_BACKOFF };

struct watch {
	struct watch_config cfg;
	char *cluster, *namespace;
	char source[160];              /* "cluster" or "cluster/namespace", for messages */
	struct loop *loop;
	struct ingest in;
	struct http_transfer *xfer;
	struct loop_timer *timer;
	void (*after_backoff)(struct watch *w);
	enum phase phase;
	char rv[64];                   /* where the next watch starts */
	char *cont;                    /* list continue token */
	size_t limit;                  /* list page size: cfg.page_size, halved while too large */
	struct ingest_result list;     /* the last List page's result */
	struct backoff backoff;        /* the retry delays (core/backoff.h) */
	unsigned failures;             /* failed attempts since the last success */
	uint64_t stream_start;         /* loop time the current watch began */
	bool stream_data;              /* it delivered bytes */
	bool relist;                   /* an in-stream 410 / too large */
	bool stream_error;             /* an in-stream ERROR other than 410 */
	bool paused;                   /* the stream waits for a sink to drain, or yields */
	bool reached;                  /* the server answered once (no first-run hint) */
	bool listed;                   /* a list reached its end once */
	/* The event being routed: noted with one extra delivery (a guard)
	 * so that a sink acknowledging at once cannot finish it before all
	 * its items are out; the guard is acknowledged when it is routed. */
	bool guard;
	char cur_uid[128], cur_rv[64];
	struct loop_timer *yield_timer;
	/* Per-event series, looked up once: received by type (Normal,
	 * Warning, other), already delivered, last event's time. */
	struct metrics_series *m_received[3], *m_already, *m_relist_skipped, *m_last;
	uint64_t turn;                 /* the loop turn of turn_bytes */
	size_t turn_bytes;             /* read in this turn */
	char path[512];                /* /api/v1[/namespaces/NS]/events */
};

static void start_list(struct watch *w);
static void start_watch(struct watch *w);

static void on_backoff_timer(struct loop *loop, void *arg)
{
	struct watch *w = arg;
	w->after_backoff(w);
}

/* Waits the backoff's next delay, then runs next. */
static void backoff(struct watch *w, void (*next)(struct watch *w))
{
	uint64_t delay = backoff_next(&w->backoff);
	w->failures++;
	w->phase = PHASE_BACKOFF;
	w->after_backoff = next;
	metrics_inc(M_WATCH_RETRIES_TOTAL, 1, "cluster", w->cluster, NULL);
	log_debug("cluster %s: retrying in %llu ms", w->source, (unsigned long long)delay);
	loop_timer_start(w->timer, delay);
}

/* A list or watch worked: the backoff starts again, and a watch that was
 * failing says once that it works again. */
static void succeeded(struct watch *w, const char *what)
{
	backoff_reset(&w->backoff);
	if (w->failures)
		log_info("cluster %s: %s again after %u failed attempt%s", w->source, what, w->failures,
			 w->failures == 1 ? "" : "s");
	w->failures = 0;
}

/* Logs a failed list or watch answer: a 401 says what to check, not the
 * server's JSON. */
static void log_http_failure(struct watch *w, const char *what, const struct http_response *r)
{
	char text[512];
	if (r->status == 401) {
		kubeapi_unauthorized_hint(w->cfg.api, text, sizeof(text));
		log_warn("cluster %s: %s failed: HTTP 401 Unauthorized: the API server did not accept "
			 "herald's credentials; check %s", w->source, what, text);
		return;
	}
	kubeapi_excerpt(r, text, sizeof(text));
	log_warn("cluster %s: %s failed: HTTP %ld %s", w->source, what, r->status, text);
}

static void on_result(void *arg, const struct ingest_result *res)
{
	struct watch *w = arg;
	switch (res->kind) {
	case INGEST_EVENTS:
		if (w->phase == PHASE_LIST)
			w->list = *res;
		else if (res->rv[0])
			snprintf(w->rv, sizeof(w->rv), "%s", res->rv);
		break;
	case INGEST_BAD:
	case INGEST_FAILED:
		/* why a list page could not be used (too_large_page reads it) */
		if (w->phase == PHASE_LIST && w->list.kind != INGEST_EVENTS)
			snprintf(w->list.message, sizeof(w->list.message), "%s", res->message);
		break;
	case INGEST_BOOKMARK:
	case INGEST_DELETED:
		if (res->rv[0] && w->phase == PHASE_WATCH) {
			snprintf(w->rv, sizeof(w->rv), "%s", res->rv);
			checkpoint_progress(w->cfg.ckpt, w->cfg.stream, res->rv);
		}
		break;
	case INGEST_STATUS:
		if (res->code == 410 || res->too_large) {
			log_info("cluster %s: watch from resourceVersion %s %s: relisting", w->source, w->rv,
				 res->too_large ? "is too large" : "expired (410)");
			metrics_inc(M_WATCH_RELISTS_TOTAL, 1, "cluster", w->cluster, NULL);
			w->relist = true;
		} else {
			log_warn("cluster %s: watch error %ld %s: %s", w->source, res->code, res->reason,
				 res->message);
			w->stream_error = true;
		}
		break;
	default:
		break;
	}
}

/* The routed event's guard: acknowledged once its items are out (or the
 * runtime failed in the middle of it). */
static void release_guard(struct watch *w)
{
	if (!w->guard)
		return;
	w->guard = false;
	checkpoint_ack(w->cfg.ckpt, w->cfg.stream, w->cur_uid, w->cur_rv, false);
}

/* Delivered before? Then it is noted (a watch event still moves F) and
 * counted, and goes no further. */
static bool covered(struct watch *w, const char *uid, const char *rv)
{
	struct checkpoint *ck = w->cfg.ckpt;
	enum checkpoint_answer ans = checkpoint_check(ck, w->cfg.stream, uid, rv);
	if (ans == CHECKPOINT_NEW && w->cfg.legacy && !w->listed && seen_has(w->cfg.legacy, uid, rv))
		ans = CHECKPOINT_DELIVERED;   /* delivered by a herald that kept a .seen file */
	if (ans == CHECKPOINT_NEW)
		return false;
	checkpoint_note(ck, w->cfg.stream, uid, rv, 0);
	metrics_series_inc(w->m_already, 1);
	return true;
}

/* A List item, before it is decoded (runner_hooks.covered). */
static bool covered_item(void *arg, const char *uid, const char *rv)
{
	struct watch *w = arg;
	if (!covered(w, uid, rv))
		return false;
	metrics_series_inc(w->m_relist_skipped, 1);
	return true;
}

static int admit(void *arg, const struct runner_admit *a)
{
	struct watch *w = arg;
	const char *uid = a->uid, *rv = a->rv, *type = a->type, *last_seen = a->last_seen;
	struct checkpoint *ck = w->cfg.ckpt;
	release_guard(w);
	if (covered(w, uid, rv))
		return 0;
	if (strlen(uid) < sizeof(w->cur_uid) && strlen(rv) < sizeof(w->cur_rv) &&
	    checkpoint_note(ck, w->cfg.stream, uid, rv, 1) == 0) {
		memcpy(w->cur_uid, uid, strlen(uid) + 1);
		memcpy(w->cur_rv, rv, strlen(rv) + 1);
		w->guard = true;
	}
	evmetrics_count(w->cluster, type, a->reason, a->namespace, a->kind);
	/* type is a label only when it is one of the two Kubernetes uses. */
	int known = strcmp(type, "Normal") == 0 ? 0 : strcmp(type, "Warning") == 0 ? 1 : 2;
	metrics_series_inc(w->m_received[known], 1);
	metrics_series_set(w->m_last, (double)time(NULL));
	if (w->cfg.fresh_start && last_seen) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		if (strptime(last_seen, "%Y-%m-%dT%H:%M:%S", &tm) &&
		    timegm(&tm) < w->cfg.started - w->cfg.max_event_age_s)
			return 2;
	}
	return 1;
}

/* A deferred event keeps one delivery of its own open (its hold) until
 * the enricher routes it; the enricher tags its items with its id. */
static bool defer(void *arg, const struct runner_defer *d)
{
	struct watch *w = arg;
	if (!w->cfg.enricher)
		return false;
	struct enrich_hold hold = { 0 };
	if (w->guard) {
		hold = (struct enrich_hold){ .ckpt = w->cfg.ckpt, .stream = w->cfg.stream,
					     .uid = w->cur_uid, .rv = w->cur_rv };
		if (checkpoint_note(w->cfg.ckpt, w->cfg.stream, w->cur_uid, w->cur_rv, 1) < 0)
			hold.ckpt = NULL;
	}
	if (enricher_defer(w->cfg.enricher, d, &hold))
		return true;
	if (hold.ckpt)
		checkpoint_ack(w->cfg.ckpt, w->cfg.stream, w->cur_uid, w->cur_rv, false);
	return false;
}

/* Each item of the event being routed is one more delivery to ack. */
static void emit(void *arg, const struct runner_item *it)
{
	struct watch *w = arg;
	struct runner_item tagged = *it;
	if (w->guard && checkpoint_note(w->cfg.ckpt, w->cfg.stream, w->cur_uid, w->cur_rv, 1) == 0) {
		tagged.ckpt = w->cfg.ckpt;
		tagged.ckid = checkpoint_id_of(w->cfg.stream, w->cur_uid, w->cur_rv);
	}
	w->cfg.emit(w->cfg.arg, &tagged);
}

static void routed(void *arg, const struct runner_event *ev)
{
	release_guard(arg);
}

static void feed(struct watch *w, const char *data, size_t len, bool finish)
{
	if (data)
		ingest_feed(&w->in, data, len);
	if (finish)
		ingest_finish(&w->in);
	release_guard(w);
}

/* Reading waits while the checkpoint has too many events in flight or
 * not yet saved (the README's in-flight bound), or a sink is full. */
static bool held_back(struct watch *w)
{
	return (w->cfg.blocked && w->cfg.blocked(w->cfg.arg)) || checkpoint_full(w->cfg.ckpt) ||
	       checkpoint_unsaved(w->cfg.ckpt) >= w->cfg.max_unsaved;
}

static void next_page(struct watch *w)
{
	if (!held_back(w)) {
		start_list(w);
		return;
	}
	w->phase = PHASE_BACKOFF;
	w->after_backoff = next_page;
	loop_timer_start(w->timer, 50);
}

/* A list page too large to use: ask for pages of half as many events
 * (from where the list was: a continue token takes any limit), or, at one
 * event a page, back off and try again. */
static void too_large_page(struct watch *w, size_t bytes, const char *why)
{
	if (w->limit > 1) {
		size_t smaller = w->limit / 2;
		log_warn("cluster %s: a list page of %zu events is too large (%zu bytes, %s): asking for "
			 "%zu events a page", w->source, w->limit, bytes, why, smaller);
		w->limit = smaller;
		start_list(w);
		return;
	}
	log_error("cluster %s: a list page of one event is too large (%zu bytes, %s)", w->source, bytes, why);
	backoff(w, start_list);
}

static void on_list_done(void *arg, const struct http_response *r)
{
	struct watch *w = arg;
	w->xfer = NULL;
	if (r->error) {
		log_warn("cluster %s: list failed: %s", w->source, r->error);
		if (!w->reached) {
			/* First run: say what was tried and what to do, once. */
			w->reached = true;
			log_error("cluster %s: cannot reach the API server %s (%s); herald keeps retrying. "
				  "Check the kubeconfig's server and context (--kubeconfig PATH, --context NAME), "
				  "or try herald without a cluster: --from tests/fixtures/events.jsonl",
				  w->source, kubeapi_server(w->cfg.api), r->error);
		}
		backoff(w, start_list);
		return;
	}
	w->reached = true;
	if (r->status == 410 && w->cont) {
		/* The continue token expired: list again from the start (what
		 * was delivered is not delivered twice). */
		log_info("cluster %s: list continue token expired: listing again", w->source);
		free(w->cont);
		w->cont = NULL;
		start_list(w);
		return;
	}
	if (r->status == 401)
		kubeapi_unauthorized(w->cfg.api);
	if (r->status != 200) {
		log_http_failure(w, "list", r);
		backoff(w, start_list);
		return;
	}
	memset(&w->list, 0, sizeof(w->list));
	w->list.kind = INGEST_BAD;
	if (r->body_len > INGEST_MAX_RECORD) {
		too_large_page(w, r->body_len, "more than the 64 MiB a record may have");
		return;
	}
	framer_reset(&w->in.framer);
	feed(w, r->body, r->body_len, true);
	if (w->list.kind != INGEST_EVENTS && strstr(w->list.message, "memory")) {
		too_large_page(w, r->body_len, "its decoding ran out of the Lua memory budget");
		return;
	}
	if (w->list.kind != INGEST_EVENTS) {
		log_warn("cluster %s: list answer was not an EventList", w->source);
		backoff(w, start_list);
		return;
	}
	free(w->cont);
	w->cont = w->list.cont[0] ? strdup(w->list.cont) : NULL;
	if (w->cont) {
		next_page(w);
		return;
	}
	snprintf(w->rv, sizeof(w->rv), "%s", w->list.rv);
	checkpoint_list_done(w->cfg.ckpt, w->cfg.stream, w->list.rv);
	w->listed = true;
	metrics_inc(M_WATCH_LISTS_TOTAL, 1, "cluster", w->cluster, NULL);
	log_info("cluster %s: listed, watching from resourceVersion %s", w->source, w->rv);
	succeeded(w, "listing works");
	start_watch(w);
}

/* Sends a request through the cluster's API client; on any failure to
 * start it, backs off and runs `retry`. Takes the url (a path and query). */
static void send_request(struct watch *w, struct http_request *req, struct buf *url, http_done_cb done,
			 void (*retry)(struct watch *w))
{
	w->xfer = kubeapi_start(w->cfg.api, req, url->data, done, w);
	buf_free(url);
	if (!w->xfer)
		backoff(w, retry);
}

static void start_list(struct watch *w)
{
	if (!w->cont)
		checkpoint_list_begin(w->cfg.ckpt, w->cfg.stream, NULL);
	w->phase = PHASE_LIST;
	struct http_request req = { .method = "GET", .timeout_ms = 120000 };
	struct buf url = BUF_INIT;
	buf_printf(&url, "%s?limit=%zu", w->path, w->limit);
	if (w->cont) {
		char *esc = curl_easy_escape(NULL, w->cont, 0);
		buf_printf(&url, "&continue=%s", esc ? esc : "");
		curl_free(esc);
	}
	send_request(w, &req, &url, on_list_done, start_list);
}

/* Bytes a watch reads in one loop turn before it yields. libcurl goes on
 * reading a socket for as long as it has data, so a fast stream would
 * otherwise hold the loop for its whole length: no batch timer, alert,
 * retry, signal or /metrics request would run until it ended. */
#define TURN_BYTES (256 * 1024)

static void on_yield_timer(struct loop *loop, void *arg)
{
	watch_resume(arg);
}

static int on_watch_data(void *arg, const char *data, size_t len)
{
	struct watch *w = arg;
	if (loop_turn(w->loop) != w->turn) {
		w->turn = loop_turn(w->loop);
		w->turn_bytes = 0;
	}
	if (w->turn_bytes >= TURN_BYTES && !w->paused && w->yield_timer) {
		w->paused = true;
		loop_timer_start(w->yield_timer, 0);
		return HTTP_DATA_PAUSE;
	}
	w->turn_bytes += len;
	if (!w->stream_data && len) {
		w->stream_data = true;
		succeeded(w, "watching works");
	}
	if (held_back(w)) {
		/* Backpressure: curl keeps these bytes and offers them again
		 * on watch_resume; nothing is dropped, memory stays bounded. */
		if (!w->paused) {
			log_debug("cluster %s: %s: pausing the watch", w->source,
				  w->cfg.blocked && w->cfg.blocked(w->cfg.arg) ? "a sink is full"
									     : "too many events in flight or not saved");
			metrics_inc(M_WATCH_PAUSES_TOTAL, 1, "cluster", w->cluster, NULL);
		}
		w->paused = true;
		return HTTP_DATA_PAUSE;
	}
	feed(w, data, len, false);
	return w->relist || w->stream_error ? HTTP_DATA_STOP : HTTP_DATA_OK;
}

void watch_resume(struct watch *w)
{
	if (!w->paused || !w->xfer)
		return;
	w->paused = false;
	log_debug("cluster %s: resuming the watch", w->source);
	http_resume(w->xfer);
}

static void on_watch_done(void *arg, const struct http_response *r)
{
	struct watch *w = arg;
	w->xfer = NULL;
	w->paused = false;
	/* A stream that delivered data, or lasted longer than the delay before
	 * it, was healthy: the next retry waits the shortest delay again. */
	backoff_stream_ended(&w->backoff, w->stream_data, loop_now(w->loop) - w->stream_start);
	framer_reset(&w->in.framer); /* a cut object comes again: rv is the last whole one */
	if (w->relist) {
		start_list(w);
		return;
	}
	if (w->stream_error) {
		backoff(w, start_watch);
		return;
	}
	if (r->error) {
		log_warn("cluster %s: watch ended: %s", w->source, r->error);
		backoff(w, start_watch);
		return;
	}
	switch (r->status) {
	case 200:
		/* timeoutSeconds reached: a normal end. */
		succeeded(w, "watching works");
		start_watch(w);
		return;
	case 410:
		log_info("cluster %s: resourceVersion %s expired (410): relisting", w->source, w->rv);
		metrics_inc(M_WATCH_RELISTS_TOTAL, 1, "cluster", w->cluster, NULL);
		start_list(w);
		return;
	case 401:
		kubeapi_unauthorized(w->cfg.api);
		/* fall through */
	default:
		log_http_failure(w, "watch", r);
		backoff(w, start_watch);
	}
}

static void start_watch(struct watch *w)
{
	w->phase = PHASE_WATCH;
	w->relist = w->stream_error = false;
	int timeout = w->cfg.timeout_s / 2 + (int)(random() % (w->cfg.timeout_s / 2 + 1));
	struct http_request req = {
		.method = "GET",
		/* A stalled stream ends too: shortly after the server should have
		 * closed it. */
		.timeout_ms = (long)(timeout + (timeout >= 60 ? 30 : 5)) * 1000,
		.on_data = on_watch_data,
	};
	struct buf url = BUF_INIT;
	buf_printf(&url, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
		   w->path, w->rv, timeout);
	framer_reset(&w->in.framer);
	w->stream_start = loop_now(w->loop);
	w->stream_data = false;
	send_request(w, &req, &url, on_watch_done, start_watch);
	if (w->xfer)
		metrics_inc(M_WATCH_STARTS_TOTAL, 1, "cluster", w->cluster, NULL);
}

struct watch *watch_new(struct loop *loop, struct runtime *rt, const struct watch_config *cfg)
{
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->cfg = *cfg;
	w->loop = loop;
	w->cluster = strdup(cfg->cluster);
	w->namespace = cfg->namespace ? strdup(cfg->namespace) : NULL;
	w->cfg.cluster = w->cluster;
	w->cfg.namespace = w->namespace;
	if (w->cfg.timeout_s < 2)
		w->cfg.timeout_s = 2;
	if (!w->cfg.page_size)
		w->cfg.page_size = 500;
	w->limit = w->cfg.page_size;
	snprintf(w->source, sizeof(w->source), "%s%s%s", w->cluster, w->namespace ? "/" : "",
		 w->namespace ? w->namespace : "");
	static const char *const types[3] = { "Normal", "Warning", "other" };
	for (int i = 0; i < 3; i++)
		w->m_received[i] = metrics_series(M_EVENTS_RECEIVED_TOTAL, "cluster", w->cluster, "type", types[i], NULL);
	w->m_already = metrics_series(M_EVENTS_ALREADY_DELIVERED_TOTAL, "cluster", w->cluster, NULL);
	w->m_relist_skipped = metrics_series(M_RELIST_SKIPPED_TOTAL, "cluster", w->cluster, NULL);
	w->m_last = metrics_series(M_LAST_EVENT_TIMESTAMP_SECONDS, "cluster", w->cluster, NULL);
	backoff_init(&w->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, BACKOFF_JITTER, (uint64_t)random());
	w->timer = loop_timer_new(loop, on_backoff_timer, w);
	w->yield_timer = loop_timer_new(loop, on_yield_timer, w);
	struct runner_hooks hooks = { .arg = w, .emit = emit, .routed = routed, .admit = admit,
				      .covered = covered_item, .defer = defer };
	ingest_init(&w->in, rt, w->source, w->cluster, &hooks);
	w->in.on_result = on_result;
	if (w->namespace)
		snprintf(w->path, sizeof(w->path), "/api/v1/namespaces/%s/events", w->namespace);
	else
		snprintf(w->path, sizeof(w->path), "/api/v1/events");
	return w;
}

void watch_start(struct watch *w)
{
	start_list(w);
}

bool watch_listed(const struct watch *w)
{
	return w->listed;
}

void watch_forget_legacy(struct watch *w)
{
	w->cfg.legacy = NULL;
}

bool watch_established(const struct watch *w)
{
	return w->phase == PHASE_WATCH;
}

void watch_free(struct watch *w)
{
	if (!w)
		return;
	http_cancel(w->xfer);
	loop_timer_free(w->timer);
	loop_timer_free(w->yield_timer);
	ingest_free(&w->in);
	free(w->cont);
	free(w->cluster);
	free(w->namespace);
	free(w);
}

void watch_stop(struct watch *w)
{
	http_cancel(w->xfer);
	w->xfer = NULL;
	loop_timer_stop(w->timer);
	w->phase = PHASE_IDLE;
}
