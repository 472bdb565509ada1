/* framer: splits a byte stream into JSON records.
 *
 * Accepts JSON lines (one value per line, as the watch API writes them),
 * pretty-printed multi-line values (kubectl -o json) and values run
 * together. Chunk boundaries may fall anywhere. One pass per byte also
 * validates UTF-8, measures strings and notices empty arrays, so the JSON
 * layer never walks a record twice for those. Bad input never stops the
 * stream: a broken record is handed on flagged, and framing resumes at the
 * next line. */
#ifndef HERALD_FRAMER_H
#define HERALD_FRAMER_H
#include <stdbool.h>
#include <stddef.h>
#include "buf.h"

enum framer_flags {
	FRAMER_MALFORMED = 1 << 0,   /* unterminated, or a raw newline inside a string */
	FRAMER_TOO_LARGE = 1 << 1,   /* longer than max_record: no data kept */
	FRAMER_FIELD_TOO_LARGE = 1 << 2, /* a string longer than max_field */
	FRAMER_BAD_UTF8 = 1 << 3,
	FRAMER_EMPTY_ARRAY = 1 << 4, /* contains [] (the JSON layer must keep it an array) */
};

struct framer_record {
	const char *data;      /* not NUL-terminated; valid during the callback */
	size_t len;
	unsigned flags;
	unsigned long line;    /* 1-based line where the record starts */
};

typedef void (*framer_cb)(void *arg, const struct framer_record *rec);

struct framer {
	size_t max_record, max_field;
	framer_cb cb;
	void *arg;
	struct buf cur;
	unsigned long line, rec_line;
	size_t str_len;
	unsigned flags;
	int depth;
	int utf8_need;
	unsigned char utf8_lo, utf8_hi;
	char prev;          /* last significant byte outside strings */
	bool in_record, container, in_string, escape, col0, too_large;
};

void framer_init(struct framer *f, size_t max_record, size_t max_field, framer_cb cb, void *arg);
void framer_feed(struct framer *f, const char *data, size_t len);
/* End of input: hands on a pending record (flagged malformed if open). */
void framer_finish(struct framer *f);
/* Forgets a partial record (a new connection starts a new stream). */
void framer_reset(struct framer *f);
void framer_free(struct framer *f);

#endif
