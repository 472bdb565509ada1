/* json: JSON text <-> Lua values, both ways here. Owns the registry entry
 * herald.json.array_mt. Never logs; callers report errors.
 *
 * The decoder keeps everything it builds on the Lua stack (strings with
 * escapes in a scratch userdata), so a memory budget that stops it mid-way
 * leaves nothing behind; lua-cjson's decoder leaked its scratch buffer
 * (the size of the text) whenever that happened. */
#include "json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_ARRAY_MT "herald.json.array_mt"
#define MAX_DEPTH 100

struct decoder {
	lua_State *L;
	const char *start, *p, *end;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int dec_fail(struct decoder *d, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (d->p >= d->end)
		snprintf(d->err, d->errlen, "%s at the end of the text", what);
	else
		snprintf(d->err, d->errlen, "%s at byte %zu", what, (size_t)(d->p - d->start) + 1);
	return -1;
}

static void skip_space(struct decoder *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int hex4(const char *p)
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

/* dec_fail for dec_string once its scratch is on the stack: pops it. */
#define scratch_fail(d, ...) (lua_pop((d)->L, 1), dec_fail((d), __VA_ARGS__))

/* Writes cp as UTF-8 at out; returns the bytes written (1..4). */
static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* d->p is just past the opening quote. Pushes the string. A string with
 * escapes is decoded into a scratch userdata as long as its text (escapes
 * only shrink), which the GC reclaims whatever happens. */
static int dec_string(struct decoder *d)
{
	const char *s = d->p;
	bool escapes = false;
	while (s < d->end && *s != '"') {
		if (*s == '\\') {
			escapes = true;
			s++;
		}
		s++;
	}
	if (s >= d->end) {
		d->p = d->end;
		return dec_fail(d, "unterminated string");
	}
	if (!escapes) {
		lua_pushlstring(d->L, d->p, (size_t)(s - d->p));        /* str */
		d->p = s + 1;
		return 0;
	}
	const char *end = s;                                            /* the closing quote */
	char *out = lua_newuserdatauv(d->L, (size_t)(end - d->p), 0);   /* scratch */
	size_t n = 0;
	while (d->p < end) {
		if (*d->p != '\\') {
			out[n++] = *d->p++;
			continue;
		}
		char c = d->p[1];
		const char *simple = strchr("\"\\/bfnrt", c);
		if (c && simple) {
			static const char unescaped[] = "\"\\/\b\f\n\r\t";
			out[n++] = unescaped[simple - "\"\\/bfnrt"];
			d->p += 2;
			continue;
		}
		if (c != 'u')
			return scratch_fail(d, "invalid escape in a string");
		int cp = end - d->p >= 6 ? hex4(d->p + 2) : -1;
		if (cp < 0)
			return scratch_fail(d, "invalid \\u escape");
		d->p += 6;
		unsigned long code = (unsigned long)cp;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return scratch_fail(d, "lone low surrogate in a \\u escape");
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			int lo = end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u' ? hex4(d->p + 2) : -1;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return scratch_fail(d, "lone high surrogate in a \\u escape");
			code = 0x10000 + (((unsigned long)cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
			d->p += 6;
		}
		n += put_utf8(out + n, code);
	}
	d->p = end + 1;
	lua_pushlstring(d->L, out, n);                                  /* scratch str */
	lua_remove(d->L, -2);                                           /* str */
	return 0;
}

/* JSON's number grammar, then strtod; every number is a float, as with
 * lua-cjson before. One past a double's range (1e999) is an error: no
 * JSON writer can give it back. */
static int dec_number(struct decoder *d)
{
	const char *s = d->p, *q = s;
	if (q < d->end && *q == '-')
		q++;
	if (q < d->end && *q == '0')
		q++;
	else if (q < d->end && *q >= '1' && *q <= '9')
		while (q < d->end && *q >= '0' && *q <= '9')
			q++;
	else
		return dec_fail(d, "invalid number");
	if (q < d->end && *q == '.') {
		const char *digits = ++q;
		while (q < d->end && *q >= '0' && *q <= '9')
			q++;
		if (q == digits)
			return dec_fail(d, "invalid number");
	}
	if (q < d->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < d->end && (*q == '+' || *q == '-'))
			q++;
		const char *digits = q;
		while (q < d->end && *q >= '0' && *q <= '9')
			q++;
		if (q == digits)
			return dec_fail(d, "invalid number");
	}
	char text[128];
	if ((size_t)(q - s) >= sizeof(text))
		return dec_fail(d, "number too long");
	memcpy(text, s, (size_t)(q - s));
	text[q - s] = '\0';
	double v = strtod(text, NULL);
	if (!isfinite(v))
		return dec_fail(d, "number out of range");
	lua_pushnumber(d->L, v);                                        /* n */
	d->p = q;
	return 0;
}

static int dec_value(struct decoder *d, int depth);

/* d->p is past the '[' or '{'. Pushes the table. */
static int dec_container(struct decoder *d, bool object, int depth)
{
	lua_State *L = d->L;
	if (depth >= MAX_DEPTH)
		return dec_fail(d, "nested too deep (over %d levels)", MAX_DEPTH);
	if (!lua_checkstack(L, 4))
		return dec_fail(d, "out of stack");
	lua_newtable(L);                                                /* t */
	char close = object ? '}' : ']';
	skip_space(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		if (!object) {
			lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);       /* t mt */
			lua_setmetatable(L, -2);                        /* t */
		}
		return 0;
	}
	for (lua_Integer n = 1;; n++) {
		if (object) {
			skip_space(d);
			if (d->p >= d->end || *d->p != '"')
				goto fail_msg_key;
			d->p++;
			if (dec_string(d) < 0)                          /* t k */
				goto fail;
			skip_space(d);
			if (d->p >= d->end || *d->p != ':') {
				lua_pop(L, 1);
				dec_fail(d, "expected ':' after an object key");
				goto fail;
			}
			d->p++;
			if (dec_value(d, depth + 1) < 0) {              /* t k v */
				lua_pop(L, 1);
				goto fail;
			}
			lua_rawset(L, -3);                              /* t */
		} else {
			if (dec_value(d, depth + 1) < 0)                /* t v */
				goto fail;
			lua_rawseti(L, -2, n);                          /* t */
		}
		skip_space(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == close) {
			d->p++;
			return 0;
		}
		dec_fail(d, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto fail;
	}
fail_msg_key:
	dec_fail(d, "expected a string key");
fail:
	lua_pop(L, 1);                                                  /* */
	return -1;
}

static bool literal(struct decoder *d, const char *word, size_t len)
{
	if ((size_t)(d->end - d->p) < len || memcmp(d->p, word, len) != 0)
		return false;
	d->p += len;
	return true;
}

/* Pushes the value at d->p; -1 (nothing pushed) with the error set. */
static int dec_value(struct decoder *d, int depth)
{
	skip_space(d);
	if (d->p >= d->end)
		return dec_fail(d, "expected a value");
	switch (*d->p) {
	case '{':
	case '[':
		d->p++;
		return dec_container(d, d->p[-1] == '{', depth);
	case '"':
		d->p++;
		return dec_string(d);
	case 't':
		if (!literal(d, "true", 4))
			break;
		lua_pushboolean(d->L, 1);
		return 0;
	case 'f':
		if (!literal(d, "false", 5))
			break;
		lua_pushboolean(d->L, 0);
		return 0;
	case 'n':
		if (!literal(d, "null", 4))
			break;
		lua_pushlightuserdata(d->L, NULL);                      /* json.null */
		return 0;
	default:
		if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
			return dec_number(d);
	}
	return dec_fail(d, "expected a value");
}

int json_decode(lua_State *L, const char *text, size_t len, bool has_empty_array,
		char *err, size_t errlen)
{
	(void)has_empty_array; /* a hint lua-cjson needed; every [] is known now */
	struct decoder d = { L, text, text, text + len, err, errlen };
	if (!lua_checkstack(L, 4)) {
		snprintf(err, errlen, "out of stack");
		return -1;
	}
	if (dec_value(&d, 0) < 0)
		return -1;
	skip_space(&d);
	if (d.p < d.end) {
		lua_pop(L, 1);
		return dec_fail(&d, "unexpected text after the value");
	}
	return 0;
}

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
	char err[256];
	lua_settop(L, 1); /* a second argument (lua-cjson's [] hint) is ignored */
	if (json_decode(L, s, len, true, err, sizeof(err)) < 0) {
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
	lua_newtable(L);                                                /* array_mt */
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__name");
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);               /* */

	static const luaL_Reg fns[] = {
		{ "decode", l_decode }, { "encode", l_encode },
		{ "array", l_array }, { "is_array", l_is_array }, { NULL, NULL },
	};
	luaL_newlib(L, fns);                                            /* json */
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
	lua_setfield(L, -2, "array_mt");
	return 1;
}
