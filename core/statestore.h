/* statestore: named byte strings kept where the next leader finds them:
 * one file per key in a directory, or one key each in a ConfigMap's
 * binaryData in herald's namespace (zlib-compressed; the ConfigMap is
 * written at most every interval, with an update on the resourceVersion
 * last read, so replicas writing different keys never lose each other's).
 * Keys: "<cluster>.seen" for a cluster's delivered events (the delivery
 * checkpoint), "<sink>.ledger" for an alert sink's ledger. Bytes in,
 * bytes out: callers encode and decode their own state.
 *
 * Bound: a ConfigMap holds at most 1 MiB; a put that would take the
 * compressed total over STATESTORE_MAX_BYTES is refused (logged, counted in
 * herald_state_store_writes_total{result="too_big"}); the previous copy of
 * that key stays. */
#ifndef HERALD_STATESTORE_H
#define HERALD_STATESTORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "loop.h"

#define STATESTORE_MAX_BYTES (900 * 1024) /* compressed bytes, all keys; ConfigMaps stop at 1 MiB */
#define STATESTORE_KEY_MAX 253

struct kubeapi;
struct statestore;

typedef void (*statestore_done_cb)(void *arg, int rc); /* rc 0, or -1 (logged) */

/* Files dir/<key>. NULL when memory ran out. */
struct statestore *statestore_open_dir(const char *dir);
/* ConfigMap ns/name through api (borrowed, must outlive the store);
 * pending puts are written every interval_ms. */
struct statestore *statestore_open_configmap(struct loop *loop, struct kubeapi *api, const char *ns,
					     const char *name, uint64_t interval_ms);
/* Cancels a request in flight; loads still waiting are answered -1 (from
 * here); unwritten puts are lost: flush first. */
void statestore_free(struct statestore *st);

/* Reads the newest copy (the ConfigMap: a GET; a missing one is empty);
 * done runs from the loop, or at once for a directory. Keys put here and
 * not written yet keep their newer bytes. */
void statestore_load(struct statestore *st, statestore_done_cb done, void *arg);
/* The bytes of key as last loaded or put: 0 with out filled (reset
 * first), 1 when absent, -1 when they do not decompress. */
int statestore_get(struct statestore *st, const char *key, struct buf *out);
/* Keeps bytes under key (a directory: written at once). -1 (logged) when
 * the key is not a valid ConfigMap key or the store would grow past its
 * bound. */
int statestore_put(struct statestore *st, const char *key, const void *data, size_t len);
/* Writes the pending puts now; done (may be NULL) when they are written or
 * the write failed. */
void statestore_flush(struct statestore *st, statestore_done_cb done, void *arg);
/* Puts not yet written. */
bool statestore_pending(const struct statestore *st);

#endif
