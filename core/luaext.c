/* luaext: the small C libraries herald's Lua sees: herald.log,
 * herald.gzip, herald.crypto, and the file, environment, log and glob
 * functions of the runtime's `core` table. Owns no state; the budgets,
 * the sandbox and `require` are luahost's. */
#include "luaext.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "glob.h"
#include "log.h"

int luaext_read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(out, chunk, n) < 0) {
			rc = -1;
			break;
		}
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

/* core.read_file(path) -> text | nil, message */
static int l_read_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct buf src = BUF_INIT;
	if (luaext_read_file(path, &src) < 0) {
		int err = errno;
		buf_free(&src);
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, strerror(err));
		return 2;
	}
	lua_pushlstring(L, src.data ? src.data : "", src.len);
	buf_free(&src);
	return 1;
}

/* core.getenv(name) -> value | nil; the value is masked in all logs. */
static int l_getenv(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));
	if (!v)
		return 0;
	log_redact_add(v, strlen(v));
	lua_pushstring(L, v);
	return 1;
}

/* core.redact(value): masks value in all later logs. */
static int l_redact(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	log_redact_add(v, len);
	return 0;
}

/* core.log(level, message) */
static int l_log(lua_State *L)
{
	const char *level = luaL_checkstring(L, 1);
	const char *msg = luaL_checkstring(L, 2);
	enum log_level lv;
	if (log_parse_level(level, &lv) < 0)
		lv = LOG_INFO;
	log_msg(lv, "%s", msg);
	return 0;
}

/* core.glob(pattern, s) -> boolean */
static int l_glob(lua_State *L)
{
	size_t plen, slen;
	const char *pat = luaL_checklstring(L, 1, &plen);
	const char *s = luaL_checklstring(L, 2, &slen);
	lua_pushboolean(L, glob_match(pat, plen, s, slen));
	return 1;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* core.list_dir(path) -> sorted list of names (no dot files) | nil, message */
static int l_list_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	DIR *d = opendir(path);
	if (!d) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, strerror(errno));
		return 2;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				break;
			names = grown;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, names[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
		free(names[i]);
	}
	free(names);
	return 1;
}

/* herald.gzip.compress(s) -> gzip bytes (for Content-Encoding: gzip) */
static int l_gzip(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return luaL_error(L, "gzip: cannot start");
	uLong cap = deflateBound(&z, (uLong)len);
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, cap);
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t produced = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return luaL_error(L, "gzip: %d", rc);
	luaL_pushresultsize(&b, produced);
	return 1;
}

/* herald.crypto.hmac_sha256(key, message) -> the 32-byte MAC (robots'
 * request signatures) */
static int l_hmac_sha256(lua_State *L)
{
	size_t klen, mlen;
	const char *key = luaL_checklstring(L, 1, &klen);
	const char *msg = luaL_checklstring(L, 2, &mlen);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, mac, &maclen))
		return luaL_error(L, "hmac_sha256 failed");
	lua_pushlstring(L, (const char *)mac, maclen);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 1;
}

/* herald.crypto.now_ms() -> wall-clock Unix time in milliseconds */
static int l_now_ms(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	return 1;
}


/* herald.log.info(...) and friends, for herald's own scripts. */
static int log_at(lua_State *L, enum log_level level)
{
	int n = lua_gettop(L); /* before luaL_buffinit, which may push a placeholder */
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_msg(level, "%s", lua_tostring(L, -1));
	return 0;
}

static int l_log_debug(lua_State *L) { return log_at(L, LOG_DEBUG); }
static int l_log_info(lua_State *L) { return log_at(L, LOG_INFO); }
static int l_log_warn(lua_State *L) { return log_at(L, LOG_WARN); }
static int l_log_error(lua_State *L) { return log_at(L, LOG_ERROR); }

/* Pops the table on top into registry[loaded_key][name]. */
static void set_loaded(lua_State *L, const char *loaded_key, const char *name)
{
	lua_getfield(L, LUA_REGISTRYINDEX, loaded_key);                 /* mod loaded */
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);                                                  /* */
}

void luaext_open(lua_State *L, const char *loaded_key)
{
	static const luaL_Reg log_fns[] = {
		{ "debug", l_log_debug }, { "info", l_log_info }, { "warn", l_log_warn },
		{ "error", l_log_error }, { "redact", l_redact }, { NULL, NULL },
	};
	luaL_newlib(L, log_fns);                                        /* log */
	set_loaded(L, loaded_key, "herald.log");
	static const luaL_Reg gzip_fns[] = { { "compress", l_gzip }, { NULL, NULL } };
	luaL_newlib(L, gzip_fns);                                       /* gzip */
	set_loaded(L, loaded_key, "herald.gzip");
	static const luaL_Reg crypto_fns[] = {
		{ "hmac_sha256", l_hmac_sha256 }, { "now_ms", l_now_ms }, { NULL, NULL },
	};
	luaL_newlib(L, crypto_fns);                                     /* crypto */
	set_loaded(L, loaded_key, "herald.crypto");
}

void luaext_core(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "read_file", l_read_file }, { "getenv", l_getenv }, { "redact", l_redact },
		{ "log", l_log }, { "glob", l_glob }, { "list_dir", l_list_dir }, { NULL, NULL },
	};
	luaL_setfuncs(L, fns, 0);                                       /* core */
}
