/* kubeeventer: kube-eventer's command line -> a herald configuration.
 * The table-driven spec (kubeeventer_spec.lua) runs in herald's own Lua
 * host; then the files translated from the seed's flags are written to a
 * directory and must pass `herald check`, and `herald replay` must route
 * a Warning to DingTalk and Elasticsearch and a Normal event only to
 * Elasticsearch, as kube-eventer does with those flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <lauxlib.h>

#include "luahost.h"

static struct luahost *h;

static int setup(void **state)
{
	(void)state;
	struct luahost_opts o = { .limits = LUAHOST_DEFAULT_LIMITS };
	h = luahost_new(&o);
	assert_non_null(h);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	luahost_free(h);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf_s { char *p; size_t n, cap; } b = { NULL, 0, 0 };
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.n + got + 1 > b.cap) {
			b.cap = (b.n + got + 1) * 2;
			b.p = realloc(b.p, b.cap);
			assert_non_null(b.p);
		}
		memcpy(b.p + b.n, chunk, got);
		b.n += got;
	}
	fclose(f);
	if (!b.p)
		b.p = calloc(1, 1);
	b.p[b.n] = '\0';
	*len = b.n;
	return b.p;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_spec(void **state)
{
	(void)state;
	const char *src = getenv("HERALD_SOURCE_DIR");
	assert_non_null(src);
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/unit/kubeeventer_spec.lua", src);
	size_t len;
	char *text = read_all(path, &len);
	assert_non_null(text);
	lua_State *L = luahost_state(h);
	assert_int_equal(luaL_loadbufferx(L, text, len, "@kubeeventer_spec.lua", "t"), LUA_OK);
	free(text);
	if (luahost_pcall(h, 0, 1) != 0)
		fail_msg("%s", luahost_error(h));
	print_message("%d translator cases passed\n", (int)lua_tointeger(L, -1));
	lua_pop(L, 1);
}

/* The seed's flags, translated; files and secrets written under dir. */
static const char *TRANSLATE =
	"local r, err = require('herald.kubeeventer').translate({\n"
	"  '--source=kubernetes:https://kubernetes.default',\n"
	"  '--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=XXX&label=cls-tke&label=event&level=Warning&msg_type=markdown&sign=SECxyz',\n"
	"  '--sink=elasticsearch:http://172.16.0.20:9200?ver=7&index=cls-tke-event&cluster_name=cls-tke',\n"
	"  '--sink=webhook:http://127.0.0.1:9/hook?level=Warning&reason=^Back',\n"
	"  '--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=YYY&level=Normal&namespaces=kube-system&kinds=Node',\n"
	"  '--sink=wechat:?corp_id=ww1&corp_secret=CSxyz&agent_id=1000002&namespaces=shop,data',\n"
	"  '--v=2', '--frequency=30s',\n"
	"}, { getenv = function() return nil end })\n"
	"assert(r, err)\n"
	"local files = {}\n"
	"for k, v in pairs(r.files) do files[#files + 1] = k; files[#files + 1] = v end\n"
	"for k, v in pairs(r.secrets) do files[#files + 1] = 'secrets/' .. k; files[#files + 1] = v end\n"
	"return files\n";

static int run_herald(const char *args, const char *out)
{
	const char *bin = getenv("HERALD_BIN");
	assert_non_null(bin);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' %s >'%s' 2>&1", bin, args, out);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The replay --json line of the event uid says routes. */
static void assert_routes(const char *out, const char *uid, const char *routes)
{
	char key[128];
	snprintf(key, sizeof(key), "\"uid\":\"%s\"", uid);
	const char *line = strstr(out, key);
	if (!line)
		fail_msg("no line for %s in:\n%s", uid, out);
	const char *end = strchr(line, '\n');
	size_t n = end ? (size_t)(end - line) : strlen(line);
	char want[256];
	snprintf(want, sizeof(want), "\"routes\":%s", routes);
	char *copy = strndup(line, n);
	assert_non_null(copy);
	if (!strstr(copy, want))
		fail_msg("%s: want %s, got %s", uid, want, copy);
	free(copy);
}

static void test_files_check_and_route(void **state)
{
	(void)state;
	char dir[] = "/tmp/herald-ke-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[512];
	snprintf(path, sizeof(path), "%s/rules", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	assert_int_equal(mkdir(path, 0700), 0);

	lua_State *L = luahost_state(h);
	assert_int_equal(luaL_loadbufferx(L, TRANSLATE, strlen(TRANSLATE), "=translate", "t"), LUA_OK);
	if (luahost_pcall(h, 0, 1) != 0)
		fail_msg("%s", luahost_error(h));
	lua_Integer n = luaL_len(L, -1);
	for (lua_Integer i = 1; i + 1 <= n; i += 2) {
		lua_rawgeti(L, -1, i);                              /* files name */
		lua_rawgeti(L, -2, i + 1);                          /* files name text */
		size_t len;
		const char *text = lua_tolstring(L, -1, &len);
		snprintf(path, sizeof(path), "%s/%s", dir, lua_tostring(L, -2));
		write_text(path, text, len);
		lua_pop(L, 2);                                      /* files */
	}
	lua_pop(L, 1);

	/* The secret values are in their files only, never in the config. */
	size_t len;
	snprintf(path, sizeof(path), "%s/sinks.lua", dir);
	char *sinks = read_all(path, &len);
	assert_non_null(sinks);
	assert_null(strstr(sinks, "XXX"));
	assert_null(strstr(sinks, "SECxyz"));
	assert_null(strstr(sinks, "CSxyz"));
	free(sinks);

	char args[1024], out[512];
	snprintf(out, sizeof(out), "%s/check.out", dir);
	snprintf(args, sizeof(args), "check --config '%s'", dir);
	int rc = run_herald(args, out);
	char *said = read_all(out, &len);
	if (rc != 0)
		fail_msg("herald check exited %d:\n%s", rc, said ? said : "");
	/* every sink's rule carries examples, and they pass */
	if (!strstr(said, "5 sinks, 1 rule file, 5 rules, 8 examples (0 failed), 0 errors"))
		fail_msg("herald check said:\n%s", said);
	free(said);

	/* Routing, with the secrets given as kube-eventer's flags gave them. */
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	const char *events =
		"{\"metadata\":{\"name\":\"web-0.1\",\"namespace\":\"shop\",\"uid\":\"u-warn\",\"resourceVersion\":\"10\"},"
		"\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"web-0\"},\"type\":\"Warning\","
		"\"reason\":\"BackOff\",\"message\":\"Back-off restarting failed container\",\"count\":1,"
		"\"lastTimestamp\":\"2026-11-25T10:05:01Z\"}\n"
		"{\"metadata\":{\"name\":\"web-0.2\",\"namespace\":\"shop\",\"uid\":\"u-normal\",\"resourceVersion\":\"11\"},"
		"\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"web-0\"},\"type\":\"Normal\","
		"\"reason\":\"Pulled\",\"message\":\"pulled\",\"count\":1,\"lastTimestamp\":\"2026-11-25T10:05:02Z\"}\n"
		"{\"metadata\":{\"name\":\"web-0.3\",\"namespace\":\"shop\",\"uid\":\"u-fail\",\"resourceVersion\":\"12\"},"
		"\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"shop\",\"name\":\"web-0\"},\"type\":\"Warning\","
		"\"reason\":\"FailedMount\",\"message\":\"x\",\"count\":1,\"lastTimestamp\":\"2026-11-25T10:05:03Z\"}\n";
	write_text(path, events, strlen(events));
	snprintf(out, sizeof(out), "%s/replay.out", dir);
	snprintf(args, sizeof(args), "replay --json --config '%s' --secrets-dir '%s/secrets' '%s'", dir, dir, path);
	rc = run_herald(args, out);
	said = read_all(out, &len);
	if (rc != 0)
		fail_msg("herald replay exited %d:\n%s", rc, said ? said : "");
	assert_routes(said, "u-warn", "[\"dingtalk\",\"elasticsearch\",\"webhook\",\"wechat\"]");
	assert_routes(said, "u-normal", "[\"elasticsearch\"]");
	assert_routes(said, "u-fail", "[\"dingtalk\",\"elasticsearch\",\"wechat\"]");
	assert_null(strstr(said, "XXX"));
	assert_null(strstr(said, "SECxyz"));
	assert_null(strstr(said, "CSxyz"));
	free(said);

	if (getenv("HERALD_KE_KEEP")) {   /* to read the files by hand */
		print_message("kept %s\n", dir);
		return;
	}
	snprintf(args, sizeof(args), "rm -rf '%s'", dir);
	assert_int_equal(system(args), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_files_check_and_route),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
