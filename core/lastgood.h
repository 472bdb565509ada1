/* lastgood: the last configuration that passed validation, kept as a
 * copy under <state-dir>/lastgood/ (sinks.lua and the other *.lua of the
 * config dir, the *.lua of rules/ and of sinks/ (sink types)) and replaced as a
 * whole, atomically: a crash leaves the old copy or the new one. herald
 * runs it when it starts with files that do not validate. */
#ifndef HERALD_LASTGOOD_H
#define HERALD_LASTGOOD_H
#include <stdbool.h>
#include <stddef.h>

/* The copy's directory, <state_dir>/lastgood, in buf; true when it
 * exists (a complete copy: it only ever appears by a rename). */
bool lastgood_dir(const char *state_dir, char *buf, size_t size);

/* Copies config_dir's *.lua, rules_dir's *.lua (NULL: config_dir/rules)
 * and the *.lua of config_dir/sinks into a new directory, then swaps it in for
 * the old copy. 0, or -1 with the reason in err (nothing changed). Never
 * logs. */
int lastgood_save(const char *state_dir, const char *config_dir, const char *rules_dir,
		  char *err, size_t errlen);

#endif
