/* json: decode with lua-cjson, encode with herald's writer: null, [] and
 * {} survive the round trip; values JSON cannot hold are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "json.h"

static lua_State *L;

static int setup(void **state)
{
	L = luaL_newstate();
	luaL_openlibs(L);
	json_open(L);
	lua_setglobal(L, "json");
	return 0;
}

static int teardown(void **state)
{
	lua_close(L);
	return 0;
}

/* decode(text) then encode: returns the re-encoded text (static). */
static const char *round_trip(const char *text)
{
	static char out[4096];
	char err[256];
	struct buf b = BUF_INIT;
	assert_int_equal(json_decode(L, text, strlen(text), strchr(text, '[') != NULL, err, sizeof(err)), 0);
	assert_int_equal(json_encode(L, -1, &b, err, sizeof(err)), 0);
	lua_pop(L, 1);
	snprintf(out, sizeof(out), "%s", b.data);
	buf_free(&b);
	return out;
}

static void test_fidelity(void **state)
{
	/* One key per object: Lua tables keep no key order. */
	assert_string_equal(round_trip("{\"a\":null}"), "{\"a\":null}");
	assert_string_equal(round_trip("{\"a\":[]}"), "{\"a\":[]}");
	assert_string_equal(round_trip("{\"a\":{}}"), "{\"a\":{}}");
	assert_string_equal(round_trip("{\"a\":[ ]}"), "{\"a\":[]}");
	assert_string_equal(round_trip("[[],{},[[]],null]"), "[[],{},[[]],null]");
	assert_string_equal(round_trip("{\"a\":[1,2,3]}"), "{\"a\":[1,2,3]}");
	assert_string_equal(round_trip("{\"a\":\"[]\"}"), "{\"a\":\"[]\"}");
	assert_string_equal(round_trip("{\"n\":12345678901}"), "{\"n\":12345678901}");
	assert_string_equal(round_trip("{\"f\":1.5}"), "{\"f\":1.5}");
	assert_string_equal(round_trip("{\"t\":true}"), "{\"t\":true}");
	assert_string_equal(round_trip("{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\"}"),
			    "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\"}");
	assert_string_equal(round_trip("{\"u\":\"\\u4e2d\\u6587 \xf0\x9f\x98\x80\"}"),
			    "{\"u\":\"\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\"}");
	assert_string_equal(round_trip("{\"slash\":\"a/b\"}"), "{\"slash\":\"a/b\"}");
}

static void test_empty_array_in_lua(void **state)
{
	/* json.array marks a table; json.is_array reports it. */
	assert_int_equal(luaL_dostring(L,
		"local t = { list = json.array({}), obj = {} }\n"
		"assert(json.is_array(t.list) and not json.is_array(t.obj))\n"
		"local s = json.encode(t)\n"
		"assert(s == '{\"list\":[],\"obj\":{}}' or s == '{\"obj\":{},\"list\":[]}', s)\n"
		"local d = json.decode('{\"x\":[],\"y\":{},\"z\":null}')\n"
		"assert(json.is_array(d.x) and not json.is_array(d.y) and d.z == json.null)\n"),
		LUA_OK);
}

static void encode_fails(const char *lua, const char *want)
{
	assert_int_equal(luaL_dostring(L, lua), LUA_OK);
	struct buf b = BUF_INIT;
	char err[256];
	assert_int_equal(json_encode(L, -1, &b, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("%s: got \"%s\"", lua, err);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	lua_pop(L, 1);
}

static void test_unencodable(void **state)
{
	encode_fails("return { f = function() end }", "function");
	encode_fails("return { n = 0/0 }", "NaN");
	encode_fails("return { n = math.huge }", "infinite");
	encode_fails("return { 1, 2, x = 3 }", "both");
	encode_fails("return { [1] = 1, [3] = 3 }", "sparse");
	encode_fails("local t = {} t.self = t return t", "nested too deep");
	encode_fails("return { [true] = 1 }", "neither");
}

static void test_decode_errors(void **state)
{
	char err[256];
	const char *bad[] = { "{\"a\":", "{\"a\":NaN}", "{\"a\":1,}", "nope", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int top = lua_gettop(L);
		assert_int_equal(json_decode(L, bad[i], strlen(bad[i]), true, err, sizeof(err)), -1);
		assert_true(strlen(err) > 0);
		assert_int_equal(lua_gettop(L), top);
	}
}

/* Regression (issue 12.1): a record ~95 levels deep holding [] aborted
 * herald (unmark() pushed without lua_checkstack). Each depth up to the
 * limit decodes, keeps its [] and leaves the stack as it was. */
static void test_deep_with_empty_array(void **state)
{
	char err[256];
	/* A collection while unmark() runs shrinks the stack to what is in
	 * use; make every allocation run one. */
	lua_gc(L, LUA_GCINC, 1, 1000, 0);
	static const char *const shapes[][2] = {
		{ "{\"a\":", "}" }, { "[", "]" }, { "[[],", "]" }, { "{\"e\":[],\"a\":", "}" },
	};
	for (size_t s = 0; s < sizeof(shapes) / sizeof(*shapes); s++)
	for (int depth = 1; depth <= 98; depth++) {
		struct buf b = BUF_INIT;
		for (int i = 0; i < depth; i++)
			assert_int_equal(buf_printf(&b, "%s", shapes[s][0]), 0);
		assert_int_equal(buf_printf(&b, "[]"), 0);
		for (int i = 0; i < depth; i++)
			assert_int_equal(buf_printf(&b, "%s", shapes[s][1]), 0);
		int top = lua_gettop(L);
		assert_int_equal(json_decode(L, b.data, b.len, true, err, sizeof(err)), 0);
		assert_int_equal(lua_gettop(L), top + 1);
		struct buf out = BUF_INIT;
		assert_int_equal(json_encode(L, -1, &out, err, sizeof(err)), 0);
		if (s != 3) { /* one key per object: the encoder keeps no key order */
			assert_int_equal(out.len, b.len);
			assert_memory_equal(out.data, b.data, b.len);
		}
		lua_pop(L, 1);
		buf_free(&out);
		buf_free(&b);
	}
	/* The same through json.decode, as rules and the runtime call it. */
	assert_int_equal(luaL_dostring(L,
		"for depth = 1, 98 do\n"
		"  for _, shape in ipairs({ { '[', ']' }, { '[[],', ']' }, { '{\"a\":', '}' } }) do\n"
		"    local s = shape[1]:rep(depth) .. '[]' .. shape[2]:rep(depth)\n"
		"    local v = assert(json.decode(s))\n"
		"    assert(json.encode(v) == s, depth)\n"
		"  end\n"
		"end\n"), LUA_OK);
	lua_gc(L, LUA_GCINC, 200, 100, 0);
}

/* Regression (issue 12.1): the empty-array marker was a string key a
 * record can hold, so {"\u0000herald:[]":0,...} lost its other fields and
 * became []. No key a record can hold is taken for the marker. */
static void test_marker_cannot_collide(void **state)
{
	assert_string_equal(round_trip("[{\"\\u0000herald:[]\":0},[]]"),
			    "[{\"\\u0000herald:[]\":0},[]]");
	/* A raw 0xFF (never UTF-8) becomes U+FFFD; other bytes stay. */
	assert_string_equal(round_trip("[{\"\xff\xfe\":\"\xff\"},[]]"),
			    "[{\"\xef\xbf\xbd\xfe\":\"\xef\xbf\xbd\"},[]]");
	if (luaL_dostring(L,
		"local d = json.decode('{\"\\\\u0000herald:[]\":0,\"b\":1,\"c\":[]}')\n"
		"assert(d.b == 1 and json.is_array(d.c) and d['\\0herald:[]'] == 0)\n"
		"assert(not json.is_array(d))\n") != LUA_OK)
		fail_msg("%s", lua_tostring(L, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fidelity),
		cmocka_unit_test(test_empty_array_in_lua),
		cmocka_unit_test(test_unencodable),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_deep_with_empty_array),
		cmocka_unit_test(test_marker_cannot_collide),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
