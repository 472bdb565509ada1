/* glob: the pattern language of rules: '*' matches any run of bytes
 * (including none); every other byte matches itself. */
#ifndef HERALD_GLOB_H
#define HERALD_GLOB_H
#include <stdbool.h>
#include <stddef.h>

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen);

#endif
