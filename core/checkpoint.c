/* checkpoint: per stream a frontier, and one open-addressing table (linear
 * probing, backward-shift deletion) of the events that are exceptions to
 * it or above it, keyed by (uid hash, rv). Owns its memory only; must not
 * do I/O, read a clock or log (see checkpoint.h for the reasoning and the
 * file format). */
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define MAGIC "herald-checkpoint "
#define LINE_MAX_BYTES 44   /* "i 63 <16 hex> <20 digits>\n" */

enum { ST_IN_FLIGHT = 1, ST_UNSENT = 2, ST_DONE = 3 };
#define OPAQUE 0x80          /* entry flag: rv is a hash, not a number */

struct entry {
	uint64_t uid;            /* 0 = empty slot (hash_string never returns 0) */
	uint64_t rv;             /* the number, or the rv's hash when OPAQUE */
	uint32_t seq;            /* ST_DONE: order of acknowledgement, for forgetting */
	uint16_t remaining;      /* ST_IN_FLIGHT: deliveries not acknowledged */
	uint8_t stream;
	uint8_t state;           /* ST_* | OPAQUE */
};

struct stream {
	char name[64];
	uint64_t frontier;
	bool known;              /* frontier is meaningful */
	bool numeric;            /* every rv so far compared as a number */
	bool listing;
	bool frozen;             /* a note was lost to memory: F must not move */
};

struct checkpoint {
	char cluster[128];
	size_t max_in_flight, max_exact;
	struct stream streams[CHECKPOINT_MAX_STREAMS];
	int nstreams;
	struct entry *table;
	size_t size, used;       /* size: a power of two; used <= size / 2 */
	size_t in_flight, unsent, exact;   /* entries in each state */
	uint32_t done_seq;
	uint64_t noted, saved;    /* events noted to sinks; the count at the last durable save */
	struct checkpoint_stats st;
};

/* Names go into a line: whitespace and control bytes become '_'. */
static void copy_name(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] <= ' ' ? '_' : src[i];
	dst[i] = '\0';
}

struct checkpoint *checkpoint_new(const char *cluster, size_t max_in_flight, size_t max_exact)
{
	struct checkpoint *ck = calloc(1, sizeof(*ck));
	if (!ck)
		return NULL;
	copy_name(ck->cluster, sizeof(ck->cluster), cluster ? cluster : "");
	ck->max_in_flight = max_in_flight ? max_in_flight : 1;
	ck->max_exact = max_exact ? max_exact : 1;
	ck->size = 64;
	if (!(ck->table = calloc(ck->size, sizeof(*ck->table)))) {
		free(ck);
		return NULL;
	}
	return ck;
}

void checkpoint_free(struct checkpoint *ck)
{
	if (!ck)
		return;
	free(ck->table);
	free(ck);
}

int checkpoint_stream(struct checkpoint *ck, const char *name)
{
	char clean[64];
	copy_name(clean, sizeof(clean), name ? name : "");
	for (int i = 0; i < ck->nstreams; i++)
		if (strcmp(ck->streams[i].name, clean) == 0)
			return i;
	if (ck->nstreams == CHECKPOINT_MAX_STREAMS)
		return -1;
	struct stream *s = &ck->streams[ck->nstreams];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, clean, sizeof(clean));
	s->numeric = true;
	return ck->nstreams++;
}

static struct stream *stream_at(const struct checkpoint *ck, int i)
{
	return i >= 0 && i < ck->nstreams ? (struct stream *)&ck->streams[i] : NULL;
}

/* ---------------------------------------------------------------- keys */

/* A decimal without leading zeros that fits 64 bits: an etcd revision. */
static bool parse_rv(const char *rv, uint64_t *out)
{
	if (!rv || !*rv || (rv[0] == '0' && rv[1]) || strlen(rv) > 20)
		return false;
	uint64_t v = 0;
	for (const char *p = rv; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

struct key {
	uint64_t uid, rv;
	uint8_t opaque;          /* OPAQUE or 0 */
};

static struct key key_of(const char *uid, const char *rv)
{
	struct key k = { hash_string(uid ? uid : ""), 0, 0 };
	if (!parse_rv(rv, &k.rv)) {
		k.rv = hash_string(rv ? rv : "");
		k.opaque = OPAQUE;
	}
	return k;
}

static size_t slot_of(const struct checkpoint *ck, uint64_t uid, uint64_t rv)
{
	uint64_t h = uid ^ (rv * 0x9e3779b97f4a7c15ull);
	h ^= h >> 31;
	return (size_t)h & (ck->size - 1);
}

static bool same(const struct entry *e, int stream, const struct key *k)
{
	return e->uid == k->uid && e->rv == k->rv && e->stream == stream && (e->state & OPAQUE) == k->opaque;
}

/* The entry for k, or NULL; *slot is where it is or would go. */
static struct entry *find(const struct checkpoint *ck, int stream, const struct key *k, size_t *slot)
{
	size_t mask = ck->size - 1, i = slot_of(ck, k->uid, k->rv);
	for (; ck->table[i].uid; i = (i + 1) & mask)
		if (same(&ck->table[i], stream, k))
			break;
	if (slot)
		*slot = i;
	return ck->table[i].uid ? &ck->table[i] : NULL;
}

static void count(struct checkpoint *ck, const struct entry *e, int delta)
{
	int st = e->state & ~OPAQUE;
	size_t *n = st == ST_DONE ? &ck->exact : st == ST_UNSENT ? &ck->unsent : &ck->in_flight;
	*n += (size_t)delta;
	ck->used += (size_t)delta;
}

static void remove_at(struct checkpoint *ck, size_t i)
{
	size_t mask = ck->size - 1;
	count(ck, &ck->table[i], -1);
	ck->table[i].uid = 0;
	for (size_t j = (i + 1) & mask; ck->table[j].uid; j = (j + 1) & mask) {
		size_t home = slot_of(ck, ck->table[j].uid, ck->table[j].rv);
		/* Move j back to i when i lies cyclically in [home, j). */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			ck->table[i] = ck->table[j];
			ck->table[j].uid = 0;
			i = j;
		}
	}
}

/* Rehashes into `size` slots, leaving out entries `drop` says to. */
static int rebuild(struct checkpoint *ck, size_t size, bool (*drop)(const struct checkpoint *, const struct entry *, const void *),
		   const void *arg)
{
	struct entry *old = ck->table, *next = calloc(size, sizeof(*next));
	size_t old_size = ck->size;
	if (!next)
		return -1;
	ck->table = next;
	ck->size = size;
	ck->used = ck->in_flight = ck->unsent = ck->exact = 0;
	for (size_t i = 0; i < old_size; i++) {
		if (!old[i].uid || (drop && drop(ck, &old[i], arg)))
			continue;
		size_t j = slot_of(ck, old[i].uid, old[i].rv);
		while (next[j].uid)
			j = (j + 1) & (size - 1);
		next[j] = old[i];
		count(ck, &next[j], 1);
	}
	free(old);
	return 0;
}

static bool too_old(const struct checkpoint *ck, const struct entry *e, const void *arg)
{
	uint32_t keep = *(const uint32_t *)arg;
	return (e->state & ~OPAQUE) == ST_DONE && ck->done_seq - e->seq > keep;
}

/* Inserts a new entry for k (not present). -1 when out of memory. */
static struct entry *insert(struct checkpoint *ck, int stream, const struct key *k, int state)
{
	if ((ck->used + 1) * 2 > ck->size && rebuild(ck, ck->size * 2, NULL, NULL) < 0)
		return NULL;
	size_t slot;
	find(ck, stream, k, &slot);
	struct entry *e = &ck->table[slot];
	*e = (struct entry){ .uid = k->uid, .rv = k->rv, .stream = (uint8_t)stream, .state = (uint8_t)(state | k->opaque) };
	count(ck, e, 1);
	return e;
}

/* The exact set keeps its newest max_exact entries: past the bound the
 * oldest eighth is forgotten at once (one pass, not one per insert). */
static void bound_exact(struct checkpoint *ck)
{
	if (ck->exact <= ck->max_exact)
		return;
	size_t before = ck->exact;
	uint32_t keep = (uint32_t)(ck->max_exact - ck->max_exact / 8);
	if (keep == 0)
		keep = 1;
	if (rebuild(ck, ck->size, too_old, &keep) == 0)
		ck->st.forgotten += before - ck->exact;
}

static bool covered(const struct stream *s, const struct key *k)
{
	return s->numeric && s->known && !k->opaque && k->rv <= s->frontier;
}

/* ---------------------------------------------------------------- events */

enum checkpoint_answer checkpoint_check(const struct checkpoint *ck, int stream, const char *uid, const char *rv)
{
	const struct stream *s = stream_at(ck, stream);
	if (!s)
		return CHECKPOINT_NEW;
	struct key k = key_of(uid, rv);
	const struct entry *e = find(ck, stream, &k, NULL);
	if (e) {
		switch (e->state & ~OPAQUE) {
		case ST_IN_FLIGHT: return CHECKPOINT_IN_FLIGHT;
		case ST_DONE: return CHECKPOINT_DELIVERED;
		default: return CHECKPOINT_NEW;   /* unsent before a restart */
		}
	}
	return covered(s, &k) ? CHECKPOINT_DELIVERED : CHECKPOINT_NEW;
}

static void advance(struct stream *s, uint64_t rv)
{
	if (s->frozen || !s->numeric)
		return;
	if (!s->known || rv > s->frontier)
		s->frontier = rv;
	s->known = true;
}

static void go_opaque(struct stream *s)
{
	s->numeric = false;
	s->known = false;
}

int checkpoint_note(struct checkpoint *ck, int stream, const char *uid, const char *rv, unsigned sinks)
{
	struct stream *s = stream_at(ck, stream);
	if (!s)
		return -1;
	struct key k = key_of(uid, rv);
	if (k.opaque)
		go_opaque(s);
	if (sinks) {
		struct entry *e = find(ck, stream, &k, NULL);
		if (e && (e->state & ~OPAQUE) != ST_IN_FLIGHT) {
			count(ck, e, -1);
			e->state = (uint8_t)(ST_IN_FLIGHT | k.opaque);
			e->remaining = 0;
			count(ck, e, 1);
		} else if (!e && !(e = insert(ck, stream, &k, ST_IN_FLIGHT))) {
			ck->st.out_of_memory++;
			s->frozen = true;
			return -1;
		}
		ck->noted++;
		unsigned n = e->remaining + sinks;
		e->remaining = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	}
	if (!s->listing && !k.opaque)
		advance(s, k.rv);
	return 0;
}

struct checkpoint_id checkpoint_id_of(int stream, const char *uid, const char *rv)
{
	struct key k = key_of(uid, rv);
	return (struct checkpoint_id){ k.uid, k.rv, (int16_t)stream, k.opaque };
}

int checkpoint_ack_id(struct checkpoint *ck, const struct checkpoint_id *id, bool dead)
{
	struct stream *s = stream_at(ck, id->stream);
	struct key k = { id->uid, id->rv, (uint8_t)(id->flags & OPAQUE) };
	size_t slot;
	struct entry *e = s ? find(ck, id->stream, &k, &slot) : NULL;
	if (!e || (e->state & ~OPAQUE) != ST_IN_FLIGHT || e->remaining == 0) {
		ck->st.unknown_acks++;
		return -1;
	}
	if (dead)
		ck->st.dead_lettered++;
	if (--e->remaining)
		return 0;
	if (covered(s, &k)) {
		remove_at(ck, slot);   /* F covers it now that it is no exception */
		return 1;
	}
	count(ck, e, -1);
	e->state = (uint8_t)(ST_DONE | k.opaque);
	e->seq = ++ck->done_seq;
	count(ck, e, 1);
	bound_exact(ck);
	return 1;
}

int checkpoint_ack(struct checkpoint *ck, int stream, const char *uid, const char *rv, bool dead)
{
	struct checkpoint_id id = checkpoint_id_of(stream, uid, rv);
	return checkpoint_ack_id(ck, &id, dead);
}

/* ---------------------------------------------------------------- lists */

static void store_went_back(struct checkpoint *ck, struct stream *s, const char *list_rv)
{
	uint64_t v;
	if (!list_rv || !s->numeric || !s->known || s->frozen || !parse_rv(list_rv, &v) || v >= s->frontier)
		return;
	s->frontier = v;
	ck->st.store_resets++;
}

void checkpoint_list_begin(struct checkpoint *ck, int stream, const char *list_rv)
{
	struct stream *s = stream_at(ck, stream);
	if (!s)
		return;
	s->listing = true;
	store_went_back(ck, s, list_rv);
}

struct list_end {
	int stream;
};

static bool stale(const struct checkpoint *ck, const struct entry *e, const void *arg)
{
	const struct list_end *le = arg;
	if (e->stream != le->stream)
		return false;
	int st = e->state & ~OPAQUE;
	struct key k = { e->uid, e->rv, (uint8_t)(e->state & OPAQUE) };
	return st == ST_UNSENT || (st == ST_DONE && covered(&ck->streams[le->stream], &k));
}

void checkpoint_list_done(struct checkpoint *ck, int stream, const char *list_rv)
{
	struct stream *s = stream_at(ck, stream);
	if (!s)
		return;
	s->listing = false;
	uint64_t v;
	if (list_rv && parse_rv(list_rv, &v)) {
		store_went_back(ck, s, list_rv);
		advance(s, v);
	} else if (list_rv) {
		go_opaque(s);
	}
	struct list_end le = { stream };
	rebuild(ck, ck->size, stale, &le);   /* out of memory: the stale ones stay, harmless */
}

void checkpoint_progress(struct checkpoint *ck, int stream, const char *rv)
{
	struct stream *s = stream_at(ck, stream);
	uint64_t v;
	if (!s || s->listing)
		return;
	if (parse_rv(rv, &v))
		advance(s, v);
	else
		go_opaque(s);
}

bool checkpoint_full(const struct checkpoint *ck)
{
	/* Unsent entries leave as the first list re-sends them or finds them
	 * gone: counting them could stop that list for good. */
	return ck->in_flight >= ck->max_in_flight;
}

uint64_t checkpoint_mark(const struct checkpoint *ck)
{
	return ck->noted;
}

void checkpoint_saved(struct checkpoint *ck, uint64_t mark)
{
	if (mark > ck->saved && mark <= ck->noted)
		ck->saved = mark;
}

uint64_t checkpoint_unsaved(const struct checkpoint *ck)
{
	return ck->noted - ck->saved;
}

void checkpoint_stats(const struct checkpoint *ck, struct checkpoint_stats *out)
{
	*out = ck->st;
	out->in_flight = ck->in_flight;
	out->unsent = ck->unsent;
	out->exact = ck->exact;
}

size_t checkpoint_size_bound(size_t max_in_flight, size_t max_exact, size_t streams)
{
	/* header + cluster line + stream lines + entries + end line */
	return 32 + 136 + streams * (7 + 3 + 64 + 21 + 3) + (max_in_flight + max_exact) * LINE_MAX_BYTES + 48;
}

/* ---------------------------------------------------------------- the file */

static int save_entry(struct buf *out, const struct entry *e)
{
	static const char tag[] = { 0, 'i', 'i', 'd' };
	int st = e->state & ~OPAQUE;
	if (e->state & OPAQUE)
		return buf_printf(out, "%c %u %016llx %016llx\n", tag[st] - 32, e->stream, (unsigned long long)e->uid,
				  (unsigned long long)e->rv);
	return buf_printf(out, "%c %u %016llx %llu\n", tag[st], e->stream, (unsigned long long)e->uid,
			  (unsigned long long)e->rv);
}

int checkpoint_save(const struct checkpoint *ck, struct buf *out)
{
	size_t start = out->len;
	int rc = buf_printf(out, "%s%d\ncluster %s\n", MAGIC, CHECKPOINT_VERSION, ck->cluster[0] ? ck->cluster : "-");
	size_t lines = 2;
	for (int i = 0; i < ck->nstreams && rc == 0; i++, lines++) {
		const struct stream *s = &ck->streams[i];
		char f[24] = "-";
		if (s->known && s->numeric)
			snprintf(f, sizeof(f), "%llu", (unsigned long long)s->frontier);
		rc = buf_printf(out, "stream %d %s %s %c\n", i, s->name[0] ? s->name : "-", f, s->numeric ? 'n' : 'o');
	}
	for (size_t i = 0; i < ck->size && rc == 0; i++)
		if (ck->table[i].uid) {
			rc = save_entry(out, &ck->table[i]);
			lines++;
		}
	if (rc == 0) {
		uint64_t sum = fnv1a(FNV_OFFSET, out->data + start, out->len - start);
		rc = buf_printf(out, "end %zu %016llx\n", lines, (unsigned long long)sum);
	}
	return rc;
}

/* line 0: the file as a whole. */
static int refuse(char *err, size_t errlen, const char *what, unsigned long line)
{
	if (line)
		snprintf(err, errlen, "checkpoint line %lu %s; ignoring the file", line, what);
	else
		snprintf(err, errlen, "checkpoint %s; ignoring it", what);
	return -1;
}

/* Reads the body lines (between the magic line and "end") into ck. */
static int load_lines(struct checkpoint *ck, const char *data, size_t len, char *err, size_t errlen)
{
	int map[CHECKPOINT_MAX_STREAMS];
	bool mapped[CHECKPOINT_MAX_STREAMS] = { false };
	unsigned long n = 1;
	for (size_t off = 0; off < len; n++) {
		const char *nl = memchr(data + off, '\n', len - off);
		char line[256];
		size_t l = (size_t)(nl - (data + off));
		if (l >= sizeof(line))
			return refuse(err, errlen, "is too long", n + 1);
		memcpy(line, data + off, l);
		line[l] = '\0';
		off += l + 1;
		char tag, name[128], f[32], kind, end;
		unsigned idx;
		unsigned long long uid, rv;
		if (n == 1) {
			if (sscanf(line, "cluster %127s%c", name, &end) != 1)
				return refuse(err, errlen, "is not the cluster line", n + 1);
			if (strcmp(name, ck->cluster[0] ? ck->cluster : "-") != 0)
				return refuse(err, errlen, "belongs to another cluster", n + 1);
		} else if (strncmp(line, "stream ", 7) == 0) {
			if (sscanf(line, "stream %u %63s %31s %c%c", &idx, name, f, &kind, &end) != 4 ||
			    idx >= CHECKPOINT_MAX_STREAMS || mapped[idx] || (kind != 'n' && kind != 'o'))
				return refuse(err, errlen, "is a damaged stream line", n + 1);
			int s = checkpoint_stream(ck, strcmp(name, "-") == 0 ? "" : name);
			if (s < 0)
				return refuse(err, errlen, "is one stream too many", n + 1);
			struct stream *st = &ck->streams[s];
			st->numeric = kind == 'n';
			if (strcmp(f, "-") != 0) {
				if (!st->numeric || !parse_rv(f, &st->frontier))
					return refuse(err, errlen, "has a damaged frontier", n + 1);
				st->known = true;
			}
			map[idx] = s;
			mapped[idx] = true;
		} else {
			int got = strchr("iIdD", line[0]) && line[0]
				? sscanf(line, "%c %u %16llx %llu%c", &tag, &idx, &uid, &rv, &end) : 0;
			if (line[0] == 'I' || line[0] == 'D')
				got = sscanf(line, "%c %u %16llx %16llx%c", &tag, &idx, &uid, &rv, &end);
			if (got != 4 || idx >= CHECKPOINT_MAX_STREAMS || !mapped[idx] || !uid)
				return refuse(err, errlen, "is damaged", n + 1);
			struct key k = { uid, rv, (uint8_t)(tag == 'I' || tag == 'D' ? OPAQUE : 0) };
			if (find(ck, map[idx], &k, NULL))
				return refuse(err, errlen, "repeats an event", n + 1);
			struct entry *e = insert(ck, map[idx], &k, tag == 'i' || tag == 'I' ? ST_UNSENT : ST_DONE);
			if (!e) {
				snprintf(err, errlen, "checkpoint: out of memory loading it; ignoring it");
				return -1;
			}
			if (tag == 'd' || tag == 'D')
				e->seq = ++ck->done_seq;
		}
	}
	return 0;
}

int checkpoint_load(struct checkpoint *ck, const char *data, size_t len, char *err, size_t errlen)
{
	size_t mlen = strlen(MAGIC);
	if (len < mlen || memcmp(data, MAGIC, mlen) != 0)
		return refuse(err, errlen, "is not a herald checkpoint", 0);
	const char *nl = memchr(data, '\n', len);
	char *endp;
	long version = nl ? strtol(data + mlen, &endp, 10) : -1;
	if (!nl || endp != nl)
		return refuse(err, errlen, "has a damaged first line", 0);
	if (version != CHECKPOINT_VERSION) {
		char what[96];
		snprintf(what, sizeof(what), "is version %ld, this herald reads version %d", version, CHECKPOINT_VERSION);
		return refuse(err, errlen, what, 0);
	}
	/* The end line: the last one, with the count and the sum of the rest. */
	if (data[len - 1] != '\n')
		return refuse(err, errlen, "is truncated (no end line)", 0);
	size_t last = len - 1;
	while (last > 0 && data[last - 1] != '\n')
		last--;
	unsigned long long lines, sum;
	char tail[96], end;
	size_t tl = len - last < sizeof(tail) ? len - last : sizeof(tail) - 1;
	memcpy(tail, data + last, tl);
	tail[tl] = '\0';
	if (sscanf(tail, "end %llu %16llx%c", &lines, &sum, &end) != 3 || end != '\n')
		return refuse(err, errlen, "is truncated (no end line)", 0);
	if (fnv1a(FNV_OFFSET, data, last) != sum)
		return refuse(err, errlen, "is damaged (its checksum does not match)", 0);
	size_t body = (size_t)(nl + 1 - data);
	size_t counted = 1;
	for (size_t i = body; i < last; i++)
		counted += data[i] == '\n';
	if (counted != lines)
		return refuse(err, errlen, "is damaged (its line count does not match)", 0);

	struct checkpoint *next = checkpoint_new(ck->cluster, ck->max_in_flight, ck->max_exact);
	if (!next) {
		snprintf(err, errlen, "checkpoint: out of memory loading it; ignoring it");
		return -1;
	}
	for (int i = 0; i < ck->nstreams; i++)   /* the caller's stream numbers stay */
		checkpoint_stream(next, ck->streams[i].name);
	if (load_lines(next, data + body, last - body, err, errlen) < 0) {
		checkpoint_free(next);
		return -1;
	}
	bound_exact(next);
	next->st = ck->st;
	next->noted = next->saved = ck->noted;   /* what was loaded is saved */
	free(ck->table);
	*ck = *next;
	free(next);
	return 0;
}
