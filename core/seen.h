/* seen: what was delivered, as uid -> resourceVersion (kept as 64-bit
 * hashes: 16 bytes an event), bounded (the oldest entry is forgotten
 * first) and saved atomically for --state-dir.
 * A relist or a restart delivers an event again only when its
 * resourceVersion changed (a repeat), never the same version twice. */
#ifndef HERALD_SEEN_H
#define HERALD_SEEN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct seen;

struct seen *seen_new(size_t capacity);
void seen_free(struct seen *s);
bool seen_has(const struct seen *s, const char *uid, const char *rv);
/* Records uid at rv (replacing an older rv of the same uid). */
void seen_put(struct seen *s, const char *uid, const char *rv);
size_t seen_count(const struct seen *s);
bool seen_dirty(const struct seen *s);

/* Writes path.tmp, fsyncs, renames over path, leaving out the uids in
 * skip (seen_hash values; sorted here, in place): events an alert sink
 * still holds, which a restart must deliver again. -1 with errno on
 * failure (not logged: the caller reports it to statedir). */
int seen_save(struct seen *s, const char *path, uint64_t *skip, size_t nskip);
/* The hash seen keeps of a uid (never 0). */
uint64_t seen_hash(const char *s);
/* Reads a saved file; a missing file is not an error (returns 0, nothing
 * loaded), a damaged one is (-1, logged; the lines before the damage are
 * kept). */
int seen_load(struct seen *s, const char *path, bool *loaded);

#endif
