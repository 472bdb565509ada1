/* luahost_time: the time budget of an operator call. Which budget a
 * function gets (rule or template), the CPU-time check the count hook
 * makes, and the budgets' settings (HERALD_TIME_BUDGET, then the command
 * line's --rule-budget and --template-budget). Owns the process-wide
 * settings only; the Lua state, the hook and the strikes are luahost.c's. */
#include "luahost_time.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Has the time budget run out? It counts the CPU time of this thread, so
 * a pause of the process (CPU throttling, a busy machine) costs a rule
 * nothing. The CPU clock is a system call: it is read once when the call
 * reaches its first hook, and then only once the monotonic clock says the
 * budget could have been spent. */
bool luahost_clock_spent(struct luahost_clock *b)
{
	if (b->ms <= 0)
		return false;
	int64_t limit = (int64_t)b->ms * 1000000;
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	if (b->cpu_deadline == 0) {
		b->cpu_deadline = clock_ns(CLOCK_THREAD_CPUTIME_ID) + limit;
		b->next_check = now + limit;
		return false;
	}
	if (now < b->next_check)
		return false;
	int64_t left = b->cpu_deadline - clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (left <= 0)
		return true;
	b->next_check = now + left;
	return false;
}

/* Is the function at idx a template or sink-type function (or a whole
 * file, or herald's own), which gets template_ms, rather than a rule?
 * Those are the functions of sinks.lua, of a file in a directory named
 * sinks (sink types, built in or the operator's), of herald's scripts,
 * C functions and main chunks. */
bool luahost_clock_template(lua_State *L, int idx, const char *scripts_dir)
{
	lua_Debug ar;
	lua_pushvalue(L, idx);
	if (!lua_getinfo(L, ">S", &ar) || ar.source[0] != '@')
		return true;
	if (strcmp(ar.what, "Lua") != 0)
		return true;
	const char *path = ar.source + 1;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strcmp(base, "sinks.lua") == 0)
		return true;
	size_t dir = (size_t)(base - path);
	if ((dir == 6 && strncmp(path, "sinks/", 6) == 0) ||
	    (dir >= 7 && strncmp(base - 7, "/sinks/", 7) == 0))
		return true;
	if (strncmp(path, "herald/", 7) == 0)
		return true; /* herald's scripts, compiled in */
	size_t sd = scripts_dir ? strlen(scripts_dir) : 0;
	return sd && strncmp(path, scripts_dir, sd) == 0 && path[sd] == '/';
}

/* LUAHOST_TIME_ENV: "RULE_MS" or "RULE_MS,TEMPLATE_MS", each 1..60000. */
static void time_budget_from_env(struct luahost_limits *l)
{
	const char *v = getenv(LUAHOST_TIME_ENV);
	if (!v || !*v)
		return;
	char *end;
	long rule = strtol(v, &end, 10), tmpl = l->template_ms;
	if (end != v && *end == ',') {
		const char *t = end + 1;
		tmpl = strtol(t, &end, 10);
		if (end == t)
			end = (char *)"x";
	}
	if (end == v || *end || rule < 1 || rule > 60000 || tmpl < 1 || tmpl > 60000) {
		log_warn("%s=%s ignored: give RULE_MS or RULE_MS,TEMPLATE_MS (1 to 60000 each)",
			 LUAHOST_TIME_ENV, v);
		return;
	}
	l->rule_ms = rule;
	l->template_ms = tmpl;
}


/* The command line's time budgets (luahost_set_time_budget); 0: none. */
static long flag_rule_ms, flag_template_ms;

void luahost_set_time_budget(long rule_ms, long template_ms)
{
	flag_rule_ms = rule_ms;
	flag_template_ms = template_ms;
}

void luahost_clock_limits(struct luahost_limits *l)
{
	time_budget_from_env(l);
	if (flag_rule_ms > 0)
		l->rule_ms = flag_rule_ms;
	if (flag_template_ms > 0)
		l->template_ms = flag_template_ms;
}
