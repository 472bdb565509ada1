/* alerts: an alert sink's groups and its robot's rate limit. Events fold
 * into groups by key; a group is due `wait` after its first event, then
 * `interval` after its last message when new events arrived, or `repeat`
 * after it when only repeats of events already alerted did. Sends take a
 * token from every rate window; a token comes back one period after its
 * request finished, so the robot never sees more than `count` messages in
 * any `period` (a request whose answer never came keeps its token
 * longer: the robot may count it after herald gave up). When more groups
 * are due than tokens are left, the last token carries one digest of them
 * all: nothing is dropped.
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
/* That request's answer never came (a timeout, a connection lost): the
 * robot may still count it after now (a request queued in front of it
 * past herald's deadline), so its tokens return one period after
 * now + max(late_ms, period), not one period from now. late_ms: how
 * long the robot may take to count it after herald gave up (the sink
 * passes its request timeout). */
void alerts_unanswered(struct alerts *a, uint64_t now, uint64_t late_ms);
/* That request was not a message (the sink type's probe, e.g. a token
 * fetch): its tokens are free again at once. */
void alerts_give_back(struct alerts *a);
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

/* ---------------------------------------------------------------- the ledger
 * (alerts_ledger.c) The whole state of one alert sink, saved so that a
 * restarted herald neither alerts again what was sent (each group keeps
 * when it last sent, its counts, and which uids it sent), nor loses what
 * groups held (their encoded items go out when due, as if herald had not
 * stopped), nor exceeds the robot's rate (the tokens in use in every
 * window). Times are written as wall-clock ms since the epoch and mapped
 * to the caller's clock on import (a past time older than that clock's
 * zero becomes 1: a group can then be due early by the missing uptime).
 *
 * FILE FORMAT (version 1; text lines, blobs length-prefixed):
 *   herald-ledger 1
 *   window COUNT PERIOD N T1 .. TN     tokens in use, each free again at Ti
 *   group O PENDING TOTAL MESSAGES NEW FIRST LAST SENT NKNOWN NHELD CUT NSAMPLES KEYLEN
 *   KEY                                KEYLEN bytes, then '\n'
 *   k UID ..                           NKNOWN uids already alerted
 *   h UID ..                           NHELD uids held (CUT 1: not all)
 *   s UID LEN                          NSAMPLES of these, oldest first,
 *   ITEM                               each LEN bytes, then '\n'
 *   message DIGEST ATTEMPTS NPARTS     at most one: a message taken but not
 *   part O REPEAT COUNT TOTAL SENT_BEFORE FIRST LAST NSAMPLES KEYLEN
 *   KEY, then NSAMPLES "s" records     known answered; sent first on import
 *   end SUM                            FNV-1a 64 (hex) of every byte before
 * O is 1 for the overflow group; NEW 1 when a held event is not a repeat;
 * times are wall ms (0 = never); UID is herald's 64-bit hash in 16 hex.
 *
 * SIZE: per group about 130 bytes + key + 17 per uid (at most 256 known
 * and 256 held are useful) + per sample 24 + the item; windows 14 bytes a
 * token in use. Under max_bytes the ledger degrades in steps instead of
 * failing (info->trimmed): 1 keeps the newest 16 uids of each list (a
 * later repeat of a forgotten one alerts as new), 2 also one sample a
 * group, 3 no sample text (counts only). With max_groups 200, samples 5,
 * keys up to 100 bytes and items up to 512 bytes, step 1 fits 700 KB
 * (the worst whole ledger is 2.3 MB): a ConfigMap's caller passes
 * max_bytes, a local file's SIZE_MAX. */
#include "buf.h"

#define ALERTS_LEDGER_VERSION 1

struct alerts_ledger_info {
	int trimmed;               /* 0: whole; 1..3 as above */
	size_t groups, held;       /* groups written, events they hold */
};

/* Appends the ledger to out. unsent: the sink's message taken from the
 * groups whose delivery is not known (NULL: none); it is sent again
 * after an import (at least once). now: the caller's clock, now_wall:
 * the same instant in wall ms. 0, or -1 (out of memory, or over
 * max_bytes even at step 3; out is then left as it was). */
int alerts_export(const struct alerts *a, const struct alert_msg *unsent, uint64_t now, uint64_t now_wall,
		  size_t max_bytes, struct buf *out, struct alerts_ledger_info *info);
/* Replaces a's groups, tokens in use and unsent message with a ledger's,
 * under a's policy (groups past max_groups fold into the overflow group;
 * windows match by period). On any error: -1, a one-line reason in err,
 * a untouched. */
int alerts_import(struct alerts *a, const char *data, size_t len, uint64_t now, uint64_t now_wall, char *err,
		  size_t errlen);

#endif
