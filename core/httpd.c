/* httpd: owns the listening socket, the connections it accepted and the
 * timer that ends slow ones. Never blocks and never calls into Lua; what a
 * path answers is the handler's. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define MAX_CONNS 64
#define MAX_REQUEST 16384

struct conn {
	struct httpd *d;
	int fd;
	struct buf in, out;
	size_t sent;
	bool responding;         /* the request is read; out is being written */
	uint64_t opened, active; /* loop ms: accepted; last byte read or written */
	struct conn *next;
};

struct httpd {
	struct loop *loop;
	int fd, port, nconns;
	httpd_handler handler;
	void *arg;
	struct conn *conns;
	struct loop_timer *sweep;
	unsigned read_ms, idle_ms;
};

int httpd_parse(const char *data, size_t len, char method[8], char path[512])
{
	const char *end = memmem(data, len, "\r\n\r\n", 4);
	if (!end)
		end = memmem(data, len, "\n\n", 2);
	if (!end)
		return len > MAX_REQUEST ? 431 : 0;
	/* The request line: METHOD SP TARGET SP VERSION */
	/* The terminator holds a \n at end[0] or end[1]: the line ends by then. */
	const char *p = data, *line_end = memchr(data, '\n', (size_t)(end - data) + 2);
	size_t m = 0;
	while (p < line_end && *p != ' ' && m < 7)
		method[m++] = *p++;
	method[m] = '\0';
	if (m == 0 || p >= line_end || *p != ' ')
		return 400;
	while (p < line_end && *p == ' ')
		p++;
	size_t n = 0;
	while (p < line_end && *p != ' ' && *p != '\r' && *p != '\n') {
		if (n == 511 || (unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return 400;
		path[n++] = *p++;
	}
	path[n] = '\0';
	if (n == 0 || path[0] != '/')
		return 400;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return 405;
	char *query = strchr(path, '?');
	if (query)
		*query = '\0';
	return 200;
}

static void conn_close(struct conn *c)
{
	struct httpd *d = c->d;
	loop_fd_unwatch(d->loop, c->fd);
	close(c->fd);
	for (struct conn **p = &d->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	buf_free(&c->in);
	buf_free(&c->out);
	d->nconns--;
	free(c);
}

static void on_writable(struct loop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;
	while (c->sent < c->out.len) {
		ssize_t n = write(fd, c->out.data + c->sent, c->out.len - c->sent);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->sent += (size_t)n;
		c->active = loop_now(loop);
	}
	conn_close(c);
}

static void respond(struct conn *c, int status, const char *type, const struct buf *body)
{
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
			   : status == 431 ? "Request Header Fields Too Large" : status == 503 ? "Service Unavailable"
			   : "Bad Request";
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		   status, reason, type, body ? body->len : 0);
	if (body && body->len)
		buf_append(&c->out, body->data, body->len);
	c->responding = true;
	loop_fd_watch(c->d->loop, c->fd, LOOP_WRITE, on_writable, c);
}

static void on_readable(struct loop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0 || buf_append(&c->in, chunk, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	c->active = loop_now(loop);
	char method[8], path[512];
	int status = httpd_parse(c->in.data, c->in.len, method, path);
	if (status == 0)
		return;
	if (status != 200) {
		respond(c, status, "text/plain", NULL);
		return;
	}
	struct buf body = BUF_INIT;
	const char *type = "text/plain; charset=utf-8";
	status = c->d->handler(c->d->arg, path, &body, &type);
	if (strcmp(method, "HEAD") == 0)
		buf_reset(&body);
	respond(c, status, type, &body);
	buf_free(&body);
}

/* Ends connections past their deadlines: a request not read in full
 * within read_ms of the accept, or no byte either way for idle_ms. */
static void on_sweep(struct loop *loop, void *arg)
{
	struct httpd *d = arg;
	uint64_t now = loop_now(loop);
	for (struct conn *c = d->conns, *next; c; c = next) {
		next = c->next;
		if (now - c->active >= d->idle_ms || (!c->responding && now - c->opened >= d->read_ms))
			conn_close(c);
	}
	if (d->conns)
		loop_timer_start(d->sweep, (d->idle_ms < d->read_ms ? d->idle_ms : d->read_ms) / 4 + 1);
}

/* When every slot is taken: the connection still sending its request that
 * has been quiet longest, so a flood of slow clients cannot keep /healthz
 * out. NULL when all are being answered. */
static struct conn *oldest_idle(struct httpd *d)
{
	struct conn *oldest = NULL;
	for (struct conn *c = d->conns; c; c = c->next)
		if (!c->responding && (!oldest || c->active <= oldest->active))
			oldest = c;
	return oldest;
}

static void on_accept(struct loop *loop, int fd, int events, void *arg)
{
	struct httpd *d = arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (d->nconns >= MAX_CONNS) {
			struct conn *victim = oldest_idle(d);
			if (!victim) {
				close(cfd);
				continue;
			}
			conn_close(victim);
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c || loop_fd_watch(loop, cfd, LOOP_READ, on_readable, c) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		c->d = d;
		c->fd = cfd;
		c->opened = c->active = loop_update_time(loop);
		c->next = d->conns;
		d->conns = c;
		d->nconns++;
		if (!loop_timer_active(d->sweep))
			loop_timer_start(d->sweep, (d->idle_ms < d->read_ms ? d->idle_ms : d->read_ms) / 4 + 1);
	}
}

struct httpd *httpd_new(struct loop *loop, const char *addr, httpd_handler handler, void *arg)
{
	const char *colon = strrchr(addr, ':');
	if (!colon) {
		log_error("listen address %s: want host:port", addr);
		return NULL;
	}
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (host[0] == '[') { /* [::1]:9090 */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0) {
		log_error("listen address %s: %s", addr, gai_strerror(rc));
		return NULL;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		log_error("listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return NULL;
	}
	freeaddrinfo(res);
	struct httpd *d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		return NULL;
	}
	d->loop = loop;
	d->fd = fd;
	d->handler = handler;
	d->arg = arg;
	d->read_ms = HTTPD_READ_MS;
	d->idle_ms = HTTPD_IDLE_MS;
	if (!(d->sweep = loop_timer_new(loop, on_sweep, d))) {
		close(fd);
		free(d);
		return NULL;
	}
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &salen);
	d->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
						  : ((struct sockaddr_in *)&sa)->sin_port);
	if (loop_fd_watch(loop, fd, LOOP_READ, on_accept, d) < 0) {
		httpd_free(d);
		return NULL;
	}
	return d;
}

int httpd_port(const struct httpd *d) { return d->port; }

void httpd_set_timeouts(struct httpd *d, unsigned read_ms, unsigned idle_ms)
{
	d->read_ms = read_ms;
	d->idle_ms = idle_ms;
}

void httpd_free(struct httpd *d)
{
	if (!d)
		return;
	while (d->conns)
		conn_close(d->conns);
	loop_timer_free(d->sweep);
	loop_fd_unwatch(d->loop, d->fd);
	close(d->fd);
	free(d);
}
