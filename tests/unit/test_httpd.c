/* httpd: the request parser, and with real sockets on 127.0.0.1: slow
 * clients are dropped at the read and idle deadlines, and /healthz answers
 * while every slot is held by half-open clients (issue 12.4). One thread:
 * the test's client sockets are non-blocking and the loop runs between
 * their steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "httpd.h"
#include "loop.h"

static int parse(const char *req)
{
	char method[8], path[512];
	return httpd_parse(req, strlen(req), method, path);
}

static void test_parse(void **state)
{
	char method[8], path[512];
	const char *ok = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(httpd_parse(ok, strlen(ok), method, path), 200);
	assert_string_equal(method, "GET");
	assert_string_equal(path, "/healthz");
	assert_int_equal(parse("HEAD /metrics HTTP/1.0\n\n"), 200);
	assert_int_equal(parse("GET / HTTP/1.1\r\n\r\n"), 200);
	assert_int_equal(parse("GET /healthz HTTP/1.1\r\nHost: a\r\n"), 0);
	assert_int_equal(parse("POST /healthz HTTP/1.1\r\n\r\n"), 405);
	assert_int_equal(parse("GETTINGLONG / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("GET\r\n\r\n"), 400);
	assert_int_equal(parse("GET nope HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse("\r\n\r\n"), 400);
	/* A NUL byte neither hides the end of the request nor reaches the path. */
	const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	assert_int_equal(httpd_parse(nul, sizeof(nul) - 1, method, path), 400);
	const char nul_header[] = "GET /a HTTP/1.1\r\nX: \0\r\n\r\n";
	assert_int_equal(httpd_parse(nul_header, sizeof(nul_header) - 1, method, path), 200);
	struct buf big = BUF_INIT;
	buf_printf(&big, "GET /");
	for (int i = 0; i < 600; i++)
		buf_putc(&big, 'a');
	buf_printf(&big, " HTTP/1.1\r\n\r\n");
	assert_int_equal(httpd_parse(big.data, big.len, method, path), 400);
	buf_reset(&big);
	buf_printf(&big, "GET / HTTP/1.1\r\n");
	while (big.len <= 16384)
		buf_printf(&big, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	assert_int_equal(httpd_parse(big.data, big.len, method, path), 431);
	buf_free(&big);
}

static int handler(void *arg, const char *path, struct buf *body, const char **type)
{
	if (strcmp(path, "/healthz") != 0)
		return 404;
	buf_printf(body, "ok\n");
	return 200;
}

static void stop(struct loop *loop, void *arg) { loop_stop(loop); }

/* Runs the loop for ms milliseconds. */
static void run_for(struct loop *loop, unsigned ms)
{
	struct loop_timer *t = loop_timer_new(loop, stop, NULL);
	loop_timer_start(t, ms);
	assert_int_equal(loop_run(loop), 0);
	loop_timer_free(t);
}

static int client(int port, const char *send_first)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(rc == 0 || errno == EINPROGRESS);
	if (send_first) {
		/* Loopback connects complete at once; wait for it to be writable. */
		for (int i = 0; i < 100; i++) {
			ssize_t n = send(fd, send_first, strlen(send_first), MSG_NOSIGNAL);
			if (n == (ssize_t)strlen(send_first))
				break;
			assert_true(n < 0 && (errno == EAGAIN || errno == ENOTCONN));
			usleep(1000);
		}
	}
	return fd;
}

/* 1: the server closed the connection (EOF or reset), 0: still open
 * with nothing to read, or the bytes read (into out) as 2. */
static int peek_state(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 1;
	if (n < 0)
		return 0;
	if (out)
		buf_append(out, chunk, (size_t)n);
	return 2;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void test_slow_clients_are_dropped(void **state)
{
	struct loop *loop = loop_new();
	struct httpd *d = httpd_new(loop, "127.0.0.1:0", handler, NULL);
	assert_non_null(d);
	httpd_set_timeouts(d, 600, 200);
	int silent = client(httpd_port(d), NULL);
	int trickle = client(httpd_port(d), "GET /healthz HTTP/1.1\r\n");
	/* The trickling client sends a header line every 50 ms: never idle,
	 * but its request is not complete by the read deadline. */
	/* Times are measured on the clock, not counted in steps: on a busy
	 * machine a step can take longer than its 50 ms. */
	long start = now_ms();
	long silent_closed_at = 0, trickle_closed_at = 0;
	for (int step = 1; step <= 30 && !(silent_closed_at && trickle_closed_at); step++) {
		run_for(loop, 50);
		if (!trickle_closed_at)
			(void)!send(trickle, "X: y\r\n", 6, MSG_NOSIGNAL);
		if (!silent_closed_at && peek_state(silent, NULL) == 1)
			silent_closed_at = now_ms() - start;
		if (!trickle_closed_at && peek_state(trickle, NULL) == 1)
			trickle_closed_at = now_ms() - start;
	}
	assert_true(silent_closed_at >= 200 && silent_closed_at <= 700);
	assert_true(trickle_closed_at >= 600 && trickle_closed_at <= 1200);
	close(silent);
	close(trickle);
	httpd_free(d);
	loop_free(loop);
}

static void test_healthz_answers_under_a_flood_of_half_open_clients(void **state)
{
	struct loop *loop = loop_new();
	struct httpd *d = httpd_new(loop, "127.0.0.1:0", handler, NULL);
	assert_non_null(d);
	int flood[70];
	for (int i = 0; i < 70; i++) {
		flood[i] = client(httpd_port(d), "GET /healthz HTTP/1.1\r\n");
		if (i % 10 == 9)
			run_for(loop, 5);
	}
	run_for(loop, 20);
	for (int round = 0; round < 3; round++) {
		int probe = client(httpd_port(d), "GET /healthz HTTP/1.1\r\n\r\n");
		struct buf got = BUF_INIT;
		int st = 0;
		for (int i = 0; i < 100 && st != 1; i++) {
			run_for(loop, 10);
			st = peek_state(probe, &got);
		}
		assert_non_null(got.data);
		assert_true(strncmp(got.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
		assert_non_null(strstr(got.data, "\r\n\r\nok\n"));
		buf_free(&got);
		close(probe);
	}
	for (int i = 0; i < 70; i++)
		close(flood[i]);
	httpd_free(d);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_slow_clients_are_dropped),
		cmocka_unit_test(test_healthz_answers_under_a_flood_of_half_open_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
