/* atomicfile: replace a file's contents so that a crash (kill -9, power
 * loss) at any moment leaves either the old contents or the new ones,
 * never a mix: write path.tmp, fsync it, rename it over path, fsync the
 * directory. Used by the delivery checkpoint and the alert ledger. */
#ifndef HERALD_ATOMICFILE_H
#define HERALD_ATOMICFILE_H
#include <stddef.h>

/* Replaces path with len bytes of data (mode 0600). 0, or -1 with errno
 * set and a one-line reason in err (the temporary file is removed); never
 * logs: the caller reports and counts. */
int atomicfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Reads a whole file into *out (caller frees; NUL-terminated, *len
 * without it). 0; 1 when the file does not exist (*out NULL); -1 with a
 * reason in err. Files over max_bytes are refused (-1). */
int atomicfile_read(const char *path, size_t max_bytes, char **out, size_t *len, char *err, size_t errlen);

#endif
