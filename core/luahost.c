/* luahost: the Lua state, its sandbox, its budgets and `require`.
 * Owns the lua_State; knows nothing of sinks, clusters or HTTP. The
 * entry points of the runtime (scripts/herald/runtime.lua) are called by
 * runner.c; this file only provides the protected, budgeted call. The
 * small C libraries the state sees are luahost_lib's. */
#include "luahost.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "embedded.h"
#include "json.h"
#include "log.h"
#include "luahost_lib.h"
#include "luahost_time.h"
#include "metrics.h"

#define HOOK_STEP 1000
#define KEY_RUNTIME "herald.runtime"
#define KEY_CORE "herald.core"
#define KEY_LOADED "herald.loaded"
#define KEY_STRIKES "herald.strikes"

struct budget {
	bool active;
	long left;               /* instructions */
	size_t mem_ceiling;      /* bytes in use the call may reach */
	struct luahost_clock clock; /* time budget (luahost_time.c) */
};

struct luahost {
	lua_State *L;
	struct luahost_limits limits;
	char *scripts_dir;
	size_t used;             /* bytes held by the state */
	struct budget budget;
	bool exhausted;          /* a budget ran out: error on every instruction */
	bool timed_out;          /* ... and it was the time budget */
	bool mem_exceeded;       /* the last allocation failure was a budget's */
	bool overrun;            /* the last budgeted call failed on a budget */
	char *error;
	void *userdata;
};

struct luahost *luahost_from(lua_State *L)
{
	return *(struct luahost **)lua_getextraspace(L);
}

lua_State *luahost_state(struct luahost *h) { return h->L; }
size_t luahost_memory(const struct luahost *h) { return h->used; }
void *luahost_userdata(struct luahost *h) { return h->userdata; }
void luahost_set_userdata(struct luahost *h, void *ud) { h->userdata = ud; }
const char *luahost_error(struct luahost *h) { return h->error ? h->error : "unknown error"; }

static void set_error(struct luahost *h, const char *msg)
{
	free(h->error);
	h->error = strdup(msg ? msg : "unknown error");
}

static void *host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct luahost *h = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		h->used -= old;
		return NULL;
	}
	if (nsize > old) {
		size_t grow = nsize - old;
		if (h->used + grow > h->limits.state_memory ||
		    (h->budget.active && h->used + grow > h->budget.mem_ceiling)) {
			h->mem_exceeded = true;
			return NULL;
		}
	}
	void *p = realloc(ptr, nsize);
	if (!p)
		return NULL;
	h->used = h->used - old + nsize;
	return p;
}

/* Counts instructions and time for the active budget. Once one is spent
 * the hook fires on every instruction, so a pcall in operator code cannot
 * swallow the error and carry on. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct luahost *h = luahost_from(L);
	if (!h->budget.active)
		return;
	h->budget.left -= h->exhausted ? 1 : HOOK_STEP;
	if (!h->exhausted && h->budget.left > 0) {
		if (!luahost_clock_spent(&h->budget.clock))
			return;
		h->timed_out = true;
	}
	if (!h->exhausted && !h->timed_out && h->budget.left > 0)
		return;
	if (!h->exhausted) {
		h->exhausted = true;
		lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	}
	char what[64];
	if (h->timed_out)
		snprintf(what, sizeof(what), "time budget exceeded (%ld ms)", h->budget.clock.ms);
	else
		snprintf(what, sizeof(what), "instruction budget exceeded");
	/* Level 0 inside a hook is the function that was running. */
	lua_Debug where;
	if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where) && where.currentline > 0)
		luaL_error(L, "%s:%d: %s", where.source[0] == '@' ? where.source + 1 : where.short_src,
			   where.currentline, what);
	luaL_error(L, "%s", what);
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Where a function was defined, for errors that carry no position (memory
 * errors never reach a message handler). */
static void describe_fn(lua_State *L, int idx, char *out, size_t len)
{
	lua_Debug ar;
	lua_pushvalue(L, idx);
	if (!lua_getinfo(L, ">S", &ar))
		snprintf(out, len, "?");
	else if (ar.linedefined > 0)
		snprintf(out, len, "%s:%d", ar.source[0] == '@' ? ar.source + 1 : ar.short_src,
			 ar.linedefined);
	else
		snprintf(out, len, "%s", ar.short_src);
}

/* Runs the function under nargs arguments with a fresh budget of the given
 * size (ms: its time budget, 0 for none), nested inside any active one.
 * Returns the lua_pcall status; on error leaves one message string
 * (traceback removed) at the top, and sets h->overrun when a budget
 * stopped it. instructions 0: herald's own code, not counted (the count
 * hook costs every Lua instruction, counted or not): only the memory
 * budget, and each operator function inside under core.guard's. */
static int budgeted_call(struct luahost *h, int nargs, int nresults, long instructions, long ms)
{
	lua_State *L = h->L;
	bool counting = lua_gethook(L) != NULL, count = instructions > 0 || ms > 0;
	if (count != counting)
		lua_sethook(L, count ? count_hook : NULL, count ? LUA_MASKCOUNT : 0, HOOK_STEP);
	if (!instructions)
		instructions = h->budget.active ? h->budget.left : LONG_MAX;
	int fn = lua_gettop(L) - nargs;
	lua_pushvalue(L, fn);             /* kept below, to say where it was defined if it fails */
	lua_insert(L, fn);
	lua_pushcfunction(L, msghandler);
	lua_insert(L, fn + 1);                                          /* fn' msgh fn args */

	struct budget saved = h->budget;
	bool saved_exhausted = h->exhausted, saved_timed_out = h->timed_out;
	long grant = instructions;
	if (saved.active && saved.left < grant)
		grant = saved.left;
	size_t ceiling = h->used + h->limits.call_memory;
	if (saved.active && saved.mem_ceiling < ceiling)
		ceiling = saved.mem_ceiling;
	h->budget = (struct budget){ true, grant, ceiling, { ms, 0, 0 } };
	h->mem_exceeded = false;

	int status = lua_pcall(L, nargs, nresults, fn + 1);
	h->overrun = status != LUA_OK && (h->mem_exceeded || (h->exhausted && !saved_exhausted));

	long spent = grant - (h->budget.left > 0 ? h->budget.left : 0);
	h->budget = saved;
	if (saved.active)
		h->budget.left -= spent;
	bool was_exhausted = h->exhausted && !saved_exhausted;
	if (was_exhausted)
		h->exhausted = false;
	if (count != counting || was_exhausted)   /* the hook as it was */
		lua_sethook(L, counting ? count_hook : NULL, counting ? LUA_MASKCOUNT : 0,
			    h->exhausted ? 1 : HOOK_STEP);
	h->timed_out = saved_timed_out;
	lua_remove(L, fn + 1);                                          /* fn' results | msg */
	char where[256];
	if (status != LUA_OK)
		describe_fn(L, fn, where, sizeof(where));
	lua_remove(L, fn);                                              /* results | msg */
	if (status == LUA_OK)
		return status;

	const char *msg = lua_tostring(L, -1);
	if (status == LUA_ERRMEM || !msg) {
		lua_pop(L, 1);
		if (h->mem_exceeded)
			lua_pushfstring(L, "%s: memory budget exceeded (%d MiB per call, %d MiB per state)",
					where, (int)(h->limits.call_memory >> 20),
					(int)(h->limits.state_memory >> 20));
		else
			lua_pushfstring(L, "%s: out of memory", where);
	} else {
		const char *tb = strstr(msg, "\nstack traceback:");
		if (tb) {
			log_debug("lua: %s", msg);
			lua_pushlstring(L, msg, (size_t)(tb - msg));
			lua_remove(L, -2);
		}
	}
	if (h->mem_exceeded)
		lua_gc(L, LUA_GCCOLLECT, 0); /* what the failed call built is garbage now */
	h->mem_exceeded = false;
	return status;
}

/* budgeted_call for C's calls: 0, or -1 with the message kept for
 * luahost_error. */
static int host_call(struct luahost *h, int nargs, int nresults, long instructions)
{
	if (budgeted_call(h, nargs, nresults, instructions, 0) == LUA_OK)
		return 0;
	set_error(h, lua_tostring(h->L, -1));
	lua_pop(h->L, 1);
	return -1;
}

int luahost_pcall_own(struct luahost *h, int nargs, int nresults)
{
	return host_call(h, nargs, nresults, 0);
}

int luahost_pcall(struct luahost *h, int nargs, int nresults)
{
	return host_call(h, nargs, nresults, h->limits.call_instructions);
}

/* After a guarded call of the function at fn (strikes table at tab): one
 * more overrun in a row, or none. At limits.strikes the function is
 * disabled (strikes < 0), logged once and counted. */
static void strike(struct luahost *h, lua_State *L, int tab, int fn, bool overrun)
{
	lua_pushvalue(L, fn);
	lua_rawget(L, tab);                                             /* n */
	lua_Integer n = lua_tointeger(L, -1);
	lua_pop(L, 1);
	if (!overrun && n == 0)
		return;
	n = overrun ? n + 1 : 0;
	bool disable = overrun && h->limits.strikes > 0 && n >= h->limits.strikes;
	lua_pushvalue(L, fn);
	if (disable)
		lua_pushinteger(L, -1);
	else if (n)
		lua_pushinteger(L, n);
	else
		lua_pushnil(L);
	lua_rawset(L, tab);                                             /* */
	if (disable) {
		char where[256];
		describe_fn(L, fn, where, sizeof(where));
		log_warn("lua: %s disabled until the next reload: it overran its budget %d calls in a row",
			 where, h->limits.strikes);
		metrics_inc(M_LUA_FUNCTIONS_DISABLED_TOTAL, 1, "function", where, NULL);
	}
}

/* core.guard(fn, ...) -> true, results... | false, message
 * The runtime calls every operator function through this, under the guard
 * budgets; a disabled function fails at once. template: give it
 * template_ms whatever file it comes from. */
static int guard(lua_State *L, bool template)
{
	struct luahost *h = luahost_from(L);
	luaL_checktype(L, 1, LUA_TFUNCTION);
	int nargs = lua_gettop(L) - 1;
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_STRIKES);                /* fn args tab */
	lua_insert(L, 1);                                               /* tab fn args */
	lua_pushvalue(L, 2);
	lua_insert(L, 2);                                               /* tab fn fn args */
	lua_pushvalue(L, 2);
	lua_rawget(L, 1);                                               /* tab fn fn args n */
	bool disabled = lua_tointeger(L, -1) < 0;
	lua_pop(L, 1);                                                  /* tab fn fn args */
	if (disabled) {
		char where[256];
		describe_fn(L, 2, where, sizeof(where));
		lua_pushboolean(L, 0);
		lua_pushfstring(L, "%s: disabled until the next reload (it overran its budget "
				"%d calls in a row)", where, h->limits.strikes);
		return 2;
	}
	long ms = template || luahost_clock_template(L, 3, h->scripts_dir) ? h->limits.template_ms : h->limits.rule_ms;
	if (budgeted_call(h, nargs, LUA_MULTRET, h->limits.guard_instructions, ms) != LUA_OK) {
		strike(h, L, 1, 2, h->overrun);                         /* tab fn msg */
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	strike(h, L, 1, 2, false);                                      /* tab fn results */
	lua_pushboolean(L, 1);
	lua_insert(L, 3);                                               /* tab fn true results */
	return lua_gettop(L) - 2;
}

static int l_guard(lua_State *L) { return guard(L, false); }

/* core.guard_template(fn, ...): core.guard with the template budget, for
 * templates written in rule files. */
static int l_guard_template(lua_State *L) { return guard(L, true); }


/* require(name): the modules of scripts/ only, each loaded once, in the
 * runtime's environment (the state's globals, which hold safe libraries
 * only). */
static int l_require(lua_State *L)
{
	struct luahost *h = luahost_from(L);
	const char *name = luaL_checkstring(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_LOADED);                 /* loaded */
	if (lua_getfield(L, -1, name) != LUA_TNIL)                     /* loaded mod */
		return 1;
	lua_pop(L, 1);                                                  /* loaded */
	for (const char *p = name; *p; p++)
		if (!(*p == '.' || *p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return luaL_error(L, "module '%s': invalid name", name);

	int status = LUA_ERRFILE;
	if (h->scripts_dir) {
		struct buf path = BUF_INIT, src = BUF_INIT;
		buf_printf(&path, "%s/", h->scripts_dir);
		for (const char *p = name; *p; p++)
			buf_putc(&path, *p == '.' ? '/' : *p);
		buf_printf(&path, ".lua");
		if (buf_read_file(&src, path.data, 0) == 0) {
			lua_pushfstring(L, "@%s", path.data);
			status = luaL_loadbufferx(L, src.data ? src.data : "", src.len,
						  lua_tostring(L, -1), "t");
			lua_remove(L, -2);
		}
		buf_free(&path);
		buf_free(&src);
	} else {
		for (const struct embedded_script *s = embedded_scripts; s->module; s++) {
			if (strcmp(s->module, name) == 0) {
				lua_pushfstring(L, "@%s", s->path);
				status = luaL_loadbufferx(L, s->source, s->len, lua_tostring(L, -1), "t");
				lua_remove(L, -2);
				break;
			}
		}
	}
	if (status == LUA_ERRFILE)
		return luaL_error(L, "module '%s' not found in scripts/", name);
	if (status != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, name);                                        /* loaded chunk name */
	lua_call(L, 1, 1);                                              /* loaded mod */
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);                                           /* loaded mod mod */
	lua_setfield(L, -3, name);                                      /* loaded mod */
	return 1;
}

/* core.load(text, chunkname, env) -> fn | nil, message
 * Text only (never bytecode), with the given environment. */
static int l_load(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	const char *chunkname = luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	if (luaL_loadbufferx(L, text, len, chunkname, "t") != LUA_OK) { /* ... msg */
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushvalue(L, 3);                                            /* ... fn env */
	lua_setupvalue(L, -2, 1);                                       /* ... fn */
	return 1;
}

/* core.read_file(path) -> text | nil, message */
static int l_read_file(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct buf src = BUF_INIT;
	if (buf_read_file(&src, path, 0) < 0) {
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

/* Pops the table on top into package.loaded[name]. */
static void loaded(lua_State *L, const char *name)
{
	lua_getfield(L, LUA_REGISTRYINDEX, KEY_LOADED);
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);
}

/* core.memory() -> bytes held by the state */
static int l_memory(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)luahost_from(L)->used);
	return 1;
}

static void open_safe_libs(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 }, { LUA_OSLIBNAME, luaopen_os },
		{ LUA_DBLIBNAME, luaopen_debug }, /* for the runtime only: not in operator envs */
		{ NULL, NULL },
	};
	for (const luaL_Reg *lib = libs; lib->func; lib++) {
		luaL_requiref(L, lib->name, lib->func, 1);
		lua_pop(L, 1);
	}
	/* Base functions that reach files or compile strings. */
	static const char *const unsafe_base[] = { "dofile", "loadfile", "load", "require", NULL };
	for (const char *const *n = unsafe_base; *n; n++) {
		lua_pushnil(L);
		lua_setglobal(L, *n);
	}
	/* os keeps only clocks and dates. */
	lua_getglobal(L, LUA_OSLIBNAME);                                /* os */
	lua_newtable(L);                                                /* os safe */
	static const char *const os_keep[] = { "time", "clock", "date", "difftime", NULL };
	for (const char *const *n = os_keep; *n; n++) {
		lua_getfield(L, -2, *n);
		lua_setfield(L, -2, *n);
	}
	lua_setglobal(L, LUA_OSLIBNAME);                                /* os */
	lua_pop(L, 1);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);       /* _LOADED */
	lua_pushnil(L);
	lua_setfield(L, -2, LUA_OSLIBNAME);
	lua_pop(L, 1);
	/* Strings share one metatable; operators must not reach it. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);                                        /* "" mt */
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

void luahost_register(struct luahost *h, const char *name, lua_CFunction fn)
{
	lua_getfield(h->L, LUA_REGISTRYINDEX, KEY_CORE);
	lua_pushcfunction(h->L, fn);
	lua_setfield(h->L, -2, name);
	lua_pop(h->L, 1);
}

void luahost_register_list(struct luahost *h, const char *name, const char *const *list)
{
	lua_getfield(h->L, LUA_REGISTRYINDEX, KEY_CORE);                /* core */
	lua_newtable(h->L);                                             /* core list */
	for (lua_Integer i = 0; list[i]; i++) {
		lua_pushstring(h->L, list[i]);
		lua_rawseti(h->L, -2, i + 1);
	}
	lua_setfield(h->L, -2, name);                                   /* core */
	lua_pop(h->L, 1);
}

void luahost_runtime_fn(struct luahost *h, const char *name)
{
	lua_getfield(h->L, LUA_REGISTRYINDEX, KEY_RUNTIME);
	lua_getfield(h->L, -1, name);
	lua_remove(h->L, -2);
}

static int setup(lua_State *L)
{
	open_safe_libs(L);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_LOADED);
	lua_newtable(L);                                                /* strikes */
	lua_createtable(L, 0, 1);                                       /* strikes mt */
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);                                        /* strikes */
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_STRIKES);
	lua_pushcfunction(L, l_require);
	lua_setglobal(L, "require");

	json_open(L);                                                   /* json */
	loaded(L, "herald.json");

	static const struct { const char *name; const luaL_Reg *fns; } libs[] = {
		{ "herald.log", luahost_lib_log }, { "herald.gzip", luahost_lib_gzip },
		{ "herald.crypto", luahost_lib_crypto }, { "herald.kafka", luahost_lib_kafka },
	};
	for (size_t i = 0; i < sizeof(libs) / sizeof(*libs); i++) {
		lua_newtable(L);                                        /* lib */
		luaL_setfuncs(L, libs[i].fns, 0);
		loaded(L, libs[i].name);
	}

	static const luaL_Reg core_fns[] = {
		{ "guard", l_guard }, { "guard_template", l_guard_template }, { "load", l_load },
		{ "read_file", l_read_file }, { "memory", l_memory }, { NULL, NULL },
	};
	luaL_newlib(L, core_fns);                                       /* core */
	luaL_setfuncs(L, luahost_lib_core, 0);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, KEY_CORE);                   /* core */
	loaded(L, "herald.core");    /* the runtime's modules require it */
	return 0;
}

struct luahost *luahost_new(const struct luahost_opts *opts)
{
	struct luahost *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->limits = opts->limits;
	luahost_clock_limits(&h->limits);
	if (opts->scripts_dir && !(h->scripts_dir = strdup(opts->scripts_dir)))
		goto fail;
	h->L = lua_newstate(host_alloc, h);
	if (!h->L)
		goto fail;
	*(struct luahost **)lua_getextraspace(h->L) = h;
	/* No hook until a budgeted call sets one (budgeted_call). */

	lua_pushcfunction(h->L, setup);
	if (luahost_pcall(h, 0, 0) < 0) {
		log_error("lua: cannot set up the state: %s", luahost_error(h));
		goto fail;
	}
	if (opts->extend)
		opts->extend(h);
	/* runtime = require("herald.runtime"); it requires herald.core itself. */
	lua_getglobal(h->L, "require");                                 /* require */
	lua_pushliteral(h->L, "herald.runtime");
	if (luahost_pcall(h, 1, 1) < 0) {                              /* runtime */
		log_error("lua: cannot load the runtime: %s", luahost_error(h));
		goto fail;
	}
	if (!lua_istable(h->L, -1)) {
		log_error("lua: the runtime did not return its entry points");
		goto fail;
	}
	lua_setfield(h->L, LUA_REGISTRYINDEX, KEY_RUNTIME);
	return h;
fail:
	luahost_free(h);
	return NULL;
}

void luahost_free(struct luahost *h)
{
	if (!h)
		return;
	if (h->L)
		lua_close(h->L);
	free(h->scripts_dir);
	free(h->error);
	free(h);
}
