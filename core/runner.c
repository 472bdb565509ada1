/* runner: calls runtime.load / runtime.ingest and serves the callbacks the
 * runtime makes while an event is routed. The hooks of the current call
 * live in the host's userdata for the duration of that call only. */
#include "runner.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "luahost.h"
#include "luahost_lib.h"
#include "metrics.h"
#include "sinkq.h"

static const struct runner_hooks *current(lua_State *L)
{
	return luahost_userdata(luahost_from(L));
}

/* core.emit(sink_index, item[, group_key, uid]) */
static int l_emit(lua_State *L)
{
	const struct runner_hooks *hooks = current(L);
	struct runner_item it = {
		.sink = (int)luaL_checkinteger(L, 1),
		.data = luaL_checklstring(L, 2, &it.len),
		.key = lua_tostring(L, 3),
		.uid = lua_tostring(L, 4),
	};
	if (hooks && hooks->emit)
		hooks->emit(hooks->arg, &it);
	return 0;
}

/* core.emit_splice(sink_index, ev, keys, again) -> true | false[, err]:
 * emits ev as json.splice writes it (see json_splice), without a Lua
 * string in between; again: the same event as the last call, reuse its
 * bytes. false: ev cannot be spliced (the caller encodes it). */
static int l_emit_splice(lua_State *L)
{
	const struct runner_hooks *hooks = current(L);
	struct runner_item it = { .sink = (int)luaL_checkinteger(L, 1) };
	const struct buf *out = lua_toboolean(L, 4) ? json_spliced(L) : NULL;
	if (!out) {
		int rc = json_splice(L, 2, 3, &out);
		if (rc <= 0) {
			lua_pushboolean(L, 0);
			if (rc < 0)
				lua_insert(L, -2);
			return rc < 0 ? 2 : 1;
		}
	}
	it.data = out->data;
	it.len = out->len;
	if (hooks && hooks->emit)
		hooks->emit(hooks->arg, &it);
	lua_pushboolean(L, 1);
	return 1;
}

static const char *field_or_empty(lua_State *L, int idx)
{
	const char *s = lua_tostring(L, idx);
	return s ? s : "";
}

/* core.routed(ev, routes, dropped_by, item) */
static int l_routed(lua_State *L)
{
	const struct runner_hooks *hooks = current(L);
	if (!hooks || !hooks->routed)
		return 0;
	luaL_checktype(L, 2, LUA_TTABLE);
	size_t n = lua_rawlen(L, 2);
	int small[32];
	int *sinks = n <= 32 ? small : lua_newuserdatauv(L, n * sizeof(int), 0);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);                  /* sink */
		lua_getfield(L, -1, "index");                           /* sink index */
		sinks[i] = (int)lua_tointeger(L, -1);
		lua_pop(L, 2);
	}
	struct runner_event ev = {
		.uid = "", .namespace = "", .reason = "", .type = "", .kind = "", .name = "",
		.sinks = sinks, .nsinks = n,
		.dropped_by = lua_tostring(L, 3),
		.item = (long)luaL_optinteger(L, 4, 0),
	};
	if (hooks->describe) {
		luahost_runtime_fn(luahost_from(L), "describe");       /* describe */
		lua_pushvalue(L, 1);
		lua_call(L, 1, 6);                                      /* uid ns reason type kind name */
		ev.uid = field_or_empty(L, -6);
		ev.namespace = field_or_empty(L, -5);
		ev.reason = field_or_empty(L, -4);
		ev.type = field_or_empty(L, -3);
		ev.kind = field_or_empty(L, -2);
		ev.name = field_or_empty(L, -1);
	}
	hooks->routed(hooks->arg, &ev);
	return 0;
}

/* core.reject(item_index, why) */
static int l_reject(lua_State *L)
{
	const struct runner_hooks *hooks = current(L);
	if (hooks && hooks->reject)
		hooks->reject(hooks->arg, (long)luaL_checkinteger(L, 1), luaL_checkstring(L, 2));
	return 0;
}

/* core.count(name, label): counters the runtime keeps (rule errors per
 * file, encode errors per sink). */
static int l_count(lua_State *L)
{
	/* Only the runtime's own counters, each with its one label. */
	static const struct { const char *name; enum metric metric; const char *label; } known[] = {
		{ "rule_errors", M_RULE_ERRORS_TOTAL, "file" },
		{ "encode_errors", M_SINK_ENCODE_ERRORS_TOTAL, "sink" },
		{ "stale_skipped", M_SINK_STALE_SKIPPED_TOTAL, "sink" },
	};
	const char *name = luaL_checkstring(L, 1);
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (strcmp(name, known[i].name) == 0)
			metrics_inc(known[i].metric, 1, known[i].label, luaL_optstring(L, 2, ""), NULL);
	return 0;
}

void runner_register(struct luahost *h)
{
	luahost_register(h, "emit", l_emit);
	luahost_register(h, "emit_splice", l_emit_splice);
	luahost_register(h, "routed", l_routed);
	luahost_register(h, "reject", l_reject);
	luahost_register(h, "count", l_count);
	luahost_register_list(h, "outputs", sinktype_outputs);
	runner_enrich_register(h);
}

static size_t print_list(lua_State *L, int summary, const char *key, const char *label,
			 const struct runner_report *report)
{
	lua_getfield(L, summary, key);                                  /* list */
	size_t n = lua_rawlen(L, -1);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i);                     /* list item */
		lua_getfield(L, -1, "where");
		lua_getfield(L, -2, "msg");                             /* list item where msg */
		const char *where = lua_tostring(L, -2);
		const char *msg = lua_tostring(L, -1);
		/* Compiler messages already start with file:line. */
		struct buf text = BUF_INIT;
		if (msg && where && strncmp(msg, where, strlen(where)) == 0)
			buf_printf(&text, "%s", msg);
		else
			buf_printf(&text, "%s: %s", where ? where : "?", msg ? msg : "?");
		if (report)
			report->line(report->arg, label, text.data);
		else
			fprintf(stderr, "%s: %s\n", label, text.data);
		buf_free(&text);
		lua_pop(L, 3);
	}
	lua_pop(L, 1);
	return n;
}

static char *dup_field(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);
	const char *s = lua_tostring(L, -1);
	char *copy = s ? strdup(s) : NULL;
	lua_pop(L, 1);
	return copy;
}

static lua_Integer int_field(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);
	lua_Integer v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static void read_alert_policy(lua_State *L, int idx, struct sink_spec *s)
{
	struct alert_policy *p = &s->policy;
	s->alert = true;
	p->wait_ms = (uint64_t)int_field(L, idx, "wait_ms");
	p->interval_ms = (uint64_t)int_field(L, idx, "interval_ms");
	p->repeat_ms = (uint64_t)int_field(L, idx, "repeat_ms");
	p->samples = (size_t)int_field(L, idx, "samples");
	p->max_groups = (size_t)int_field(L, idx, "max_groups");
	lua_getfield(L, idx, "rates");                                  /* rates */
	size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
	for (size_t i = 0; i < n && p->nrates < ALERT_MAX_RATES; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		p->rates[p->nrates++] = (struct alert_rate){
			.count = (unsigned)int_field(L, lua_gettop(L), "count"),
			.period_ms = (uint64_t)int_field(L, lua_gettop(L), "period_ms"),
		};
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static int read_sink(lua_State *L, int idx, struct sink_spec *s)
{
	s->name = dup_field(L, idx, "name");
	s->type = dup_field(L, idx, "type");
	char *output = dup_field(L, idx, "output");
	if (!s->name || !s->type || !output) {
		free(output);
		return -1;
	}
	int rc = 0;
	int kind = sinktype_output(output);
	s->output = kind < 0 ? SINK_OUT_NULL : (enum sink_output)kind;
	if (kind < 0) {
		fprintf(stderr, "error: sink %s: output %s is not supported by this herald\n",
			s->name, output);
		rc = -1;
	} else if (s->output == SINK_OUT_HTTP) {
		lua_getfield(L, idx, "conf");                           /* conf */
		s->dead_letter = dup_field(L, lua_gettop(L), "dead_letter");
		s->concurrency = (int)int_field(L, lua_gettop(L), "concurrency");
		lua_pop(L, 1);
		lua_getfield(L, idx, "alert");                          /* alert */
		if (lua_istable(L, -1))
			read_alert_policy(L, lua_gettop(L), s);
		lua_pop(L, 1);
	} else if (s->output == SINK_OUT_KAFKA) {
		lua_getfield(L, idx, "conf");                           /* conf */
		s->dead_letter = dup_field(L, lua_gettop(L), "dead_letter");
		if (luahost_kafka_props(L, lua_gettop(L), &s->kafka_props, &s->nkafka_props) < 0)
			rc = -1;
		lua_pop(L, 1);
	} else if (s->output == SINK_OUT_FILE) {
		lua_getfield(L, idx, "conf");                           /* conf */
		int conf = lua_gettop(L);
		s->path = dup_field(L, conf, "path");
		s->rotate_bytes = (size_t)int_field(L, conf, "max_bytes");
		s->rotate_keep = (int)int_field(L, conf, "keep");
		lua_pop(L, 1);
		if (!s->path)
			rc = -1;
	}
	free(output);
	s->batch_events = (size_t)int_field(L, idx, "batch_events");
	s->batch_bytes = (size_t)int_field(L, idx, "batch_bytes");
	s->batch_wait_ms = (uint64_t)int_field(L, idx, "batch_wait_ms");
	s->queue_events = (size_t)int_field(L, idx, "queue_events");
	s->queue_bytes = (size_t)int_field(L, idx, "queue_bytes");
	lua_getfield(L, idx, "has_batch");
	s->lua_batch = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return rc;
}

int runner_load(struct luahost *h, const char *config_dir, const char *rules_dir,
		const char *secrets_dir, enum runner_mode mode, const struct runner_report *report,
		struct runner_config *out)
{
	lua_State *L = luahost_state(h);
	memset(out, 0, sizeof(*out));
	luahost_runtime_fn(h, "load");                                  /* load */
	lua_createtable(L, 0, 3);                                       /* load opts */
	lua_pushstring(L, config_dir);
	lua_setfield(L, -2, "config_dir");
	if (rules_dir) {
		lua_pushstring(L, rules_dir);
		lua_setfield(L, -2, "rules_dir");
	}
	lua_pushstring(L, secrets_dir);
	lua_setfield(L, -2, "secrets_dir");
	lua_pushstring(L, mode == RUNNER_CHECK ? "check" : mode == RUNNER_REPLAY ? "replay" : "run");
	lua_setfield(L, -2, "mode");
	if (luahost_pcall(h, 1, 1) < 0) {                              /* summary */
		log_error("loading %s failed: %s", config_dir, luahost_error(h));
		return -1;
	}
	int summary = lua_gettop(L);
	out->errors = print_list(L, summary, "errors", "error", report);
	out->warnings = print_list(L, summary, "warnings", "warning", report);
	out->examples_failed = print_list(L, summary, "failed", "error", report);
	out->examples = (size_t)int_field(L, summary, "examples");
	out->rules = (size_t)int_field(L, summary, "rules");
	out->files = (size_t)int_field(L, summary, "files");
	lua_getfield(L, summary, "ok");
	out->ok = lua_toboolean(L, -1);
	lua_pop(L, 1);

	lua_getfield(L, summary, "sinks");                              /* summary sinks */
	size_t n = lua_rawlen(L, -1);
	out->sinks = calloc(n ? n : 1, sizeof(*out->sinks));
	if (!out->sinks) {
		lua_pop(L, 2);
		return -1;
	}
	out->nsinks = n;
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);                 /* summary sinks sink */
		if (read_sink(L, lua_gettop(L), &out->sinks[i]) < 0)
			out->ok = false;
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return 0;
}

void runner_config_free(struct runner_config *c)
{
	for (size_t i = 0; i < c->nsinks; i++) {
		free(c->sinks[i].name);
		free(c->sinks[i].type);
		free(c->sinks[i].path);
		free(c->sinks[i].dead_letter);
		sinktype_props_free(c->sinks[i].kafka_props, c->sinks[i].nkafka_props);
	}
	free(c->sinks);
	memset(c, 0, sizeof(*c));
}

static void copy_str(char *dst, size_t cap, lua_State *L, int idx)
{
	const char *s = lua_tostring(L, idx);
	snprintf(dst, cap, "%s", s ? s : "");
}

int runner_ingest(struct luahost *h, const struct ingest_input *in,
		  const struct runner_hooks *hooks, struct ingest_result *res)
{
	lua_State *L = luahost_state(h);
	memset(res, 0, sizeof(*res));
	int top = lua_gettop(L);
	luahost_set_userdata(h, (void *)hooks);
	luahost_runtime_fn(h, "ingest");
	lua_pushlstring(L, in->data, in->len);
	lua_pushboolean(L, in->has_empty_array);
	if (in->cluster)
		lua_pushstring(L, in->cluster);
	else
		lua_pushnil(L);
	lua_pushboolean(L, in->big_field);
	lua_pushinteger(L, (lua_Integer)in->field_limit);
	int rc = luahost_pcall_own(h, 5, 5);
	luahost_set_userdata(h, NULL);
	if (rc < 0) {
		res->kind = INGEST_FAILED;
		snprintf(res->message, sizeof(res->message), "%s", luahost_error(h));
		return -1;
	}
	const char *kind = lua_tostring(L, top + 1);
	if (!kind)
		kind = "";
	if (strcmp(kind, "events") == 0) {
		res->kind = INGEST_EVENTS;
		res->count = (long)lua_tointeger(L, top + 2);
		copy_str(res->rv, sizeof(res->rv), L, top + 3);
		copy_str(res->cont, sizeof(res->cont), L, top + 4);
	} else if (strcmp(kind, "bookmark") == 0 || strcmp(kind, "deleted") == 0) {
		res->kind = kind[0] == 'b' ? INGEST_BOOKMARK : INGEST_DELETED;
		copy_str(res->rv, sizeof(res->rv), L, top + 2);
	} else if (strcmp(kind, "status") == 0) {
		res->kind = INGEST_STATUS;
		res->code = (long)lua_tointeger(L, top + 2);
		copy_str(res->reason, sizeof(res->reason), L, top + 3);
		copy_str(res->message, sizeof(res->message), L, top + 4);
		res->too_large = lua_toboolean(L, top + 5);
	} else {
		res->kind = INGEST_BAD;
		copy_str(res->message, sizeof(res->message), L, top + 2);
	}
	lua_settop(L, top);
	return 0;
}

int runner_batch(struct luahost *h, int sink, const char *name, const struct sinkq_item *items,
		 size_t count, struct buf *out)
{
	lua_State *L = luahost_state(h);
	luahost_runtime_fn(h, "batch");                                 /* batch */
	lua_pushinteger(L, sink);
	lua_createtable(L, (int)count, 0);                              /* batch sink items */
	lua_Integer i = 1;
	for (const struct sinkq_item *it = items; it; it = it->next) {
		lua_pushlstring(L, it->data, it->len);
		lua_rawseti(L, -2, i++);
	}
	if (luahost_pcall(h, 2, 2) < 0) {
		log_error("sink %s: batch failed: %s", name, luahost_error(h));
		return -1;
	}                                                               /* bytes|nil err */
	size_t len;
	const char *bytes = lua_tolstring(L, -2, &len);
	int rc = 0;
	if (!bytes) {
		log_error("sink %s: batch failed: %s", name,
			  lua_tostring(L, -1) ? lua_tostring(L, -1) : "no output");
		rc = -1;
	} else if (buf_append(out, bytes, len) < 0) {
		rc = -1;
	}
	lua_pop(L, 2);
	return rc;
}

static void push_items(lua_State *L, const struct sinkq_item *items, size_t count)
{
	lua_createtable(L, (int)count, 0);
	lua_Integer i = 1;
	for (const struct sinkq_item *it = items; it && (size_t)(i - 1) < count; it = it->next) {
		lua_pushlstring(L, it->data, it->len);
		lua_rawseti(L, -2, i++);
	}
}

static char *str_field(lua_State *L, int idx, const char *key, size_t *len)
{
	lua_getfield(L, idx, key);
	size_t n = 0;
	const char *s = lua_tolstring(L, -1, &n);
	char *copy = NULL;
	if (s && (copy = malloc(n + 1))) {
		memcpy(copy, s, n);
		copy[n] = '\0';
	}
	if (len)
		*len = copy ? n : 0;
	lua_pop(L, 1);
	return copy;
}

/* Reads what R.http_request / R.alert_request returned (req | nil, err)
 * into out: 0, 1 for "not now", -1 (logged) on failure. */
static int read_request(struct luahost *h, const char *name, struct sink_request *out)
{
	lua_State *L = luahost_state(h);
	if (luahost_pcall(h, 2, 2) < 0) {
		log_error("sink %s: building the request failed: %s", name, luahost_error(h));
		return -1;
	}                                                               /* req|nil err */
	if (!lua_istable(L, -2)) {
		if (lua_isnil(L, -1)) { /* nil, nil: not now */
			lua_pop(L, 2);
			return 1;
		}
		log_error("sink %s: building the request failed: %s", name, lua_tostring(L, -1));
		lua_pop(L, 2);
		return -1;
	}
	int req = lua_gettop(L) - 1;
	out->method = str_field(L, req, "method", NULL);
	out->url = str_field(L, req, "url", NULL);
	out->body = str_field(L, req, "body", &out->body_len);
	out->ca_file = str_field(L, req, "ca_file", NULL);
	out->cert_file = str_field(L, req, "cert_file", NULL);
	out->kind = str_field(L, req, "kind", NULL);
	out->key_file = str_field(L, req, "key_file", NULL);
	lua_getfield(L, req, "timeout");
	if (lua_isnumber(L, -1))
		out->timeout_ms = (long)(lua_tonumber(L, -1) * 1000);
	lua_pop(L, 1);
	lua_getfield(L, req, "insecure");
	out->insecure = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, req, "headers");                                /* ... headers */
	size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
	out->headers = calloc(n + 1, sizeof(*out->headers));
	for (size_t i = 0; out->headers && i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		const char *hv = lua_tostring(L, -1);
		out->headers[out->nheaders++] = strdup(hv ? hv : "");
		lua_pop(L, 1);
	}
	lua_pop(L, 3);
	if (!out->url) {
		log_error("sink %s: the request has no url", name);
		sink_request_free(out);
		return -1;
	}
	return 0;
}

int runner_http_request(struct luahost *h, int sink, const char *name, const struct sinkq_item *items,
			struct sink_request *out)
{
	lua_State *L = luahost_state(h);
	memset(out, 0, sizeof(*out));
	size_t count = 0;
	for (const struct sinkq_item *it = items; it; it = it->next)
		count++;
	luahost_runtime_fn(h, "http_request");
	lua_pushinteger(L, sink);
	push_items(L, items, count);
	return read_request(h, name, out);
}

static void set_int(lua_State *L, const char *key, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, key);
}

static void set_bool(lua_State *L, const char *key, bool v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, key);
}

/* { digest, events, attempts, parts = { { key, count, total, sent_before,
 *   repeat, overflow, first_ms, last_ms, samples = { item, ... } }, ... } } */
static void push_alert_msg(lua_State *L, const struct alert_msg *m)
{
	lua_createtable(L, 0, 4);
	set_bool(L, "digest", m->digest);
	set_int(L, "events", (lua_Integer)m->events);
	set_int(L, "attempts", (lua_Integer)m->attempts);
	lua_createtable(L, (int)m->nparts, 0);                          /* msg parts */
	for (size_t i = 0; i < m->nparts; i++) {
		const struct alert_part *p = &m->parts[i];
		lua_createtable(L, 0, 9);
		lua_pushstring(L, p->key ? p->key : "");
		lua_setfield(L, -2, "key");
		set_int(L, "count", (lua_Integer)p->count);
		set_int(L, "total", (lua_Integer)p->total);
		set_int(L, "sent_before", (lua_Integer)p->sent_before);
		set_bool(L, "repeat", p->repeat);
		set_bool(L, "overflow", p->overflow);
		set_int(L, "first_ms", (lua_Integer)p->first_ms);
		set_int(L, "last_ms", (lua_Integer)p->last_ms);
		lua_createtable(L, (int)p->nsamples, 0);
		for (size_t j = 0; j < p->nsamples; j++) {
			lua_pushlstring(L, p->samples[j].data, p->samples[j].len);
			lua_rawseti(L, -2, (lua_Integer)j + 1);
		}
		lua_setfield(L, -2, "samples");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "parts");
}

int runner_alert_request(struct luahost *h, int sink, const char *name, const struct alert_msg *m,
			 struct sink_request *out)
{
	lua_State *L = luahost_state(h);
	memset(out, 0, sizeof(*out));
	luahost_runtime_fn(h, "alert_request");
	lua_pushinteger(L, sink);
	push_alert_msg(L, m);
	return read_request(h, name, out);
}

void runner_http_response(struct luahost *h, int sink, const char *name, const struct http_response *r,
			  const char *kind, const struct sinkq_item *items, size_t count, struct sink_verdict *out)
{
	lua_State *L = luahost_state(h);
	memset(out, 0, sizeof(*out));
	out->kind = VERDICT_RETRY;
	luahost_runtime_fn(h, "http_response");
	lua_pushinteger(L, sink);
	lua_createtable(L, 0, 4);                                       /* fn sink resp */
	lua_pushinteger(L, r->status);
	lua_setfield(L, -2, "status");
	lua_pushlstring(L, r->body ? r->body : "", r->body_len);
	lua_setfield(L, -2, "body");
	if (r->error) {
		lua_pushstring(L, r->error);
		lua_setfield(L, -2, "error");
	}
	if (r->retry_after) {
		lua_pushstring(L, r->retry_after);
		lua_setfield(L, -2, "retry_after");
	}
	if (kind) {
		lua_pushstring(L, kind);
		lua_setfield(L, -2, "kind");
	}
	push_items(L, items, count);
	if (luahost_pcall(h, 3, 1) < 0) {
		out->message = strdup(luahost_error(h));
		return;
	}
	int v = lua_gettop(L);
	char *result = str_field(L, v, "result", NULL);
	out->message = str_field(L, v, "message", NULL);
	lua_getfield(L, v, "after");
	out->after_s = lua_tonumber(L, -1);
	lua_pop(L, 1);
	if (result && strcmp(result, "ok") == 0) {
		out->kind = VERDICT_OK;
	} else if (result && strcmp(result, "again") == 0) {
		out->kind = VERDICT_AGAIN;
	} else if (result && strcmp(result, "failed") == 0) {
		out->kind = VERDICT_FAILED;
	} else if (result && strcmp(result, "items") == 0) {
		out->kind = VERDICT_ITEMS;
		out->n = count;
		out->state = calloc(count ? count : 1, 1);
		out->reason = calloc(count ? count : 1, sizeof(*out->reason));
		lua_getfield(L, v, "items");                            /* v items */
		for (size_t i = 0; out->state && out->reason && i < count; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			const char *st = lua_tostring(L, -1);
			if (!st || strcmp(st, "ok") == 0) {
				out->state[i] = ITEM_OK;
			} else if (strcmp(st, "retry") == 0) {
				out->state[i] = ITEM_RETRY;
			} else {
				out->state[i] = ITEM_FAILED;
				out->reason[i] = strdup(st);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	free(result);
	lua_pop(L, 1);
}
