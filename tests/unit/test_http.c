/* http: libcurl's multi interface on herald's loop. A tiny HTTP server
 * runs on the same loop (127.0.0.1, ephemeral port), so the test is one
 * thread and needs nothing outside the process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "http.h"
#include "loop.h"

struct server {
	struct loop *loop;
	int listen_fd, conn_fd;
	struct buf request;
	const char *const *parts;      /* response, written one part per 5 ms */
	int next_part;
	struct loop_timer *timer;
	int port;
};

static void write_next(struct loop *loop, void *arg)
{
	struct server *s = arg;
	const char *part = s->parts[s->next_part];
	if (!part) {
		close(s->conn_fd);
		s->conn_fd = -1;
		return;
	}
	assert_int_equal(write(s->conn_fd, part, strlen(part)), (ssize_t)strlen(part));
	s->next_part++;
	loop_timer_start(s->timer, 5);
}

static void on_conn(struct loop *loop, int fd, int events, void *arg)
{
	struct server *s = arg;
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n <= 0) {
		loop_fd_unwatch(loop, fd);
		return;
	}
	buf_append(&s->request, chunk, (size_t)n);
	if (strstr(s->request.data, "\r\n\r\n")) {
		loop_fd_unwatch(loop, fd);
		loop_timer_start(s->timer, 0);
	}
}

static void on_accept(struct loop *loop, int fd, int events, void *arg)
{
	struct server *s = arg;
	s->conn_fd = accept(fd, NULL, NULL);
	assert_true(s->conn_fd >= 0);
	loop_fd_watch(loop, s->conn_fd, LOOP_READ, on_conn, s);
}

static void server_start(struct server *s, struct loop *loop, const char *const *parts)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->parts = parts;
	s->conn_fd = -1;
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	getsockname(s->listen_fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	assert_int_equal(listen(s->listen_fd, 4), 0);
	loop_fd_watch(loop, s->listen_fd, LOOP_READ, on_accept, s);
	s->timer = loop_timer_new(loop, write_next, s);
}

static void server_stop(struct server *s)
{
	loop_fd_unwatch(s->loop, s->listen_fd);
	close(s->listen_fd);
	if (s->conn_fd >= 0)
		close(s->conn_fd);
	loop_timer_free(s->timer);
	buf_free(&s->request);
}

struct result {
	bool done;
	long status;
	char body[256];
	char retry_after[32];
	char error[256];
	struct buf streamed;
	int chunks;
	struct loop *loop;
};

static void on_done(void *arg, const struct http_response *r)
{
	struct result *res = arg;
	res->done = true;
	res->status = r->status;
	snprintf(res->body, sizeof(res->body), "%.*s", (int)r->body_len, r->body);
	snprintf(res->retry_after, sizeof(res->retry_after), "%s", r->retry_after ? r->retry_after : "");
	snprintf(res->error, sizeof(res->error), "%s", r->error ? r->error : "");
	loop_stop(res->loop);
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct result *res = arg;
	buf_append(&res->streamed, data, len);
	res->chunks++;
	return HTTP_DATA_OK;
}

static void test_post_with_headers_and_body(void **state)
{
	static const char *const response[] = {
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 5\r\n\r\nslow!", NULL,
	};
	struct loop *loop = loop_new();
	struct http *http = http_new(loop);
	struct server s;
	server_start(&s, loop, response);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_bulk", s.port);
	const char *headers[] = { "Content-Type: application/x-ndjson" };
	struct http_request req = { .method = "POST", .url = url, .headers = headers, .nheaders = 1,
				    .body = "{\"x\":1}\n", .body_len = 8, .timeout_ms = 5000 };
	struct result res = { .loop = loop };
	assert_non_null(http_start(http, &req, on_done, &res));
	assert_int_equal(http_active(http), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_true(res.done);
	assert_int_equal(res.status, 429);
	assert_string_equal(res.body, "slow!");
	assert_string_equal(res.retry_after, "7");
	assert_string_equal(res.error, "");
	assert_non_null(strstr(s.request.data, "POST /_bulk HTTP/1.1"));
	assert_non_null(strstr(s.request.data, "Content-Type: application/x-ndjson"));
	assert_non_null(strstr(s.request.data, "User-Agent: herald/"));
	assert_int_equal(http_active(http), 0);
	server_stop(&s);
	http_free(http);
	loop_free(loop);
}

static void test_streaming_chunks(void **state)
{
	/* A watch-like chunked stream whose chunks split objects anywhere. */
	static const char *const response[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
		"a\r\n{\"type\":\"A\r\n",
		"8\r\nDDED\"}\n{\r\n",
		"7\r\n\"x\":1}\n\r\n",
		"0\r\n\r\n",
		NULL,
	};
	struct loop *loop = loop_new();
	struct http *http = http_new(loop);
	struct server s;
	server_start(&s, loop, response);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/events?watch=1", s.port);
	struct result res = { .loop = loop };
	struct http_request req = { .url = url, .on_data = on_data };
	assert_non_null(http_start(http, &req, on_done, &res));
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(res.status, 200);
	assert_true(res.chunks >= 2);
	assert_string_equal(res.streamed.data, "{\"type\":\"ADDED\"}\n{\"x\":1}\n");
	assert_string_equal(res.body, "");
	buf_free(&res.streamed);
	server_stop(&s);
	http_free(http);
	loop_free(loop);
}

static void test_connection_refused(void **state)
{
	struct loop *loop = loop_new();
	struct http *http = http_new(loop);
	/* Bind then close a socket to get a port nobody listens on. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t len = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	struct result res = { .loop = loop };
	struct http_request req = { .url = url, .timeout_ms = 2000 };
	assert_non_null(http_start(http, &req, on_done, &res));
	assert_int_equal(loop_run(loop), 0);
	assert_true(res.done);
	assert_int_equal(res.status, 0);
	assert_true(strlen(res.error) > 0);
	http_free(http);
	loop_free(loop);
}

static void test_cancel_runs_no_callback(void **state)
{
	struct loop *loop = loop_new();
	struct http *http = http_new(loop);
	struct result res = { .loop = loop };
	struct http_request req = { .url = "http://127.0.0.1:9/" };
	struct http_transfer *t = http_start(http, &req, on_done, &res);
	assert_non_null(t);
	http_cancel(t);
	assert_int_equal(http_active(http), 0);
	assert_false(res.done);
	http_free(http);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_with_headers_and_body),
		cmocka_unit_test(test_streaming_chunks),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_cancel_runs_no_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
