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

#endif
