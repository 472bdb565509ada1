/* leasejson: reads and writes Lease objects with a small JSON scanner of
 * its own. Owns nothing beyond the caller's buffers; never logs (callers
 * report errors and count them). Must not grow into a general JSON
 * library: core/json.c is that, for Lua values. */
#include "leasejson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 32

struct scan {
	const char *p, *end;
	char *err;
	size_t errlen;
};

static int fail(struct scan *s, const char *what)
{
	if (s->err && s->errlen)
		snprintf(s->err, s->errlen, "%s", what);
	return -1;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool eat(struct scan *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static bool eat_word(struct scan *s, const char *w)
{
	size_t n = strlen(w);
	skip_ws(s);
	if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
		s->p += n;
		return true;
	}
	return false;
}

static int put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
	char b[4];
	size_t k;
	if (cp < 0x80) {
		b[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		k = 4;
	}
	if (out) {
		if (*n + k >= cap)
			return -1;
		memcpy(out + *n, b, k);
	}
	*n += k;
	return 0;
}

static int hex4(struct scan *s, unsigned *v)
{
	if (s->end - s->p < 4)
		return -1;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s->p[i];
		int d = isdigit((unsigned char)c) ? c - '0'
			: (c >= 'a' && c <= 'f') ? c - 'a' + 10
			: (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v * 16 + (unsigned)d;
	}
	s->p += 4;
	return 0;
}

/* Reads a string literal into out (NUL-terminated, at most cap-1 bytes);
 * out NULL skips it. -1 when malformed or too long for out. */
static int scan_string(struct scan *s, char *out, size_t cap, const char *field)
{
	size_t n = 0;
	if (!eat(s, '"'))
		return fail(s, "expected a string");
	while (s->p < s->end && *s->p != '"') {
		unsigned char c = (unsigned char)*s->p++;
		if (c < 0x20)
			return fail(s, "control character in a string");
		if (c != '\\') {
			if (out) {
				if (n + 1 >= cap)
					goto too_long;
				out[n] = (char)c;
			}
			n++;
			continue;
		}
		if (s->p >= s->end)
			break;
		char e = *s->p++;
		unsigned cp;
		switch (e) {
		case '"': case '\\': case '/': cp = (unsigned char)e; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (hex4(s, &cp) < 0)
				return fail(s, "bad \\u escape");
			if (cp >= 0xD800 && cp < 0xDC00) {
				unsigned lo;
				if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
					return fail(s, "lone surrogate");
				s->p += 2;
				if (hex4(s, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
					return fail(s, "lone surrogate");
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp < 0xE000) {
				return fail(s, "lone surrogate");
			}
			break;
		default:
			return fail(s, "bad escape");
		}
		if (put_utf8(out, cap, &n, cp) < 0)
			goto too_long;
	}
	if (s->p >= s->end)
		return fail(s, "unterminated string");
	s->p++;
	if (out)
		out[n] = '\0';
	return 0;
too_long:
	if (s->err && s->errlen)
		snprintf(s->err, s->errlen, "%s longer than %zu bytes", field, cap - 1);
	return -1;
}

static int scan_value(struct scan *s, int depth);

static int scan_number(struct scan *s, long *out)
{
	skip_ws(s);
	const char *start = s->p;
	if (s->p < s->end && *s->p == '-')
		s->p++;
	while (s->p < s->end && (isdigit((unsigned char)*s->p) || *s->p == '.' || *s->p == 'e' ||
				 *s->p == 'E' || *s->p == '+' || *s->p == '-'))
		s->p++;
	if (s->p == start)
		return fail(s, out ? "expected a non-negative 32-bit integer" : "expected a value");
	if (out) {
		char tmp[32];
		size_t n = (size_t)(s->p - start);
		char *endp;
		if (n >= sizeof(tmp))
			return fail(s, "number too long");
		memcpy(tmp, start, n);
		tmp[n] = '\0';
		long long v = strtoll(tmp, &endp, 10);
		if (*endp || v < 0 || v > INT32_MAX)
			return fail(s, "expected a non-negative 32-bit integer");
		*out = (long)v;
	}
	return 0;
}

/* Walks an object; for each key calls field(), which consumes the value
 * (or returns 1 to have it skipped). */
typedef int (*field_fn)(struct scan *s, const char *key, void *arg);

static int scan_object(struct scan *s, int depth, field_fn field, void *arg)
{
	if (depth > MAX_DEPTH)
		return fail(s, "nested too deep");
	if (!eat(s, '{'))
		return fail(s, "expected an object");
	if (eat(s, '}'))
		return 0;
	do {
		char key[64];
		struct scan probe = *s;
		/* Long keys are not ours: skip them whole. */
		if (scan_string(&probe, key, sizeof(key), "key") < 0) {
			if (scan_string(s, NULL, 0, "key") < 0)
				return -1;
			key[0] = '\0';
		} else {
			*s = probe;
		}
		if (!eat(s, ':'))
			return fail(s, "expected ':'");
		int r = field && key[0] ? field(s, key, arg) : 1;
		if (r < 0)
			return -1;
		if (r > 0 && scan_value(s, depth + 1) < 0)
			return -1;
	} while (eat(s, ','));
	if (!eat(s, '}'))
		return fail(s, "expected ',' or '}'");
	return 0;
}

static int scan_value(struct scan *s, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(s, "nested too deep");
	skip_ws(s);
	if (s->p >= s->end)
		return fail(s, "unexpected end");
	switch (*s->p) {
	case '{':
		return scan_object(s, depth, NULL, NULL);
	case '[':
		s->p++;
		if (eat(s, ']'))
			return 0;
		do {
			if (scan_value(s, depth + 1) < 0)
				return -1;
		} while (eat(s, ','));
		return eat(s, ']') ? 0 : fail(s, "expected ',' or ']'");
	case '"':
		return scan_string(s, NULL, 0, "string");
	default:
		if (eat_word(s, "true") || eat_word(s, "false") || eat_word(s, "null"))
			return 0;
		return scan_number(s, NULL);
	}
}

static int spec_field(struct scan *s, const char *key, void *arg)
{
	struct lease_record *r = arg;
	if (eat_word(s, "null"))
		return 0;              /* an absent field: the zero already there */
	if (strcmp(key, "holderIdentity") == 0)
		return scan_string(s, r->holder, sizeof(r->holder), "holderIdentity");
	if (strcmp(key, "leaseDurationSeconds") == 0)
		return scan_number(s, &r->duration_s);
	if (strcmp(key, "leaseTransitions") == 0)
		return scan_number(s, &r->transitions);
	if (strcmp(key, "acquireTime") == 0 || strcmp(key, "renewTime") == 0) {
		char t[64];
		int64_t *dst = key[0] == 'a' ? &r->acquire_us : &r->renew_us;
		if (scan_string(s, t, sizeof(t), key) < 0)
			return -1;
		if (leasejson_parse_time(t, dst) < 0)
			return fail(s, key[0] == 'a' ? "acquireTime is not RFC 3339" : "renewTime is not RFC 3339");
		return 0;
	}
	return 1;
}

static int annotation_field(struct scan *s, const char *key, void *arg)
{
	struct lease_record *r = arg;
	if (strcmp(key, LEASE_MEMBERS_ANNOTATION) != 0)
		return 1;
	return scan_string(s, r->members, sizeof(r->members), "annotation " LEASE_MEMBERS_ANNOTATION);
}

static int metadata_field(struct scan *s, const char *key, void *arg)
{
	struct lease_record *r = arg;
	if (strcmp(key, "resourceVersion") == 0)
		return scan_string(s, r->rv, sizeof(r->rv), "resourceVersion");
	if (strcmp(key, "annotations") == 0)
		return eat_word(s, "null") ? 0 : scan_object(s, 2, annotation_field, r);
	return 1;
}

static int top_field(struct scan *s, const char *key, void *arg)
{
	if (strcmp(key, "metadata") == 0)
		return scan_object(s, 1, metadata_field, arg);
	if (strcmp(key, "spec") == 0)
		return eat_word(s, "null") ? 0 : scan_object(s, 1, spec_field, arg);
	return 1;
}

int leasejson_parse(const char *text, size_t len, struct lease_record *out, char *err, size_t errlen)
{
	struct scan s = { text, text + len, err, errlen };
	memset(out, 0, sizeof(*out));
	if (scan_object(&s, 0, top_field, out) < 0)
		return -1;
	skip_ws(&s);
	if (s.p != s.end)
		return fail(&s, "trailing bytes after the object");
	return 0;
}

int leasejson_parse_time(const char *s, int64_t *us)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (; digits < 6; digits++)
			frac *= 10;
	}
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
			return -1;
		offset = (hh * 60L + mm) * 60L * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	time_t t = timegm(&tm);
	*us = ((int64_t)t - offset) * 1000000 + frac;
	return 0;
}

void leasejson_microtime(int64_t us, char *out, size_t outlen)
{
	time_t t = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	if (frac < 0) {
		frac += 1000000;
		t--;
	}
	struct tm tm;
	char date[24];
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%06ldZ", date, frac);
}

/* Appends s as a JSON string; the strings here are names, identities and
 * the members list, but escape anyway. */
static int put_string(struct buf *out, const char *s)
{
	if (buf_putc(out, '"') < 0)
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int r;
		if (c == '"' || c == '\\')
			r = buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			r = buf_printf(out, "\\u%04x", c);
		else
			r = buf_putc(out, (char)c);
		if (r < 0)
			return -1;
	}
	return buf_putc(out, '"');
}

int leasejson_write(struct buf *out, const char *ns, const char *name, const struct lease_record *rec)
{
	char t[40];
	int r = buf_printf(out, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":");
	r |= put_string(out, name);
	r |= buf_printf(out, ",\"namespace\":");
	r |= put_string(out, ns);
	if (rec->rv[0]) {
		r |= buf_printf(out, ",\"resourceVersion\":");
		r |= put_string(out, rec->rv);
	}
	r |= buf_printf(out, ",\"labels\":{\"app.kubernetes.io/managed-by\":\"herald\"}");
	if (rec->members[0]) {
		r |= buf_printf(out, ",\"annotations\":{\"" LEASE_MEMBERS_ANNOTATION "\":");
		r |= put_string(out, rec->members);
		r |= buf_putc(out, '}');
	}
	r |= buf_printf(out, "},\"spec\":{\"holderIdentity\":");
	r |= put_string(out, rec->holder);
	r |= buf_printf(out, ",\"leaseDurationSeconds\":%ld", rec->duration_s);
	if (rec->acquire_us) {
		leasejson_microtime(rec->acquire_us, t, sizeof(t));
		r |= buf_printf(out, ",\"acquireTime\":\"%s\"", t);
	}
	if (rec->renew_us) {
		leasejson_microtime(rec->renew_us, t, sizeof(t));
		r |= buf_printf(out, ",\"renewTime\":\"%s\"", t);
	}
	r |= buf_printf(out, ",\"leaseTransitions\":%ld}}", rec->transitions);
	return r ? -1 : 0;
}
