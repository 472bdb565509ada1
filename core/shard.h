/* shard: M clusters shared out across N replicas. Each cluster has its own
 * Lease (core/lease.h) named <prefix>-<cluster>; a replica holds at most
 * ceil(M/N) of them.
 *
 * How replicas learn N: one more Lease, <prefix>.members, whose annotation
 * herald/members lists "identity=beat" for every replica. Each replica
 * rewrites it every retry period (an update on the resourceVersion it
 * read, so concurrent writers never lose each other's entries), putting a
 * new beat for itself and dropping the entries whose beat it has not seen
 * change for a lease duration (the same observed-time rule as the
 * election: no wall clocks compared). Counting the holders of the cluster
 * Leases would not do: a replica that holds nothing would be invisible,
 * and one replica holding everything would never give any up. A Lease
 * per replica would need `list` and `delete` (pod names change with every
 * rollout); one shared object needs only get/create/update.
 *
 * The share: with q = M / N and r = M % N, the live members sorted by
 * clusters held (most first, then identity) get q + 1 for the first r and
 * q for the rest; ties to the current holders keep clusters where they
 * are (a replica joining takes only the surplus, a rolling update moves
 * little). A replica over its share steps down from the surplus (the
 * caller writes the checkpoint, then shard_handoff_done releases the
 * Lease); one under it becomes a candidate for as many free or expired
 * clusters as it lacks, starting at an offset of its own so replicas do
 * not all race for the same one. A replica that died stops beating and
 * stops renewing: within a lease duration (plus a retry period of
 * observation) it drops out of N and its Leases expire, and the others
 * take them. Leaving on purpose: shard_leave drops the member entry and
 * hands back every cluster, so the others take over at their next read.
 *
 * M = 1 (a single-cluster deployment) skips the members Lease: the one
 * cluster's share is 1 for every N, so its election is the whole story.
 *
 * Pure logic: no I/O, no clock of its own, as core/lease.h. */
#ifndef HERALD_SHARD_H
#define HERALD_SHARD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lease.h"

#define SHARD_MEMBERS ((size_t)-1)  /* the target of a members request */

struct shard_config {
	const char *namespace;       /* where the Leases live: herald's own */
	const char *identity;        /* the pod name */
	const char *prefix;          /* Lease names: "<prefix>-<cluster>", "<prefix>.members" */
	const char *const *clusters; /* the --cluster names, M of them */
	size_t nclusters;
	uint64_t duration_ms, renew_deadline_ms, retry_ms; /* as lease_config */
	uint64_t seed;
};

struct shard_request {
	size_t target;               /* the cluster's index, or SHARD_MEMBERS */
	const char *lease;           /* the Lease's name (POST goes to the collection) */
	enum lease_op op;            /* LEASE_GET, LEASE_CREATE or LEASE_UPDATE */
	const char *body;            /* CREATE/UPDATE; valid until the next shard_next */
};

struct shard_stats {
	unsigned long member_conflicts, member_failures, bad_members;
};

struct shard;

/* 0, or -1 with why (lease_config_check's rules, no clusters, a prefix
 * that makes no valid Lease name, two clusters on one Lease name). */
int shard_config_check(const struct shard_config *c, char *err, size_t errlen);
/* Copies what it needs from c. NULL when memory ran out. */
struct shard *shard_new(const struct shard_config *c);
void shard_free(struct shard *s);

/* Rebalances, then fills out[] with up to max requests to start now (at
 * most one in flight per Lease: max = M + 1 asks everything due) and
 * returns how many; *wake is when to call again if no answer comes first. */
size_t shard_next(struct shard *s, uint64_t now_ms, int64_t wall_us, struct shard_request *out, size_t max,
		  uint64_t *wake);
/* The answer to a request from shard_next (see lease_done). */
void shard_done(struct shard *s, size_t target, uint64_t now_ms, enum lease_result r, const char *body,
		size_t len);

/* Cluster i: deliver only while this is true (ask before each delivery). */
bool shard_may_deliver(struct shard *s, size_t i, uint64_t now_ms);
enum lease_state shard_state(struct shard *s, size_t i, uint64_t now_ms);
/* A new term: load the checkpoint before delivering. */
unsigned shard_term(const struct shard *s, size_t i);
/* Cluster i is LEASE_STEPPING_DOWN and its checkpoint is written: hand
 * the Lease back. */
void shard_handoff_done(struct shard *s, size_t i);
struct lease *shard_lease(struct shard *s, size_t i);

/* Shutting down: leave the members list and step down from every cluster
 * (each still needs shard_handoff_done). */
void shard_leave(struct shard *s);
/* Everything handed back and the member entry gone (or given up on). */
bool shard_left(struct shard *s, uint64_t now_ms);

/* Live members this replica sees (itself included): N. */
size_t shard_members(struct shard *s, uint64_t now_ms);
/* Clusters this replica holds at now, and its share. */
size_t shard_held(struct shard *s, uint64_t now_ms);
size_t shard_share(struct shard *s, uint64_t now_ms);
const struct shard_stats *shard_stats(const struct shard *s);

/* The Lease name of a cluster: "<prefix>-<cluster>" when that is a valid
 * name, else lowercased with other bytes as '-' and a hash appended so two
 * clusters never share one. */
void shard_lease_name(const char *prefix, const char *cluster, char *out, size_t outlen);

#endif
