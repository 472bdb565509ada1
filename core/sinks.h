/* sinks: the sink instances of the running configuration, each a queue
 * and timer (sink.h) over an output: local (stdout, file, null), batched
 * HTTP, or alert. Sinks are matched by name across configurations, so a
 * sink that keeps its name keeps its queue. */
#ifndef HERALD_SINKS_H
#define HERALD_SINKS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
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
/* alerts_too false: alert groups keep what they hold (their ledger is
 * saved); only a message already taken is sent. */
void sinks_set_draining(struct sinks *s, bool alerts_too);
/* Events that sinks' servers refused for good (dead-lettered) so far. */
unsigned long sinks_refused(const struct sinks *s);
/* Events queued or in flight, in every sink (alert groups included). */
size_t sinks_pending(const struct sinks *s);
/* The same without the events alert groups hold (which may wait minutes
 * for their interval, kept in their ledger across a restart). */
size_t sinks_unsettled(const struct sinks *s);

/* fn(arg) runs after an alert sink's message was answered (sent or
 * refused): the caller saves the ledgers then. */
void sinks_on_alert_answered(struct sinks *s, void (*fn)(void *arg), void *arg);

/* The alert ledgers (alerts.h) of the sinks that keep one, by position
 * 0 .. sinks_count() - 1: the sink's name, or NULL when it keeps none. */
size_t sinks_count(const struct sinks *s);
const char *sinks_ledger_name(const struct sinks *s, size_t i);
int sinks_ledger_export(const struct sinks *s, size_t i, uint64_t now_wall, struct buf *out);
/* Before any delivery (at start). -1 with a reason in err: nothing changed. */
int sinks_ledger_import(struct sinks *s, size_t i, const char *data, size_t len, uint64_t now_wall, char *err,
			size_t errlen);

#endif
