/* luahost: the sandbox holds, and budgets stop loops and memory hogs,
 * even ones that hide behind pcall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <lauxlib.h>

#include "luahost.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_errors_carry_position),
		cmocka_unit_test(test_instruction_budget),
		cmocka_unit_test(test_guard_budget_is_narrower_and_nests),
		cmocka_unit_test(test_memory_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
