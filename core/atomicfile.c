/* atomicfile: the write-fsync-rename-fsync sequence and a bounded whole
 * file read. Owns no state; must not log (callers decide how loud a
 * failure is and count it). */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." when it has none), in buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(buf, size, ".");
	else if (slash == path)
		snprintf(buf, size, "/");
	else
		snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
	int saved = errno;
	snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(saved));
	errno = saved;
	return -1;
}

int atomicfile_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 5), dir[4096];
	int fd = -1, rc = -1;
	if (!tmp) {
		errno = ENOMEM;
		return fail(err, errlen, "write", path);
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(err, errlen, "create", tmp);
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			fail(err, errlen, "write", tmp);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		fail(err, errlen, "fsync", tmp);
		goto out;
	}
	int c = close(fd);
	fd = -1;
	if (c < 0) {
		fail(err, errlen, "close", tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		fail(err, errlen, "rename over", path);
		goto out;
	}
	/* The rename is durable only once the directory entry is. */
	dir_of(path, dir, sizeof(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		fail(err, errlen, "fsync the directory", dir);
		if (dfd >= 0)
			close(dfd);
		return -1;   /* path already holds the new contents */
	}
	close(dfd);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		int saved = errno;
		unlink(tmp);
		errno = saved;
	}
	free(tmp);
	return rc;
}

int atomicfile_read(const char *path, size_t max_bytes, char **out, size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return fail(err, errlen, "open", path);
	}
	int rc = -1;
	char *data = NULL;
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		fail(err, errlen, "stat", path);
		goto out;
	}
	if ((unsigned long long)sb.st_size > max_bytes) {
		snprintf(err, errlen, "%s is %lld bytes, over the %zu allowed", path, (long long)sb.st_size, max_bytes);
		errno = EFBIG;
		goto out;
	}
	size_t size = (size_t)sb.st_size, got = 0;
	if (!(data = malloc(size + 1))) {
		fail(err, errlen, "read", path);
		goto out;
	}
	while (got < size) {
		ssize_t r = read(fd, data + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(err, errlen, "read", path);
			goto out;
		}
		if (r == 0)
			break;   /* shorter than stat said: what is there is checked by the caller */
		got += (size_t)r;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	data = NULL;
	rc = 0;
out:
	free(data);
	close(fd);
	return rc;
}
