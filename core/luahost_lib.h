/* luahost_lib: the libraries luahost gives herald's scripts (see
 * luahost_lib.c): herald.log, herald.gzip, herald.crypto, herald.kafka, and the
 * core.* functions that need no host. */
#ifndef HERALD_LUAHOST_LIB_H
#define HERALD_LUAHOST_LIB_H
#include <lauxlib.h>

extern const luaL_Reg luahost_lib_log[];
extern const luaL_Reg luahost_lib_gzip[];
extern const luaL_Reg luahost_lib_crypto[];
extern const luaL_Reg luahost_lib_core[];
/* herald.kafka (luahost_kafka.c) */
extern const luaL_Reg luahost_lib_kafka[];
/* Reads conf.librdkafka (the kafka sink type's properties: name, value,
 * name, ...) at index conf into *props (2 * *n strings; caller frees with
 * sinktype_props_free). -1 when memory ran out or a value is not a string. */
int luahost_kafka_props(lua_State *L, int conf, char ***props, size_t *n);

#endif
