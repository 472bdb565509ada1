/* loop: epoll for fds (their callbacks in an array indexed by fd), a
 * deadline-ordered list for timers, signalfd for signals, and the hooks
 * that run before each wait. Owns the epoll fd and the signalfd; never
 * touches curl or Lua. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct watch {
	loop_fd_cb cb;             /* NULL: the fd is not watched */
	void *arg;
};

#define LOOP_MAX_HOOKS 8

struct loop_timer {
	struct loop *loop;
	loop_timer_cb cb;
	void *arg;
	uint64_t due;
	uint64_t turn;             /* the loop turn that started it */
	bool active;
	struct loop_timer *next;   /* in loop->timers, ordered by due */
};

struct loop {
	int epfd;
	int sigfd;
	loop_signal_cb sig_cb;
	void *sig_arg;
	uint64_t now;
	uint64_t turn;
	bool stop;
	struct watch *watches;     /* by fd */
	size_t nwatches;
	struct loop_timer *timers;
	struct { loop_hook_cb cb; void *arg; } hooks[LOOP_MAX_HOOKS];
	int nhooks;
};

uint64_t loop_update_time(struct loop *loop)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	loop->now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	return loop->now;
}

uint64_t loop_now(struct loop *loop) { return loop->now; }
uint64_t loop_turn(const struct loop *loop) { return loop->turn; }

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->sigfd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		log_error("epoll_create1: %s", strerror(errno));
		free(loop);
		return NULL;
	}
	loop_update_time(loop);
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	free(loop->watches);
	for (struct loop_timer *t = loop->timers; t; t = t->next)
		t->active = false;
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop);
}

static struct watch *find_watch(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nwatches || !loop->watches[fd].cb)
		return NULL;
	return &loop->watches[fd];
}

int loop_fd_watch(struct loop *loop, int fd, int events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { 0 };
	ev.events = (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	struct watch *w = find_watch(loop, fd);
	if (w) {
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return -1;
		w->cb = cb;
		w->arg = arg;
		return 0;
	}
	if ((size_t)fd >= loop->nwatches) {
		size_t n = loop->nwatches ? loop->nwatches : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct watch *grown = realloc(loop->watches, n * sizeof(*grown));
		if (!grown) {
			errno = ENOMEM;
			return -1;
		}
		memset(grown + loop->nwatches, 0, (n - loop->nwatches) * sizeof(*grown));
		loop->watches = grown;
		loop->nwatches = n;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	loop->watches[fd] = (struct watch){ cb, arg };
	return 0;
}

void loop_fd_unwatch(struct loop *loop, int fd)
{
	struct watch *w = find_watch(loop, fd);
	if (!w)
		return;
	w->cb = NULL;
	w->arg = NULL;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int loop_before_wait(struct loop *loop, loop_hook_cb cb, void *arg)
{
	if (loop->nhooks == LOOP_MAX_HOOKS)
		return -1;
	loop->hooks[loop->nhooks].cb = cb;
	loop->hooks[loop->nhooks].arg = arg;
	loop->nhooks++;
	return 0;
}

void loop_before_wait_remove(struct loop *loop, loop_hook_cb cb, void *arg)
{
	for (int i = 0; i < loop->nhooks; i++) {
		if (loop->hooks[i].cb == cb && loop->hooks[i].arg == arg) {
			memmove(&loop->hooks[i], &loop->hooks[i + 1], (size_t)(loop->nhooks - i - 1) * sizeof(loop->hooks[0]));
			loop->nhooks--;
			return;
		}
	}
}

struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));
	if (t) {
		t->loop = loop;
		t->cb = cb;
		t->arg = arg;
	}
	return t;
}

static void unlink_timer(struct loop_timer *t)
{
	for (struct loop_timer **p = &t->loop->timers; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->next = NULL;
	t->active = false;
}

void loop_timer_start(struct loop_timer *t, uint64_t delay_ms)
{
	if (t->active)
		unlink_timer(t);
	t->due = t->loop->now + delay_ms;
	t->turn = t->loop->turn;
	t->active = true;
	struct loop_timer **p = &t->loop->timers;
	while (*p && (*p)->due <= t->due)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

void loop_timer_stop(struct loop_timer *t)
{
	if (t->active)
		unlink_timer(t);
}

bool loop_timer_active(const struct loop_timer *t) { return t->active; }

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_stop(t);
	free(t);
}

static void on_signal(struct loop *loop, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop->sig_cb(loop, (int)si.ssi_signo, loop->sig_arg);
}

int loop_signals(struct loop *loop, const int *signals, int n, loop_signal_cb cb, void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	loop->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (loop->sigfd < 0)
		return -1;
	loop->sig_cb = cb;
	loop->sig_arg = arg;
	return loop_fd_watch(loop, loop->sigfd, LOOP_READ, on_signal, NULL);
}

void loop_stop(struct loop *loop) { loop->stop = true; }

static void run_due_timers(struct loop *loop)
{
	loop_update_time(loop);
	/* A timer callback may start or stop any timer: take one at a time.
	 * A timer started during this turn waits for the next, so a 0 ms
	 * timer gives way to the fds: that is how long work yields. */
	while (!loop->stop) {
		struct loop_timer *t = loop->timers;
		while (t && t->due <= loop->now && t->turn == loop->turn)
			t = t->next;
		if (!t || t->due > loop->now)
			break;
		unlink_timer(t);
		t->cb(loop, t->arg);
	}
}

int loop_run(struct loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		loop->turn++;
		run_due_timers(loop);
		for (int i = 0; i < loop->nhooks && !loop->stop; i++)
			loop->hooks[i].cb(loop, loop->hooks[i].arg);
		if (loop->stop)
			break;
		int timeout = -1;
		if (loop->timers) {
			uint64_t due = loop->timers->due;
			timeout = due <= loop->now ? 0 : (int)(due - loop->now > 60000 ? 60000 : due - loop->now);
		}
		struct epoll_event evs[64];
		int n = epoll_wait(loop->epfd, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		loop_update_time(loop);
		for (int i = 0; i < n && !loop->stop; i++) {
			struct watch *w = find_watch(loop, evs[i].data.fd);
			if (!w)
				continue; /* unwatched by an earlier callback this turn */
			int events = (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? LOOP_READ : 0) |
				     (evs[i].events & (EPOLLOUT | EPOLLERR) ? LOOP_WRITE : 0);
			w->cb(loop, evs[i].data.fd, events, w->arg);
		}
	}
	return 0;
}
