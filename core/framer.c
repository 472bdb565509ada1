/* framer: JSON record framing over arbitrary chunks. Owns the partial
 * record buffer; never parses values (json.c does that, once). */
#include "framer.h"

#include <string.h>

#include "scan.h"

void framer_init(struct framer *f, size_t max_record, size_t max_field, framer_cb cb, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->max_record = max_record;
	f->max_field = max_field;
	f->cb = cb;
	f->arg = arg;
	f->line = 1;
	f->col0 = true;
}

static void clear_record(struct framer *f)
{
	buf_reset(&f->cur);
	f->in_record = f->container = f->in_string = f->escape = f->too_large = false;
	f->depth = 0;
	f->flags = 0;
	f->utf8_need = 0;
	f->prev = 0;
}

void framer_reset(struct framer *f)
{
	clear_record(f);
	f->col0 = true;
}

void framer_free(struct framer *f)
{
	buf_free(&f->cur);
}

static void keep(struct framer *f, const char *p, size_t n)
{
	if (f->too_large || n == 0)
		return;
	if (f->cur.len + n > f->max_record || buf_append(&f->cur, p, n) < 0) {
		f->too_large = true;
		buf_free(&f->cur);
	}
}

static void emit(struct framer *f, unsigned extra)
{
	struct framer_record rec = {
		.data = f->too_large || !f->cur.data ? "" : f->cur.data,
		.len = f->too_large ? 0 : f->cur.len,
		.flags = f->flags | extra | (f->too_large ? FRAMER_TOO_LARGE : 0),
		.line = f->rec_line,
	};
	if (f->utf8_need)
		rec.flags |= FRAMER_BAD_UTF8;
	f->cb(f->arg, &rec);
	clear_record(f);
}

static void start(struct framer *f, unsigned char c)
{
	clear_record(f);
	f->in_record = true;
	f->container = c == '{' || c == '[';
	f->rec_line = f->line;
}

/* One step of a strict UTF-8 validator (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static void utf8_step(struct framer *f, unsigned char c)
{
	if (f->utf8_need) {
		if (c >= f->utf8_lo && c <= f->utf8_hi) {
			f->utf8_need--;
			f->utf8_lo = 0x80;
			f->utf8_hi = 0xBF;
		} else {
			f->flags |= FRAMER_BAD_UTF8;
			f->utf8_need = 0;
		}
		return;
	}
	if (c < 0x80)
		return;
	f->utf8_lo = 0x80;
	f->utf8_hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		f->utf8_need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		f->utf8_need = 2;
		if (c == 0xE0)
			f->utf8_lo = 0xA0;
		else if (c == 0xED)
			f->utf8_hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		f->utf8_need = 3;
		if (c == 0xF0)
			f->utf8_lo = 0x90;
		else if (c == 0xF4)
			f->utf8_hi = 0x8F;
	} else {
		f->flags |= FRAMER_BAD_UTF8;
	}
}

void framer_feed(struct framer *f, const char *data, size_t len)
{
	/* Bytes of the current record in this chunk start at run; they are
	 * copied in one piece when the record or the chunk ends. */
	size_t run = f->in_record ? 0 : (size_t)-1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (!f->in_record) {
			if (c == '\n') {
				f->line++;
				f->col0 = true;
				continue;
			}
			if (c == ' ' || c == '\t' || c == '\r') {
				f->col0 = false;
				continue;
			}
			start(f, c);
			run = i;
		}
		if (f->in_string && !f->escape && !f->utf8_need) {
			/* Fast path: a run of plain bytes inside a string (up to a
			 * quote, backslash, newline or non-ASCII byte). */
			size_t j = (size_t)(scan_string(data + i, data + len, true) - data);
			if (j > i) {
				f->str_len += j - i;
				f->col0 = false;
				i = j - 1;
				continue;
			}
		}
		if (f->in_string) {
			if (f->escape) {
				f->escape = false;
				f->str_len++;
			} else if (c == '\\') {
				f->escape = true;
				f->str_len++;
			} else if (c == '"') {
				f->in_string = false;
				if (f->utf8_need) {
					f->flags |= FRAMER_BAD_UTF8;
					f->utf8_need = 0;
				}
				if (f->str_len > f->max_field)
					f->flags |= FRAMER_FIELD_TOO_LARGE;
				f->prev = '"';
			} else if (c == '\n') {
				/* JSON strings hold no raw newline: the record was
				 * cut short. Hand it on and resume at this line. */
				keep(f, data + run, i - run);
				emit(f, FRAMER_MALFORMED);
				run = (size_t)-1;
				f->line++;
				f->col0 = true;
				continue;
			} else {
				f->str_len++;
				if (c >= 0x80 || f->utf8_need)
					utf8_step(f, c);
			}
		} else if (!f->container) {
			if (c == '\n') {
				keep(f, data + run, i - run);
				emit(f, 0);
				run = (size_t)-1;
				f->line++;
				f->col0 = true;
				continue;
			}
			if (c >= 0x80 || f->utf8_need)
				utf8_step(f, c);
		} else {
			switch (c) {
			case '"':
				f->in_string = true;
				f->str_len = 0;
				break;
			case '{':
			case '[':
				if (c == '{' && f->col0 && f->depth > 0) {
					/* A value opening at column 0 inside another: the
					 * previous line was cut short (pretty-printed
					 * documents indent nested values). */
					keep(f, data + run, i - run);
					emit(f, FRAMER_MALFORMED);
					start(f, c);
					run = i;
				}
				f->depth++;
				break;
			case '}':
			case ']':
				if (c == ']' && f->prev == '[')
					f->flags |= FRAMER_EMPTY_ARRAY;
				if (--f->depth == 0) {
					keep(f, data + run, i + 1 - run);
					emit(f, 0);
					run = (size_t)-1;
					f->col0 = false;
					continue;
				}
				break;
			case '\n':
				f->line++;
				f->col0 = true;
				continue;
			case ' ':
			case '\t':
			case '\r':
				f->col0 = false;
				continue;
			default:
				if (c >= 0x80 || f->utf8_need)
					utf8_step(f, c);
				break;
			}
			f->prev = (char)c;
		}
		f->col0 = false;
	}
	if (run != (size_t)-1 && f->in_record)
		keep(f, data + run, len - run);
}

void framer_finish(struct framer *f)
{
	if (!f->in_record)
		return;
	emit(f, f->container ? FRAMER_MALFORMED : 0);
}
