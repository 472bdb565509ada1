/* runner_enrich: the runner's side of what a source decides per event:
 * core.admit (delivered before? too old?), and owners and labels
 * (core/enrich.c): core.defer, reading an object's labels and controller
 * through the runtime, and routing a deferred event. Part of the runner
 * module (it sees lua.h); owns nothing beyond the call it makes. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "luahost.h"
#include "runner.h"

static const char *opt_string(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
}

/* core.admit(uid, rv, last_seen, type, reason, namespace, kind) -> 0 | 1 | 2
 * (see runner_hooks.admit) */
static int l_admit(lua_State *L)
{
	const struct runner_hooks *hooks = luahost_userdata(luahost_from(L));
	int verdict = 1;
	if (hooks && hooks->admit && lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
		struct runner_admit a = {
			.uid = lua_tostring(L, 1), .rv = lua_tostring(L, 2), .last_seen = opt_string(L, 3),
			.type = opt_string(L, 4), .reason = opt_string(L, 5), .namespace = opt_string(L, 6),
			.kind = opt_string(L, 7),
		};
		if (!a.type)
			a.type = "";
		verdict = hooks->admit(hooks->arg, &a);
	}
	lua_pushinteger(L, verdict);
	return 1;
}

/* core.covered(uid, rv) -> bool (see runner_hooks.covered) */
static int l_covered(lua_State *L)
{
	const struct runner_hooks *hooks = luahost_userdata(luahost_from(L));
	const char *uid = luaL_checkstring(L, 1), *rv = luaL_checkstring(L, 2);
	lua_pushboolean(L, hooks && hooks->covered && hooks->covered(hooks->arg, uid, rv));
	return 1;
}

/* core.defer(text, uid, namespace, kind, name, admit) -> bool */
static int l_defer(lua_State *L)
{
	const struct runner_hooks *hooks = luahost_userdata(luahost_from(L));
	struct runner_defer d = {
		.text = luaL_checklstring(L, 1, &d.len),
		.uid = lua_tostring(L, 2),
		.namespace = lua_tostring(L, 3),
		.kind = lua_tostring(L, 4),
		.name = lua_tostring(L, 5),
		.admit = (int)luaL_optinteger(L, 6, 1),
	};
	lua_pushboolean(L, hooks && hooks->defer && d.kind && d.name && hooks->defer(hooks->arg, &d));
	return 1;
}

void runner_enrich_register(struct luahost *h)
{
	luahost_register(h, "admit", l_admit);
	luahost_register(h, "covered", l_covered);
	luahost_register(h, "defer", l_defer);
}

static char *dup_string(lua_State *L, int idx)
{
	const char *s = lua_tostring(L, idx);
	return s ? strdup(s) : NULL;
}

int runner_object_meta(struct luahost *h, const char *body, size_t len, struct runner_object *out)
{
	lua_State *L = luahost_state(h);
	memset(out, 0, sizeof(*out));
	luahost_runtime_fn(h, "object_meta");                           /* fn */
	lua_pushlstring(L, body ? body : "", len);
	if (luahost_pcall(h, 1, 3) < 0) {                              /* labels kind name */
		log_error("reading an object for enrichment failed: %s", luahost_error(h));
		return -1;
	}
	int rc = -1;
	if (lua_type(L, -3) == LUA_TSTRING && (out->labels = dup_string(L, -3))) {
		out->owner_kind = dup_string(L, -2);
		out->owner_name = dup_string(L, -1);
		rc = 0;
	}
	lua_pop(L, 3);
	return rc;
}

int runner_route_deferred(struct luahost *h, const char *text, size_t len, const char *enrichment, int admit,
			  const struct runner_hooks *hooks)
{
	lua_State *L = luahost_state(h);
	luahost_set_userdata(h, (void *)hooks);
	luahost_runtime_fn(h, "route_deferred");                        /* fn */
	lua_pushlstring(L, text, len);
	if (enrichment)
		lua_pushstring(L, enrichment);
	else
		lua_pushnil(L);
	lua_pushinteger(L, admit);                                      /* fn text enrichment admit */
	int rc = luahost_pcall(h, 3, 0);
	luahost_set_userdata(h, NULL);
	if (rc < 0)
		log_error("routing a deferred event failed: %s", luahost_error(h));
	return rc;
}
