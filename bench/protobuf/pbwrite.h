/* pbwrite: what herald would have to do with a protobuf-decoded Event,
 * since every output it has is JSON and every rule reads a Lua table. */
#ifndef HERALD_BENCH_PBWRITE_H
#define HERALD_BENCH_PBWRITE_H
#include <lua.h>
#include "buf.h"
#include "pbevent.h"

/* Appends the Event as one JSON line, in the apiserver's own field order
 * and omitempty rules: it equals the apiserver's JSON less the metadata
 * pbevent skipped (labels, annotations and managedFields are written when
 * decoded, with pbevent_decode's full). -1 when out of memory. */
int pbwrite_json(const struct pbevent *ev, struct buf *out);

/* Pushes the Lua table herald's JSON decoder would make of the same fields
 * (json.null for a null time, counts as floats). */
void pbwrite_table(lua_State *L, const struct pbevent *ev);

/* Formats t as the apiserver does: seconds-only "2006-01-02T15:04:05Z"
 * (Time) or with ".000000" microseconds (MicroTime). Returns the length. */
size_t pbwrite_time(const struct pbevent_time *t, int micro, char out[32]);

#endif
