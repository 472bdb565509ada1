/* pbwrite: turns a decoded pbevent into what herald's outputs and rules
 * consume: a JSON line, or a Lua table shaped like the JSON decoder's.
 * Owns no state; the caller owns the buffer and the Lua stack. */
#include "pbwrite.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

/* Civil date from days since 1970-01-01 (proleptic Gregorian), by 400-year
 * eras of 146097 days. */
static void civil(int64_t days, int *y, int *m, int *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;                                /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                  /* March = 0 */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + width;
}

size_t pbwrite_time(const struct pbevent_time *t, int micro, char out[32])
{
	int64_t days = t->seconds / 86400, rem = t->seconds % 86400;
	int y, m, d;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil(days, &y, &m, &d);
	char *p = digits(out, (unsigned)y, 4);
	*p++ = '-';
	p = digits(p, (unsigned)m, 2);
	*p++ = '-';
	p = digits(p, (unsigned)d, 2);
	*p++ = 'T';
	p = digits(p, (unsigned)(rem / 3600), 2);
	*p++ = ':';
	p = digits(p, (unsigned)(rem / 60 % 60), 2);
	*p++ = ':';
	p = digits(p, (unsigned)(rem % 60), 2);
	if (micro) {
		*p++ = '.';
		p = digits(p, (unsigned)(t->nanos / 1000), 6);
	}
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - out);
}

/* ---- JSON line */

struct writer {
	struct buf *out;
	int fail;
	int first;      /* no comma before the next member */
};

static void raw(struct writer *w, const char *s, size_t n)
{
	if (buf_append(w->out, s, n) < 0)
		w->fail = 1;
}

static void key(struct writer *w, const char *k)
{
	if (!w->first && buf_putc(w->out, ',') < 0)
		w->fail = 1;
	w->first = 0;
	if (buf_putc(w->out, '"') < 0)
		w->fail = 1;
	raw(w, k, strlen(k));
	raw(w, "\":", 2);
}

static void open_obj(struct writer *w, const char *k)
{
	key(w, k);
	raw(w, "{", 1);
	w->first = 1;
}

static void close_obj(struct writer *w)
{
	raw(w, "}", 1);
	w->first = 0;
}

/* A string member; omitempty unless always. */
static void member(struct writer *w, const char *k, const struct pbevent_str *s, int always)
{
	if (!s->n && !always)
		return;
	key(w, k);
	if (json_append_string(w->out, s->p ? s->p : "", s->n) < 0)
		w->fail = 1;
}

static void time_member(struct writer *w, const char *k, const struct pbevent_time *t, int micro)
{
	char text[34];
	key(w, k);
	if (!t->set) {
		raw(w, "null", 4);
		return;
	}
	text[0] = '"';
	size_t n = pbwrite_time(t, micro, text + 1);
	text[n + 1] = '"';
	raw(w, text, n + 2);
}

static void int_member(struct writer *w, const char *k, int32_t v)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d", (int)v);
	key(w, k);
	raw(w, text, (size_t)n);
}

static void reference(struct writer *w, const char *k, const struct pbevent_ref *r)
{
	open_obj(w, k);
	member(w, "kind", &r->kind, 0);
	member(w, "namespace", &r->namespace, 0);
	member(w, "name", &r->name, 0);
	member(w, "uid", &r->uid, 0);
	member(w, "apiVersion", &r->api_version, 0);
	member(w, "resourceVersion", &r->resource_version, 0);
	member(w, "fieldPath", &r->field_path, 0);
	close_obj(w);
}

static void pairs(struct writer *w, const char *k, const struct pbevent_pair *kv, int n)
{
	if (!n)
		return;
	open_obj(w, k);
	for (int i = 0; i < n; i++) {
		if (!w->first && buf_putc(w->out, ',') < 0)
			w->fail = 1;
		w->first = 0;
		if (json_append_string(w->out, kv[i].key.p, kv[i].key.n) < 0 || buf_putc(w->out, ':') < 0 ||
		    json_append_string(w->out, kv[i].value.p, kv[i].value.n) < 0)
			w->fail = 1;
	}
	close_obj(w);
}

static void managed_fields(struct writer *w, const struct pbevent *ev)
{
	if (!ev->nmanaged)
		return;
	key(w, "managedFields");
	raw(w, "[", 1);
	for (int i = 0; i < ev->nmanaged; i++) {
		const struct pbevent_managed *m = &ev->managed[i];
		raw(w, i ? ",{" : "{", i ? 2 : 1);
		w->first = 1;
		member(w, "manager", &m->manager, 0);
		member(w, "operation", &m->operation, 0);
		member(w, "apiVersion", &m->api_version, 0);
		if (m->has_time)
			time_member(w, "time", &m->time, 0);
		member(w, "fieldsType", &m->fields_type, 0);
		if (m->has_fields_v1) {
			key(w, "fieldsV1");
			raw(w, m->fields_v1.p, m->fields_v1.n);   /* JSON already */
		}
		member(w, "subresource", &m->subresource, 0);
		close_obj(w);
	}
	raw(w, "]", 1);
}

int pbwrite_json(const struct pbevent *ev, struct buf *out)
{
	struct writer w = { out, 0, 1 };
	static const char head[] = "{\"kind\":\"Event\",\"apiVersion\":\"v1\"";
	raw(&w, head, sizeof(head) - 1);
	w.first = 0;
	open_obj(&w, "metadata");
	member(&w, "name", &ev->name, 0);
	member(&w, "namespace", &ev->namespace, 0);
	member(&w, "uid", &ev->uid, 0);
	member(&w, "resourceVersion", &ev->resource_version, 0);
	time_member(&w, "creationTimestamp", &ev->created, 0);
	pairs(&w, "labels", ev->labels, ev->nlabels);
	pairs(&w, "annotations", ev->annotations, ev->nannotations);
	managed_fields(&w, ev);
	close_obj(&w);
	reference(&w, "involvedObject", &ev->involved);
	member(&w, "reason", &ev->reason, 0);
	member(&w, "message", &ev->message, 0);
	open_obj(&w, "source");
	member(&w, "component", &ev->source_component, 0);
	member(&w, "host", &ev->source_host, 0);
	close_obj(&w);
	time_member(&w, "firstTimestamp", &ev->first, 0);
	time_member(&w, "lastTimestamp", &ev->last, 0);
	if (ev->count)
		int_member(&w, "count", ev->count);
	member(&w, "type", &ev->type, 0);
	time_member(&w, "eventTime", &ev->event_time, 1);
	if (ev->has_series) {
		open_obj(&w, "series");
		if (ev->series_count)
			int_member(&w, "count", ev->series_count);
		time_member(&w, "lastObservedTime", &ev->series_last, 1);
		close_obj(&w);
	}
	member(&w, "action", &ev->action, 0);
	if (ev->related.present)
		reference(&w, "related", &ev->related);
	member(&w, "reportingComponent", &ev->reporting_component, 1);
	member(&w, "reportingInstance", &ev->reporting_instance, 1);
	raw(&w, "}\n", 2);
	return w.fail ? -1 : 0;
}

/* ---- Lua table */

static void field(lua_State *L, const char *k, const struct pbevent_str *s, int always)
{
	if (!s->n && !always)
		return;
	lua_pushlstring(L, s->p ? s->p : "", s->n);   /* t s */
	lua_setfield(L, -2, k);                       /* t */
}

static void time_field(lua_State *L, const char *k, const struct pbevent_time *t, int micro)
{
	char text[32];
	if (t->set)
		lua_pushlstring(L, text, pbwrite_time(t, micro, text));
	else
		lua_pushlightuserdata(L, NULL);           /* json.null */
	lua_setfield(L, -2, k);
}

static void ref_table(lua_State *L, const char *k, const struct pbevent_ref *r)
{
	lua_createtable(L, 0, 7);                     /* t ref */
	field(L, "kind", &r->kind, 0);
	field(L, "namespace", &r->namespace, 0);
	field(L, "name", &r->name, 0);
	field(L, "uid", &r->uid, 0);
	field(L, "apiVersion", &r->api_version, 0);
	field(L, "resourceVersion", &r->resource_version, 0);
	field(L, "fieldPath", &r->field_path, 0);
	lua_setfield(L, -2, k);                       /* t */
}

void pbwrite_table(lua_State *L, const struct pbevent *ev)
{
	lua_createtable(L, 0, 20);                    /* ev */
	lua_pushliteral(L, "Event");
	lua_setfield(L, -2, "kind");
	lua_pushliteral(L, "v1");
	lua_setfield(L, -2, "apiVersion");
	lua_createtable(L, 0, 5);                     /* ev md */
	field(L, "name", &ev->name, 0);
	field(L, "namespace", &ev->namespace, 0);
	field(L, "uid", &ev->uid, 0);
	field(L, "resourceVersion", &ev->resource_version, 0);
	time_field(L, "creationTimestamp", &ev->created, 0);
	lua_setfield(L, -2, "metadata");              /* ev */
	ref_table(L, "involvedObject", &ev->involved);
	field(L, "reason", &ev->reason, 0);
	field(L, "message", &ev->message, 0);
	lua_createtable(L, 0, 2);                     /* ev src */
	field(L, "component", &ev->source_component, 0);
	field(L, "host", &ev->source_host, 0);
	lua_setfield(L, -2, "source");                /* ev */
	time_field(L, "firstTimestamp", &ev->first, 0);
	time_field(L, "lastTimestamp", &ev->last, 0);
	if (ev->count) {
		lua_pushnumber(L, ev->count);
		lua_setfield(L, -2, "count");
	}
	field(L, "type", &ev->type, 0);
	time_field(L, "eventTime", &ev->event_time, 1);
	if (ev->has_series) {
		lua_createtable(L, 0, 2);             /* ev series */
		if (ev->series_count) {
			lua_pushnumber(L, ev->series_count);
			lua_setfield(L, -2, "count");
		}
		time_field(L, "lastObservedTime", &ev->series_last, 1);
		lua_setfield(L, -2, "series");        /* ev */
	}
	field(L, "action", &ev->action, 0);
	if (ev->related.present)
		ref_table(L, "related", &ev->related);
	field(L, "reportingComponent", &ev->reporting_component, 1);
	field(L, "reportingInstance", &ev->reporting_instance, 1);
}
