/* pbprobe: CPU per Event for herald's JSON path and a protobuf path, over
 * the same Events captured from a real kube-apiserver by fetch.py.
 *
 *   pbprobe DIR [SECONDS]        timings, as JSON, on stdout
 *   pbprobe DIR --dump-json      the protobuf path's JSON lines (for checking)
 *   pbprobe DIR --dump-json-full the same with labels, annotations, managedFields
 *   pbprobe DIR --dump-table     json.encode of the protobuf path's Lua tables
 *
 * DIR holds watch.json (JSON lines), watch.lean.json (the same lines without
 * metadata.managedFields), watch.pb (length-prefixed frames), list.json and
 * list.pb. The JSON side is herald's own code (core/framer.c, core/json.c)
 * in a bare Lua state, as herald runs it; the protobuf side is pbevent.c
 * and pbwrite.c. Each step runs over every event, pass after pass, for at
 * least SECONDS of process CPU (default 0.2); the steps take turns, five
 * rounds, so load from other processes falls on all of them alike, and the
 * median of the five is reported in ns per event. */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "framer.h"
#include "json.h"
#include "pbevent.h"
#include "pbwrite.h"

struct slice {
	const char *p;
	size_t n;
};

struct input {
	struct buf watch_json, watch_lean, watch_pb, list_json, list_pb;
	struct slice *lines, *lean, *objects, *frames;   /* one per event */
	size_t n;
};

static lua_State *L;
static struct buf out = BUF_INIT;
static volatile size_t sink;      /* keeps results live */

static void die(const char *what)
{
	fprintf(stderr, "pbprobe: %s\n", what);
	exit(1);
}

static void load(const char *dir, const char *name, struct buf *b)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (buf_read_file(b, path, 0) < 0 || !b->len)
		die(path);
}

/* Splits JSON lines; objects gets each watch event's "object" bytes. */
static size_t split_lines(const struct buf *b, struct slice *lines, struct slice *objects, size_t max)
{
	static const char key[] = "\"object\":";
	size_t n = 0;
	const char *p = b->data, *end = b->data + b->len;
	while (p < end && n < max) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		lines[n] = (struct slice){ p, (size_t)(nl - p) };
		if (objects) {
			const char *o = memmem(p, (size_t)(nl - p), key, sizeof(key) - 1);
			if (!o)
				die("a watch line without an object");
			o += sizeof(key) - 1;
			objects[n] = (struct slice){ o, (size_t)(nl - 1 - o) };   /* drop the closing } */
		}
		n++;
		p = nl + 1;
	}
	return n;
}

static void load_input(const char *dir, struct input *in)
{
	load(dir, "watch.json", &in->watch_json);
	load(dir, "watch.lean.json", &in->watch_lean);
	load(dir, "watch.pb", &in->watch_pb);
	load(dir, "list.json", &in->list_json);
	load(dir, "list.pb", &in->list_pb);
	size_t max = 0;
	for (size_t i = 0; i < in->watch_json.len; i++)
		max += in->watch_json.data[i] == '\n';
	in->lines = calloc(max + 1, sizeof(*in->lines));
	in->lean = calloc(max + 1, sizeof(*in->lean));
	in->objects = calloc(max + 1, sizeof(*in->objects));
	in->frames = calloc(max + 1, sizeof(*in->frames));
	if (!in->lines || !in->lean || !in->objects || !in->frames)
		die("out of memory");
	in->n = split_lines(&in->watch_json, in->lines, in->objects, max);
	if (split_lines(&in->watch_lean, in->lean, NULL, max) != in->n)
		die("watch.lean.json and watch.json differ in events");
	const uint8_t *p = (const uint8_t *)in->watch_pb.data;
	size_t left = in->watch_pb.len, n = 0;
	while (left) {
		struct pbevent_str type;
		const uint8_t *obj;
		size_t obj_n;
		long used = pbevent_watch_frame(p, left, &type, &obj, &obj_n);
		if (used <= 0 || n == max)
			die("watch.pb: a malformed frame, or more frames than JSON lines");
		in->frames[n++] = (struct slice){ (const char *)p, (size_t)used };
		p += used;
		left -= (size_t)used;
	}
	if (n != in->n)
		die("watch.pb and watch.json differ in events");
}

/* ---- the steps, each over one event */

static void json_decode_line(const struct slice *s)
{
	char err[128];
	if (json_decode(L, s->p, s->n, false, err, sizeof(err)) < 0)
		die(err);
}

static void step_json_decode(const struct input *in, size_t i)
{
	json_decode_line(&in->lines[i]);                 /* ev */
	lua_settop(L, 0);
}

static void step_json_decode_encode(const struct input *in, size_t i)
{
	char err[128];
	json_decode_line(&in->lines[i]);                 /* we */
	lua_getfield(L, -1, "object");                  /* we ev */
	buf_reset(&out);
	if (json_encode(L, -1, &out, err, sizeof(err)) < 0 || buf_putc(&out, '\n') < 0)
		die(err);
	sink += out.len;
	lua_settop(L, 0);
}

static void step_json_lean_decode(const struct input *in, size_t i)
{
	json_decode_line(&in->lean[i]);                  /* we */
	lua_settop(L, 0);
}

/* An estimate of the lazy JSON path: managedFields not made into tables
 * (here: absent from the bytes decoded), the output spliced from the
 * original bytes. */
static void step_json_lean_splice(const struct input *in, size_t i)
{
	json_decode_line(&in->lean[i]);                  /* we */
	buf_reset(&out);
	if (buf_append(&out, in->objects[i].p, in->objects[i].n) < 0 || buf_putc(&out, '\n') < 0)
		die("out of memory");
	sink += out.len;
	lua_settop(L, 0);
}

static void pb_decode(const struct input *in, size_t i, struct pbevent *ev, bool full)
{
	struct pbevent_str type, kind;
	const uint8_t *obj, *raw;
	size_t obj_n, raw_n;
	const struct slice *f = &in->frames[i];
	if (pbevent_watch_frame((const uint8_t *)f->p, f->n, &type, &obj, &obj_n) <= 0 ||
	    pbevent_unwrap(obj, obj_n, &kind, &raw, &raw_n) < 0 || pbevent_decode(raw, raw_n, ev, full) < 0)
		die("watch.pb: cannot decode an event");
	sink += type.n + kind.n;
}

static void step_pb_decode(const struct input *in, size_t i)
{
	struct pbevent ev;
	pb_decode(in, i, &ev, false);
	sink += ev.name.n;
}

static void step_pb_decode_full(const struct input *in, size_t i)
{
	struct pbevent ev;
	pb_decode(in, i, &ev, true);
	sink += ev.name.n;
}

static void step_pb_table(const struct input *in, size_t i)
{
	struct pbevent ev;
	pb_decode(in, i, &ev, false);
	pbwrite_table(L, &ev);                           /* ev */
	lua_settop(L, 0);
}

static void step_pb_json(const struct input *in, size_t i)
{
	struct pbevent ev;
	pb_decode(in, i, &ev, false);
	buf_reset(&out);
	if (pbwrite_json(&ev, &out) < 0)
		die("out of memory");
	sink += out.len;
}

/* What a protobuf herald does per event: a table for the rules and a JSON
 * line written from the decoded fields; full: the line as complete as the
 * apiserver's JSON (labels, annotations, managedFields decoded and written
 * too). */
static void pb_table_json(const struct input *in, size_t i, bool full)
{
	struct pbevent ev;
	pb_decode(in, i, &ev, full);
	pbwrite_table(L, &ev);                           /* ev */
	buf_reset(&out);
	if (pbwrite_json(&ev, &out) < 0)
		die("out of memory");
	sink += out.len;
	lua_settop(L, 0);
}

static void step_pb_table_json(const struct input *in, size_t i)
{
	pb_table_json(in, i, false);
}

static void step_pb_table_json_full(const struct input *in, size_t i)
{
	pb_table_json(in, i, true);
}

static void step_pb_table_encode(const struct input *in, size_t i)
{
	char err[128];
	struct pbevent ev;
	pb_decode(in, i, &ev, false);
	pbwrite_table(L, &ev);                           /* ev */
	buf_reset(&out);
	if (json_encode(L, -1, &out, err, sizeof(err)) < 0 || buf_putc(&out, '\n') < 0)
		die(err);
	sink += out.len;
	lua_settop(L, 0);
}

/* ---- whole-buffer steps (the framer, the LISTs) */

static void on_record(void *arg, const struct framer_record *rec)
{
	(void)arg;
	sink += rec->len;
}

static size_t whole_framer(const struct input *in)
{
	struct framer f;
	framer_init(&f, 64u << 20, 1u << 20, on_record, NULL);
	framer_feed(&f, in->watch_json.data, in->watch_json.len);
	framer_finish(&f);
	framer_free(&f);
	return in->n;
}

static size_t whole_json_list(const struct input *in)
{
	char err[128];
	if (json_decode(L, in->list_json.data, in->list_json.len, false, err, sizeof(err)) < 0)
		die(err);
	lua_getfield(L, -1, "items");                    /* list items */
	size_t n = (size_t)lua_rawlen(L, -1);
	lua_settop(L, 0);
	return n;
}

static void on_item(void *arg, const uint8_t *item, size_t n)
{
	struct pbevent ev;
	(void)arg;
	if (pbevent_decode(item, n, &ev, false) < 0)
		die("list.pb: cannot decode an item");
	sink += ev.name.n;
}

static size_t whole_pb_list(const struct input *in)
{
	long n = pbevent_list((const uint8_t *)in->list_pb.data, in->list_pb.len, on_item, NULL);
	if (n < 0)
		die("list.pb: malformed");
	return (size_t)n;
}

/* ---- timing */

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef void (*step_fn)(const struct input *, size_t);
typedef size_t (*whole_fn)(const struct input *);

/* ns per event of one run of at least budget seconds of CPU. */
static double measure(const struct input *in, step_fn step, whole_fn whole, double budget)
{
	lua_gc(L, LUA_GCCOLLECT);
	double t0 = cpu_now(), t;
	size_t events = 0;
	do {
		if (step) {
			for (size_t i = 0; i < in->n; i++)
				step(in, i);
			events += in->n;
		} else {
			events += whole(in);
		}
		t = cpu_now() - t0;
	} while (t < budget);
	return t * 1e9 / (double)events;
}

static void dump(const struct input *in, int table, bool full)
{
	char err[128];
	for (size_t i = 0; i < in->n; i++) {
		struct pbevent ev;
		pb_decode(in, i, &ev, full);
		buf_reset(&out);
		if (table) {
			pbwrite_table(L, &ev);
			if (json_encode(L, -1, &out, err, sizeof(err)) < 0 || buf_putc(&out, '\n') < 0)
				die(err);
			lua_settop(L, 0);
		} else if (pbwrite_json(&ev, &out) < 0) {
			die("out of memory");
		}
		fwrite(out.data, 1, out.len, stdout);
	}
}

int main(int argc, char **argv)
{
	struct input in = { .watch_json = BUF_INIT };
	if (argc < 2)
		die("usage: pbprobe DIR [SECONDS | --dump-json | --dump-json-full | --dump-table]");
	L = luaL_newstate();
	if (!L || json_open(L) < 0)
		die("cannot open Lua");
	lua_settop(L, 0);
	load_input(argv[1], &in);
	if (argc > 2 && !strncmp(argv[2], "--dump-", 7)) {
		if (!strcmp(argv[2], "--dump-json"))
			dump(&in, 0, false);
		else if (!strcmp(argv[2], "--dump-json-full"))
			dump(&in, 0, true);
		else if (!strcmp(argv[2], "--dump-table"))
			dump(&in, 1, false);
		else
			die("unknown option");
		return 0;
	}
	double budget = argc > 2 ? atof(argv[2]) : 0.2;
	static const struct {
		const char *name;
		step_fn step;
		whole_fn whole;
	} steps[] = {
		{ "json_framer", NULL, whole_framer },
		{ "json_decode", step_json_decode, NULL },
		{ "json_decode_encode", step_json_decode_encode, NULL },
		{ "json_lean_decode", step_json_lean_decode, NULL },
		{ "json_lean_decode_splice", step_json_lean_splice, NULL },
		{ "pb_decode", step_pb_decode, NULL },
		{ "pb_decode_full", step_pb_decode_full, NULL },
		{ "pb_table", step_pb_table, NULL },
		{ "pb_json", step_pb_json, NULL },
		{ "pb_table_json", step_pb_table_json, NULL },
		{ "pb_table_json_full", step_pb_table_json_full, NULL },
		{ "pb_table_encode", step_pb_table_encode, NULL },
		{ "json_list_decode", NULL, whole_json_list },
		{ "pb_list_decode", NULL, whole_pb_list },
	};
	enum { NSTEPS = sizeof(steps) / sizeof(steps[0]), ROUNDS = 5 };
	static double ns[NSTEPS][ROUNDS];
	for (int r = 0; r < ROUNDS; r++)
		for (size_t s = 0; s < NSTEPS; s++)
			ns[s][r] = measure(&in, steps[s].step, steps[s].whole, budget);
	printf("{\"events\": %zu, \"seconds_per_run\": %g, \"rounds\": %d, \"ns_per_event\": {", in.n, budget,
	       ROUNDS);
	for (size_t s = 0; s < NSTEPS; s++) {
		qsort(ns[s], ROUNDS, sizeof(ns[s][0]), cmp_double);
		printf("%s\n  \"%s\": [%.1f, %.1f, %.1f]", s ? "," : "", steps[s].name, ns[s][ROUNDS / 2],
		       ns[s][0], ns[s][ROUNDS - 1]);
	}
	printf("\n}}\n");
	lua_close(L);
	return sink == 0;
}
