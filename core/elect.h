/* elect: leader election wired to the loop. Drives the pure sharing logic
 * (core/shard.h, one Lease per cluster) with real requests to the API
 * server of herald's own namespace: at most one request in flight per
 * Lease, each timed out after the retry period. Tells the daemon, through
 * hooks, when this replica may start delivering a cluster (gained), must
 * stop at once (lost), and must write a cluster's state before it hands
 * the Lease over (save). */
#ifndef HERALD_ELECT_H
#define HERALD_ELECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "cli.h"
#include "http.h"
#include "loop.h"

struct elect_hooks {
	/* Cluster i may deliver now (a new term): load its state, start it. */
	void (*gained)(void *arg, size_t i);
	/* Cluster i must stop delivering now (lost, or stepping down). */
	void (*lost)(void *arg, size_t i);
	/* Cluster i is stepping down: write its state; true once written
	 * (false: asked again shortly, until the renew deadline nears). */
	bool (*save)(void *arg, size_t i);
	void *arg;
};

struct elect;

/* Whether the options turn election on (--leader-elect, default: in a
 * pod). */
bool elect_enabled(const struct options *o);

/* The clusters, in the order hooks number them (names borrowed, must
 * outlive the elect). Reaches herald's own API server (in a pod: the
 * service account; else --kubeconfig/--context). NULL (logged) when the
 * options are invalid or it cannot connect. */
struct elect *elect_new(struct loop *loop, struct http *http, const struct options *o,
			const char *const *clusters, size_t n, const struct elect_hooks *hooks);
void elect_free(struct elect *e);

/* Starts the requests. */
void elect_start(struct elect *e);
/* Cluster i may deliver right now (asked with a fresh clock). */
bool elect_may_deliver(struct elect *e, size_t i);
/* Hands every Lease back (after the state is saved) and leaves the members
 * list; runs the loop until done or deadline_ms passed. */
void elect_leave(struct elect *e, uint64_t deadline_ms);

/* Every cluster's Lease was read at least once (or found missing): the
 * election works (a replica that cannot read them, say for want of RBAC,
 * is not ready). */
bool elect_observed(struct elect *e);
/* The client of herald's own API server, and the Leases' namespace (the
 * state store lives beside them). */
struct kubeapi *elect_api(struct elect *e);
const char *elect_namespace(const struct elect *e);

/* Appends /status's "election" object. */
void elect_status(struct elect *e, struct buf *json);
/* Sets herald_leader and friends. */
void elect_export_metrics(struct elect *e);

#endif
