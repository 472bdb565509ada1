/* json_skip: steps over JSON values without building anything, accepting
 * exactly what json.c's decoder accepts (grammar, escapes and surrogate
 * pairs, number range, nesting depth) but not saying why it refuses: the
 * decoder is asked again for the message then. One loop, no recursion:
 * this is what makes leaving managedFields undecoded cheap. */
#include "json_impl.h"
#include "scan.h"

#include <stdlib.h>
#include <string.h>

static const char *space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p is past the opening quote: one past the closing quote, or NULL. */
static const char *string_end(const char *p, const char *end)
{
	while ((p = scan_string(p, end, false)) < end) {
		char c = *p;
		if (c == '"')
			return p + 1;
		if (end - p < 2)
			return NULL;
		c = p[1];
		if (c && strchr("\"\\/bfnrt", c)) {
			p += 2;
			continue;
		}
		int cp = c == 'u' && end - p >= 6 ? json_hex4(p + 2) : -1;
		if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
			return NULL;
		p += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? json_hex4(p + 2) : -1;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return NULL;
			p += 6;
		}
	}
	return NULL;
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* JSON's number grammar (json_impl.h). */
const char *json_number_grammar(const char *p, const char *end, bool *exponent)
{
	const char *q;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		p = digits(p, end);
	else
		return NULL;
	if (p < end && *p == '.') {
		q = digits(p + 1, end);
		if (q == p + 1)
			return NULL;
		p = q;
	}
	*exponent = p < end && (*p == 'e' || *p == 'E');
	if (*exponent) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		q = digits(p, end);
		if (q == p)
			return NULL;
		p = q;
	}
	return p;
}

/* The decoder's number: its grammar, under 128 bytes, finite as a double. */
static const char *number_end(const char *s, const char *end)
{
	bool exponent;
	const char *p = json_number_grammar(s, end, &exponent);
	if (!p || p - s >= 128)
		return NULL;
	if (exponent) {  /* only an exponent takes a number this short out of range */
		char text[128];
		memcpy(text, s, (size_t)(p - s));
		text[p - s] = '\0';
		double v = strtod(text, NULL);
		if (v - v != 0)  /* inf or nan */
			return NULL;
	}
	return p;
}

static const char *word_end(const char *p, const char *end, const char *word, size_t len)
{
	return (size_t)(end - p) >= len && memcmp(p, word, len) == 0 ? p + len : NULL;
}

/* (json_impl.h) */
bool json_keys_note(struct json_keys *k, int base, const char *s, size_t len)
{
	if (memchr(s, '\\', len) || k->n == (int)(sizeof(k->at) / sizeof(*k->at)))
		return false;
	bool once = true;
	for (int i = base; i < k->n; i++)
		if (k->at[i].len == len && memcmp(k->at[i].s, s, len) == 0)
			once = false;
	k->at[k->n].s = s;
	k->at[k->n++].len = len;
	return once;
}

const char *json_skip_value(const char *p, const char *end, int depth, bool *odd)
{
	char open[JSON_MAX_DEPTH];
	int top = 0;
	struct json_keys keys;
	int base[JSON_MAX_DEPTH];   /* where each open container's keys start */
	keys.n = 0;
	for (;;) {
		p = space(p, end);                      /* a value */
		if (p >= end)
			return NULL;
		switch (*p) {
		case '{':
		case '[':
			if (depth + top >= JSON_MAX_DEPTH)
				return NULL;
			base[top] = keys.n;
			open[top++] = *p;
			p = space(p + 1, end);
			if (p < end && *p == (open[top - 1] == '{' ? '}' : ']')) {
				top--;
				p++;
				break;
			}
			if (open[top - 1] == '[')
				continue;
			goto key;
		case '"':
			p = string_end(p + 1, end);
			break;
		case 't':
			p = word_end(p, end, "true", 4);
			break;
		case 'f':
			p = word_end(p, end, "false", 5);
			break;
		case 'n':
			p = word_end(p, end, "null", 4);
			break;
		default:
			p = number_end(p, end);
		}
		for (;;) {                              /* after a value */
			if (!p)
				return NULL;
			if (top == 0)
				return p;
			p = space(p, end);
			if (p >= end)
				return NULL;
			char close = open[top - 1] == '{' ? '}' : ']';
			if (*p == close) {
				keys.n = base[--top];
				p++;
				continue;
			}
			if (*p != ',')
				return NULL;
			p = space(p + 1, end);
			if (open[top - 1] == '[')
				break;
			goto key;
		}
		continue;
key:
		if (p >= end || *p != '"')
			return NULL;
		const char *k = p + 1;
		if (!(p = string_end(k, end)))
			return NULL;
		if (!json_keys_note(&keys, base[top - 1], k, (size_t)(p - 1 - k)))
			*odd = true;
		p = space(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p++;
	}
}

void json_walk_init(struct json_walk *w, const char *obj, size_t len)
{
	w->start = obj;
	w->p = obj + 1;
	w->end = obj + len;
	w->first = true;
}

int json_walk_next(struct json_walk *w, struct json_member *m)
{
	const char *p = space(w->p, w->end);
	if (p >= w->end)
		return -1;
	if (*p == '}') {
		w->p = p + 1;
		return 0;
	}
	if (!w->first) {
		if (*p != ',')
			return -1;
		p = space(p + 1, w->end);
	}
	w->first = false;
	if (p >= w->end || *p != '"')
		return -1;
	m->start = p;
	m->key = p + 1;
	const char *k = string_end(p + 1, w->end);
	if (!k)
		return -1;
	m->key_len = (size_t)(k - 1 - m->key);
	m->key_escaped = memchr(m->key, '\\', m->key_len) != NULL;
	p = space(k, w->end);
	if (p >= w->end || *p != ':')
		return -1;
	m->value = p = space(p + 1, w->end);
	bool odd = false;
	if (!(p = json_skip_value(p, w->end, 1, &odd)))
		return -1;
	m->end = w->p = p;
	return 1;
}
