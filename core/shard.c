/* shard: the members Lease and the share of clusters. Owns one lease
 * machine per cluster and the members list as last read. Must not do I/O,
 * read a clock or log: as lease.c, callers pass time and send requests. */
#include "shard.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"

#define MAX_MEMBERS 64
#define NAME_MAX_LEN 253

struct member {
	char id[LEASE_ID_MAX];
	int64_t beat;
	uint64_t seen_ms;          /* when its beat last changed, as we saw it */
	size_t held;               /* scratch: clusters it holds */
};

struct cluster {
	struct lease *lease;
	char name[NAME_MAX_LEN + 1];
};

struct shard {
	char *namespace, *identity;
	char members_name[NAME_MAX_LEN + 1];
	struct cluster *clusters;
	size_t m;
	size_t offset;             /* where this replica starts looking for free clusters */
	uint64_t duration_ms, retry_ms;
	/* The members Lease. */
	struct member members[MAX_MEMBERS];
	size_t nmembers;
	struct member self;        /* scratch for the share */
	char rv[LEASE_RV_MAX];
	bool members_read, members_absent, want_get, inflight, leaving, left;
	bool writing_leave;        /* the write in flight drops our entry */
	int64_t beat;
	uint64_t next_ms, rng;
	struct buf body;
	struct shard_stats stats;
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* An object name as the apiserver wants it (RFC 1123 subdomain): at most
 * 253 bytes of dot-separated labels of a-z, 0-9 and '-', each starting
 * and ending with a letter or digit. */
static bool valid_name(const char *s)
{
	size_t len = strlen(s);
	if (!len || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';
		if (!name_char(s[i]) || (edge && (s[i] == '-' || s[i] == '.')))
			return false;
	}
	return true;
}

void shard_lease_name(const char *prefix, const char *cluster, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%s", prefix, cluster);
	if (valid_name(out))
		return;
	/* Lowercased, every other byte as '-', cut to leave room for "-" and
	 * 16 hex digits of the original name's hash: distinct and valid. */
	size_t room = outlen < NAME_MAX_LEN + 1 ? outlen : NAME_MAX_LEN + 1;
	size_t len = (size_t)snprintf(out, room, "%s-", prefix), plen = len;
	for (const char *p = cluster; *p && len + 18 < room; p++) {
		char c = (char)tolower((unsigned char)*p);
		out[len++] = c >= 'a' && c <= 'z' ? c : c >= '0' && c <= '9' ? c : '-';
	}
	while (len > plen && out[len - 1] == '-')
		len--;
	if (len + 18 > room)
		len = room > 18 ? room - 18 : 0;
	snprintf(out + len, room - len, "-%016" PRIx64, hash_string(cluster));
}

int shard_config_check(const struct shard_config *c, char *err, size_t errlen)
{
	if (!c->nclusters) {
		snprintf(err, errlen, "no clusters to share");
		return -1;
	}
	if (!c->prefix || !*c->prefix || strlen(c->prefix) > 200) {
		snprintf(err, errlen, "lease prefix must be 1 to 200 bytes");
		return -1;
	}
	if (!valid_name(c->prefix)) {
		snprintf(err, errlen, "lease prefix \"%s\": a-z, 0-9, '-' and '.', starting and ending "
			 "with a letter or digit", c->prefix);
		return -1;
	}
	struct lease_config lc = { c->namespace, c->prefix, c->identity, c->duration_ms, c->renew_deadline_ms,
				   c->retry_ms, c->seed };
	if (lease_config_check(&lc, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < c->nclusters; i++)
		for (size_t j = 0; j < i; j++) {
			char a[NAME_MAX_LEN + 1], b[NAME_MAX_LEN + 1];
			shard_lease_name(c->prefix, c->clusters[i], a, sizeof(a));
			shard_lease_name(c->prefix, c->clusters[j], b, sizeof(b));
			if (strcmp(a, b) == 0) {
				snprintf(err, errlen, "clusters \"%s\" and \"%s\" would share the Lease %s",
					 c->clusters[j], c->clusters[i], a);
				return -1;
			}
		}
	return 0;
}

struct shard *shard_new(const struct shard_config *c)
{
	struct shard *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->namespace = strdup(c->namespace);
	s->identity = strdup(c->identity);
	s->clusters = calloc(c->nclusters, sizeof(*s->clusters));
	if (!s->namespace || !s->identity || !s->clusters)
		goto fail;
	s->m = c->nclusters;
	s->duration_ms = c->duration_ms;
	s->retry_ms = c->retry_ms;
	s->offset = (size_t)(hash_string(c->identity) % s->m);
	s->rng = c->seed * 6364136223846793005ull + 1442695040888963407ull;
	s->want_get = true;
	/* A '.' where cluster Leases have "<prefix>-": no cluster's name
	 * can make a Lease of the same name. */
	snprintf(s->members_name, sizeof(s->members_name), "%s.members", c->prefix);
	for (size_t i = 0; i < s->m; i++) {
		struct cluster *k = &s->clusters[i];
		shard_lease_name(c->prefix, c->clusters[i], k->name, sizeof(k->name));
		struct lease_config lc = { c->namespace, k->name, c->identity, c->duration_ms,
					   c->renew_deadline_ms, c->retry_ms, c->seed + i + 1 };
		k->lease = lease_new(&lc);
		if (!k->lease)
			goto fail;
		lease_set_candidate(k->lease, s->m == 1);
	}
	return s;
fail:
	shard_free(s);
	return NULL;
}

void shard_free(struct shard *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->clusters && i < s->m; i++)
		lease_free(s->clusters[i].lease);
	free(s->clusters);
	free(s->namespace);
	free(s->identity);
	buf_free(&s->body);
	free(s);
}

static bool member_live(const struct shard *s, const struct member *m, uint64_t now)
{
	return now <= m->seen_ms + s->duration_ms;
}

/* Folds a members annotation into the table: new entries and changed
 * beats are seen at now; entries gone from it are dropped. */
static void read_members(struct shard *s, const char *text, uint64_t now)
{
	struct member next[MAX_MEMBERS];
	size_t n = 0;
	const char *p = text;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *eq = p, *end;
		while (*eq && *eq != '=' && *eq != ' ')
			eq++;
		char *num_end;
		long long beat = *eq == '=' ? strtoll(eq + 1, &num_end, 10) : 0;
		end = *eq == '=' ? num_end : eq;
		bool ok = *eq == '=' && eq > p && (size_t)(eq - p) < LEASE_ID_MAX && num_end > eq + 1 &&
			  (*end == ' ' || !*end);
		while (*end && *end != ' ')
			end++;
		if (!ok || n == MAX_MEMBERS) {
			s->stats.bad_members++;
			p = end;
			continue;
		}
		struct member *m = &next[n];
		memcpy(m->id, p, (size_t)(eq - p));
		m->id[eq - p] = '\0';
		m->beat = beat;
		m->seen_ms = now;
		m->held = 0;
		p = end;
		if (strcmp(m->id, s->identity) == 0)
			continue;     /* our own entry is ours to write, never to judge */
		for (size_t i = 0; i < s->nmembers; i++)
			if (strcmp(s->members[i].id, m->id) == 0 && s->members[i].beat == beat)
				m->seen_ms = s->members[i].seen_ms;
		n++;
	}
	memcpy(s->members, next, n * sizeof(*next));
	s->nmembers = n;
	s->members_read = true;
}

/* The live members, this replica first. */
static size_t live_members(struct shard *s, uint64_t now, struct member **out)
{
	size_t n = 0;
	snprintf(s->self.id, sizeof(s->self.id), "%s", s->identity);
	s->self.held = 0;
	out[n++] = &s->self;
	for (size_t i = 0; i < s->nmembers; i++)
		if (member_live(s, &s->members[i], now)) {
			s->members[i].held = 0;
			out[n++] = &s->members[i];
		}
	return n;
}

static int by_held_then_id(const void *a, const void *b)
{
	const struct member *x = *(struct member *const *)a, *y = *(struct member *const *)b;
	if (x->held != y->held)
		return x->held > y->held ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* This replica's share at now (0 when leaving). */
static size_t share(struct shard *s, uint64_t now)
{
	if (s->leaving)
		return 0;
	if (s->m == 1)
		return 1;
	struct member *live[MAX_MEMBERS + 1];
	size_t n = live_members(s, now, live);
	for (size_t i = 0; i < s->m; i++) {
		const char *h = lease_live_holder(s->clusters[i].lease, now);
		for (size_t j = 0; h && j < n; j++)
			if (strcmp(live[j]->id, h) == 0) {
				live[j]->held++;
				break;
			}
	}
	qsort(live, n, sizeof(*live), by_held_then_id);
	size_t q = s->m / n, r = s->m % n;
	for (size_t j = 0; j < n; j++)
		if (strcmp(live[j]->id, s->identity) == 0)
			return q + (j < r ? 1 : 0);
	return q;
}

/* Steps down from the surplus, and makes the lease machines candidates
 * for as many free clusters as this replica lacks. */
static void rebalance(struct shard *s, uint64_t now)
{
	size_t target = share(s, now), keep = 0;
	for (size_t i = 0; i < s->m; i++) {
		struct cluster *k = &s->clusters[i];
		if (lease_state(k->lease, now) == LEASE_LEADER)
			keep++;
	}
	/* Give away the highest-numbered first, the same choice every time. */
	for (size_t i = s->m; i-- > 0 && keep > target;) {
		struct cluster *k = &s->clusters[i];
		if (lease_state(k->lease, now) == LEASE_LEADER) {
			lease_stepdown(k->lease);
			lease_set_candidate(k->lease, false);
			keep--;
		}
	}
	size_t need = target > keep ? target - keep : 0;
	if (s->m > 1 && !s->members_read)
		need = 0;          /* N unknown yet: take nothing */
	struct member *live[MAX_MEMBERS + 1];
	size_t nlive = live_members(s, now, live);
	for (size_t j = 0; j < s->m; j++) {
		struct cluster *k = &s->clusters[(s->offset + j) % s->m];
		if (lease_held(k->lease, now))
			continue;
		const char *h = lease_live_holder(k->lease, now);
		/* Free, ours from before, or held by a replica no longer
		 * beating: the lease machine waits out its expiry. */
		bool free = true;
		for (size_t m = 0; h && m < nlive; m++)
			if (strcmp(live[m]->id, h) == 0)
				free = m == 0;

		bool want = need > 0 && free && lease_observed(k->lease);
		if (want && !lease_candidate(k->lease))
			lease_poke(k->lease);   /* read it now rather than next period */
		lease_set_candidate(k->lease, want);
		if (want)
			need--;
	}
}

static uint64_t jittered(struct shard *s)
{
	s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
	double u = (double)(s->rng >> 11) / (double)(1ull << 53);
	return s->retry_ms - (uint64_t)(u * 0.2 * (double)s->retry_ms);
}

/* The members annotation this replica writes: itself (unless leaving)
 * and every entry still live. */
static void members_body(struct shard *s, uint64_t now, int64_t wall_us)
{
	struct lease_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.rv, sizeof(r.rv), "%s", s->members_absent ? "" : s->rv);
	r.duration_s = (long)(s->duration_ms / 1000);
	r.renew_us = wall_us;
	int64_t beat = wall_us / 1000;
	s->beat = beat > s->beat ? beat : s->beat + 1;
	size_t len = 0;
	if (!s->leaving)
		len = (size_t)snprintf(r.members, sizeof(r.members), "%s=%" PRId64, s->identity, s->beat);
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *m = &s->members[i];
		if (!member_live(s, m, now))
			continue;
		int w = snprintf(r.members + len, sizeof(r.members) - len, "%s%s=%" PRId64, len ? " " : "", m->id,
				 m->beat);
		if (w < 0 || (size_t)w >= sizeof(r.members) - len) {
			r.members[len] = '\0';
			s->stats.bad_members++;   /* no room: the annotation's bound */
			break;
		}
		len += (size_t)w;
	}
	buf_reset(&s->body);
	if (leasejson_write(&s->body, s->namespace, s->members_name, &r) < 0)
		buf_reset(&s->body);
}

static bool members_request(struct shard *s, uint64_t now, int64_t wall_us, struct shard_request *out)
{
	if (s->m == 1 || s->left || s->inflight || now < s->next_ms)
		return false;
	out->target = SHARD_MEMBERS;
	out->lease = s->members_name;
	if (s->want_get) {
		out->op = LEASE_GET;
		out->body = NULL;
	} else {
		members_body(s, now, wall_us);
		s->writing_leave = s->leaving;
		out->op = s->members_absent ? LEASE_CREATE : LEASE_UPDATE;
		out->body = s->body.data ? s->body.data : "";
	}
	s->inflight = true;
	return true;
}

size_t shard_next(struct shard *s, uint64_t now, int64_t wall_us, struct shard_request *out, size_t max,
		  uint64_t *wake)
{
	size_t n = 0;
	*wake = UINT64_MAX;
	rebalance(s, now);
	if (n < max && members_request(s, now, wall_us, &out[n]))
		n++;
	if (s->m > 1 && !s->left && !s->inflight && s->next_ms < *wake)
		*wake = s->next_ms;
	/* A member dropping out changes the share: look again then. */
	for (size_t i = 0; i < s->nmembers; i++) {
		uint64_t t = s->members[i].seen_ms + s->duration_ms + 1;
		if (t > now && t < *wake)
			*wake = t;
	}
	for (size_t i = 0; i < s->m; i++) {
		struct lease_action a;
		if (n == max) {
			*wake = now;
			break;
		}
		lease_next(s->clusters[i].lease, now, wall_us, &a);
		if (a.op == LEASE_WAIT) {
			if (a.wake_ms < *wake)
				*wake = a.wake_ms;
			continue;
		}
		out[n++] = (struct shard_request){ i, s->clusters[i].name, a.op, a.body };
	}
	return n;
}

static void members_done(struct shard *s, uint64_t now, enum lease_result r, const char *body, size_t len)
{
	struct lease_record rec;
	char err[120];
	bool wrote = !s->want_get;
	s->inflight = false;
	if (r == LEASE_OK && (leasejson_parse(body ? body : "", body ? len : 0, &rec, err, sizeof(err)) < 0 ||
			      !rec.rv[0])) {
		s->stats.bad_members++;
		r = LEASE_FAILED;
	}
	switch (r) {
	case LEASE_OK:
		snprintf(s->rv, sizeof(s->rv), "%s", rec.rv);
		s->members_absent = false;
		read_members(s, rec.members, now);
		if (wrote && s->writing_leave)
			s->left = true;
		/* With two or more replicas beating, the resourceVersion of our
		 * own write is almost always stale by the next beat: read first
		 * (GET + PUT, not PUT + 409 + GET + PUT). */
		s->want_get = wrote;
		s->next_ms = wrote ? now + jittered(s) : now;
		return;
	case LEASE_NOT_FOUND:
		if (wrote) {          /* a write answered 404: the namespace is missing */
			s->stats.member_failures++;
			s->want_get = true;
			s->next_ms = now + jittered(s);
			return;
		}
		s->members_absent = true;
		s->members_read = true;
		s->nmembers = 0;
		s->want_get = false;
		s->next_ms = now;
		return;
	case LEASE_CONFLICT:
		s->stats.member_conflicts++;
		s->want_get = true;   /* another replica beat: read, then write again */
		s->next_ms = now;
		return;
	case LEASE_FAILED:
		s->stats.member_failures++;
		if (wrote && s->writing_leave)
			s->left = true;   /* give up: the entry expires in a duration */
		s->want_get = true;
		s->next_ms = now + jittered(s);
		return;
	}
}

void shard_done(struct shard *s, size_t target, uint64_t now, enum lease_result r, const char *body, size_t len)
{
	if (target == SHARD_MEMBERS)
		members_done(s, now, r, body, len);
	else if (target < s->m)
		lease_done(s->clusters[target].lease, now, r, body, len);
}

bool shard_may_deliver(struct shard *s, size_t i, uint64_t now)
{
	return i < s->m && lease_may_deliver(s->clusters[i].lease, now);
}

enum lease_state shard_state(struct shard *s, size_t i, uint64_t now)
{
	return lease_state(s->clusters[i].lease, now);
}

unsigned shard_term(const struct shard *s, size_t i)
{
	return lease_term(s->clusters[i].lease);
}

void shard_handoff_done(struct shard *s, size_t i)
{
	if (i < s->m)
		lease_release(s->clusters[i].lease);
}

struct lease *shard_lease(struct shard *s, size_t i)
{
	return i < s->m ? s->clusters[i].lease : NULL;
}

void shard_leave(struct shard *s)
{
	s->leaving = true;
	if (s->m == 1 || !s->members_read)
		s->left = true;       /* never written: nothing to take back */
	s->next_ms = 0;
	for (size_t i = 0; i < s->m; i++) {
		lease_set_candidate(s->clusters[i].lease, false);
		lease_stepdown(s->clusters[i].lease);
	}
}

bool shard_left(struct shard *s, uint64_t now)
{
	if (!s->left)
		return false;
	for (size_t i = 0; i < s->m; i++)
		if (lease_held(s->clusters[i].lease, now))
			return false;
	return true;
}

size_t shard_members(struct shard *s, uint64_t now)
{
	size_t n = 1;
	for (size_t i = 0; i < s->nmembers; i++)
		if (member_live(s, &s->members[i], now))
			n++;
	return n;
}

size_t shard_held(struct shard *s, uint64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < s->m; i++)
		if (lease_held(s->clusters[i].lease, now))
			n++;
	return n;
}

size_t shard_share(struct shard *s, uint64_t now)
{
	return share(s, now);
}

const struct shard_stats *shard_stats(const struct shard *s)
{
	return &s->stats;
}
