/* confwatch: notices that the configuration changed. Watches directories
 * (not files) with inotify, so the kubelet's ConfigMap update (a new
 * timestamped directory, a `..data_tmp` symlink renamed over `..data`)
 * and plain edits both count; debounces; and re-hashes the content
 * periodically as a backstop for anything inotify misses. */
#ifndef HERALD_CONFWATCH_H
#define HERALD_CONFWATCH_H
#include <stddef.h>
#include <stdint.h>
#include "loop.h"

typedef void (*confwatch_cb)(void *arg);

struct confwatch;

/* dirs are copied; missing ones are watched once they appear (poll).
 * loaded_hash: confwatch_hash of the configuration in force, so a change
 * made before the watch began is still noticed by the poll. */
struct confwatch *confwatch_new(struct loop *loop, const char *const *dirs, size_t ndirs,
				uint64_t debounce_ms, uint64_t poll_ms, uint64_t loaded_hash,
				confwatch_cb cb, void *arg);
void confwatch_free(struct confwatch *w);

/* A hash of the *.lua files (names and contents, symlinks followed) in the
 * directories, in name order: equal hashes, same configuration. */
uint64_t confwatch_hash(const char *const *dirs, size_t ndirs);

#endif
