/* output_local: stdout, file (with rotation) and null. Owns the file's
 * fd. A failed write keeps the batch at the head of the queue and retries
 * with backoff; nothing is dropped. Must not reach the network. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "sink.h"

struct local {
	int fd;                        /* file */
	char *path;
	size_t rotate_bytes;
	int rotate_keep;
	size_t file_size;
};

static void close_file(struct local *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

static int open_file(struct sink *k, struct local *l)
{
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		log_error("sink %s: cannot open %s: %s", k->name, l->path, strerror(errno));
		return -1;
	}
	struct stat st;
	l->file_size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

static int local_open(struct sink *k, const struct sink_spec *sp)
{
	struct local *l = k->out;
	if (!l) {
		if (!(l = calloc(1, sizeof(*l))))
			return -1;
		l->fd = -1;
		k->out = l;
	}
	if (sp->output != SINK_OUT_FILE)
		return 0;
	if (!l->path || strcmp(l->path, sp->path) != 0) {
		free(l->path);
		close_file(l);
		if (!(l->path = strdup(sp->path)) || open_file(k, l) < 0)
			return -1;
	}
	l->rotate_bytes = sp->rotate_bytes;
	l->rotate_keep = sp->rotate_keep;
	return 0;
}

static void local_free(struct sink *k)
{
	struct local *l = k->out;
	close_file(l);
	free(l->path);
	free(l);
	k->out = NULL;
}

/* Renames path.N-1 -> path.N ... path -> path.1, dropping the oldest. */
static int rotate(struct sink *k, struct local *l)
{
	close_file(l);
	struct buf from = BUF_INIT, to = BUF_INIT;
	int rc = 0;
	if (l->rotate_keep == 0) {
		if (unlink(l->path) < 0 && errno != ENOENT)
			rc = -1;
	} else {
		for (int i = l->rotate_keep - 1; i >= 1 && rc == 0; i--) {
			buf_reset(&from);
			buf_reset(&to);
			buf_printf(&from, "%s.%d", l->path, i);
			buf_printf(&to, "%s.%d", l->path, i + 1);
			if (rename(from.data, to.data) < 0 && errno != ENOENT)
				rc = -1;
		}
		buf_reset(&to);
		buf_printf(&to, "%s.1", l->path);
		if (rc == 0 && rename(l->path, to.data) < 0 && errno != ENOENT)
			rc = -1;
	}
	if (rc < 0)
		log_error("sink %s: cannot rotate %s: %s", k->name, l->path, strerror(errno));
	buf_free(&from);
	buf_free(&to);
	if (open_file(k, l) < 0)
		return -1;
	return rc;
}

/* The bytes of a batch: the sink type's batch(items, conf) when it has
 * one, else one item per line. */
static int render(struct sink *k, struct sinkq_item *batch, size_t bytes, size_t count, struct buf *b)
{
	buf_reset(b);
	if (k->lua_batch)
		return runner_batch(sink_host(k), k->index, k->name, batch, count, b);
	if (buf_reserve(b, bytes + count) < 0)
		return -1;
	for (struct sinkq_item *it = batch; it; it = it->next) {
		buf_append(b, it->data, it->len);
		buf_putc(b, '\n');
	}
	return 0;
}

/* Writes one batch. 0 on success; -1 (logged) keeps it for a retry. */
static int write_batch(struct sink *k, struct sinkq_item *batch, size_t bytes, size_t count)
{
	struct local *l = k->out;
	struct buf *b = &k->set->scratch;
	if (render(k, batch, bytes, count, b) < 0)
		return -1;
	if (k->kind == SINK_OUT_NULL)
		return 0;
	if (k->kind == SINK_OUT_STDOUT) {
		if (sink_write_all(STDOUT_FILENO, b->data, b->len) < 0) {
			log_error("sink %s: writing to stdout: %s", k->name, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (l->fd < 0 && open_file(k, l) < 0)
		return -1;
	if (l->file_size > 0 && l->file_size + b->len > l->rotate_bytes && rotate(k, l) < 0)
		return -1;
	if (sink_write_all(l->fd, b->data, b->len) < 0) {
		log_error("sink %s: writing to %s: %s", k->name, l->path, strerror(errno));
		close_file(l); /* reopen on retry: the file may have been replaced */
		return -1;
	}
	l->file_size += b->len;
	return 0;
}

/* Writes due batches; on failure stops and backs off. */
static void local_flush(struct sink *k, bool everything)
{
	if (sink_backing_off(k))
		return;
	while (k->queue.count && (everything || sinkq_ready(&k->queue, loop_now(k->set->loop)))) {
		size_t count, bytes;
		struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes);
		if (write_batch(k, batch, bytes, count) < 0) {
			sinkq_requeue(&k->queue, batch);
			metrics_inc(M_SINK_BATCHES_TOTAL, 1, "sink", k->name, "result", "error", NULL);
			sink_back_off_plain(k);
			return;
		}
		sink_ack_list(batch, false);
		sinkq_free_list(batch);
		k->retry_ms = 0;
		metrics_series_inc(k->m_written, (long)count);
		metrics_series_inc(k->m_batches_ok, 1);
	}
	sink_arm_timer(k);
}

static size_t local_pending(const struct sink *k)
{
	return k->queue.count;
}

static size_t local_drain(struct sink *k)
{
	k->retry_ms = 0;
	local_flush(k, true);
	return k->queue.count;
}

static void local_export_metrics(const struct sink *k)
{
	metrics_set(M_SINK_QUEUE_EVENTS, (double)k->queue.count, "sink", k->name, NULL);
	metrics_set(M_SINK_QUEUE_BYTES, (double)k->queue.bytes, "sink", k->name, NULL);
}

const struct output output_local = {
	.name = "local",
	.open = local_open,
	.push = sink_queue_push,
	.flush = local_flush,
	.pending = local_pending,
	.drain = local_drain,
	.export_metrics = local_export_metrics,
	.free = local_free,
};
