/* kubeapi: owns the base URL of one API server and the Event posts in
 * flight; borrows the kubeconn and the http client. Knows nothing of
 * watches, events routing or Lua. */
#include "kubeapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"
#include "log.h"

struct post {
	struct kubeapi *api;
	struct http_transfer *xfer;
	struct post *next;
};

struct kubeapi {
	struct http *http;
	struct kubeconn *conn;
	char *name;
	char target[256];              /* connect_to for tls-server-name */
	char base_url[512];            /* scheme://host:port, no path */
	struct post *posts;            /* in flight */
};

/* The server URL, with its host replaced by tls-server-name when set (and
 * connect_to pointing at the real host), so TLS checks the right name. */
static void build_base(struct kubeapi *api)
{
	const struct kubeconn *c = api->conn;
	const char *server = c->server;
	api->target[0] = '\0';
	const char *host = strstr(server, "://");
	if (c->tls_server_name && host) {
		host += 3;
		const char *colon = strrchr(host, ':');
		const char *bracket = strrchr(host, ']');
		const char *port = colon && (!bracket || colon > bracket) ? colon + 1 : "443";
		size_t hostlen = colon && (!bracket || colon > bracket) ? (size_t)(colon - host) : strlen(host);
		snprintf(api->target, sizeof(api->target), "%s:%s:%.*s:%s", c->tls_server_name, port,
			 (int)hostlen, host, port);
		snprintf(api->base_url, sizeof(api->base_url), "https://%s:%s", c->tls_server_name, port);
	} else {
		snprintf(api->base_url, sizeof(api->base_url), "%s", server);
	}
}

struct kubeapi *kubeapi_new(struct http *http, struct kubeconn *conn, const char *name)
{
	struct kubeapi *api = calloc(1, sizeof(*api));
	if (!api || !(api->name = strdup(name))) {
		free(api);
		return NULL;
	}
	api->http = http;
	api->conn = conn;
	build_base(api);
	return api;
}

const char *kubeapi_server(const struct kubeapi *api)
{
	return api->conn->server ? api->conn->server : "";
}

void kubeapi_free(struct kubeapi *api)
{
	if (!api)
		return;
	while (api->posts) {
		struct post *p = api->posts;
		api->posts = p->next;
		http_cancel(p->xfer);
		free(p);
	}
	free(api->name);
	free(api);
}

/* Fills the TLS and auth parts of a request from the connection. */
static int prepare(struct kubeapi *api, struct http_request *req, const char **headers, size_t *nheaders,
		   struct buf *auth)
{
	struct kubeconn *c = api->conn;
	char err[256];
	if (kubeconn_refresh(c, false, err, sizeof(err)) < 0) {
		log_error("cluster %s: credentials: %s", api->name, err);
		return -1;
	}
	req->ca_file = c->ca_file;
	req->ca_pem = c->ca_data;
	req->ca_pem_len = c->ca_len;
	req->insecure = c->insecure;
	req->cert_file = c->cert_file;
	req->key_file = c->key_file;
	req->cert_pem = c->exec_cert ? c->exec_cert : c->cert_data;
	req->cert_pem_len = c->exec_cert ? c->exec_cert_len : c->cert_len;
	req->key_pem = c->exec_key ? c->exec_key : c->key_data;
	req->key_pem_len = c->exec_key ? c->exec_key_len : c->key_len;
	req->username = c->username;
	req->password = c->password;
	req->connect_to = api->target[0] ? api->target : NULL;
	*nheaders = 0;
	headers[(*nheaders)++] = "Accept: application/json";
	if (c->bearer) {
		buf_reset(auth);
		buf_printf(auth, "Authorization: Bearer %s", c->bearer);
		headers[(*nheaders)++] = auth->data;
	}
	if (req->body)
		headers[(*nheaders)++] = "Content-Type: application/json";
	req->headers = headers;
	req->nheaders = *nheaders;
	return 0;
}

struct http_transfer *kubeapi_start(struct kubeapi *api, struct http_request *req, const char *path,
				    http_done_cb done, void *arg)
{
	const char *headers[4];
	size_t nheaders;
	struct buf auth = BUF_INIT, url = BUF_INIT;
	struct http_transfer *t = NULL;
	if (prepare(api, req, headers, &nheaders, &auth) == 0) {
		buf_printf(&url, "%s%s", api->base_url, path);
		req->url = url.data;
		t = http_start(api->http, req, done, arg);
	}
	if (auth.data)
		explicit_bzero(auth.data, auth.len);
	buf_free(&auth);
	buf_free(&url);
	return t;
}

void kubeapi_unauthorized(struct kubeapi *api)
{
	char err[256];
	kubeconn_refresh(api->conn, true, err, sizeof(err));
}

void kubeapi_unauthorized_hint(const struct kubeapi *api, char *out, size_t len)
{
	const struct kubeconn *c = api->conn;
	if (c->exec)
		snprintf(out, len, "the credential the kubeconfig user's exec plugin (%s) gives: run it by hand "
			 "and see whether it is valid and not expired", c->exec->command);
	else if (c->token_file)
		snprintf(out, len, "the token in %s (re-read after each 401): has it expired, or was its "
			 "service account or secret deleted?", c->token_file);
	else if (c->token)
		snprintf(out, len, "the kubeconfig user's token: has it expired or been revoked?");
	else if (c->cert_file || c->cert_data)
		snprintf(out, len, "the kubeconfig user's client certificate: has it expired, and was it "
			 "signed by the cluster's CA?");
	else if (c->username)
		snprintf(out, len, "the kubeconfig user's username and password");
	else
		snprintf(out, len, "the kubeconfig user: it gives no credentials (no token, client "
			 "certificate or exec plugin)");
}

void kubeapi_excerpt(const struct http_response *r, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)(r->body_len < 200 ? r->body_len : 200), r->body ? r->body : "");
	for (char *p = out; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static void on_post_done(void *arg, const struct http_response *r)
{
	struct post *p = arg;
	struct kubeapi *api = p->api;
	if (r->error || r->status < 200 || r->status > 299) {
		char body[256];
		kubeapi_excerpt(r, body, sizeof(body));
		log_warn("cluster %s: posting an event failed: %s %s", api->name,
			 r->error ? r->error : "HTTP", r->error ? "" : body);
	}
	for (struct post **pp = &api->posts; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
}

void kubeapi_post(struct kubeapi *api, const char *path, const char *json)
{
	struct http_request req = { .method = "POST", .timeout_ms = 30000, .body = json,
				    .body_len = strlen(json) };
	struct post *p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->api = api;
	if (!(p->xfer = kubeapi_start(api, &req, path, on_post_done, p))) {
		free(p);
		return;
	}
	p->next = api->posts;
	api->posts = p;
}

void kubeapi_post_event(struct kubeapi *api, const char *type, const char *reason, const char *message)
{
	const char *pod = getenv("POD_NAME"), *ns = getenv("POD_NAMESPACE"), *uid = getenv("POD_UID");
	if (!pod || !*pod || !ns || !*ns)
		return;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct buf body = BUF_INIT, path = BUF_INIT;
	buf_printf(&body, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":\"herald-\"},"
		   "\"involvedObject\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"namespace\":");
	json_append_string(&body, ns, strlen(ns));
	buf_printf(&body, ",\"name\":");
	json_append_string(&body, pod, strlen(pod));
	if (uid && *uid) {
		buf_printf(&body, ",\"uid\":");
		json_append_string(&body, uid, strlen(uid));
	}
	buf_printf(&body, "},\"reason\":");
	json_append_string(&body, reason, strlen(reason));
	buf_printf(&body, ",\"type\":");
	json_append_string(&body, type, strlen(type));
	buf_printf(&body, ",\"message\":");
	json_append_string(&body, message, strlen(message));
	buf_printf(&body, ",\"source\":{\"component\":\"herald\"},\"reportingComponent\":\"herald\","
		   "\"reportingInstance\":");
	json_append_string(&body, pod, strlen(pod));
	buf_printf(&body, ",\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\",\"count\":1}", now, now);
	buf_printf(&path, "/api/v1/namespaces/%s/events", ns);
	kubeapi_post(api, path.data, body.data);
	buf_free(&body);
	buf_free(&path);
}
