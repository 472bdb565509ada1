/* json: decode with lua-cjson, encode with herald's writer: null, [] and
 * {} survive the round trip; values JSON cannot hold are errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
	/* Bytes that are not UTF-8 are a key like any other. */
	assert_string_equal(round_trip("[{\"\xff\xfe\":\"\xff\"},[]]"),
			    "[{\"\xff\xfe\":\"\xff\"},[]]");
	if (luaL_dostring(L,
		"local d = json.decode('{\"\\\\u0000herald:[]\":0,\"b\":1,\"c\":[]}')\n"
		"assert(d.b == 1 and json.is_array(d.c) and d['\\0herald:[]'] == 0)\n"
		"assert(not json.is_array(d))\n") != LUA_OK)
		fail_msg("%s", lua_tostring(L, -1));
}

static void decode_ok(const char *text, const char *want)
{
	int top = lua_gettop(L);
	assert_string_equal(round_trip(text), want);
	assert_int_equal(lua_gettop(L), top);
}

static void decode_bad(const char *text, size_t len)
{
	char err[256] = "";
	int top = lua_gettop(L);
	if (json_decode(L, text, len, true, err, sizeof(err)) == 0)
		fail_msg("decoded: %s", text);
	assert_true(strlen(err) > 0);
	assert_int_equal(lua_gettop(L), top);
}

static void test_decoder(void **state)
{
	decode_ok("\"a\\n\\u00e9\\ud83d\\ude00\\/\\\"\\\\\\b\\f\\r\\t\"",
		  "\"a\\n\xc3\xa9\xf0\x9f\x98\x80/\\\"\\\\\\b\\f\\r\\t\"");
	decode_ok("[-0.5,1e3,0,-12,2.5E-1,1E+2]", "[-0.5,1000,0,-12,0.25,100]");
	decode_ok(" \t\r\n{ \"a\" : [ 1 , { } ] } \n", "{\"a\":[1,{}]}");
	decode_ok("[true,false,null]", "[true,false,null]");
	const char *bad[] = {
		"01", "[1,]", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\x\"", "\"\\u12\"",
		"tru", "nul", "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{1:2}", "\"abc", "\"abc\\", "1 2", "-",
		"1.", "1e", "1e+", ".5", "+1", "1e999", "[-1e400]", "[", "{", "{\"a\":", "[\"a\\u00\"]", "NaN", "Infinity", "",
		"   ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		decode_bad(bad[i], strlen(bad[i]));
	/* Past the 100 levels both decoders allow. */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 101; i++)
		buf_putc(&deep, '[');
	for (int i = 0; i < 101; i++)
		buf_putc(&deep, ']');
	decode_bad(deep.data, deep.len);
	/* A long string with escapes (the buffer moves to the heap), whole
	 * and cut short. */
	buf_reset(&deep);
	buf_putc(&deep, '"');
	for (int i = 0; i < 5000; i++)
		buf_printf(&deep, "ab\\n");
	buf_putc(&deep, '"');
	char err[256];
	assert_int_equal(json_decode(L, deep.data, deep.len, true, err, sizeof(err)), 0);
	assert_int_equal(lua_rawlen(L, -1), 15000);
	lua_pop(L, 1);
	decode_bad(deep.data, deep.len - 1);
	buf_free(&deep);
}

static void test_shrink_strings(void **state)
{
	const char *in = "{\"short\":\"abc\",\"long\":\"abcdefgh\",\"esc\":\"a\\\"bcdefg\",\"abcdefghij\":[]}";
	struct buf out = BUF_INIT;
	assert_int_equal(json_shrink_strings(in, strlen(in), 5, &out), 0);
	assert_string_equal(out.data, "{\"short\":\"abc\",\"long\":\"......\",\"esc\":\"......\",\"......\":[]}");
	buf_free(&out);
}

/* (text) -> decoded value, or nil: json_decode called from a C function,
 * as the fuzz target calls it. */
static int decode_from_c(lua_State *S)
{
	size_t len;
	const char *text = luaL_checklstring(S, 1, &len);
	char err[256];
	if (json_decode(S, text, len, true, err, sizeof(err)) < 0)
		lua_pushnil(S);
	return 1;
}

/* Found by fuzz_json: a long string with an escape, cut short, deep in
 * arrays, crashed the decoder in a fresh state: its luaL_Buffer box (a
 * to-be-closed slot) was closed through a stale entry once the stack had
 * grown. Each case gets a new state, whose stack starts small. */
static void test_fuzz_finding_long_escaped_string_deep(void **state)
{
	static const char *const tails[] = { "", "\"", "\\x\"" };
	for (int depth = 1; depth <= 61; depth += 4) {
		for (size_t t = 0; t < 4; t++) {
			struct buf text = BUF_INIT;
			for (int i = 0; i < depth; i++)
				buf_putc(&text, '[');
			buf_printf(&text, "\"\\n");
			for (int i = 0; i < 3000; i++)
				buf_putc(&text, 'a');
			if (t < 3)
				buf_printf(&text, "%s", tails[t]);
			else
				for (buf_putc(&text, '"'); text.len < (size_t)(2 * depth + 3004);)
					buf_putc(&text, ']');
			lua_State *S = luaL_newstate();
			lua_pushcfunction(S, json_open);
			assert_int_equal(lua_pcall(S, 0, 0, 0), LUA_OK);
			lua_pushcfunction(S, decode_from_c);
			lua_pushlstring(S, text.data, text.len);
			if (lua_pcall(S, 1, 1, 0) != LUA_OK)
				fail_msg("depth %d, case %zu: %s", depth, t, lua_tostring(S, -1));
			assert_true(t == 3 ? lua_istable(S, -1) : lua_isnil(S, -1));
			lua_close(S);
			buf_free(&text);
		}
	}
}

/* Bytes a state may hold, for test_memory_error_leaks_nothing. */
static size_t cap;
#define CAP cap
#include "../capped.h"

/* Regression (issue 12.7): when a memory budget stopped lua-cjson's decode,
 * its scratch buffer (the size of the text) leaked; LeakSanitizer (the
 * sanitizer build) fails this test on the old decoder. */
static void test_memory_error_leaks_nothing(void **state)
{
	held = 0;
	cap = 24u << 20;
	lua_State *S = lua_newstate(capped, NULL);
	luaL_openlibs(S);
	json_open(S);
	lua_setglobal(S, "json");
	if (luaL_dostring(S,
		"local text = '[' .. string.rep('{},', 1000000) .. '{}]'\n"
		"for i = 1, 3 do\n"
		"  local ok, err = pcall(json.decode, text)\n"
		"  assert(not ok and tostring(err):find('not enough memory'), tostring(err))\n"
		"end\n"
		"text = nil collectgarbage()\n"
		"assert(#json.decode('[' .. string.rep('{},', 1000) .. '{}]') == 1001)\n") != LUA_OK)
		fail_msg("%s", lua_tostring(S, -1));
	lua_close(S);
	assert_int_equal(held, 0);
}

/* Runs a Lua chunk in the shared state; fails the test with its error. */
static void lua_check(const char *code)
{
	if (luaL_dostring(L, code) != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		fail_msg("%s", msg ? msg : "(no message)");
	}
	lua_settop(L, 0);
}

#define LAZY_EVENT \
	"'{\"kind\":\"Event\",\"metadata\":{\"name\":\"a\",\"uid\":\"u\"," \
	"\"annotations\":{\"x\":\"1\"},\"labels\":{\"l\":\"v\"},\"finalizers\":[]," \
	"\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:x\":{}}}]}," \
	"\"involvedObject\":{\"kind\":\"Pod\"},\"reason\":\"R\"}'"

/* json.decode_lazy: an Event's metadata members that are objects or
 * arrays wait undecoded until read; a read decodes once and keeps it. */
static void test_lazy_index_decodes_once(void **state)
{
	lua_check("local ev = json.decode_lazy(" LAZY_EVENT ")\n"
		  "assert(getmetatable(ev).__name == 'herald.object')\n"
		  "local m = ev.metadata\n"
		  "assert(getmetatable(m).__name == 'herald.lazy')\n"
		  "assert(rawget(m, 'name') == 'a' and rawget(m, 'uid') == 'u')   -- scalars at once\n"
		  "assert(rawget(m, 'annotations') == nil and rawget(m, 'managedFields') == nil)\n"
		  "local a = m.annotations\n"
		  "assert(type(a) == 'table' and a.x == '1')\n"
		  "assert(rawget(m, 'annotations') == a, 'cached in the table')\n"
		  "assert(m.annotations == a, 'the same table on the second read')\n"
		  "assert(m.managedFields[1].manager == 'm' and m.managedFields == m.managedFields)\n"
		  "assert(json.is_array(m.finalizers) and next(m.finalizers) == nil)\n"
		  "assert(m.missing == nil and rawget(m, 'labels') == nil)\n"
		  "assert(ev.reason == 'R' and ev.involvedObject.kind == 'Pod')\n");
	/* Not a Kubernetes object (no metadata object): a plain table. */
	lua_check("local v = json.decode_lazy('{\"metadata\":[1],\"a\":{\"b\":{}}}')\n"
		  "assert(getmetatable(v) == nil and v.metadata[1] == 1)\n");
}

static void test_lazy_pairs_sees_every_member(void **state)
{
	lua_check("local function all(t) local s, n = {}, 0\n"
		  "  for k, v in pairs(t) do s[k] = v; n = n + 1 end return s, n end\n"
		  "local m = json.decode_lazy(" LAZY_EVENT ").metadata\n"
		  "local s, n = all(m)\n"
		  "assert(n == 6, n)\n"
		  "assert(s.name == 'a' and s.uid == 'u' and s.annotations.x == '1' and s.labels.l == 'v')\n"
		  "assert(json.is_array(s.finalizers) and s.managedFields[1].fieldsV1['f:x'] ~= nil)\n"
		  "local again, n2 = all(m)\n"
		  "assert(n2 == 6 and again.labels == s.labels, 'decoded once')\n"
		  /* one read before pairs: still every member once */
		  "local m2 = json.decode_lazy(" LAZY_EVENT ").metadata\n"
		  "local l = m2.labels\n"
		  "local s2, n3 = all(m2)\n"
		  "assert(n3 == 6 and s2.labels == l and s2.annotations.x == '1')\n");
}

static void test_lazy_assignment_replaces_a_pending_member(void **state)
{
	lua_check("local ev = json.decode_lazy(" LAZY_EVENT ")\n"
		  "ev.metadata.annotations = { y = '2' }\n"
		  "assert(ev.metadata.annotations.y == '2' and ev.metadata.annotations.x == nil)\n"
		  "ev.metadata.labels = nil\n"
		  "assert(ev.metadata.labels == nil, 'a removed member stays removed')\n"
		  "local n = 0 for k in pairs(ev.metadata) do n = n + 1; assert(k ~= 'labels') end\n"
		  "assert(n == 5, n)\n"
		  "local d = json.decode(json.encode(ev))\n"
		  "assert(d.metadata.annotations.y == '2' and d.metadata.annotations.x == nil)\n"
		  "assert(d.metadata.labels == nil and d.metadata.managedFields[1].manager == 'm')\n");
}

/* json.encode writes the members nobody read as they came (numbers and
 * escapes as written: not decoded and encoded again), on one line. */
static void test_lazy_encode_writes_pending_members_raw_on_one_line(void **state)
{
	const char *text =
		"{\r\n\t\"metadata\": {\r\n\t\t\"annotations\": {\r\n\t\t\t\"a b\": \"x  y\\u00e9\",\r\n"
		"\t\t\t\"n\": [1.50, 2e0,\n 3]\r\n\t\t},\r\n\t\t\"uid\": \"u\"\r\n\t},\r\n"
		"\t\"involvedObject\": {}\r\n}\r\n";
	lua_getglobal(L, "json");
	lua_getfield(L, -1, "decode_lazy");
	lua_pushstring(L, text);
	lua_call(L, 1, 1);                                              /* json ev */
	assert_true(lua_istable(L, -1));
	struct buf out = BUF_INIT;
	char err[256];
	assert_int_equal(json_encode(L, -1, &out, err, sizeof(err)), 0);
	assert_null(memchr(out.data, '\n', out.len));
	assert_null(memchr(out.data, '\r', out.len));
	if (!strstr(out.data, "\"annotations\":{\"a b\":\"x  y\\u00e9\",\"n\":[1.50,2e0,3]}"))
		fail_msg("not written as it came: %s", out.data);
	lua_settop(L, 0);
	buf_free(&out);
	/* Read first: the same content, now encoded from the table. */
	lua_check("local ev = json.decode_lazy('{\"metadata\":{\"annotations\":{\"n\":1.50}},\"involvedObject\":{}}')\n"
		  "assert(ev.metadata.annotations.n == 1.5)\n"
		  "local s = json.encode(ev)\n"
		  "assert(s:find('\"annotations\":{\"n\":1.5}', 1, true), s)\n");
}

/* json.decode_lazy(text, covered): a List item whose uid and
 * resourceVersion covered(uid, rv) takes becomes false, validated but not
 * decoded; every other item decodes as before. */
static void test_lazy_covered_items_become_false(void **state)
{
	lua_check("local asked = {}\n"
		  "local function covered(uid, rv) asked[#asked + 1] = uid .. '@' .. rv; return uid == 'old' end\n"
		  "local function item(uid, rv, extra)\n"
		  "  return '{\"metadata\":{\"uid\":\"' .. uid .. '\",\"resourceVersion\":\"' .. rv .. '\"}' .. extra .. '}' end\n"
		  "local io = ',\"involvedObject\":{\"kind\":\"Pod\"}'\n"
		  "local text = '{\"kind\":\"EventList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[' ..\n"
		  "  item('old', '1', io .. ',\"reason\":\"A\"') .. ',' ..\n"
		  "  item('new', '2', io .. ',\"reason\":\"B\"') .. ',' ..\n"
		  "  item('old', '3', ',\"reason\":\"C\"') .. ',' ..\n"
		  "  item('old', '4', ',\"involvedObject\":\"Pod\",\"reason\":\"D\"') .. ',' ..\n"
		  "  item('ol\\\\u0064', '5', io .. ',\"reason\":\"E\"') .. ',42]}'\n"
		  "local v = assert(json.decode_lazy(text, covered))\n"
		  "assert(v.items[1] == false, 'covered: false')\n"
		  "assert(v.items[2].reason == 'B' and getmetatable(v.items[2]).__name == 'herald.object')\n"
		  "assert(v.items[3].reason == 'C', 'no involvedObject: decoded')\n"
		  "assert(v.items[4].reason == 'D', 'involvedObject not an object: decoded')\n"
		  "assert(v.items[5].reason == 'E' and v.items[5].metadata.uid == 'old', 'escaped uid: decoded')\n"
		  "assert(v.items[6] == 42 and #v.items == 6)\n"
		  "assert(#asked == 2 and asked[1] == 'old@1' and asked[2] == 'new@2', table.concat(asked, ' '))\n"
		  "local plain = json.decode(text)\n"
		  "assert(plain.items[1].reason == 'A' and json.decode_lazy(text).items[1].reason == 'A')\n"
		  /* a malformed item, covered or not: the same error as json.decode */
		  "for _, bad in ipairs({ item('old', '1', io .. ',\"x\":[1,]'), item('old', '1', io) .. ',' }) do\n"
		  "  local t = '{\"items\":[' .. bad .. ']}'\n"
		  "  local a, e1 = json.decode(t)\n"
		  "  local b, e2 = json.decode_lazy(t, covered)\n"
		  "  assert(a == nil and b == nil and e1 == e2, tostring(e1) .. ' / ' .. tostring(e2))\n"
		  "end\n"
		  /* items below the root are not a List's: never asked */
		  "asked = {}\n"
		  "local n = json.decode_lazy('{\"x\":{\"items\":[' .. item('old', '1', io) .. ']}}', covered)\n"
		  "assert(type(n.x.items[1]) == 'table' and #asked == 0)\n");
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
		cmocka_unit_test(test_decoder),
		cmocka_unit_test(test_shrink_strings),
		cmocka_unit_test(test_fuzz_finding_long_escaped_string_deep),
		cmocka_unit_test(test_memory_error_leaks_nothing),
		cmocka_unit_test(test_lazy_index_decodes_once),
		cmocka_unit_test(test_lazy_pairs_sees_every_member),
		cmocka_unit_test(test_lazy_assignment_replaces_a_pending_member),
		cmocka_unit_test(test_lazy_encode_writes_pending_members_raw_on_one_line),
		cmocka_unit_test(test_lazy_covered_items_become_false),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
