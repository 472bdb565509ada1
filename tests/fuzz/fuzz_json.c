/* libFuzzer target: JSON decoding (empty arrays, nulls, escapes, depth)
 * in a state with a memory cap, so memory errors strike mid-decode too.
 * Oracle: whatever decodes encodes again, and that text decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <lualib.h>

#include "buf.h"
#include "json.h"

#define CAP (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;

#include "../capped.h"

/* (text) -> nothing; aborts when the oracle fails. */
static int round_trip(lua_State *S)
{
	size_t len;
	const char *text = lua_tolstring(S, 1, &len);
	char err[256];
	if (json_decode(S, text, len, true, err, sizeof(err)) < 0)
		return 0;
	struct buf out = BUF_INIT;
	if (json_encode(S, -1, &out, err, sizeof(err)) < 0)
		abort(); /* a decoded value always encodes */
	lua_pushlstring(S, out.data ? out.data : "", out.len);
	buf_free(&out);
	size_t elen;
	const char *again = lua_tolstring(S, -1, &elen);
	if (json_decode(S, again, elen, true, err, sizeof(err)) < 0)
		abort(); /* and what herald writes, it reads */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L) {
		L = lua_newstate(capped, NULL);
		luaL_openlibs(L);
		json_open(L);
		lua_pop(L, 1);
	}
	lua_pushcfunction(L, round_trip);
	lua_pushlstring(L, (const char *)data, size);
	int rc = lua_pcall(L, 1, 0, 0);
	if (rc != LUA_OK && rc != LUA_ERRMEM)
		abort();
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
