/* httpd: herald's own small HTTP listener for /metrics, /healthz, /readyz
 * and /status. GET only, one request per connection, bounded request size
 * and connection count; everything runs on the loop. A client has
 * HTTPD_READ_MS to send its request and is dropped after HTTPD_IDLE_MS
 * without a byte either way; when all 64 slots are taken, a new client
 * takes the slot of the request that has been quiet longest, so slow or
 * half-open clients cannot keep a liveness probe out. */
#ifndef HERALD_HTTPD_H
#define HERALD_HTTPD_H
#include <stddef.h>
#include "buf.h"
#include "loop.h"

/* Fills body and content type for path; returns the HTTP status. */
typedef int (*httpd_handler)(void *arg, const char *path, struct buf *body, const char **content_type);

struct httpd;

#define HTTPD_READ_MS 10000
#define HTTPD_IDLE_MS 5000

/* Parses the request at the start of data (len bytes, need not end in
 * NUL). Returns 0 when it is not complete yet, 200 for a GET or HEAD
 * (method and path filled, the query cut off), else the status to answer:
 * 400 (malformed), 405 (another method), 431 (too large). */
int httpd_parse(const char *data, size_t len, char method[8], char path[512]);

/* addr: "host:port" (":8080" listens on every address). NULL (logged)
 * when it cannot listen. */
struct httpd *httpd_new(struct loop *loop, const char *addr, httpd_handler handler, void *arg);
int httpd_port(const struct httpd *d);
/* Replaces HTTPD_READ_MS and HTTPD_IDLE_MS (tests). */
void httpd_set_timeouts(struct httpd *d, unsigned read_ms, unsigned idle_ms);
void httpd_free(struct httpd *d);

#endif
