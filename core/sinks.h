/* sinks: the sink instances of the running configuration, each a queue
 * and timer (sink.h) over an output: local (stdout, file, null), batched
 * HTTP, or alert. Sinks are matched by name across configurations, so a
 * sink that keeps its name keeps its queue. */
#ifndef HERALD_SINKS_H
#define HERALD_SINKS_H
#include <stdbool.h>
#include <stddef.h>
#include "http.h"
#include "loop.h"
#include "runner.h"
#include "runtime.h"

struct sinks;

/* rt: asked for the Lua state in force at each call into a sink type.
 * Due batches are written once per loop turn (loop_before_wait). */
struct sinks *sinks_new(struct loop *loop, struct runtime *rt, struct http *http);
/* Delivers nothing: call sinks_drain first to keep queued items. */
void sinks_free(struct sinks *s);

/* Sets the queue gauges of /metrics. */
void sinks_export_metrics(struct sinks *s);

/* Makes the sinks match specs (specs[i] has runtime index i+1). Outputs
 * are opened here: -1 (logged) when one cannot be, with nothing changed. */
int sinks_apply(struct sinks *s, const struct sink_spec *specs, size_t n);

/* Queues an encoded item for its sink. A full queue of a local output is
 * written out first; nothing is dropped. Alert sinks fold it into its
 * group instead. */
void sinks_push(struct sinks *s, const struct runner_item *it);

/* Folds an alert sink's item into its group (the item's key and uid). */
int sinks_group(struct alerts *a, const struct runner_item *it, uint64_t now);

/* A queue is over its bound (its output is failing): the source should
 * stop reading until this turns false. */
bool sinks_blocked(const struct sinks *s);

/* Writes every batch that is due (count, bytes or age). */
void sinks_flush_due(struct sinks *s);

/* Writes everything queued for local outputs. Returns the number of their
 * items still queued (outputs that kept failing). HTTP outputs are
 * asynchronous: sinks_set_draining sends what they hold at once, and
 * sinks_pending tells when they are done. */
size_t sinks_drain(struct sinks *s);
void sinks_set_draining(struct sinks *s);
/* Events that sinks' servers refused for good (dead-lettered) so far. */
unsigned long sinks_refused(const struct sinks *s);
/* Events queued or in flight, in every sink (alert groups included). */
size_t sinks_pending(const struct sinks *s);
/* The same without the events alert groups hold (which may wait minutes
 * for their interval): what the state file must wait for. */
size_t sinks_unsettled(const struct sinks *s);
/* The uid hashes (seen_hash) of events alert groups hold, for the state
 * file to leave out. False when a group held too many to list. Caller
 * frees *uids. */
bool sinks_held_uids(const struct sinks *s, uint64_t **uids, size_t *n);

#endif
