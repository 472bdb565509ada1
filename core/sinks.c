/* sinks: per-sink queue + output. Owns output fds and batch/retry timers.
 * A failed write keeps the batch at the head of the queue and retries with
 * exponential backoff; nothing is dropped. */
#include "sinks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "json.h"
#include "seen.h"
#include "sinkq.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

struct sink {
	struct sinks *owner;
	int index;                    /* the runtime's index of this sink */
	bool lua_batch;
	char *name;
	enum sink_output output;
	struct sinkq queue;
	struct loop_timer *timer;     /* batch wait, or retry backoff */
	uint64_t retry_ms;            /* current backoff; 0 when healthy */
	int fd;                       /* file output */
	struct send *sends;           /* http output: requests in flight */
	int nsends, max_sends;        /* max_sends: the sink's concurrency */
	char *dead_letter;            /* http output: failed items go here */
	struct alerts *alerts;        /* alert sinks: groups and the rate limit */
	struct alert_msg *msg;        /* alert sinks: the message in flight or to retry */
	int build_failures;           /* alert sinks: times the sink type could not build msg */
	char *path;
	size_t rotate_bytes;
	int rotate_keep;
	size_t file_size;
};

/* One HTTP request in flight: its batch, and what kind of request the
 * sink type said it was (handed back with the answer). */
struct send {
	struct sink *k;
	struct http_transfer *xfer;
	struct sinkq_item *batch;
	size_t count;
	char *kind;
	struct send *next;
};

struct sinks {
	struct loop *loop;
	struct runtime *rt;           /* asked for the Lua state in force */
	struct http *http;
	bool draining;                /* shutting down: send what is queued now */
	struct sink **all;            /* by runtime index - 1 */
	size_t n;
	struct buf scratch;
};

/* Once per loop turn, before it waits: write or send the batches that
 * came due during the turn. */
static void before_wait(struct loop *loop, void *arg)
{
	sinks_flush_due(arg);
}

struct sinks *sinks_new(struct loop *loop, struct runtime *rt, struct http *http)
{
	struct sinks *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->rt = rt;
	s->http = http;
	if (loop_before_wait(loop, before_wait, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void sink_close_file(struct sink *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

static int sink_open_file(struct sink *k)
{
	k->fd = open(k->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (k->fd < 0) {
		log_error("sink %s: cannot open %s: %s", k->name, k->path, strerror(errno));
		return -1;
	}
	struct stat st;
	k->file_size = fstat(k->fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

static void sink_free(struct sink *k)
{
	if (!k)
		return;
	sinkq_clear(&k->queue);
	while (k->sends) {
		struct send *sd = k->sends;
		k->sends = sd->next;
		http_cancel(sd->xfer);
		sinkq_free_list(sd->batch);
		free(sd->kind);
		free(sd);
	}
	loop_timer_free(k->timer);
	alert_msg_free(k->msg);
	alerts_free(k->alerts);
	sink_close_file(k);
	free(k->dead_letter);
	free(k->name);
	free(k->path);
	free(k);
}

void sinks_free(struct sinks *s)
{
	if (!s)
		return;
	loop_before_wait_remove(s->loop, before_wait, s);
	for (size_t i = 0; i < s->n; i++)
		sink_free(s->all[i]);
	free(s->all);
	buf_free(&s->scratch);
	free(s);
}

/* Renames path.N-1 -> path.N ... path -> path.1, dropping the oldest. */
static int rotate(struct sink *k)
{
	sink_close_file(k);
	struct buf from = BUF_INIT, to = BUF_INIT;
	int rc = 0;
	if (k->rotate_keep == 0) {
		if (unlink(k->path) < 0 && errno != ENOENT)
			rc = -1;
	} else {
		for (int i = k->rotate_keep - 1; i >= 1 && rc == 0; i--) {
			buf_reset(&from);
			buf_reset(&to);
			buf_printf(&from, "%s.%d", k->path, i);
			buf_printf(&to, "%s.%d", k->path, i + 1);
			if (rename(from.data, to.data) < 0 && errno != ENOENT)
				rc = -1;
		}
		buf_reset(&to);
		buf_printf(&to, "%s.1", k->path);
		if (rc == 0 && rename(k->path, to.data) < 0 && errno != ENOENT)
			rc = -1;
	}
	if (rc < 0)
		log_error("sink %s: cannot rotate %s: %s", k->name, k->path, strerror(errno));
	buf_free(&from);
	buf_free(&to);
	if (sink_open_file(k) < 0)
		return -1;
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The bytes of a batch: the sink type's batch(items, conf) when it has
 * one, else one item per line. */
static int render(struct sink *k, struct sinkq_item *batch, size_t bytes, size_t count, struct buf *b)
{
	buf_reset(b);
	if (k->lua_batch)
		return runner_batch(runtime_host(k->owner->rt), k->index, k->name, batch, count, b);
	if (buf_reserve(b, bytes + count) < 0)
		return -1;
	for (struct sinkq_item *it = batch; it; it = it->next) {
		buf_append(b, it->data, it->len);
		buf_putc(b, '\n');
	}
	return 0;
}

/* Writes one batch. 0 on success; -1 (logged) keeps it for a retry. */
static int sink_write(struct sink *k, struct sinkq_item *batch, size_t bytes, size_t count)
{
	struct buf *b = &k->owner->scratch;
	if (render(k, batch, bytes, count, b) < 0)
		return -1;
	if (k->output == SINK_OUT_NULL)
		return 0;
	if (k->output == SINK_OUT_STDOUT) {
		if (write_all(STDOUT_FILENO, b->data, b->len) < 0) {
			log_error("sink %s: writing to stdout: %s", k->name, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (k->fd < 0 && sink_open_file(k) < 0)
		return -1;
	if (k->file_size > 0 && k->file_size + b->len > k->rotate_bytes && rotate(k) < 0)
		return -1;
	if (write_all(k->fd, b->data, b->len) < 0) {
		log_error("sink %s: writing to %s: %s", k->name, k->path, strerror(errno));
		sink_close_file(k); /* reopen on retry: the file may have been replaced */
		return -1;
	}
	k->file_size += b->len;
	return 0;
}

static void arm_timer(struct sink *k);
static void http_send(struct sink *k);

static void back_off(struct sink *k, double at_least_s)
{
	k->retry_ms = k->retry_ms ? k->retry_ms * 2 : RETRY_MIN_MS;
	if (k->retry_ms > RETRY_MAX_MS)
		k->retry_ms = RETRY_MAX_MS;
	/* jitter: 0.5x .. 1.5x, so many heralds do not retry in step */
	uint64_t delay = k->retry_ms / 2 + (uint64_t)random() % (k->retry_ms + 1);
	if (at_least_s * 1000 > (double)delay)
		delay = (uint64_t)(at_least_s * 1000);
	loop_timer_start(k->timer, delay);
}

static void alert_flush(struct sink *k);

/* Writes due batches; on failure stops and backs off. */
static void sink_flush(struct sink *k, bool everything)
{
	struct loop *loop = k->owner->loop;
	if (k->retry_ms && loop_timer_active(k->timer))
		return; /* backing off */
	if (k->alerts) {
		alert_flush(k);
		return;
	}
	if (k->output == SINK_OUT_HTTP) {
		while (k->nsends < k->max_sends && k->queue.count &&
		       (everything || k->owner->draining || sinkq_ready(&k->queue, loop_now(loop))) &&
		       !(k->retry_ms && loop_timer_active(k->timer))) {
			int before = k->nsends;
			http_send(k);
			if (k->nsends == before)
				break; /* not now: the sink type waits for an answer */
		}
		if (!k->nsends && !(k->retry_ms && loop_timer_active(k->timer)))
			arm_timer(k);
		return;
	}
	while (k->queue.count && (everything || sinkq_ready(&k->queue, loop_now(loop)))) {
		size_t count, bytes;
		struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes);
		if (sink_write(k, batch, bytes, count) < 0) {
			sinkq_requeue(&k->queue, batch);
			metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", "error", NULL);
			k->retry_ms = k->retry_ms ? k->retry_ms * 2 : RETRY_MIN_MS;
			if (k->retry_ms > RETRY_MAX_MS)
				k->retry_ms = RETRY_MAX_MS;
			loop_timer_start(k->timer, k->retry_ms);
			return;
		}
		sinkq_free_list(batch);
		k->retry_ms = 0;
		metrics_inc("herald_sink_events_written_total", (long)count, "sink", k->name, NULL);
		metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", "ok", NULL);
	}
	arm_timer(k);
}

/* A dead-letter line: {"sink":..,"reason":.., then what failed, then "}\n". */
static void dead_letter_start(struct buf *line, const struct sink *k, const char *why)
{
	buf_printf(line, "{\"sink\":");
	json_append_string(line, k->name, strlen(k->name));
	buf_printf(line, ",\"reason\":");
	json_append_string(line, why, strlen(why));
}

static void dead_letter_write(struct buf *line, const struct sink *k)
{
	buf_printf(line, "}\n");
	int fd = open(k->dead_letter, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, line->data, line->len) < 0)
		log_error("sink %s: cannot write the dead-letter file %s: %s", k->name, k->dead_letter,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
	buf_free(line);
}

/* Appends failed items, with why, to the dead-letter file (JSON lines). */
static void dead_letter(struct sink *k, const struct sinkq_item *it, const char *why)
{
	log_error("sink %s: an event failed for good: %s", k->name, why);
	metrics_inc("herald_sink_events_failed_total", 1, "sink", k->name, NULL);
	if (!k->dead_letter)
		return;
	struct buf line = BUF_INIT;
	dead_letter_start(&line, k, why);
	buf_printf(&line, ",\"item\":");
	json_append_string(&line, it->data, it->len);
	dead_letter_write(&line, k);
}

static void on_http_done(void *arg, const struct http_response *r)
{
	struct send *sd = arg;
	struct sink *k = sd->k;
	struct sinkq_item *batch = sd->batch;
	size_t count = sd->count;
	for (struct send **p = &k->sends; *p; p = &(*p)->next)
		if (*p == sd) {
			*p = sd->next;
			break;
		}
	k->nsends--;
	struct sink_verdict v;
	runner_http_response(runtime_host(k->owner->rt), k->index, k->name, r, sd->kind, batch, count, &v);
	free(sd->kind);
	free(sd);
	switch (v.kind) {
	case VERDICT_OK:
		sinkq_free_list(batch);
		k->retry_ms = 0;
		metrics_inc("herald_sink_events_written_total", (long)count, "sink", k->name, NULL);
		metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", "ok", NULL);
		break;
	case VERDICT_AGAIN:
		sinkq_requeue(&k->queue, batch);
		break;
	case VERDICT_FAILED:
		for (struct sinkq_item *it = batch; it; it = it->next)
			dead_letter(k, it, v.message ? v.message : "refused");
		sinkq_free_list(batch);
		metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", "failed", NULL);
		break;
	case VERDICT_RETRY:
		log_warn("sink %s: %zu events will be sent again: %s", k->name, count,
			 v.message ? v.message : "the request failed");
		metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", "retry", NULL);
		sinkq_requeue(&k->queue, batch);
		back_off(k, v.after_s);
		break;
	case VERDICT_ITEMS: {
		/* Keep the ones to retry, in order; the rest are done. */
		struct sinkq_item *retry = NULL, **tail = &retry, *next;
		size_t i = 0, nretry = 0, nok = 0;
		for (struct sinkq_item *it = batch; it; it = next, i++) {
			next = it->next;
			it->next = NULL;
			unsigned char st = i < v.n ? v.state[i] : ITEM_RETRY;
			if (st == ITEM_RETRY) {
				*tail = it;
				tail = &it->next;
				nretry++;
				continue;
			}
			if (st == ITEM_FAILED)
				dead_letter(k, it, v.reason[i] ? v.reason[i] : "failed");
			else
				nok++;
			free(it);
		}
		metrics_inc("herald_sink_events_written_total", (long)nok, "sink", k->name, NULL);
		metrics_inc("herald_sink_batches_total", 1, "sink", k->name, "result", nretry ? "partial" : "ok", NULL);
		if (retry) {
			log_warn("sink %s: %zu of %zu events will be sent again: %s", k->name, nretry, count,
				 v.message ? v.message : "the server asked for it");
			sinkq_requeue(&k->queue, retry);
			back_off(k, v.after_s);
		} else {
			k->retry_ms = 0;
		}
		break;
	}
	}
	sink_verdict_free(&v);
	if (!(k->retry_ms && loop_timer_active(k->timer)))
		sink_flush(k, false);
}

/* What the sink type built, as libcurl's side wants it (borrowing req). */
static struct http_request http_request_of(const struct sink_request *req, long default_timeout_ms)
{
	return (struct http_request){
		.method = req->method ? req->method : "POST",
		.url = req->url,
		.headers = (const char *const *)req->headers,
		.nheaders = req->nheaders,
		.body = req->body,
		.body_len = req->body_len,
		.body_given = req->body != NULL,
		.timeout_ms = req->timeout_ms ? req->timeout_ms : default_timeout_ms,
		.ca_file = req->ca_file,
		.cert_file = req->cert_file,
		.key_file = req->key_file,
		.insecure = req->insecure,
	};
}

static void http_send(struct sink *k)
{
	size_t count, bytes;
	struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes);
	struct sink_request req;
	int rc = runner_http_request(runtime_host(k->owner->rt), k->index, k->name, batch, &req);
	if (rc != 0) {
		sinkq_requeue(&k->queue, batch);
		if (rc < 0 || k->nsends == 0)
			back_off(k, 0); /* a failure, or "not now" with nothing to wait for */
		return;
	}
	struct http_request hr = http_request_of(&req, 30000);
	req.body = NULL;   /* handed to http with hr */
	struct send *sd = calloc(1, sizeof(*sd));
	if (sd) {
		sd->k = k;
		sd->batch = batch;
		sd->count = count;
		sd->kind = req.kind;
		req.kind = NULL;
		sd->xfer = http_start(k->owner->http, &hr, on_http_done, sd);
	} else {
		free((char *)hr.body);
	}
	sink_request_free(&req);
	if (!sd || !sd->xfer) {
		/* Tell the sink type its request never left (it may be waiting
		 * for the answer to a setup step), then retry later. */
		struct http_response none = { .error = "the request could not be started" };
		struct sink_verdict v;
		runner_http_response(runtime_host(k->owner->rt), k->index, k->name, &none, sd ? sd->kind : NULL, batch, count, &v);
		sink_verdict_free(&v);
		if (sd)
			free(sd->kind);
		free(sd);
		sinkq_requeue(&k->queue, batch);
		back_off(k, 0);
		return;
	}
	sd->next = k->sends;
	k->sends = sd;
	k->nsends++;
}

/* ---------------------------------------------------------------- alert sinks
 * One message at a time: a group, or a digest of groups, as the grouping
 * in alerts.c decides. A message that fails for now is kept and sent again
 * (re-rendered and re-signed) after a backoff; one refused for good is
 * logged with the robot's reason and counted. */

static void alert_dead_letter(struct sink *k, const struct alert_msg *m, const char *why)
{
	metrics_inc("herald_sink_events_failed_total", (long)m->events, "sink", k->name, NULL);
	if (!k->dead_letter)
		return;
	struct buf line = BUF_INIT;
	dead_letter_start(&line, k, why);
	buf_printf(&line, ",\"events\":%zu,\"groups\":[", m->events);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct alert_part *p = &m->parts[i];
		buf_printf(&line, "%s{\"count\":%zu,\"event\":", i ? "," : "", p->count);
		if (p->nsamples)
			json_append_string(&line, p->samples[p->nsamples - 1].data, p->samples[p->nsamples - 1].len);
		else
			buf_printf(&line, "null");
		buf_printf(&line, "}");
	}
	buf_printf(&line, "]");
	dead_letter_write(&line, k);
}

static void on_alert_done(void *arg, const struct http_response *r)
{
	struct send *sd = arg;
	struct sink *k = sd->k;
	k->sends = NULL;
	k->nsends = 0;
	free(sd->kind);
	free(sd);
	alerts_sent(k->alerts, loop_now(k->owner->loop));
	struct alert_msg *m = k->msg;
	const char *kind = m->digest ? "digest" : "group";
	struct sink_verdict v;
	runner_http_response(runtime_host(k->owner->rt), k->index, k->name, r, NULL, NULL, 0, &v);
	if (v.kind == VERDICT_OK) {
		metrics_inc("herald_alert_messages_total", 1, "sink", k->name, "kind", kind, "result", "sent", NULL);
		metrics_inc("herald_sink_events_written_total", (long)m->events, "sink", k->name, NULL);
		if (m->digest)
			metrics_inc("herald_alert_events_digested_total", (long)m->events, "sink", k->name, NULL);
		alert_msg_free(m);
		k->msg = NULL;
		k->retry_ms = 0;
	} else if (v.kind == VERDICT_FAILED) {
		log_error("sink %s: %s; the %zu events of this %s are not alerted", k->name,
			  v.message ? v.message : "the message was refused", m->events, kind);
		metrics_inc("herald_alert_messages_total", 1, "sink", k->name, "kind", kind, "result", "failed", NULL);
		alert_dead_letter(k, m, v.message ? v.message : "refused");
		alert_msg_free(m);
		k->msg = NULL;
	} else {
		log_warn("sink %s: the %s of %zu events will be sent again: %s", k->name, kind, m->events,
			 v.message ? v.message : "the request failed");
		metrics_inc("herald_alert_messages_total", 1, "sink", k->name, "kind", kind, "result", "retry", NULL);
		back_off(k, v.after_s);
	}
	sink_verdict_free(&v);
	if (!(k->retry_ms && loop_timer_active(k->timer)))
		alert_flush(k);
}

static void alert_flush(struct sink *k)
{
	struct sinks *s = k->owner;
	uint64_t now = loop_now(s->loop), wake = UINT64_MAX;
	if (k->nsends)
		return; /* one at a time: the answer calls back */
	if (!k->msg)
		k->msg = alerts_next(k->alerts, now, s->draining, &wake);
	else
		wake = alerts_token_at(k->alerts, now);
	if (!k->msg || wake > now) {
		if (wake == UINT64_MAX)
			loop_timer_stop(k->timer);
		else
			loop_timer_start(k->timer, wake > now ? wake - now : 0);
		return;
	}
	struct sink_request req;
	if (runner_alert_request(runtime_host(s->rt), k->index, k->name, k->msg, &req) != 0) {
		/* The sink type failed (logged). A message it cannot build three
		 * times running is given up, so it cannot block the ones after. */
		if (++k->build_failures >= 3) {
			log_error("sink %s: giving up a message of %zu events the sink type cannot build",
				  k->name, k->msg->events);
			metrics_inc("herald_alert_messages_total", 1, "sink", k->name, "kind",
				    k->msg->digest ? "digest" : "group", "result", "failed", NULL);
			alert_dead_letter(k, k->msg, "the sink type could not build the message");
			alert_msg_free(k->msg);
			k->msg = NULL;
			k->build_failures = 0;
		}
		back_off(k, 0);
		return;
	}
	k->build_failures = 0;
	struct http_request hr = http_request_of(&req, 10000);
	req.body = NULL;   /* handed to http with hr */
	struct send *sd = calloc(1, sizeof(*sd));
	if (sd) {
		sd->k = k;
		alerts_sending(k->alerts, now);   /* the token is taken whatever happens next */
		k->msg->attempts++;
		sd->xfer = http_start(s->http, &hr, on_alert_done, sd);
	} else {
		free((char *)hr.body);
	}
	sink_request_free(&req);
	if (!sd || !sd->xfer) {
		if (sd)
			alerts_sent(k->alerts, now);
		free(sd);
		back_off(k, 0);
		return;
	}
	k->sends = sd;
	k->nsends = 1;
}

static void on_timer(struct loop *loop, void *arg)
{
	struct sink *k = arg;
	bool retrying = k->retry_ms != 0;
	if (retrying) {
		log_info("sink %s: retrying %zu queued events", k->name,
			 k->msg ? k->msg->events : k->queue.count);
		metrics_inc("herald_sink_retries_total", 1, "sink", k->name, NULL);
	}
	sink_flush(k, false);
	if (retrying && k->retry_ms == 0)
		log_info("sink %s: writing again", k->name);
}

static void arm_timer(struct sink *k)
{
	if (k->queue.count == 0) {
		loop_timer_stop(k->timer);
		return;
	}
	uint64_t now = loop_now(k->owner->loop), due = sinkq_deadline(&k->queue);
	loop_timer_start(k->timer, due > now ? due - now : 0);
}

static struct sink *find(struct sinks *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i] && strcmp(s->all[i]->name, name) == 0)
			return s->all[i];
	return NULL;
}

static void limits_of(const struct sink_spec *sp, struct sinkq_limits *lim)
{
	*lim = (struct sinkq_limits){
		.batch_events = sp->batch_events ? sp->batch_events : 1,
		.batch_bytes = sp->batch_bytes ? sp->batch_bytes : 1,
		.batch_wait_ms = sp->batch_wait_ms,
		.max_events = sp->queue_events ? sp->queue_events : 1,
		.max_bytes = sp->queue_bytes ? sp->queue_bytes : 1,
	};
}

int sinks_apply(struct sinks *s, const struct sink_spec *specs, size_t n)
{
	struct sink **next = calloc(n ? n : 1, sizeof(*next));
	if (!next)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct sink_spec *sp = &specs[i];
		struct sink *k = find(s, sp->name);
		struct sinkq_limits lim;
		limits_of(sp, &lim);
		if (k && k->output == sp->output && (k->alerts != NULL) == sp->alert) {
			k->queue.lim = lim;
			if (k->alerts)
				alerts_set_policy(k->alerts, &sp->policy);
		} else {
			k = calloc(1, sizeof(*k));
			if (!k || !(k->name = strdup(sp->name)) ||
			    !(k->timer = loop_timer_new(s->loop, on_timer, k)))
				goto fail;
			k->owner = s;
			k->fd = -1;
			k->output = sp->output;
			sinkq_init(&k->queue, &lim);
			if (sp->alert && !(k->alerts = alerts_new(&sp->policy)))
				goto fail;
		}
		next[i] = k;
		k->index = (int)i + 1;
		k->lua_batch = sp->lua_batch;
		k->max_sends = sp->concurrency > 0 && !sp->alert ? sp->concurrency : 1;
		free(k->dead_letter);
		k->dead_letter = sp->dead_letter ? strdup(sp->dead_letter) : NULL;
		if (sp->output == SINK_OUT_FILE) {
			bool same = k->path && strcmp(k->path, sp->path) == 0;
			if (!same) {
				free(k->path);
				sink_close_file(k);
				if (!(k->path = strdup(sp->path)) || sink_open_file(k) < 0)
					goto fail;
			}
			k->rotate_bytes = sp->rotate_bytes;
			k->rotate_keep = sp->rotate_keep;
		}
	}
	/* Sinks no longer configured: write what they hold, then go. */
	for (size_t i = 0; i < s->n; i++) {
		bool kept = false;
		for (size_t j = 0; j < n; j++)
			kept = kept || next[j] == s->all[i];
		if (!kept && s->all[i]) {
			struct sink *gone = s->all[i];
			if (!gone->alerts)   /* a request started now would be cancelled at once */
				sink_flush(gone, true);
			size_t left = gone->queue.count +
				      (gone->alerts ? alerts_held(gone->alerts) + (gone->msg ? gone->msg->events : 0) : 0);
			if (left)
				log_warn("sink %s removed with %zu events it could not write or alert", gone->name, left);
			sink_free(s->all[i]);
		}
	}
	free(s->all);
	s->all = next;
	s->n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++) {
		bool existing = false;
		for (size_t j = 0; j < s->n; j++)
			existing = existing || next[i] == s->all[j];
		if (next[i] && !existing)
			sink_free(next[i]);
	}
	free(next);
	return -1;
}

int sinks_group(struct alerts *a, const struct runner_item *it, uint64_t now)
{
	return alerts_add(a, it->key ? it->key : "", it->uid ? seen_hash(it->uid) : 0, it->data, it->len, now);
}

void sinks_push(struct sinks *s, const struct runner_item *it)
{
	int index = it->sink;
	const char *item = it->data;
	size_t len = it->len;
	if (index < 1 || (size_t)index > s->n)
		return;
	struct sink *k = s->all[index - 1];
	if (k->alerts) {
		/* Alert sinks fold events into groups: never blocked, never full
		 * (a group keeps counts past its samples). */
		if (sinks_group(k->alerts, it, loop_now(s->loop)) < 0)
			log_error("sink %s: out of memory keeping an event's text (it is still counted)", k->name);
		metrics_inc("herald_sink_events_total", 1, "sink", k->name, NULL);
		if (!k->nsends && !(k->retry_ms && loop_timer_active(k->timer)))
			alert_flush(k);
		return;
	}
	/* Local outputs never hold events back: a full queue is written out
	 * now. If the output is failing the item is kept over the bound and
	 * sinks_blocked() tells the source to pause. */
	if (sinkq_full(&k->queue, len))
		sink_flush(k, true);
	if (sinkq_push(&k->queue, item, len, loop_now(s->loop), true) < 0) {
		log_error("sink %s: out of memory queueing an event", k->name);
		metrics_inc("herald_sink_encode_errors_total", 1, "sink", k->name, NULL);
		return;
	}
	metrics_inc("herald_sink_events_total", 1, "sink", k->name, NULL);
	if (!loop_timer_active(k->timer))
		arm_timer(k);
}

size_t sinks_pending(const struct sinks *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
	{
		const struct sink *k = s->all[i];
		n += k->queue.count;
		for (const struct send *sd = k->sends; sd; sd = sd->next)
			n += sd->count;
		if (k->alerts)
			n += alerts_held(k->alerts) + (k->msg ? k->msg->events : 0);
	}
	return n;
}

size_t sinks_unsettled(const struct sinks *s)
{
	size_t n = sinks_pending(s);
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i]->alerts)
			n -= alerts_held(s->all[i]->alerts);
	return n;
}

bool sinks_held_uids(const struct sinks *s, uint64_t **uids, size_t *n)
{
	size_t cap = 0;
	bool complete = true;
	*uids = NULL;
	*n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i]->alerts)
			complete = alerts_held_uids(s->all[i]->alerts, uids, n, &cap) && complete;
	return complete;
}

void sinks_set_draining(struct sinks *s)
{
	s->draining = true;
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = s->all[i];
		size_t repeats = k->alerts ? alerts_drop_repeats(k->alerts) : 0;
		if (repeats)
			log_info("sink %s: %zu repeats of alerts already sent are not sent again", k->name, repeats);
		if (k->output == SINK_OUT_HTTP && (k->queue.count || k->alerts)) {
			loop_timer_stop(k->timer);
			k->retry_ms = 0;
			sink_flush(k, true);
		}
	}
}

bool sinks_blocked(const struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sinkq *q = &s->all[i]->queue;
		if (q->count > q->lim.max_events || q->bytes > q->lim.max_bytes)
			return true;
	}
	return false;
}

void sinks_flush_due(struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i]->queue.count)
			sink_flush(s->all[i], false);
}

size_t sinks_drain(struct sinks *s)
{
	size_t left = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct sink *k = s->all[i];
		if (k->output == SINK_OUT_HTTP)
			continue; /* asynchronous: see sinks_set_draining */
		k->retry_ms = 0;
		sink_flush(k, true);
		left += k->queue.count;
	}
	return left;
}

void sinks_export_metrics(struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sink *k = s->all[i];
		if (k->alerts) {
			metrics_set("herald_alert_groups", (double)alerts_groups(k->alerts), "sink", k->name, NULL);
			metrics_set("herald_alert_events_held", (double)alerts_held(k->alerts), "sink", k->name, NULL);
			metrics_set("herald_alert_tokens", (double)alerts_tokens(k->alerts, loop_now(s->loop)),
				    "sink", k->name, NULL);
			continue;
		}
		metrics_set("herald_sink_queue_events", (double)k->queue.count, "sink", k->name, NULL);
		metrics_set("herald_sink_queue_bytes", (double)k->queue.bytes, "sink", k->name, NULL);
	}
}
