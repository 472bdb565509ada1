/* libFuzzer target: json.decode_lazy against json.decode, the fast path's
 * decoder against the full one, through the Lua functions json_open
 * registers, in a state with a memory cap. Oracle (ORACLE below):
 * - both fail with the same message, or both succeed;
 * - json.encode of the lazy decode (undecoded members written as they
 *   came) and of the plain decode, each decoded plainly again, are equal
 *   (a number the lazy encode copied as it came reads back as the same
 *   double as the one the encoder writes), and neither holds a control
 *   character;
 * - reading every key of every lazy table (__index), and walking them with
 *   pairs (__pairs), gives the plain decode, whichever comes first;
 * - json.splice of each herald.object table, with the keys normalize
 *   changes, decodes to that table, changed or not, on one line and with
 *   no control character;
 * - with covered(uid, rv), a List item that became false is one the plain
 *   decode shows as an Event whose uid and resourceVersion covered takes.
 * A failed oracle prints what differs and aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <lualib.h>

#include "json.h"

#define CAP (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static int oracle_ref;

#include "../capped.h"

static const char ORACLE[] =
	"local json, text = ...\n"
	"local KEYS = { 'lastTimestamp', 'firstTimestamp', 'count', 'cluster' }\n"
	"local function fail(what, path) error(what .. ' at ' .. path, 0) end\n"
	/* a: plain; b: read through __index first, then pairs; digits: numbers
	 * compared as %.14g writes them */
	"local function same(a, b, path, digits)\n"
	"  if type(a) ~= type(b) then fail('type ' .. type(a) .. ' vs ' .. type(b), path) end\n"
	"  if digits and type(a) == 'number' then a, b = ('%.14g'):format(a), ('%.14g'):format(b) end\n"
	"  if type(a) ~= 'table' then\n"
	"    if a ~= b then fail(tostring(a) .. ' vs ' .. tostring(b), path) end\n"
	"    return\n"
	"  end\n"
	"  if next(a) == nil and json.is_array(a) ~= json.is_array(b) then fail('[] vs {}', path) end\n"
	"  local n = 0\n"
	"  for k, v in pairs(a) do n = n + 1; same(v, b[k], path .. '/' .. tostring(k), digits) end\n"
	"  for k in pairs(b) do\n"
	"    if a[k] == nil then fail('extra key', path .. '/' .. tostring(k)) end\n"
	"    n = n - 1\n"
	"  end\n"
	"  if n ~= 0 then fail('member count', path) end\n"
	"end\n"
	/* b walked with pairs before anything reads it */
	"local function same_pairs(a, b, path)\n"
	"  if type(a) ~= type(b) then fail('type ' .. type(a) .. ' vs ' .. type(b), path) end\n"
	"  if type(a) ~= 'table' then\n"
	"    if a ~= b then fail(tostring(a) .. ' vs ' .. tostring(b), path) end\n"
	"    return\n"
	"  end\n"
	"  local n = 0\n"
	"  for k, v in pairs(b) do n = n + 1; same_pairs(a[k], v, path .. '/' .. tostring(k)) end\n"
	"  for _ in pairs(a) do n = n - 1 end\n"
	"  if n ~= 0 then fail('member count (pairs first)', path) end\n"
	"end\n"
	/* A newline outside strings: the splice did not write one line. */
	"local function spans_lines(s)\n"
	"  local i, instr = 1, false\n"
	"  while true do\n"
	"    local j = s:find(instr and '[\"\\\\]' or '[\"\\n]', i)\n"
	"    if not j then return false end\n"
	"    local c = s:sub(j, j)\n"
	"    if c == '\\n' then return true end\n"
	"    if c == '\\\\' then i = j + 2 else instr = not instr; i = j + 1 end\n"
	"  end\n"
	"end\n"
	"local function objects(t, out, seen)\n"  /* raw walk: resolves nothing */
	"  if type(t) ~= 'table' or seen[t] then return out end\n"
	"  seen[t] = true\n"
	"  local mt = getmetatable(t)\n"
	"  if mt and mt.__name == 'herald.object' then out[#out + 1] = t end\n"
	"  local k, v = next(t)\n"
	"  while k ~= nil do objects(v, out, seen); k, v = next(t, k) end\n"
	"  return out\n"
	"end\n"
	"local plain, perr = json.decode(text)\n"
	"local lazy, lerr = json.decode_lazy(text)\n"
	"if (plain == nil) ~= (lazy == nil) or perr ~= lerr then\n"
	"  fail('decode: ' .. tostring(perr) .. ' vs ' .. tostring(lerr), '')\n"
	"end\n"
	"if plain == nil then return end\n"
	"local enc = assert(json.encode(lazy))\n"
	"local back, berr = json.decode(enc)\n"
	"if back == nil then fail('encode of the lazy decode does not decode: ' .. berr .. ': ' .. enc, '') end\n"
	"same(json.decode(assert(json.encode(plain))), back, 'encode')\n"
	"if enc:find('[%z\\1-\\31]') then fail('a control character in the lazy encode: ' .. enc, 'encode') end\n"
	"same(plain, json.decode_lazy(text), 'index')\n"
	"same_pairs(plain, json.decode_lazy(text), 'pairs')\n"
	"for _, changed in ipairs({ false, true }) do\n"
	"  for i, o in ipairs(objects(json.decode_lazy(text), {}, {})) do\n"
	"    if changed then\n"
	"      o.count, o.cluster, o.firstTimestamp = 3, 'fuzz', nil\n"
	"      o.lastTimestamp = json.array({ 'x', json.null })\n"
	"    end\n"
	"    local s = json.splice(o, KEYS)\n"
	"    if s ~= nil then\n"
	"      local d, derr = json.decode(s)\n"
	"      if d == nil then fail('splice does not decode: ' .. derr .. ': ' .. s, 'splice') end\n"
	"      if spans_lines(s) then fail('splice spans lines: ' .. s, 'splice') end\n"
	"      if s:find('[%z\\1-\\31]') then fail('a control character in the splice: ' .. s, 'splice') end\n"
	"      same(d, o, 'splice' .. i .. (changed and ' changed' or ''))\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local asked = {}\n"
	"local function covered(uid, rv) asked[#asked + 1] = uid .. '|' .. rv; return #uid % 2 == 0 end\n"
	"local c, cerr = json.decode_lazy(text, covered)\n"
	"if (c == nil) ~= (plain == nil) or cerr ~= perr then fail('decode with covered: ' .. tostring(cerr), '') end\n"
	"if type(plain) == 'table' and type(plain.items) == 'table' then\n"
	"  for k, v in pairs(plain.items) do\n"
	"    local got = c.items[k]\n"
	"    if got == false and v ~= false then\n"
	"      local m = type(v) == 'table' and v.metadata\n"
	"      if type(m) ~= 'table' or type(v.involvedObject) ~= 'table' or type(m.uid) ~= 'string'\n"
	"         or type(m.resourceVersion) ~= 'string' or #m.uid % 2 ~= 0 then\n"
	"        fail('an item covered that covered(uid, rv) does not take', 'items/' .. tostring(k))\n"
	"      end\n"
	"    else\n"
	"      same(v, got, 'items/' .. tostring(k))\n"
	"    end\n"
	"  end\n"
	"elseif #asked > 0 then\n"
	"  fail('covered asked outside a List: ' .. asked[1], '')\n"
	"end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L) {
		L = lua_newstate(capped, NULL);
		luaL_openlibs(L);
		json_open(L);                                           /* json */
		lua_setglobal(L, "json");
		if (luaL_loadbuffer(L, ORACLE, sizeof(ORACLE) - 1, "=oracle") != LUA_OK) {
			fprintf(stderr, "oracle: %s\n", lua_tostring(L, -1));
			abort();
		}
		oracle_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, oracle_ref);
	lua_getglobal(L, "json");
	lua_pushlstring(L, (const char *)data, size);
	int rc = lua_pcall(L, 2, 0, 0);
	if (rc != LUA_OK && rc != LUA_ERRMEM) {
		fprintf(stderr, "fuzz_lazy: %s\n", lua_tostring(L, -1));
		abort();
	}
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
