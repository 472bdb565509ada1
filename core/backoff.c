/* backoff: the delay sequence of struct backoff and its reset rule. Pure
 * arithmetic: owns no timer and no clock; callers bring both. */
#include "backoff.h"

void backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms, double jitter, uint64_t seed)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	b->jitter = jitter < 0 ? 0 : jitter > 1 ? 1 : jitter;
	b->attempt = 0;
	b->last_ms = 0;
	b->rng = seed ^ 0x9e3779b97f4a7c15ull;
	if (!b->rng)
		b->rng = 1;
}

uint64_t backoff_base(const struct backoff *b, unsigned attempt)
{
	uint64_t delay = b->min_ms;
	for (unsigned i = 0; i < attempt && delay < b->max_ms; i++)
		delay = delay > UINT64_MAX / 2 ? UINT64_MAX : delay * 2;
	return delay < b->max_ms ? delay : b->max_ms;
}

/* xorshift64: a uniform double in [0, 1). */
static double next_unit(struct backoff *b)
{
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return (double)(x >> 11) / (double)(1ull << 53);
}

uint64_t backoff_next(struct backoff *b)
{
	uint64_t base = backoff_base(b, b->attempt);
	uint64_t cut = (uint64_t)((double)base * b->jitter * next_unit(b));
	uint64_t delay = base - cut;
	if (delay < 1)
		delay = 1;
	if (b->attempt < 64)
		b->attempt++;
	b->last_ms = delay;
	return delay;
}

uint64_t backoff_next_plain(struct backoff *b)
{
	uint64_t delay = backoff_base(b, b->attempt);
	if (b->attempt < 64)
		b->attempt++;
	b->last_ms = delay;
	return delay;
}

bool backoff_stream_ended(struct backoff *b, bool delivered, uint64_t lasted_ms)
{
	if (!delivered && lasted_ms <= b->last_ms)
		return false;
	backoff_reset(b);
	return true;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
	b->last_ms = 0;
}
