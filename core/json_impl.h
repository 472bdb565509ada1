/* json_impl: what json.c, json_encode.c and json_lazy.c share. Not for the
 * rest of herald (json.h is).
 *
 * Lazy decoding (json.decode_lazy): an object with a "metadata" object
 * member (a Kubernetes object) gets the metatable "herald.object":
 * [1] the text it was decoded from, [2] the offset of its '{', [3] one past
 * its '}' (json.splice writes it back from there), [4...] its members'
 * places (JSON_SPAN; none when it had too many). Its metadata's members
 * that are objects or arrays (managedFields, annotations, labels, ...) are
 * validated but not decoded: the metadata table gets the metatable
 * "herald.lazy": [1] the text, [2] { key = offset * 2^32 + length }, and a
 * member is decoded when first read (__index), all of them by pairs, and
 * written back as they came by the encoder. */
#ifndef HERALD_JSON_IMPL_H
#define HERALD_JSON_IMPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "buf.h"

#define JSON_KEY_ARRAY_MT "herald.json.array_mt"
#define JSON_MAX_DEPTH 100
#define JSON_OBJECT_MT "herald.object"
#define JSON_LAZY_MT "herald.lazy"

/* A member's place in the text: from its key's opening quote to the end
 * of its value; escaped: the key has a backslash. Texts are under 64 MiB. */
#define JSON_SPAN(from, to, escaped) \
	(((uint64_t)(from) << 32) | ((uint64_t)(to) << 1) | ((escaped) ? 1u : 0u))
#define JSON_SPAN_FROM(s) ((size_t)((uint64_t)(s) >> 32))
#define JSON_SPAN_TO(s) ((size_t)(((uint64_t)(s) & 0xFFFFFFFFu) >> 1))
#define JSON_SPAN_ESCAPED(s) (((uint64_t)(s) & 1u) != 0)

/* A pending (undecoded) member's value in the text: offset and length. */
#define JSON_PENDING(off, len) ((lua_Integer)(((uint64_t)(off) << 32) | (uint64_t)(len)))
#define JSON_PENDING_OFF(p) ((size_t)((uint64_t)(p) >> 32))
#define JSON_PENDING_LEN(p) ((size_t)((uint64_t)(p) & 0xFFFFFFFFu))

/* One member of an object, as written: the key between its quotes, the
 * member from the key's opening quote, its value, and one past the value. */
struct json_member {
	const char *key;
	size_t key_len;
	bool key_escaped;
	const char *start, *value, *end;
};

/* The value of four hex digits at p (a \u escape), -1 if they are not. */
static inline int json_hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* The keys of the objects open while a text is walked, to notice a key
 * written twice in one object (its text would not read as its table
 * does: one key, the last value). */
struct json_keys {
	struct { const char *s; size_t len; } at[256];
	int n;
};
/* json_skip.c: notes a key (its text between the quotes) of the object
 * whose keys start at at[base]. false when it is a second one there, has
 * an escape (it could equal another once decoded), or there is no room
 * left to tell. */
bool json_keys_note(struct json_keys *k, int base, const char *s, size_t len);

/* json_skip.c: one past the number at p by JSON's grammar, or NULL when
 * none starts there; *exponent: it has one. */
const char *json_number_grammar(const char *p, const char *end, bool *exponent);

/* json_skip.c: one past the value at p, validated as the decoder would
 * (depth: the value's nesting level), or NULL when the decoder would
 * refuse it. Leading space is skipped. *odd is set (never cleared) when an
 * object in it has a key twice, or a key with an escape: its text would
 * then not read as the decoded value does (one key, the last value). */
const char *json_skip_value(const char *p, const char *end, int depth, bool *odd);

/* Walks the members of an object already validated (json_skip_value). */
struct json_walk {
	const char *start, *p, *end;
	bool first;
};
/* obj[0] must be '{'. */
void json_walk_init(struct json_walk *w, const char *obj, size_t len);
/* 1 with the next member in m, 0 past the closing '}', -1 not an object. */
int json_walk_next(struct json_walk *w, struct json_member *m);

/* json_lazy.c */
enum json_mt { JSON_MT_NONE, JSON_MT_OBJECT, JSON_MT_LAZY };
/* Which of herald's lazy metatables the table at idx has. */
enum json_mt json_mt_of(lua_State *L, int idx);
/* Pushes the metatable a lazy metadata table gets, with text (stack
 * index) and pending (stack index) in it. */
void json_lazy_push_mt(lua_State *L, int text, int pending);
/* Appends the lazy table's undecoded members at idx as ,"key":value
 * (first: no comma before the first one written; updated). */
int json_lazy_write_pending(lua_State *L, int idx, struct buf *out, bool *first);
/* Makes the lazy tables in the value at idx plain: members decoded,
 * herald's metatables removed (depth: of idx, for the nesting bound). */
void json_lazy_plain(lua_State *L, int idx, int depth);
int json_l_splice(lua_State *L);
/* A buffer the state owns (a userdata in the registry under key), so a
 * memory error half-way leaks nothing; emptied for each use. */
struct buf *json_scratch(lua_State *L, const char *key);
/* json_docs.c */
int json_l_document_herald(lua_State *L);
int json_l_es_bulk(lua_State *L);
/* json_encode.c: appends the escape of a control character (< 0x20). */
int json_append_control(struct buf *out, unsigned char c);
int json_l_encode(lua_State *L);

#endif
