/* watch: list+watch of core/v1 Events of one cluster (all namespaces, or
 * one), on the loop, through the cluster's kubeapi client. Lists page by page, then watches from
 * the list's resourceVersion with bookmarks, re-watches from the last
 * resourceVersion seen when a stream ends, re-lists after 410 Gone or a
 * too-large resourceVersion, halves the page size while a list page is too
 * large to use, and backs off (core/backoff.h) on failures, from the
 * shortest delay again after a healthy stream. Every
 * event goes through the runtime; the cluster's checkpoint keeps a relist
 * or a restart from delivering what every sink acknowledged, and each
 * routed item carries the event's identity to its sink's ack. */
#ifndef HERALD_WATCH_H
#define HERALD_WATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "loop.h"
#include "runner.h"
#include "checkpoint.h"
#include "runtime.h"
#include "seen.h"

struct kubeapi;

struct watch_config {
	const char *cluster;           /* ev.cluster */
	struct kubeapi *api;           /* the cluster's API client; not owned */
	const char *namespace;         /* NULL: all namespaces */
	int timeout_s;                 /* timeoutSeconds is random in [timeout_s/2, timeout_s] */
	size_t page_size;              /* list limit */
	struct checkpoint *ckpt;       /* the cluster's; not owned */
	int stream;                    /* this watch's stream in it */
	const struct seen *legacy;     /* an old .seen file, read-only until the first list; may be NULL */
	size_t max_unsaved;            /* pause while more events than this wait for a save */
	bool fresh_start;              /* no saved state: old events skip alert sinks */
	time_t started;
	long max_event_age_s;
	void (*emit)(void *arg, const struct runner_item *it);
	bool (*blocked)(void *arg);    /* a sink is over its bound: stop reading */
	void *arg;
	struct enricher *enricher;     /* owners and labels; not owned; NULL: none */
};

struct watch;

/* rt: asked for the Lua state in force at each record. */
struct watch *watch_new(struct loop *loop, struct runtime *rt, const struct watch_config *cfg);
void watch_start(struct watch *w);
/* Listed, and watching (for readiness). */
bool watch_established(const struct watch *w);
void watch_free(struct watch *w);
/* Listed to the end at least once since it started. */
bool watch_listed(const struct watch *w);
/* The legacy filter is about to be freed. */
void watch_forget_legacy(struct watch *w);
/* Stops listing and watching (shutdown); the checkpoint stays. */
void watch_stop(struct watch *w);
/* Reads again after `blocked` paused the stream (call when it clears). */
void watch_resume(struct watch *w);

#endif
