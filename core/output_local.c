/* output_local: stdout, file (with rotation) and null. Owns the file's
 * fd and the offset of its last whole batch. A failed write is cut back to
 * that offset (no torn or doubled line), keeps the batch at the head of
 * the queue and retries with backoff; a full disk pauses the sink (the
 * sources wait through backpressure) until space returns. Nothing is
 * dropped. Must not reach the network. */
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
	size_t file_size;              /* where the last whole batch ends (a
					* failed write is cut back to it) */
	bool regular;                  /* a regular file (not /dev/full, a pipe): can be cut */
	bool disk_full;                /* paused until the disk has room again */
};

#define DISK_FULL_RETRY_MS 1000

static void close_file(struct local *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

/* Where the last line of a file of size bytes ends (0: no whole line),
 * scanning back from the end; -1 when it cannot be read. */
static off_t last_line_end(int fd, off_t size)
{
	char chunk[4096];
	off_t end = size;
	while (end > 0) {
		size_t want = end > (off_t)sizeof(chunk) ? sizeof(chunk) : (size_t)end;
		ssize_t n = pread(fd, chunk, want, end - (off_t)want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)want)
			return -1;
		for (size_t i = want; i > 0; i--)
			if (chunk[i - 1] == '\n')
				return end - (off_t)want + (off_t)i;
		end -= (off_t)want;
	}
	return 0;
}

/* A line-per-event file that does not end in a newline was torn by a
 * crash mid-write: cut the partial line (its events were not
 * acknowledged, so they come again). Sink types that shape whole batches
 * own their format and are left alone. */
static void repair_tail(struct sink *k, struct local *l, off_t size)
{
	char last;
	if (k->lua_batch || size == 0 || pread(l->fd, &last, 1, size - 1) != 1 || last == '\n')
		return;
	off_t keep = last_line_end(l->fd, size);
	if (keep < 0 || ftruncate(l->fd, keep) < 0) {
		log_error("sink %s: %s ends in a torn line that cannot be removed: %s", k->name, l->path,
			  strerror(errno));
		return;
	}
	log_warn("sink %s: removed a torn last line (%lld bytes) from %s, left by a crash", k->name,
		 (long long)(size - keep), l->path);
	l->file_size = (size_t)keep;
}

/* Opens (creates) the file for appending; file_size is where it ends. */
static int open_file(struct sink *k, struct local *l)
{
	l->fd = open(l->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		log_error("sink %s: cannot open %s: %s", k->name, l->path, strerror(errno));
		return -1;
	}
	struct stat st;
	l->regular = fstat(l->fd, &st) == 0 && S_ISREG(st.st_mode);
	l->file_size = l->regular ? (size_t)st.st_size : 0;
	if (l->regular)
		repair_tail(k, l, (off_t)l->file_size);
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

/* A write failed after some of the batch may have reached the file: cut
 * it back to the last whole batch, so the retry neither doubles nor tears
 * a line. A file that cannot be cut is closed; open_file repairs it. */
static void undo_partial(struct sink *k, struct local *l)
{
	int saved = errno;
	if (l->regular && ftruncate(l->fd, (off_t)l->file_size) < 0) {
		log_error("sink %s: cannot cut %s back to its last whole line: %s", k->name, l->path,
			  strerror(errno));
		close_file(l);
	}
	errno = saved;
}

/* Writes one batch. 0 on success; -1 (logged) keeps it for a retry; 1
 * when the disk is full (said once by the caller). */
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
	struct stat st;
	if (l->regular && fstat(l->fd, &st) == 0)
		l->file_size = (size_t)st.st_size;   /* where this batch starts, even if someone truncated the file */
	if (l->file_size > 0 && l->file_size + b->len > l->rotate_bytes && rotate(k, l) < 0)
		return -1;
	if (sink_write_all(l->fd, b->data, b->len) < 0) {
		undo_partial(k, l);
		int full = errno == ENOSPC || errno == EDQUOT;
		if (!full)
			log_error("sink %s: writing to %s: %s", k->name, l->path, strerror(errno));
		close_file(l); /* reopen on retry: the file may have been replaced */
		return full ? 1 : -1;
	}
	l->file_size += b->len;
	return 0;
}

/* The disk is full: said once, then a quiet retry every second (the
 * queue over its bound pauses the sources meanwhile) until space returns. */
static void wait_for_space(struct sink *k)
{
	struct local *l = k->out;
	if (!l->disk_full)
		log_error("sink %s: the disk holding %s is full: the sink waits (and the sources with it), "
			  "nothing is dropped; it resumes when space returns", k->name, l->path);
	l->disk_full = k->paused = true;
	k->retry_ms = DISK_FULL_RETRY_MS;
	loop_timer_start(k->timer, DISK_FULL_RETRY_MS);
}

/* Writes due batches; on failure stops and backs off. */
static void local_flush(struct sink *k, bool everything)
{
	if (sink_backing_off(k))
		return;
	while (k->queue.count && (everything || sinkq_ready(&k->queue, loop_now(k->set->loop)))) {
		size_t count, bytes;
		struct sinkq_item *batch = sinkq_take(&k->queue, &count, &bytes);
		int rc = write_batch(k, batch, bytes, count);
		if (rc != 0) {
			sinkq_requeue(&k->queue, batch);
			metrics_inc(M_SINK_BATCHES_TOTAL, 1, "sink", k->name, "result", "error", NULL);
			if (rc > 0) {
				wait_for_space(k);
			} else {
				((struct local *)k->out)->disk_full = k->paused = false;   /* another failure: said each time */
				sink_back_off_plain(k);
			}
			return;
		}
		sink_ack_list(batch, false);
		sinkq_free_list(batch);
		if (k->paused) {
			struct local *l = k->out;
			log_info("sink %s: %s has room again: writing", k->name, l->path);
			l->disk_full = k->paused = false;
		}
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
	const struct local *l = k->out;
	if (k->kind == SINK_OUT_FILE)
		metrics_set(M_SINK_DISK_FULL, l && l->disk_full ? 1 : 0, "sink", k->name, NULL);
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
