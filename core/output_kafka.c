/* output_kafka: a sink's records into Kafka through one producer
 * (kafka.c). Owns the producer, the records librdkafka holds for it (in
 * flight, in order) and those reported retriable (sent again after the
 * sink's backoff). An event counts as delivered only on its delivery
 * report, in settle(), the one place a record's fate is decided. Must not
 * shape records (the sink type's encode does: see scripts/sinks/kafka.lua)
 * and must not block the loop (the drain waits for in-flight records from
 * the loop, through pending()).
 *
 * An item, as the sink type encodes it: the topic, the key and one
 * "name:value" line per header, each ending in '\n', then an empty line,
 * then the value's bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"

enum { KOUT_MAX_HEADERS = 16, KOUT_TOPIC_MAX = 256 };

/* A record librdkafka holds for this sink: its item, until the report. */
struct flight {
	struct flight *prev, *next;
	struct sink *k;
	struct sinkq_item *it;
};

struct kout {
	struct kafka *kp;
	struct kafka_prop *props;          /* copies: the producer's properties */
	size_t nprops;
	struct flight *head, *tail;        /* in flight, oldest first */
	size_t nflight;
	struct sinkq_item *retry, **retry_tail;  /* reported retriable, in order */
	size_t nretry;
	bool fatal;                        /* the producer can produce no more */
	struct metrics_series *m_produced;
};

static void kout_flush(struct sink *k, bool everything);

static void props_free(struct kafka_prop *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		if (p[i].value)
			explicit_bzero((char *)p[i].value, strlen(p[i].value));
		free((char *)p[i].name);
		free((char *)p[i].value);
	}
	free(p);
}

static bool props_equal(const struct kout *o, const struct kafka_prop *p, size_t n)
{
	if (!o->props || o->nprops != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(o->props[i].name, p[i].name) || strcmp(o->props[i].value, p[i].value))
			return false;
	return true;
}

/* The producer's properties: the sink's batch limits in librdkafka's
 * terms, then what the sink type built (the operator's last, so they
 * win). Caller frees with props_free. */
static struct kafka_prop *props_of(const struct sink_spec *sp, size_t *n)
{
	size_t total = 2 + sp->nkafka_props;
	struct kafka_prop *p = calloc(total, sizeof(*p));
	if (!p)
		return NULL;
	char num[32];
	snprintf(num, sizeof(num), "%zu", sp->batch_events ? sp->batch_events : 10000);
	p[0].name = strdup("batch.num.messages");
	p[0].value = strdup(num);
	snprintf(num, sizeof(num), "%zu", sp->batch_bytes ? sp->batch_bytes : 1000000);
	p[1].name = strdup("batch.size");
	p[1].value = strdup(num);
	for (size_t i = 0; i < sp->nkafka_props; i++) {
		p[2 + i].name = strdup(sp->kafka_props[2 * i]);
		p[2 + i].value = strdup(sp->kafka_props[2 * i + 1]);
	}
	for (size_t i = 0; i < total; i++)
		if (!p[i].name || !p[i].value) {
			props_free(p, total);
			return NULL;
		}
	*n = total;
	return p;
}

static void unlink_flight(struct kout *o, struct flight *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		o->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		o->tail = f->prev;
	o->nflight--;
}

/* Decides what became of one record. The one place a Kafka record is
 * acknowledged: delivered, to be sent again, or failed for good. Takes
 * the item. */
static void settle(struct sink *k, struct sinkq_item *it, const struct kafka_report *r)
{
	struct kout *o = k->out;
	if (r->outcome == KAFKA_OK) {
		metrics_series_inc(k->m_written, 1);
		metrics_series_inc(o->m_produced, 1);
		k->retry_ms = 0;
		sink_ack(it, false);
		free(it);
		return;
	}
	metrics_inc(M_KAFKA_DELIVERY_FAILURES_TOTAL, 1, "sink", k->name, "reason", r->reason, NULL);
	if (r->outcome == KAFKA_PERMANENT) {
		char why[640];
		snprintf(why, sizeof(why), "%s: %s", r->reason, r->detail ? r->detail : "");
		sink_dead_letter(k, it, why);
		sink_ack(it, true);
		free(it);
		return;
	}
	it->next = NULL;
	*o->retry_tail = it;
	o->retry_tail = &it->next;
	o->nretry++;
	if (!sink_backing_off(k)) {
		log_warn("sink %s: records will be sent again: %s: %s", k->name, r->reason,
			 r->detail ? r->detail : "");
		sink_back_off(k, 0);
	}
}

/* A delivery report (from the loop). */
static void on_delivered(void *arg, void *opaque, const struct kafka_report *r)
{
	struct flight *f = opaque;
	struct sink *k = f->k;
	struct sinkq_item *it = f->it;
	unlink_flight(k->out, f);
	free(f);
	settle(k, it, r);
}

static void on_error(void *arg, const char *reason, const char *detail, bool fatal)
{
	struct sink *k = arg;
	struct kout *o = k->out;
	if (fatal && o)
		o->fatal = true;   /* kout_flush makes a new producer, not this callback */
}

/* Puts every record librdkafka holds and every one to retry back at the
 * head of the queue, in order (the producer is going away). */
static void take_back(struct sink *k)
{
	struct kout *o = k->out;
	struct sinkq_item *list = o->retry, **tail = o->nretry ? o->retry_tail : &list;
	while (o->head) {
		struct flight *f = o->head;
		unlink_flight(o, f);
		f->it->next = NULL;
		*tail = f->it;
		tail = &f->it->next;
		free(f);
	}
	o->retry = NULL;
	o->retry_tail = &o->retry;
	o->nretry = 0;
	if (list)
		sinkq_requeue(&k->queue, list);
}

static struct kafka *producer_new(struct sink *k, const struct kafka_prop *p, size_t n)
{
	struct kafka_callbacks cb = { .delivered = on_delivered, .error = on_error, .arg = k };
	char err[512];
	size_t bad = n;
	struct kafka *kp = kafka_new(k->set->loop, k->name, p, n, &cb, err, sizeof(err), &bad);
	if (!kp && bad < n)
		log_error("sink %s: cannot start the Kafka producer: property %s: %s", k->name, p[bad].name, err);
	else if (!kp)
		log_error("sink %s: cannot start the Kafka producer: %s", k->name, err);
	return kp;
}

static int kout_open(struct sink *k, const struct sink_spec *sp)
{
	struct kout *o = k->out;
	if (!o) {
		if (!(o = k->out = calloc(1, sizeof(*o))))
			return -1;
		o->retry_tail = &o->retry;
		o->m_produced = metrics_series(M_KAFKA_RECORDS_PRODUCED_TOTAL, "sink", k->name, NULL);
	}
	size_t n = 0;
	struct kafka_prop *p = props_of(sp, &n);
	if (!p)
		return -1;
	if (o->kp && props_equal(o, p, n)) {
		props_free(p, n);
		return 0;
	}
	struct kafka *kp = producer_new(k, p, n);
	if (!kp) {
		props_free(p, n);
		return -1;
	}
	if (o->kp) {
		log_info("sink %s: Kafka properties changed: a new producer takes over", k->name);
		take_back(k);
		kafka_free(o->kp);
	}
	props_free(o->props, o->nprops);
	o->kp = kp;
	o->props = p;
	o->nprops = n;
	o->fatal = false;
	return 0;
}

static void kout_free(struct sink *k)
{
	struct kout *o = k->out;
	kafka_free(o->kp);   /* purges without reports: the items are ours to free */
	while (o->head) {
		struct flight *f = o->head;
		unlink_flight(o, f);
		free(f->it);
		free(f);
	}
	sinkq_free_list(o->retry);
	props_free(o->props, o->nprops);
	free(o);
	k->out = NULL;
}

/* Removed by a reload: the records in flight or waiting to be sent again
 * go with it, so they are acknowledged as given up (the queue is the
 * core's). */
static void kout_abandon(struct sink *k)
{
	const struct kout *o = k->out;
	for (const struct flight *f = o->head; f; f = f->next)
		sink_ack(f->it, true);
	sink_ack_list(o->retry, true);
}

/* Splits an item into a record, in place: the '\n' and ':' separators
 * become NULs (restore_item puts them back). -1 when it is not one. */
static int parse_item(struct sinkq_item *it, struct kafka_record *rec, struct kafka_header *hs)
{
	char *p = it->data, *end = it->data + it->len;
	char *lines[2 + KOUT_MAX_HEADERS + 1];
	size_t nl = 0;
	for (;;) {
		char *nlp = memchr(p, '\n', (size_t)(end - p));
		if (!nlp || nl == sizeof(lines) / sizeof(*lines))
			return -1;
		*nlp = '\0';
		if (nl >= 2 && nlp == p) {   /* the empty line: the value follows */
			p = nlp + 1;
			break;
		}
		lines[nl++] = p;
		p = nlp + 1;
	}
	if (nl < 2 || !lines[0][0])
		return -1;
	*rec = (struct kafka_record){ .topic = lines[0], .key = lines[1][0] ? lines[1] : NULL,
				      .key_len = strlen(lines[1]),
				      .value = p, .value_len = (size_t)(end - p), .headers = hs };
	for (size_t i = 2; i < nl; i++) {
		char *colon = strchr(lines[i], ':');
		if (!colon)
			return -1;
		*colon = '\0';
		hs[rec->nheaders++] = (struct kafka_header){ lines[i], colon + 1, strlen(colon + 1) };
	}
	return 0;
}

static void restore_item(struct sinkq_item *it, const struct kafka_record *rec)
{
	for (size_t i = 0; i < rec->nheaders; i++)   /* first: the names end at their NUL */
		*((char *)rec->headers[i].name + strlen(rec->headers[i].name)) = ':';
	char *value = (char *)rec->value;
	for (char *c = it->data; c < value && c < it->data + it->len; c++)
		if (*c == '\0')
			*c = '\n';
}

/* Hands one item to librdkafka. 1: handed over (or settled now), 0: the
 * producer's queue is full (the item stays ours: try later). */
static int produce_one(struct sink *k, struct sinkq_item *it)
{
	struct kout *o = k->out;
	struct kafka_header hs[KOUT_MAX_HEADERS];
	struct kafka_record rec;
	if (parse_item(it, &rec, hs) < 0) {
		for (size_t i = 0; i < it->len; i++)
			if (it->data[i] == '\0')
				it->data[i] = '\n';
		struct kafka_report bad = { KAFKA_PERMANENT, "malformed", "the sink type's record is malformed", -1, -1 };
		settle(k, it, &bad);
		return 1;
	}
	struct flight *f = calloc(1, sizeof(*f));
	if (!f) {
		restore_item(it, &rec);
		return 0;
	}
	struct kafka_report refused;
	int rc = kafka_produce(o->kp, &rec, f, &refused);
	restore_item(it, &rec);
	if (rc < 0) {
		free(f);
		if (refused.outcome == KAFKA_RETRIABLE)
			return 0;
		settle(k, it, &refused);
		return 1;
	}
	f->k = k;
	f->it = it;
	f->prev = o->tail;
	if (o->tail)
		o->tail->next = f;
	else
		o->head = f;
	o->tail = f;
	o->nflight++;
	return 1;
}

/* Hands every queued item to librdkafka (which batches and lingers
 * itself), up to the queue's bound in flight: past it items wait in the
 * sink's queue, which then fills and pauses the sources. */
static void kout_flush(struct sink *k, bool everything)
{
	struct kout *o = k->out;
	if (o->fatal) {
		log_warn("sink %s: the Kafka producer failed for good; starting another", k->name);
		struct kafka *kp = producer_new(k, o->props, o->nprops);
		if (!kp) {
			sink_back_off(k, 0);
			return;
		}
		take_back(k);
		kafka_free(o->kp);
		o->kp = kp;
		o->fatal = false;
	}
	if (sink_backing_off(k))
		return;
	if (o->retry) {
		sinkq_requeue(&k->queue, o->retry);
		o->retry = NULL;
		o->retry_tail = &o->retry;
		o->nretry = 0;
	}
	while (k->queue.count && o->nflight < k->queue.lim.max_events) {
		size_t count, bytes;
		struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes), *next;
		for (struct sinkq_item *it = batch; it; it = next) {
			next = it->next;
			it->next = NULL;
			if (!produce_one(k, it)) {
				it->next = next;
				sinkq_requeue(&k->queue, it);
				if (!o->nflight)
					sink_back_off(k, 0);   /* no report will bring us back */
				return;   /* librdkafka's queue is full: its reports bring us back */
			}
		}
	}
	if (!o->nflight && !o->nretry)
		sink_arm_timer(k);
}

static size_t kout_pending(const struct sink *k)
{
	const struct kout *o = k->out;
	return k->queue.count + o->nflight + o->nretry;
}

/* Asynchronous: the drain waits for pending() from the loop. */
static size_t kout_drain(struct sink *k)
{
	return 0;
}

static void kout_draining(struct sink *k)
{
	loop_timer_stop(k->timer);
	k->retry_ms = 0;
	kout_flush(k, true);
}

static void kout_export_metrics(const struct sink *k)
{
	const struct kout *o = k->out;
	struct kafka_stats st = { 0 };
	if (o->kp)
		kafka_stats(o->kp, &st);
	metrics_set(M_SINK_QUEUE_EVENTS, (double)k->queue.count, "sink", k->name, NULL);
	metrics_set(M_SINK_QUEUE_BYTES, (double)k->queue.bytes, "sink", k->name, NULL);
	metrics_set(M_KAFKA_IN_FLIGHT, (double)(o->nflight + o->nretry), "sink", k->name, NULL);
	metrics_set(M_KAFKA_QUEUE_DEPTH, (double)st.queue_depth, "sink", k->name, NULL);
}

const struct output output_kafka = {
	.name = "kafka",
	.open = kout_open,
	.push = sink_queue_push,
	.flush = kout_flush,
	.pending = kout_pending,
	.drain = kout_drain,
	.draining = kout_draining,
	.export_metrics = kout_export_metrics,
	.free = kout_free,
	.abandon = kout_abandon,
};
