/* httpd: herald's own small HTTP listener for /metrics, /healthz, /readyz
 * and /status. GET only, one request per connection, bounded request size
 * and connection count; everything runs on the loop. */
#ifndef HERALD_HTTPD_H
#define HERALD_HTTPD_H
#include "buf.h"
#include "loop.h"

/* Fills body and content type for path; returns the HTTP status. */
typedef int (*httpd_handler)(void *arg, const char *path, struct buf *body, const char **content_type);

struct httpd;

/* addr: "host:port" (":8080" listens on every address). NULL (logged)
 * when it cannot listen. */
struct httpd *httpd_new(struct loop *loop, const char *addr, httpd_handler handler, void *arg);
int httpd_port(const struct httpd *d);
void httpd_free(struct httpd *d);

#endif
