/* watchgen: a watch-stream generator for herald's benchmarks, and the
 * local servers they write to.
 *
 *   watchgen PORT EVENTS_PER_STREAM FIXTURES.jsonl [RATE_PER_SECOND]
 *   watchgen bulk PORT       a search engine that accepts, counts and discards documents
 *   watchgen robot PORT      a DingTalk robot that answers every message errcode 0
 *
 * WATCHGEN_ONLY=Warning streams only the fixtures of that type.
 * WATCHGEN_LOG=1 prints every request line (and its Accept header) on stderr;
 * requests for paths it does not serve are printed always.
 *
 * Speaks the part of the Kubernetes API that herald and client-go's
 * informers use, on 127.0.0.1, in JSON: discovery (/version, /api, /apis,
 * /api/v1), a list of events (an empty EventList at resourceVersion 1,
 * whatever limit is asked), and a watch (?watch=1 or ?watch=true). A watch
 * from resourceVersion 0 or 1 streams EVENTS_PER_STREAM realistic Events
 * (the fixtures, 1-2 KB each, each with a unique name, uid and
 * resourceVersion) as fast as the reader takes them (or at RATE_PER_SECOND,
 * for latency), then stays open; a watch resumed from a later version gets
 * nothing more. With a rate, each event's uid carries its send time
 * (lat-<ns>) for latency. A client that accepts no JSON is answered 406.
 *
 * Bulk mode answers as Elasticsearch 7 / OpenSearch 2 would for what the
 * benchmarked programs ask: HEAD (index exists), GET / (the version),
 * PUT and POST /_aliases (acknowledged), GET <index>/_alias (the alias
 * WATCHGEN_ALIAS, if set), POST _bulk (no errors) and POST <index>/_doc.
 * It counts the documents it received (a bulk body's lines / 2, one per
 * _doc); GET /_watchgen/documents answers that count. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEMPLATES 64
#define NAME_SUFFIX 16        /* the hex after the last '.' of an Event's name */

/* One fixture: pre NAME-SUFFIX mid UID mid2 RV post. */
struct tmpl { char *pre, *mid, *mid2, *post; bool suffix; };
static struct tmpl templates[MAX_TEMPLATES];
static int ntemplates;
static long per_stream;
static long rate;
static long next_stream;
static bool robot;            /* bulk mode answers as a DingTalk robot */
static bool verbose;
static atomic_long documents; /* bulk mode: documents received */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void load_templates(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); exit(1); }
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0 && ntemplates < MAX_TEMPLATES) {
		/* core/v1 fixtures only: they carry "name":"...","uid":"...","resourceVersion":"..." in metadata */
		char *name = strstr(line, "\"name\":\"");
		char *uid = strstr(line, "\"uid\":\"");
		char *rv = strstr(line, "\"resourceVersion\":\"");
		if (!name || !uid || !rv || name > uid || rv < uid || strstr(line, "\"regarding\""))
			continue;
		const char *only = getenv("WATCHGEN_ONLY");
		char want[64];
		snprintf(want, sizeof(want), "\"type\":\"%s\"", only ? only : "");
		if (only && *only && !strstr(line, want))
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *name_end = strchr(name + 8, '"');
		char *uid_end = strchr(uid + 7, '"');
		char *rv_end = strchr(rv + 19, '"');
		struct tmpl *t = &templates[ntemplates++];
		/* Real Event names end in ".<16 hex digits>": that part is made
		 * unique (same length), as informers key their cache by name. */
		t->suffix = name_end - (name + 8) > NAME_SUFFIX && name_end[-NAME_SUFFIX - 1] == '.';
		char *cut = t->suffix ? name_end - NAME_SUFFIX : name_end;
		t->pre = strndup(line, (size_t)(cut - line));
		t->mid = strndup(name_end, (size_t)(uid + 7 - name_end));
		t->mid2 = strndup(uid_end, (size_t)(rv + 19 - uid_end));
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

/* Waits until the client closes the connection (a watch stays open). */
static void hold(int fd)
{
	char sink[4096];
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

static void stream(int fd, long id, bool events)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
	if (write_all(fd, head, sizeof(head) - 1))
		return;
	size_t cap = 1 << 20, len = 0;
	char *out = malloc(cap);
	long long start = now_ns();
	for (long i = 0; events && i < per_stream; i++) {
		const struct tmpl *t = &templates[i % ntemplates];
		char uid[64], suffix[NAME_SUFFIX + 1] = "";
		if (rate) {
			long long due = start + (long long)(i * (1e9 / (double)rate));
			while (now_ns() < due)
				;
			snprintf(uid, sizeof(uid), "lat-%lld", now_ns());
		} else {
			snprintf(uid, sizeof(uid), "s%ld-%ld", id, i);
		}
		if (t->suffix)
			snprintf(suffix, sizeof(suffix), "%016lx", ((unsigned long)id << 40) | (unsigned long)i);
		size_t need = strlen(t->pre) + strlen(t->mid) + strlen(t->mid2) + strlen(t->post) + 160;
		if (len + need > cap) {
			if (chunk(fd, out, len)) goto out;
			len = 0;
		}
		len += (size_t)sprintf(out + len, "{\"type\":\"ADDED\",\"object\":%s%s%s%s%s%ld%s}\n",
				       t->pre, suffix, t->mid, uid, t->mid2, i + 2, t->post);
		if (rate) {
			if (chunk(fd, out, len)) goto out;
			len = 0;
		}
	}
	if (len)
		chunk(fd, out, len);
out:
	free(out);
	hold(fd);
}

/* Reads one request head into req (size cap); 0, or -1 when the client is
 * gone. *head is the head's length; *got counts what was read past it too. */
static int read_head(int fd, char *req, size_t cap, size_t *got, size_t *head)
{
	char *end;
	while (!(end = memmem(req, *got, "\r\n\r\n", 4))) {
		if (*got >= cap - 1)
			return -1;
		ssize_t n = read(fd, req + *got, cap - 1 - *got);
		if (n <= 0)
			return -1;
		*got += (size_t)n;
	}
	req[*got] = '\0';
	*head = (size_t)(end - req) + 4;
	return 0;
}

/* The value of header NAME in a request head, copied into out. */
static const char *header(const char *req, size_t head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	out[0] = '\0';
	for (const char *p = strstr(req, "\r\n"); p && (size_t)(p - req) < head; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			v += strspn(v, " ");
			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
			return out;
		}
	}
	return NULL;
}

static int respond(int fd, int status, const char *reason, const char *extra, const char *body, bool head_only)
{
	char resp[512];
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n",
			 status, reason, extra, strlen(body));
	return write_all(fd, resp, (size_t)n) || (!head_only && write_all(fd, body, strlen(body)));
}

/* The query parameter NAME's value (up to '&', ' ') or NULL. */
static const char *param(const char *query, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	for (const char *p = query; p && *p && *p != ' '; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			snprintf(out, cap, "%.*s", (int)strcspn(p + n + 1, "& "), p + n + 1);
			return out;
		}
	}
	return NULL;
}

static const char *discovery(const char *path)
{
	if (strcmp(path, "/version") == 0)
		return "{\"major\":\"1\",\"minor\":\"36\",\"gitVersion\":\"v1.36.3\",\"platform\":\"linux/amd64\"}";
	if (strcmp(path, "/api") == 0)
		return "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],\"serverAddressByClientCIDRs\":"
		       "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"127.0.0.1\"}]}";
	if (strcmp(path, "/apis") == 0)
		return "{\"kind\":\"APIGroupList\",\"apiVersion\":\"v1\",\"groups\":[]}";
	if (strcmp(path, "/api/v1") == 0)
		return "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":[{\"name\":\"events\","
		       "\"singularName\":\"event\",\"namespaced\":true,\"kind\":\"Event\",\"verbs\":[\"create\",\"delete\","
		       "\"deletecollection\",\"get\",\"list\",\"patch\",\"update\",\"watch\"],\"shortNames\":[\"ev\"]}]}";
	return NULL;
}

static bool is_events(const char *path)
{
	size_t n = strlen(path);
	return n >= 7 && strcmp(path + n - 7, "/events") == 0;
}

/* API mode: one connection, keep-alive, until a watch takes it over. */
static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char req[8192], method[16], target[4096], accept[256], v[64];
	size_t got = 0, head;
	while (read_head(fd, req, sizeof(req), &got, &head) == 0) {
		if (sscanf(req, "%15s %4095s", method, target) != 2)
			break;
		header(req, head, "Accept", accept, sizeof(accept));
		memmove(req, req + head, got - head);   /* GETs carry no body */
		got -= head;
		char *query = strchr(target, '?');
		if (query)
			*query++ = '\0';
		if (verbose)
			fprintf(stderr, "watchgen: %s %s%s%s (Accept: %s)\n", method, target, query ? "?" : "",
				query ? query : "", *accept ? accept : "-");
		if (*accept && !strstr(accept, "json") && !strstr(accept, "*/*")) {
			fprintf(stderr, "watchgen: %s %s accepts no JSON (Accept: %s): 406\n", method, target, accept);
			respond(fd, 406, "Not Acceptable", "", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":406}", false);
			continue;
		}
		const char *w = param(query, "watch", v, sizeof(v));
		bool watch = strncmp(target, "/api/v1/watch/", 14) == 0 || (w && (!strcmp(w, "1") || !strcmp(w, "true")));
		if (strcmp(method, "GET") == 0 && is_events(target) && watch) {
			const char *rv = param(query, "resourceVersion", v, sizeof(v));
			bool fresh = !rv || !*rv || atol(rv) <= 1;
			pthread_mutex_lock(&lock);
			long id = next_stream++;
			pthread_mutex_unlock(&lock);
			stream(fd, id, fresh);
			break;
		}
		const char *body = strcmp(method, "GET") ? NULL : discovery(target);
		if (!body && strcmp(method, "GET") == 0 && is_events(target))
			body = "{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]}";
		if (body) {
			if (respond(fd, 200, "OK", "", body, false))
				break;
			continue;
		}
		fprintf(stderr, "watchgen: not served: %s %s%s%s\n", method, target, query ? "?" : "", query ? query : "");
		if (respond(fd, 404, "Not Found", "", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}", false))
			break;
	}
	close(fd);
	return NULL;
}

static size_t count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		lines++;
	return lines;
}

/* The answer to a bulk-mode request, its status in *status. */
static const char *bulk_answer(const char *method, const char *path, char *own, size_t cap, int *status)
{
	*status = 200;
	if (robot)
		return "{\"errcode\":0,\"errmsg\":\"ok\"}";
	if (strcmp(method, "GET") == 0 && strcmp(path, "/_watchgen/documents") == 0) {
		snprintf(own, cap, "%ld", atomic_load(&documents));
		return own;
	}
	if (strcmp(method, "GET") == 0 && strcmp(path, "/") == 0)
		return "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.19.6\"}}";
	const char *alias = strstr(path, "/_alias");
	if (strcmp(method, "GET") == 0 && alias) {
		const char *name = getenv("WATCHGEN_ALIAS");
		if (!name || alias == path)
			return "{}";
		snprintf(own, cap, "{\"%.*s\":{\"aliases\":{\"%s\":{}}}}", (int)(alias - path - 1), path + 1, name);
		return own;
	}
	if (strcmp(method, "PUT") == 0 || strncmp(path, "/_aliases", 9) == 0)
		return "{\"acknowledged\":true}";
	if (strstr(path, "/_doc") || strstr(path, "/_create")) {
		*status = 201;
		return "{\"result\":\"created\"}";
	}
	return "{\"errors\":false}";
}

/* bulk mode: keep-alive, one thread per connection; bodies are read and
 * discarded, their documents counted. */
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
		char method[16] = "", path[1024] = "", v[64];
		sscanf(buf, "%15s %1023s", method, path);
		path[strcspn(path, "?")] = '\0';
		if (header(buf, head, "Content-Length", v, sizeof(v)))
			body = (size_t)atol(v);
		if (verbose && strncmp(path, "/_watchgen/", 11) != 0)
			fprintf(stderr, "watchgen bulk: %s %s (%zu bytes)\n", method, path, body);
		if (header(buf, head, "Expect", v, sizeof(v)) && strcasecmp(v, "100-continue") == 0 &&
		    write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
			goto out;
		bool bulk = strstr(path, "/_bulk") != NULL;
		/* The body: what is already buffered, then the rest, discarded. */
		size_t buffered = got - head < body ? got - head : body;
		size_t rest = body - buffered, lines = bulk ? count_lines(buf + head, buffered) : 0;
		char scratch[65536];
		while (rest) {
			ssize_t n = read(fd, scratch, rest < sizeof(scratch) ? rest : sizeof(scratch));
			if (n <= 0)
				goto out;
			if (bulk)
				lines += count_lines(scratch, (size_t)n);
			rest -= (size_t)n;
		}
		size_t need = head + buffered;   /* what this request used of buf */
		char own[1200];
		int status;
		const char *answer = bulk_answer(method, path, own, sizeof(own), &status);
		if (bulk)
			atomic_fetch_add(&documents, (long)(lines / 2));
		else if (status == 201)
			atomic_fetch_add(&documents, 1);
		if (respond(fd, status, status == 201 ? "Created" : "OK", "X-Elastic-Product: Elasticsearch\r\n", answer,
			    strcmp(method, "HEAD") == 0))
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
	verbose = getenv("WATCHGEN_LOG") && *getenv("WATCHGEN_LOG");
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
