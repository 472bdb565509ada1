/* loop: timers fire in deadline order, fds wake it, signals arrive as
 * callbacks, and loop_stop ends it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

struct order {
	int fired[8];
	int n;
	struct loop *loop;
	struct loop_timer *stopper;
};

static void record(struct loop *loop, void *arg);
static struct order *current;

static void t1(struct loop *loop, void *arg) { current->fired[current->n++] = 1; }
static void t2(struct loop *loop, void *arg) { current->fired[current->n++] = 2; }
static void t3(struct loop *loop, void *arg) { current->fired[current->n++] = 3; loop_stop(loop); }
static void record(struct loop *loop, void *arg) { (void)arg; }

static void test_timers_in_deadline_order(void **state)
{
	struct order o = { 0 };
	current = &o;
	struct loop *loop = loop_new();
	struct loop_timer *a = loop_timer_new(loop, t1, NULL);
	struct loop_timer *b = loop_timer_new(loop, t2, NULL);
	struct loop_timer *c = loop_timer_new(loop, t3, NULL);
	struct loop_timer *never = loop_timer_new(loop, record, NULL);
	/* Deadlines count from the loop's cached time: read it first, so that
	 * "30 ms passed" is measured from the same instant (a slow start
	 * under load made the old order fail by a millisecond). */
	uint64_t start = loop_update_time(loop);
	loop_timer_start(c, 30);
	loop_timer_start(a, 10);
	loop_timer_start(b, 20);
	loop_timer_start(never, 5);
	loop_timer_stop(never);
	assert_false(loop_timer_active(never));
	assert_int_equal(loop_run(loop), 0);
	assert_true(loop_update_time(loop) - start >= 30);
	assert_int_equal(o.n, 3);
	assert_int_equal(o.fired[0], 1);
	assert_int_equal(o.fired[1], 2);
	assert_int_equal(o.fired[2], 3);
	/* restart moves a timer */
	o.n = 0;
	loop_timer_start(a, 50);
	loop_timer_start(c, 10);
	loop_timer_start(a, 5);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(o.n, 2);
	assert_int_equal(o.fired[0], 1);
	assert_int_equal(o.fired[1], 3);
	loop_timer_free(a);
	loop_timer_free(b);
	loop_timer_free(c);
	loop_timer_free(never);
	loop_free(loop);
}

static char got[64];

static void on_readable(struct loop *loop, int fd, int events, void *arg)
{
	assert_true(events & LOOP_READ);
	ssize_t n = read(fd, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	loop_fd_unwatch(loop, fd);
	loop_stop(loop);
}

static void write_later(struct loop *loop, void *arg)
{
	int fd = *(int *)arg;
	assert_int_equal(write(fd, "ping", 4), 4);
}

static void test_fd_wakes_the_loop(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct loop *loop = loop_new();
	assert_int_equal(loop_fd_watch(loop, p[0], LOOP_READ, on_readable, NULL), 0);
	struct loop_timer *t = loop_timer_new(loop, write_later, &p[1]);
	loop_timer_start(t, 5);
	assert_int_equal(loop_run(loop), 0);
	assert_string_equal(got, "ping");
	loop_timer_free(t);
	loop_free(loop);
	close(p[0]);
	close(p[1]);
}

static int signalled;

static void on_sig(struct loop *loop, int signo, void *arg)
{
	signalled = signo;
	loop_stop(loop);
}

static void send_hup(struct loop *loop, void *arg)
{
	kill(getpid(), SIGHUP);
}

/* A 0 ms timer restarted from its own callback (how long work yields)
 * gives way to ready fds every turn: it cannot starve them. */
struct yielder {
	struct loop_timer *t;
	int timer_runs, fd_runs, fd;
};

static void yield_again(struct loop *loop, void *arg)
{
	struct yielder *y = arg;
	y->timer_runs++;
	loop_timer_start(y->t, 0);
}

static void fd_ready(struct loop *loop, int fd, int events, void *arg)
{
	struct yielder *y = arg;
	if (++y->fd_runs == 3)
		loop_stop(loop);
}

static void test_a_zero_timer_yields_to_fds(void **state)
{
	struct loop *loop = loop_new();
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);   /* stays readable */
	struct yielder y = { .fd = p[0] };
	y.t = loop_timer_new(loop, yield_again, &y);
	loop_timer_start(y.t, 0);
	assert_int_equal(loop_fd_watch(loop, p[0], LOOP_READ, fd_ready, &y), 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(y.fd_runs, 3);
	assert_true(y.timer_runs >= 2 && y.timer_runs <= 4);  /* once a turn, not a spin */
	loop_fd_unwatch(loop, p[0]);
	loop_timer_free(y.t);
	loop_free(loop);
	close(p[0]);
	close(p[1]);
}

/* The before-wait hook runs once per turn, after that turn's timers. */
struct turns {
	int timer_fired, hook_runs, hook_saw_timer;
	struct loop_timer *t;
};

static void on_turn_timer(struct loop *loop, void *arg)
{
	struct turns *tu = arg;
	tu->timer_fired++;
	if (tu->timer_fired < 3)
		loop_timer_start(tu->t, 0); /* the next turn */
}

static void on_before_wait(struct loop *loop, void *arg)
{
	struct turns *tu = arg;
	tu->hook_runs++;
	if (tu->hook_runs == 1)
		tu->hook_saw_timer = tu->timer_fired;
	if (tu->timer_fired == 3)
		loop_stop(loop);
}

static void test_before_wait_runs_once_per_turn(void **state)
{
	struct turns tu = { 0 };
	struct loop *loop = loop_new();
	tu.t = loop_timer_new(loop, on_turn_timer, &tu);
	assert_int_equal(loop_before_wait(loop, on_before_wait, &tu), 0);
	loop_timer_start(tu.t, 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(tu.hook_saw_timer, 1);      /* after the first turn's timer */
	assert_int_equal(tu.timer_fired, 3);
	assert_int_equal(tu.hook_runs, 3);           /* one per turn, not per callback */
	loop_before_wait_remove(loop, on_before_wait, &tu);
	loop_timer_free(tu.t);
	loop_free(loop);
}

static void on_high_fd(struct loop *loop, int fd, int events, void *arg)
{
	*(int *)arg = fd;
	loop_stop(loop);
}

/* fds are dispatched by number: a high one (past the first table) works. */
static void test_high_fd(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 300), 300);
	struct loop *loop = loop_new();
	int woke = -1;
	assert_int_equal(loop_fd_watch(loop, 300, LOOP_READ, on_high_fd, &woke), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(woke, 300);
	loop_fd_unwatch(loop, 300);
	loop_free(loop);
	close(300);
	close(p[0]);
	close(p[1]);
}

static void test_signals(void **state)
{
	struct loop *loop = loop_new();
	int sigs[] = { SIGHUP };
	assert_int_equal(loop_signals(loop, sigs, 1, on_sig, NULL), 0);
	struct loop_timer *t = loop_timer_new(loop, send_hup, NULL);
	loop_timer_start(t, 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(signalled, SIGHUP);
	loop_timer_free(t);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_deadline_order),
		cmocka_unit_test(test_fd_wakes_the_loop),
		cmocka_unit_test(test_a_zero_timer_yields_to_fds),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_before_wait_runs_once_per_turn),
		cmocka_unit_test(test_high_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
