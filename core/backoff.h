/* backoff: how long to wait before the next attempt, one rule for the
 * watch and every sink.
 *
 * The delay of attempt n (0 for the first retry) is min * 2^n, at most max,
 * then lowered by up to `jitter` of itself at random (0.5: between half
 * and the whole delay), so many clients that failed together do not retry
 * together. A stream (a watch, a connection) that delivered data, or that
 * lasted longer than the delay it waited for, was healthy: its end starts
 * the sequence again from min. */
#ifndef HERALD_BACKOFF_H
#define HERALD_BACKOFF_H
#include <stdbool.h>
#include <stdint.h>

struct backoff {
	uint64_t min_ms, max_ms;
	double jitter;           /* 0..1 */
	unsigned attempt;        /* retries since the last reset */
	uint64_t last_ms;        /* the delay backoff_next gave last; 0 after a reset */
	uint64_t rng;            /* xorshift64 state, never 0 */
};

/* min_ms >= 1, max_ms >= min_ms (else clamped), jitter clamped to 0..1.
 * seed: any value (0 is fine); tests pass a fixed one. */
void backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms, double jitter, uint64_t seed);

/* The delay of attempt n without jitter: min * 2^n, at most max. */
uint64_t backoff_base(const struct backoff *b, unsigned attempt);

/* The delay before the next attempt (with jitter), and counts it. */
uint64_t backoff_next(struct backoff *b);
/* The same without jitter (base of the attempt), and counts it. */
uint64_t backoff_next_plain(struct backoff *b);

/* A stream that the last delay led to has ended: it delivered data, and it
 * lasted lasted_ms. A healthy stream (data, or longer than the last delay)
 * resets the sequence; returns true when it did. */
bool backoff_stream_ended(struct backoff *b, bool delivered, uint64_t lasted_ms);

/* Starts again from min (a request that succeeded). */
void backoff_reset(struct backoff *b);

#endif
