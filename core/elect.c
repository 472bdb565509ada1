/* elect: owns the shard (the per-cluster Leases and the members Lease),
 * the connection to herald's own API server, the requests in flight and
 * the timer that drives them. Decides nothing itself: core/shard.c and
 * core/lease.c decide; this file sends what they ask for and reports each
 * change of "may deliver" to the daemon's hooks. Must not touch sources
 * or sinks directly. */
#include "elect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "kubeapi.h"
#include "kubeconfig.h"
#include "log.h"
#include "metrics.h"
#include "shard.h"

#define TICK_MS 200  /* a renew deadline passing is noticed within this */

struct inflight {
	struct elect *e;
	size_t target;                 /* cluster index, or SHARD_MEMBERS */
	struct http_transfer *xfer;    /* NULL: nothing in flight */
};

struct elect {
	struct loop *loop;
	struct kubeconn conn;
	struct kubeapi *api;
	struct shard *shard;
	struct loop_timer *timer;
	struct elect_hooks hooks;
	const char *const *names;
	size_t n;
	struct inflight *flights;      /* n + 1: the clusters, then the members Lease */
	bool *delivering;              /* what the hooks were last told */
	unsigned *saved_term;          /* the term whose state save is done */
	unsigned long *transitions;
	char ns[254], prefix[64], identity[LEASE_ID_MAX];
	uint64_t retry_ms;
	bool leaving;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool elect_enabled(const struct options *o)
{
	if (o->from)
		return false;
	if (o->leader_elect >= 0)
		return o->leader_elect == 1;
	if (o->ke_argv)
		return false;  /* on kube-eventer's flags: its RBAC has no Leases */
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	return host && *host;
}

/* The pod's name (downward API); outside a pod the host name and the
 * process id, so two processes on one machine never share an identity
 * (they would both think they hold the Lease). */
static void identity(char *out, size_t len)
{
	const char *pod = getenv("POD_NAME");
	char host[128] = "";
	if (pod && *pod) {
		snprintf(out, len, "%s", pod);
		return;
	}
	if (gethostname(host, sizeof(host)) < 0 || !*host)
		snprintf(host, sizeof(host), "herald");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, len, "%s-%ld", host, (long)getpid());
}

static void flight_done(void *arg, const struct http_response *r);

/* Sends one request shard_next asked for. */
static void send_request(struct elect *e, const struct shard_request *q)
{
	size_t slot = q->target == SHARD_MEMBERS ? e->n : q->target;
	struct inflight *f = &e->flights[slot];
	static const char *const methods[] = { [LEASE_GET] = "GET", [LEASE_CREATE] = "POST",
					       [LEASE_UPDATE] = "PUT" };
	struct buf path = BUF_INIT;
	buf_printf(&path, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", e->ns);
	if (q->op != LEASE_CREATE)
		buf_printf(&path, "/%s", q->lease);
	struct http_request req = { .method = methods[q->op], .timeout_ms = (long)e->retry_ms,
				    .connect_timeout_ms = (long)e->retry_ms };
	if (q->op != LEASE_GET && q->body) {
		req.body = q->body;
		req.body_len = strlen(q->body);
	}
	f->e = e;
	f->target = q->target;
	f->xfer = kubeapi_start(e->api, &req, path.data, flight_done, f);
	metrics_inc(M_LEASE_REQUESTS_TOTAL, 1, "verb", methods[q->op], NULL);
	buf_free(&path);
	if (!f->xfer)
		shard_done(e->shard, q->target, now_ms(), LEASE_FAILED, NULL, 0);
}

/* Tells the hooks what changed; hands over Leases whose state is saved. */
static void reconcile(struct elect *e, uint64_t now)
{
	for (size_t i = 0; i < e->n; i++) {
		bool may = shard_may_deliver(e->shard, i, now);
		if (may && !e->delivering[i]) {
			e->delivering[i] = true;
			e->transitions[i]++;
			metrics_inc(M_LEADER_TRANSITIONS_TOTAL, 1, "cluster", e->names[i], NULL);
			log_info("cluster %s: leading (lease %s-%s, term %u)", e->names[i], e->prefix, e->names[i],
				 shard_term(e->shard, i));
			e->hooks.gained(e->hooks.arg, i);
		} else if (!may && e->delivering[i]) {
			e->delivering[i] = false;
			e->transitions[i]++;
			metrics_inc(M_LEADER_TRANSITIONS_TOTAL, 1, "cluster", e->names[i], NULL);
			log_warn("cluster %s: no longer leading: stopped delivering", e->names[i]);
			e->hooks.lost(e->hooks.arg, i);
		}
		unsigned term = shard_term(e->shard, i);
		if (shard_state(e->shard, i, now) == LEASE_STEPPING_DOWN && e->saved_term[i] != term &&
		    e->hooks.save(e->hooks.arg, i)) {
			e->saved_term[i] = term;
			log_info("cluster %s: state saved; handing the lease over", e->names[i]);
			shard_handoff_done(e->shard, i);
		}
	}
}

/* One step: report changes, send what is due, sleep until the next. */
static void step(struct elect *e)
{
	uint64_t now = now_ms();
	reconcile(e, now);
	struct shard_request reqs[CLI_MAX_CLUSTERS + 1];
	uint64_t wake;
	size_t n = shard_next(e->shard, now, wall_us(), reqs, e->n + 1, &wake);
	for (size_t k = 0; k < n; k++)
		send_request(e, &reqs[k]);
	reconcile(e, now_ms());
	uint64_t delay = wake > now ? wake - now : 0;
	if (delay > TICK_MS)
		delay = TICK_MS;
	loop_timer_start(e->timer, delay);
}

static void flight_done(void *arg, const struct http_response *r)
{
	struct inflight *f = arg;
	struct elect *e = f->e;
	f->xfer = NULL;
	enum lease_result res = LEASE_FAILED;
	if (!r->error && (r->status == 200 || r->status == 201))
		res = LEASE_OK;
	else if (r->status == 404)
		res = LEASE_NOT_FOUND;
	else if (r->status == 409)
		res = LEASE_CONFLICT;
	if (res == LEASE_FAILED) {
		char body[256];
		kubeapi_excerpt(r, body, sizeof(body));
		log_warn("lease %s: %s %s", f->target == SHARD_MEMBERS ? "members" : e->names[f->target],
			 r->error ? r->error : "HTTP", r->error ? "" : body);
		metrics_inc(M_LEASE_FAILURES_TOTAL, 1, NULL);
		if (r->status == 401)
			kubeapi_unauthorized(e->api);
	}
	shard_done(e->shard, f->target, now_ms(), res, r->body, r->body_len);
	step(e);
}

static void on_timer(struct loop *loop, void *arg)
{
	step(arg);
}

/* Fills the shard's config from the options; -1 (logged) when invalid. */
static int configure(struct elect *e, const struct options *o, struct shard_config *sc)
{
	const char *ns = o->lease_namespace ? o->lease_namespace : getenv("POD_NAMESPACE");
	snprintf(e->ns, sizeof(e->ns), "%s", ns && *ns ? ns : "default");
	snprintf(e->prefix, sizeof(e->prefix), "%s", o->lease_name ? o->lease_name : "herald");
	identity(e->identity, sizeof(e->identity));
	*sc = (struct shard_config){
		.namespace = e->ns, .identity = e->identity, .prefix = e->prefix,
		.clusters = e->names, .nclusters = e->n,
		.duration_ms = o->lease_duration_ms, .renew_deadline_ms = o->renew_deadline_ms,
		.retry_ms = o->retry_period_ms,
		.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)wall_us(),
	};
	char err[256];
	if (shard_config_check(sc, err, sizeof(err)) < 0) {
		log_error("leader election: %s", err);
		return -1;
	}
	e->retry_ms = sc->retry_ms;
	return 0;
}

/* herald's own API server: the service account in a pod, else the
 * kubeconfig. */
static int connect_home(struct elect *e, const struct options *o)
{
	char err[512];
	bool in_pod = !o->kubeconfig && getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST");
	int rc = in_pod ? kubeconfig_in_cluster(&e->conn, err, sizeof(err))
			: kubeconfig_load(o->kubeconfig, o->context, &e->conn, err, sizeof(err));
	if (rc < 0)
		log_error("leader election: %s", err);
	return rc;
}

struct elect *elect_new(struct loop *loop, struct http *http, const struct options *o,
			const char *const *clusters, size_t n, const struct elect_hooks *hooks)
{
	struct elect *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->loop = loop;
	e->hooks = *hooks;
	e->names = clusters;
	e->n = n;
	struct shard_config sc;
	if (configure(e, o, &sc) < 0 || connect_home(e, o) < 0)
		goto fail;
	e->flights = calloc(n + 1, sizeof(*e->flights));
	e->delivering = calloc(n, sizeof(*e->delivering));
	e->saved_term = calloc(n, sizeof(*e->saved_term));
	e->transitions = calloc(n, sizeof(*e->transitions));
	if (!e->flights || !e->delivering || !e->saved_term || !e->transitions ||
	    !(e->api = kubeapi_new(http, &e->conn, "lease")) || !(e->shard = shard_new(&sc)) ||
	    !(e->timer = loop_timer_new(loop, on_timer, e)))
		goto fail;
	for (size_t i = 0; i < n; i++)
		metrics_set(M_LEADER, 0, "cluster", clusters[i], NULL);
	log_info("leader election: identity %s, leases %s-<cluster> in namespace %s (%zu cluster%s)", e->identity,
		 e->prefix, e->ns, n, n == 1 ? "" : "s");
	return e;
fail:
	elect_free(e);
	return NULL;
}

void elect_free(struct elect *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->flights && i <= e->n; i++)
		http_cancel(e->flights[i].xfer);
	loop_timer_free(e->timer);
	shard_free(e->shard);
	kubeapi_free(e->api);
	kubeconn_free(&e->conn);
	free(e->flights);
	free(e->delivering);
	free(e->saved_term);
	free(e->transitions);
	free(e);
}

void elect_start(struct elect *e)
{
	loop_timer_start(e->timer, 0);
}

bool elect_may_deliver(struct elect *e, size_t i)
{
	return i < e->n && e->delivering[i] && shard_may_deliver(e->shard, i, now_ms());
}

static void on_leave_check(struct loop *loop, void *arg)
{
	loop_stop(loop);  /* elect_leave looks again */
}

void elect_leave(struct elect *e, uint64_t deadline_ms)
{
	e->leaving = true;
	shard_leave(e->shard);
	step(e);
	uint64_t end = now_ms() + deadline_ms;
	struct loop_timer *check = loop_timer_new(e->loop, on_leave_check, e);
	while (check && !shard_left(e->shard, now_ms()) && now_ms() < end) {
		loop_timer_start(check, 20);
		loop_run(e->loop);
	}
	loop_timer_free(check);
	if (shard_left(e->shard, now_ms()))
		log_info("leader election: every lease handed back");
	else
		log_warn("leader election: leases not handed back within %llu ms; they expire on their own",
			 (unsigned long long)deadline_ms);
}

bool elect_observed(struct elect *e)
{
	for (size_t i = 0; i < e->n; i++)
		if (!lease_observed(shard_lease(e->shard, i)))
			return false;
	return true;
}

struct kubeapi *elect_api(struct elect *e)
{
	return e->api;
}

const char *elect_namespace(const struct elect *e)
{
	return e->ns;
}

void elect_status(struct elect *e, struct buf *json)
{
	uint64_t now = now_ms();
	buf_printf(json, "\"election\":{\"identity\":");
	json_append_string(json, e->identity, strlen(e->identity));
	buf_printf(json, ",\"namespace\":");
	json_append_string(json, e->ns, strlen(e->ns));
	buf_printf(json, ",\"members\":%zu,\"share\":%zu,\"leading\":[", shard_members(e->shard, now),
		   shard_share(e->shard, now));
	bool first = true;
	for (size_t i = 0; i < e->n; i++) {
		if (!shard_may_deliver(e->shard, i, now))
			continue;
		if (!first)
			buf_putc(json, ',');
		json_append_string(json, e->names[i], strlen(e->names[i]));
		first = false;
	}
	buf_printf(json, "],\"clusters\":[");
	for (size_t i = 0; i < e->n; i++) {
		static const char *const states[] = { "standby", "leader", "stepping-down" };
		const char *holder = lease_live_holder(shard_lease(e->shard, i), now);
		buf_printf(json, "%s{\"name\":", i ? "," : "");
		json_append_string(json, e->names[i], strlen(e->names[i]));
		buf_printf(json, ",\"role\":\"%s\",\"holder\":", states[shard_state(e->shard, i, now)]);
		if (holder)
			json_append_string(json, holder, strlen(holder));
		else
			buf_printf(json, "null");
		buf_printf(json, ",\"transitions\":%lu}", e->transitions[i]);
	}
	buf_printf(json, "]}");
}

void elect_export_metrics(struct elect *e)
{
	uint64_t now = now_ms();
	for (size_t i = 0; i < e->n; i++)
		metrics_set(M_LEADER, shard_may_deliver(e->shard, i, now) ? 1 : 0, "cluster", e->names[i], NULL);
}
