/* enrich: owners and labels on demand. An event a rule asks about
 * (owner = ..., labels = {...}; the runtime decides, see herald.route)
 * waits in a bounded queue while its involved object and that object's
 * controller chain (Pod -> ReplicaSet -> Deployment, Job -> CronJob,
 * StatefulSet, DaemonSet) are read from the API server, through a TTL'd,
 * bounded cache and a request budget; then it is routed with ev.owner,
 * ev.owners and ev.labels. Past its deadline, with a full queue, or when
 * a read fails (404, 403, an error) it is routed with what is known:
 * never lost, always counted (herald_enrich_events_total). */
#ifndef HERALD_ENRICH_H
#define HERALD_ENRICH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "checkpoint.h"
#include "loop.h"
#include "runner.h"
#include "runtime.h"

struct kubeapi;

enum enrich_limit {
	ENRICH_QPS,         /* API requests per second (the budget) */
	ENRICH_BURST,       /* requests allowed at once after a quiet spell */
	ENRICH_INFLIGHT,    /* requests in flight at most */
	ENRICH_QUEUE,       /* events waiting at most; more go on unenriched */
	ENRICH_DEADLINE,    /* ms an event waits at most */
	ENRICH_TTL,         /* ms an answer (also a 404 or 403) is kept */
	ENRICH_CACHE,       /* objects kept at most */
	ENRICH_NLIMITS
};

struct enrich_config {
	long limit[ENRICH_NLIMITS];     /* -1: the default */
};

/* Parses "qps=N,burst=N,inflight=N,queue=N,deadline=D,ttl=D,cache=N" (any
 * subset; D in ms or 5s, 2m) into c. -1 with err on a bad spec. */
int enrich_parse(struct enrich_config *c, const char *spec, char *err, size_t errlen);
/* The limit in force (the default when c leaves it at -1). */
long enrich_limit(const struct enrich_config *c, enum enrich_limit l);

struct enricher;

/* emit: where routed items go (the sinks), with arg. cluster and api are
 * borrowed and must outlive it. */
struct enricher *enricher_new(struct loop *loop, struct runtime *rt, struct kubeapi *api, const char *cluster,
			      const struct enrich_config *c,
			      void (*emit)(void *arg, const struct runner_item *it), void *arg);
void enricher_free(struct enricher *e);

/* The checkpoint delivery a deferred event keeps open until it is routed
 * (so a save never claims it): the caller noted one delivery for (uid, rv)
 * in ckpt's stream. ckpt NULL: nobody keeps a checkpoint of it. */
struct enrich_hold {
	struct checkpoint *ckpt;
	int stream;
	const char *uid, *rv;
};

/* Takes an event the runtime deferred (core.defer). false when it cannot
 * wait (the queue is full, or the kind cannot be read): the runtime then
 * routes it at once, unenriched (counted here), and the hold stays the
 * caller's. true: the enricher tags the event's items with the hold's
 * event and acknowledges the hold once they are out (hold may be NULL). */
bool enricher_defer(struct enricher *e, const struct runner_defer *d, const struct enrich_hold *hold);

/* Events waiting. */
size_t enricher_pending(const struct enricher *e);

/* Routes every waiting event now, with what is known (shutdown). */
void enricher_flush(struct enricher *e);

#endif
