/* sinkq: singly linked FIFO; one allocation per item (header + bytes). */
#include "sinkq.h"

#include <stdlib.h>
#include <string.h>

void sinkq_init(struct sinkq *q, const struct sinkq_limits *lim)
{
	memset(q, 0, sizeof(*q));
	q->lim = *lim;
}

bool sinkq_full(const struct sinkq *q, size_t next_len)
{
	if (q->count == 0)
		return false; /* one item always fits, whatever its size */
	return q->count + 1 > q->lim.max_events || q->bytes + next_len > q->lim.max_bytes;
}

int sinkq_push(struct sinkq *q, const char *data, size_t len, uint64_t now_ms, bool force)
{
	if (!force && sinkq_full(q, len))
		return -1;
	struct sinkq_item *it = malloc(sizeof(*it) + len);
	if (!it)
		return -1;
	it->next = NULL;
	it->ckpt = NULL;
	it->enqueued_ms = now_ms;
	it->len = len;
	memcpy(it->data, data, len);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->count++;
	q->bytes += len;
	return 0;
}

bool sinkq_ready(const struct sinkq *q, uint64_t now_ms)
{
	if (q->count == 0)
		return false;
	return q->count >= q->lim.batch_events || q->bytes >= q->lim.batch_bytes ||
	       now_ms >= sinkq_deadline(q);
}

uint64_t sinkq_deadline(const struct sinkq *q)
{
	if (!q->head)
		return UINT64_MAX;
	return q->head->enqueued_ms + q->lim.batch_wait_ms;
}

struct sinkq_item *sinkq_take(struct sinkq *q, size_t *count, size_t *bytes)
{
	struct sinkq_item *first = q->head, *last = NULL, *it = q->head;
	size_t n = 0, b = 0;
	while (it && n < q->lim.batch_events && (n == 0 || b + it->len <= q->lim.batch_bytes)) {
		b += it->len;
		n++;
		last = it;
		it = it->next;
	}
	if (last)
		last->next = NULL;
	q->head = it;
	if (!it)
		q->tail = NULL;
	q->count -= n;
	q->bytes -= b;
	*count = n;
	*bytes = b;
	return n ? first : NULL;
}

void sinkq_requeue(struct sinkq *q, struct sinkq_item *batch)
{
	if (!batch)
		return;
	struct sinkq_item *last = batch;
	size_t n = 1, b = batch->len;
	while (last->next) {
		last = last->next;
		n++;
		b += last->len;
	}
	last->next = q->head;
	q->head = batch;
	if (!q->tail)
		q->tail = last;
	q->count += n;
	q->bytes += b;
}

void sinkq_free_list(struct sinkq_item *list)
{
	while (list) {
		struct sinkq_item *next = list->next;
		free(list);
		list = next;
	}
}

void sinkq_clear(struct sinkq *q)
{
	sinkq_free_list(q->head);
	q->head = q->tail = NULL;
	q->count = q->bytes = 0;
}
