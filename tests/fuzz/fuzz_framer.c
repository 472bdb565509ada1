/* libFuzzer target: the framer, fed in pieces whose sizes come from the
 * input itself, with small limits so the too-large paths run too. Every
 * record it hands on must lie within its limits; ASan checks each byte. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "framer.h"

#define MAX_RECORD 4096
#define MAX_FIELD 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_record(void *arg, const struct framer_record *rec)
{
	size_t *sum = arg;
	if (rec->len > MAX_RECORD || (rec->len && !rec->data) || rec->line == 0)
		abort();
	if ((rec->flags & FRAMER_TOO_LARGE) && rec->len)
		abort();
	for (size_t i = 0; i < rec->len; i++)
		*sum += (unsigned char)rec->data[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned step = data[0] % 17 + 1;   /* feed sizes: 1..17, then the rest */
	data++;
	size--;
	size_t sum = 0;
	struct framer f;
	framer_init(&f, MAX_RECORD, MAX_FIELD, on_record, &sum);
	size_t off = 0;
	for (int i = 0; off < size && i < 8; i++) {
		size_t n = size - off < step ? size - off : step;
		framer_feed(&f, (const char *)data + off, n);
		off += n;
	}
	framer_feed(&f, (const char *)data + off, size - off);
	framer_finish(&f);
	framer_free(&f);
	return 0;
}
