/* json_lib: the json library Lua sees (json_open), and the kept strings
 * of the keys Kubernetes objects use, which the decoder pushes instead of
 * hashing each key again. Owns the registry entries herald.json.array_mt
 * and herald.json.keys. */
#include "json.h"
#include "json_impl.h"
#include "json_decoder.h"

#include <lauxlib.h>
#include <string.h>

#define KEY_ARRAY_MT JSON_KEY_ARRAY_MT

/* The keys of Kubernetes Events, watch events, Lists and Statuses. Their
 * Lua strings are made once and kept (KEY_KEYS), so decoding an event
 * pushes them from a table instead of hashing each key again. */
#define KEY_KEYS "herald.json.keys"
static const char *const known_keys[] = {
	"kind", "apiVersion", "metadata", "name", "namespace", "uid", "resourceVersion",
	"creationTimestamp", "managedFields", "annotations", "labels", "ownerReferences",
	"generateName", "involvedObject", "fieldPath", "reason", "message", "source", "component",
	"host", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime", "series",
	"lastObservedTime", "action", "related", "reportingComponent", "reportingInstance", "object",
	"items", "continue", "remainingItemCount", "code", "status", "details", "causes", "regarding",
	"note", "reportingController", "deprecatedSource", "deprecatedFirstTimestamp",
	"deprecatedLastTimestamp", "deprecatedCount", "cluster",
};
#define NKNOWN (sizeof(known_keys) / sizeof(*known_keys))
static unsigned char known_slot[256];   /* hash -> index + 1, 0 empty */
static size_t known_len[NKNOWN];

static unsigned key_hash(const char *s, size_t len)
{
	return ((unsigned)len * 31u + (unsigned char)s[0] * 7u + (unsigned char)s[len - 1] * 3u +
		(unsigned char)s[len / 2]) & 255u;
}

static void known_init(void)
{
	if (known_slot[key_hash(known_keys[0], strlen(known_keys[0]))])
		return;
	for (size_t i = 0; i < NKNOWN; i++) {
		known_len[i] = strlen(known_keys[i]);
		unsigned h = key_hash(known_keys[i], known_len[i]);
		while (known_slot[h])
			h = (h + 1) & 255u;
		known_slot[h] = (unsigned char)(i + 1);
	}
}

/* The index (1-based) of a known key, 0 for any other. */
int json_known_key(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (unsigned h = key_hash(s, len);; h = (h + 1) & 255u) {
		int i = known_slot[h];
		if (!i)
			return 0;
		/* lengths first: a key may hold a NUL byte */
		if (known_len[i - 1] == len && memcmp(known_keys[i - 1], s, len) == 0)
			return i;
	}
}

/* Pushes the table of the known keys' strings. */
void json_push_known_keys(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, KEY_KEYS) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	known_init();
	lua_createtable(L, (int)NKNOWN, 0);
	for (size_t i = 0; i < NKNOWN; i++) {
		lua_pushstring(L, known_keys[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_KEYS);
}

static int l_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	char err[256];
	lua_settop(L, 1); /* a second argument (lua-cjson's [] hint) is ignored */
	if (json_decode(L, s, len, true, err, sizeof(err)) < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	return 1;
}

static int l_array(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
	lua_setmetatable(L, 1);
	return 1;
}

static int l_is_array(lua_State *L)
{
	bool marked = false;
	if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
		lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
		marked = lua_rawequal(L, -1, -2);
	}
	lua_pushboolean(L, marked);
	return 1;
}

int json_open(lua_State *L)
{
	lua_newtable(L);                                                /* array_mt */
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__name");
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);               /* */

	static const luaL_Reg fns[] = {
		{ "decode", l_decode }, { "encode", json_l_encode },
		{ "decode_lazy", json_l_decode_lazy }, { "splice", json_l_splice },
		{ "document_herald", json_l_document_herald }, { "es_bulk", json_l_es_bulk },
		{ "array", l_array }, { "is_array", l_is_array }, { NULL, NULL },
	};
	luaL_newlib(L, fns);                                            /* json */
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_ARRAY_MT);
	lua_setfield(L, -2, "array_mt");
	return 1;
}
