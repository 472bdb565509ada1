/* ledgers: the state dir's ledger files. Owns the bytes of each file's
 * last save (to skip writing what did not change); the ledgers themselves
 * are the alert sinks'. Must not decide what a ledger holds (alerts.c). */
#include "ledgers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "log.h"
#include "metrics.h"
#include "statedir.h"
#include "statestore.h"

#define LEDGER_MAX_BYTES (64u << 20)
/* Wall ms and the loop's clock are read at two instants, and a robot
 * counts its minute from arrivals: imported times are moved this much
 * later, so a token the previous process used is never freed early. */
#define CLOCK_MARGIN_MS 1000

struct saved_file {
	char *name;                    /* the sink's */
	struct buf bytes;
};

struct ledgers {
	char *dir;
	struct statestore *store;      /* borrowed; NULL: none */
	struct saved_file *files;
	size_t n;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sink names become file names: anything but [A-Za-z0-9._-] is '_'. */
static void path_of(const struct ledgers *l, const char *name, struct buf *out)
{
	buf_printf(out, "%s/", l->dir);
	for (const char *p = name; *p; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '-' || ch == '_' || (ch == '.' && p != name);
		buf_putc(out, ok ? ch : '_');
	}
	buf_printf(out, ".ledger");
}

/* The store's key of a ledger file: its base name. */
static const char *key_of(const struct buf *path)
{
	const char *slash = strrchr(path->data, '/');
	return slash ? slash + 1 : path->data;
}

void ledgers_set_store(struct ledgers *l, struct statestore *store)
{
	l->store = store;
}

/* The saved bytes of a ledger: the store's copy when there is one, else
 * the file. atomicfile_read's answers: 0, 1 (none), -1 (err). */
static int read_ledger(const struct ledgers *l, const struct buf *path, char **data, size_t *len, char *err,
		       size_t errlen)
{
	struct buf bytes = BUF_INIT;
	int got = l->store ? statestore_get(l->store, key_of(path), &bytes) : 1;
	if (got == 0) {
		*data = bytes.data ? bytes.data : strdup("");
		*len = bytes.len;
		return *data ? 0 : -1;
	}
	buf_free(&bytes);
	if (got < 0)
		log_warn("%s: the state store's copy does not decompress; reading the file", key_of(path));
	return atomicfile_read(path->data, LEDGER_MAX_BYTES, data, len, err, errlen);
}

static struct saved_file *file_of(struct ledgers *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->files[i].name, name) == 0)
			return &l->files[i];
	struct saved_file *f = realloc(l->files, (l->n + 1) * sizeof(*f));
	if (!f)
		return NULL;
	l->files = f;
	f = &l->files[l->n];
	memset(f, 0, sizeof(*f));
	if (!(f->name = strdup(name)))
		return NULL;
	l->n++;
	return f;
}

struct ledgers *ledgers_new(const char *dir)
{
	struct ledgers *l = calloc(1, sizeof(*l));
	if (l && dir && !(l->dir = strdup(dir))) {
		free(l);
		return NULL;
	}
	return l;
}

void ledgers_free(struct ledgers *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->files[i].name);
		buf_free(&l->files[i].bytes);
	}
	free(l->files);
	free(l->dir);
	free(l);
}

void ledgers_load(struct ledgers *l, struct sinks *s)
{
	if (!l->dir)
		return;
	for (size_t i = 0; i < sinks_count(s); i++) {
		const char *name = sinks_ledger_name(s, i);
		if (!name)
			continue;
		struct buf path = BUF_INIT;
		path_of(l, name, &path);
		char err[256], *data = NULL;
		size_t len = 0;
		int rc = read_ledger(l, &path, &data, &len, err, sizeof(err));
		if (rc == 0 && sinks_ledger_import(s, i, data, len, wall_ms() - CLOCK_MARGIN_MS, err, sizeof(err)) == 0) {
			log_info("sink %s: alert ledger read from %s", name, path.data);
		} else if (rc != 1) {
			log_error("sink %s: %s: %s; starting without it", name, path.data, err);
			metrics_inc(M_STATE_LOAD_ERRORS_TOTAL, 1, "file", "ledger", NULL);
		}
		free(data);
		buf_free(&path);
	}
}

int ledgers_save(struct ledgers *l, const struct sinks *s)
{
	if (!l->dir)
		return 0;
	int rc = 0;
	uint64_t now_wall = wall_ms();
	for (size_t i = 0; i < sinks_count(s); i++) {
		const char *name = sinks_ledger_name(s, i);
		struct saved_file *f = name ? file_of(l, name) : NULL;
		struct buf out = BUF_INIT, path = BUF_INIT;
		char err[256];
		if (!name)
			continue;
		if (!f || sinks_ledger_export(s, i, now_wall, &out) < 0) {
			log_error("sink %s: out of memory writing its alert ledger", name);
			statedir_saved(-1, name, "out of memory writing an alert ledger");
			rc = -1;
		} else if (out.len != f->bytes.len || memcmp(out.data, f->bytes.data, out.len) != 0) {
			path_of(l, name, &path);
			if (atomicfile_write(path.data, out.data, out.len, err, sizeof(err)) < 0) {
				char why[4200];
				snprintf(why, sizeof(why), "cannot write %s: %s", path.data, strerror(errno));
				log_error("sink %s: %s", name, err);
				statedir_saved(-1, path.data, why);
				rc = -1;
			} else {
				statedir_saved(0, path.data, NULL);
				if (l->store)
					statestore_put(l->store, key_of(&path), out.data, out.len);
				metrics_inc(M_STATE_BYTES_WRITTEN_TOTAL, (long)out.len, "file", "ledger", NULL);
				buf_free(&f->bytes);
				f->bytes = out;
				out = (struct buf)BUF_INIT;
			}
		}
		buf_free(&out);
		buf_free(&path);
	}
	return rc;
}
