/* luahost: one sandboxed Lua 5.4 state with budgets.
 *
 * The state opens only safe libraries; `require` reads scripts/ (embedded
 * in the binary, or --scripts-dir) and nothing else. Every call from C
 * into Lua runs under a memory budget and, but for the per-record call into
 * herald's own scripts (luahost_pcall_own), an instruction budget; the
 * runtime wraps each operator function in a narrower one (core.guard), so
 * a rule that loops or allocates without end is stopped, reported with
 * file:line, and the event goes on. core.guard also gives each function a
 * time budget (CPU time of the calling thread, checked from the count
 * hook): rule_ms for rule functions, template_ms for functions of sinks.lua,
 * of sink types and of herald's scripts, and for whole files. A function
 * that overruns a budget `strikes` calls in a row is disabled until the
 * state is replaced (the next reload): logged once with file:line and
 * counted in herald_lua_functions_disabled_total. Never includes curl.h. */
#ifndef HERALD_LUAHOST_H
#define HERALD_LUAHOST_H
#include <stdbool.h>
#include <stddef.h>
#include <lua.h>

struct luahost_limits {
	long call_instructions;    /* per call from C into Lua */
	long guard_instructions;   /* per operator function (core.guard) */
	size_t call_memory;        /* bytes one call (or guard) may add */
	size_t state_memory;       /* bytes the whole state may hold */
	long rule_ms;              /* time per rule function (core.guard); 0: none */
	long template_ms;          /* time per template, sink-type function or file; 0: none */
	int strikes;               /* budget overruns in a row that disable a function; 0: never */
};

#define LUAHOST_DEFAULT_LIMITS { 50000000L, 1000000L, 64u << 20, 256u << 20, 10, 100, 3 }

/* HERALD_TIME_BUDGET=RULE_MS[,TEMPLATE_MS] overrides rule_ms and
 * template_ms of the limits given to luahost_new (a bad value is logged
 * and ignored). */
#define LUAHOST_TIME_ENV "HERALD_TIME_BUDGET"

/* Process-wide: the time budgets (ms) every later luahost_new uses in
 * place of the limits' and HERALD_TIME_BUDGET's (the command line's
 * --rule-budget and --template-budget); 0 leaves that one as it is. */
void luahost_set_time_budget(long rule_ms, long template_ms);

struct luahost;

struct luahost_opts {
	const char *scripts_dir;   /* NULL: the scripts compiled into herald */
	struct luahost_limits limits;
	/* Adds the embedder's core.* functions (luahost_register) after the
	 * state is set up and before the runtime starts; NULL: none. */
	void (*extend)(struct luahost *h);
};

/* Returns NULL (logged) when the state or the runtime cannot be created.
 * The core's callbacks are preloaded as the module herald.core; the
 * runtime module herald.runtime is then loaded and kept in the registry. */
struct luahost *luahost_new(const struct luahost_opts *opts);
void luahost_free(struct luahost *h);
lua_State *luahost_state(struct luahost *h);

/* Calls the function under nargs arguments at the top of the stack under
 * the call budget. On success leaves nresults values and returns 0; on
 * failure leaves nothing, keeps the message (see luahost_error) and
 * returns -1. Does not log: the caller knows what failed. */
int luahost_pcall(struct luahost *h, int nargs, int nresults);
/* The same for a call into herald's own scripts that is made for every
 * record (runtime.ingest): no instruction budget, so the count hook is off
 * while herald's code runs (it costs every Lua instruction); the memory
 * budget holds, and operator code inside runs under core.guard's budgets. */
int luahost_pcall_own(struct luahost *h, int nargs, int nresults);

/* The message of the last failed call: "file:line: what happened". */
const char *luahost_error(struct luahost *h);

/* Pushes runtime[name] (a function of scripts/herald/runtime.lua). */
void luahost_runtime_fn(struct luahost *h, const char *name);

/* Adds a C function to the module herald.core (`core` in the runtime's
 * modules, which look its functions up when they call them). */
void luahost_register(struct luahost *h, const char *name, lua_CFunction fn);
/* Sets core[name] to an array of the strings of list (NULL-ended). */
void luahost_register_list(struct luahost *h, const char *name, const char *const *list);

/* The host of a state (for C functions called from Lua). */
struct luahost *luahost_from(lua_State *L);

size_t luahost_memory(const struct luahost *h);
void *luahost_userdata(struct luahost *h);
void luahost_set_userdata(struct luahost *h, void *ud);

#endif
