/* source_kube: a Kubernetes cluster as a source: its connection and API
 * client, one watch per namespace (or one for all), and its delivery
 * checkpoint (checkpoint.h), kept across restarts in
 * <state-dir>/<cluster>.checkpoint. Owns all of those; must not route or
 * deliver: its watches hand records to the runtime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "checkpoint.h"
#include "enrich.h"
#include "evmetrics.h"
#include "json.h"
#include "kubeapi.h"
#include "kubeconfig.h"
#include "kubeeventer.h"
#include "log.h"
#include "metrics.h"
#include "seen.h"
#include "statedir.h"
#include "source.h"
#include "watch.h"

/* The README's "Restarts" numbers come from these. */
#define MAX_IN_FLIGHT 4096     /* events routed, not acknowledged by every sink: reading pauses */
#define MAX_EXACT 16384        /* events acknowledged above the frontier (during a list) */
#define MAX_UNSAVED 4096       /* deliveries routed since the last save: reading pauses */
#define SAVE_NOW 2048          /* ... a save is due at once */
#define LEGACY_CAPACITY 200000 /* an old .seen file's entries (its own bound) */

struct kube {
	struct source base;
	struct kubeconn conn;
	struct kubeapi *api;
	struct enricher *enricher;     /* owners and labels, read on demand */
	struct checkpoint *ckpt;
	struct seen *legacy;           /* an old <cluster>.seen, until every watch listed once */
	char *state_path, *legacy_path;
	struct buf saved;              /* the bytes of the last save */
	bool loaded;                   /* a checkpoint (or an old .seen) was read */
	struct watch *watches[CLI_MAX_NAMESPACES];
	int nwatches;
	bool gated;                    /* refused a record: not the leader */
	bool restored;                 /* restore ran (a later one is a new term) */
	bool refused;                  /* some record was refused since */
};

/* A routed record goes to the sinks only while this replica may deliver
 * the cluster (leader election); a record that arrives after that ended is
 * dropped here: the new leader lists it again. */
static void kube_emit(void *arg, const struct runner_item *it)
{
	struct kube *c = arg;
	const struct source_env *env = c->base.env;
	if (env->may_deliver && !env->may_deliver(env->arg, &c->base)) {
		if (!c->gated)
			log_warn("cluster %s: not the leader: events are left to the one who is", c->base.name);
		c->gated = true;
		c->refused = true;
		return;
	}
	c->gated = false;
	source_emit((void *)env, it);
}

static bool kube_blocked(void *arg)
{
	struct kube *c = arg;
	return source_blocked((void *)c->base.env);
}

/* The file the checkpoint is saved in (built on first use), NULL without
 * --state-dir; the old .seen file's path is built with it. */
static const char *kube_state_file(struct source *s)
{
	struct kube *c = (struct kube *)s;
	const struct options *o = s->env->o;
	if (!o->state_dir)
		return NULL;
	if (!c->state_path) {
		struct buf path = BUF_INIT, legacy = BUF_INIT;
		buf_printf(&path, "%s/%s.checkpoint", o->state_dir, s->name);
		buf_printf(&legacy, "%s/%s.seen", o->state_dir, s->name);
		c->state_path = path.data;
		c->legacy_path = legacy.data;
	}
	return c->state_path;
}

/* Empties the checkpoint, keeping its streams' numbers (queue items of
 * an earlier term may still ack into it: those acks are then unknown). */
static int kube_reset_checkpoint(struct kube *c)
{
	struct checkpoint *fresh = checkpoint_new(c->base.name, MAX_IN_FLIGHT, MAX_EXACT);
	struct buf empty = BUF_INIT;
	char err[256];
	int rc = fresh && checkpoint_save(fresh, &empty) == 0 &&
			 checkpoint_load(c->ckpt, empty.data, empty.len, err, sizeof(err)) == 0 ? 0 : -1;
	checkpoint_free(fresh);
	buf_free(&empty);
	buf_free(&c->saved);
	return rc;
}

/* Reads <cluster>.checkpoint; without one, an old <cluster>.seen is read
 * as a read-only filter until every watch has listed once (then the
 * checkpoint covers what it did, and the .seen file is removed). A
 * damaged or foreign file is reported, counted and ignored. */
static int kube_restore(struct source *s)
{
	struct kube *c = (struct kube *)s;
	if (c->restored && c->refused) {
		/* A new term after records were refused at the gate: they are
		 * in flight in the checkpoint, undelivered. Start from what the
		 * last leader saved instead of this process's memory. */
		if (kube_reset_checkpoint(c) < 0)
			return -1;
		c->loaded = false;
	}
	c->restored = true;
	c->refused = false;
	if (!kube_state_file(s))
		return 0;
	char err[256], *data = NULL;
	size_t len = 0;
	int rc = atomicfile_read(c->state_path, 64u << 20, &data, &len, err, sizeof(err));
	if (rc == 0 && checkpoint_load(c->ckpt, data, len, err, sizeof(err)) == 0) {
		struct checkpoint_stats st;
		checkpoint_stats(c->ckpt, &st);
		log_info("cluster %s: checkpoint read from %s (%zu events to send again, %zu above the frontier)",
			 s->name, c->state_path, st.unsent, st.exact);
		c->loaded = true;
		buf_free(&c->saved);
		buf_append(&c->saved, data, len);
	} else if (rc != 1) {
		log_error("cluster %s: %s: %s", s->name, c->state_path, err);
		metrics_inc(M_STATE_LOAD_ERRORS_TOTAL, 1, "file", "checkpoint", NULL);
	}
	free(data);
	if (!c->loaded && !c->legacy && (c->legacy = seen_new(LEGACY_CAPACITY))) {
		bool loaded = false;
		seen_load(c->legacy, c->legacy_path, &loaded);
		if (loaded) {
			log_info("cluster %s: %zu delivered events read from the old %s until the first list ends",
				 s->name, seen_count(c->legacy), c->legacy_path);
			c->loaded = true;
		} else {
			seen_free(c->legacy);
			c->legacy = NULL;
		}
	}
	return 0;
}

static int kube_start(struct source *s)
{
	struct kube *c = (struct kube *)s;
	const struct source_env *env = s->env;
	const struct options *o = env->o;
	time_t now = time(NULL);
	for (int j = 0; j < c->nwatches; j++) /* started again: a new term of leadership */
		watch_free(c->watches[j]);
	c->nwatches = 0;
	enricher_free(c->enricher);
	if (!(c->enricher = enricher_new(env->loop, env->rt, c->api, s->name, &o->enrich, kube_emit, c)))
		return EXIT_CONFIG;
	int nns = o->nnamespaces ? o->nnamespaces : 1;
	for (int j = 0; j < nns; j++) {
		struct watch_config wc = {
			.cluster = s->name,
			.api = c->api,
			.namespace = o->nnamespaces ? o->namespaces[j] : NULL,
			.timeout_s = o->watch_timeout_s,
			.page_size = 500,
			.ckpt = c->ckpt,
			.stream = checkpoint_stream(c->ckpt, o->nnamespaces ? o->namespaces[j] : ""),
			.legacy = c->legacy,
			.max_unsaved = c->state_path ? MAX_UNSAVED : SIZE_MAX,   /* no state dir: never saved */
			.fresh_start = !c->loaded,
			.started = now,
			.max_event_age_s = o->max_event_age_s,
			.emit = kube_emit,
			.blocked = kube_blocked,
			.arg = c,
			.enricher = c->enricher,
		};
		c->watches[j] = watch_new(env->loop, env->rt, &wc);
		if (!c->watches[j])
			return EXIT_CONFIG;
		c->nwatches = j + 1;
		watch_start(c->watches[j]);
	}
	return 0;
}

static void kube_stop(struct source *s)
{
	struct kube *c = (struct kube *)s;
	for (int j = 0; j < c->nwatches; j++)
		watch_stop(c->watches[j]);
	enricher_flush(c->enricher);   /* what waits for its owners goes on now */
}

static void kube_export_checkpoint(const struct kube *c);

static bool kube_established(const struct source *s)
{
	const struct kube *c = (const struct kube *)s;
	for (int j = 0; j < c->nwatches; j++)
		if (!watch_established(c->watches[j]))
			return false;
	return true;
}

static void kube_status(const struct source *s, struct buf *json)
{
	buf_printf(json, "{\"name\":");
	json_append_string(json, s->name, strlen(s->name));
	buf_printf(json, ",\"established\":%s}", kube_established(s) ? "true" : "false");
}

static void kube_export_metrics(const struct source *s)
{
	metrics_set(M_WATCH_ESTABLISHED, kube_established(s) ? 1 : 0, "cluster", s->name, NULL);
	kube_export_checkpoint((const struct kube *)s);
}

static void kube_unblock(struct source *s)
{
	struct kube *c = (struct kube *)s;
	for (int j = 0; j < c->nwatches; j++)
		watch_resume(c->watches[j]);   /* it pauses again while the checkpoint is full */
}

static bool kube_dirty(const struct source *s)
{
	const struct kube *c = (const struct kube *)s;
	return c->state_path && checkpoint_unsaved(c->ckpt) >= SAVE_NOW;
}

/* Writes the checkpoint when it changed. The old .seen file goes once
 * every watch has listed (the checkpoint then covers what it held). */
static int kube_checkpoint(struct source *s)
{
	struct kube *c = (struct kube *)s;
	if (!c->state_path)
		return 0;
	struct buf out = BUF_INIT;
	uint64_t mark = checkpoint_mark(c->ckpt);
	char err[256], why[4200];
	int rc = checkpoint_save(c->ckpt, &out);
	if (rc == 0 && out.len == c->saved.len && memcmp(out.data, c->saved.data, out.len) == 0) {
		checkpoint_saved(c->ckpt, mark);
		buf_free(&out);
		return 0;
	}
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot write %s: out of memory", c->state_path);
	} else if ((rc = atomicfile_write(c->state_path, out.data, out.len, err, sizeof(err))) < 0) {
		snprintf(why, sizeof(why), "cannot write %s: %s", c->state_path, strerror(errno));
		log_error("cluster %s: %s", s->name, err);
	}
	statedir_saved(rc, c->state_path, why);
	if (rc == 0) {
		checkpoint_saved(c->ckpt, mark);
		metrics_inc(M_STATE_BYTES_WRITTEN_TOTAL, (long)out.len, "file", "checkpoint", NULL);
		buf_free(&c->saved);
		c->saved = out;
		out = (struct buf)BUF_INIT;
	}
	buf_free(&out);
	bool listed = rc == 0 && c->legacy;
	for (int j = 0; listed && j < c->nwatches; j++)
		listed = watch_listed(c->watches[j]);
	if (listed && c->nwatches) {
		for (int j = 0; j < c->nwatches; j++)
			watch_forget_legacy(c->watches[j]);
		seen_free(c->legacy);
		c->legacy = NULL;
		if (unlink(c->legacy_path) == 0)
			log_info("cluster %s: the checkpoint replaces %s (removed)", s->name, c->legacy_path);
	}
	return rc;
}

static void kube_export_checkpoint(const struct kube *c)
{
	struct checkpoint_stats st;
	checkpoint_stats(c->ckpt, &st);
	metrics_set(M_CHECKPOINT_IN_FLIGHT, (double)st.in_flight, "cluster", c->base.name, NULL);
}

static int kube_done(struct source *s, bool stopped)
{
	return EXIT_OK;
}

static void kube_post_event(struct source *s, const char *type, const char *reason, const char *message)
{
	struct kube *c = (struct kube *)s;
	if (c->nwatches)
		kubeapi_post_event(c->api, type, reason, message);
}

static void kube_free(struct source *s)
{
	struct kube *c = (struct kube *)s;
	for (int j = 0; j < c->nwatches; j++)
		watch_free(c->watches[j]);
	enricher_free(c->enricher);
	kubeapi_free(c->api);
	checkpoint_free(c->ckpt);
	seen_free(c->legacy);
	buf_free(&c->saved);
	kubeconn_free(&c->conn);
	evmetrics_free();
	free(c->state_path);
	free(c->legacy_path);
	free(s->name);
	free(c);
}

static const struct source_ops kube_ops = {
	.kind = "kubernetes",
	.restore = kube_restore,
	.start = kube_start,
	.stop = kube_stop,
	.established = kube_established,
	.status = kube_status,
	.export_metrics = kube_export_metrics,
	.unblock = kube_unblock,
	.dirty = kube_dirty,
	.checkpoint = kube_checkpoint,
	.state_file = kube_state_file,
	.done = kube_done,
	.post_event = kube_post_event,
	.free = kube_free,
};

/* No default cluster could be read: says where herald looked and what to
 * do (the first thing a new user sees). */
static void first_run_hint(const struct options *o)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	if (o->kubeconfig)
		log_error("herald tried --kubeconfig %s", o->kubeconfig);
	else if (env && *env)
		log_error("herald tried $KUBECONFIG (%s); not in a pod (KUBERNETES_SERVICE_HOST is not set)", env);
	else
		log_error("herald tried %s/.kube/config ($KUBECONFIG is not set); not in a pod "
			  "(KUBERNETES_SERVICE_HOST is not set)", home ? home : "");
	log_error("to watch a cluster, give its kubeconfig: --kubeconfig PATH [--context NAME]; "
		  "to try herald without one: --from tests/fixtures/events.jsonl");
}

/* Reads how to reach cluster i (--cluster NAME=KUBECONFIG[:CONTEXT], the
 * one kube-eventer's --source names, or the default one). -1 (logged) when
 * it cannot. */
static int connect_cluster(const struct options *o, int i, struct kube *c)
{
	char err[512];
	int rc;
	bool in_pod = false;
	if (o->nclusters) {
		const char *eq = strchr(o->clusters[i], '=');
		c->base.name = strndup(o->clusters[i], (size_t)(eq - o->clusters[i]));
		char *path = strdup(eq + 1);
		if (!c->base.name || !path) {
			free(path);
			return -1;
		}
		char *colon = strchr(path, ':');
		if (colon)
			*colon = '\0';
		rc = kubeconfig_load(path, colon && colon[1] ? colon + 1 : NULL, &c->conn, err, sizeof(err));
		free(path);
	} else if (o->ke_source) {
		if (!(c->base.name = strdup(o->cluster)))
			return -1;
		rc = kubeeventer_connect(o->ke_source, &c->conn, err, sizeof(err));
	} else {
		if (!(c->base.name = strdup(o->cluster)))
			return -1;
		in_pod = !o->kubeconfig && getenv("KUBERNETES_SERVICE_HOST") &&
			      *getenv("KUBERNETES_SERVICE_HOST");
		rc = in_pod ? kubeconfig_in_cluster(&c->conn, err, sizeof(err))
			    : kubeconfig_load(o->kubeconfig, o->context, &c->conn, err, sizeof(err));
	}
	if (rc < 0) {
		log_error("cluster %s: %s", c->base.name, err);
		if (!o->nclusters && !in_pod)
			first_run_hint(o);
	}
	return rc;
}

int source_kube_open(const struct source_env *env, struct source_list *list)
{
	const struct options *o = env->o;
	if (o->from)
		return 0; /* --from reads a file instead of clusters */
	int n = o->nclusters ? o->nclusters : 1;
	size_t first = list->n;
	if (evmetrics_configure(&o->event_metrics) < 0)
		log_warn("out of memory: herald_kube_events_total is off");
	for (int i = 0; i < n; i++) {
		struct kube *c = calloc(1, sizeof(*c));
		if (!c)
			return -1;
		c->base.ops = &kube_ops;
		c->base.env = env;
		if (source_list_add(list, &c->base) < 0) {
			free(c);
			return -1;
		}
		if (connect_cluster(o, i, c) < 0)
			return -1;
		for (size_t j = first; j + 1 < list->n; j++) {
			if (strcmp(list->all[j]->name, c->base.name) == 0) {
				log_error("cluster %s is named twice", c->base.name);
				return -1;
			}
		}
		if (!(c->ckpt = checkpoint_new(c->base.name, MAX_IN_FLIGHT, MAX_EXACT)) || !(c->api = kubeapi_new(env->http, &c->conn, c->base.name)))
			return -1;
	}
	return 0;
}
