/* sinkq: a sink's bounded FIFO of encoded items and its batching policy
 * (count, bytes, age). Pure logic: no I/O, no clock of its own (callers
 * pass now_ms), so it is tested directly. */
#ifndef HERALD_SINKQ_H
#define HERALD_SINKQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"

struct sinkq_item {
	struct sinkq_item *next;
	struct checkpoint *ckpt;       /* whom its delivery is acknowledged to (NULL: nobody) */
	struct checkpoint_id ckid;
	uint64_t enqueued_ms;
	size_t len;
	char data[];
};

struct sinkq_limits {
	size_t batch_events, batch_bytes;
	uint64_t batch_wait_ms;
	size_t max_events, max_bytes;   /* the bound of the queue */
};

struct sinkq {
	struct sinkq_item *head, *tail;
	size_t count, bytes;
	struct sinkq_limits lim;
};

void sinkq_init(struct sinkq *q, const struct sinkq_limits *lim);
/* Copies the item in. -1 when the queue is at its bound (unless force)
 * or memory ran out; nothing is queued then. */
int sinkq_push(struct sinkq *q, const char *data, size_t len, uint64_t now_ms, bool force);
bool sinkq_full(const struct sinkq *q, size_t next_len);
/* A batch is due: enough events, enough bytes, or the oldest has waited. */
bool sinkq_ready(const struct sinkq *q, uint64_t now_ms);
/* When the oldest item's wait ends (UINT64_MAX when empty). */
uint64_t sinkq_deadline(const struct sinkq *q);
/* Detaches the next batch: at least one item, at most batch_events and,
 * past the first item, batch_bytes. Caller owns the list (sinkq_free_list). */
struct sinkq_item *sinkq_take(struct sinkq *q, size_t *count, size_t *bytes);
/* Puts a batch that failed back at the head, in order. Takes ownership. */
void sinkq_requeue(struct sinkq *q, struct sinkq_item *batch);
void sinkq_free_list(struct sinkq_item *list);
void sinkq_clear(struct sinkq *q);

#endif
