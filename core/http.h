/* http: asynchronous HTTP requests on the loop, through libcurl's multi
 * interface. Every watch stream and sink request of herald goes through
 * here. Never includes lua.h: requests arrive as plain C. */
#ifndef HERALD_HTTP_H
#define HERALD_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include "loop.h"

struct http;
struct http_transfer;

struct http_request {
	const char *method;            /* "GET", "POST", ... */
	const char *url;
	const char *const *headers;    /* "Name: value" lines */
	size_t nheaders;
	const char *body;              /* copied by http_start, unless body_given */
	size_t body_len;
	bool body_given;               /* body was malloc'd: http_start takes it (even
	                                * when it fails) and wipes it when done */
	long timeout_ms;               /* whole transfer; 0 = none (watch streams) */
	long connect_timeout_ms;
	const char *ca_file;
	const char *ca_pem;            /* CA certificates as PEM bytes */
	size_t ca_pem_len;
	const char *cert_file, *key_file;      /* client certificate */
	const char *cert_pem, *key_pem;        /* ... or as PEM bytes */
	size_t cert_pem_len, key_pem_len;
	const char *username, *password;       /* basic auth */
	const char *connect_to;        /* "host:port:real-host:real-port" (tls-server-name) */
	bool insecure;                 /* skip TLS verification (never the default) */
	/* Streaming: when set, body bytes of a 2xx answer go here as they
	 * arrive instead of being collected into the response (another
	 * answer's body, such as an error Status, is collected for done). Return HTTP_DATA_STOP to end the
	 * transfer (done then runs with an error), HTTP_DATA_PAUSE to have the
	 * same bytes offered again after http_resume. */
	int (*on_data)(void *arg, const char *data, size_t len);
};

enum { HTTP_DATA_OK, HTTP_DATA_STOP, HTTP_DATA_PAUSE };

struct http_response {
	long status;                   /* 0 when no response arrived */
	const char *body;              /* collected body (not for streaming) */
	size_t body_len;
	const char *error;             /* transport error, or NULL */
	const char *retry_after;       /* Retry-After header value, or NULL */
};

typedef void (*http_done_cb)(void *arg, const struct http_response *r);

struct http *http_new(struct loop *loop);
void http_free(struct http *http);   /* cancels every transfer, no callbacks */

/* Starts a request; done runs once, from the loop, when it ends. Returns
 * NULL (logged) when the request could not be started. */
struct http_transfer *http_start(struct http *http, const struct http_request *req,
				 http_done_cb done, void *arg);
/* Resumes a transfer whose on_data asked for a pause. */
void http_resume(struct http_transfer *t);
/* Cancels a transfer: its done callback never runs. */
void http_cancel(struct http_transfer *t);
size_t http_active(const struct http *http);

#endif
