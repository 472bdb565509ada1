/* kubeapi: a client of one cluster's API server over the shared http
 * client: its base URL (tls-server-name honoured), TLS and credentials
 * from a kubeconn, requests, and posting Events about herald itself. The
 * watches of a cluster, self-reported Events and leader election all go
 * through one kubeapi. */
#ifndef HERALD_KUBEAPI_H
#define HERALD_KUBEAPI_H
#include <stddef.h>
#include "http.h"
#include "kubeconfig.h"

struct kubeapi;

/* conn is borrowed and must outlive the client; name is for messages. */
struct kubeapi *kubeapi_new(struct http *http, struct kubeconn *conn, const char *name);
/* Cancels the Event posts still in flight (no callbacks). */
void kubeapi_free(struct kubeapi *api);

/* Starts req to path (with its query) with the connection's TLS and
 * credentials (refreshed first when they expire); req's url, headers and
 * TLS fields are set here. Returns NULL (logged) when it could not start. */
struct http_transfer *kubeapi_start(struct kubeapi *api, struct http_request *req, const char *path,
				    http_done_cb done, void *arg);
/* The server said 401: fetch the credentials again before the next request. */
void kubeapi_unauthorized(struct kubeapi *api);

/* POSTs a JSON object to path; a failure is logged, not returned. */
void kubeapi_post(struct kubeapi *api, const char *path, const char *json);
/* Posts a core/v1 Event about herald's own Pod (POD_NAME, POD_NAMESPACE
 * and POD_UID from the downward API); nothing outside a pod. */
void kubeapi_post_event(struct kubeapi *api, const char *type, const char *reason, const char *message);

/* What to check after a 401, by the credential the connection sends: its
 * kind and where it comes from (never its value), and whether it may have
 * expired. */
void kubeapi_unauthorized_hint(const struct kubeapi *api, char *out, size_t len);
/* The server's URL as the kubeconfig gives it (for messages). */
const char *kubeapi_server(const struct kubeapi *api);

/* A short, single-line excerpt of an answer's body (a Status message). */
void kubeapi_excerpt(const struct http_response *r, char *out, size_t len);

#endif
