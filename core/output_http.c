/* output_http: batched HTTP. The sink type builds each batch's request
 * and judges each answer (runner_http_request / runner_http_response);
 * this file owns the requests in flight (up to the sink's concurrency),
 * retries with backoff, and dead-letters what failed for good. Must not
 * shape bodies: that is the sink type's. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "sink.h"

/* One request in flight: its batch, and what kind of request the sink
 * type said it was (handed back with the answer). */
struct send {
	struct sink *k;
	struct http_transfer *xfer;
	struct sinkq_item *batch;
	size_t count;
	char *kind;
	struct send *next;
};

struct batched {
	struct send *sends;            /* requests in flight */
	int nsends, max_sends;         /* max_sends: the sink's concurrency */
};

static void batched_flush(struct sink *k, bool everything);

static int batched_open(struct sink *k, const struct sink_spec *sp)
{
	struct batched *b = k->out;
	if (!b && !(b = k->out = calloc(1, sizeof(*b))))
		return -1;
	b->max_sends = sp->concurrency > 0 ? sp->concurrency : 1;
	return 0;
}

static void batched_free(struct sink *k)
{
	struct batched *b = k->out;
	while (b->sends) {
		struct send *sd = b->sends;
		b->sends = sd->next;
		http_cancel(sd->xfer);
		sinkq_free_list(sd->batch);
		free(sd->kind);
		free(sd);
	}
	free(b);
	k->out = NULL;
}

/* Keeps the items to retry, in order; the rest are done. */
static void settle_items(struct sink *k, struct sinkq_item *batch, size_t count, const struct sink_verdict *v)
{
	struct sinkq_item *retry = NULL, **tail = &retry, *next;
	size_t i = 0, nretry = 0, nok = 0;
	for (struct sinkq_item *it = batch; it; it = next, i++) {
		next = it->next;
		it->next = NULL;
		unsigned char st = i < v->n ? v->state[i] : ITEM_RETRY;
		if (st == ITEM_RETRY) {
			*tail = it;
			tail = &it->next;
			nretry++;
			continue;
		}
		if (st == ITEM_FAILED)
			sink_dead_letter(k, it, v->reason[i] ? v->reason[i] : "failed");
		else
			nok++;
		sink_ack(it, st == ITEM_FAILED);
		free(it);
	}
	metrics_inc(M_SINK_EVENTS_WRITTEN_TOTAL, (long)nok, "sink", k->name, NULL);
	metrics_inc(M_SINK_BATCHES_TOTAL, 1, "sink", k->name, "result", nretry ? "partial" : "ok", NULL);
	if (retry) {
		log_warn("sink %s: %zu of %zu events will be sent again: %s", k->name, nretry, count,
			 v->message ? v->message : "the server asked for it");
		sinkq_requeue(&k->queue, retry);
		sink_back_off(k, v->after_s);
	} else {
		k->retry_ms = 0;
	}
}

static void on_done(void *arg, const struct http_response *r)
{
	struct send *sd = arg;
	struct sink *k = sd->k;
	struct batched *b = k->out;
	struct sinkq_item *batch = sd->batch;
	size_t count = sd->count;
	for (struct send **p = &b->sends; *p; p = &(*p)->next)
		if (*p == sd) {
			*p = sd->next;
			break;
		}
	b->nsends--;
	struct sink_verdict v;
	runner_http_response(sink_host(k), k->index, k->name, r, sd->kind, batch, count, &v);
	free(sd->kind);
	free(sd);
	switch (v.kind) {
	case VERDICT_OK:
		sink_ack_list(batch, false);
		sinkq_free_list(batch);
		k->retry_ms = 0;
		metrics_series_inc(k->m_written, (long)count);
		metrics_series_inc(k->m_batches_ok, 1);
		break;
	case VERDICT_AGAIN:
		sinkq_requeue(&k->queue, batch);
		break;
	case VERDICT_FAILED:
		for (struct sinkq_item *it = batch; it; it = it->next)
			sink_dead_letter(k, it, v.message ? v.message : "refused");
		sink_ack_list(batch, true);
		sinkq_free_list(batch);
		metrics_inc(M_SINK_BATCHES_TOTAL, 1, "sink", k->name, "result", "failed", NULL);
		break;
	case VERDICT_RETRY:
		log_warn("sink %s: %zu events will be sent again: %s", k->name, count,
			 v.message ? v.message : "the request failed");
		metrics_inc(M_SINK_BATCHES_TOTAL, 1, "sink", k->name, "result", "retry", NULL);
		sinkq_requeue(&k->queue, batch);
		sink_back_off(k, v.after_s);
		break;
	case VERDICT_ITEMS:
		settle_items(k, batch, count, &v);
		break;
	}
	sink_verdict_free(&v);
	if (!sink_backing_off(k))
		batched_flush(k, false);
}

static void send_batch(struct sink *k)
{
	struct batched *b = k->out;
	size_t count, bytes;
	struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes);
	struct sink_request req;
	int rc = runner_http_request(sink_host(k), k->index, k->name, batch, &req);
	if (rc != 0) {
		sinkq_requeue(&k->queue, batch);
		if (rc < 0 || b->nsends == 0)
			sink_back_off(k, 0); /* a failure, or "not now" with nothing to wait for */
		return;
	}
	struct http_request hr = sink_http_request(&req, 30000);
	struct send *sd = calloc(1, sizeof(*sd));
	if (sd) {
		sd->k = k;
		sd->batch = batch;
		sd->count = count;
		sd->kind = req.kind;
		req.kind = NULL;
		sd->xfer = http_start(k->set->http, &hr, on_done, sd);
	} else {
		free((char *)hr.body);
	}
	sink_request_free(&req);
	if (!sd || !sd->xfer) {
		/* Tell the sink type its request never left (it may be waiting
		 * for the answer to a setup step), then retry later. */
		struct http_response none = { .error = "the request could not be started" };
		struct sink_verdict v;
		runner_http_response(sink_host(k), k->index, k->name, &none, sd ? sd->kind : NULL, batch, count, &v);
		sink_verdict_free(&v);
		if (sd)
			free(sd->kind);
		free(sd);
		sinkq_requeue(&k->queue, batch);
		sink_back_off(k, 0);
		return;
	}
	sd->next = b->sends;
	b->sends = sd;
	b->nsends++;
}

static void batched_flush(struct sink *k, bool everything)
{
	struct batched *b = k->out;
	if (sink_backing_off(k))
		return;
	while (b->nsends < b->max_sends && k->queue.count &&
	       (everything || k->set->draining || sinkq_ready(&k->queue, loop_now(k->set->loop))) &&
	       !sink_backing_off(k)) {
		int before = b->nsends;
		send_batch(k);
		if (b->nsends == before)
			break; /* not now: the sink type waits for an answer */
	}
	if (!b->nsends && !sink_backing_off(k))
		sink_arm_timer(k);
}

static size_t batched_pending(const struct sink *k)
{
	const struct batched *b = k->out;
	size_t n = k->queue.count;
	for (const struct send *sd = b->sends; sd; sd = sd->next)
		n += sd->count;
	return n;
}

/* Asynchronous: nothing is written here (sinks_pending tells when the
 * requests are done). */
static size_t batched_drain(struct sink *k)
{
	return 0;
}

static void batched_draining(struct sink *k)
{
	if (k->queue.count) {
		loop_timer_stop(k->timer);
		k->retry_ms = 0;
		batched_flush(k, true);
	}
}

/* Removed by a reload: the requests in flight are cancelled with it, so
 * their events are acknowledged as given up (the queue is the core's). */
static void batched_abandon(struct sink *k)
{
	const struct batched *b = k->out;
	for (const struct send *sd = b->sends; sd; sd = sd->next)
		sink_ack_list(sd->batch, true);
}

static void batched_export_metrics(const struct sink *k)
{
	metrics_set(M_SINK_QUEUE_EVENTS, (double)k->queue.count, "sink", k->name, NULL);
	metrics_set(M_SINK_QUEUE_BYTES, (double)k->queue.bytes, "sink", k->name, NULL);
}

const struct output output_http = {
	.name = "http",
	.open = batched_open,
	.push = sink_queue_push,
	.flush = batched_flush,
	.pending = batched_pending,
	.drain = batched_drain,
	.draining = batched_draining,
	.export_metrics = batched_export_metrics,
	.free = batched_free,
	.abandon = batched_abandon,
};
