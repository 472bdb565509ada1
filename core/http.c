/* http: owns the CURLM handle and one CURL easy handle per transfer. The
 * loop tells curl about socket readiness and timeouts; curl tells the loop
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION). Per-transfer state rides in CURLOPT_PRIVATE. */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"

struct http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;
	size_t active;
	struct http_transfer *transfers;   /* every live transfer */
	int in_action;                     /* inside curl_multi_socket_action */
	CURL *deferred[64];                /* started from a callback: added after it */
	int ndeferred;
};

struct http_transfer {
	struct http *http;
	struct http_transfer *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	struct buf response;
	char *retry_after;
	http_done_cb done;
	void *arg;
	int (*on_data)(void *arg, const char *data, size_t len);
	struct curl_slist *connect_to;
	char error[CURL_ERROR_SIZE];
};

static void check_done(struct http *http);

/* libcurl refuses curl_multi_add_handle from inside its own callbacks
 * (CURLM_RECURSIVE_API_CALL), and a write callback may well start a
 * request (a full queue flushes to an HTTP sink). Such transfers wait
 * here until curl has returned. */
static void add_deferred(struct http *http)
{
	for (int i = 0; i < http->ndeferred; i++)
		curl_multi_add_handle(http->multi, http->deferred[i]);
	http->ndeferred = 0;
}

static void socket_action(struct http *http, curl_socket_t fd, int mask)
{
	int running;
	http->in_action++;
	curl_multi_socket_action(http->multi, fd, mask, &running);
	http->in_action--;
	check_done(http);
	if (!http->in_action)
		add_deferred(http);
}

static void on_socket_ready(struct loop *loop, int fd, int events, void *arg)
{
	struct http *http = arg;
	int mask = (events & LOOP_READ ? CURL_CSELECT_IN : 0) | (events & LOOP_WRITE ? CURL_CSELECT_OUT : 0);
	socket_action(http, fd, mask);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *http = userp;
	if (what == CURL_POLL_REMOVE) {
		loop_fd_unwatch(http->loop, fd);
		return 0;
	}
	int events = (what & CURL_POLL_IN ? LOOP_READ : 0) | (what & CURL_POLL_OUT ? LOOP_WRITE : 0);
	if (loop_fd_watch(http->loop, fd, events, on_socket_ready, http) < 0)
		return -1;
	return 0;
}

static void on_timeout(struct loop *loop, void *arg)
{
	socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *http = userp;
	if (timeout_ms < 0)
		loop_timer_stop(http->timer);
	else
		loop_timer_start(http->timer, (uint64_t)timeout_ms);
	return 0;
}

struct http *http_new(struct loop *loop)
{
	static bool global_done;
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	struct http *http = calloc(1, sizeof(*http));
	if (!http)
		return NULL;
	http->loop = loop;
	http->multi = curl_multi_init();
	http->timer = loop_timer_new(loop, on_timeout, http);
	if (!http->multi || !http->timer) {
		http_free(http);
		return NULL;
	}
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(http->multi, CURLMOPT_SOCKETDATA, http);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(http->multi, CURLMOPT_TIMERDATA, http);
	return http;
}

/* Bodies may hold a robot's signature or a token: wiped before free. */
static void free_body(struct http_transfer *t)
{
	if (t->body)
		explicit_bzero(t->body, t->body_len);
	free(t->body);
	t->body = NULL;
}

static void transfer_free(struct http_transfer *t)
{
	for (int i = 0; i < t->http->ndeferred; i++)
		if (t->http->deferred[i] == t->easy) {
			t->http->deferred[i] = t->http->deferred[--t->http->ndeferred];
			break;
		}
	if (t->prev)
		t->prev->next = t->next;
	else
		t->http->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	curl_multi_remove_handle(t->http->multi, t->easy);
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->connect_to);
	free_body(t);
	free(t->retry_after);
	buf_free(&t->response);
	t->http->active--;
	free(t);
}

void http_free(struct http *http)
{
	if (!http)
		return;
	while (http->transfers)
		transfer_free(http->transfers);
	if (http->multi)
		curl_multi_cleanup(http->multi);
	loop_timer_free(http->timer);
	free(http);
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_transfer *t = userp;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (t->on_data && status >= 200 && status <= 299) {
		switch (t->on_data(t->arg, data, len)) {
		case HTTP_DATA_PAUSE:
			return CURL_WRITEFUNC_PAUSE;
		case HTTP_DATA_STOP:
			return 0;
		default:
			return len;
		}
	}
	if (buf_append(&t->response, data, len) < 0)
		return 0; /* out of memory: curl fails the transfer */
	return len;
}

static size_t header_cb(char *line, size_t size, size_t n, void *userp)
{
	struct http_transfer *t = userp;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
		const char *v = line + sizeof(name) - 1;
		size_t vlen = len - (sizeof(name) - 1);
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		free(t->retry_after);
		t->retry_after = strndup(v, vlen);
	}
	return len;
}

struct http_transfer *http_start(struct http *http, const struct http_request *req,
				 http_done_cb done, void *arg)
{
	struct http_transfer *t = calloc(1, sizeof(*t));
	if (!t) {
		if (req->body_given)
			free((char *)req->body);
		return NULL;
	}
	t->http = http;
	if (req->body_given) {
		t->body = (char *)req->body;
		t->body_len = req->body_len;
	}
	t->done = done;
	t->arg = arg;
	t->on_data = req->on_data;
	t->easy = curl_easy_init();
	http->active++;
	if (!t->easy)
		goto fail;
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "herald/" HERALD_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 req->connect_timeout_ms ? req->connect_timeout_ms : 10000L);
	/* No CA of its own: the system's, or SSL_CERT_FILE as OpenSSL reads
	 * it (a sink configured by kube-eventer's flags has no ca_file). */
	const char *ca_env = getenv("SSL_CERT_FILE");
	if (req->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	else if (!req->ca_pem && ca_env && *ca_env)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_env);
	if (req->ca_pem) {
		struct curl_blob blob = { (void *)req->ca_pem, req->ca_pem_len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (req->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, req->cert_file);
	if (req->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, req->key_file);
	if (req->cert_pem) {
		struct curl_blob blob = { (void *)req->cert_pem, req->cert_pem_len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (req->key_pem) {
		struct curl_blob blob = { (void *)req->key_pem, req->key_pem_len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (req->username) {
		curl_easy_setopt(e, CURLOPT_USERNAME, req->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (req->connect_to) {
		t->connect_to = curl_slist_append(NULL, req->connect_to);
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
	}
	if (req->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		struct curl_slist *h = curl_slist_append(t->headers, req->headers[i]);
		if (!h)
			goto fail;
		t->headers = h;
	}
	if (req->body) {
		if (!t->body) {
			if (!(t->body = malloc(req->body_len ? req->body_len : 1)))
				goto fail;
			memcpy(t->body, req->body, req->body_len);
			t->body_len = req->body_len;
		}
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	const char *method = req->method ? req->method : "GET";
	if (strcmp(method, "GET") == 0 && !req->body)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (t->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	if (http->in_action) {
		if (http->ndeferred == (int)(sizeof(http->deferred) / sizeof(*http->deferred)))
			goto fail;
		http->deferred[http->ndeferred++] = e;
	} else if (curl_multi_add_handle(http->multi, e) != CURLM_OK) {
		goto fail;
	}
	t->next = http->transfers;
	if (t->next)
		t->next->prev = t;
	http->transfers = t;
	return t;
fail:
	log_error("http: cannot start %s request", req->method ? req->method : "GET");
	if (t->easy)
		curl_easy_cleanup(t->easy);
	t->easy = NULL;
	curl_slist_free_all(t->headers);
	free_body(t);
	http->active--;
	free(t);
	return NULL;
}

static void check_done(struct http *http)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(http->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct http_transfer *t;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		struct http_response r = { 0 };
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
		if (msg->data.result != CURLE_OK)
			r.error = t->error[0] ? t->error : curl_easy_strerror(msg->data.result);
		r.body = t->response.data ? t->response.data : "";
		r.body_len = t->response.len;
		r.retry_after = t->retry_after;
		t->done(t->arg, &r);
		transfer_free(t);
	}
}

void http_resume(struct http_transfer *t)
{
	if (!t)
		return;
	/* Unpausing delivers the held bytes at once, through the write
	 * callback: requests started there are deferred too. */
	struct http *http = t->http;
	http->in_action++;
	curl_easy_pause(t->easy, CURLPAUSE_CONT);
	http->in_action--;
	if (!http->in_action)
		add_deferred(http);
}

void http_cancel(struct http_transfer *t)
{
	if (t)
		transfer_free(t);
}

size_t http_active(const struct http *http) { return http->active; }
