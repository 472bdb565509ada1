/* watchgen: a watch-stream generator for herald's benchmarks.
 *
 *   watchgen PORT EVENTS_PER_STREAM FIXTURES.jsonl [RATE_PER_SECOND]
 *   watchgen bulk PORT       a search engine that accepts and discards bulk bodies
 *   watchgen robot PORT      a DingTalk robot that answers every message errcode 0
 *
 * WATCHGEN_ONLY=Warning streams only the fixtures of that type.
 *
 * Speaks the part of the Kubernetes API herald uses, on 127.0.0.1:
 * a list answers an empty EventList; the first watch of each connection
 * streams EVENTS_PER_STREAM realistic Events (the fixtures, 1-2 KB each,
 * with unique uid, name and resourceVersion) as fast as the reader takes
 * them (or at RATE_PER_SECOND, for latency), then stays open. With a rate,
 * each event's uid carries its send time (lat-<ns>) for latency. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEMPLATES 64

struct tmpl { char *pre, *mid, *post; };   /* pre UID mid RV post */
static struct tmpl templates[MAX_TEMPLATES];
static int ntemplates;
static long per_stream;
static long rate;
static long next_stream;
static bool robot;            /* bulk mode answers as a DingTalk robot */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void load_templates(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); exit(1); }
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0 && ntemplates < MAX_TEMPLATES) {
		/* core/v1 fixtures only: they carry "uid":"...","resourceVersion":"..." in metadata */
		char *uid = strstr(line, "\"uid\":\"");
		char *rv = strstr(line, "\"resourceVersion\":\"");
		if (!uid || !rv || rv < uid || strstr(line, "\"regarding\""))
			continue;
		const char *only = getenv("WATCHGEN_ONLY");
		char want[64];
		snprintf(want, sizeof(want), "\"type\":\"%s\"", only ? only : "");
		if (only && *only && !strstr(line, want))
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *uid_end = strchr(uid + 7, '"');
		char *rv_end = strchr(rv + 19, '"');
		struct tmpl *t = &templates[ntemplates++];
		t->pre = strndup(line, (size_t)(uid + 7 - line));
		t->mid = strndup(uid_end, (size_t)(rv + 19 - uid_end));
		t->post = strdup(rv_end);
	}
	free(line);
	fclose(f);
	if (!ntemplates) { fprintf(stderr, "no templates in %s\n", path); exit(1); }
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0) return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int chunk(int fd, const char *p, size_t n)
{
	char head[32];
	int h = snprintf(head, sizeof(head), "%zx\r\n", n);
	return write_all(fd, head, (size_t)h) || write_all(fd, p, n) || write_all(fd, "\r\n", 2);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void stream(int fd, long id)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
	if (write_all(fd, head, sizeof(head) - 1))
		return;
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	long long start = now_ns();
	for (long i = 0; i < per_stream; i++) {
		const struct tmpl *t = &templates[i % ntemplates];
		char uid[64];
		if (rate) {
			long long due = start + (long long)(i * (1e9 / (double)rate));
			while (now_ns() < due)
				;
			snprintf(uid, sizeof(uid), "lat-%lld", now_ns());
		} else {
			snprintf(uid, sizeof(uid), "s%ld-%ld", id, i);
		}
		size_t need = strlen(t->pre) + strlen(t->mid) + strlen(t->post) + 128;
		if (len + need > cap) {
			if (chunk(fd, out, len)) goto out;
			len = 0;
		}
		len += (size_t)sprintf(out + len, "{\"type\":\"ADDED\",\"object\":%s%s%s%ld%s}\n",
				       t->pre, uid, t->mid, i + 2, t->post);
		if (rate) {
			if (chunk(fd, out, len)) goto out;
			len = 0;
		}
	}
	if (len)
		chunk(fd, out, len);
out:
	free(out);
	pause(); /* stay open: herald would re-watch from the last version */
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char req[8192];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0) { close(fd); return NULL; }
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n")) break;
	}
	if (strstr(req, "watch=1")) {
		pthread_mutex_lock(&lock);
		long id = next_stream++;
		pthread_mutex_unlock(&lock);
		stream(fd, id);
	} else {
		static const char body[] = "{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}";
		char resp[512];
		int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
				 sizeof(body) - 1, body);
		write_all(fd, resp, (size_t)n);
		/* keep-alive: herald's next request (the watch) may come on this connection */
		got = 0;
		for (;;) {
			ssize_t m = read(fd, req + got, sizeof(req) - 1 - got);
			if (m <= 0) { close(fd); return NULL; }
			got += (size_t)m;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n")) break;
		}
		pthread_mutex_lock(&lock);
		long id = next_stream++;
		pthread_mutex_unlock(&lock);
		stream(fd, id);
	}
	close(fd);
	return NULL;
}

/* bulk mode: answers GET / as OpenSearch 2.19 would, any PUT (templates)
 * with {"acknowledged":true}, and every POST _bulk with no errors, reading
 * and discarding the body. Keep-alive, one thread per connection. */
static void *serve_bulk(void *arg)
{
	int fd = (int)(long)arg;
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap);
	for (;;) {
		char *end;
		while (!(end = memmem(buf, got, "\r\n\r\n", 4))) {
			if (got == cap)
				buf = realloc(buf, cap *= 2);
			ssize_t n = read(fd, buf + got, cap - got);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		size_t head = (size_t)(end - buf) + 4, body = 0;
		char *cl = memmem(buf, head, "Content-Length:", 15);
		if (!cl)
			cl = memmem(buf, head, "content-length:", 15);
		if (cl)
			body = (size_t)atol(cl + 15);
		bool is_get = strncmp(buf, "GET ", 4) == 0, is_put = strncmp(buf, "PUT ", 4) == 0;
		/* The body: what is already buffered, then the rest, discarded. */
		size_t buffered = got - head < body ? got - head : body;
		size_t rest = body - buffered;
		char scratch[65536];
		while (rest) {
			ssize_t n = read(fd, scratch, rest < sizeof(scratch) ? rest : sizeof(scratch));
			if (n <= 0)
				goto out;
			rest -= (size_t)n;
		}
		size_t need = head + buffered;   /* what this request used of buf */
		static const char root[] = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.6\"}}";
		static const char ack[] = "{\"acknowledged\":true}";
		static const char ok[] = "{\"errors\":false}";
		static const char dingtalk[] = "{\"errcode\":0,\"errmsg\":\"ok\"}";
		const char *answer = robot ? dingtalk : is_get ? root : is_put ? ack : ok;
		char resp[256];
		int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
				 strlen(answer), answer);
		if (write_all(fd, resp, (size_t)n))
			goto out;
		memmove(buf, buf + need, got - need);
		got -= need;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	robot = argc == 3 && strcmp(argv[1], "robot") == 0;
	bool bulk = argc == 3 && (strcmp(argv[1], "bulk") == 0 || robot);
	if (argc < 4 && !bulk) {
		fprintf(stderr, "usage: watchgen PORT EVENTS_PER_STREAM FIXTURES.jsonl [RATE] | watchgen bulk|robot PORT\n");
		return 2;
	}
	if (bulk)
		argv++;
	else {
		per_stream = atol(argv[2]);
		load_templates(argv[3]);
		rate = argc > 4 ? atol(argv[4]) : 0;
	}
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 256)) { perror("listen"); return 1; }
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		pthread_create(&t, NULL, bulk ? serve_bulk : serve, (void *)(long)c);
		pthread_detach(t);
	}
}
