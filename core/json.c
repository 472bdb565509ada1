/* json: decode through lua-cjson, encode here. Owns the registry entries
 * herald.json.decode (cjson's decoder), herald.json.null and
 * herald.json.array_mt. Never logs; callers report errors. */
#include "json.h"

#include <lauxlib.h>
#include <lua-cjson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define KEY_DECODE "herald.json.decode"
#define KEY_NULL "herald.json.null"
#define KEY_ARRAY_MT "herald.json.array_mt"
#define MAX_DEPTH 100

/* The key that stands in for an empty array while cjson decodes. It holds
 * the byte 0xFF, which no UTF-8 text holds and no JSON escape produces;
 * mark_empty_arrays() rewrites any raw 0xFF inside the input's strings to
 * U+FFFD, so no key of a record can equal it. */
static const char ARRAY_MARK[] = "\xff[]";
static const char REPLACEMENT[] = "\\ufffd";  /* JSON text of U+FFFD */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Rewrites every [] outside strings to {"<mark>":0}, and every raw 0xFF
 * byte inside strings to \ufffd (it is not UTF-8, and only the mark may
 * hold it). Returns 1 when it rewrote anything (out holds the text), 0
 * when there was nothing to rewrite, -1 when out of memory. */
static int mark_empty_arrays(const char *s, size_t len, struct buf *out)
{
	bool in_string = false, escape = false, found = false;
	size_t copied = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (escape)
				escape = false;
			else if (c == '\\')
				escape = true;
			else if (c == '"')
				in_string = false;
			else if ((unsigned char)c == 0xFF) {
				found = true;
				if (buf_append(out, s + copied, i - copied) < 0 ||
				    buf_append(out, REPLACEMENT, sizeof(REPLACEMENT) - 1) < 0)
					return -1;
				copied = i + 1;
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
			continue;
		}
		if (c != '[')
			continue;
		size_t j = i + 1;
		while (j < len && is_space(s[j]))
			j++;
		if (j >= len || s[j] != ']')
			continue;
		found = true;
		if (buf_append(out, s + copied, i - copied) < 0 ||
		    buf_printf(out, "{\"%s\":0}", ARRAY_MARK) < 0)
			return -1;
		copied = j + 1;
		i = j;
	}
	if (!found)
		return 0;
	if (buf_append(out, s + copied, len - copied) < 0)
		return -1;
	return 1;
}

/* Walks the decoded value at the top of the stack, turning marked tables
 * into empty arrays. Each level takes three stack slots, checked: the
 * value can be as deep as cjson allows (MAX_DEPTH). -1 when the stack
 * cannot grow. */
static int unmark(lua_State *L, int depth)
{
	if (depth > MAX_DEPTH || lua_type(L, -1) != LUA_TTABLE)
		return 0;
	if (!lua_checkstack(L, 3))
		return -1;
	lua_pushlstring(L, ARRAY_MARK, sizeof(ARRAY_MARK) - 1);       /* t mark */
	if (lua_rawget(L, -2) != LUA_TNIL) {                            /* t v */
		lua_pop(L, 1);                                          /* t */
		lua_pushlstring(L, ARRAY_MARK, sizeof(ARRAY_MARK) - 1); /* t mark */
		lua_pushnil(L);                                         /* t mark nil */
		lua_rawset(L, -3);                                      /* t */
		lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);       /* t mt */
		lua_setmetatable(L, -2);                                /* t */
		return 0;
	}
	lua_pop(L, 1);                                                  /* t */
	lua_pushnil(L);                                                 /* t nil */
	while (lua_next(L, -2)) {                                       /* t k v */
		if (unmark(L, depth + 1) < 0) {
			lua_pop(L, 2);                                  /* t */
			return -1;
		}
		lua_pop(L, 1);                                          /* t k */
	}
	return 0;
}

int json_decode(lua_State *L, const char *text, size_t len, bool has_empty_array,
		char *err, size_t errlen)
{
	struct buf marked = BUF_INIT;
	int rewritten = has_empty_array ? mark_empty_arrays(text, len, &marked) : 0;
	if (rewritten < 0) {
		snprintf(err, errlen, "out of memory");
		buf_free(&marked);
		return -1;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_DECODE);                 /* decode */
	if (rewritten)
		lua_pushlstring(L, marked.data, marked.len);            /* decode text */
	else
		lua_pushlstring(L, text, len);
	buf_free(&marked);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {                         /* value | msg */
		const char *msg = lua_tostring(L, -1);
		snprintf(err, errlen, "%s", msg ? msg : "invalid JSON");
		lua_pop(L, 1);
		return -1;
	}
	if (rewritten && unmark(L, 0) < 0) {
		lua_pop(L, 1);
		snprintf(err, errlen, "nested too deep");
		return -1;
	}
	return 0;
}

/* Bytes a JSON string cannot hold as they are. */
static const unsigned char needs_escape[256] = {
	[0x00 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x7F] = 1,
};

int json_append_string(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_reserve(out, len + 2) < 0 || buf_putc(out, '"') < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!needs_escape[c])
			continue;
		if (buf_append(out, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		char esc[7] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			n = 6;
		}
		if (buf_append(out, esc, n) < 0)
			return -1;
	}
	if (buf_append(out, s + run, len - run) < 0 || buf_putc(out, '"') < 0)
		return -1;
	return 0;
}

struct encoder {
	lua_State *L;
	struct buf *out;
	char *err;
	size_t errlen;
};

static int encode_value(struct encoder *e, int idx, int depth);

static int fail(struct encoder *e, const char *msg)
{
	snprintf(e->err, e->errlen, "%s", msg);
	return -1;
}

static int encode_number(struct encoder *e, int idx)
{
	lua_State *L = e->L;
	if (lua_isinteger(L, idx))
		return buf_printf(e->out, "%lld", (long long)lua_tointeger(L, idx));
	double d = lua_tonumber(L, idx);
	if (!isfinite(d))
		return fail(e, isnan(d) ? "cannot encode NaN" : "cannot encode an infinite number");
	if (d == floor(d) && fabs(d) < 1e15)
		return buf_printf(e->out, "%.0f", d);
	return buf_printf(e->out, "%.14g", d);
}

/* Is the table at idx an array? Marked tables are; unmarked ones are when
 * their keys are exactly 1..n. Empty unmarked tables are objects. */
static int table_kind(struct encoder *e, int idx, size_t *n)
{
	lua_State *L = e->L;
	*n = lua_rawlen(L, idx);
	if (lua_getmetatable(L, idx)) {                                 /* mt */
		lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);       /* mt array_mt */
		bool marked = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
		if (marked)
			return 1;
	}
	size_t count = 0;
	bool strings = false, numbers = false, sparse = false;
	lua_pushnil(L);
	while (lua_next(L, idx)) {                                      /* k v */
		lua_pop(L, 1);                                          /* k */
		if (lua_type(L, -1) == LUA_TSTRING) {
			strings = true;
		} else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
			numbers = true;
			sparse = sparse || (size_t)lua_tointeger(L, -1) > *n;
		} else {
			lua_pop(L, 1);
			return fail(e, "cannot encode a table with keys that are neither strings nor 1..n");
		}
		count++;
	}
	if (strings && numbers)
		return fail(e, "cannot encode a table with both string keys and array items");
	if (numbers && (sparse || count != *n))
		return fail(e, "cannot encode a sparse array (holes between 1 and n)");
	return numbers ? 1 : 0;
}

static int encode_table(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	if (depth > MAX_DEPTH)
		return fail(e, "cannot encode: nested too deep (a cycle?)");
	if (!lua_checkstack(L, 4))
		return fail(e, "cannot encode: out of stack");
	size_t n;
	int kind = table_kind(e, idx, &n);
	if (kind < 0)
		return -1;
	if (kind == 1) {
		if (buf_putc(e->out, '[') < 0)
			return -1;
		for (size_t i = 1; i <= n; i++) {
			if (i > 1 && buf_putc(e->out, ',') < 0)
				return -1;
			lua_rawgeti(L, idx, (lua_Integer)i);
			int rc = encode_value(e, lua_gettop(L), depth + 1);
			lua_pop(L, 1);
			if (rc < 0)
				return -1;
		}
		return buf_putc(e->out, ']');
	}
	if (buf_putc(e->out, '{') < 0)
		return -1;
	bool first = true;
	lua_pushnil(L);
	while (lua_next(L, idx)) {                                      /* k v */
		size_t klen;
		const char *k = lua_tolstring(L, -2, &klen);
		if ((!first && buf_putc(e->out, ',') < 0) ||
		    json_append_string(e->out, k, klen) < 0 || buf_putc(e->out, ':') < 0 ||
		    encode_value(e, lua_gettop(L), depth + 1) < 0) {
			lua_pop(L, 2);
			return -1;
		}
		first = false;
		lua_pop(L, 1);                                          /* k */
	}
	return buf_putc(e->out, '}');
}

static int encode_value(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return buf_append(e->out, "null", 4);
	case LUA_TBOOLEAN:
		return lua_toboolean(L, idx) ? buf_append(e->out, "true", 4)
					     : buf_append(e->out, "false", 5);
	case LUA_TNUMBER:
		return encode_number(e, idx);
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		return json_append_string(e->out, s, len);
	}
	case LUA_TTABLE:
		return encode_table(e, idx, depth);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == NULL)
			return buf_append(e->out, "null", 4);
		/* fall through */
	default:
		snprintf(e->err, e->errlen, "cannot encode a %s", luaL_typename(L, idx));
		return -1;
	}
}

int json_encode(lua_State *L, int idx, struct buf *out, char *err, size_t errlen)
{
	struct encoder e = { L, out, err, errlen };
	size_t mark = out->len;
	int rc = encode_value(&e, lua_absindex(L, idx), 0);
	if (rc < 0)
		out->len = mark;
	return rc;
}

static int l_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	/* The caller may know whether the text holds []; else look for '['. */
	bool has_empty_array = lua_isboolean(L, 2) ? lua_toboolean(L, 2)
						   : memchr(s, '[', len) != NULL;
	char err[256];
	if (json_decode(L, s, len, has_empty_array, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	return 1;
}

static int l_encode(lua_State *L)
{
	luaL_checkany(L, 1);
	struct buf out = BUF_INIT;
	char err[256];
	if (json_encode(L, 1, &out, err, sizeof(err)) < 0) {
		buf_free(&out);
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushlstring(L, out.data ? out.data : "", out.len);
	buf_free(&out);
	return 1;
}

static int l_array(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
	lua_setmetatable(L, 1);
	return 1;
}

static int l_is_array(lua_State *L)
{
	bool marked = false;
	if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
		lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
		marked = lua_rawequal(L, -1, -2);
	}
	lua_pushboolean(L, marked);
	return 1;
}

int json_open(lua_State *L)
{
	luaopen_cjson(L);                                               /* cjson */
	lua_getfield(L, -1, "decode_invalid_numbers");
	lua_pushboolean(L, 0);
	lua_call(L, 1, 0);
	lua_getfield(L, -1, "decode_max_depth");
	lua_pushinteger(L, MAX_DEPTH);
	lua_call(L, 1, 0);
	lua_getfield(L, -1, "decode");
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_DECODE);
	lua_getfield(L, -1, "null");
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_NULL);
	lua_pop(L, 1);                                                  /* */

	lua_newtable(L);                                                /* array_mt */
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__name");
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);

	static const luaL_Reg fns[] = {
		{ "decode", l_decode }, { "encode", l_encode },
		{ "array", l_array }, { "is_array", l_is_array }, { NULL, NULL },
	};
	luaL_newlib(L, fns);                                            /* json */
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_NULL);
	lua_setfield(L, -2, "null");
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
	lua_setfield(L, -2, "array_mt");
	return 1;
}
