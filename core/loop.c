/* loop: epoll for fds, a deadline-ordered list for timers, signalfd for
 * signals. Owns the epoll fd and the signalfd; never touches curl or Lua. */
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
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct watch *next;
};

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
	struct watch *watches;
	struct loop_timer *timers;
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
	while (loop->watches) {
		struct watch *w = loop->watches;
		loop->watches = w->next;
		free(w);
	}
	for (struct loop_timer *t = loop->timers; t; t = t->next)
		t->active = false;
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->epfd);
	free(loop);
}

static struct watch *find_watch(struct loop *loop, int fd)
{
	for (struct watch *w = loop->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int loop_fd_watch(struct loop *loop, int fd, int events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { 0 };
	ev.events = (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.fd = fd;
	struct watch *w = find_watch(loop, fd);
	if (w) {
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			return -1;
		w->cb = cb;
		w->arg = arg;
		return 0;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	w = malloc(sizeof(*w));
	if (!w) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		errno = ENOMEM;
		return -1;
	}
	*w = (struct watch){ fd, cb, arg, loop->watches };
	loop->watches = w;
	return 0;
}

void loop_fd_unwatch(struct loop *loop, int fd)
{
	for (struct watch **p = &loop->watches; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			struct watch *w = *p;
			*p = w->next;
			free(w);
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
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
			w->cb(loop, w->fd, events, w->arg);
		}
	}
	return 0;
}
