/* runtime: matching, globbing, normalisation and routing of events, as
 * the C core sees them through runner_load / runner_ingest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "luahost.h"
#include "metrics.h"
#include "runner.h"

static char dir[64];

static void write_file(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

struct capture {
	char routes[16][32];   /* sink names of the last event, sorted as routed */
	int nroutes;
	char items[16][4096];
	int nitems;
	char dropped_by[128];
	long rejected[16];
	int nrejected;
	const struct runner_config *cfg;
};

static void cap_emit(void *arg, const struct runner_item *it)
{
	struct capture *c = arg;
	if (c->nitems < 16) {
		snprintf(c->items[c->nitems++], sizeof(c->items[0]), "%.*s", (int)it->len, it->data);
	}
}

static void cap_routed(void *arg, const struct runner_event *ev)
{
	struct capture *c = arg;
	c->nroutes = 0;
	for (size_t i = 0; i < ev->nsinks && i < 16; i++)
		snprintf(c->routes[c->nroutes++], sizeof(c->routes[0]), "%s",
			 c->cfg->sinks[ev->sinks[i] - 1].name);
	snprintf(c->dropped_by, sizeof(c->dropped_by), "%s", ev->dropped_by ? ev->dropped_by : "");
}

static void cap_reject(void *arg, long item, const char *why)
{
	struct capture *c = arg;
	if (c->nrejected < 16)
		c->rejected[c->nrejected++] = item;
}

struct fixture {
	struct luahost *h;
	struct runner_config cfg;
};

static void load(struct fixture *fx, const char *sinks, const char *rules)
{
	strcpy(dir, "/tmp/herald-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char rules_dir[128];
	snprintf(rules_dir, sizeof(rules_dir), "%s/rules", dir);
	assert_int_equal(mkdir(rules_dir, 0755), 0);
	write_file("sinks.lua", sinks);
	write_file("rules/10-test.lua", rules);
	struct luahost_opts o = { .limits = LUAHOST_DEFAULT_LIMITS };
	fx->h = luahost_new(&o);
	assert_non_null(fx->h);
	runner_register(fx->h);
	assert_int_equal(runner_load(fx->h, dir, NULL, "/nonexistent", RUNNER_RUN, NULL, &fx->cfg), 0);
}

static void unload(struct fixture *fx)
{
	runner_config_free(&fx->cfg);
	luahost_free(fx->h);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static struct ingest_result ingest(struct fixture *fx, struct capture *c, const char *json,
				   const char *cluster)
{
	memset(c, 0, sizeof(*c));
	c->cfg = &fx->cfg;
	struct runner_hooks hooks = { .arg = c, .emit = cap_emit, .routed = cap_routed,
				      .reject = cap_reject };
	struct ingest_input in = { .data = json, .len = strlen(json),
				   .has_empty_array = strstr(json, "[]") != NULL,
				   .field_limit = 1 << 20, .cluster = cluster };
	struct ingest_result res;
	assert_int_equal(runner_ingest(fx->h, &in, &hooks, &res), 0);
	return res;
}

/* The route list of the event, joined: "a,b". */
static const char *routes_of(struct fixture *fx, const char *json)
{
	static char out[256];
	struct capture c;
	struct ingest_result r = ingest(fx, &c, json, "prod");
	assert_int_equal(r.kind, INGEST_EVENTS);
	out[0] = '\0';
	for (int i = 0; i < c.nroutes; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, c.routes[i]);
	}
	return out;
}

#define EV(type, reason, kind, ns, name, extra) \
	"{\"type\":\"" type "\",\"reason\":\"" reason "\",\"message\":\"m\"," \
	"\"metadata\":{\"uid\":\"u1\",\"namespace\":\"" ns "\",\"resourceVersion\":\"7\"}," \
	"\"involvedObject\":{\"kind\":\"" kind "\",\"namespace\":\"" ns "\",\"name\":\"" name "\"}" extra "}"

static const char *SINKS =
	"sink 'archive' { type = 'null' }\n"
	"sink 'oncall' { type = 'null' }\n"
	"sink 'nodes' { type = 'null' }\n"
	"sink 'loud' { type = 'null' }\n"
	"sink 'out' { type = 'stdout' }\n";

static void test_matching(void **state)
{
	struct fixture fx;
	load(&fx,
	     SINKS,
	     "drop  { type = 'Normal', reason = { 'Pulled', 'Created', 'Started' } }\n"
	     "route { to = 'archive' }\n"
	     "route { to = 'oncall', when = { type = 'Warning' }, unless = { namespace = 'sandbox-*' } }\n"
	     "route { to = 'nodes', when = { kind = 'Node', ['involvedObject.name'] = 'node-*' } }\n"
	     "route { to = 'loud', when = function(ev) return ev.count >= 10 end }\n"
	     "route { to = 'loud', when = { reason = { 'OOM*', 'Evicted' }, cluster = 'prod' } }\n");
	assert_true(fx.cfg.ok);
	assert_string_equal(routes_of(&fx, EV("Normal", "Pulled", "Pod", "shop", "web", "")), "");
	assert_string_equal(routes_of(&fx, EV("Normal", "Scheduled", "Pod", "shop", "web", "")), "archive");
	assert_string_equal(routes_of(&fx, EV("Warning", "BackOff", "Pod", "shop", "web", "")), "archive,oncall");
	assert_string_equal(routes_of(&fx, EV("Warning", "BackOff", "Pod", "sandbox-alice", "web", "")), "archive");
	assert_string_equal(routes_of(&fx, EV("Warning", "BackOff", "Pod", "shop", "web", ",\"count\":12")),
			    "archive,oncall,loud");
	assert_string_equal(routes_of(&fx, EV("Normal", "NodeNotReady", "Node", "", "node-c3", "")), "archive,nodes");
	assert_string_equal(routes_of(&fx, EV("Normal", "NodeNotReady", "Node", "", "worker-1", "")), "archive");
	assert_string_equal(routes_of(&fx, EV("Warning", "OOMKilling", "Node", "", "worker-1", "")),
			    "archive,oncall,loud");
	unload(&fx);
}

static void test_shorthands_and_values(void **state)
{
	struct fixture fx;
	load(&fx, SINKS,
	     "route { to = 'archive', when = { component = 'kubelet' } }\n"
	     "route { to = 'oncall', when = { namespace = 'default' } }\n"
	     "route { to = 'nodes', when = { count = { 2, 3 } } }\n"
	     "route { to = 'loud', when = { message = '*deadline*', name = function(n) return n:sub(1, 3) == 'db-' end } }\n");
	assert_true(fx.cfg.ok);
	/* component: source.component, else reportingComponent */
	assert_string_equal(routes_of(&fx, EV("Normal", "X", "Pod", "shop", "a", ",\"source\":{\"component\":\"kubelet\"}")), "archive");
	assert_string_equal(routes_of(&fx, EV("Normal", "X", "Pod", "shop", "a", ",\"source\":{},\"reportingComponent\":\"kubelet\"")), "archive");
	/* namespace: the involved object's, else the Event's own */
	assert_string_equal(routes_of(&fx,
		"{\"reason\":\"X\",\"metadata\":{\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"Node\",\"name\":\"n1\"}}"),
		"oncall");
	assert_string_equal(routes_of(&fx, EV("Normal", "X", "Pod", "shop", "a", ",\"count\":3")), "nodes");
	assert_string_equal(routes_of(&fx,
		"{\"reason\":\"X\",\"message\":\"context deadline exceeded\",\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"data\",\"name\":\"db-0\"}}"),
		"loud");
	assert_string_equal(routes_of(&fx,
		"{\"reason\":\"X\",\"message\":\"context deadline exceeded\",\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"data\",\"name\":\"web-0\"}}"),
		"");
	/* null fields match nothing and break nothing */
	assert_string_equal(routes_of(&fx,
		"{\"reason\":null,\"message\":null,\"source\":null,\"involvedObject\":{\"kind\":\"Pod\",\"name\":null,\"namespace\":null}}"),
		"");
	unload(&fx);
}

static void test_drop_ends_journey_in_order(void **state)
{
	struct fixture fx;
	load(&fx, SINKS,
	     "route { to = 'archive' }\n"
	     "drop  { reason = 'Noisy*' }\n"
	     "route { to = 'oncall' }\n");
	struct capture c;
	ingest(&fx, &c, EV("Warning", "NoisyThing", "Pod", "a", "b", ""), NULL);
	assert_int_equal(c.nroutes, 1);
	assert_string_equal(c.routes[0], "archive");
	assert_non_null(strstr(c.dropped_by, "rules/10-test.lua:2"));
	unload(&fx);
}

static void test_normalisation(void **state)
{
	struct fixture fx;
	load(&fx, "sink 'out' { type = 'stdout' }\n", "route { to = 'out' }\n");
	struct capture c;
	/* events.k8s.io/v1 written, read through core/v1: series and eventTime */
	ingest(&fx, &c,
	       "{\"metadata\":{\"uid\":\"s1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[]},"
	       "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},\"reason\":\"R\",\"firstTimestamp\":null,"
	       "\"lastTimestamp\":null,\"eventTime\":\"2026-01-01T00:00:01.000001Z\","
	       "\"series\":{\"count\":7,\"lastObservedTime\":\"2026-01-01T00:09:00.000002Z\"},\"related\":null}",
	       "prod");
	assert_int_equal(c.nitems, 1);
	assert_non_null(strstr(c.items[0], "\"count\":7"));
	assert_non_null(strstr(c.items[0], "\"lastTimestamp\":\"2026-01-01T00:09:00.000002Z\""));
	assert_non_null(strstr(c.items[0], "\"firstTimestamp\":\"2026-01-01T00:00:01.000001Z\""));
	assert_non_null(strstr(c.items[0], "\"cluster\":\"prod\""));
	assert_non_null(strstr(c.items[0], "\"finalizers\":[]"));
	assert_non_null(strstr(c.items[0], "\"related\":null"));
	/* core/v1 with count 0 and only a creationTimestamp */
	ingest(&fx, &c,
	       "{\"metadata\":{\"uid\":\"s2\",\"creationTimestamp\":\"2026-02-02T00:00:00Z\"},"
	       "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},\"reason\":\"R\",\"count\":0}", NULL);
	assert_non_null(strstr(c.items[0], "\"count\":1"));
	assert_non_null(strstr(c.items[0], "\"lastTimestamp\":\"2026-02-02T00:00:00Z\""));
	assert_non_null(strstr(c.items[0], "\"cluster\":\"default\""));
	/* events.k8s.io/v1 object shape: regarding, note, deprecated*, reportingController */
	ingest(&fx, &c,
	       "{\"apiVersion\":\"events.k8s.io/v1\",\"metadata\":{\"uid\":\"s3\"},\"eventTime\":\"2026-03-03T00:00:00.000000Z\","
	       "\"regarding\":{\"kind\":\"Certificate\",\"name\":\"tls\"},\"note\":\"failed\",\"reason\":\"Failed\","
	       "\"reportingController\":\"cert-manager\",\"deprecatedCount\":4}", NULL);
	assert_non_null(strstr(c.items[0], "\"involvedObject\":{"));
	assert_non_null(strstr(c.items[0], "\"message\":\"failed\""));
	assert_non_null(strstr(c.items[0], "\"reportingComponent\":\"cert-manager\""));
	assert_non_null(strstr(c.items[0], "\"count\":4"));
	assert_null(strstr(c.items[0], "\"regarding\""));
	/* a cluster given by the source wins over the event's own */
	ingest(&fx, &c, EV("Normal", "X", "Pod", "a", "b", ",\"cluster\":\"old\""), "new");
	assert_non_null(strstr(c.items[0], "\"cluster\":\"new\""));
	ingest(&fx, &c, EV("Normal", "X", "Pod", "a", "b", ",\"cluster\":\"old\""), NULL);
	assert_non_null(strstr(c.items[0], "\"cluster\":\"old\""));
	unload(&fx);
}

static void test_rule_errors_do_not_stop_other_routes(void **state)
{
	struct fixture fx;
	metrics_reset();
	load(&fx, SINKS,
	     "route { to = 'oncall', when = function(ev) while true do end end }\n"
	     "route { to = 'nodes', when = function(ev) return ev.nothing.here end }\n"
	     "route { to = 'loud', when = function(ev) return string.rep('x', 1 << 30) end }\n"
	     "route { to = 'archive' }\n");
	assert_true(fx.cfg.ok);
	assert_string_equal(routes_of(&fx, EV("Warning", "X", "Pod", "a", "b", "")), "archive");
	char label[128];
	snprintf(label, sizeof(label), "%s/rules/10-test.lua", dir);
	assert_int_equal((int)metrics_get(M_RULE_ERRORS_TOTAL, "file", label, NULL), 3);
	unload(&fx);
}

/* The runtime learns the outputs this herald has from C (core.outputs),
 * registered before it starts. */
static void test_core_outputs(void **state)
{
	struct luahost_opts o = { .limits = LUAHOST_DEFAULT_LIMITS, .extend = runner_register };
	struct luahost *h = luahost_new(&o);
	assert_non_null(h);
	lua_State *L = luahost_state(h);
	lua_getfield(L, LUA_REGISTRYINDEX, "herald.core");              /* core */
	lua_getfield(L, -1, "outputs");                                 /* core outputs */
	assert_true(lua_istable(L, -1));
	assert_int_equal(lua_rawlen(L, -1), 5);
	const char *want[] = { "stdout", "file", "null", "http", "kafka" };
	for (int i = 0; i < 5; i++) {
		lua_rawgeti(L, -1, i + 1);
		assert_string_equal(lua_tostring(L, -1), want[i]);
		lua_pop(L, 1);
	}
	lua_getfield(L, -2, "emit");
	assert_true(lua_iscfunction(L, -1));
	lua_pop(L, 3);
	luahost_free(h);
}

static void test_watch_envelopes_and_lists(void **state)
{
	struct fixture fx;
	load(&fx, "sink 'out' { type = 'null' }\n", "route { to = 'out' }\n");
	struct capture c;
	struct ingest_result r = ingest(&fx, &c,
		"{\"type\":\"MODIFIED\",\"object\":" EV("Warning", "BackOff", "Pod", "a", "b", "") "}", NULL);
	assert_int_equal(r.kind, INGEST_EVENTS);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.rv, "7");
	r = ingest(&fx, &c, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Event\",\"metadata\":{\"resourceVersion\":\"12345\"}}}", NULL);
	assert_int_equal(r.kind, INGEST_BOOKMARK);
	assert_string_equal(r.rv, "12345");
	assert_int_equal(c.nroutes, 0);
	r = ingest(&fx, &c, "{\"type\":\"DELETED\",\"object\":" EV("Warning", "BackOff", "Pod", "a", "b", "") "}", NULL);
	assert_int_equal(r.kind, INGEST_DELETED);
	assert_int_equal(c.nitems, 0);
	r = ingest(&fx, &c, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			    "\"status\":\"Failure\",\"message\":\"too old resource version: 123 (456)\",\"reason\":\"Expired\",\"code\":410}}", NULL);
	assert_int_equal(r.kind, INGEST_STATUS);
	assert_int_equal(r.code, 410);
	assert_string_equal(r.reason, "Expired");
	r = ingest(&fx, &c, "{\"kind\":\"List\",\"items\":[" EV("Normal", "A", "Pod", "a", "b", "") ",{\"not\":\"event\"},"
			    EV("Normal", "C", "Pod", "a", "b", "") "]}", NULL);
	assert_int_equal(r.kind, INGEST_EVENTS);
	assert_int_equal(r.count, 2);
	assert_int_equal(c.nrejected, 1);
	assert_int_equal(c.rejected[0], 2);
	r = ingest(&fx, &c, "[1,2]", NULL);
	assert_int_equal(r.kind, INGEST_BAD);
	r = ingest(&fx, &c, "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}", NULL);
	assert_int_equal(r.kind, INGEST_BAD);
	unload(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_shorthands_and_values),
		cmocka_unit_test(test_drop_ends_journey_in_order),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_rule_errors_do_not_stop_other_routes),
		cmocka_unit_test(test_watch_envelopes_and_lists),
		cmocka_unit_test(test_core_outputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
