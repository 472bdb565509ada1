/* json: JSON <-> Lua values with null and empty-array fidelity.
 *
 * Decoding is lua-cjson's. Debian ships lua-cjson 2.1.0, which turns both
 * [] and {} into an empty table and then writes it back as {}; herald marks
 * tables that were arrays with a shared metatable (json.array_mt) and
 * encodes with its own small writer that honours the mark and json.null. */
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
 * the reason into err and returns -1. has_empty_array: the text may
 * contain [] (the framer knows; pass true when unsure). */
int json_decode(lua_State *L, const char *text, size_t len, bool has_empty_array,
		char *err, size_t errlen);

/* Appends the JSON of the value at idx to out. -1 with err on a value JSON
 * cannot hold (function, NaN, mixed or sparse table, cycle). */
int json_encode(lua_State *L, int idx, struct buf *out, char *err, size_t errlen);

/* Appends s as a JSON string literal, escaped. */
int json_append_string(struct buf *out, const char *s, size_t len);

#endif
