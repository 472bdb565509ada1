/* alerts_impl: the alert state's layout, shared by the grouping
 * (alerts.c) and the ledger that saves and restores it (alerts_ledger.c).
 * Private to those two files. */
#ifndef HERALD_ALERTS_IMPL_H
#define HERALD_ALERTS_IMPL_H
#include "alerts.h"

#define KNOWN_MAX 256     /* uids a group remembers as already alerted */
#define HELD_MAX 4096     /* uids of held events a group lists for the state file */
#define SWEEP_MS 1000
#define DIGEST_AFTER_MS 5000   /* a token back sooner than this is worth waiting for */

struct group {
	char *key;
	uint64_t hash;
	bool overflow;
	struct alert_sample *samples;  /* ring of policy.samples, oldest at `head` */
	size_t nsamples, head;
	size_t pending, total, messages;
	bool pending_new;              /* a held event is not a repeat */
	uint64_t first_ms, last_ms, last_sent_ms;
	uint64_t *known;               /* uids in earlier messages */
	size_t nknown;
	uint64_t *held;                /* uids of held events */
	size_t nheld, heldcap;
	bool held_untracked;           /* more than HELD_MAX */
};

struct window {
	struct alert_rate rate;
	uint64_t *free_at;             /* per token: when it is free again */
	size_t inflight;               /* the slot of the request in flight */
	bool busy;
};

struct alerts {
	struct alert_policy p;
	struct group **groups;
	size_t ngroups, cap;
	uint32_t *index;               /* group position + 1; 0 = empty */
	size_t index_size;             /* a power of two */
	struct group *overflow;
	struct window win[ALERT_MAX_RATES];
	size_t nwin;
	uint64_t last_sweep;
	struct alert_msg *resend;      /* from the ledger: sent first */
};

/* alerts.c's own steps, for the ledger. */
struct group *alerts_impl_group_new(const struct alerts *a, const char *key, uint64_t h);
void alerts_impl_group_free(struct group *g);
int alerts_impl_rebuild_index(struct alerts *a);
int alerts_impl_keep_sample(struct alerts *a, struct group *g, uint64_t uid, const char *item, size_t len);
struct alert_msg *alerts_impl_msg_new(size_t nparts);

#endif
