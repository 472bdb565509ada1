/* hash: FNV-1a, and the 64-bit string hash herald's tables key by. */
#ifndef HERALD_HASH_H
#define HERALD_HASH_H
#include <stddef.h>
#include <stdint.h>

#define FNV_OFFSET 1469598103934665603ull

static inline uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* FNV-1a with its low bits mixed (they pick open-addressing slots); never
 * 0, so 0 can mark an empty slot. Saved in state files: do not change. */
static inline uint64_t hash_string(const char *s)
{
	uint64_t h = FNV_OFFSET;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h ? h : 1;
}

#endif
