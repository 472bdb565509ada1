/* docs: the C side of `herald docs sinks`. Owns a Lua host of its own in
 * which herald.docs turns the sink types' schemas into markdown; prints
 * what it returns. Must not load a configuration, route or deliver. */
#include "docs.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luahost.h"

int docs_run(const struct options *o)
{
	if (!o->input || strcmp(o->input, "sinks") != 0)
		return cli_usage_error("docs takes the page to print: sinks");
	struct luahost_opts ho = { .scripts_dir = o->scripts_dir, .limits = LUAHOST_DEFAULT_LIMITS };
	struct luahost *h = luahost_new(&ho);
	int rc = EXIT_USAGE;
	if (!h)
		return rc;
	lua_State *L = luahost_state(h);
	lua_getglobal(L, "require");                                    /* require */
	lua_pushstring(L, "herald.docs");                               /* require name */
	if (luahost_pcall(h, 1, 1) < 0)                                 /* M */
		goto fail;
	lua_getfield(L, -1, "sinks_markdown");                          /* M fn */
	if (luahost_pcall(h, 0, 1) < 0)                                 /* M page */
		goto fail;
	size_t len;
	const char *page = lua_tolstring(L, -1, &len);
	if (page && fwrite(page, 1, len, stdout) == len)
		rc = EXIT_OK;
	goto out;
fail:
	log_error("docs: %s", luahost_error(h));
out:
	luahost_free(h);
	return rc;
}
