/* luahost: the sandbox holds, and budgets stop loops and memory hogs,
 * even ones that hide behind pcall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <lauxlib.h>

#include "luahost.h"
#include "metrics.h"

static struct luahost *h;

static int setup(void **state)
{
	struct luahost_opts o = { .limits = { 20000000L, 200000L, 8u << 20, 64u << 20 } };
	h = luahost_new(&o);
	assert_non_null(h);
	return 0;
}

static int teardown(void **state)
{
	luahost_free(h);
	return 0;
}

/* Runs chunk under the call budget; returns 0 or -1 (message in luahost_error). */
static int run(const char *chunk)
{
	lua_State *L = luahost_state(h);
	int top = lua_gettop(L);
	assert_int_equal(luaL_loadbufferx(L, chunk, strlen(chunk), "=test", "t"), LUA_OK);
	int rc = luahost_pcall(h, 0, 0);
	assert_int_equal(lua_gettop(L), top);
	return rc;
}

static void test_sandbox(void **state)
{
	assert_int_equal(run("assert(io == nil and dofile == nil and loadfile == nil and load == nil)"), 0);
	assert_int_equal(run("assert(os.execute == nil and os.getenv == nil and os.remove == nil)"), 0);
	assert_int_equal(run("assert(os.time and os.date and os.clock)"), 0);
	assert_int_equal(run("assert(package == nil)"), 0);
	assert_int_equal(run("assert(getmetatable('') == false)"), 0);
	assert_int_equal(run("local ok, err = pcall(require, 'io') assert(not ok and err:find('not found'), err)"), 0);
	assert_int_equal(run("local ok, err = pcall(require, '../../etc/passwd') assert(not ok and err:find('invalid'), err)"), 0);
	assert_int_equal(run("assert(require('herald.units').bytes('1KiB') == 1024)"), 0);
	assert_int_equal(run("assert(require('herald.json') == require('herald.json'))"), 0);
}

static void test_errors_carry_position(void **state)
{
	assert_int_equal(run("local x = nil\nreturn x.field"), -1);
	assert_non_null(strstr(luahost_error(h), "test:2:"));
	assert_null(strstr(luahost_error(h), "stack traceback"));
}

static void test_instruction_budget(void **state)
{
	assert_int_equal(run("while true do end"), -1);
	assert_non_null(strstr(luahost_error(h), "instruction budget exceeded"));
	/* pcall cannot swallow it */
	assert_int_equal(run("while true do pcall(function() while true do end end) end"), -1);
	assert_non_null(strstr(luahost_error(h), "instruction budget exceeded"));
	/* and the state works afterwards */
	assert_int_equal(run("local n = 0 for i = 1, 1000 do n = n + i end assert(n == 500500)"), 0);
}

static void test_guard_budget_is_narrower_and_nests(void **state)
{
	/* A guarded loop fails alone; the caller carries on with its own budget. */
	lua_State *L = luahost_state(h);
	const char *chunk =
		"local core = ...\n"
		"local ok, err = core.guard(function() while true do end end)\n"
		"assert(not ok and err:find('instruction budget exceeded'), err)\n"
		"local ok2, v = core.guard(function(a, b) return a + b end, 2, 3)\n"
		"assert(ok2 and v == 5)\n"
		"local ok3, err3 = core.guard(function() local t = {} for i = 1, 1e9 do t[i] = i end end)\n"
		"assert(not ok3, 'memory hog must fail')\n"
		"local ok4, v4 = core.guard(function() return 'after' end)\n"
		"assert(ok4 and v4 == 'after')\n";
	assert_int_equal(luaL_loadbufferx(L, chunk, strlen(chunk), "=guards", "t"), LUA_OK);
	lua_getfield(L, LUA_REGISTRYINDEX, "herald.core");
	assert_int_equal(luahost_pcall(h, 1, 0), 0);
}

static void test_memory_budget(void **state)
{
	size_t before = luahost_memory(h);
	assert_int_equal(run("local s = string.rep('x', 1 << 30)"), -1);
	assert_non_null(strstr(luahost_error(h), "memory budget exceeded"));
	assert_int_equal(run("local s = 'x' for i = 1, 40 do s = s .. s end"), -1);
	assert_non_null(strstr(luahost_error(h), "memory budget exceeded"));
	assert_int_equal(run("local t = {} for i = 1, 1e9 do t[i] = {} end"), -1);
	/* The garbage of failed calls is collected: the state is usable. */
	assert_true(luahost_memory(h) < before + (4u << 20));
	assert_int_equal(run("local s = string.rep('y', 1000) assert(#s == 1000)"), 0);
}

/* The time budgets: a host whose instruction budgets are out of reach, so
 * only the clock can stop a call. */
static struct luahost *timed_host(void)
{
	struct luahost_opts o = { .limits = { 4000000000L, 4000000000L, 64u << 20, 256u << 20,
					      10, 50, 3 } };
	struct luahost *th = luahost_new(&o);
	assert_non_null(th);
	return th;
}

/* Loads src as the file chunkname and returns a registry reference to the
 * function it returns. */
static int load_fn(struct luahost *th, const char *chunkname, const char *src)
{
	lua_State *L = luahost_state(th);
	assert_int_equal(luaL_loadbufferx(L, src, strlen(src), chunkname, "t"), LUA_OK);
	assert_int_equal(luahost_pcall(th, 0, 1), 0);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* core.guard(fn, arg): true, or false with the message in msg. */
static bool guard(struct luahost *th, int ref, const char *arg, char *msg, size_t len)
{
	lua_State *L = luahost_state(th);
	int top = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "herald.core");
	lua_getfield(L, -1, "guard");
	lua_remove(L, -2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
	lua_pushstring(L, arg);
	assert_int_equal(luahost_pcall(th, 2, 2), 0);
	bool ok = lua_toboolean(L, -2);
	snprintf(msg, len, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
	lua_settop(L, top);
	return ok;
}

/* Regression (issue 12.2): a template that copies more bytes each turn
 * froze the loop for minutes; an endless recursion cost a second per
 * event. Both stop at their time budget. */
static void test_time_budget_stops_cheap_instructions_that_cost_time(void **state)
{
	struct luahost *th = timed_host();
	char msg[512];
	int concat = load_fn(th, "@/cfg/sinks.lua",
		"return function(reason) local s = '' while true do s = s .. reason end end");
	double t0 = now_s();
	assert_false(guard(th, concat, "BackOff", msg, sizeof(msg)));
	assert_true(now_s() - t0 < 5);
	if (!strstr(msg, "/cfg/sinks.lua:1: time budget exceeded (50 ms)"))
		fail_msg("got: %s", msg);

	int recurse = load_fn(th, "@/cfg/rules/10.lua",
		"local function f(n) return 1 + f(n + 1) end\n"
		"return function(ev) return f(1) end");
	t0 = now_s();
	assert_false(guard(th, recurse, "x", msg, sizeof(msg)));
	assert_true(now_s() - t0 < 5);
	if (!strstr(msg, "/cfg/rules/10.lua:1: time budget exceeded (10 ms)"))
		fail_msg("got: %s", msg);

	int loop = load_fn(th, "@/cfg/sinks/short.lua", "return function() while true do end end");
	assert_false(guard(th, loop, "x", msg, sizeof(msg)));
	if (!strstr(msg, "time budget exceeded (50 ms)"))
		fail_msg("got: %s", msg);
	/* core.guard_template: a template written in a rule file. */
	lua_State *L = luahost_state(th);
	loop = load_fn(th, "@/cfg/rules/60.lua", "return function() while true do end end");
	assert_int_equal(luaL_loadstring(L, "local core, fn = ... return core.guard_template(fn)"), LUA_OK);
	lua_getfield(L, LUA_REGISTRYINDEX, "herald.core");
	lua_rawgeti(L, LUA_REGISTRYINDEX, loop);
	assert_int_equal(luahost_pcall(th, 2, 2), 0);
	assert_false(lua_toboolean(L, -2));
	if (!strstr(lua_tostring(L, -1), "/cfg/rules/60.lua:1: time budget exceeded (50 ms)"))
		fail_msg("got: %s", lua_tostring(L, -1));
	lua_pop(L, 2);
	luahost_free(th);

	/* HERALD_TIME_BUDGET sets both budgets. */
	setenv(LUAHOST_TIME_ENV, "7,70", 1);
	th = timed_host();
	unsetenv(LUAHOST_TIME_ENV);
	recurse = load_fn(th, "@rules/x.lua", "return function() while true do end end");
	assert_false(guard(th, recurse, "x", msg, sizeof(msg)));
	if (!strstr(msg, "time budget exceeded (7 ms)"))
		fail_msg("got: %s", msg);
	luahost_free(th);
}

/* Regression (issue 12.2): a function that overruns its budget three calls
 * in a row is disabled until the next state, logged and counted; a call
 * that ends in time clears its strikes. */
static void test_repeated_overruns_disable_a_function(void **state)
{
	struct luahost *th = timed_host();
	char msg[512];
	int fn = load_fn(th, "@/cfg/rules/20.lua",
		"return function(how)\n"
		"  if how == 'loop' then while true do end end\n"
		"  return true\n"
		"end");
	const char *calls[] = { "loop", "loop", "ok", "loop", "loop" };
	for (size_t i = 0; i < sizeof(calls) / sizeof(*calls); i++)
		assert_true(guard(th, fn, calls[i], msg, sizeof(msg)) == (calls[i][0] == 'o'));
	assert_true(metrics_get(M_LUA_FUNCTIONS_DISABLED_TOTAL, "function", "/cfg/rules/20.lua:1",
				NULL) == 0);
	assert_false(guard(th, fn, "loop", msg, sizeof(msg)));
	assert_true(metrics_get(M_LUA_FUNCTIONS_DISABLED_TOTAL, "function", "/cfg/rules/20.lua:1",
				NULL) == 1);
	double t0 = now_s();
	assert_false(guard(th, fn, "ok", msg, sizeof(msg)));
	assert_true(now_s() - t0 < 0.005);
	if (!strstr(msg, "/cfg/rules/20.lua:1: disabled until the next reload"))
		fail_msg("got: %s", msg);
	luahost_free(th);

	/* A new state (a reload) starts afresh. */
	th = timed_host();
	fn = load_fn(th, "@/cfg/rules/20.lua", "return function() return true end");
	assert_true(guard(th, fn, "ok", msg, sizeof(msg)));
	luahost_free(th);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_errors_carry_position),
		cmocka_unit_test(test_instruction_budget),
		cmocka_unit_test(test_guard_budget_is_narrower_and_nests),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test(test_time_budget_stops_cheap_instructions_that_cost_time),
		cmocka_unit_test(test_repeated_overruns_disable_a_function),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
