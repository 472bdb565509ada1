/* confwatch: owns an inotify fd, its watches, a debounce timer and a poll
 * timer. Calls back; never reads the configuration itself. */
#include "confwatch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"

#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE | \
		    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

struct confwatch {
	struct loop *loop;
	int fd;
	char **dirs;
	size_t ndirs;
	uint64_t last_hash;
	uint64_t debounce_ms, poll_ms;
	struct loop_timer *debounce, *poll;
	confwatch_cb cb;
	void *arg;
};

static int compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

uint64_t confwatch_hash(const char *const *dirs, size_t ndirs)
{
	uint64_t h = FNV_OFFSET;
	for (size_t d = 0; d < ndirs; d++) {
		h = fnv1a(h, dirs[d], strlen(dirs[d]) + 1);
		DIR *dir = opendir(dirs[d]);
		if (!dir)
			continue;
		char *names[1024];
		size_t n = 0;
		struct dirent *e;
		while ((e = readdir(dir)) && n < 1024) {
			size_t len = strlen(e->d_name);
			if (e->d_name[0] != '.' && len > 4 && strcmp(e->d_name + len - 4, ".lua") == 0)
				names[n++] = strdup(e->d_name);
		}
		closedir(dir);
		if (n > 1)
			qsort(names, n, sizeof(*names), compare);
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dirs[d], names[i]);
			h = fnv1a(h, names[i], strlen(names[i]) + 1);
			FILE *f = fopen(path, "rb");
			if (f) {
				char chunk[8192];
				size_t got;
				while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
					h = fnv1a(h, chunk, got);
				fclose(f);
			}
			free(names[i]);
		}
	}
	return h;
}

/* (Re)adds a watch per directory: after a ConfigMap update a directory
 * reached through a symlink is a new inode. */
static void add_watches(struct confwatch *w)
{
	for (size_t i = 0; i < w->ndirs; i++)
		inotify_add_watch(w->fd, w->dirs[i], WATCH_MASK);
}

static void fire(struct confwatch *w)
{
	add_watches(w);
	w->last_hash = confwatch_hash((const char *const *)w->dirs, w->ndirs);
	w->cb(w->arg);
}

static void on_debounce(struct loop *loop, void *arg)
{
	fire(arg);
}

static void on_poll(struct loop *loop, void *arg)
{
	struct confwatch *w = arg;
	uint64_t h = confwatch_hash((const char *const *)w->dirs, w->ndirs);
	if (h != w->last_hash) {
		log_debug("configuration changed (content hash)");
		fire(w);
	}
	loop_timer_start(w->poll, w->poll_ms);
}

static void on_inotify(struct loop *loop, int fd, int events, void *arg)
{
	struct confwatch *w = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		any = true;
	if (any)
		loop_timer_start(w->debounce, w->debounce_ms); /* the last event starts the wait */
}

struct confwatch *confwatch_new(struct loop *loop, const char *const *dirs, size_t ndirs,
				uint64_t debounce_ms, uint64_t poll_ms, uint64_t loaded_hash,
				confwatch_cb cb, void *arg)
{
	struct confwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	w->debounce_ms = debounce_ms;
	w->poll_ms = poll_ms;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->dirs = calloc(ndirs, sizeof(*w->dirs));
	w->ndirs = ndirs;
	w->debounce = loop_timer_new(loop, on_debounce, w);
	w->poll = loop_timer_new(loop, on_poll, w);
	if (w->fd < 0 || !w->dirs || !w->debounce || !w->poll) {
		log_error("config watcher: %s", strerror(errno));
		confwatch_free(w);
		return NULL;
	}
	for (size_t i = 0; i < ndirs; i++)
		w->dirs[i] = strdup(dirs[i]);
	add_watches(w);
	w->last_hash = loaded_hash;
	loop_fd_watch(loop, w->fd, LOOP_READ, on_inotify, w);
	loop_timer_start(w->poll, poll_ms);
	return w;
}

void confwatch_free(struct confwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		loop_fd_unwatch(w->loop, w->fd);
		close(w->fd);
	}
	for (size_t i = 0; w->dirs && i < w->ndirs; i++)
		free(w->dirs[i]);
	free(w->dirs);
	loop_timer_free(w->debounce);
	loop_timer_free(w->poll);
	free(w);
}
