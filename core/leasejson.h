/* leasejson: a coordination.k8s.io/v1 Lease as JSON, both ways, in plain
 * C (no Lua state needed: the election runs beside the Lua host, not in
 * it). Reads the fields election needs from a Lease the apiserver
 * returned; writes the whole object herald sends with create (POST) or
 * update (PUT). herald owns its Leases entirely: a PUT replaces labels and
 * annotations that anyone else added. Times are MicroTime
 * ("2026-11-26T02:14:09.123456Z"), microseconds since the epoch in C. */
#ifndef HERALD_LEASEJSON_H
#define HERALD_LEASEJSON_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define LEASE_ID_MAX 254           /* a pod name is at most 253 bytes */
#define LEASE_RV_MAX 64
#define LEASE_MEMBERS_MAX 4096     /* the members annotation, bytes */
#define LEASE_MEMBERS_ANNOTATION "herald/members"

/* The election record of one Lease, plus what herald keeps beside it. */
struct lease_record {
	char holder[LEASE_ID_MAX];  /* spec.holderIdentity; "" when nobody */
	long duration_s;            /* spec.leaseDurationSeconds; 0 when absent */
	int64_t acquire_us;         /* spec.acquireTime; 0 when absent */
	int64_t renew_us;           /* spec.renewTime; 0 when absent */
	long transitions;           /* spec.leaseTransitions */
	char rv[LEASE_RV_MAX];      /* metadata.resourceVersion; "" to create */
	char members[LEASE_MEMBERS_MAX]; /* annotation herald/members; "" when absent */
};

/* Parses a Lease object (a body herald wrote has no resourceVersion: the
 * caller checks it on answers). 0, or -1 with the reason in err (not JSON, not an
 * object, a field of the wrong type, a holder or resourceVersion too
 * long, a time that is not RFC 3339). Unknown fields are skipped. */
int leasejson_parse(const char *text, size_t len, struct lease_record *out, char *err, size_t errlen);

/* Appends the Lease namespace/name holding rec to out: resourceVersion
 * when rec->rv is set (an update), the members annotation when set. */
int leasejson_write(struct buf *out, const char *ns, const char *name, const struct lease_record *rec);

/* Formats a MicroTime into out (at least 32 bytes). */
void leasejson_microtime(int64_t us, char *out, size_t outlen);
/* Parses RFC 3339 with an optional fraction (MicroTime, Time). 0 or -1. */
int leasejson_parse_time(const char *s, int64_t *us);

#endif
