/* enrich: owns the queue of waiting events, the object cache and the
 * request budget of one cluster. Borrows the cluster's kubeapi and the
 * runtime (the Lua state in force reads objects and routes events). Must
 * not block the watch: defer returns at once, and nothing waits past its
 * deadline. Must not lose an event: every way out routes it. */
#include "enrich.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "http.h"
#include "json.h"
#include "kubeapi.h"
#include "log.h"
#include "metrics.h"

#define BUCKETS 1024
#define MAX_DEPTH 5                 /* links of a controller chain */
#define PUMP_MS 100
#define ERROR_TTL_MS 5000           /* a failed read (not 404/403) is retried sooner */

static const long defaults[ENRICH_NLIMITS] = { 20, 40, 4, 1000, 5000, 60000, 10000 };
static const char *const limit_names[ENRICH_NLIMITS] = {
	"qps", "burst", "inflight", "queue", "deadline", "ttl", "cache",
};

/* The kinds herald reads, and where (RBAC: get on these). */
static const struct kind {
	const char *kind, *prefix, *plural;
	bool cluster_scoped;
} kinds[] = {
	{ "Pod", "/api/v1", "pods", false },
	{ "Node", "/api/v1", "nodes", true },
	{ "ReplicaSet", "/apis/apps/v1", "replicasets", false },
	{ "Deployment", "/apis/apps/v1", "deployments", false },
	{ "StatefulSet", "/apis/apps/v1", "statefulsets", false },
	{ "DaemonSet", "/apis/apps/v1", "daemonsets", false },
	{ "Job", "/apis/batch/v1", "jobs", false },
	{ "CronJob", "/apis/batch/v1", "cronjobs", false },
};

enum state { E_PENDING, E_OK, E_NOT_FOUND, E_FORBIDDEN, E_ERROR };
static const char *const state_names[] = { "pending", "ok", "not_found", "forbidden", "error" };

struct entry {
	char *key;                      /* kind/namespace/name */
	enum state state;
	uint64_t expires;               /* loop ms */
	char *labels;                   /* JSON object text */
	char *owner_kind, *owner_name;  /* the controller, or NULL */
	struct entry *next;             /* bucket chain */
	struct entry *older, *newer;    /* insertion order, for eviction */
};

struct waiting {
	char *text;                     /* the event, as JSON */
	size_t len;
	int admit;
	uint64_t deadline;
	struct checkpoint *ckpt;        /* its hold (enrich_hold), or NULL */
	int stream;
	char uid[128], rv[64];
	const struct kind *kind;        /* of the object to read next */
	char ns[256], name[256];
	int depth;                      /* objects read so far */
	char *labels;                   /* the involved object's */
	struct buf owners;              /* "Kind/name" JSON strings, comma-separated */
	char owner[600];                /* the top of the chain so far */
	enum state result;              /* the worst read of the chain */
	struct waiting *next;
};

struct enricher {
	struct loop *loop;
	struct runtime *rt;
	struct kubeapi *api;
	const char *cluster;
	long limit[ENRICH_NLIMITS];
	void (*emit)(void *arg, const struct runner_item *it);
	void *arg;
	struct entry *buckets[BUCKETS];
	struct entry *oldest, *newest;
	size_t nentries;
	struct waiting *head, *tail;
	size_t nwaiting;
	int inflight;
	double tokens;
	uint64_t refilled;              /* when tokens were last topped up */
	struct loop_timer *timer;
	bool timer_on;
	struct request *requests;       /* in flight */
	struct waiting *routing;        /* the event being routed (finish) */
};

struct request {
	struct enricher *e;
	struct entry *entry;
	struct http_transfer *xfer;
	struct request *next;
};

int enrich_parse(struct enrich_config *c, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL;
	int rc = copy ? 0 : -1;
	for (char *kv = copy ? strtok_r(copy, ",", &save) : NULL; kv && rc == 0; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		int i = -1;
		for (int j = 0; eq && j < ENRICH_NLIMITS; j++)
			if ((size_t)(eq - kv) == strlen(limit_names[j]) && strncmp(kv, limit_names[j], (size_t)(eq - kv)) == 0)
				i = j;
		char *end = NULL;
		long v = i >= 0 ? strtol(eq + 1, &end, 10) : -1;
		bool duration = i == ENRICH_DEADLINE || i == ENRICH_TTL;
		if (v >= 0 && end != eq + 1 && duration && strcmp(end, "s") == 0)
			v *= 1000, end++;
		else if (v >= 0 && end != eq + 1 && duration && strcmp(end, "m") == 0)
			v *= 60000, end++;
		else if (v >= 0 && end != eq + 1 && duration && strcmp(end, "ms") == 0)
			end += 2;
		if (i < 0 || !end || end == eq + 1 || *end || v < 0 || v > 100000000 ||
		    (v == 0 && i != ENRICH_QUEUE && i != ENRICH_TTL && i != ENRICH_CACHE))
			rc = -1;
		else
			c->limit[i] = v;
	}
	if (rc < 0)
		snprintf(err, errlen, "wants qps=N,burst=N,inflight=N,queue=N,deadline=5s,ttl=1m,cache=N, not '%s'", spec);
	free(copy);
	return rc;
}

long enrich_limit(const struct enrich_config *c, enum enrich_limit l)
{
	return c && c->limit[l] >= 0 ? c->limit[l] : defaults[l];
}

static void count_event(struct enricher *e, const char *result)
{
	metrics_inc(M_ENRICH_EVENTS_TOTAL, 1, "cluster", e->cluster, "result", result, NULL);
}

/* --- the cache */

static struct entry **slot(struct enricher *e, const char *key)
{
	struct entry **p = &e->buckets[hash_string(key) & (BUCKETS - 1)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static void entry_free(struct entry *x)
{
	free(x->key);
	free(x->labels);
	free(x->owner_kind);
	free(x->owner_name);
	free(x);
}

static void unlink_entry(struct enricher *e, struct entry *x)
{
	struct entry **p = slot(e, x->key);
	*p = x->next;
	if (x->older)
		x->older->newer = x->newer;
	else
		e->oldest = x->newer;
	if (x->newer)
		x->newer->older = x->older;
	else
		e->newest = x->older;
	e->nentries--;
}

/* Drops the oldest answers (never one still being read) to make room. */
static void evict(struct enricher *e)
{
	struct entry *x = e->oldest;
	while (x && (long)e->nentries >= e->limit[ENRICH_CACHE]) {
		struct entry *next = x->newer;
		if (x->state != E_PENDING) {
			unlink_entry(e, x);
			entry_free(x);
		}
		x = next;
	}
}

static struct entry *entry_new(struct enricher *e, const char *key)
{
	evict(e);
	struct entry *x = calloc(1, sizeof(*x));
	if (!x || !(x->key = strdup(key))) {
		free(x);
		return NULL;
	}
	x->state = E_PENDING;
	struct entry **p = slot(e, key);
	*p = x;
	x->older = e->newest;
	if (e->newest)
		e->newest->newer = x;
	else
		e->oldest = x;
	e->newest = x;
	e->nentries++;
	return x;
}

/* --- reading objects */

static const struct kind *kind_of(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

/* A Kubernetes name (DNS subdomain characters), safe in a URL path. */
static bool good_name(const char *s, bool may_be_empty)
{
	if (!s || (!*s && !may_be_empty) || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

static void key_of(const struct waiting *w, char *out, size_t len)
{
	snprintf(out, len, "%s/%s/%s", w->kind->kind, w->kind->cluster_scoped ? "" : w->ns, w->name);
}

static void pump(struct enricher *e);

static void on_read(void *arg, const struct http_response *r)
{
	struct request *q = arg;
	struct enricher *e = q->e;
	struct entry *x = q->entry;
	for (struct request **p = &e->requests; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	free(q);
	e->inflight--;
	uint64_t now = loop_now(e->loop);
	x->expires = now + (uint64_t)e->limit[ENRICH_TTL];
	if (r->error) {
		x->state = E_ERROR;
	} else if (r->status == 200) {
		struct runner_object o;
		struct luahost *h = runtime_host(e->rt);
		if (h && runner_object_meta(h, r->body, r->body_len, &o) == 0) {
			x->state = E_OK;
			x->labels = o.labels;
			x->owner_kind = o.owner_kind;
			x->owner_name = o.owner_name;
		} else {
			x->state = E_ERROR;
		}
	} else if (r->status == 404) {
		x->state = E_NOT_FOUND;
	} else if (r->status == 403) {
		x->state = E_FORBIDDEN;
	} else {
		if (r->status == 401)
			kubeapi_unauthorized(e->api);
		x->state = E_ERROR;
	}
	if (x->state == E_ERROR && x->expires > now + ERROR_TTL_MS)
		x->expires = now + ERROR_TTL_MS;
	metrics_inc(M_ENRICH_LOOKUPS_TOTAL, 1, "cluster", e->cluster, "result", state_names[x->state], NULL);
	if (x->state == E_FORBIDDEN || x->state == E_ERROR)
		log_debug("cluster %s: reading %s: %s (HTTP %ld)", e->cluster, x->key, state_names[x->state],
			  r->status);
	pump(e);
}

/* Starts reading w's next object when the budget allows. */
static void start_read(struct enricher *e, struct waiting *w, const char *key)
{
	uint64_t now = loop_now(e->loop);
	e->tokens += (double)(now - e->refilled) * (double)e->limit[ENRICH_QPS] / 1000.0;
	if (e->tokens > (double)e->limit[ENRICH_BURST])
		e->tokens = (double)e->limit[ENRICH_BURST];
	e->refilled = now;
	if (e->inflight >= e->limit[ENRICH_INFLIGHT] || e->tokens < 1.0)
		return;
	struct request *q = calloc(1, sizeof(*q));
	struct entry *x = q ? entry_new(e, key) : NULL;
	if (!x) {
		free(q);
		return;    /* out of memory: tried again on the next pump, or the deadline */
	}
	struct buf path = BUF_INIT;
	if (w->kind->cluster_scoped)
		buf_printf(&path, "%s/%s/%s", w->kind->prefix, w->kind->plural, w->name);
	else
		buf_printf(&path, "%s/namespaces/%s/%s/%s", w->kind->prefix, w->ns, w->kind->plural, w->name);
	struct http_request req = { .method = "GET", .timeout_ms = 10000 };
	q->e = e;
	q->entry = x;
	e->tokens -= 1.0;
	e->inflight++;
	q->next = e->requests;
	e->requests = q;
	q->xfer = kubeapi_start(e->api, &req, path.data, on_read, q);
	buf_free(&path);
	if (!q->xfer) {
		e->requests = q->next;
		free(q);
		e->inflight--;
		x->state = E_ERROR;
		x->expires = now + ERROR_TTL_MS;
	}
}

/* --- waiting events */

static void waiting_free(struct waiting *w)
{
	free(w->text);
	free(w->labels);
	buf_free(&w->owners);
	free(w);
}

static const struct runner_hooks *route_hooks(struct enricher *e);

/* Routes w with what is known and frees it. */
static void finish(struct enricher *e, struct waiting *w, const char *why)
{
	struct buf enrichment = BUF_INIT;
	if (w->labels) {
		buf_printf(&enrichment, "{\"owner\":");
		json_append_string(&enrichment, w->owner, strlen(w->owner));
		buf_printf(&enrichment, ",\"owners\":[%s],\"labels\":%s}", w->owners.data ? w->owners.data : "",
			   w->labels);
	}
	count_event(e, why ? why : w->labels && w->result == E_OK ? "enriched" : state_names[w->result]);
	struct luahost *h = runtime_host(e->rt);
	e->routing = w;
	if (!h || runner_route_deferred(h, w->text, w->len, enrichment.data, w->admit, route_hooks(e)) < 0)
		log_error("cluster %s: routing an enriched event failed", e->cluster);
	e->routing = NULL;
	if (w->ckpt)   /* its items are out (each holds a delivery of its own) */
		checkpoint_ack(w->ckpt, w->stream, w->uid, w->rv, false);
	buf_free(&enrichment);
	waiting_free(w);
}

/* Moves w along its chain through the cache. true when w is done. */
static bool advance(struct enricher *e, struct waiting *w, uint64_t now)
{
	char key[800];
	while (w->kind && w->depth < MAX_DEPTH) {
		key_of(w, key, sizeof(key));
		struct entry *x = *slot(e, key);
		if (x && x->state != E_PENDING && x->expires <= now) {
			unlink_entry(e, x);
			entry_free(x);
			x = NULL;
		}
		if (!x) {
			start_read(e, w, key);
			return false;
		}
		if (x->state == E_PENDING)
			return false;
		if (x->state != E_OK) {
			w->result = x->state;
			return true;
		}
		if (w->depth++ == 0)
			w->labels = strdup(x->labels ? x->labels : "{}");
		if (!x->owner_kind || !x->owner_name)
			return true;
		snprintf(w->owner, sizeof(w->owner), "%s/%s", x->owner_kind, x->owner_name);
		if (w->owners.len)
			buf_printf(&w->owners, ",");
		json_append_string(&w->owners, w->owner, strlen(w->owner));
		w->kind = kind_of(x->owner_kind);
		if (!good_name(x->owner_name, false))
			w->kind = NULL;
		else
			snprintf(w->name, sizeof(w->name), "%s", x->owner_name);
	}
	return true;
}

static void pump(struct enricher *e)
{
	uint64_t now = loop_now(e->loop);
	struct waiting **p = &e->head, *prev = NULL;
	while (*p) {
		struct waiting *w = *p;
		bool late = now >= w->deadline;
		bool done = advance(e, w, now);
		if (!done && !late) {
			prev = w;
			p = &w->next;
			continue;
		}
		*p = w->next;
		if (e->tail == w)
			e->tail = prev;
		e->nwaiting--;
		finish(e, w, done ? NULL : "deadline");
	}
	if (e->head && !e->timer_on) {
		e->timer_on = true;
		loop_timer_start(e->timer, PUMP_MS);
	}
}

static void on_timer(struct loop *loop, void *arg)
{
	struct enricher *e = arg;
	e->timer_on = false;
	pump(e);
}

bool enricher_defer(struct enricher *e, const struct runner_defer *d, const struct enrich_hold *hold)
{
	const struct kind *k = kind_of(d->kind);
	if (!k || !good_name(d->name, false) || !good_name(d->namespace, k->cluster_scoped)) {
		count_event(e, "unsupported");
		return false;
	}
	if ((long)e->nwaiting >= e->limit[ENRICH_QUEUE]) {
		count_event(e, "queue_full");
		return false;
	}
	struct waiting *w = calloc(1, sizeof(*w));
	if (!w || !(w->text = malloc(d->len + 1))) {
		free(w);
		count_event(e, "queue_full");
		return false;
	}
	memcpy(w->text, d->text, d->len);
	w->text[d->len] = '\0';
	w->len = d->len;
	w->admit = d->admit;
	if (hold && hold->ckpt && strlen(hold->uid) < sizeof(w->uid) && strlen(hold->rv) < sizeof(w->rv)) {
		w->ckpt = hold->ckpt;
		w->stream = hold->stream;
		memcpy(w->uid, hold->uid, strlen(hold->uid) + 1);
		memcpy(w->rv, hold->rv, strlen(hold->rv) + 1);
	} else if (hold && hold->ckpt) {
		free(w->text);
		free(w);
		count_event(e, "queue_full");
		return false;
	}
	w->deadline = loop_now(e->loop) + (uint64_t)e->limit[ENRICH_DEADLINE];
	w->kind = k;
	w->result = E_OK;
	snprintf(w->ns, sizeof(w->ns), "%s", d->namespace ? d->namespace : "");
	snprintf(w->name, sizeof(w->name), "%s", d->name);
	snprintf(w->owner, sizeof(w->owner), "%s/%s", k->kind, d->name);
	if (e->tail)
		e->tail->next = w;
	else
		e->head = w;
	e->tail = w;
	e->nwaiting++;
	/* Not now: the watch is inside the runtime; the timer routes it. */
	if (!e->timer_on) {
		e->timer_on = true;
		loop_timer_start(e->timer, 0);
	}
	return true;
}

size_t enricher_pending(const struct enricher *e)
{
	return e ? e->nwaiting : 0;
}

void enricher_flush(struct enricher *e)
{
	while (e && e->head) {
		struct waiting *w = e->head;
		e->head = w->next;
		e->nwaiting--;
		finish(e, w, "deadline");
	}
	if (e)
		e->tail = NULL;
}

/* --- routing, through the runtime in force */

/* Each item is one more delivery of the routed event, acknowledged by
 * its sink through the id it carries. */
static void route_emit(void *arg, const struct runner_item *it)
{
	struct enricher *e = arg;
	struct waiting *w = e->routing;
	struct runner_item tagged = *it;
	if (w && w->ckpt && checkpoint_note(w->ckpt, w->stream, w->uid, w->rv, 1) == 0) {
		tagged.ckpt = w->ckpt;
		tagged.ckid = checkpoint_id_of(w->stream, w->uid, w->rv);
	}
	e->emit(e->arg, &tagged);
}

static void route_routed(void *arg, const struct runner_event *ev)
{
	metrics_inc(M_EVENTS_ROUTED_TOTAL, 1, NULL);
	if (ev->nsinks == 0)
		metrics_inc(M_EVENTS_UNROUTED_TOTAL, 1, "rule", ev->dropped_by ? ev->dropped_by : "none", NULL);
}

static const struct runner_hooks *route_hooks(struct enricher *e)
{
	static struct runner_hooks hooks;
	hooks = (struct runner_hooks){ .arg = e, .emit = route_emit, .routed = route_routed };
	return &hooks;
}

struct enricher *enricher_new(struct loop *loop, struct runtime *rt, struct kubeapi *api, const char *cluster,
			      const struct enrich_config *c,
			      void (*emit)(void *arg, const struct runner_item *it), void *arg)
{
	struct enricher *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->loop = loop;
	e->rt = rt;
	e->api = api;
	e->cluster = cluster;
	for (int i = 0; i < ENRICH_NLIMITS; i++)
		e->limit[i] = enrich_limit(c, (enum enrich_limit)i);
	e->emit = emit;
	e->arg = arg;
	e->tokens = (double)e->limit[ENRICH_BURST];
	e->refilled = loop_now(loop);
	if (!(e->timer = loop_timer_new(loop, on_timer, e))) {
		free(e);
		return NULL;
	}
	return e;
}

void enricher_free(struct enricher *e)
{
	if (!e)
		return;
	while (e->requests) {
		struct request *q = e->requests;
		e->requests = q->next;
		http_cancel(q->xfer);
		free(q);
	}
	while (e->head) {
		struct waiting *w = e->head;
		e->head = w->next;
		waiting_free(w);
	}
	while (e->oldest) {
		struct entry *x = e->oldest;
		e->oldest = x->newer;
		entry_free(x);
	}
	loop_timer_free(e->timer);
	free(e);
}
