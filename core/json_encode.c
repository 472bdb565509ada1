/* json_encode: Lua values -> JSON text, and the string helpers the rest of
 * herald writes JSON with. Never logs; callers report errors. A lazy table
 * (json_lazy.c) is written with its undecoded members as they came. */
#include "json.h"
#include "json_impl.h"
#include "scan.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int json_shrink_strings(const char *s, size_t len, size_t max, struct buf *out)
{
	size_t copied = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"')
			continue;
		size_t j = i + 1;
		while (j < len && s[j] != '"')
			j += s[j] == '\\' ? 2 : 1;
		if (j > len)
			j = len;
		if (j - (i + 1) > max) {
			if (buf_append(out, s + copied, i + 1 - copied) < 0 || buf_reserve(out, max + 1) < 0)
				return -1;
			memset(out->data + out->len, '.', max + 1);
			out->len += max + 1;
			out->data[out->len] = '\0';
			copied = j;
		}
		i = j;
	}
	return buf_append(out, s + copied, len - copied);
}

/* The escape of one byte a JSON string cannot hold as it is. */
static size_t escape_of(unsigned char c, char esc[7])
{
	static const char hex[] = "0123456789abcdef";
	esc[0] = '\\';
	switch (c) {
	case '"': esc[1] = '"'; return 2;
	case '\\': esc[1] = '\\'; return 2;
	case '\n': esc[1] = 'n'; return 2;
	case '\r': esc[1] = 'r'; return 2;
	case '\t': esc[1] = 't'; return 2;
	case '\b': esc[1] = 'b'; return 2;
	case '\f': esc[1] = 'f'; return 2;
	default:
		esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
		esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
		return 6;
	}
}

int json_append_control(struct buf *out, unsigned char c)
{
	char esc[7];
	return buf_append(out, esc, escape_of(c, esc));
}

int json_append_string(struct buf *out, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	if (buf_reserve(out, len + 2) < 0)
		return -1;
	out->data[out->len++] = '"';
	for (;;) {
		const char *q = scan_escape(p, end);   /* runs copied whole, into reserved room */
		memcpy(out->data + out->len, p, (size_t)(q - p));
		out->len += (size_t)(q - p);
		if (q == end)
			break;
		char esc[7];
		size_t n = escape_of((unsigned char)*q, esc);
		p = q + 1;
		if (buf_reserve(out, n + (size_t)(end - p) + 1) < 0)
			return -1;
		memcpy(out->data + out->len, esc, n);
		out->len += n;
	}
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
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
	if (d == floor(d) && fabs(d) < 9.2e18)   /* a whole number: its digits, exactly */
		return buf_printf(e->out, "%.0f", d);
	/* the shortest of 14 to 17 significant digits that reads back as d */
	char text[32];
	for (int digits = 14; digits < 17; digits++) {
		snprintf(text, sizeof(text), "%.*g", digits, d);
		if (strtod(text, NULL) == d)
			return buf_append(e->out, text, strlen(text));
	}
	return buf_printf(e->out, "%.17g", d);
}

/* Is the table at idx an array? Marked tables are; unmarked ones are when
 * their keys are exactly 1..n. Empty unmarked tables are objects. */
static int table_kind(struct encoder *e, int idx, size_t *n)
{
	lua_State *L = e->L;
	*n = lua_rawlen(L, idx);
	if (lua_getmetatable(L, idx)) {                                 /* mt */
		lua_getfield(L, LUA_REGISTRYINDEX, JSON_KEY_ARRAY_MT);       /* mt array_mt */
		bool marked = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
		if (marked)
			return 1;
	}
	if (*n == 0) {  /* a string key first: an object (encode_table checks the rest) */
		lua_pushnil(L);
		if (!lua_next(L, idx))
			return 0;
		bool object = lua_type(L, -2) == LUA_TSTRING;
		lua_pop(L, 2);
		if (object)
			return 0;
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
	if (depth > JSON_MAX_DEPTH)
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
		if (lua_type(L, -2) != LUA_TSTRING) {
			bool item = lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1;
			lua_pop(L, 2);
			return fail(e, item ? "cannot encode a table with both string keys and array items" :
				    "cannot encode a table with keys that are neither strings nor 1..n");
		}
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
	if (json_mt_of(L, idx) == JSON_MT_LAZY && json_lazy_write_pending(L, idx, e->out, &first) < 0)
		return fail(e, "cannot encode: out of memory");
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

int json_l_encode(lua_State *L)
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

