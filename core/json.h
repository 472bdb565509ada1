/* json: JSON <-> Lua values with null and empty-array fidelity.
 *
 * Both ways are herald's own: an empty array decodes to a table with a
 * shared metatable (json.array_mt) and writes back as [], an empty object
 * as {}; null is json.null (a NULL light userdata); numbers decode as
 * floats. Decoding keeps its work on the Lua stack, so a memory budget can
 * stop it at any point without a leak. */
#ifndef HERALD_JSON_H
#define HERALD_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <lua.h>
#include "buf.h"

/* Creates the json library table (decode, encode, null, array, array_mt,
 * is_array) and leaves it on the stack. Call once per state. */
int json_open(lua_State *L);

/* Decodes text and pushes the value; on failure pushes nothing, writes
 * the reason into err and returns -1. Values nest at most 100 deep.
 * has_empty_array: ignored (a hint the old decoder needed). */
int json_decode(lua_State *L, const char *text, size_t len, bool has_empty_array,
		char *err, size_t errlen);

/* Appends text to out with the contents of every string (key or value)
 * longer than max bytes as written replaced by max + 1 dots: the record
 * keeps its shape and still shows which field was too large, without the
 * cost of decoding it. -1 when out of memory. */
int json_shrink_strings(const char *s, size_t len, size_t max, struct buf *out);

/* Appends the JSON of the value at idx to out. -1 with err on a value JSON
 * cannot hold (function, NaN, mixed or sparse table, cycle). */
int json_encode(lua_State *L, int idx, struct buf *out, char *err, size_t errlen);

/* A Kubernetes object decoded by json.decode_lazy, written back from the
 * text it came in with the members named in the array at keys re-encoded
 * from the table (or left out when it has none), into a buffer the state
 * owns (valid until the next splice): 1 with *out set; 0 when the table
 * cannot be spliced (encode it instead); -1 with a message pushed when a
 * re-encoded value cannot be written. */
int json_splice(lua_State *L, int ev, int keys, const struct buf **out);

/* What the last json_splice of this state wrote (NULL: none yet). */
const struct buf *json_spliced(lua_State *L);

/* Appends s as a JSON string literal, escaped. */
int json_append_string(struct buf *out, const char *s, size_t len);

#endif
