/* alerts: an alert sink's groups and its robot's rate limit. Events fold
 * into groups by key; a group is due `wait` after its first event, then
 * `interval` after its last message when new events arrived, or `repeat`
 * after it when only repeats of events already alerted did. Sends take a
 * token from every rate window; a token comes back one period after its
 * request finished, so the robot never sees more than `count` messages in
 * any `period`. When more groups are due than tokens are left, the last
 * token carries one digest of them all: nothing is dropped.
 * Pure logic: no I/O, no clock of its own (callers pass now_ms). */
#ifndef HERALD_ALERTS_H
#define HERALD_ALERTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALERT_MAX_RATES 4

struct alert_rate {
	unsigned count;
	uint64_t period_ms;
};

struct alert_policy {
	uint64_t wait_ms, interval_ms, repeat_ms;
	size_t samples;            /* events a message shows per group (newest) */
	size_t max_groups;         /* past it, new keys fold into one overflow group */
	struct alert_rate rates[ALERT_MAX_RATES];
	size_t nrates;
};

struct alert_sample {
	uint64_t uid;
	char *data;
	size_t len;
};

/* One group's part of a message. */
struct alert_part {
	char *key;
	struct alert_sample *samples;   /* oldest first */
	size_t nsamples;
	size_t count;              /* events folded into this message */
	size_t total;              /* events since the group began */
	size_t sent_before;        /* messages of this group before this one */
	bool repeat;               /* only repeats of events already alerted */
	bool overflow;             /* the keys past max_groups, together */
	uint64_t first_ms, last_ms;
};

struct alert_msg {
	bool digest;
	struct alert_part *parts;
	size_t nparts;
	size_t events;             /* the sum of the parts' counts */
	size_t attempts;           /* requests made for it so far */
};

struct alerts;

struct alerts *alerts_new(const struct alert_policy *p);
void alerts_free(struct alerts *a);
/* A reload: groups and tokens in use are kept. */
void alerts_set_policy(struct alerts *a, const struct alert_policy *p);

/* Folds an event (its encoded item) into the group `key`. uid is the
 * event's uid hash (0 when it has none). -1 when memory ran out (the event
 * is still counted). */
int alerts_add(struct alerts *a, const char *key, uint64_t uid, const char *item, size_t len, uint64_t now);

/* The message to send now, or NULL; *wake is when to ask again
 * (UINT64_MAX: not before another event). all: every group with news is
 * due (shutting down). */
struct alert_msg *alerts_next(struct alerts *a, uint64_t now, bool all, uint64_t *wake);
/* A request is starting: takes a token from every window. */
void alerts_sending(struct alerts *a, uint64_t now);
/* That request finished (whatever the answer): its tokens return one
 * period from now. */
void alerts_sent(struct alerts *a, uint64_t now);
/* Tokens free in the tightest window. */
unsigned alerts_tokens(const struct alerts *a, uint64_t now);
/* When a token is free: now, a later time, or UINT64_MAX while a request
 * holds the last one. */
uint64_t alerts_token_at(const struct alerts *a, uint64_t now);

/* Shutting down: forgets what groups hold that is only repeats of alerts
 * already sent (nothing new would be said). Returns how many events. */
size_t alerts_drop_repeats(struct alerts *a);
/* Events in groups, not yet in a message. */
size_t alerts_held(const struct alerts *a);
size_t alerts_groups(const struct alerts *a);
/* Appends the uid hashes of held events to *out (grown with realloc).
 * Returns false when a group held too many to list them all. */
bool alerts_held_uids(const struct alerts *a, uint64_t **out, size_t *n, size_t *cap);

void alert_msg_free(struct alert_msg *m);

#endif
