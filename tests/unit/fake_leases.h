/* A fake coordination.k8s.io Lease store for the lease and shard tests:
 * GET / POST / PUT with the apiserver's rules that matter here (409 on a
 * stale resourceVersion or an existing name, 404, a new resourceVersion
 * on each write) and a switch to make it unreachable. */
#ifndef FAKE_LEASES_H
#define FAKE_LEASES_H
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "lease.h"
#include "leasejson.h"

#define FAKE_MAX 16

struct fake_api {
	struct { char name[256]; struct lease_record rec; } objs[FAKE_MAX];
	size_t n;
	long rv;
	unsigned long writes, reads;
	struct buf resp;
};

static inline struct lease_record *fake_find(struct fake_api *api, const char *name)
{
	for (size_t i = 0; i < api->n; i++)
		if (strcmp(api->objs[i].name, name) == 0)
			return &api->objs[i].rec;
	return NULL;
}

/* Answers one request; the response body is in api->resp. */
static inline enum lease_result fake_call(struct fake_api *api, const char *name, enum lease_op op, const char *body)
{
	struct lease_record in, *cur = fake_find(api, name);
	char err[128];
	buf_reset(&api->resp);
	if (op == LEASE_GET) {
		api->reads++;
		if (!cur)
			return LEASE_NOT_FOUND;
		leasejson_write(&api->resp, "herald", name, cur);
		return LEASE_OK;
	}
	if (leasejson_parse(body, strlen(body), &in, err, sizeof(err)) < 0) {
		fprintf(stderr, "fake api: bad body: %s\n", err);
		return LEASE_FAILED;
	}
	api->writes++;
	if (op == LEASE_CREATE) {
		if (cur)
			return LEASE_CONFLICT;
		snprintf(api->objs[api->n].name, sizeof(api->objs[0].name), "%s", name);
		cur = &api->objs[api->n++].rec;
	} else {
		if (!cur)
			return LEASE_NOT_FOUND;
		if (strcmp(in.rv, cur->rv) != 0)
			return LEASE_CONFLICT;
	}
	*cur = in;
	snprintf(cur->rv, sizeof(cur->rv), "%ld", ++api->rv);
	leasejson_write(&api->resp, "herald", name, cur);
	return LEASE_OK;
}

/* Another writer changes the object (its resourceVersion moves on). */
static inline void fake_touch(struct fake_api *api, const char *name)
{
	struct lease_record *cur = fake_find(api, name);
	if (cur)
		snprintf(cur->rv, sizeof(cur->rv), "%ld", ++api->rv);
}

#endif
