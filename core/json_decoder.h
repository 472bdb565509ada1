/* json_decoder: the decoder's state, shared by json.c (the decoder),
 * json_lazydec.c (what json.decode_lazy adds) and json_lib.c (the Lua
 * library and the kept key strings). Not for the rest of herald. */
#ifndef HERALD_JSON_DECODER_H
#define HERALD_JSON_DECODER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "json_impl.h"

struct decoder {
	lua_State *L;
	const char *start, *p, *end;
	char *err;
	size_t errlen;
	int keys;         /* stack index of the known keys' strings (known_key) */
	int text;         /* json.decode_lazy: stack index of the text */
	int covered;      /* json.decode_lazy: stack index of covered(uid, rv), or 0 */
	/* json.decode_lazy: the members of the objects being decoded, for the
	 * Kubernetes objects among them (JSON_SPAN); full: no room, none kept. */
	uint64_t spans[128];
	int nspans;
	bool spans_full;
	/* json.decode_lazy: a key twice in one object, or a key with an
	 * escape, in what is kept as text (then nothing is: json_lazy_plain) */
	bool odd;
	struct json_keys keys_seen;
};

/* What a container is, for json.decode_lazy (json_impl.h). */
enum mode {
	M_PLAIN,          /* decode everything */
	M_LAZY,           /* look for Kubernetes objects */
	M_META,           /* an object's metadata: defer object and array members */
	M_ITEMS,          /* a List's items: skip what the source already delivered */
};

/* json.c */
int json_dec_value(struct decoder *d, int depth, enum mode mode);
int json_decode_all(struct decoder *d, enum mode mode);

/* json_lazydec.c: the lazy decode's parts of decoding an object */
int json_dec_covered_item(struct decoder *d, int depth);
int json_dec_defer_member(struct decoder *d, int depth, int t, int *pending);
void json_dec_object_mt(struct decoder *d, const char *open, int base);
enum mode json_dec_child_mode(lua_State *L, enum mode mode, int depth, bool *k8s, const char *value);
int json_l_decode_lazy(lua_State *L);

/* json_lib.c: the kept strings of known keys */
int json_known_key(const char *s, size_t len);
void json_push_known_keys(lua_State *L);

#endif
