/* source: where events come from. A source kind (a Kubernetes cluster's
 * watches, the --from reader) implements source_ops in its own file and
 * is registered by one line in source.c; the daemon holds one list of
 * sources and asks them, never their kinds, about readiness and status. */
#ifndef HERALD_SOURCE_H
#define HERALD_SOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "cli.h"
#include "http.h"
#include "loop.h"
#include "runner.h"
#include "runtime.h"
#include "sinks.h"

struct source;

/* What every source is given; owned by the daemon, outlives the sources. */
struct source_env {
	struct loop *loop;
	struct http *http;
	struct runtime *rt;            /* ask it for the Lua state at each record */
	struct sinks *sinks;           /* where routed items go (source_emit) */
	const struct options *o;
	/* A finite source read to its end (the daemon stops when all have). */
	void (*finished)(void *arg, struct source *s);
	/* Leader election: may s deliver right now? NULL: always. A source
	 * asks before handing each record to the sinks. */
	bool (*may_deliver)(void *arg, const struct source *s);
	void *arg;
};

struct source_ops {
	const char *kind;
	bool finite;                   /* reads to an end, then calls env->finished */
	/* Resume: read the last checkpoint before start (NULL: nothing kept).
	 * -1 (logged) ends the daemon. */
	int (*restore)(struct source *s);
	/* Starts reading on the loop: 0, or (logged) the exit code to end
	 * the daemon with. */
	int (*start)(struct source *s);
	/* Stops reading (shutdown); what it delivered stays checkpointable. */
	void (*stop)(struct source *s);
	/* Reading and caught up (for /readyz); NULL: always. */
	bool (*established)(const struct source *s);
	/* Appends one JSON object to /status's "clusters"; NULL: none. */
	void (*status)(const struct source *s, struct buf *json);
	/* Sets its gauges before /metrics is served; may be NULL. */
	void (*export_metrics)(const struct source *s);
	/* The sinks have room again after backpressure paused it; may be NULL. */
	void (*unblock)(struct source *s);
	/* So much progress is not checkpointed that a save is due now (the
	 * daemon also saves every few seconds); NULL: never. */
	bool (*dirty)(const struct source *s);
	/* Writes its checkpoint when it changed (the alert ledgers were
	 * written just before, in the same loop turn). -1 (logged) failed. */
	int (*checkpoint)(struct source *s);
	/* The file checkpoint writes (under --state-dir), NULL when none:
	 * leader election mirrors it into the cluster's state store. */
	const char *(*state_file)(struct source *s);
	/* After the loop: logs a summary; returns the exit code it asks for. */
	int (*done)(struct source *s, bool stopped);
	/* Posts an Event about herald itself (a refused reload); may be NULL. */
	void (*post_event)(struct source *s, const char *type, const char *reason, const char *message);
	void (*free)(struct source *s);
};

struct source {
	const struct source_ops *ops;
	const struct source_env *env;
	char *name;                    /* a cluster's name, or the input's */
};

struct source_list {
	struct source **all;
	size_t n;
};

/* Makes the sources the options ask for, kind by kind (source.c's
 * table). -1 (logged) on the first failure; the list is freed by
 * source_list_free either way. */
int source_open_all(const struct source_env *env, struct source_list *list);
int source_list_add(struct source_list *list, struct source *s);
void source_list_free(struct source_list *list);

/* Hooks for sources: a routed item to the sinks, and backpressure. */
void source_emit(void *env, const struct runner_item *it);
bool source_blocked(void *env);

/* The kinds (one file each). Each adds the sources the options ask for
 * (maybe none) to list. */
int source_kube_open(const struct source_env *env, struct source_list *list);
int source_file_open(const struct source_env *env, struct source_list *list);

#endif
