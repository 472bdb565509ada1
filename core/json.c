/* json: the decoder, JSON text -> Lua values (encoding is json_encode.c,
 * the library table json_lib.c, the lazy decode's parts json_lazydec.c).
 * Never logs; callers report errors.
 *
 * The decoder keeps everything it builds on the Lua stack (strings with
 * escapes in a scratch userdata), so a memory budget that stops it mid-way
 * leaves nothing behind; lua-cjson's decoder leaked its scratch buffer
 * (the size of the text) whenever that happened. */
#include "json.h"
#include "json_impl.h"
#include "json_decoder.h"
#include "scan.h"

#include <lauxlib.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_ARRAY_MT JSON_KEY_ARRAY_MT
#define MAX_DEPTH JSON_MAX_DEPTH

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
	while ((s = scan_string(s, d->end, false)) < d->end && *s != '"') {
		escapes = true;   /* a backslash: it and the byte it escapes */
		s += 2;
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
		int cp = end - d->p >= 6 ? json_hex4(d->p + 2) : -1;
		if (cp < 0)
			return scratch_fail(d, "invalid \\u escape");
		d->p += 6;
		unsigned long code = (unsigned long)cp;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return scratch_fail(d, "lone low surrogate in a \\u escape");
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			int lo = end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u' ? json_hex4(d->p + 2) : -1;
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
	bool exponent;
	const char *s = d->p, *q = json_number_grammar(s, d->end, &exponent);
	if (!q)
		return dec_fail(d, "invalid number");
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

static int dec_value(struct decoder *d, int depth, enum mode mode);

/* d->p is past a key's opening quote: pushes the key, its kept string
 * when it is a known one. */
static int dec_key(struct decoder *d)
{
	if (d->keys) {
		const char *q = memchr(d->p, '"', (size_t)(d->end - d->p));
		int i = q && q - d->p < 32 && !memchr(d->p, '\\', (size_t)(q - d->p)) ?
			json_known_key(d->p, (size_t)(q - d->p)) : 0;
		if (i) {
			lua_rawgeti(d->L, d->keys, i);
			d->p = q + 1;
			return 0;
		}
	}
	return dec_string(d);
}

/* d->p is past the '[' or '{'. Pushes the table. */
static int dec_container(struct decoder *d, bool object, int depth, enum mode mode)
{
	lua_State *L = d->L;
	if (depth >= MAX_DEPTH)
		return dec_fail(d, "nested too deep (over %d levels)", MAX_DEPTH);
	if (!lua_checkstack(L, 8))
		return dec_fail(d, "out of stack");
	const char *open = d->p - 1;
	/* Lazily decoded Kubernetes objects have about 16 members, their
	 * metadata about 8 (what is left): sized once, not grown. */
	lua_createtable(L, 0, mode == M_PLAIN || !object ? 0 : mode == M_META ? 8 : 16); /* t */
	int t = lua_gettop(L), pending = 0, base = d->nspans, keys_base = d->keys_seen.n;
	bool spans = object && mode == M_LAZY, keys = object && mode != M_PLAIN;
	bool k8s = false;
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
			const char *member = d->p++;
			if (dec_key(d) < 0)                             /* t [p] k */
				goto fail;
			bool escaped = memchr(member, '\\', (size_t)(d->p - member)) != NULL;
			/* a key twice, or escaped: its text would not read as the table does */
			if (keys && !json_keys_note(&d->keys_seen, keys_base, member + 1, (size_t)(d->p - member - 2)))
				d->odd = true;
			skip_space(d);
			if (d->p >= d->end || *d->p != ':') {
				lua_pop(L, 1);
				dec_fail(d, "expected ':' after an object key");
				goto fail;
			}
			d->p++;
			skip_space(d);
			if (mode == M_META && d->p < d->end && (*d->p == '{' || *d->p == '[')) {
				if (json_dec_defer_member(d, depth, t, &pending) < 0)
					goto fail;
			} else {
				enum mode child = json_dec_child_mode(L, mode, depth, &k8s, d->p < d->end ? d->p : "");
				if (dec_value(d, depth + 1, child) < 0) { /* t [p] k v */
					lua_pop(L, 1);
					goto fail;
				}
				if (pending) {  /* a later member of a pending name wins */
					lua_pushvalue(L, -2);
					lua_pushnil(L);
					lua_rawset(L, pending);
				}
				lua_rawset(L, t);                       /* t [p] */
			}
			if (spans && d->nspans < (int)(sizeof(d->spans) / sizeof(*d->spans)))
				d->spans[d->nspans++] = JSON_SPAN(member - d->start, d->p - d->start, escaped);
			else if (spans)
				d->spans_full = true;
		} else if (mode == M_ITEMS && d->covered && (skip_space(d), d->p < d->end) && *d->p == '{') {
			int c = json_dec_covered_item(d, depth + 1);
			if (c < 0)
				goto fail;
			if (c)
				lua_pushboolean(L, 0);                  /* t false */
			else if (dec_value(d, depth + 1, M_LAZY) < 0)   /* t v */
				goto fail;
			lua_rawseti(L, t, n);                           /* t */
		} else {
			if (dec_value(d, depth + 1, mode == M_PLAIN ? M_PLAIN : M_LAZY) < 0) /* t v */
				goto fail;
			lua_rawseti(L, t, n);                           /* t */
		}
		skip_space(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == close) {
			d->p++;
			break;
		}
		dec_fail(d, object ? "expected ',' or '}'" : "expected ',' or ']'");
		goto fail;
	}
	if (pending) {
		json_lazy_push_mt(L, d->text, pending);                 /* t p mt */
		lua_setmetatable(L, t);
		lua_pop(L, 1);                                          /* t */
	}
	if (k8s)
		json_dec_object_mt(d, open, base);
	d->nspans = base;
	d->keys_seen.n = keys_base;
	return 0;
fail_msg_key:
	dec_fail(d, "expected a string key");
fail:
	d->nspans = base;
	d->keys_seen.n = keys_base;
	lua_settop(L, t - 1);                                           /* */
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
static int dec_value(struct decoder *d, int depth, enum mode mode)
{
	skip_space(d);
	if (d->p >= d->end)
		return dec_fail(d, "expected a value");
	switch (*d->p) {
	case '{':
	case '[':
		d->p++;
		return dec_container(d, d->p[-1] == '{', depth, mode);
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

/* Decodes the whole text as one value (d set up by the caller). */
int json_decode_all(struct decoder *d, enum mode mode)
{
	if (!lua_checkstack(d->L, 4)) {
		snprintf(d->err, d->errlen, "out of stack");
		return -1;
	}
	if (dec_value(d, 0, mode) < 0)
		return -1;
	skip_space(d);
	if (d->p < d->end) {
		lua_pop(d->L, 1);
		return dec_fail(d, "unexpected text after the value");
	}
	return 0;
}

int json_decode(lua_State *L, const char *text, size_t len, bool has_empty_array,
		char *err, size_t errlen)
{
	(void)has_empty_array; /* a hint lua-cjson needed; every [] is known now */
	struct decoder d = { .L = L, .start = text, .p = text, .end = text + len, .err = err, .errlen = errlen };
	return json_decode_all(&d, M_PLAIN);
}

int json_dec_value(struct decoder *d, int depth, enum mode mode)
{
	return dec_value(d, depth, mode);
}
