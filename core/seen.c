/* seen: a ring of entries in arrival order plus an open-addressing index
 * (linear probing, backward-shift deletion) from uid to ring slot. Both
 * start small and double up to the capacity, so a quiet cluster costs
 * kilobytes, not the megabytes of a full record. */
#include "seen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "log.h"

#define MAGIC "herald-seen 2"

/* An entry is two 64-bit hashes, not the strings: 16 bytes instead of
 * ~100 with two heap strings. Two different uids share a hash with odds
 * of about n^2 / 2^65 (1e-9 for 200,000 events); the cost of that rare
 * case is one event not delivered twice that should have been. */
struct entry {
	uint64_t uid;     /* 0 = empty slot (hash() never returns 0) */
	uint64_t rv;
};

struct seen {
	struct entry *ring;   /* ring_size slots; head is the oldest */
	size_t cap, ring_size, head, count;
	uint32_t *index;      /* ring slot + 1, 0 = empty */
	size_t index_size;    /* power of two, >= 2 * ring_size */
	bool dirty;
};

uint64_t seen_hash(const char *s)
{
	return hash_string(s);
}

struct seen *seen_new(size_t capacity)
{
	struct seen *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = capacity ? capacity : 1;
	s->ring_size = s->cap < 256 ? s->cap : 256;
	s->index_size = 16;
	while (s->index_size < 2 * s->ring_size)
		s->index_size *= 2;
	s->ring = calloc(s->ring_size, sizeof(*s->ring));
	s->index = calloc(s->index_size, sizeof(*s->index));
	if (!s->ring || !s->index) {
		seen_free(s);
		return NULL;
	}
	return s;
}

void seen_free(struct seen *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s->index);
	free(s);
}

/* The index position holding uid, or the empty position where it would go. */
static size_t find(const struct seen *s, uint64_t uid, bool *found)
{
	size_t mask = s->index_size - 1, i = uid & mask;
	while (s->index[i]) {
		if (s->ring[s->index[i] - 1].uid == uid) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static void index_remove(struct seen *s, size_t i)
{
	size_t mask = s->index_size - 1;
	s->index[i] = 0;
	for (size_t j = (i + 1) & mask; s->index[j]; j = (j + 1) & mask) {
		size_t home = s->ring[s->index[j] - 1].uid & mask;
		/* Move j back to i when i lies cyclically in [home, j). */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			s->index[i] = s->index[j];
			s->index[j] = 0;
			i = j;
		}
	}
}

/* Doubles the ring and the index (entries are contiguous from 0 until the
 * ring reaches the capacity: nothing is evicted before). -1 when out of
 * memory (the set then evicts early, like a full one). */
static int grow(struct seen *s)
{
	size_t size = s->ring_size * 2 < s->cap ? s->ring_size * 2 : s->cap;
	struct entry *ring = realloc(s->ring, size * sizeof(*ring));
	if (!ring)
		return -1;
	memset(ring + s->ring_size, 0, (size - s->ring_size) * sizeof(*ring));
	s->ring = ring;
	s->ring_size = size;
	size_t isize = s->index_size;
	while (isize < 2 * size)
		isize *= 2;
	if (isize != s->index_size) {
		uint32_t *index = calloc(isize, sizeof(*index));
		if (!index)
			return -1;
		free(s->index);
		s->index = index;
		s->index_size = isize;
		for (size_t k = 0; k < s->count; k++) {
			size_t slot = (s->head + k) % s->ring_size;
			size_t i = s->ring[slot].uid & (isize - 1);
			while (s->index[i])
				i = (i + 1) & (isize - 1);
			s->index[i] = (uint32_t)slot + 1;
		}
	}
	return 0;
}

static bool has(const struct seen *s, uint64_t uid, uint64_t rv)
{
	bool found;
	size_t i = find(s, uid, &found);
	return found && s->ring[s->index[i] - 1].rv == rv;
}

bool seen_has(const struct seen *s, const char *uid, const char *rv)
{
	return has(s, seen_hash(uid), seen_hash(rv));
}

static void put(struct seen *s, uint64_t uid, uint64_t rv)
{
	bool found;
	size_t i = find(s, uid, &found);
	if (found) {
		struct entry *e = &s->ring[s->index[i] - 1];
		if (e->rv != rv) {
			e->rv = rv;
			s->dirty = true;
		}
		return;
	}
	if (s->count == s->ring_size && s->ring_size < s->cap && grow(s) == 0)
		i = find(s, uid, &found);
	if (s->count == s->ring_size) {
		bool f;
		index_remove(s, find(s, s->ring[s->head].uid, &f));
		s->ring[s->head] = (struct entry){ 0, 0 };
		s->head = (s->head + 1) % s->ring_size;
		s->count--;
		i = find(s, uid, &found);
	}
	size_t slot = (s->head + s->count) % s->ring_size;
	s->ring[slot] = (struct entry){ uid, rv };
	s->index[i] = (uint32_t)slot + 1;
	s->count++;
	s->dirty = true;
}

void seen_put(struct seen *s, const char *uid, const char *rv)
{
	put(s, seen_hash(uid), seen_hash(rv));
}

size_t seen_count(const struct seen *s) { return s->count; }
bool seen_dirty(const struct seen *s) { return s->dirty; }

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int seen_save(struct seen *s, const char *path, uint64_t *skip, size_t nskip)
{
	if (nskip)
		qsort(skip, nskip, sizeof(*skip), compare_u64);
	struct buf tmp = BUF_INIT, out = BUF_INIT;
	buf_printf(&tmp, "%s.tmp", path);
	buf_printf(&out, "%s\n", MAGIC);
	for (size_t k = 0; k < s->count; k++) {
		const struct entry *e = &s->ring[(s->head + k) % s->ring_size];
		if (nskip && bsearch(&e->uid, skip, nskip, sizeof(*skip), compare_u64))
			continue;
		buf_printf(&out, "%016llx %016llx\n", (unsigned long long)e->uid, (unsigned long long)e->rv);
	}
	int rc = -1;
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		size_t off = 0;
		while (off < out.len) {
			ssize_t w = write(fd, out.data + off, out.len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (off == out.len && fsync(fd) == 0 && close(fd) == 0) {
			fd = -1;
			rc = rename(tmp.data, path);
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc < 0) {
		int saved = errno;   /* the caller reports it (statedir) */
		unlink(tmp.data);
		errno = saved;
	} else {
		s->dirty = false;
	}
	buf_free(&tmp);
	buf_free(&out);
	return rc;
}

int seen_load(struct seen *s, const char *path, bool *loaded)
{
	*loaded = false;
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		log_error("state: cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char line[512];
	unsigned long n = 0;
	int rc = 0;
	if (!fgets(line, sizeof(line), f) || strncmp(line, MAGIC, strlen(MAGIC)) != 0) {
		log_error("state: %s is not a herald state file; ignoring it", path);
		rc = -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		n++;
		unsigned long long uid, rv;
		char end;
		if (sscanf(line, "%16llx %16llx%c", &uid, &rv, &end) != 3 || end != '\n' || !uid) {
			log_error("state: %s:%lu is damaged; ignoring the rest of the file", path, n + 1);
			rc = -1;
			break;
		}
		put(s, uid, rv);
	}
	fclose(f);
	if (rc == 0) {
		*loaded = true;
		s->dirty = false;
	}
	return rc;
}
