/* luahost_kafka: herald.kafka, what the kafka sink type asks of
 * librdkafka while a configuration loads: check(properties) runs
 * kafka_check (no broker is contacted) and version() names librdkafka;
 * and luahost_kafka_props, the reading of a sink's properties for its
 * sink_spec. Owns nothing; must not create a producer or keep any state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "kafka.h"
#include "luahost_lib.h"

enum { KAFKA_CHECK_MAX = 256 };

/* herald.kafka.check({ name1, value1, name2, value2, ... })
 *   -> nil when librdkafka accepts them all,
 *   or message, index (1-based pair number; nil when no one property is
 *   at fault: a missing bootstrap.servers or a bad combination).
 * Secret values never appear in the message (kafka_check masks them). */
static int l_check(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	size_t n = lua_rawlen(L, 1) / 2;
	if (n > KAFKA_CHECK_MAX)
		return luaL_error(L, "kafka: more than %d properties", KAFKA_CHECK_MAX);
	struct kafka_prop props[KAFKA_CHECK_MAX];
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)(2 * i + 1));            /* list name */
		lua_rawgeti(L, 1, (lua_Integer)(2 * i + 2));            /* list name value */
		props[i].name = lua_tostring(L, -2);
		props[i].value = lua_tostring(L, -1);
		if (!props[i].name || !props[i].value)
			return luaL_error(L, "kafka: property %d is not a name and a value", (int)i + 1);
		lua_pop(L, 2);  /* the strings stay alive in the list */
	}
	char err[512];
	size_t bad = n;
	if (kafka_check(props, n, err, sizeof(err), &bad) == 0)
		return 0;
	lua_pushstring(L, err);                                         /* err */
	if (bad < n)
		lua_pushinteger(L, (lua_Integer)bad + 1);
	else
		lua_pushnil(L);                                         /* err index|nil */
	return 2;
}

static int l_version(lua_State *L)
{
	lua_pushstring(L, kafka_version());
	return 1;
}

int luahost_kafka_props(lua_State *L, int conf, char ***props, size_t *n)
{
	lua_getfield(L, conf, "librdkafka");                            /* list */
	size_t pairs = lua_istable(L, -1) ? lua_rawlen(L, -1) / 2 : 0;
	char **p = calloc(2 * pairs + 1, sizeof(char *));
	int rc = p ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < 2 * pairs; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);                 /* list s */
		const char *v = lua_tostring(L, -1);
		if (!v || !(p[i] = strdup(v)))
			rc = -1;
		lua_pop(L, 1);                                          /* list */
	}
	lua_pop(L, 1);
	*props = p;
	*n = p ? pairs : 0;
	return rc;
}

const luaL_Reg luahost_lib_kafka[] = { { "check", l_check }, { "version", l_version }, { NULL, NULL } };
