/* capped: a Lua allocator with a memory cap (held: what it holds now), so
 * that memory errors strike in the middle of what a test or fuzz target
 * runs. Define CAP (bytes: a constant or a variable) before including it;
 * one per program. */
#ifndef HERALD_FUZZ_CAPPED_H
#define HERALD_FUZZ_CAPPED_H
#include <stddef.h>
#include <stdlib.h>

static size_t held;

static void *capped(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		held -= old;
		return NULL;
	}
	if (nsize > old && held + nsize - old > CAP)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p)
		held = held - old + nsize;
	return p;
}

#endif
