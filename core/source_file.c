/* source_file: run --from FILE|-: events read from a file or a pipe as a
 * source. Owns the fd, its read timer and its ingest; must not deliver:
 * routed items go to the sinks through source_emit. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "log.h"
#include "source.h"

struct input {
	struct source base;
	struct ingest in;
	struct loop_timer *read_timer;
	int fd;
	bool eof, io_error;
};

static void read_some(struct input *f)
{
	const struct source_env *env = f->base.env;
	char chunk[65536];
	ssize_t n = read(f->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0) {
			log_error("reading %s: %s", f->in.source, strerror(errno));
			f->io_error = true;
		}
		f->eof = true;
		ingest_finish(&f->in);
		loop_fd_unwatch(env->loop, f->fd);
		env->finished(env->arg, &f->base);
		return;
	}
	ingest_feed(&f->in, chunk, (size_t)n);
}

static void on_input(struct loop *loop, int fd, int events, void *arg)
{
	struct input *f = arg;
	if (sinks_blocked(f->base.env->sinks)) {
		/* A sink's output is failing: stop reading until it drains. */
		loop_fd_unwatch(loop, fd);
		loop_timer_start(f->read_timer, 100);
		return;
	}
	read_some(f);
}

static void on_read_timer(struct loop *loop, void *arg)
{
	/* Regular files (which epoll cannot watch) are read one chunk per
	 * turn, so timers and signals still run between chunks. */
	struct input *f = arg;
	if (sinks_blocked(f->base.env->sinks)) {
		loop_timer_start(f->read_timer, 100);
		return;
	}
	if (loop_fd_watch(loop, f->fd, LOOP_READ, on_input, f) == 0)
		return;
	read_some(f);
	if (!f->eof)
		loop_timer_start(f->read_timer, 0);
}

static int file_start(struct source *s)
{
	struct input *f = (struct input *)s;
	const struct options *o = s->env->o;
	f->fd = strcmp(o->from, "-") == 0 ? STDIN_FILENO : open(o->from, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		log_error("%s: %s", o->from, strerror(errno));
		return EXIT_IO;
	}
	loop_timer_start(f->read_timer, 0);
	return 0;
}

static void file_stop(struct source *s)
{
	struct input *f = (struct input *)s;
	loop_timer_stop(f->read_timer);
	if (f->fd >= 0)
		loop_fd_unwatch(s->env->loop, f->fd);
}

static int file_done(struct source *s, bool stopped)
{
	struct input *f = (struct input *)s;
	log_info("done: %lu events routed, %lu records or items skipped", f->in.stats.events,
		 f->in.stats.skipped);
	if (f->io_error)
		return EXIT_IO;
	if (!stopped && (f->in.stats.skipped || f->in.stats.failed))
		return EXIT_INPUT;
	return EXIT_OK;
}

static void file_free(struct source *s)
{
	struct input *f = (struct input *)s;
	if (f->fd > STDIN_FILENO)
		close(f->fd);
	loop_timer_free(f->read_timer);
	ingest_free(&f->in);
	free(s->name);
	free(f);
}

static const struct source_ops file_ops = {
	.kind = "file",
	.finite = true,
	.start = file_start,
	.stop = file_stop,
	.done = file_done,
	.free = file_free,
};

int source_file_open(const struct source_env *env, struct source_list *list)
{
	const struct options *o = env->o;
	if (!o->from)
		return 0;
	struct input *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->base.ops = &file_ops;
	f->base.env = env;
	f->fd = -1;
	f->base.name = strdup(strcmp(o->from, "-") == 0 ? "stdin" : o->from);
	f->read_timer = loop_timer_new(env->loop, on_read_timer, f);
	struct runner_hooks hooks = { .arg = (void *)env, .emit = source_emit };
	ingest_init(&f->in, env->rt, f->base.name ? f->base.name : "stdin", o->cluster, &hooks);
	if (source_list_add(list, &f->base) < 0) {
		file_free(&f->base);
		return -1;
	}
	return f->base.name && f->read_timer ? 0 : -1;
}
