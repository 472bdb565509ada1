/* lease: leader election on one coordination.k8s.io/v1 Lease, client-go's
 * rules written afresh. The holder renews every retry period with an
 * update on the resourceVersion it last saw (a 409 means someone else
 * wrote: read again). Others read it every retry period (less a random
 * 0-20 %) and judge expiry from when *they* saw the record change, never
 * from the times written in it, so skewed wall clocks do not matter (only
 * skewed clock *rates*, bounded by duration / renew deadline).
 *
 * Safety: a holder delivers only while now < (send time of its last
 * successful write) + renew deadline. Anyone else saw that write no
 * earlier than it was sent, and takes over no earlier than duration after
 * seeing it: with the defaults the old holder has stopped 5 s before
 * (duration - renew deadline) anyone may start. That holds even when the
 * process was frozen (SIGSTOP, a stalled VM): lease_may_deliver is a
 * function of the time passed in, not of a timer having fired.
 *
 * Pure logic: no I/O, no clock of its own. Callers pass now_ms (monotonic)
 * and wall_us (the realtime clock, written into acquireTime/renewTime
 * only), send the request lease_next asks for, and report its answer with
 * lease_done; at most one request is in flight. Time each request out
 * after the retry period: a request that hangs holds up the renewals (the
 * holder still stops at the deadline, but cannot renew meanwhile). */
#ifndef HERALD_LEASE_H
#define HERALD_LEASE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "leasejson.h"

#define LEASE_DEFAULT_DURATION_MS 15000
#define LEASE_DEFAULT_RENEW_DEADLINE_MS 10000
#define LEASE_DEFAULT_RETRY_MS 2000
/* As client-go: renew deadline > retry period * 1.2. */
#define LEASE_JITTER_FACTOR 1.2

struct lease_config {
	const char *namespace;      /* herald's own namespace */
	const char *name;           /* the Lease object */
	const char *identity;       /* holderIdentity: the pod name */
	uint64_t duration_ms;       /* a whole number of seconds (leaseDurationSeconds) */
	uint64_t renew_deadline_ms;
	uint64_t retry_ms;
	uint64_t seed;              /* for the jitter; differ per process */
};

enum lease_state {
	LEASE_STANDBY,              /* not the holder (or no longer sure of it) */
	LEASE_LEADER,               /* the holder: deliver */
	LEASE_STEPPING_DOWN,        /* still the holder, but stop delivering:
	                             * write the checkpoint, then lease_release */
};

enum lease_op {
	LEASE_WAIT,                 /* nothing to send before wake_ms */
	LEASE_GET,                  /* GET .../namespaces/NS/leases/NAME */
	LEASE_CREATE,               /* POST .../namespaces/NS/leases, body */
	LEASE_UPDATE,               /* PUT .../namespaces/NS/leases/NAME, body */
};

enum lease_result {
	LEASE_OK,                   /* 200/201: body is the Lease */
	LEASE_NOT_FOUND,            /* 404 */
	LEASE_CONFLICT,             /* 409 (update: stale resourceVersion;
	                             * create: it exists already) */
	LEASE_FAILED,               /* anything else, a timeout, no answer */
};

struct lease_action {
	enum lease_op op;
	const char *body;           /* CREATE/UPDATE: the JSON; owned by the
	                             * lease, valid until the next call */
	uint64_t wake_ms;           /* WAIT: call lease_next again then
	                             * (UINT64_MAX: after lease_done) */
};

struct lease_stats {
	unsigned long acquired;     /* times this process became the holder */
	unsigned long lost;         /* renew deadline passed while holding */
	unsigned long released;     /* handed back on purpose */
	unsigned long conflicts;    /* 409s */
	unsigned long failures;     /* failed requests, answers that did not parse */
	unsigned long bad_records;  /* answers that did not parse */
};

struct lease;

/* Defaults: 15 s / 10 s / 2 s. */
void lease_config_defaults(struct lease_config *c);
/* 0, or -1 with why: duration > renew deadline > retry * 1.2 > 0, the
 * duration in whole seconds, names and identity set and short enough. */
int lease_config_check(const struct lease_config *c, char *err, size_t errlen);

/* Copies the config's strings. NULL when memory ran out. Starts as a
 * candidate that wants to lead. */
struct lease *lease_new(const struct lease_config *c);
void lease_free(struct lease *l);

/* What to do now. */
void lease_next(struct lease *l, uint64_t now_ms, int64_t wall_us, struct lease_action *out);
/* The answer to the request lease_next asked for. body/len: the response
 * body for LEASE_OK (a Lease); ignored otherwise. */
void lease_done(struct lease *l, uint64_t now_ms, enum lease_result r, const char *body, size_t len);

/* The state at now (a missed renew deadline counts even before
 * lease_next ran). */
enum lease_state lease_state(struct lease *l, uint64_t now_ms);
/* Deliver events and alerts only while this is true; ask before each
 * delivery. */
bool lease_may_deliver(struct lease *l, uint64_t now_ms);
/* Still the holder (leader or stepping down): may write the checkpoint. */
bool lease_held(struct lease *l, uint64_t now_ms);
/* Increments each time this process becomes the holder: a new term means
 * load the checkpoint again before delivering. */
unsigned lease_term(const struct lease *l);

/* Whether to acquire the lease when it is free or expired (the sharing
 * logic turns this off for clusters this replica should not take). A
 * non-candidate keeps reading the lease to see who holds it. */
void lease_set_candidate(struct lease *l, bool candidate);
bool lease_candidate(const struct lease *l);
/* Stop delivering but keep holding (renewing) until lease_release. */
void lease_stepdown(struct lease *l);
/* Hand the lease back: an update with no holder and a 1 s duration, so a
 * standby takes over at its next read. Stops being a candidate. Safe to
 * call in any state. */
void lease_release(struct lease *l);
/* True once a release was asked for and is done (or nothing was held). */
bool lease_released(const struct lease *l);
/* Read at the next lease_next instead of waiting for the retry period. */
void lease_poke(struct lease *l);

/* The holder as this process sees it at now: its identity while it holds
 * the lease, the recorded holder while that has not expired, NULL when
 * the lease is free, expired or not read yet. */
const char *lease_live_holder(struct lease *l, uint64_t now_ms);
/* Read at least once (or known not to exist). */
bool lease_observed(const struct lease *l);
const struct lease_record *lease_record(const struct lease *l);
const struct lease_stats *lease_stats(const struct lease *l);
/* The reason for the last failure counted in stats, "" if none. */
const char *lease_last_error(const struct lease *l);
const char *lease_name(const struct lease *l);

#endif
