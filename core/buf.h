/* buf: a growable byte buffer. The owner frees it with buf_free. */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H
#include <stddef.h>

struct buf {
	char *data;     /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
/* Appends one byte; inline, as writers of JSON call it for every comma. */
static inline int buf_putc(struct buf *b, char c)
{
	if (b->len + 2 > b->cap && buf_reserve(b, 1) < 0)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the file at path to b, stopping once b holds max bytes or more
 * (0: no bound). 0, or -1 with errno when it cannot be opened or read (what
 * was read stays in b). */
int buf_read_file(struct buf *b, const char *path, size_t max);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
