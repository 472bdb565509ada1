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
 * and the *.lua of config_dir/sinks into <state_dir>/lastgood.new, asks
 * unchanged(arg) (NULL: not asked) whether the files are still the ones
 * that validated, then swaps the new copy in for the old one.
 * 0: saved. 1: skipped, the old copy stays (a file of the configuration
 * could not be read, or unchanged said no: the files moved under the
 * copy). -1: the state dir cannot be written, the reason in err (the old
 * copy stays). Never logs. */
int lastgood_save(const char *state_dir, const char *config_dir, const char *rules_dir,
		  bool (*unchanged)(void *arg), void *arg, char *err, size_t errlen);

#endif
