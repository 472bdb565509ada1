/* kafka: one Kafka producer over librdkafka, driven from herald's loop.
 * Plain C: properties, records and delivery reports; never includes lua.h.
 *
 * librdkafka's own threads talk to the brokers. Everything that calls back
 * into herald (delivery reports, client errors, librdkafka's log lines) is
 * queued by librdkafka on its main queue, whose io-event fd sits in the
 * loop; the loop drains it with rd_kafka_poll, so callbacks run on the
 * loop's thread, one at a time, like every other herald callback.
 *
 * Secrets: the values of secret properties (sasl.password,
 * ssl.key.password, ssl.keystore.password, any *secret*, ssl.key.pem) are
 * masked as "***" in every text this module returns or logs. */
#ifndef HERALD_KAFKA_H
#define HERALD_KAFKA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "loop.h"

struct kafka;

/* One librdkafka property, as the operator wrote it. */
struct kafka_prop {
	const char *name;
	const char *value;
};

struct kafka_header {
	const char *name;
	const void *value;
	size_t len;
};

/* A record to produce. Every byte is copied by kafka_produce. */
struct kafka_record {
	const char *topic;
	const void *key;               /* NULL: no key */
	size_t key_len;
	const void *value;             /* NULL: a null value */
	size_t value_len;
	const struct kafka_header *headers;
	size_t nheaders;
	int64_t timestamp_ms;          /* 0: now */
};

/* What became of a record. RETRIABLE: not stored, producing it again may
 * succeed (timed out, purged, queue full, producer fenced). PERMANENT:
 * the same record will fail again (too large, not authorised, no such
 * topic, invalid): log, count, dead-letter. */
enum kafka_outcome { KAFKA_OK, KAFKA_RETRIABLE, KAFKA_PERMANENT };

struct kafka_report {
	enum kafka_outcome outcome;
	const char *reason;   /* "ok", or librdkafka's error name in lower case
			       * without its leading '_' ("msg_size_too_large",
			       * "msg_timed_out", "topic_authorization_failed"):
			       * a stable metrics label */
	const char *detail;   /* librdkafka's text, secrets masked */
	int32_t partition;    /* -1 when not known */
	int64_t offset;       /* -1 unless ok (and acks != 0) */
};

struct kafka_callbacks {
	/* Once per record that kafka_produce accepted, from the loop (or
	 * from kafka_flush). opaque is the one given to kafka_produce. r is
	 * valid during the call only. Required. */
	void (*delivered)(void *arg, void *opaque, const struct kafka_report *r);
	/* A client-level error: a broker unreachable, authentication
	 * failed, all brokers down, or fatal (the idempotent producer can
	 * produce no more: free it and create another). Optional; the module
	 * logs them itself either way. */
	void (*error)(void *arg, const char *reason, const char *detail, bool fatal);
	void *arg;
};

/* Validates properties without contacting a broker (`herald check`):
 * defaults first, then each property in order through librdkafka's
 * rd_kafka_conf_set, then that bootstrap.servers is given, then the
 * combination, by creating (and destroying at once) a client with no
 * brokers. On error writes librdkafka's own text (secrets masked) to err,
 * sets *bad to the index of the property at fault (nprops when none is: a
 * missing bootstrap.servers, a bad combination such as acks=1 with the
 * idempotent default) and returns -1. */
int kafka_check(const struct kafka_prop *props, size_t nprops,
		char *err, size_t errlen, size_t *bad);

/* Creates a producer named name (for logs) on loop. Defaults, which props
 * may override: acks=all, enable.idempotence=true, client.id=herald.
 * log.queue is always on (librdkafka's log lines come through the loop).
 * Returns NULL with err, *bad as kafka_check, or *bad = nprops when
 * rd_kafka_new refused the combination (e.g. acks=1 with idempotence). */
struct kafka *kafka_new(struct loop *loop, const char *name,
			const struct kafka_prop *props, size_t nprops,
			const struct kafka_callbacks *cb,
			char *err, size_t errlen, size_t *bad);

/* Hands a record to librdkafka (copied). 0: accepted, exactly one
 * delivered callback follows. -1: refused now, no callback will follow;
 * *refused says why (reason "queue_full" is RETRIABLE: wait for reports
 * to drain the queue; "msg_size_too_large" is PERMANENT); its strings
 * live until the next call. */
int kafka_produce(struct kafka *k, const struct kafka_record *rec, void *opaque,
		  struct kafka_report *refused);

/* Sends what lingers and serves delivery reports until none is in
 * flight or timeout_ms passed; blocks the loop meanwhile (for shutdown).
 * Delivered callbacks run from inside. 0 when nothing is left in flight,
 * -1 otherwise. */
int kafka_flush(struct kafka *k, int timeout_ms);

struct kafka_stats {
	uint64_t produced;          /* accepted by kafka_produce */
	uint64_t delivered;         /* reported ok */
	uint64_t failed_retriable;  /* reported or refused, retriable */
	uint64_t failed_permanent;  /* reported or refused, permanent */
	uint64_t errors;            /* client-level errors */
	uint64_t in_flight;         /* accepted, not yet reported */
	uint64_t queue_depth;       /* rd_kafka_outq_len: messages and requests
				     * librdkafka holds */
	const char *last_error;     /* masked, or NULL; valid until the next
				     * call into this module */
};
void kafka_stats(const struct kafka *k, struct kafka_stats *out);

/* Frees the producer. Records still in flight are purged without any
 * callback (kafka_flush first to deliver them). Safe to call from a
 * kafka callback: the free then happens when the callback returns. */
void kafka_free(struct kafka *k);

/* librdkafka's version string, e.g. "2.0.2". */
const char *kafka_version(void);

/* Exposed for tests: the outcome of a librdkafka error code, and the
 * masking of secret property values. */
enum kafka_outcome kafka_classify(int rd_kafka_err);
bool kafka_prop_is_secret(const char *name);

#endif
