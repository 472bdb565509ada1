/* json_lazydec: what json.decode_lazy adds to decoding (json_impl.h):
 * Kubernetes objects remember their text and members' places, metadata's
 * object and array members are validated and left for later, List items
 * the source delivered before are skipped, and a record whose text would
 * not read as its table (a key twice, an escaped key) is made plain. The
 * decoder (json.c) calls these at each member. */
#include "json.h"
#include "json_impl.h"
#include "json_decoder.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

static bool is_key(const struct json_member *m, const char *name, size_t len)
{
	return m->key_len == len && memcmp(m->key, name, len) == 0;
}

/* A List item (d->p at its '{') the source already delivered: its
 * metadata's uid and resourceVersion are covered by the checkpoint. Such
 * an item is validated (d->p past it) and not decoded: 1. 0 (d->p
 * unchanged) when it must be decoded, -1 when it is malformed. */
int json_dec_covered_item(struct decoder *d, int depth)
{
	bool odd = false;  /* a skipped item's keys do not matter */
	const char *at = d->p, *end = json_skip_value(at, d->end, depth, &odd);
	if (!end)
		return 0;  /* malformed: decoding it says why */
	struct json_member m, id;
	struct json_walk item, meta;
	const char *uid = NULL, *rv = NULL;
	size_t uid_len = 0, rv_len = 0;
	bool event = false;
	json_walk_init(&item, at, (size_t)(end - at));
	while (json_walk_next(&item, &m) == 1) {
		if (is_key(&m, "involvedObject", 14)) {
			event = *m.value == '{';
		} else if (is_key(&m, "metadata", 8)) {
			uid = rv = NULL;
			if (*m.value != '{')
				continue;
			json_walk_init(&meta, m.value, (size_t)(m.end - m.value));
			while (json_walk_next(&meta, &id) == 1) {
				size_t len = (size_t)(id.end - id.value);
				bool plain = *id.value == '"' && len > 2 && !memchr(id.value, '\\', len);
				if (is_key(&id, "uid", 3))
					uid = plain ? id.value + 1 : NULL, uid_len = len - 2;
				else if (is_key(&id, "resourceVersion", 15))
					rv = plain ? id.value + 1 : NULL, rv_len = len - 2;
			}
		}
	}
	if (!event || !uid || !rv)
		return 0;
	lua_State *L = d->L;
	lua_pushvalue(L, d->covered);                                   /* covered */
	lua_pushlstring(L, uid, uid_len);
	lua_pushlstring(L, rv, rv_len);
	lua_call(L, 2, 1);                                              /* yes */
	bool yes = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (yes)
		d->p = end;
	return yes;
}

/* A metadata member that is an object or an array: validated, not
 * decoded; its place goes into the pending table (made on first use,
 * just above t). Stack: t [p] k -> t p */
int json_dec_defer_member(struct decoder *d, int depth, int t, int *pending)
{
	lua_State *L = d->L;
	const char *v = d->p, *end = json_skip_value(v, d->end, depth + 1, &d->odd);
	if (end) {
		d->p = end;
	} else {  /* malformed: decoding it says where and why */
		if (json_dec_value(d, depth + 1, M_PLAIN) < 0) {
			lua_pop(L, 1);
			return -1;
		}
		lua_pop(L, 1);  /* the two disagree (a bug): the decoder's verdict stands */
	}
	if (!*pending) {
		lua_createtable(L, 0, 4);                               /* t k p */
		lua_insert(L, -2);                                      /* t p k */
		*pending = t + 1;
	}
	lua_pushvalue(L, -1);
	lua_pushnil(L);
	lua_rawset(L, t);                       /* t p k: an earlier member of that name is gone */
	lua_pushinteger(L, JSON_PENDING(v - d->start, d->p - v));
	lua_rawset(L, *pending);                                        /* t p */
	return 0;
}

/* The metatable of a Kubernetes object: its text and span. Stack: t -> t */
void json_dec_object_mt(struct decoder *d, const char *open, int base)
{
	lua_State *L = d->L;
	int n = d->spans_full ? 0 : d->nspans - base;
	lua_createtable(L, 3 + n, 1);                                   /* t mt */
	for (int i = 0; i < n; i++) {
		lua_pushinteger(L, (lua_Integer)d->spans[base + i]);
		lua_rawseti(L, -2, 4 + i);
	}
	lua_pushliteral(L, JSON_OBJECT_MT);
	lua_setfield(L, -2, "__name");
	lua_pushvalue(L, d->text);
	lua_rawseti(L, -2, 1);
	lua_pushinteger(L, (lua_Integer)(open - d->start));
	lua_rawseti(L, -2, 2);
	lua_pushinteger(L, (lua_Integer)(d->p - d->start));
	lua_rawseti(L, -2, 3);
	lua_setmetatable(L, -2);                                        /* t */
}

/* The mode of an object member's value, by its key (on the stack top). */
enum mode json_dec_child_mode(lua_State *L, enum mode mode, int depth, bool *k8s, const char *value)
{
	if (mode == M_PLAIN || mode == M_META)
		return M_PLAIN;
	size_t len;
	const char *k = lua_tolstring(L, -1, &len);
	if (len == 8 && memcmp(k, "metadata", 8) == 0 && *value == '{') {
		*k8s = true;
		return M_META;
	}
	if (depth == 0 && len == 5 && memcmp(k, "items", 5) == 0)
		return M_ITEMS;
	return M_LAZY;
}

/* json.decode_lazy(text[, covered]) -> value | nil, err: as json.decode,
 * with Kubernetes objects decoded lazily (json_impl.h). covered(uid, rv),
 * when given, is asked about each item of a List ({"items": [...]}); an
 * item it says yes to becomes false, validated but not decoded. */
int json_l_decode_lazy(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	bool covered = lua_isfunction(L, 2);
	lua_settop(L, 2);
	char err[256];
	json_push_known_keys(L);                                             /* text covered keys */
	struct decoder d = { .L = L, .start = s, .p = s, .end = s + len, .err = err, .errlen = sizeof(err),
			     .text = 1, .covered = covered ? 2 : 0, .keys = 3 };
	if (json_decode_all(&d, M_LAZY) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	if (d.odd)  /* its text would not read as the table does: no splice, no raw members */
		json_lazy_plain(L, -1, 0);
	return 1;
}
