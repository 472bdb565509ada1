/* checkpoint: one cluster's delivery checkpoint. It answers, after a relist
 * or a restart, "was this event (uid, resourceVersion) already delivered?"
 * so that nothing it covers is sent again to any sink, and it never claims
 * an event that some sink has not acknowledged yet.
 * Pure logic: no I/O, no clock, no logging (callers write the bytes with
 * atomicfile, report errors and count them).
 *
 * WHAT IT KEEPS, per watch stream (one per namespace watched, "" = all):
 *   frontier F: every event of the stream with resourceVersion <= F has
 *     been observed (listed or watched) by this checkpoint's process line;
 *   exceptions: the observed events some sink has not acknowledged yet
 *     (in flight, or, after a load, "unsent": to be delivered again);
 *   above F: events acknowledged whose rv is above F (only during a list,
 *     or for streams whose rvs cannot be compared), as an exact set.
 * An event is delivered iff (rv <= F and it is not an exception) or it is
 * in the exact set. That is the "low watermark plus what was acknowledged
 * above it" of issue 11, written as its complement: the exceptions below F
 * are bounded by the in-flight bound, while "acknowledged above the lowest
 * unacknowledged event" grows without bound behind one slow sink.
 *
 * WHEN rv COMPARISON IS SAFE. resourceVersion is formally opaque. herald
 * compares two of them only when (1) both are decimal integers without
 * leading zeros that fit 64 bits (kube-apiserver's etcd3 storage writes the
 * etcd revision there: one counter per etcd cluster, growing with every
 * write), (2) both come from the same stream of the same cluster, and (3)
 * the order they are compared in was observed: a watch delivers a stream's
 * events in rv order (so after event R every event <= R was seen), a list
 * does not (it is ordered by name), so F only moves at the end of a list
 * (to the list's rv: the list held every object as of that revision) and
 * on each watch event or BOOKMARK after it. A stream whose rvs do not
 * parse falls back, for good, to the exact set (bounded: the oldest
 * acknowledged entries are forgotten first, which can only re-send).
 * A list whose rv is below F means the store went back (an etcd restore
 * or another cluster under the same name): F is reset to that rv and
 * counted (stats.store_resets); re-sending is preferred over skipping.
 *
 * THE CALLER'S PROTOCOL (the source and the outputs):
 *   s = checkpoint_stream(ck, namespace)     once per watch
 *   checkpoint_list_begin(ck, s, list_rv)    before a list's items (start,
 *                                            410, continue-expired relist)
 *   checkpoint_check(ck, s, uid, rv)         per item or watch event:
 *                                            CHECKPOINT_NEW routes it
 *   checkpoint_note(ck, s, uid, rv, n)       every event the stream gave,
 *                                            with the number of sink
 *                                            deliveries it was routed to
 *                                            (0 = dropped, or skipped as
 *                                            delivered / in flight: a
 *                                            watch event still moves F)
 *   checkpoint_ack(ck, s, uid, rv, dead)     once per sink delivery, in any
 *   (or checkpoint_ack_id)                   order (dead = failed for good)
 *   checkpoint_list_done(ck, s, list_rv)     after the list's last item
 *   checkpoint_progress(ck, s, rv)           a BOOKMARK's rv
 *   checkpoint_full(ck)                      pause the watch while true
 * An alert sink acknowledges when it folds the event into a group; that
 * is durable only if the caller saves the ledger (alerts.h) serialized in
 * the same loop turn as the checkpoint, and writes it first.
 * After checkpoint_load a stream must be listed before it is watched: the
 * "unsent" exceptions are delivered again by that list and dropped at its
 * end when the list no longer holds them.
 *
 * FILE FORMAT (version 1; text, one record a line, '\n' ended):
 *   herald-checkpoint 1
 *   cluster NAME                   (whitespace in names is written as '_')
 *   stream IDX NAME|- F|- n|o      F "-" = unknown; n numeric, o opaque rvs
 *   i IDX UID RV                   not delivered yet: sent again after a load
 *   I IDX UID RVHASH               the same, for an opaque rv
 *   d IDX UID RV                   delivered, above F
 *   D IDX UID RVHASH               delivered, opaque rv
 *   end LINES SUM                  lines before it; FNV-1a 64 (hex) of
 *                                  every byte before "end"
 * UID and RVHASH are herald's 64-bit string hash (hash.h) in 16 hex
 * digits; RV and F are decimal. A file that is not this format, another
 * version, another cluster's, or fails its end line is refused whole.
 * Size: checkpoint_size_bound() (44 bytes an entry); with 4096 in flight
 * and 4096 exact entries on 64 streams it is under 370 KB, leaving room
 * in a 1 MiB ConfigMap (issue 14) for an alert ledger capped by
 * alerts_export's max_bytes. The bound holds while the caller pauses at
 * checkpoint_full(). */
#ifndef HERALD_CHECKPOINT_H
#define HERALD_CHECKPOINT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_STREAMS 64

enum checkpoint_answer {
	CHECKPOINT_NEW,            /* deliver it (never seen, or unsent before a restart) */
	CHECKPOINT_DELIVERED,      /* every sink acknowledged it: skip */
	CHECKPOINT_IN_FLIGHT,      /* this process is delivering it now: skip */
};

struct checkpoint_stats {
	size_t in_flight;          /* exceptions being delivered by this process */
	size_t unsent;             /* exceptions loaded from a file, not yet listed again */
	size_t exact;              /* delivered entries above F or with opaque rvs */
	uint64_t dead_lettered;    /* acks that were a sink giving up for good */
	uint64_t unknown_acks;     /* acks for no event in flight (a caller bug) */
	uint64_t forgotten;        /* exact entries dropped at the bound */
	uint64_t store_resets;     /* lists whose rv was below F */
	uint64_t out_of_memory;    /* notes that could not be recorded (F then stops) */
};

struct checkpoint;

/* max_in_flight: the bound checkpoint_full() reports (the README's
 * "re-sent after a kill -9" number per cluster, plus what a load left
 * unsent); max_exact: the exact set's bound. Memory: 24 bytes an entry in
 * a table kept a quarter to half full: under 100 bytes x the peak of (in
 * flight + unsent + exact). NULL when out of memory. Caller frees with
 * checkpoint_free. */
struct checkpoint *checkpoint_new(const char *cluster, size_t max_in_flight, size_t max_exact);
void checkpoint_free(struct checkpoint *ck);

/* The stream for a namespace ("" or NULL = all namespaces), created on
 * first use; -1 past CHECKPOINT_MAX_STREAMS. */
int checkpoint_stream(struct checkpoint *ck, const char *name);

enum checkpoint_answer checkpoint_check(const struct checkpoint *ck, int stream, const char *uid, const char *rv);
/* An admitted event went to `sinks` deliveries (0: routed nowhere). A
 * watch event also moves F to rv. 0, or -1 when out of memory (counted;
 * F of that stream then stays where it was until the process restarts). */
int checkpoint_note(struct checkpoint *ck, int stream, const char *uid, const char *rv, unsigned sinks);
/* One delivery finished: stored, written, 409, folded into an alert group
 * the ledger holds, or (dead) given up on and dead-lettered. 1 when that
 * was the event's last one, 0 when others remain, -1 when no such event is
 * in flight (counted in unknown_acks). */
int checkpoint_ack(struct checkpoint *ck, int stream, const char *uid, const char *rv, bool dead);

/* An event's identity in 24 bytes, for queue items to carry until their
 * ack instead of the uid and rv strings. */
struct checkpoint_id {
	uint64_t uid, rv;
	int16_t stream;
	uint8_t flags;
};
struct checkpoint_id checkpoint_id_of(int stream, const char *uid, const char *rv);
int checkpoint_ack_id(struct checkpoint *ck, const struct checkpoint_id *id, bool dead);

/* A list starts (list_rv: its resourceVersion when already known, else
 * NULL). Until list_done, F stays where it is. */
void checkpoint_list_begin(struct checkpoint *ck, int stream, const char *list_rv);
/* Every item of the list was checked and noted: F moves to list_rv;
 * unsent exceptions the list did not return again are dropped (their
 * object is gone); exact entries now under F are dropped. */
void checkpoint_list_done(struct checkpoint *ck, int stream, const char *list_rv);
/* A BOOKMARK (or any rv the watch stream reached with nothing to note). */
void checkpoint_progress(struct checkpoint *ck, int stream, const char *rv);

/* The in-flight bound is reached: the source should pause its watches
 * (unsent entries from a load do not count: the list that clears them
 * must be able to run). */
bool checkpoint_full(const struct checkpoint *ck);

/* What a kill -9 would re-send: the exceptions the last saved file lists,
 * plus every event noted to a sink since it was serialized. The caller
 * takes checkpoint_mark() when it serializes, and hands it back to
 * checkpoint_saved() once those bytes are durable (written and renamed,
 * or stored in the ConfigMap); checkpoint_unsaved() then counts the
 * events noted to sinks after that mark. Saving when it reaches a bound
 * (and pausing while a save is under way) makes "re-sent after a kill -9
 * <= in flight at the save + that bound" hold at any rate. */
uint64_t checkpoint_mark(const struct checkpoint *ck);
void checkpoint_saved(struct checkpoint *ck, uint64_t mark);
uint64_t checkpoint_unsaved(const struct checkpoint *ck);
void checkpoint_stats(const struct checkpoint *ck, struct checkpoint_stats *out);

/* Appends the file format above to out. 0, or -1 when out of memory. */
int checkpoint_save(const struct checkpoint *ck, struct buf *out);
/* Replaces the state with a saved one (in flight becomes unsent). On any
 * error: -1, a one-line reason in err, the state untouched. */
int checkpoint_load(struct checkpoint *ck, const char *data, size_t len, char *err, size_t errlen);
/* The largest checkpoint_save can write under these bounds. */
size_t checkpoint_size_bound(size_t max_in_flight, size_t max_exact, size_t streams);

#endif
