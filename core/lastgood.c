/* lastgood: owns <state-dir>/lastgood and its staging directory
 * lastgood.new. Copies the *.lua files of a configuration that passed
 * validation, then exchanges the two directories with one rename
 * (renameat2 RENAME_EXCHANGE). Must not validate (the caller saves only
 * what runtime accepted) nor log. */
#include "lastgood.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

#define MAX_FILE_BYTES (16u << 20)

bool lastgood_dir(const char *state_dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/lastgood", state_dir);
	struct stat sb;
	return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_lua(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 4 && strcmp(name + len - 4, ".lua") == 0;
}

/* Removes dir and what it holds (files, and directories of files). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[4096];
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) < 0 && (errno == EISDIR || errno == EPERM))
				remove_tree(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Copies from's *.lua files (symlinks followed: a ConfigMap's names are)
 * into to, which it creates. A missing from is an empty copy. 0; 1 when a
 * file of from cannot be read; -1 when to cannot be written (err). */
static int copy_lua(const char *from, const char *to, char *err, size_t errlen)
{
	if (mkdir(to, 0700) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", to, strerror(errno));
		return -1;
	}
	DIR *d = opendir(from);
	if (!d)
		return 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (!is_lua(e->d_name))
			continue;
		char src[4096], dst[4096], *data = NULL;
		size_t len;
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		int r = atomicfile_read(src, MAX_FILE_BYTES, &data, &len, err, errlen);
		if (r == 0)
			rc = atomicfile_write(dst, data, len, err, errlen);
		else
			rc = 1;   /* gone or unreadable since it validated */
		free(data);
	}
	closedir(d);
	return rc;
}

/* Builds the new copy in stage: copy_lua's result. */
static int stage_copy(const char *stage, const char *config_dir, const char *rules_dir, char *err, size_t errlen)
{
	char sub[4200], src[4200];
	int rc = copy_lua(config_dir, stage, err, errlen);
	if (rc == 0) {
		snprintf(sub, sizeof(sub), "%s/rules", stage);
		if (rules_dir)
			snprintf(src, sizeof(src), "%s", rules_dir);
		else
			snprintf(src, sizeof(src), "%s/rules", config_dir);
		rc = copy_lua(src, sub, err, errlen);
	}
	if (rc == 0) {
		snprintf(sub, sizeof(sub), "%s/sinks", stage);
		snprintf(src, sizeof(src), "%s/sinks", config_dir);
		rc = copy_lua(src, sub, err, errlen);
	}
	return rc;
}

int lastgood_save(const char *state_dir, const char *config_dir, const char *rules_dir,
		  bool (*unchanged)(void *arg), void *arg, char *err, size_t errlen)
{
	char cur[4096], stage[4096];
	bool exists = lastgood_dir(state_dir, cur, sizeof(cur));
	snprintf(stage, sizeof(stage), "%s/lastgood.new", state_dir);
	remove_tree(stage);   /* a crash's leftover */
	int rc = stage_copy(stage, config_dir, rules_dir, err, errlen);
	if (rc == 0 && unchanged && !unchanged(arg))
		rc = 1;
	if (rc == 0) {
		rc = exists ? renameat2(AT_FDCWD, stage, AT_FDCWD, cur, RENAME_EXCHANGE) : rename(stage, cur);
		if (rc < 0)
			snprintf(err, errlen, "cannot put %s in place: %s", cur, strerror(errno));
	}
	if (rc == 0) {
		int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) < 0) {
			snprintf(err, errlen, "cannot fsync %s: %s", state_dir, strerror(errno));
			rc = -1;   /* the new copy is in place, maybe not durably */
		}
		if (dfd >= 0)
			close(dfd);
	}
	remove_tree(stage);   /* the old copy after an exchange, or a skipped or failed new one */
	return rc;
}
