/* luaext: herald.log, herald.gzip, herald.crypto and the file,
 * environment, log and glob functions of the runtime's `core` table. */
#ifndef HERALD_LUAEXT_H
#define HERALD_LUAEXT_H
#include <lua.h>
#include "buf.h"

/* Puts herald.log, herald.gzip and herald.crypto into the table at
 * registry[loaded_key] (what `require` returns for them). */
void luaext_open(lua_State *L, const char *loaded_key);

/* Adds read_file, getenv, redact, log, glob and list_dir to the table on
 * top of the stack. */
void luaext_core(lua_State *L);

/* Appends the whole file to out. -1 (errno set) when it cannot be read. */
int luaext_read_file(const char *path, struct buf *out);

#endif
