/* runner: the C side of the runtime's entry points (load, ingest) and the
 * core.* functions the runtime calls back (emit, routed, reject, count).
 * Converts between Lua tables and the C structs the rest of herald uses. */
#ifndef HERALD_RUNNER_H
#define HERALD_RUNNER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alerts.h"
#include "buf.h"
#include "checkpoint.h"
#include "sinktype.h"

struct luahost;   /* luahost.h: only runner.c and luahost.c see lua.h */

struct runner_config {
	bool ok;                   /* loaded, and every example passed */
	struct sink_spec *sinks;   /* sinks[i] is the runtime's sink index i+1 */
	size_t nsinks;
	size_t errors, warnings, examples, examples_failed, rules, files;
};

/* Loads DIR/sinks.lua and the rules (rules_dir, NULL for DIR/rules/) and
 * runs the examples. Every error,
 * warning and failed example is written to stderr as "file:line: ...".
 * mode: in RUNNER_CHECK and RUNNER_REPLAY a missing env variable or secret
 * is a warning with a placeholder (CI of the ConfigMap has no secrets, and
 * replay sends nothing); in RUNNER_RUN it is an error. report: where the lines go (NULL: stderr as
 * "error: file:line: message"). Returns 0 when it ran (see out->ok), -1 when
 * the runtime itself failed. Caller frees out with runner_config_free. */
struct runner_report {
	/* severity: "error" or "warning"; text: "file:line: message" */
	void (*line)(void *arg, const char *severity, const char *text);
	void *arg;
};

enum runner_mode { RUNNER_RUN, RUNNER_CHECK, RUNNER_REPLAY };

int runner_load(struct luahost *h, const char *config_dir, const char *rules_dir,
		const char *secrets_dir, enum runner_mode mode, const struct runner_report *report,
		struct runner_config *out);
void runner_config_free(struct runner_config *c);

/* One routed event, as replay shows it. Strings are valid during the
 * callback only; sinks[] holds runtime sink indices (1-based). */
struct runner_event {
	const char *uid, *namespace, *reason, *type, *kind, *name;
	const int *sinks;
	size_t nsinks;
	const char *dropped_by;    /* file:line of the drop rule, or NULL */
	long item;                 /* position in a List record; 0 otherwise */
};

/* An encoded event for one sink. Alert sinks also get the event's group
 * key and uid (NULL for other sinks). Valid during the callback only. */
struct runner_item {
	int sink;
	const char *data;
	size_t len;
	const char *key, *uid;
	/* Whom to acknowledge the delivery to (set by the source; NULL:
	 * nobody keeps a checkpoint of this event). */
	struct checkpoint *ckpt;
	struct checkpoint_id ckid;
};

/* An event about to be routed (core.admit's arguments). uid and rv are
 * set; the others may be NULL. Valid during the callback only. */
struct runner_admit {
	const char *uid, *rv, *last_seen, *type, *reason, *namespace, *kind;
};

/* An event the runtime wants owners and labels for (core.defer): its JSON,
 * the involved object, and the admit verdict it already had. */
struct runner_defer {
	const char *text;
	size_t len;
	const char *uid, *namespace, *kind, *name;
	int admit;
};

struct runner_hooks {
	void *arg;
	bool describe;             /* fill runner_event's strings (replay) */
	void (*emit)(void *arg, const struct runner_item *it);
	void (*routed)(void *arg, const struct runner_event *ev);
	void (*reject)(void *arg, long item, const char *why);
	/* Before an event is routed: 0 skip it (already delivered), 1 deliver
	 * it, 2 deliver it but not to alert sinks (too old). NULL: deliver. */
	int (*admit)(void *arg, const struct runner_admit *a);
	/* Asked before a List item is even decoded: was (uid, rv) delivered
	 * before? true: the item is skipped (the source noted and counted it,
	 * as admit does for 0). NULL: never. */
	bool (*covered)(void *arg, const char *uid, const char *rv);
	/* Takes an event to route later, enriched (true), or refuses (false:
	 * it is routed now, unenriched). NULL: never deferred. */
	bool (*defer)(void *arg, const struct runner_defer *d);
};

enum ingest_kind {
	INGEST_EVENTS,             /* count events routed */
	INGEST_BOOKMARK,           /* rv */
	INGEST_DELETED,            /* rv */
	INGEST_STATUS,             /* code, reason, message: a watch ERROR */
	INGEST_BAD,                /* message: the record was unusable */
	INGEST_FAILED,             /* message: the runtime failed (a bug or a budget) */
};

struct ingest_result {
	enum ingest_kind kind;
	long count;
	long code;
	bool too_large;            /* status: ResourceVersionTooLarge */
	char rv[64];               /* the event's, the bookmark's, or a List's */
	char cont[1024];           /* a List's continue token */
	char reason[64];
	char message[512];
};

struct ingest_input {
	const char *data;
	size_t len;
	bool has_empty_array;
	bool big_field;            /* the framer saw a string longer than field_limit */
	size_t field_limit;
	const char *cluster;       /* NULL: keep the event's own, else "default" */
};

int runner_ingest(struct luahost *h, const struct ingest_input *in,
		  const struct runner_hooks *hooks, struct ingest_result *res);

/* Turns a batch of encoded items into output bytes with the sink type's
 * batch(items, conf). Appends to out; -1 (logged) when the Lua failed. */
struct sinkq_item;
int runner_batch(struct luahost *h, int sink, const char *name, const struct sinkq_item *items,
		 size_t count, struct buf *out);

struct http_response;
/* Asks the sink type for the request of a batch. -1 (logged) on failure,
 * 1 when the sink type says "not now" (it waits for an answer first). */
int runner_http_request(struct luahost *h, int sink, const char *name, const struct sinkq_item *items,
			struct sink_request *out);
/* The same for an alert sink's message (a group or a digest): the sink
 * type renders and signs it. */
int runner_alert_request(struct luahost *h, int sink, const char *name, const struct alert_msg *m,
			 struct sink_request *out);
/* Asks the sink type what the answer means. On a Lua failure the verdict
 * is RETRY (nothing is dropped because a script failed). */
void runner_http_response(struct luahost *h, int sink, const char *name, const struct http_response *r,
			  const char *kind, const struct sinkq_item *items, size_t count, struct sink_verdict *out);

/* An object read from the API server, as enrichment needs it (malloc'd):
 * labels as a JSON object, the controller's kind and name (NULL: none). */
struct runner_object {
	char *labels, *owner_kind, *owner_name;
};
/* runner_enrich.c: reads an object's JSON. -1 (logged) when unreadable. */
int runner_object_meta(struct luahost *h, const char *body, size_t len, struct runner_object *out);
/* Routes a deferred event (its JSON) with its enrichment (a JSON object
 * {owner, owners, labels}, or NULL for none) through hooks. -1 (logged)
 * when the runtime failed. */
int runner_route_deferred(struct luahost *h, const char *text, size_t len, const char *enrichment, int admit,
			  const struct runner_hooks *hooks);
/* Registers core.admit and core.defer. */
void runner_enrich_register(struct luahost *h);

/* Registers core.emit, core.routed, core.reject, core.count, core.admit
 * and core.outputs (the names of the outputs this herald has). Given to
 * luahost_new as its extend hook, so the runtime starts with all of them. */
void runner_register(struct luahost *h);

#endif
