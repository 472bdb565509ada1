/* statestore: owns the keys' bytes (compressed, in memory for a
 * ConfigMap), the ConfigMap's resourceVersion, the request in flight and
 * the write timer. Knows nothing of what the bytes mean; must not block
 * the loop (the ConfigMap goes through kubeapi's async requests). */
#include "statestore.h"

#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "atomicfile.h"
#include "http.h"
#include "json.h"
#include "kubeapi.h"
#include "log.h"
#include "metrics.h"

#define MAX_KEYS 512
#define RAW_MAX (64u << 20) /* a key's bytes before compression */

struct entry {
	char key[STATESTORE_KEY_MAX + 1];
	unsigned char *z;              /* 4-byte big-endian raw length, then zlib */
	size_t zlen;
	bool dirty;                    /* put, not written yet */
	bool writing;                  /* in the write in flight */
};

struct waiter {
	statestore_done_cb done;
	void *arg;
};

struct statestore {
	char *dir;                     /* the directory backend */
	struct loop *loop;             /* the ConfigMap backend: */
	struct kubeapi *api;
	char ns[254], name[254];
	char rv[64];                   /* "" : not created yet */
	uint64_t interval_ms;
	uint64_t last_write_ms;        /* loop time the last write started */
	struct loop_timer *timer;      /* runs while puts wait for the interval */
	struct http_transfer *xfer;
	bool xfer_is_write;
	int conflicts;                 /* 409s in a row */
	bool rewrite;                  /* write again once the read answers */
	struct entry entries[MAX_KEYS];
	size_t n;
	struct waiter *loads;          /* everyone waiting for the read in flight */
	size_t nloads;
	struct waiter flush_waiter;
};

static bool valid_key(const char *k)
{
	size_t n = strlen(k);
	if (!n || n > STATESTORE_KEY_MAX || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') ||
		      k[i] == '-' || k[i] == '_' || k[i] == '.'))
			return false;
	return true;
}

static struct entry *find(struct statestore *st, const char *key, bool create)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->entries[i].key, key) == 0)
			return &st->entries[i];
	if (!create || st->n == MAX_KEYS)
		return NULL;
	struct entry *e = &st->entries[st->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	return e;
}

static size_t total_bytes(const struct statestore *st)
{
	size_t t = 0;
	for (size_t i = 0; i < st->n; i++)
		t += st->entries[i].zlen + strlen(st->entries[i].key);
	return t;
}

static void finish(struct waiter *w, int rc)
{
	struct waiter copy = *w;
	w->done = NULL;
	if (copy.done)
		copy.done(copy.arg, rc);
}

/* Answers everyone waiting for the read. */
static void loaded(struct statestore *st, int rc)
{
	struct waiter *w = st->loads;
	size_t n = st->nloads;
	st->loads = NULL;
	st->nloads = 0;
	for (size_t i = 0; i < n; i++)
		w[i].done(w[i].arg, rc);
	free(w);
}

/* ---- the directory backend: files as they are (no compression) */

static int dir_put(struct statestore *st, const char *key, const void *data, size_t len)
{
	char path[4096], err[256];
	snprintf(path, sizeof(path), "%s/%s", st->dir, key);
	if (atomicfile_write(path, data, len, err, sizeof(err)) < 0) {
		log_error("state: %s", err);
		return -1;
	}
	return 0;
}

static int dir_get(struct statestore *st, const char *key, struct buf *out)
{
	char path[4096], err[256], *data = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", st->dir, key);
	int rc = atomicfile_read(path, RAW_MAX, &data, &len, err, sizeof(err));
	if (rc == 0 && buf_append(out, data, len) < 0)
		rc = -1;
	if (rc < 0)
		log_error("state: %s", err);
	free(data);
	return rc;
}

/* ---- compression of a key's bytes */

static int pack(const void *data, size_t len, unsigned char **out, size_t *outlen)
{
	uLongf zl = compressBound((uLong)len);
	unsigned char *z = malloc(zl + 4);
	if (!z || len > RAW_MAX)
		goto fail;
	z[0] = (unsigned char)(len >> 24), z[1] = (unsigned char)(len >> 16);
	z[2] = (unsigned char)(len >> 8), z[3] = (unsigned char)len;
	if (compress2(z + 4, &zl, data, (uLong)len, 6) != Z_OK)
		goto fail;
	*out = z;
	*outlen = zl + 4;
	return 0;
fail:
	free(z);
	return -1;
}

static int unpack(const unsigned char *z, size_t zlen, struct buf *out)
{
	if (zlen < 4)
		return -1;
	uLongf raw = (uLongf)z[0] << 24 | (uLongf)z[1] << 16 | (uLongf)z[2] << 8 | z[3];
	if (raw > RAW_MAX || buf_reserve(out, raw + 1) < 0)
		return -1;
	if (uncompress((unsigned char *)out->data, &raw, z + 4, (uLong)(zlen - 4)) != Z_OK)
		return -1;
	out->len = raw;
	out->data[raw] = '\0';
	return 0;
}

/* ---- the ConfigMap backend */

static void cm_path(struct statestore *st, struct buf *path, bool item)
{
	buf_printf(path, "/api/v1/namespaces/%s/configmaps", st->ns);
	if (item)
		buf_printf(path, "/%s", st->name);
}

/* Reads resourceVersion and binaryData of a ConfigMap; keys not dirty
 * here take the server's bytes. -1 when it does not parse. */
static int cm_parse(struct statestore *st, const char *body, size_t len)
{
	lua_State *L = luaL_newstate();
	char err[160];
	int rc = -1;
	if (!L)
		return -1;
	json_open(L);                                      /* json */
	lua_pop(L, 1);                                     /* (the decoder stays registered) */
	if (json_decode(L, body, len, false, err, sizeof(err)) < 0 || !lua_istable(L, -1))
		goto out;
	lua_getfield(L, -1, "metadata");                   /* cm, metadata */
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "resourceVersion");    /* cm, metadata, rv */
		if (lua_isstring(L, -1))
			snprintf(st->rv, sizeof(st->rv), "%s", lua_tostring(L, -1));
		lua_pop(L, 1);                             /* cm, metadata */
	}
	lua_pop(L, 1);                                     /* cm */
	lua_getfield(L, -1, "binaryData");                 /* cm, bd */
	if (lua_istable(L, -1)) {
		lua_pushnil(L);                            /* cm, bd, nil */
		while (lua_next(L, -2)) {                  /* cm, bd, key, b64 */
			size_t blen;
			const char *b64 = lua_tolstring(L, -1, &blen);
			const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
			struct entry *e = key && valid_key(key) ? find(st, key, true) : NULL;
			if (e && !e->dirty && b64) {
				unsigned char *z = malloc(blen / 4 * 3 + 4);
				int zl = z ? EVP_DecodeBlock(z, (const unsigned char *)b64, (int)blen) : -1;
				if (zl >= 0) {
					while (blen && b64[blen - 1] == '=' && zl > 0)
						blen--, zl--;          /* DecodeBlock counts the padding */
					free(e->z);
					e->z = z;
					e->zlen = (size_t)zl;
				} else {
					free(z);
				}
			}
			lua_pop(L, 1);                     /* cm, bd, key */
		}
	}
	rc = 0;
out:
	lua_close(L);
	return rc;
}

static void cm_write(struct statestore *st);
static void schedule(struct statestore *st);

/* The write in flight did not land: its keys are pending again. */
static void unwritten(struct statestore *st)
{
	for (size_t i = 0; i < st->n; i++) {
		st->entries[i].dirty = st->entries[i].dirty || st->entries[i].writing;
		st->entries[i].writing = false;
	}
}

static void on_cm_done(void *arg, const struct http_response *r)
{
	struct statestore *st = arg;
	bool write = st->xfer_is_write;
	st->xfer = NULL;
	long code = r->error ? 0 : r->status;
	if (code == 200 || code == 201) {
		if (cm_parse(st, r->body ? r->body : "", r->body_len) < 0)
			log_warn("state: configmap %s answered with something that is not JSON", st->name);
		if (write) {
			st->conflicts = 0;
			for (size_t i = 0; i < st->n; i++)
				st->entries[i].writing = false;
			metrics_inc(M_STATE_STORE_WRITES_TOTAL, 1, "result", "ok", NULL);
			if (st->rewrite && statestore_pending(st)) {
				cm_write(st);  /* puts that came while this one was on its way */
				return;
			}
			finish(&st->flush_waiter, 0);
		} else {
			loaded(st, 0);
			if (st->rewrite)
				cm_write(st);  /* a write that met a conflict: again on the new version */
		}
		return;
	}
	if (code == 404 && !write) {
		st->rv[0] = '\0';               /* not created yet: empty */
		loaded(st, 0);
		if (st->rewrite)
			cm_write(st);
		return;
	}
	if (write)
		unwritten(st);
	if (write && (code == 409 || code == 404) && ++st->conflicts <= 5) {
		/* someone else wrote (or deleted it): read, keep our keys, write again */
		metrics_inc(M_STATE_STORE_WRITES_TOTAL, 1, "result", "conflict", NULL);
		st->rewrite = true;
		statestore_load(st, NULL, NULL);
		return;
	}
	char body[256];
	kubeapi_excerpt(r, body, sizeof(body));
	log_warn("state: configmap %s/%s: %s %s", st->ns, st->name, r->error ? r->error : "HTTP",
		 r->error ? "" : body);
	if (code == 401)
		kubeapi_unauthorized(st->api);
	st->conflicts = 0;
	st->rewrite = false;
	if (!write)
		loaded(st, -1);
	else
		metrics_inc(M_STATE_STORE_WRITES_TOTAL, 1, "result", "failed", NULL);
	if (write)
		schedule(st);             /* the keys go again after the interval */
	finish(&st->flush_waiter, -1);
}

/* PUT (or POST when new) the whole ConfigMap on the version last read. */
static void cm_write(struct statestore *st)
{
	struct buf body = BUF_INIT, path = BUF_INIT;
	buf_printf(&body, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":");
	json_append_string(&body, st->name, strlen(st->name));
	buf_printf(&body, ",\"namespace\":");
	json_append_string(&body, st->ns, strlen(st->ns));
	if (st->rv[0])
		buf_printf(&body, ",\"resourceVersion\":\"%s\"", st->rv);
	buf_printf(&body, ",\"labels\":{\"app.kubernetes.io/managed-by\":\"herald\"}},\"binaryData\":{");
	bool first = true;
	for (size_t i = 0; i < st->n; i++) {
		struct entry *e = &st->entries[i];
		if (!e->z)
			continue;      /* a key whose only put was refused */
		buf_printf(&body, "%s\"%s\":\"", first ? "" : ",", e->key);
		first = false;
		size_t at = body.len;
		if (buf_reserve(&body, e->zlen / 3 * 4 + 8) == 0)
			body.len += (size_t)EVP_EncodeBlock((unsigned char *)body.data + at, e->z, (int)e->zlen);
		buf_putc(&body, '"');
		e->writing = e->dirty;
		e->dirty = false;
	}
	buf_printf(&body, "}}");
	cm_path(st, &path, st->rv[0] != '\0');
	struct http_request req = { .method = st->rv[0] ? "PUT" : "POST", .timeout_ms = 10000,
				    .body = body.data, .body_len = body.len };
	st->xfer_is_write = true;
	st->rewrite = false;
	st->last_write_ms = loop_now(st->loop);
	st->xfer = kubeapi_start(st->api, &req, path.data, on_cm_done, st);
	metrics_set(M_STATE_STORE_BYTES, (double)body.len, NULL);
	buf_free(&body);
	buf_free(&path);
	if (!st->xfer) {
		unwritten(st);
		finish(&st->flush_waiter, -1);
	}
}

static void on_timer(struct loop *loop, void *arg)
{
	struct statestore *st = arg;
	if (statestore_pending(st))
		statestore_flush(st, NULL, NULL);
}

/* Puts wait: write once the interval since the last write has passed. */
static void schedule(struct statestore *st)
{
	if (loop_timer_active(st->timer))
		return;
	uint64_t now = loop_now(st->loop), due = st->last_write_ms + st->interval_ms;
	loop_timer_start(st->timer, st->last_write_ms && due > now ? due - now : 0);
}

/* ---- the API */

struct statestore *statestore_open_dir(const char *dir)
{
	struct statestore *st = calloc(1, sizeof(*st));
	if (st && !(st->dir = strdup(dir))) {
		free(st);
		st = NULL;
	}
	return st;
}

struct statestore *statestore_open_configmap(struct loop *loop, struct kubeapi *api, const char *ns,
					     const char *name, uint64_t interval_ms)
{
	struct statestore *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->loop = loop;
	st->api = api;
	st->interval_ms = interval_ms;
	snprintf(st->ns, sizeof(st->ns), "%s", ns);
	snprintf(st->name, sizeof(st->name), "%s", name);
	if (!(st->timer = loop_timer_new(loop, on_timer, st))) {
		free(st);
		return NULL;
	}
	return st;
}

void statestore_free(struct statestore *st)
{
	if (!st)
		return;
	http_cancel(st->xfer);
	st->xfer = NULL;
	loop_timer_free(st->timer);
	st->timer = NULL;
	loaded(st, -1);                       /* waiters free what they hold */
	for (size_t i = 0; i < st->n; i++)
		free(st->entries[i].z);
	free(st->dir);
	free(st);
}

void statestore_load(struct statestore *st, statestore_done_cb done, void *arg)
{
	if (st->dir) {
		if (done)
			done(arg, 0);
		return;
	}
	if (done) {
		struct waiter *w = realloc(st->loads, (st->nloads + 1) * sizeof(*w));
		if (!w) {
			done(arg, -1);
			return;
		}
		st->loads = w;
		w[st->nloads++] = (struct waiter){ done, arg };
	}
	if (st->xfer && !st->xfer_is_write)
		return;                           /* a read is on its way */
	if (st->xfer) {
		http_cancel(st->xfer);            /* a write: it may land or not; */
		st->rewrite = true;               /* its keys go again after the read */
		unwritten(st);
	}
	struct buf path = BUF_INIT;
	cm_path(st, &path, true);
	struct http_request req = { .method = "GET", .timeout_ms = 10000 };
	st->xfer_is_write = false;
	st->xfer = kubeapi_start(st->api, &req, path.data, on_cm_done, st);
	buf_free(&path);
	if (!st->xfer)
		loaded(st, -1);
}

int statestore_get(struct statestore *st, const char *key, struct buf *out)
{
	buf_reset(out);
	if (!valid_key(key))
		return -1;
	if (st->dir)
		return dir_get(st, key, out);
	struct entry *e = find(st, key, false);
	if (!e || !e->z)
		return 1;
	return unpack(e->z, e->zlen, out);
}

int statestore_put(struct statestore *st, const char *key, const void *data, size_t len)
{
	if (!valid_key(key)) {
		log_error("state: '%s' is not a valid key", key);
		return -1;
	}
	if (st->dir)
		return dir_put(st, key, data, len);
	unsigned char *z;
	size_t zlen;
	struct entry *e = find(st, key, true);
	if (!e || pack(data, len, &z, &zlen) < 0) {
		log_error("state: no room for %s", key);
		return -1;
	}
	size_t others = total_bytes(st) - e->zlen - strlen(e->key);
	if (others + zlen + strlen(key) > STATESTORE_MAX_BYTES) {
		log_error("state: %s (%zu bytes compressed) would take configmap %s past %d KiB; keeping its "
			  "previous copy", key, zlen, st->name, STATESTORE_MAX_BYTES / 1024);
		metrics_inc(M_STATE_STORE_WRITES_TOTAL, 1, "result", "too_big", NULL);
		free(z);
		return -1;
	}
	free(e->z);
	e->z = z;
	e->zlen = zlen;
	e->dirty = true;
	schedule(st);
	return 0;
}

void statestore_flush(struct statestore *st, statestore_done_cb done, void *arg)
{
	if (st->dir || !statestore_pending(st)) {
		if (done)
			done(arg, 0);
		return;
	}
	if (done) {
		finish(&st->flush_waiter, -1);
		st->flush_waiter = (struct waiter){ done, arg };
	}
	if (st->xfer) {
		st->rewrite = true;  /* after the answer in flight */
		return;
	}
	cm_write(st);
}

bool statestore_pending(const struct statestore *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->entries[i].dirty)
			return true;
	return false;
}
