/* sinks: the set of sink instances of the running configuration. Owns
 * the sinks (sink.c) and matches them by name across configurations, so
 * a sink that keeps its name keeps its queue; picks each sink's output
 * (output_*.c) and flushes due batches once per loop turn. Must not know
 * how an output writes: it calls struct output. */
#include "sinks.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "hash.h"
#include "sink.h"

struct sinks {
	struct sink_set set;
	struct sink **all;             /* by runtime index - 1 */
	size_t n;
};

/* One line per output: the implementation of each enum sink_output (an
 * alert sink's output is http, and output_alert serves it). */
static const struct output *const outputs[SINK_OUT_COUNT] = {
	[SINK_OUT_STDOUT] = &output_local,
	[SINK_OUT_FILE] = &output_local,
	[SINK_OUT_NULL] = &output_local,
	[SINK_OUT_HTTP] = &output_http,
	[SINK_OUT_KAFKA] = &output_kafka,
};

static const struct output *output_of(const struct sink_spec *sp)
{
	return sp->alert ? &output_alert : outputs[sp->output];
}

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
	s->set.loop = loop;
	s->set.rt = rt;
	s->set.http = http;
	if (loop_before_wait(loop, before_wait, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void sinks_free(struct sinks *s)
{
	if (!s)
		return;
	loop_before_wait_remove(s->set.loop, before_wait, s);
	for (size_t i = 0; i < s->n; i++)
		sink_free(s->all[i]);
	free(s->all);
	buf_free(&s->set.scratch);
	free(s);
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

/* A sink no longer configured: writes what it holds, then goes. */
static void retire(struct sink *gone)
{
	if (gone->output != &output_alert)   /* a request started now would be cancelled at once */
		gone->output->flush(gone, true);
	size_t left = gone->output->pending(gone);
	if (left)
		log_warn("sink %s removed with %zu events it could not write or alert", gone->name, left);
	/* Given up on for good: the checkpoint must not wait for them. */
	sink_ack_list(gone->queue.head, true);
	if (gone->output->abandon)
		gone->output->abandon(gone);
	sink_free(gone);
}

int sinks_apply(struct sinks *s, const struct sink_spec *specs, size_t n)
{
	struct sink **next = calloc(n ? n : 1, sizeof(*next));
	if (!next)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct sink_spec *sp = &specs[i];
		const struct output *out = output_of(sp);
		struct sink *k = find(s, sp->name);
		if (!k || k->kind != sp->output || k->output != out)
			k = sink_new(&s->set, sp, out);
		if (!k)
			goto fail;
		next[i] = k;
		limits_of(sp, &k->queue.lim);
		k->index = (int)i + 1;
		k->lua_batch = sp->lua_batch;
		free(k->dead_letter);
		k->dead_letter = sp->dead_letter ? strdup(sp->dead_letter) : NULL;
		if (out->open(k, sp) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->n; i++) {
		bool kept = false;
		for (size_t j = 0; j < n; j++)
			kept = kept || next[j] == s->all[i];
		if (!kept && s->all[i])
			retire(s->all[i]);
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
	return alerts_add(a, it->key ? it->key : "", it->uid ? hash_string(it->uid) : 0, it->data, it->len, now);
}

void sinks_push(struct sinks *s, const struct runner_item *it)
{
	if (it->sink < 1 || (size_t)it->sink > s->n) {
		sink_ack_routed(it, true);
		return;
	}
	struct sink *k = s->all[it->sink - 1];
	k->output->push(k, it);
}

unsigned long sinks_refused(const struct sinks *s) { return s->set.refused; }

size_t sinks_pending(const struct sinks *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->all[i]->output->pending(s->all[i]);
	return n;
}

size_t sinks_unsettled(const struct sinks *s)
{
	size_t n = sinks_pending(s);
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i]->output->held)
			n -= s->all[i]->output->held(s->all[i]);
	return n;
}

void sinks_set_draining(struct sinks *s, bool alerts_too)
{
	s->set.draining = true;
	s->set.keep_alerts = !alerts_too;
	for (size_t i = 0; i < s->n; i++)
		if (s->all[i]->output->draining && (alerts_too || !s->all[i]->alert))
			s->all[i]->output->draining(s->all[i]);
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
			s->all[i]->output->flush(s->all[i], false);
}

size_t sinks_drain(struct sinks *s)
{
	size_t left = 0;
	for (size_t i = 0; i < s->n; i++)
		left += s->all[i]->output->drain(s->all[i]);
	return left;
}

void sinks_export_metrics(struct sinks *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->all[i]->output->export_metrics(s->all[i]);
}

const char *sinks_ledger_name(const struct sinks *s, size_t i)
{
	return i < s->n && s->all[i]->output->ledger_export ? s->all[i]->name : NULL;
}

int sinks_ledger_export(const struct sinks *s, size_t i, uint64_t now_wall, struct buf *out)
{
	const struct sink *k = s->all[i];
	return k->output->ledger_export(k, now_wall, out);
}

int sinks_ledger_import(struct sinks *s, size_t i, const char *data, size_t len, uint64_t now_wall, char *err,
			size_t errlen)
{
	struct sink *k = s->all[i];
	return k->output->ledger_import(k, data, len, now_wall, err, errlen);
}

size_t sinks_count(const struct sinks *s)
{
	return s->n;
}

void sinks_on_alert_answered(struct sinks *s, void (*fn)(void *arg), void *arg)
{
	s->set.alert_answered = fn;
	s->set.answered_arg = arg;
}
