/* json_docs: the default Elasticsearch document (herald.documents.herald)
 * written straight from the event's fields, without a document table in
 * between. It must write what json.encode(documents.herald(ev)) writes, in
 * meaning: the tests compare the two on every fixture and a fuzzed corpus
 * (HERALD_FAST_PATH=0 takes the Lua way). */
#include "json.h"
#include "json_impl.h"

#include <lauxlib.h>
#include <string.h>

/* documents.lua's v(): nil, JSON null and "" are absent. Stack: x -> x */
static bool present(lua_State *L)
{
	int t = lua_type(L, -1);
	if (t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1)))
		return false;
	return t != LUA_TSTRING || lua_rawlen(L, -1) > 0;
}

/* ,"name":value for the value on the stack top (popped); nothing when it
 * is nil (a table cannot hold it), or absent when check. -1 with a
 * message pushed when it cannot be encoded. */
static int member(lua_State *L, struct buf *out, bool *first, const char *name, bool check)
{
	if (check ? present(L) : !lua_isnil(L, -1)) {
		char err[256];
		if ((!*first && buf_putc(out, ',') < 0) || json_append_string(out, name, strlen(name)) < 0 ||
		    buf_putc(out, ':') < 0)
			return luaL_error(L, "not enough memory");
		if (json_encode(L, -1, out, err, sizeof(err)) < 0) {
			lua_pop(L, 1);
			lua_pushstring(L, err);
			return -1;
		}
		*first = false;
	}
	lua_pop(L, 1);
	return 0;
}

/* documents.lua's pick(): the present fields of the table ev[name], as an
 * object, or nothing when none is (or it is no table). */
static int pick(lua_State *L, int ev, struct buf *out, bool *first, const char *name, const char *const *keys)
{
	if (lua_getfield(L, ev, name) != LUA_TTABLE) {                  /* t */
		lua_pop(L, 1);
		return 0;
	}
	int t = lua_gettop(L);
	size_t mark = out->len;
	bool inner = true, was_first = *first;
	if ((!*first && buf_putc(out, ',') < 0) || json_append_string(out, name, strlen(name)) < 0 ||
	    buf_putc(out, ':') < 0 || buf_putc(out, '{') < 0)
		return luaL_error(L, "not enough memory");
	for (const char *const *k = keys; *k; k++) {
		lua_getfield(L, t, *k);                                 /* t v */
		if (member(L, out, &inner, *k, true) < 0) {
			lua_remove(L, t);
			return -1;
		}
	}
	lua_pop(L, 1);
	if (inner) {  /* none: no member at all */
		out->len = mark;
		out->data[mark] = '\0';
		*first = was_first;
		return 0;
	}
	*first = false;
	return buf_putc(out, '}') < 0 ? luaL_error(L, "not enough memory") : 0;
}

/* json.document_herald(ev, timestamp[, prefix]) -> text | nil, err: the
 * document of herald's shape, after prefix (the sink's "index\nid\n");
 * timestamp is its @timestamp (herald.time's), or nil. */
int json_l_document_herald(lua_State *L)
{
	static const char *const object[] = { "kind", "namespace", "name", "uid", "fieldPath", "apiVersion", NULL };
	static const char *const source[] = { "component", "host", NULL };
	static const char *const metadata[] = { "name", "namespace", "uid", "resourceVersion", "creationTimestamp", NULL };
	static const struct { const char *name; bool check; } fields[] = {
		{ "cluster", false }, { "type", true }, { "reason", true }, { "message", true },
		{ "count", false }, { "firstTimestamp", true }, { "lastTimestamp", true },
		{ "eventTime", true }, { "action", true }, { "reportingComponent", true },
		{ "reportingInstance", true },
	};
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 3);
	struct buf *out = json_scratch(L, "herald.json.document");
	size_t plen = 0;
	const char *prefix = lua_tolstring(L, 3, &plen);
	bool first = true;
	if ((prefix && buf_append(out, prefix, plen) < 0) || buf_putc(out, '{') < 0)
		return luaL_error(L, "not enough memory");
	lua_pushvalue(L, 2);
	if (member(L, out, &first, "@timestamp", false) < 0)
		goto failed;
	for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++) {
		lua_getfield(L, 1, fields[i].name);
		if (member(L, out, &first, fields[i].name, fields[i].check) < 0)
			goto failed;
	}
	if (pick(L, 1, out, &first, "involvedObject", object) < 0 || pick(L, 1, out, &first, "source", source) < 0 ||
	    pick(L, 1, out, &first, "metadata", metadata) < 0)
		goto failed;
	if (buf_putc(out, '}') < 0)
		return luaL_error(L, "not enough memory");
	lua_pushlstring(L, out->data, out->len);
	return 1;
failed:                                                                 /* ... err */
	lua_pushnil(L);
	lua_insert(L, -2);
	return 2;
}

/* json.es_bulk(items[, type_name]) -> body: the bulk body of the
 * elasticsearch sink's items ("index\nid\ndocument", M.encode): a create
 * action line and the document for each, one pass into one string. */
int json_l_es_bulk(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	size_t tlen = 0;
	const char *type_name = luaL_optlstring(L, 2, NULL, &tlen);
	struct buf *out = json_scratch(L, "herald.json.bulk");
	size_t n = lua_rawlen(L, 1);
	for (size_t i = 1; i <= n; i++) {
		size_t len;
		lua_rawgeti(L, 1, (lua_Integer)i);
		const char *item = lua_tolstring(L, -1, &len);
		const char *a = item ? memchr(item, '\n', len) : NULL;
		const char *b = a ? memchr(a + 1, '\n', len - (size_t)(a + 1 - item)) : NULL;
		if (!b)
			return luaL_error(L, "json.es_bulk: item %d is not \"index\\nid\\ndocument\"", (int)i);
		const char *doc = b + 1;
		if (buf_append(out, "{\"create\":{\"_index\":", 20) < 0 ||
		    json_append_string(out, item, (size_t)(a - item)) < 0 ||
		    buf_append(out, ",\"_id\":", 7) < 0 ||
		    json_append_string(out, a + 1, (size_t)(b - a - 1)) < 0 ||
		    (type_name && (buf_append(out, ",\"_type\":", 9) < 0 ||
				   json_append_string(out, type_name, tlen) < 0)) ||
		    buf_append(out, "}}\n", 3) < 0 || buf_append(out, doc, len - (size_t)(doc - item)) < 0 ||
		    buf_putc(out, '\n') < 0)
			return luaL_error(L, "not enough memory");
		lua_pop(L, 1);
	}
	lua_pushlstring(L, out->data ? out->data : "", out->len);
	return 1;
}
