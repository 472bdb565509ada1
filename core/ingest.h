/* ingest: from bytes to routed events. Frames the input, hands each record
 * to the runtime, and reports every record it cannot use (with its line
 * and why) on the log and in counters: bad input never stops the stream. */
#ifndef HERALD_INGEST_H
#define HERALD_INGEST_H
#include <stddef.h>
#include "framer.h"
#include "metrics.h"
#include "runner.h"
#include "runtime.h"

#define INGEST_MAX_RECORD (64u << 20)   /* a kubectl List of many events */
#define INGEST_MAX_FIELD (1u << 20)     /* one string (a message) */

struct ingest_stats {
	unsigned long records;      /* framed records */
	unsigned long events;       /* events routed */
	unsigned long skipped;      /* records or List items not usable */
	unsigned long failed;       /* runtime failures */
};

struct ingest {
	struct runtime *rt;         /* asked for the state in force per record */
	struct framer framer;
	const char *source;         /* for messages: a file name or "stdin" */
	const char *cluster;        /* NULL: the event's own, else "default" */
	struct runner_hooks hooks;  /* the caller's emit/routed/admit; reject is ours */
	void *caller_arg;
	/* Called with each record's result (a watch needs bookmarks, statuses
	 * and resourceVersions); NULL when nobody needs them. */
	void (*on_result)(void *arg, const struct ingest_result *res);
	unsigned long line;         /* of the record being routed */
	struct ingest_stats stats;
	struct metrics_series *m_routed;   /* looked up once */
};

/* hooks: emit and routed of the caller (reject is replaced by ingest's
 * own, which reports with line numbers). */
void ingest_init(struct ingest *in, struct runtime *rt, const char *source,
		 const char *cluster, const struct runner_hooks *hooks);
void ingest_feed(struct ingest *in, const char *data, size_t len);
void ingest_finish(struct ingest *in);
void ingest_free(struct ingest *in);

#endif
