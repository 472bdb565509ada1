/* loop: the one event loop: file descriptors (epoll), timers and
 * signals. Single-threaded; callbacks run to completion. libcurl's multi
 * interface plugs in through fds and a timer (see http.c). */
#ifndef HERALD_LOOP_H
#define HERALD_LOOP_H
#include <stdbool.h>
#include <stdint.h>

enum { LOOP_READ = 1, LOOP_WRITE = 2 };

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(struct loop *loop, int fd, int events, void *arg);
typedef void (*loop_timer_cb)(struct loop *loop, void *arg);
typedef void (*loop_signal_cb)(struct loop *loop, int signo, void *arg);
typedef void (*loop_hook_cb)(struct loop *loop, void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *loop);

/* Monotonic milliseconds, cached per loop turn. */
uint64_t loop_now(struct loop *loop);
/* Counts loop turns: a callback that has done enough in this turn can
 * yield (a 0 ms timer) so timers and other fds run. */
uint64_t loop_turn(const struct loop *loop);
uint64_t loop_update_time(struct loop *loop);

/* Watches fd for the given events (LOOP_READ | LOOP_WRITE). Re-adding a
 * watched fd changes its events and callback. -1 with errno (EPERM for
 * regular files, which epoll cannot watch). */
int loop_fd_watch(struct loop *loop, int fd, int events, loop_fd_cb cb, void *arg);
void loop_fd_unwatch(struct loop *loop, int fd);

/* Runs cb once per loop turn, after the turn's timers and before the
 * loop waits for fds (Redis's beforeSleep): work that piles up during a
 * turn (batches that came due) is done there once. At most 8 hooks, run
 * in the order added. -1 when full. */
int loop_before_wait(struct loop *loop, loop_hook_cb cb, void *arg);
void loop_before_wait_remove(struct loop *loop, loop_hook_cb cb, void *arg);

/* Timers: created stopped; start (re)arms, stop disarms. Caller frees. */
struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg);
void loop_timer_start(struct loop_timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop_timer *t);
bool loop_timer_active(const struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Delivers SIGTERM, SIGINT, SIGHUP (those given) through the loop. */
int loop_signals(struct loop *loop, const int *signals, int n, loop_signal_cb cb, void *arg);

/* Runs until loop_stop. Returns 0, or -1 when epoll fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
