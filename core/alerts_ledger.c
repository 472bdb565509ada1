/* alerts_ledger: writes one alert sink's state (alerts_impl.h) in the
 * ledger format of alerts.h and rebuilds it from one. Owns only the
 * objects it builds; must not do I/O, read a clock, log, or change how
 * groups fold and fall due (that is alerts.c). */
#include "alerts_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define MAGIC "herald-ledger "
#define ITEM_MAX (16u << 20)      /* one encoded item, at most */
#define SAMPLES_MAX 1000          /* per group or part in a file */
#define TRIM_UIDS 16

/* ---------------------------------------------------------------- times */

static uint64_t to_wall(uint64_t t, uint64_t now, uint64_t now_wall)
{
	if (t == 0)
		return 0;
	int64_t w = (int64_t)now_wall + ((int64_t)t - (int64_t)now);
	return w > 0 ? (uint64_t)w : 1;
}

static uint64_t from_wall(uint64_t w, uint64_t now, uint64_t now_wall)
{
	if (w == 0)
		return 0;
	int64_t t = (int64_t)now + ((int64_t)w - (int64_t)now_wall);
	return t > 0 ? (uint64_t)t : 1;
}

/* ---------------------------------------------------------------- export */

struct writer {
	struct buf *out;
	uint64_t now, now_wall;
	int trim;
	int rc;
};

static void put_uids(struct writer *w, char tag, const uint64_t *uids, size_t n)
{
	size_t from = w->trim >= 1 && n > TRIM_UIDS ? n - TRIM_UIDS : 0;
	w->rc |= buf_putc(w->out, tag);
	for (size_t i = from; i < n; i++)
		w->rc |= buf_printf(w->out, " %016llx", (unsigned long long)uids[i]);
	w->rc |= buf_putc(w->out, '\n');
}

static void put_samples(struct writer *w, const struct alert_sample *ring, size_t n, size_t head, size_t cap)
{
	size_t from = w->trim >= 2 && n > 1 ? n - 1 : 0;
	for (size_t i = from; i < n; i++) {
		const struct alert_sample *s = &ring[(head + i) % cap];
		size_t len = w->trim >= 3 ? 0 : s->len;
		w->rc |= buf_printf(w->out, "s %016llx %zu\n", (unsigned long long)s->uid, len);
		w->rc |= buf_append(w->out, s->data, len);
		w->rc |= buf_putc(w->out, '\n');
	}
}

static size_t kept(const struct writer *w, size_t n, size_t trim_to, int level)
{
	return w->trim >= level && n > trim_to ? trim_to : n;
}

static void put_group(struct writer *w, const struct alerts *a, const struct group *g)
{
	size_t cap = a->p.samples ? a->p.samples : 1;
	size_t nheld = kept(w, g->nheld, TRIM_UIDS, 1);
	bool cut = g->held_untracked || nheld < g->nheld;
	w->rc |= buf_printf(w->out, "group %d %zu %zu %zu %d %llu %llu %llu %zu %zu %d %zu %zu\n", g->overflow,
			    g->pending, g->total, g->messages, g->pending_new,
			    (unsigned long long)to_wall(g->first_ms, w->now, w->now_wall),
			    (unsigned long long)to_wall(g->last_ms, w->now, w->now_wall),
			    (unsigned long long)to_wall(g->last_sent_ms, w->now, w->now_wall),
			    kept(w, g->nknown, TRIM_UIDS, 1), nheld, cut, kept(w, g->nsamples, 1, 2), strlen(g->key));
	w->rc |= buf_append(w->out, g->key, strlen(g->key));
	w->rc |= buf_putc(w->out, '\n');
	put_uids(w, 'k', g->known, g->nknown);
	put_uids(w, 'h', g->held, g->nheld);
	put_samples(w, g->samples, g->nsamples, g->head, cap);
}

static void put_message(struct writer *w, const struct alert_msg *m)
{
	w->rc |= buf_printf(w->out, "message %d %zu %zu\n", m->digest, m->attempts, m->nparts);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct alert_part *p = &m->parts[i];
		const char *key = p->key ? p->key : "";
		w->rc |= buf_printf(w->out, "part %d %d %zu %zu %zu %llu %llu %zu %zu\n", p->overflow, p->repeat, p->count,
				    p->total, p->sent_before,
				    (unsigned long long)to_wall(p->first_ms, w->now, w->now_wall),
				    (unsigned long long)to_wall(p->last_ms, w->now, w->now_wall),
				    kept(w, p->nsamples, 1, 2), strlen(key));
		w->rc |= buf_append(w->out, key, strlen(key));
		w->rc |= buf_putc(w->out, '\n');
		put_samples(w, p->samples, p->nsamples, 0, p->nsamples ? p->nsamples : 1);
	}
}

static int write_ledger(const struct alerts *a, const struct alert_msg *unsent, struct writer *w,
			struct alerts_ledger_info *info)
{
	size_t start = w->out->len;
	w->rc |= buf_printf(w->out, "%s%d\n", MAGIC, ALERTS_LEDGER_VERSION);
	for (size_t i = 0; i < a->nwin; i++) {
		const struct window *win = &a->win[i];
		size_t used = 0;
		for (unsigned s = 0; s < win->rate.count; s++)
			used += win->free_at[s] > w->now;
		w->rc |= buf_printf(w->out, "window %u %llu %zu", win->rate.count,
				    (unsigned long long)win->rate.period_ms, used);
		for (unsigned s = 0; s < win->rate.count; s++) {
			uint64_t t = win->free_at[s];
			if (t <= w->now)
				continue;
			if (t == UINT64_MAX)   /* a request in flight: as if it ended now */
				t = w->now + win->rate.period_ms;
			w->rc |= buf_printf(w->out, " %llu", (unsigned long long)to_wall(t, w->now, w->now_wall));
		}
		w->rc |= buf_putc(w->out, '\n');
	}
	*info = (struct alerts_ledger_info){ .trimmed = w->trim };
	size_t total = a->ngroups + (a->overflow != NULL);
	for (size_t i = 0; i < total; i++) {
		const struct group *g = i < a->ngroups ? a->groups[i] : a->overflow;
		put_group(w, a, g);
		info->groups++;
		info->held += g->pending;
	}
	if (unsent)
		put_message(w, unsent);
	uint64_t sum = fnv1a(FNV_OFFSET, w->out->data + start, w->out->len - start);
	w->rc |= buf_printf(w->out, "end %016llx\n", (unsigned long long)sum);
	return w->rc ? -1 : 0;
}

int alerts_export(const struct alerts *a, const struct alert_msg *unsent, uint64_t now, uint64_t now_wall,
		  size_t max_bytes, struct buf *out, struct alerts_ledger_info *info)
{
	size_t start = out->len;
	for (int trim = 0; trim <= 3; trim++) {
		struct writer w = { out, now, now_wall, trim, 0 };
		if (write_ledger(a, unsent, &w, info) < 0)
			break;
		if (out->len - start <= max_bytes)
			return 0;
		out->len = start;   /* too big: the next step is smaller */
		if (out->data)
			out->data[start] = '\0';
	}
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return -1;
}

/* ---------------------------------------------------------------- import */

struct reader {
	const char *p, *end;
	const char *why;       /* the first damage found */
	uint64_t now, now_wall;
	bool overflow_seen;    /* the saved overflow group was read */
};

/* The next line, without its '\n' (NUL-terminated copy in buf). */
static bool line(struct reader *r, char *buf, size_t size)
{
	const char *nl = r->p < r->end ? memchr(r->p, '\n', (size_t)(r->end - r->p)) : NULL;
	if (!nl || (size_t)(nl - r->p) >= size) {
		r->why = r->why ? r->why : "a line is missing or too long";
		return false;
	}
	memcpy(buf, r->p, (size_t)(nl - r->p));
	buf[nl - r->p] = '\0';
	r->p = nl + 1;
	return true;
}

/* len bytes then '\n'; *at points into the data. */
static bool blob(struct reader *r, size_t len, const char **at)
{
	if ((size_t)(r->end - r->p) < len + 1 || r->p[len] != '\n') {
		r->why = r->why ? r->why : "a key or item is cut short";
		return false;
	}
	*at = r->p;
	r->p += len + 1;
	return true;
}

static bool hex16(const char *s, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16)
			return false;
		*v = *v << 4 | d;
	}
	return true;
}

/* "k UID UID ..." with exactly n uids, into a fresh array (caller frees). */
static bool uid_line(struct reader *r, char tag, size_t n, uint64_t **out)
{
	const char *nl = r->p < r->end ? memchr(r->p, '\n', (size_t)(r->end - r->p)) : NULL;
	*out = NULL;
	if (!nl || (size_t)(nl - r->p) != 1 + n * 17 || r->p[0] != tag) {
		r->why = r->why ? r->why : "a uid list is damaged";
		return false;
	}
	if (n && !(*out = malloc(n * sizeof(**out)))) {
		r->why = "out of memory";
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s = r->p + 1 + i * 17;
		if (s[0] != ' ' || !hex16(s + 1, &(*out)[i])) {
			free(*out);
			*out = NULL;
			r->why = r->why ? r->why : "a uid list is damaged";
			return false;
		}
	}
	r->p = nl + 1;
	return true;
}

static bool sample(struct reader *r, uint64_t *uid, const char **data, size_t *len)
{
	char buf[64], hex[17], end;
	if (!line(r, buf, sizeof(buf)) || sscanf(buf, "s %16s %zu%c", hex, len, &end) != 2 || strlen(hex) != 16 ||
	    !hex16(hex, uid) || *len > ITEM_MAX) {
		r->why = r->why ? r->why : "a sample is damaged";
		return false;
	}
	return blob(r, *len, data);
}

static bool read_window(struct reader *r, struct alerts *a, const char *text)
{
	unsigned count;
	unsigned long long period;
	size_t n;
	int used;
	if (sscanf(text, "window %u %llu %zu%n", &count, &period, &n, &used) != 3 || n > count) {
		r->why = "a window line is damaged";
		return false;
	}
	struct window *win = NULL;
	for (size_t i = 0; i < a->nwin && !win; i++)
		if (a->win[i].rate.period_ms == period)
			win = &a->win[i];
	const char *p = text + used;
	for (size_t i = 0, slot = 0; i < n; i++) {
		char *endp;
		unsigned long long wall = strtoull(p, &endp, 10);
		if (endp == p || (*endp && *endp != ' ')) {
			r->why = "a window line is damaged";
			return false;
		}
		p = endp;
		uint64_t t = from_wall(wall, r->now, r->now_wall);
		if (win && t > r->now && slot < win->rate.count)
			win->free_at[slot++] = t;   /* still in use in this process */
	}
	if (*p) {
		r->why = "a window line is damaged";
		return false;
	}
	return true;
}

static struct group *overflow_of(struct alerts *a)
{
	if (!a->overflow && (a->overflow = alerts_impl_group_new(a, "", 0)))
		a->overflow->overflow = true;
	return a->overflow;
}

static bool has_key(const struct alerts *a, const char *key)
{
	for (size_t i = 0; i < a->ngroups; i++)
		if (strcmp(a->groups[i]->key, key) == 0)
			return true;
	return false;
}

/* A group record: a group of its own, the overflow group, or (past
 * max_groups) folded into the overflow group. */
static bool read_group(struct reader *r, struct alerts *a, const char *text)
{
	int overflow, pending_new, cut;
	size_t pending, total, messages, nknown, nheld, nsamples, keylen;
	unsigned long long first, last, sent;
	char end;
	const char *key;
	if (sscanf(text, "group %d %zu %zu %zu %d %llu %llu %llu %zu %zu %d %zu %zu%c", &overflow, &pending, &total,
		   &messages, &pending_new, &first, &last, &sent, &nknown, &nheld, &cut, &nsamples, &keylen, &end) != 13 ||
	    nknown > KNOWN_MAX || nheld > HELD_MAX || nsamples > SAMPLES_MAX || keylen > ITEM_MAX) {
		r->why = "a group line is damaged";
		return false;
	}
	if (!blob(r, keylen, &key) || memchr(key, '\0', keylen))
		return r->why = r->why ? r->why : "a group key is damaged", false;
	char *k = strndup(key, keylen);
	uint64_t *known = NULL, *held = NULL;
	struct group *g = NULL;
	bool ok = k && uid_line(r, 'k', nknown, &known) && uid_line(r, 'h', nheld, &held);
	if (ok && overflow) {
		/* Groups past a smaller max_groups may have started it already. */
		ok = !r->overflow_seen && keylen == 0 && overflow_of(a);
		g = a->overflow;
		r->overflow_seen = true;
		if (!ok)
			r->why = r->why ? r->why : "has two overflow groups";
	} else if (ok && has_key(a, k)) {
		ok = false;
		r->why = "a group key appears twice";
	} else if (ok && a->ngroups < a->p.max_groups) {
		struct group **grown = realloc(a->groups, (a->ngroups + 1) * sizeof(*grown));
		ok = grown && (g = alerts_impl_group_new(a, k, hash_string(k)));
		if (grown)
			a->groups = grown;
		if (ok)
			a->groups[a->ngroups++] = g;
		a->cap = a->ngroups;
	} else if (ok) {
		g = overflow_of(a);   /* the policy now allows fewer groups */
		ok = g != NULL;
	}
	if (ok && g->pending == 0 && g->messages == 0 && g->total == 0) {
		/* A group of its own (or the first folded in): as saved. */
		g->known = known;
		g->nknown = nknown;
		g->held = held;
		g->nheld = g->heldcap = nheld;
		known = held = NULL;
		g->held_untracked = cut;
		g->messages = messages;
		g->first_ms = from_wall(first, r->now, r->now_wall);
		g->last_ms = from_wall(last, r->now, r->now_wall);
		g->last_sent_ms = from_wall(sent, r->now, r->now_wall);
	} else if (ok) {
		g->held_untracked = true;
		if (pending && (g->pending == 0 || from_wall(first, r->now, r->now_wall) < g->first_ms))
			g->first_ms = from_wall(first, r->now, r->now_wall);
		uint64_t l = from_wall(last, r->now, r->now_wall);
		g->last_ms = l > g->last_ms ? l : g->last_ms;
	}
	if (ok) {
		g->pending += pending;
		g->total += total;
		g->pending_new = g->pending_new || pending_new;
	}
	if (!ok && !r->why)
		r->why = "out of memory";
	free(k);
	free(known);
	free(held);
	for (size_t i = 0; ok && i < nsamples; i++) {
		uint64_t uid;
		const char *data;
		size_t len;
		ok = sample(r, &uid, &data, &len);
		if (ok && alerts_impl_keep_sample(a, g, uid, data, len) < 0)
			ok = false, r->why = "out of memory";
	}
	return ok;
}

static bool read_message(struct reader *r, struct alerts *a, const char *text)
{
	int digest;
	size_t attempts, nparts;
	char end;
	if (a->resend || sscanf(text, "message %d %zu %zu%c", &digest, &attempts, &nparts, &end) != 3 || !nparts ||
	    nparts > a->p.max_groups + 1) {
		r->why = "a message line is damaged";
		return false;
	}
	struct alert_msg *m = alerts_impl_msg_new(nparts);
	if (!m)
		return r->why = "out of memory", false;
	m->digest = digest;
	m->attempts = attempts;
	a->resend = m;   /* freed with a on failure */
	for (size_t i = 0; i < nparts; i++) {
		struct alert_part *p = &m->parts[m->nparts++];
		char buf[256];
		int overflow, repeat;
		unsigned long long first, last;
		size_t nsamples, keylen;
		const char *key;
		if (!line(r, buf, sizeof(buf)) ||
		    sscanf(buf, "part %d %d %zu %zu %zu %llu %llu %zu %zu%c", &overflow, &repeat, &p->count, &p->total,
			   &p->sent_before, &first, &last, &nsamples, &keylen, &end) != 9 ||
		    nsamples > SAMPLES_MAX || keylen > ITEM_MAX || !blob(r, keylen, &key)) {
			r->why = r->why ? r->why : "a message part is damaged";
			return false;
		}
		p->overflow = overflow;
		p->repeat = repeat;
		p->first_ms = from_wall(first, r->now, r->now_wall);
		p->last_ms = from_wall(last, r->now, r->now_wall);
		m->events += p->count;
		if (!(p->key = strndup(key, keylen)) ||
		    !(p->samples = calloc(nsamples ? nsamples : 1, sizeof(*p->samples))))
			return r->why = "out of memory", false;
		for (size_t j = 0; j < nsamples; j++) {
			struct alert_sample *s = &p->samples[j];
			const char *data;
			if (!sample(r, &s->uid, &data, &s->len))
				return false;
			if (!(s->data = malloc(s->len + 1)))
				return r->why = "out of memory", false;
			memcpy(s->data, data, s->len);
			s->data[s->len] = '\0';
			p->nsamples++;
		}
	}
	return true;
}

static int refuse(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "alert ledger %s; ignoring it", why);
	return -1;
}

int alerts_import(struct alerts *a, const char *data, size_t len, uint64_t now, uint64_t now_wall, char *err,
		  size_t errlen)
{
	size_t mlen = strlen(MAGIC);
	if (len < mlen || memcmp(data, MAGIC, mlen) != 0)
		return refuse(err, errlen, "is not a herald alert ledger");
	const char *nl = memchr(data, '\n', len);
	char *endp;
	long version = nl ? strtol(data + mlen, &endp, 10) : -1;
	if (!nl || endp != nl)
		return refuse(err, errlen, "has a damaged first line");
	if (version != ALERTS_LEDGER_VERSION) {
		char why[96];
		snprintf(why, sizeof(why), "is version %ld, this herald reads version %d", version, ALERTS_LEDGER_VERSION);
		return refuse(err, errlen, why);
	}
	/* The end line: the last one, with the sum of everything before. */
	if (data[len - 1] != '\n')
		return refuse(err, errlen, "is truncated (no end line)");
	size_t last = len - 1;
	while (last > 0 && data[last - 1] != '\n')
		last--;
	char tail[32], hex[17], end;
	uint64_t sum;
	size_t tl = len - last < sizeof(tail) ? len - last : sizeof(tail) - 1;
	memcpy(tail, data + last, tl);
	tail[tl] = '\0';
	if (sscanf(tail, "end %16s%c", hex, &end) != 2 || end != '\n' || strlen(hex) != 16 || !hex16(hex, &sum))
		return refuse(err, errlen, "is truncated (no end line)");
	if (fnv1a(FNV_OFFSET, data, last) != sum)
		return refuse(err, errlen, "is damaged (its checksum does not match)");

	struct alerts *next = alerts_new(&a->p);
	if (!next)
		return refuse(err, errlen, "could not be loaded: out of memory");
	struct reader r = { nl + 1, data + last, NULL, now, now_wall, false };
	size_t text_size = (size_t)(r.end - r.p) + 1;   /* a window line can be long */
	char *text = malloc(text_size);
	if (!text)
		r.why = "could not be loaded: out of memory";
	while (r.p < r.end && !r.why) {
		if (!line(&r, text, text_size))
			break;
		if (strncmp(text, "window ", 7) == 0)
			read_window(&r, next, text);
		else if (strncmp(text, "group ", 6) == 0)
			read_group(&r, next, text);
		else if (strncmp(text, "message ", 8) == 0)
			read_message(&r, next, text);
		else
			r.why = "has a line it does not know";
	}
	free(text);
	if (!r.why && alerts_impl_rebuild_index(next) < 0)
		r.why = "could not be loaded: out of memory";
	if (r.why) {
		alerts_free(next);
		return refuse(err, errlen, r.why);
	}
	next->last_sweep = now;
	struct alerts old = *a;
	*a = *next;
	*next = old;
	alerts_free(next);
	return 0;
}
