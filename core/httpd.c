/* httpd: owns the listening socket and the connections it accepted. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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
	struct conn *next;
};

struct httpd {
	struct loop *loop;
	int fd, port, nconns;
	httpd_handler handler;
	void *arg;
	struct conn *conns;
};

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
	loop_fd_watch(c->d->loop, c->fd, LOOP_WRITE, on_writable, c);
}

static void on_readable(struct loop *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	buf_append(&c->in, chunk, (size_t)n);
	if (!strstr(c->in.data, "\r\n\r\n") && !strstr(c->in.data, "\n\n")) {
		if (c->in.len > MAX_REQUEST)
			respond(c, 431, "text/plain", NULL);
		return;
	}
	char method[8], path[512];
	if (sscanf(c->in.data, "%7s %511s", method, path) != 2) {
		respond(c, 400, "text/plain", NULL);
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(c, 405, "text/plain", NULL);
		return;
	}
	char *query = strchr(path, '?');
	if (query)
		*query = '\0';
	struct buf body = BUF_INIT;
	const char *type = "text/plain; charset=utf-8";
	int status = c->d->handler(c->d->arg, path, &body, &type);
	if (strcmp(method, "HEAD") == 0)
		buf_reset(&body);
	respond(c, status, type, &body);
	buf_free(&body);
}

static void on_accept(struct loop *loop, int fd, int events, void *arg)
{
	struct httpd *d = arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		if (d->nconns >= MAX_CONNS) {
			close(cfd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c || loop_fd_watch(loop, cfd, LOOP_READ, on_readable, c) < 0) {
			free(c);
			close(cfd);
			continue;
		}
		c->d = d;
		c->fd = cfd;
		c->next = d->conns;
		d->conns = c;
		d->nconns++;
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
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
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

void httpd_free(struct httpd *d)
{
	if (!d)
		return;
	while (d->conns)
		conn_close(d->conns);
	loop_fd_unwatch(d->loop, d->fd);
	close(d->fd);
	free(d);
}
