/* alerts: groups (an array with an open-addressing index by key hash) and
 * rate windows (one slot per token, holding when it comes back). */
#include "alerts.h"

#include <stdlib.h>
#include <string.h>

#include "alerts_impl.h"
#include "hash.h"

/* ---------------------------------------------------------------- windows */

static int set_windows(struct alerts *a, const struct alert_policy *p)
{
	struct window next[ALERT_MAX_RATES] = { 0 };
	size_t n = p->nrates < ALERT_MAX_RATES ? p->nrates : ALERT_MAX_RATES;
	for (size_t i = 0; i < n; i++) {
		unsigned count = p->rates[i].count ? p->rates[i].count : 1;
		next[i].rate = (struct alert_rate){ count, p->rates[i].period_ms };
		next[i].free_at = calloc(count, sizeof(uint64_t));
		if (!next[i].free_at) {
			for (size_t j = 0; j < i; j++)
				free(next[j].free_at);
			return -1;
		}
		/* Tokens in use stay in use: a reload must not reset the count. */
		for (size_t j = 0; j < a->nwin; j++) {
			if (a->win[j].rate.period_ms != next[i].rate.period_ms)
				continue;
			size_t k = 0;
			for (size_t s = 0; s < a->win[j].rate.count && k < count; s++)
				if (a->win[j].free_at[s])
					next[i].free_at[k++] = a->win[j].free_at[s];
			if (a->win[j].busy && k > 0) {
				next[i].busy = true;
				for (size_t s = 0; s < k; s++)
					if (next[i].free_at[s] == UINT64_MAX)
						next[i].inflight = s;
			}
			break;
		}
	}
	for (size_t j = 0; j < a->nwin; j++)
		free(a->win[j].free_at);
	memcpy(a->win, next, sizeof(next));
	a->nwin = n;
	return 0;
}

static unsigned window_free(const struct window *w, uint64_t now)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->rate.count; i++)
		n += w->free_at[i] <= now;
	return n;
}

static uint64_t window_next_free(const struct window *w)
{
	uint64_t t = UINT64_MAX;
	for (unsigned i = 0; i < w->rate.count; i++)
		if (w->free_at[i] < t)
			t = w->free_at[i];
	return t;
}

unsigned alerts_tokens(const struct alerts *a, uint64_t now)
{
	unsigned n = UINT32_MAX;
	for (size_t i = 0; i < a->nwin; i++) {
		unsigned f = window_free(&a->win[i], now);
		if (f < n)
			n = f;
	}
	return a->nwin ? n : UINT32_MAX;
}

uint64_t alerts_token_at(const struct alerts *a, uint64_t now)
{
	uint64_t t = now;
	for (size_t i = 0; i < a->nwin; i++)
		if (window_free(&a->win[i], now) == 0 && window_next_free(&a->win[i]) > t)
			t = window_next_free(&a->win[i]);
	return t;
}

void alerts_sending(struct alerts *a, uint64_t now)
{
	for (size_t i = 0; i < a->nwin; i++) {
		struct window *w = &a->win[i];
		for (unsigned s = 0; s < w->rate.count; s++)
			if (w->free_at[s] <= now) {
				w->free_at[s] = UINT64_MAX;
				w->inflight = s;
				w->busy = true;
				break;
			}
	}
}

void alerts_sent(struct alerts *a, uint64_t now)
{
	for (size_t i = 0; i < a->nwin; i++) {
		struct window *w = &a->win[i];
		if (w->busy)
			w->free_at[w->inflight] = now + w->rate.period_ms;
		w->busy = false;
	}
}

void alerts_unanswered(struct alerts *a, uint64_t now, uint64_t late_ms)
{
	for (size_t i = 0; i < a->nwin; i++) {
		struct window *w = &a->win[i];
		uint64_t late = late_ms > w->rate.period_ms ? late_ms : w->rate.period_ms;
		if (w->busy)
			w->free_at[w->inflight] = now + late + w->rate.period_ms;
		w->busy = false;
	}
}

void alerts_give_back(struct alerts *a)
{
	for (size_t i = 0; i < a->nwin; i++) {
		struct window *w = &a->win[i];
		if (w->busy)
			w->free_at[w->inflight] = 0;
		w->busy = false;
	}
}

/* ---------------------------------------------------------------- groups */

static void group_free(struct group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nsamples; i++)
		free(g->samples[i].data);
	free(g->samples);
	free(g->known);
	free(g->held);
	free(g->key);
	free(g);
}

static int rebuild_index(struct alerts *a)
{
	size_t size = 64;
	while (size < a->ngroups * 2)
		size *= 2;
	uint32_t *idx = calloc(size, sizeof(*idx));
	if (!idx)
		return -1;
	for (size_t i = 0; i < a->ngroups; i++) {
		size_t slot = a->groups[i]->hash & (size - 1);
		while (idx[slot])
			slot = (slot + 1) & (size - 1);
		idx[slot] = (uint32_t)i + 1;
	}
	free(a->index);
	a->index = idx;
	a->index_size = size;
	return 0;
}

static struct group *find_group(const struct alerts *a, const char *key, uint64_t h)
{
	if (!a->index)
		return NULL;
	for (size_t slot = h & (a->index_size - 1);; slot = (slot + 1) & (a->index_size - 1)) {
		uint32_t i = a->index[slot];
		if (!i)
			return NULL;
		struct group *g = a->groups[i - 1];
		if (g->hash == h && strcmp(g->key, key) == 0)
			return g;
	}
}

static struct group *new_group(const struct alerts *a, const char *key, uint64_t h)
{
	struct group *g = calloc(1, sizeof(*g));
	if (!g || !(g->key = strdup(key)) ||
	    !(g->samples = calloc(a->p.samples ? a->p.samples : 1, sizeof(*g->samples)))) {
		group_free(g);
		return NULL;
	}
	g->hash = h;
	return g;
}

static void remove_group(struct alerts *a, size_t i)
{
	group_free(a->groups[i]);
	a->groups[i] = a->groups[--a->ngroups];
}

/* Forgets groups quiet for longer than both interval and repeat. */
static void sweep(struct alerts *a, uint64_t now)
{
	uint64_t idle = a->p.interval_ms > a->p.repeat_ms ? a->p.interval_ms : a->p.repeat_ms;
	bool removed = false;
	for (size_t i = 0; i < a->ngroups;) {
		struct group *g = a->groups[i];
		if (g->pending == 0 && now >= g->last_ms + idle) {
			remove_group(a, i);
			removed = true;
		} else {
			i++;
		}
	}
	if (removed)
		rebuild_index(a);
	a->last_sweep = now;
}

static struct group *group_for(struct alerts *a, const char *key, uint64_t now)
{
	uint64_t h = hash_string(key);
	struct group *g = find_group(a, key, h);
	if (g)
		return g;
	if (a->ngroups >= a->p.max_groups) {
		sweep(a, now);
		if (a->ngroups >= a->p.max_groups) {
			if (!a->overflow && (a->overflow = new_group(a, "", 0)))
				a->overflow->overflow = true;
			return a->overflow;
		}
	}
	if (!(g = new_group(a, key, h)))
		return NULL;
	if (a->ngroups == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct group **grown = realloc(a->groups, cap * sizeof(*grown));
		if (!grown) {
			group_free(g);
			return NULL;
		}
		a->groups = grown;
		a->cap = cap;
	}
	a->groups[a->ngroups++] = g;
	if (a->ngroups * 2 > a->index_size) {
		if (rebuild_index(a) < 0) {
			remove_group(a, a->ngroups - 1);
			return NULL;
		}
	} else {
		size_t slot = h & (a->index_size - 1);
		while (a->index[slot])
			slot = (slot + 1) & (a->index_size - 1);
		a->index[slot] = (uint32_t)a->ngroups;
	}
	return g;
}

static bool contains(const uint64_t *list, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return true;
	return false;
}

static void note_held(struct group *g, uint64_t uid)
{
	if (!uid || g->held_untracked || contains(g->held, g->nheld, uid))
		return;
	if (g->nheld == g->heldcap) {
		size_t cap = g->heldcap ? g->heldcap * 2 : 8;
		uint64_t *grown = cap <= HELD_MAX ? realloc(g->held, cap * sizeof(*grown)) : NULL;
		if (!grown) {
			g->held_untracked = true;
			return;
		}
		g->held = grown;
		g->heldcap = cap;
	}
	g->held[g->nheld++] = uid;
}

/* Keeps the newest `samples` events; a newer version of the same event
 * replaces its older one. */
static int keep_sample(struct alerts *a, struct group *g, uint64_t uid, const char *item, size_t len)
{
	size_t cap = a->p.samples ? a->p.samples : 1;
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, item, len);
	copy[len] = '\0';
	for (size_t i = 0; uid && i < g->nsamples; i++) {
		struct alert_sample *s = &g->samples[(g->head + i) % cap];
		if (s->uid == uid) {
			/* Move it to the newest end: shift the later ones down. */
			free(s->data);
			for (size_t j = i; j + 1 < g->nsamples; j++)
				g->samples[(g->head + j) % cap] = g->samples[(g->head + j + 1) % cap];
			g->samples[(g->head + g->nsamples - 1) % cap] = (struct alert_sample){ uid, copy, len };
			return 0;
		}
	}
	if (g->nsamples == cap) {
		free(g->samples[g->head].data);
		g->samples[g->head] = (struct alert_sample){ uid, copy, len };
		g->head = (g->head + 1) % cap;
		return 0;
	}
	g->samples[(g->head + g->nsamples++) % cap] = (struct alert_sample){ uid, copy, len };
	return 0;
}

int alerts_add(struct alerts *a, const char *key, uint64_t uid, const char *item, size_t len, uint64_t now)
{
	struct group *g = group_for(a, key, now);
	if (!g)
		return -1;
	if (g->pending == 0)
		g->first_ms = now;
	g->pending++;
	g->total++;
	g->last_ms = now;
	if (!uid || !contains(g->known, g->nknown, uid))
		g->pending_new = true;
	note_held(g, uid);
	return keep_sample(a, g, uid, item, len);
}

/* ---------------------------------------------------------------- messages */

static uint64_t due_at(const struct alerts *a, const struct group *g, bool all)
{
	if (g->pending == 0)
		return UINT64_MAX;
	if (all)
		return 0;
	if (g->messages == 0 || g->overflow)
		return g->first_ms + a->p.wait_ms;
	return g->last_sent_ms + (g->pending_new ? a->p.interval_ms : a->p.repeat_ms);
}

/* Moves a group's held events into a message part. */
static void take(struct alerts *a, struct group *g, struct alert_part *part, uint64_t now)
{
	size_t cap = a->p.samples ? a->p.samples : 1;
	*part = (struct alert_part){
		.key = g->key ? strdup(g->key) : NULL,
		.samples = calloc(g->nsamples ? g->nsamples : 1, sizeof(*part->samples)),
		.count = g->pending, .total = g->total, .sent_before = g->messages,
		.repeat = g->messages > 0 && !g->pending_new, .overflow = g->overflow,
		.first_ms = g->first_ms, .last_ms = g->last_ms,
	};
	for (size_t i = 0; i < g->nsamples; i++) {
		struct alert_sample *s = &g->samples[(g->head + i) % cap];
		if (part->samples)
			part->samples[part->nsamples++] = *s;
		else
			free(s->data);
	}
	g->nsamples = g->head = 0;
	for (size_t i = 0; i < g->nheld && g->nknown < KNOWN_MAX; i++) {
		if (!contains(g->known, g->nknown, g->held[i])) {
			uint64_t *grown = realloc(g->known, (g->nknown + 1) * sizeof(*grown));
			if (!grown)
				break;
			g->known = grown;
			g->known[g->nknown++] = g->held[i];
		}
	}
	g->nheld = 0;
	g->held_untracked = false;
	g->pending = 0;
	g->pending_new = false;
	g->messages++;
	g->last_sent_ms = now;
}

static struct alert_msg *new_msg(size_t nparts)
{
	struct alert_msg *m = calloc(1, sizeof(*m));
	if (m && !(m->parts = calloc(nparts ? nparts : 1, sizeof(*m->parts)))) {
		free(m);
		return NULL;
	}
	return m;
}

/* After the next send, how long until a token is free again, at least
 * (the send's own token comes back one period after it finishes). 0 when
 * tokens remain. */
static uint64_t last_token_wait(const struct alerts *a, uint64_t now)
{
	uint64_t wait = 0;
	for (size_t i = 0; i < a->nwin; i++) {
		const struct window *w = &a->win[i];
		if (window_free(w, now) != 1)
			continue;
		uint64_t back = now + w->rate.period_ms;
		for (unsigned s = 0; s < w->rate.count; s++)
			if (w->free_at[s] > now && w->free_at[s] < back)
				back = w->free_at[s];
		if (back - now > wait)
			wait = back - now;
	}
	return wait;
}

struct alert_msg *alerts_next(struct alerts *a, uint64_t now, bool all, uint64_t *wake)
{
	*wake = UINT64_MAX;
	if (a->resend) {
		/* A message a previous process had not seen answered (the ledger). */
		if (alerts_tokens(a, now) == 0) {
			*wake = alerts_token_at(a, now);
			return NULL;
		}
		struct alert_msg *m = a->resend;
		a->resend = NULL;
		*wake = now;
		return m;
	}
	if (now >= a->last_sweep + SWEEP_MS)
		sweep(a, now);
	size_t ndue = 0;
	struct group *first = NULL;
	uint64_t first_due = UINT64_MAX, next_due = UINT64_MAX;
	size_t total = a->ngroups + (a->overflow != NULL);
	for (size_t i = 0; i < total; i++) {
		struct group *g = i < a->ngroups ? a->groups[i] : a->overflow;
		uint64_t d = due_at(a, g, all);
		if (d <= now) {
			ndue++;
			if (!first || d < first_due) {
				first = g;
				first_due = d;
			}
		} else if (d < next_due) {
			next_due = d;
		}
	}
	if (ndue == 0) {
		*wake = next_due;
		return NULL;
	}
	unsigned tokens = alerts_tokens(a, now);
	if (tokens == 0) {
		*wake = alerts_token_at(a, now);
		return NULL;
	}
	bool digest = first->overflow || (ndue > tokens && last_token_wait(a, now) > DIGEST_AFTER_MS);
	struct alert_msg *m = new_msg(digest ? ndue : 1);
	if (!m) {
		*wake = now + SWEEP_MS;
		return NULL;
	}
	m->digest = digest;
	if (!digest) {
		take(a, first, &m->parts[0], now);
		m->nparts = 1;
	} else {
		for (size_t i = 0; i < total; i++) {
			struct group *g = i < a->ngroups ? a->groups[i] : a->overflow;
			if (due_at(a, g, all) <= now)
				take(a, g, &m->parts[m->nparts++], now);
		}
	}
	for (size_t i = 0; i < m->nparts; i++)
		m->events += m->parts[i].count;
	*wake = now;
	return m;
}

void alert_msg_free(struct alert_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nparts; i++) {
		for (size_t j = 0; j < m->parts[i].nsamples; j++)
			free(m->parts[i].samples[j].data);
		free(m->parts[i].samples);
		free(m->parts[i].key);
	}
	free(m->parts);
	free(m);
}

/* ---------------------------------------------------------------- the rest */

struct alerts *alerts_new(const struct alert_policy *p)
{
	struct alerts *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->p = *p;
	if (set_windows(a, p) < 0 || rebuild_index(a) < 0) {
		alerts_free(a);
		return NULL;
	}
	return a;
}

/* A group's samples ring has the old capacity: reshape it to the new one,
 * keeping the newest. */
static void resize_samples(struct group *g, size_t old_cap, size_t cap)
{
	struct alert_sample *next = calloc(cap, sizeof(*next));
	if (!next)
		return;
	size_t skip = g->nsamples > cap ? g->nsamples - cap : 0;
	for (size_t i = 0; i < g->nsamples; i++) {
		struct alert_sample *s = &g->samples[(g->head + i) % old_cap];
		if (i < skip)
			free(s->data);
		else
			next[i - skip] = *s;
	}
	free(g->samples);
	g->samples = next;
	g->nsamples -= skip;
	g->head = 0;
}

void alerts_set_policy(struct alerts *a, const struct alert_policy *p)
{
	size_t old_cap = a->p.samples ? a->p.samples : 1, cap = p->samples ? p->samples : 1;
	if (cap != old_cap) {
		for (size_t i = 0; i < a->ngroups; i++)
			resize_samples(a->groups[i], old_cap, cap);
		if (a->overflow)
			resize_samples(a->overflow, old_cap, cap);
	}
	set_windows(a, p);
	a->p = *p;
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ngroups; i++)
		group_free(a->groups[i]);
	group_free(a->overflow);
	for (size_t i = 0; i < a->nwin; i++)
		free(a->win[i].free_at);
	alert_msg_free(a->resend);
	free(a->groups);
	free(a->index);
	free(a);
}

size_t alerts_drop_repeats(struct alerts *a)
{
	size_t n = 0;
	for (size_t i = 0; i < a->ngroups; i++) {
		struct group *g = a->groups[i];
		if (g->pending && g->messages && !g->pending_new) {
			n += g->pending;
			for (size_t j = 0; j < g->nsamples; j++)
				free(g->samples[(g->head + j) % (a->p.samples ? a->p.samples : 1)].data);
			g->nsamples = g->head = 0;
			g->pending = 0;
			g->nheld = 0;
		}
	}
	return n;
}

size_t alerts_held(const struct alerts *a)
{
	size_t n = a->overflow ? a->overflow->pending : 0;
	for (size_t i = 0; i < a->ngroups; i++)
		n += a->groups[i]->pending;
	return n;
}

size_t alerts_groups(const struct alerts *a)
{
	return a->ngroups + (a->overflow != NULL);
}

bool alerts_held_uids(const struct alerts *a, uint64_t **out, size_t *n, size_t *cap)
{
	bool complete = true;
	size_t total = a->ngroups + (a->overflow != NULL);
	for (size_t i = 0; i < total; i++) {
		const struct group *g = i < a->ngroups ? a->groups[i] : a->overflow;
		complete = complete && !g->held_untracked;
		for (size_t j = 0; j < g->nheld; j++) {
			if (*n == *cap) {
				size_t c = *cap ? *cap * 2 : 64;
				uint64_t *grown = realloc(*out, c * sizeof(*grown));
				if (!grown)
					return false;
				*out = grown;
				*cap = c;
			}
			(*out)[(*n)++] = g->held[j];
		}
	}
	return complete;
}

/* ---------------------------------------------------------------- for the ledger
 * (alerts_ledger.c): the same steps the grouping takes, nothing more. */

struct group *alerts_impl_group_new(const struct alerts *a, const char *key, uint64_t h)
{
	return new_group(a, key, h);
}

void alerts_impl_group_free(struct group *g)
{
	group_free(g);
}

int alerts_impl_rebuild_index(struct alerts *a)
{
	return rebuild_index(a);
}

int alerts_impl_keep_sample(struct alerts *a, struct group *g, uint64_t uid, const char *item, size_t len)
{
	return keep_sample(a, g, uid, item, len);
}

struct alert_msg *alerts_impl_msg_new(size_t nparts)
{
	return new_msg(nparts);
}
