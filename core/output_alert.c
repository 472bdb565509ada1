/* output_alert: alert sinks. Events fold into groups (alerts.c decides
 * groups, digests and the rate limit); one message at a time goes out,
 * rendered and signed by the sink type. A message that fails for now is
 * kept and sent again (re-rendered) after a backoff; one refused for good
 * is logged with the robot's reason, counted and dead-lettered. Owns the
 * groups and the message in flight; must not render text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alerts.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "hash.h"
#include "sink.h"
#include "sinks.h"

struct alerting {
	struct alerts *alerts;         /* groups and the rate limit */
	struct alert_msg *msg;         /* the message in flight or to retry */
	struct http_transfer *xfer;    /* its request, while in flight */
	int build_failures;            /* times the sink type could not build msg */
	int agains;                    /* "again" answers in a row (a probe, e.g. a token fetch) */
	long timeout_ms;               /* the request in flight's */
};

#define ALERT_TIMEOUT_MS 10000      /* a request's, unless the sink type sets one */

/* A sink type that answers "again" more often than this in a row is
 * treated as failing for now (backoff), so it cannot spin the loop. */
#define MAX_AGAINS 3

static void alert_flush(struct sink *k, bool everything);

static int alert_open(struct sink *k, const struct sink_spec *sp)
{
	struct alerting *a = k->out;
	if (a) {
		alerts_set_policy(a->alerts, &sp->policy);
		return 0;
	}
	if (!(a = calloc(1, sizeof(*a))))
		return -1;
	k->out = a;
	return (a->alerts = alerts_new(&sp->policy)) ? 0 : -1;
}

static void alert_free(struct sink *k)
{
	struct alerting *a = k->out;
	http_cancel(a->xfer);
	alert_msg_free(a->msg);
	alerts_free(a->alerts);
	free(a);
	k->out = NULL;
}

static void dead_letter_msg(struct sink *k, const struct alert_msg *m, const char *why)
{
	sink_refused(k, m->events);
	if (!k->dead_letter)
		return;
	struct buf line = BUF_INIT;
	sink_dead_letter_start(&line, k, why);
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
	sink_dead_letter_write(&line, k);
}

static void on_done(void *arg, const struct http_response *r)
{
	struct sink *k = arg;
	struct alerting *a = k->out;
	a->xfer = NULL;
	struct alert_msg *m = a->msg;
	const char *kind = m->digest ? "digest" : "group";
	struct sink_verdict v;
	runner_http_response(sink_host(k), k->index, k->name, r, NULL, NULL, 0, &v);
	if (v.kind == VERDICT_AGAIN && ++a->agains <= MAX_AGAINS) {
		/* The request was the sink type's own probe (a WeCom token
		 * fetch): the message itself goes now. Neither a retry nor a
		 * message to the robot, so its rate token is given back. */
		alerts_give_back(a->alerts);
		if (m->attempts)
			m->attempts--;
		sink_verdict_free(&v);
		alert_flush(k, false);
		return;
	}
	if (r->error)   /* no answer: the robot may count it later than now */
		alerts_unanswered(a->alerts, loop_now(k->set->loop),
				  a->timeout_ms > 0 ? (uint64_t)a->timeout_ms : 0);
	else
		alerts_sent(a->alerts, loop_now(k->set->loop));
	a->agains = 0;
	if (v.kind == VERDICT_OK) {
		metrics_inc(M_ALERT_MESSAGES_TOTAL, 1, "sink", k->name, "kind", kind, "result", "sent", NULL);
		metrics_inc(M_SINK_EVENTS_WRITTEN_TOTAL, (long)m->events, "sink", k->name, NULL);
		if (m->digest)
			metrics_inc(M_ALERT_EVENTS_DIGESTED_TOTAL, (long)m->events, "sink", k->name, NULL);
		alert_msg_free(m);
		a->msg = NULL;
		k->retry_ms = 0;
	} else if (v.kind == VERDICT_FAILED) {
		log_error("sink %s: %s; the %zu events of this %s are not alerted", k->name,
			  v.message ? v.message : "the message was refused", m->events, kind);
		metrics_inc(M_ALERT_MESSAGES_TOTAL, 1, "sink", k->name, "kind", kind, "result", "failed", NULL);
		dead_letter_msg(k, m, v.message ? v.message : "refused");
		alert_msg_free(m);
		a->msg = NULL;
	} else {
		log_warn("sink %s: the %s of %zu events will be sent again: %s", k->name, kind, m->events,
			 v.message ? v.message : "the request failed");
		metrics_inc(M_ALERT_MESSAGES_TOTAL, 1, "sink", k->name, "kind", kind, "result", "retry", NULL);
		sink_back_off(k, v.after_s);
	}
	sink_verdict_free(&v);
	if (!a->msg && k->set->alert_answered)
		k->set->alert_answered(k->set->answered_arg);   /* its ledger now says it was sent */
	if (!sink_backing_off(k))
		alert_flush(k, false);
}

static void alert_flush(struct sink *k, bool everything)
{
	struct alerting *a = k->out;
	struct sink_set *set = k->set;
	uint64_t now = loop_now(set->loop), wake = UINT64_MAX;
	if (sink_backing_off(k) || a->xfer)
		return; /* one at a time: the answer calls back */
	if (!a->msg)
		a->msg = alerts_next(a->alerts, now, set->draining && !set->keep_alerts, &wake);
	else
		wake = alerts_token_at(a->alerts, now);
	if (!a->msg || wake > now) {
		if (wake == UINT64_MAX)
			loop_timer_stop(k->timer);
		else
			loop_timer_start(k->timer, wake > now ? wake - now : 0);
		return;
	}
	struct sink_request req;
	if (runner_alert_request(sink_host(k), k->index, k->name, a->msg, &req) != 0) {
		/* The sink type failed (logged). A message it cannot build three
		 * times running is given up, so it cannot block the ones after. */
		if (++a->build_failures >= 3) {
			log_error("sink %s: giving up a message of %zu events the sink type cannot build",
				  k->name, a->msg->events);
			metrics_inc(M_ALERT_MESSAGES_TOTAL, 1, "sink", k->name, "kind",
				    a->msg->digest ? "digest" : "group", "result", "failed", NULL);
			dead_letter_msg(k, a->msg, "the sink type could not build the message");
			alert_msg_free(a->msg);
			a->msg = NULL;
			a->build_failures = 0;
		}
		sink_back_off(k, 0);
		return;
	}
	a->build_failures = 0;
	struct http_request hr = sink_http_request(&req, ALERT_TIMEOUT_MS);
	a->timeout_ms = hr.timeout_ms;
	alerts_sending(a->alerts, now);   /* the token is taken whatever happens next */
	a->msg->attempts++;
	a->xfer = http_start(set->http, &hr, on_done, k);
	sink_request_free(&req);
	if (!a->xfer) {
		alerts_sent(a->alerts, now);
		sink_back_off(k, 0);
	}
}

/* Alert sinks fold events into groups: never blocked, never full (a group
 * keeps counts past its samples). */
static void alert_push(struct sink *k, const struct runner_item *it)
{
	struct alerting *a = k->out;
	if (sinks_group(a->alerts, it, loop_now(k->set->loop)) < 0)
		log_error("sink %s: out of memory keeping an event's text (it is still counted)", k->name);
	/* Folded into a group: the ledger, saved before the checkpoint in the
	 * same loop turn, holds it from now on. */
	sink_ack_routed(it, false);
	metrics_series_inc(k->m_events, 1);
	if (!a->xfer && !sink_backing_off(k))
		alert_flush(k, false);
}

static size_t alert_pending(const struct sink *k)
{
	const struct alerting *a = k->out;
	return alerts_held(a->alerts) + (a->msg ? a->msg->events : 0);
}

static size_t alert_held(const struct sink *k)
{
	return alerts_held(((const struct alerting *)k->out)->alerts);
}

static size_t alert_drain(struct sink *k)
{
	return 0; /* asynchronous: see alert_draining */
}

static void alert_draining(struct sink *k)
{
	struct alerting *a = k->out;
	size_t repeats = alerts_drop_repeats(a->alerts);
	if (repeats)
		log_info("sink %s: %zu repeats of alerts already sent are not sent again", k->name, repeats);
	loop_timer_stop(k->timer);
	k->retry_ms = 0;
	alert_flush(k, true);
}

static int alert_ledger_export(const struct sink *k, uint64_t now_wall, struct buf *out)
{
	const struct alerting *a = k->out;
	struct alerts_ledger_info info;
	return alerts_export(a->alerts, a->msg, loop_now(k->set->loop), now_wall, SIZE_MAX, out, &info);
}

/* Before any delivery: a message in flight cannot exist yet. */
static int alert_ledger_import(struct sink *k, const char *data, size_t len, uint64_t now_wall, char *err,
			       size_t errlen)
{
	struct alerting *a = k->out;
	if (a->msg || a->xfer) {
		snprintf(err, errlen, "the sink is already sending");
		return -1;
	}
	if (alerts_import(a->alerts, data, len, loop_now(k->set->loop), now_wall, err, errlen) < 0)
		return -1;
	alert_flush(k, false);   /* arms the timer for the groups held */
	return 0;
}

static void alert_export_metrics(const struct sink *k)
{
	const struct alerting *a = k->out;
	metrics_set(M_ALERT_GROUPS, (double)alerts_groups(a->alerts), "sink", k->name, NULL);
	metrics_set(M_ALERT_EVENTS_HELD, (double)alerts_held(a->alerts), "sink", k->name, NULL);
	metrics_set(M_ALERT_TOKENS, (double)alerts_tokens(a->alerts, loop_now(k->set->loop)),
		    "sink", k->name, NULL);
}

const struct output output_alert = {
	.name = "alert",
	.open = alert_open,
	.push = alert_push,
	.flush = alert_flush,
	.pending = alert_pending,
	.held = alert_held,
	.drain = alert_drain,
	.draining = alert_draining,
	.export_metrics = alert_export_metrics,
	.free = alert_free,
	.ledger_export = alert_ledger_export,
	.ledger_import = alert_ledger_import,
};
