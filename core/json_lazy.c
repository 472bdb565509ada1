/* json_lazy: the tables json.decode_lazy makes (see json_impl.h): a
 * metadata table whose object and array members are decoded when first
 * read, and json.splice, which writes a Kubernetes object back from the
 * text it came in with only the members herald changed re-encoded. Owns
 * the two metatables' behaviour; json.c decides which tables get them. */
#include "json.h"
#include "json_impl.h"
#include "scan.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

enum json_mt json_mt_of(lua_State *L, int idx)
{
	if (!lua_getmetatable(L, idx))                                  /* mt */
		return JSON_MT_NONE;
	enum json_mt kind = JSON_MT_NONE;
	if (lua_getfield(L, -1, "__name") == LUA_TSTRING) {             /* mt name */
		const char *name = lua_tostring(L, -1);
		kind = strcmp(name, JSON_LAZY_MT) == 0 ? JSON_MT_LAZY :
		       strcmp(name, JSON_OBJECT_MT) == 0 ? JSON_MT_OBJECT : JSON_MT_NONE;
	}
	lua_pop(L, 2);
	return kind;
}

/* Decodes the pending member whose key is on the stack top into t (an
 * absolute index) and drops it from pending. Stack: mt k -> mt k v */
static void resolve(lua_State *L, int t, int mt)
{
	lua_rawgeti(L, mt, 2);                                          /* mt k p */
	lua_pushvalue(L, -2);
	lua_rawget(L, -2);                                              /* mt k p off */
	if (!lua_isinteger(L, -1)) {
		lua_pop(L, 2);
		lua_pushnil(L);                                         /* mt k nil */
		return;
	}
	lua_Integer place = lua_tointeger(L, -1);
	size_t off = JSON_PENDING_OFF(place), len = JSON_PENDING_LEN(place), tlen;
	lua_pop(L, 1);                                                  /* mt k p */
	lua_pushvalue(L, -2);
	lua_pushnil(L);
	lua_rawset(L, -3);                                              /* mt k p */
	lua_pop(L, 1);                                                  /* mt k */
	lua_rawgeti(L, mt, 1);                                          /* mt k text */
	const char *text = lua_tolstring(L, -1, &tlen);
	char err[256];
	if (!text || off + len > tlen || json_decode(L, text + off, len, true, err, sizeof(err)) < 0)
		luaL_error(L, "a lazily decoded member cannot be read");  /* validated when decoded: a bug */
	lua_remove(L, -2);                                              /* mt k v */
	lua_pushvalue(L, -2);
	lua_pushvalue(L, -2);
	lua_rawset(L, t);                                               /* mt k v */
}

/* __index(t, k): a member not read yet. */
static int l_index(lua_State *L)
{
	lua_settop(L, 2);
	if (!lua_getmetatable(L, 1))                                    /* t k mt */
		return 0;
	lua_insert(L, 2);                                               /* t mt k */
	resolve(L, 1, 2);                                               /* t mt k v */
	return 1;
}

/* Decodes every member still pending into the table at t. */
static void resolve_all(lua_State *L, int t)
{
	t = lua_absindex(L, t);
	if (!lua_getmetatable(L, t))                                    /* mt */
		return;
	int mt = lua_gettop(L);
	for (;;) {
		lua_rawgeti(L, mt, 2);                                  /* mt p */
		lua_pushnil(L);
		if (!lua_next(L, -2)) {                                 /* mt p [k off] */
			lua_pop(L, 2);
			return;
		}
		lua_pop(L, 1);                                          /* mt p k */
		lua_remove(L, -2);                                      /* mt k */
		lua_pushvalue(L, -1);
		lua_rawget(L, t);                                       /* mt k cur */
		bool set = !lua_isnil(L, -1);
		lua_pop(L, 1);
		if (set) {  /* assigned since: that value stays */
			lua_rawgeti(L, mt, 2);
			lua_insert(L, -2);
			lua_pushnil(L);
			lua_rawset(L, -3);                              /* mt p */
			lua_pop(L, 1);                                  /* mt */
			continue;
		}
		resolve(L, t, mt);                                      /* mt k v */
		lua_pop(L, 2);                                          /* mt */
	}
}

static int l_next(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);
	if (lua_next(L, 1))
		return 2;
	lua_pushnil(L);
	return 1;
}

/* __pairs(t): every member, decoded. */
static int l_pairs(lua_State *L)
{
	resolve_all(L, 1);
	lua_pushcfunction(L, l_next);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* __newindex(t, k, v): setting a member not read yet replaces it. */
static int l_newindex(lua_State *L)
{
	if (lua_getmetatable(L, 1)) {                                   /* t k v mt */
		lua_rawgeti(L, -1, 2);                                  /* t k v mt p */
		lua_pushvalue(L, 2);
		lua_pushnil(L);
		lua_rawset(L, -3);
		lua_pop(L, 2);                                          /* t k v */
	}
	lua_rawset(L, 1);
	return 0;
}

void json_lazy_plain(lua_State *L, int idx, int depth)
{
	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) != LUA_TTABLE || depth > JSON_MAX_DEPTH || !lua_checkstack(L, 4))
		return;
	enum json_mt kind = json_mt_of(L, idx);
	if (kind == JSON_MT_LAZY)
		resolve_all(L, idx);
	if (kind != JSON_MT_NONE) {
		lua_pushnil(L);
		lua_setmetatable(L, idx);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {                                      /* k v */
		json_lazy_plain(L, -1, depth + 1);
		lua_pop(L, 1);
	}
}

void json_lazy_push_mt(lua_State *L, int text, int pending)
{
	lua_createtable(L, 2, 4);                                       /* mt */
	lua_pushliteral(L, JSON_LAZY_MT);
	lua_setfield(L, -2, "__name");
	lua_pushcfunction(L, l_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, l_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushvalue(L, text);
	lua_rawseti(L, -2, 1);
	lua_pushvalue(L, pending);
	lua_rawseti(L, -2, 2);
}

/* Appends a validated JSON value as it came, but as the encoder would put
 * it on a line: the space between tokens of a pretty-printed file goes,
 * and a control character inside a string (the decoder takes them raw) is
 * escaped. */
static int append_value(struct buf *out, const char *v, size_t len)
{
	if (!scan_has_control(v, v + len))
		return buf_append(out, v, len);
	bool in_string = false, escape = false;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (in_string) {
			if (escape) {
				escape = false;
			} else if (c == '\\') {
				escape = true;
			} else if (c == '"') {
				in_string = false;
			} else if (c < 0x20) {
				if (buf_append(out, v + run, i - run) < 0 || json_append_control(out, c) < 0)
					return -1;
				run = i + 1;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (buf_append(out, v + run, i - run) < 0)
				return -1;
			run = i + 1;
		}
	}
	return buf_append(out, v + run, len - run);
}

int json_lazy_write_pending(lua_State *L, int idx, struct buf *out, bool *first)
{
	idx = lua_absindex(L, idx);
	int top = lua_gettop(L);
	if (!lua_getmetatable(L, idx))                                  /* mt */
		return 0;
	lua_rawgeti(L, -1, 1);                                          /* mt text */
	size_t tlen;
	const char *text = lua_tolstring(L, -1, &tlen);
	lua_rawgeti(L, -2, 2);                                          /* mt text p */
	int rc = 0;
	lua_pushnil(L);
	while (rc == 0 && lua_next(L, -2)) {                            /* mt text p k off */
		lua_Integer place = lua_tointeger(L, -1);
		size_t off = JSON_PENDING_OFF(place), len = JSON_PENDING_LEN(place), klen;
		lua_pop(L, 1);                                          /* mt text p k */
		lua_pushvalue(L, -1);
		bool set = lua_rawget(L, idx) != LUA_TNIL;              /* mt text p k cur */
		lua_pop(L, 1);
		if (set || !text || off + len > tlen)
			continue;
		const char *k = lua_tolstring(L, -1, &klen);
		if ((!*first && buf_putc(out, ',') < 0) || json_append_string(out, k, klen) < 0 ||
		    buf_putc(out, ':') < 0 || append_value(out, text + off, len) < 0)
			rc = -1;
		*first = false;
	}
	lua_settop(L, top);
	return rc;
}

#define SPLICE_MAX_KEYS 32
#define KEY_SCRATCH "herald.json.scratch"

static int scratch_gc(lua_State *L)
{
	buf_free(lua_touserdata(L, 1));
	return 0;
}

struct buf *json_scratch(lua_State *L, const char *key)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, key) != LUA_TUSERDATA) { /* nil */
		lua_pop(L, 1);
		struct buf *b = lua_newuserdatauv(L, sizeof(*b), 0);    /* b */
		*b = (struct buf)BUF_INIT;
		lua_createtable(L, 0, 1);
		lua_pushcfunction(L, scratch_gc);
		lua_setfield(L, -2, "__gc");
		lua_setmetatable(L, -2);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, key);                /* b */
	}
	struct buf *b = lua_touserdata(L, -1);
	lua_pop(L, 1);
	buf_reset(b);
	return b;
}

const struct buf *json_spliced(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_SCRATCH);
	const struct buf *b = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return b && b->data ? b : NULL;
}

int json_splice(lua_State *L, int ev, int keys_idx, const struct buf **result)
{
	ev = lua_absindex(L, ev);
	keys_idx = lua_absindex(L, keys_idx);
	int top = lua_gettop(L), rc = 0;
	if (!lua_istable(L, ev) || !lua_istable(L, keys_idx) || json_mt_of(L, ev) != JSON_MT_OBJECT)
		return 0;
	struct { const char *s; size_t len; } keys[SPLICE_MAX_KEYS];
	size_t nkeys = lua_rawlen(L, keys_idx);
	if (nkeys > SPLICE_MAX_KEYS)
		return 0;
	for (size_t i = 0; i < nkeys; i++) {
		lua_rawgeti(L, keys_idx, (lua_Integer)i + 1);           /* ... k (stays) */
		if (!(keys[i].s = lua_tolstring(L, -1, &keys[i].len)))
			goto done;
	}
	lua_getmetatable(L, ev);                                        /* ... mt */
	int mt = lua_gettop(L);
	lua_rawgeti(L, mt, 1);
	lua_rawgeti(L, mt, 2);
	lua_rawgeti(L, mt, 3);                                          /* ... mt text from to */
	size_t tlen;
	const char *text = lua_tolstring(L, -3, &tlen);
	size_t from = (size_t)lua_tointeger(L, -2), to = (size_t)lua_tointeger(L, -1);
	if (!text || from >= to || to > tlen || text[from] != '{')
		goto done;
	struct buf *out = json_scratch(L, KEY_SCRATCH);
	if (buf_reserve(out, to - from + 256) < 0 || buf_putc(out, '{') < 0)
		goto oom;
	bool first = true, clean = !scan_has_control(text + from, text + to);
	size_t nspans = lua_rawlen(L, mt) - 3;  /* the members' places, when the decoder kept them */
	struct json_walk w;
	json_walk_init(&w, text + from, to - from);
	for (size_t i = 0;; i++) {
		struct json_member m;
		if (nspans) {
			if (i == nspans)
				break;
			lua_rawgeti(L, mt, (lua_Integer)(4 + i));
			uint64_t sp = (uint64_t)lua_tointeger(L, -1);
			lua_pop(L, 1);
			m.start = text + JSON_SPAN_FROM(sp);
			m.end = text + JSON_SPAN_TO(sp);
			m.key = m.start + 1;
			m.key_escaped = JSON_SPAN_ESCAPED(sp);
			m.key_len = m.key_escaped ? 0 : (size_t)((const char *)memchr(m.key, '"', (size_t)(m.end - m.key)) - m.key);
		} else {
			int walked = json_walk_next(&w, &m);
			if (walked < 0)  /* validated when decoded: cannot happen */
				goto done;
			if (walked == 0)
				break;
		}
		if (m.key_escaped)
			goto done;
		bool replaced = false;
		for (size_t k = 0; k < nkeys && !replaced; k++)
			replaced = keys[k].len == m.key_len && memcmp(keys[k].s, m.key, m.key_len) == 0;
		if (replaced)
			continue;
		if ((!first && buf_putc(out, ',') < 0) ||
		    (clean ? buf_append(out, m.start, (size_t)(m.end - m.start)) :
			     append_value(out, m.start, (size_t)(m.end - m.start))) < 0)
			goto oom;
		first = false;
	}
	for (size_t i = 0; i < nkeys; i++) {
		lua_pushlstring(L, keys[i].s, keys[i].len);
		if (lua_rawget(L, ev) != LUA_TNIL) {                    /* ... v */
			char err[256];
			if ((!first && buf_putc(out, ',') < 0) ||
			    json_append_string(out, keys[i].s, keys[i].len) < 0 || buf_putc(out, ':') < 0)
				goto oom;
			if (json_encode(L, -1, out, err, sizeof(err)) < 0) {
				lua_settop(L, top);
				lua_pushstring(L, err);
				return -1;
			}
			first = false;
		}
		lua_pop(L, 1);
	}
	if (buf_putc(out, '}') < 0)
		goto oom;
	*result = out;
	rc = 1;
done:
	lua_settop(L, top);
	return rc;
oom:
	lua_settop(L, top);
	return luaL_error(L, "not enough memory");
}

/* json.splice(ev, keys) -> text | nil[, err] (json_splice) */
int json_l_splice(lua_State *L)
{
	const struct buf *out;
	int rc = json_splice(L, 1, 2, &out);
	if (rc > 0) {
		lua_pushlstring(L, out->data, out->len);
		return 1;
	}
	lua_pushnil(L);
	if (rc < 0) {
		lua_insert(L, -2);
		return 2;
	}
	return 1;
}
