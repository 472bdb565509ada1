/* sink: one sink instance and the core every output shares: its queue
 * (sinkq), its timer (batch wait or retry backoff), backoff with jitter,
 * the dead-letter file and its metrics. An output (output_*.c) implements
 * struct output over this; sinks.c holds the set and picks the output.
 * Internal to the sinks: the rest of herald includes sinks.h. */
#ifndef HERALD_SINK_H
#define HERALD_SINK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "backoff.h"
#include "buf.h"
#include "http.h"
#include "loop.h"
#include "metrics.h"
#include "runner.h"
#include "runtime.h"
#include "sinkq.h"

struct sink;

/* What an output does; the sink core calls these and nothing else. */
struct output {
	const char *name;
	/* (Re)configures k from sp: on creation and when a reload keeps the
	 * sink. -1 (logged) refuses the configuration. */
	int (*open)(struct sink *k, const struct sink_spec *sp);
	/* Takes one routed item. */
	void (*push)(struct sink *k, const struct runner_item *it);
	/* Writes or sends what is due (everything: all that is queued). */
	void (*flush)(struct sink *k, bool everything);
	/* Events queued or in flight. */
	size_t (*pending)(const struct sink *k);
	/* Of those, events held by design (alert groups, kept in their
	 * ledger), which shutting down need not wait for. NULL: none. */
	size_t (*held)(const struct sink *k);
	/* Writes everything it can now and returns the events left (a local
	 * output that keeps failing); asynchronous outputs return 0 here. */
	size_t (*drain)(struct sink *k);
	/* Shutting down: send all that is held now, past backoff and rate
	 * waits (k->set->draining is set). NULL: nothing to do. */
	void (*draining)(struct sink *k);
	/* Sets the output's gauges for /metrics. */
	void (*export_metrics)(const struct sink *k);
	/* Frees the output's own part (k->out); cancels requests in flight. */
	void (*free)(struct sink *k);
	/* The sink is removed (a reload): acknowledge as dead what it holds
	 * beyond its queue (requests in flight) before free. NULL: nothing. */
	void (*abandon)(struct sink *k);
	/* Alert sinks: the ledger (alerts.h) for the state dir. NULL: none. */
	int (*ledger_export)(const struct sink *k, uint64_t now_wall, struct buf *out);
	int (*ledger_import)(struct sink *k, const char *data, size_t len, uint64_t now_wall, char *err, size_t errlen);
};

/* The outputs (one file each); sinks.c maps a sink_spec to one. */
extern const struct output output_local, output_http, output_alert, output_kafka;

/* What every sink of a configuration shares. */
struct sink_set {
	struct loop *loop;
	struct runtime *rt;            /* asked for the Lua state in force */
	struct http *http;
	bool draining;                 /* shutting down: send what is queued now */
	bool keep_alerts;              /* ... but alert groups keep theirs (a ledger is saved) */
	/* An alert message was answered: the state (ledgers, then
	 * checkpoints) is saved at once, so a restart does not send it again.
	 * NULL: no state dir. */
	void (*alert_answered)(void *arg);
	void *answered_arg;
	struct buf scratch;            /* one batch's bytes (local outputs) */
	unsigned long refused;         /* events refused for good, by any sink (sink_refused) */
};

struct sink {
	struct sink_set *set;
	const struct output *output;
	void *out;                     /* the output's own state */
	int index;                     /* the runtime's index of this sink */
	char *name;
	enum sink_output kind;
	bool alert;
	bool lua_batch;                /* the sink type shapes whole batches */
	struct sinkq queue;
	struct loop_timer *timer;      /* batch wait, or retry backoff */
	uint64_t retry_ms;             /* current backoff; 0 when healthy (the
					* next failure starts the backoff again) */
	struct backoff backoff;        /* the delay rule (core/backoff.h) */
	bool paused;                   /* waiting for a condition said once (a full
					* disk): its retries are not logged */
	char *dead_letter;             /* where items that failed for good go (or NULL) */
	/* Its per-event series, looked up once. */
	struct metrics_series *m_events, *m_written, *m_batches_ok;
};

struct sink *sink_new(struct sink_set *set, const struct sink_spec *sp, const struct output *out);
void sink_free(struct sink *k);

struct luahost *sink_host(const struct sink *k);
/* Backing off after a failure: nothing is written until the timer runs. */
bool sink_backing_off(const struct sink *k);
/* Backs off: 0.5 s doubling up to 30 s, less up to half at random (at
 * least at_least_s); after a success (retry_ms 0) from 0.5 s again. */
void sink_back_off(struct sink *k, double at_least_s);
/* The same without jitter (local outputs retry in step with themselves). */
void sink_back_off_plain(struct sink *k);
/* Arms the timer for the oldest queued item's deadline (stops it when empty). */
void sink_arm_timer(struct sink *k);
/* Queues an item; a full queue is flushed first (nothing is dropped: an
 * item over the bound is kept and sinks_blocked pauses the sources). */
void sink_queue_push(struct sink *k, const struct runner_item *it);

/* Acknowledges deliveries to the sources' checkpoints: one item, every
 * item of a list, or a routed item that was never queued (dead: given up
 * on for good). Items without a checkpoint are skipped. */
void sink_ack(const struct sinkq_item *it, bool dead);
void sink_ack_list(const struct sinkq_item *list, bool dead);
void sink_ack_routed(const struct runner_item *it, bool dead);

/* Writes all of p to fd (EINTR retried); -1 with errno. */
int sink_write_all(int fd, const char *p, size_t len);

/* Counts n events refused for good (herald_sink_events_failed_total, and
 * the set's count that makes `run --from` exit 4). */
void sink_refused(struct sink *k, size_t n);

/* Dead letters: one JSON line per item, or per alert message. */
void sink_dead_letter(struct sink *k, const struct sinkq_item *it, const char *why);
void sink_dead_letter_start(struct buf *line, const struct sink *k, const char *why);
void sink_dead_letter_write(struct buf *line, const struct sink *k);

/* A sink type's request as the http client wants it; the body is handed
 * over (req->body is NULL after). */
struct http_request sink_http_request(struct sink_request *req, long default_timeout_ms);

#endif
