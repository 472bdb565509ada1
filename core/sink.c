/* sink: the core every output shares. Owns a sink's queue, its timer and
 * its backoff, and writes dead letters; must not know how an output
 * writes or sends (that is struct output's). */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "metrics.h"

#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000
#define RETRY_JITTER 0.5

struct luahost *sink_host(const struct sink *k) { return runtime_host(k->set->rt); }

bool sink_backing_off(const struct sink *k)
{
	return k->retry_ms && loop_timer_active(k->timer);
}

/* A success since the last failure (retry_ms 0, set by the outputs):
 * the backoff starts again from its shortest delay. */
static void restart_if_healthy(struct sink *k)
{
	if (!k->retry_ms)
		backoff_reset(&k->backoff);
}

void sink_back_off(struct sink *k, double at_least_s)
{
	restart_if_healthy(k);
	/* jitter, so many heralds do not retry in step */
	uint64_t delay = backoff_next(&k->backoff);
	k->retry_ms = delay;
	if (at_least_s * 1000 > (double)delay)
		delay = (uint64_t)(at_least_s * 1000);
	loop_timer_start(k->timer, delay);
}

void sink_back_off_plain(struct sink *k)
{
	restart_if_healthy(k);
	k->retry_ms = backoff_next_plain(&k->backoff);
	loop_timer_start(k->timer, k->retry_ms);
}

void sink_arm_timer(struct sink *k)
{
	if (k->queue.count == 0) {
		loop_timer_stop(k->timer);
		return;
	}
	uint64_t now = loop_now(k->set->loop), due = sinkq_deadline(&k->queue);
	loop_timer_start(k->timer, due > now ? due - now : 0);
}

static void on_timer(struct loop *loop, void *arg)
{
	struct sink *k = arg;
	bool retrying = k->retry_ms != 0 && !k->paused;
	if (retrying) {
		size_t n = k->output->pending(k) - (k->output->held ? k->output->held(k) : 0);
		log_info("sink %s: retrying %zu queued events", k->name, n);
		metrics_inc(M_SINK_RETRIES_TOTAL, 1, "sink", k->name, NULL);
	}
	k->output->flush(k, false);
	if (retrying && k->retry_ms == 0)
		log_info("sink %s: writing again", k->name);
}

void sink_queue_push(struct sink *k, const struct runner_item *it)
{
	/* Never hold events back: a full queue is written out now. If the
	 * output is failing the item is kept over the bound and
	 * sinks_blocked() tells the sources to pause. */
	if (sinkq_full(&k->queue, it->len))
		k->output->flush(k, true);
	if (sinkq_push(&k->queue, it->data, it->len, loop_now(k->set->loop), true) < 0) {
		log_error("sink %s: out of memory queueing an event", k->name);
		metrics_inc(M_SINK_ENCODE_ERRORS_TOTAL, 1, "sink", k->name, NULL);
		sink_ack_routed(it, true);
		return;
	}
	k->queue.tail->ckpt = it->ckpt;   /* the item just queued carries its ack */
	k->queue.tail->ckid = it->ckid;
	metrics_series_inc(k->m_events, 1);
	if (!loop_timer_active(k->timer))
		sink_arm_timer(k);
}

struct sink *sink_new(struct sink_set *set, const struct sink_spec *sp, const struct output *out)
{
	struct sink *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->set = set;
	k->output = out;
	k->kind = sp->output;
	k->alert = sp->alert;
	if (!(k->name = strdup(sp->name)) || !(k->timer = loop_timer_new(set->loop, on_timer, k))) {
		sink_free(k);
		return NULL;
	}
	backoff_init(&k->backoff, RETRY_MIN_MS, RETRY_MAX_MS, RETRY_JITTER, (uint64_t)random());
	k->m_events = metrics_series(M_SINK_EVENTS_TOTAL, "sink", k->name, NULL);
	k->m_written = metrics_series(M_SINK_EVENTS_WRITTEN_TOTAL, "sink", k->name, NULL);
	k->m_batches_ok = metrics_series(M_SINK_BATCHES_TOTAL, "sink", k->name, "result", "ok", NULL);
	struct sinkq_limits lim = { 1, 1, 0, 1, 1 };
	sinkq_init(&k->queue, &lim);
	return k;
}

void sink_free(struct sink *k)
{
	if (!k)
		return;
	if (k->out)
		k->output->free(k);
	sinkq_clear(&k->queue);
	loop_timer_free(k->timer);
	free(k->dead_letter);
	free(k->name);
	free(k);
}

void sink_ack(const struct sinkq_item *it, bool dead)
{
	if (it->ckpt)
		checkpoint_ack_id(it->ckpt, &it->ckid, dead);
}

void sink_ack_list(const struct sinkq_item *list, bool dead)
{
	for (const struct sinkq_item *it = list; it; it = it->next)
		sink_ack(it, dead);
}

void sink_ack_routed(const struct runner_item *it, bool dead)
{
	if (it->ckpt)
		checkpoint_ack_id(it->ckpt, &it->ckid, dead);
}

int sink_write_all(int fd, const char *p, size_t len)
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

/* A dead-letter line: {"sink":..,"reason":.., then what failed, then "}\n". */
void sink_dead_letter_start(struct buf *line, const struct sink *k, const char *why)
{
	buf_printf(line, "{\"sink\":");
	json_append_string(line, k->name, strlen(k->name));
	buf_printf(line, ",\"reason\":");
	json_append_string(line, why, strlen(why));
}

void sink_dead_letter_write(struct buf *line, const struct sink *k)
{
	buf_printf(line, "}\n");
	int fd = open(k->dead_letter, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || sink_write_all(fd, line->data, line->len) < 0)
		log_error("sink %s: cannot write the dead-letter file %s: %s", k->name, k->dead_letter,
			  strerror(errno));
	if (fd >= 0)
		close(fd);
	buf_free(line);
}

void sink_refused(struct sink *k, size_t n)
{
	k->set->refused += n;
	metrics_inc(M_SINK_EVENTS_FAILED_TOTAL, (long)n, "sink", k->name, NULL);
}

/* Appends a failed item, with why, to the dead-letter file (JSON lines). */
void sink_dead_letter(struct sink *k, const struct sinkq_item *it, const char *why)
{
	log_error("sink %s: an event failed for good: %s", k->name, why);
	sink_refused(k, 1);
	if (!k->dead_letter)
		return;
	struct buf line = BUF_INIT;
	sink_dead_letter_start(&line, k, why);
	buf_printf(&line, ",\"item\":");
	json_append_string(&line, it->data, it->len);
	sink_dead_letter_write(&line, k);
}

struct http_request sink_http_request(struct sink_request *req, long default_timeout_ms)
{
	struct http_request hr = {
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
	req->body = NULL;   /* handed to http with hr */
	return hr;
}
