/* luahost_time: the time budget of operator calls (see luahost_time.c);
 * for luahost.c only. */
#ifndef HERALD_LUAHOST_TIME_H
#define HERALD_LUAHOST_TIME_H
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include "luahost.h"

/* One call's time budget: ms of this thread's CPU time (0: none), the
 * clock reading it ends at, and when to read the clock again. Zeroed
 * deadlines: not started (the first check starts it). */
struct luahost_clock {
	long ms;
	int64_t cpu_deadline;    /* thread CPU clock (ns) it ends at; 0: not started */
	int64_t next_check;      /* monotonic clock (ns) the CPU clock is next read at */
};

/* Has the budget run out? Called from the count hook. */
bool luahost_clock_spent(struct luahost_clock *c);

/* Does the function at idx get the template budget (templates, sink types,
 * herald's scripts, whole files) rather than the rule budget? */
bool luahost_clock_template(lua_State *L, int idx, const char *scripts_dir);

/* Applies HERALD_TIME_BUDGET, then luahost_set_time_budget's values, to l. */
void luahost_clock_limits(struct luahost_limits *l);

#endif
