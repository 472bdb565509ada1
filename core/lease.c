/* lease: the election state machine of one Lease. Owns its copy of the
 * config, the record last seen and the body of the request it asked for.
 * Must not do I/O, read a clock, log or touch metrics: callers pass time
 * in, send the requests and report stats. */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

enum pending { PENDING_NONE, PENDING_GET, PENDING_CREATE, PENDING_ACQUIRE, PENDING_RENEW, PENDING_RELEASE };

struct lease {
	struct lease_config cfg;
	enum lease_state state;
	bool candidate;
	bool releasing;            /* a release was asked for and is not done */
	bool released;
	bool observed;             /* rec (or not_found) holds a read */
	bool not_found;
	bool want_get;             /* the next request reads (after a 409, at start) */
	bool acquire_now;          /* a read found it free: write at once */
	struct lease_record rec;   /* the last record seen or written */
	uint64_t observed_ms;      /* when rec's election fields last changed */
	uint64_t renewed_ms;       /* send time of the last write that kept us holder */
	uint64_t next_ms;          /* when to act next */
	enum pending inflight;
	uint64_t sent_ms;
	struct buf body;
	uint64_t rng;
	unsigned term;
	struct lease_stats stats;
	char error[640];
};

void lease_config_defaults(struct lease_config *c)
{
	c->duration_ms = LEASE_DEFAULT_DURATION_MS;
	c->renew_deadline_ms = LEASE_DEFAULT_RENEW_DEADLINE_MS;
	c->retry_ms = LEASE_DEFAULT_RETRY_MS;
}

static int check_name(const char *what, const char *s, size_t max, char *err, size_t errlen)
{
	if (!s || !*s) {
		snprintf(err, errlen, "%s is empty", what);
		return -1;
	}
	if (strlen(s) > max) {
		snprintf(err, errlen, "%s is longer than %zu bytes", what, max);
		return -1;
	}
	return 0;
}

int lease_config_check(const struct lease_config *c, char *err, size_t errlen)
{
	if (check_name("lease namespace", c->namespace, 63, err, errlen) < 0 ||
	    check_name("lease name", c->name, 253, err, errlen) < 0 ||
	    check_name("lease identity", c->identity, LEASE_ID_MAX - 1, err, errlen) < 0)
		return -1;
	if (c->retry_ms == 0) {
		snprintf(err, errlen, "lease retry period must be greater than zero");
		return -1;
	}
	if ((double)c->renew_deadline_ms <= LEASE_JITTER_FACTOR * (double)c->retry_ms) {
		snprintf(err, errlen, "lease renew deadline (%llu ms) must be greater than the retry period "
			 "(%llu ms) times %.1f", (unsigned long long)c->renew_deadline_ms,
			 (unsigned long long)c->retry_ms, LEASE_JITTER_FACTOR);
		return -1;
	}
	if (c->duration_ms <= c->renew_deadline_ms) {
		snprintf(err, errlen, "lease duration (%llu ms) must be greater than the renew deadline (%llu ms)",
			 (unsigned long long)c->duration_ms, (unsigned long long)c->renew_deadline_ms);
		return -1;
	}
	if (c->duration_ms % 1000 || c->duration_ms / 1000 > INT32_MAX) {
		snprintf(err, errlen, "lease duration must be a whole number of seconds");
		return -1;
	}
	return 0;
}

struct lease *lease_new(const struct lease_config *c)
{
	struct lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->cfg = *c;
	l->cfg.namespace = strdup(c->namespace);
	l->cfg.name = strdup(c->name);
	l->cfg.identity = strdup(c->identity);
	if (!l->cfg.namespace || !l->cfg.name || !l->cfg.identity) {
		lease_free(l);
		return NULL;
	}
	l->candidate = true;
	l->want_get = true;
	l->rng = c->seed * 2685821657736338717ull + 1;
	return l;
}

void lease_free(struct lease *l)
{
	if (!l)
		return;
	free((char *)l->cfg.namespace);
	free((char *)l->cfg.name);
	free((char *)l->cfg.identity);
	buf_free(&l->body);
	free(l);
}

/* The retry period less 0-20 %: candidates spread out, yet a standby reads
 * at least once per retry period (the takeover bound counts on it). */
static uint64_t jittered(struct lease *l)
{
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	uint64_t r = (l->rng * 2685821657736338717ull) >> 11;
	double u = (double)r / (double)(1ull << 53);
	return l->cfg.retry_ms - (uint64_t)(u * 0.2 * (double)l->cfg.retry_ms);
}

static bool holding(const struct lease *l)
{
	return l->state == LEASE_LEADER || l->state == LEASE_STEPPING_DOWN;
}

/* A holder that has not renewed for the renew deadline is no longer one. */
static void check_deadline(struct lease *l, uint64_t now)
{
	if (holding(l) && now >= l->renewed_ms + l->cfg.renew_deadline_ms) {
		l->state = LEASE_STANDBY;
		l->stats.lost++;
		snprintf(l->error, sizeof(l->error), "lease %s: not renewed within %llu ms, stopped leading",
			 l->cfg.name, (unsigned long long)l->cfg.renew_deadline_ms);
		if (l->releasing) {      /* nothing left to hand back safely */
			l->releasing = false;
			l->released = true;
		}
		l->want_get = true;
		l->acquire_now = false;
	}
}

static bool expired(const struct lease *l, uint64_t now)
{
	return now > l->observed_ms + (uint64_t)l->rec.duration_s * 1000;
}

static bool is_mine(const struct lease *l)
{
	return strcmp(l->rec.holder, l->cfg.identity) == 0;
}

/* Keeps rec; the election fields changing (not the resourceVersion or
 * annotations) is what counts as the holder being alive. */
static void observe(struct lease *l, const struct lease_record *r, uint64_t at)
{
	if (!l->observed || l->not_found || strcmp(r->holder, l->rec.holder) != 0 ||
	    r->duration_s != l->rec.duration_s || r->acquire_us != l->rec.acquire_us ||
	    r->renew_us != l->rec.renew_us || r->transitions != l->rec.transitions)
		l->observed_ms = at;
	l->rec = *r;
	l->observed = true;
	l->not_found = false;
}

static void write_body(struct lease *l, const struct lease_record *r)
{
	buf_reset(&l->body);
	if (leasejson_write(&l->body, l->cfg.namespace, l->cfg.name, r) < 0)
		buf_reset(&l->body);   /* out of memory: an empty body fails and is retried */
}

static void ask(struct lease *l, uint64_t now, enum pending p, enum lease_op op, struct lease_action *out)
{
	l->inflight = p;
	l->sent_ms = now;
	out->op = op;
	out->body = op == LEASE_CREATE || op == LEASE_UPDATE ? (l->body.data ? l->body.data : "") : NULL;
	out->wake_ms = UINT64_MAX;
}

void lease_next(struct lease *l, uint64_t now, int64_t wall_us, struct lease_action *out)
{
	check_deadline(l, now);
	if (l->inflight != PENDING_NONE) {
		out->op = LEASE_WAIT;
		out->body = NULL;
		out->wake_ms = UINT64_MAX;
		return;
	}
	struct lease_record r = l->rec;
	r.members[0] = '\0';
	if (l->releasing && !l->want_get) {
		r.holder[0] = '\0';
		r.duration_s = 1;
		r.acquire_us = r.renew_us = wall_us;
		write_body(l, &r);
		ask(l, now, PENDING_RELEASE, LEASE_UPDATE, out);
		return;
	}
	if (now < l->next_ms && !l->acquire_now && !l->releasing) {
		out->op = LEASE_WAIT;
		out->body = NULL;
		out->wake_ms = l->next_ms;
		if (holding(l) && l->renewed_ms + l->cfg.renew_deadline_ms < out->wake_ms)
			out->wake_ms = l->renewed_ms + l->cfg.renew_deadline_ms;
		return;
	}
	if (l->want_get || (!holding(l) && !l->acquire_now)) {
		ask(l, now, PENDING_GET, LEASE_GET, out);
		return;
	}
	snprintf(r.holder, sizeof(r.holder), "%s", l->cfg.identity);
	r.duration_s = (long)(l->cfg.duration_ms / 1000);
	r.renew_us = wall_us;
	if (holding(l)) {
		write_body(l, &r);
		ask(l, now, PENDING_RENEW, LEASE_UPDATE, out);
		return;
	}
	/* A standby whose last read found the lease free, expired or already
	 * its own (a restart with the same pod name). */
	l->acquire_now = false;
	if (!is_mine(l) || !l->rec.acquire_us) {
		r.acquire_us = wall_us;
		if (!l->not_found && !is_mine(l))
			r.transitions = l->rec.transitions + 1;
	}
	if (l->not_found) {
		r.rv[0] = '\0';
		r.transitions = 0;
		write_body(l, &r);
		ask(l, now, PENDING_CREATE, LEASE_CREATE, out);
	} else {
		write_body(l, &r);
		ask(l, now, PENDING_ACQUIRE, LEASE_UPDATE, out);
	}
}

static void failed(struct lease *l, const char *what)
{
	l->stats.failures++;
	snprintf(l->error, sizeof(l->error), "lease %s: %s", l->cfg.name, what);
}

/* After a read: decide between acquiring now and reading again later. */
static void after_read(struct lease *l, uint64_t now)
{
	if (holding(l)) {
		if (!l->not_found && is_mine(l)) {
			l->want_get = false;   /* renew on the fresh resourceVersion */
			l->next_ms = now;
			return;
		}
		/* Someone else holds it (or deleted it): we are not the leader. */
		l->state = LEASE_STANDBY;
		l->stats.lost++;
		snprintf(l->error, sizeof(l->error), "lease %s: taken by %s", l->cfg.name,
			 l->not_found ? "nobody (deleted)" : l->rec.holder);
		if (l->releasing) {
			l->releasing = false;
			l->released = true;
		}
	}
	if (l->releasing) {
		l->releasing = false;  /* a standby asked to release: nothing held */
		l->released = true;
	}
	l->next_ms = now + jittered(l);
	if (!l->candidate)
		return;
	if (l->not_found || !l->rec.holder[0] || is_mine(l) || expired(l, now)) {
		l->want_get = false;
		l->acquire_now = true;
		return;
	}
	/* Read again right after it would expire, if that comes first. */
	uint64_t expiry = l->observed_ms + (uint64_t)l->rec.duration_s * 1000 + 1;
	if (expiry < l->next_ms)
		l->next_ms = expiry;
}

static int parse(struct lease *l, const char *body, size_t len, struct lease_record *r)
{
	char err[120];
	if (!body || leasejson_parse(body, len, r, err, sizeof(err)) < 0 ||
	    (!r->rv[0] && snprintf(err, sizeof(err), "no metadata.resourceVersion"))) {
		l->stats.bad_records++;
		failed(l, body ? err : "no body");
		return -1;
	}
	return 0;
}

void lease_done(struct lease *l, uint64_t now, enum lease_result res, const char *body, size_t len)
{
	enum pending p = l->inflight;
	struct lease_record r;
	if (p == PENDING_NONE)
		return;
	l->inflight = PENDING_NONE;
	check_deadline(l, now);
	if (res == LEASE_OK && parse(l, body, len, &r) < 0)
		res = LEASE_FAILED;
	else if (res == LEASE_FAILED)
		failed(l, "request failed");
	if (res == LEASE_CONFLICT) {
		l->stats.conflicts++;
		l->want_get = true;    /* someone else wrote: read, then decide */
		l->next_ms = now;
		return;
	}
	if (res == LEASE_FAILED) {
		/* The write may or may not have landed: read before writing
		 * again, except a holder, whose retries stay cheap updates
		 * (a stale resourceVersion just answers 409). */
		l->want_get = !holding(l);
		l->acquire_now = false;
		l->next_ms = now + (holding(l) ? l->cfg.retry_ms : jittered(l));
		return;
	}
	switch (p) {
	case PENDING_GET:
		if (res == LEASE_NOT_FOUND) {
			l->observed = l->not_found = true;
			memset(&l->rec, 0, sizeof(l->rec));
			l->observed_ms = now;
		} else {
			observe(l, &r, now);
		}
		after_read(l, now);
		return;
	case PENDING_RELEASE:
		if (res == LEASE_NOT_FOUND) {
			l->want_get = true;
			l->next_ms = now;
			return;
		}
		observe(l, &r, now);
		l->state = LEASE_STANDBY;
		l->releasing = false;
		l->released = true;
		l->stats.released++;
		l->want_get = true;
		l->next_ms = now + jittered(l);
		return;
	case PENDING_CREATE:
	case PENDING_ACQUIRE:
	case PENDING_RENEW:
		if (res == LEASE_NOT_FOUND && p == PENDING_CREATE) {
			/* The namespace is missing: not a reason to spin. */
			failed(l, "create answered 404 (does the namespace exist?)");
			l->want_get = true;
			l->next_ms = now + jittered(l);
			return;
		}
		if (res == LEASE_NOT_FOUND) {  /* deleted under us: read, then create */
			l->want_get = true;
			l->next_ms = now;
			return;
		}
		observe(l, &r, l->sent_ms);
		/* A write answered after the deadline of the write it follows
		 * still counts from when it was sent. */
		if (now < l->sent_ms + l->cfg.renew_deadline_ms) {
			l->renewed_ms = l->sent_ms;
			if (!holding(l)) {
				l->state = LEASE_LEADER;
				l->term++;
				l->stats.acquired++;
			}
		}
		l->want_get = !holding(l);
		l->next_ms = l->sent_ms + l->cfg.retry_ms;
		return;
	case PENDING_NONE:
		return;
	}
}

enum lease_state lease_state(struct lease *l, uint64_t now)
{
	check_deadline(l, now);
	return l->state;
}

bool lease_may_deliver(struct lease *l, uint64_t now)
{
	return lease_state(l, now) == LEASE_LEADER;
}

bool lease_held(struct lease *l, uint64_t now)
{
	check_deadline(l, now);
	return holding(l);
}

unsigned lease_term(const struct lease *l)
{
	return l->term;
}

void lease_set_candidate(struct lease *l, bool candidate)
{
	if (candidate && !l->candidate)
		l->released = false;
	l->candidate = candidate;
	if (!candidate)
		l->acquire_now = false;
}

bool lease_candidate(const struct lease *l)
{
	return l->candidate;
}

void lease_stepdown(struct lease *l)
{
	if (l->state == LEASE_LEADER)
		l->state = LEASE_STEPPING_DOWN;
}

void lease_release(struct lease *l)
{
	l->candidate = false;
	l->acquire_now = false;
	if (!holding(l)) {
		l->released = true;
		return;
	}
	l->state = LEASE_STEPPING_DOWN;
	l->releasing = true;
}

bool lease_released(const struct lease *l)
{
	return l->released;
}

void lease_poke(struct lease *l)
{
	l->next_ms = 0;
}

const char *lease_live_holder(struct lease *l, uint64_t now)
{
	check_deadline(l, now);
	if (holding(l))
		return l->cfg.identity;
	if (!l->observed || l->not_found || !l->rec.holder[0] || expired(l, now))
		return NULL;
	return l->rec.holder;
}

bool lease_observed(const struct lease *l)
{
	return l->observed;
}

const struct lease_record *lease_record(const struct lease *l)
{
	return &l->rec;
}

const struct lease_stats *lease_stats(const struct lease *l)
{
	return &l->stats;
}

const char *lease_last_error(const struct lease *l)
{
	return l->error;
}

const char *lease_name(const struct lease *l)
{
	return l->cfg.name;
}
