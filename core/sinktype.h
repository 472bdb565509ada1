/* sinktype: the vocabulary between the runtime's sink types and the
 * outputs: what a sink is (sink_spec), the request a sink type builds
 * (sink_request) and what it made of the answer (sink_verdict). Plain C:
 * never includes lua.h, so outputs and sources do not see the Lua state. */
#ifndef HERALD_SINKTYPE_H
#define HERALD_SINKTYPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alerts.h"

/* The outputs a sink can write to; sinktype_outputs names them (core.outputs). */
enum sink_output { SINK_OUT_STDOUT, SINK_OUT_FILE, SINK_OUT_NULL, SINK_OUT_HTTP, SINK_OUT_KAFKA, SINK_OUT_COUNT };

extern const char *const sinktype_outputs[SINK_OUT_COUNT + 1];   /* NULL-ended */
/* The output called name; -1 when this herald has none by that name. */
int sinktype_output(const char *name);

struct sink_spec {
	char *name;
	char *type;
	enum sink_output output;
	size_t batch_events, batch_bytes;
	uint64_t batch_wait_ms;
	size_t queue_events, queue_bytes;
	bool lua_batch;            /* the type shapes whole batches (runner_batch) */
	char *path;                /* file */
	size_t rotate_bytes;       /* file */
	int rotate_keep;           /* file */
	char *dead_letter;         /* http, kafka: where items that failed for good go (or NULL) */
	char **kafka_props;        /* kafka: librdkafka's properties, name, value, name, ... */
	size_t nkafka_props;       /* kafka: pairs in kafka_props */
	int concurrency;           /* http: requests in flight at once */
	bool alert;                /* an alert sink: events go into groups */
	struct alert_policy policy;
};

/* The HTTP request a sink type built for a batch (http outputs). */
struct sink_request {
	char *method, *url;
	char **headers;            /* "Name: value" */
	size_t nheaders;
	char *body;
	size_t body_len;
	long timeout_ms;
	char *ca_file;
	char *cert_file, *key_file;  /* client certificate */
	bool insecure;
	char *kind;                /* the sink type's tag, handed back with the answer */
};

/* What the sink type made of the answer. */
enum sink_verdict_kind {
	VERDICT_OK,                /* every item delivered */
	VERDICT_RETRY,             /* the whole batch, later (after, or backoff) */
	VERDICT_AGAIN,             /* the whole batch, at once (after a probe request) */
	VERDICT_ITEMS,             /* per item: state[i] and reason[i] */
	VERDICT_FAILED,            /* refused for good (message says why) */
};

enum { ITEM_OK, ITEM_RETRY, ITEM_FAILED };

struct sink_verdict {
	enum sink_verdict_kind kind;
	double after_s;            /* RETRY: wait at least this long (Retry-After) */
	char *message;             /* why, for the log */
	unsigned char *state;      /* ITEMS: one per item */
	char **reason;             /* ITEMS: for failed items */
	size_t n;
};

void sink_request_free(struct sink_request *r);
/* Frees a sink_spec's kafka_props (n pairs), wiping every value. */
void sinktype_props_free(char **props, size_t n);
void sink_verdict_free(struct sink_verdict *v);

#endif
