/* pbevent: decodes the Event fields herald needs from the kube-apiserver's
 * protobuf wire format. Owns nothing: every string points into the input.
 *
 * The wire format (protobuf encoding, proto2 as generated.proto declares):
 * a message is a run of (tag varint = field << 3 | wire type, value).
 * Wire type 0 is a varint, 1 eight bytes, 2 a length-delimited run
 * (strings, bytes, sub-messages), 5 four bytes. Unknown and unneeded
 * fields are skipped by their wire type, so a newer server's extra fields
 * cost nothing and break nothing. */
#include "pbevent.h"

#include <stddef.h>
#include <string.h>

struct reader {
	const uint8_t *p, *end;
};

struct field {
	uint32_t num;
	int wire;
	uint64_t v;          /* wire type 0 */
	const uint8_t *p;    /* wire type 2 */
	size_t n;
};

static int varint(struct reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* 1 and the next field in f, 0 at the end of the message, -1 malformed. */
static int next(struct reader *r, struct field *f)
{
	uint64_t tag;
	if (r->p >= r->end)
		return 0;
	if (varint(r, &tag) < 0)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wire = (int)(tag & 7);
	switch (f->wire) {
	case 0:
		return varint(r, &f->v) < 0 ? -1 : 1;
	case 1:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 1;
	case 2:
		if (varint(r, &f->v) < 0 || f->v > (uint64_t)(r->end - r->p))
			return -1;
		f->p = r->p;
		f->n = (size_t)f->v;
		r->p += f->n;
		return 1;
	case 5:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 1;
	default:
		return -1;   /* groups (3, 4) are not used by Kubernetes */
	}
}

static void str(const struct field *f, struct pbevent_str *s)
{
	if (f->wire == 2) {
		s->p = (const char *)f->p;
		s->n = f->n;
	}
}

/* meta/v1 Time and MicroTime: 1 seconds (int64), 2 nanos (int32). */
static int timestamp(const struct field *f, struct pbevent_time *t)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got;
	if (f->wire != 2)
		return 0;
	t->seconds = 0;
	t->nanos = 0;
	t->set = f->n > 0;
	while ((got = next(&r, &g)) > 0) {
		if (g.num == 1 && g.wire == 0)
			t->seconds = (int64_t)g.v;
		else if (g.num == 2 && g.wire == 0)
			t->nanos = (int32_t)g.v;
	}
	return got;
}

/* core/v1 ObjectReference. */
static int reference(const struct field *f, struct pbevent_ref *ref)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got;
	if (f->wire != 2)
		return 0;
	ref->present = true;
	while ((got = next(&r, &g)) > 0) {
		switch (g.num) {
		case 1: str(&g, &ref->kind); break;
		case 2: str(&g, &ref->namespace); break;
		case 3: str(&g, &ref->name); break;
		case 4: str(&g, &ref->uid); break;
		case 5: str(&g, &ref->api_version); break;
		case 6: str(&g, &ref->resource_version); break;
		case 7: str(&g, &ref->field_path); break;
		}
	}
	return got;
}

/* A map<string, string> entry: 1 key, 2 value. */
static int pair(const struct field *f, struct pbevent_pair *pairs, int *n)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got;
	if (f->wire != 2 || *n == PBEVENT_MAX_PAIRS)
		return -1;
	struct pbevent_pair *kv = &pairs[(*n)++];
	kv->key = kv->value = (struct pbevent_str){ "", 0 };
	while ((got = next(&r, &g)) > 0) {
		if (g.num == 1)
			str(&g, &kv->key);
		else if (g.num == 2)
			str(&g, &kv->value);
	}
	return got;
}

/* meta/v1 ManagedFieldsEntry: 1 manager, 2 operation, 3 apiVersion, 4 time,
 * 6 fieldsType, 7 fieldsV1 (FieldsV1: 1 Raw), 8 subresource. */
static int managed(const struct field *f, struct pbevent *ev)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g, h;
	int got;
	if (f->wire != 2 || ev->nmanaged == PBEVENT_MAX_MANAGED)
		return -1;
	struct pbevent_managed *m = &ev->managed[ev->nmanaged++];
	memset(m, 0, sizeof(*m));
	while ((got = next(&r, &g)) > 0) {
		switch (g.num) {
		case 1: str(&g, &m->manager); break;
		case 2: str(&g, &m->operation); break;
		case 3: str(&g, &m->api_version); break;
		case 4:
			m->has_time = true;
			if (timestamp(&g, &m->time) < 0)
				return -1;
			break;
		case 6: str(&g, &m->fields_type); break;
		case 7:
			if (g.wire == 2) {
				struct reader v = { g.p, g.p + g.n };
				m->has_fields_v1 = true;
				while ((got = next(&v, &h)) > 0)
					if (h.num == 1)
						str(&h, &m->fields_v1);
				if (got < 0)
					return -1;
			}
			break;
		case 8: str(&g, &m->subresource); break;
		}
	}
	return got;
}

/* meta/v1 ObjectMeta: the identity fields, and with full labels (11),
 * annotations (12) and managedFields (17); ownerReferences (13),
 * finalizers (14) ... are skipped (Events do not carry them). */
static int object_meta(const struct field *f, struct pbevent *ev, bool full)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got, sub = 0;
	while ((got = next(&r, &g)) > 0) {
		switch (g.num) {
		case 1: str(&g, &ev->name); break;
		case 3: str(&g, &ev->namespace); break;
		case 5: str(&g, &ev->uid); break;
		case 6: str(&g, &ev->resource_version); break;
		case 8: sub = timestamp(&g, &ev->created); break;
		case 11: sub = full ? pair(&g, ev->labels, &ev->nlabels) : 0; break;
		case 12: sub = full ? pair(&g, ev->annotations, &ev->nannotations) : 0; break;
		case 17: sub = full ? managed(&g, ev) : 0; break;
		}
		if (sub < 0)
			return -1;
	}
	return got;
}

/* core/v1 EventSource: 1 component, 2 host. */
static int source(const struct field *f, struct pbevent *ev)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got;
	while ((got = next(&r, &g)) > 0) {
		if (g.num == 1)
			str(&g, &ev->source_component);
		else if (g.num == 2)
			str(&g, &ev->source_host);
	}
	return got;
}

/* core/v1 EventSeries: 1 count, 2 lastObservedTime. */
static int series(const struct field *f, struct pbevent *ev)
{
	struct reader r = { f->p, f->p + f->n };
	struct field g;
	int got;
	ev->has_series = true;
	while ((got = next(&r, &g)) > 0) {
		if (g.num == 1 && g.wire == 0)
			ev->series_count = (int32_t)g.v;
		else if (g.num == 2 && timestamp(&g, &ev->series_last) < 0)
			return -1;
	}
	return got;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as
 * herald's framer checks JSON: a protobuf string is bytes on the wire, and
 * a client writing protobuf may have put anything there. ASCII eight bytes
 * at a time. */
static bool utf8_ok(const struct pbevent_str *s)
{
	const uint8_t *p = (const uint8_t *)s->p, *end = p + s->n;
	while (p < end) {
		if (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (!(w & 0x8080808080808080ull)) {
				p += 8;
				continue;
			}
		}
		uint8_t c = *p++;
		if (c < 0x80)
			continue;
		int more;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (end - p < more || p[0] < lo || p[0] > hi)
			return false;
		for (int i = 1; i < more; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += more;
	}
	return true;
}

static bool ref_utf8_ok(const struct pbevent_ref *r)
{
	return utf8_ok(&r->kind) && utf8_ok(&r->namespace) && utf8_ok(&r->name) && utf8_ok(&r->uid) &&
	       utf8_ok(&r->api_version) && utf8_ok(&r->resource_version) && utf8_ok(&r->field_path);
}

/* Every string decoded, once. */
static bool event_utf8_ok(const struct pbevent *ev)
{
	const struct pbevent_str *plain[] = {
		&ev->name, &ev->namespace, &ev->uid, &ev->resource_version, &ev->reason, &ev->message,
		&ev->source_component, &ev->source_host, &ev->type, &ev->action, &ev->reporting_component,
		&ev->reporting_instance,
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (!utf8_ok(plain[i]))
			return false;
	if (!ref_utf8_ok(&ev->involved) || !ref_utf8_ok(&ev->related))
		return false;
	for (int i = 0; i < ev->nlabels; i++)
		if (!utf8_ok(&ev->labels[i].key) || !utf8_ok(&ev->labels[i].value))
			return false;
	for (int i = 0; i < ev->nannotations; i++)
		if (!utf8_ok(&ev->annotations[i].key) || !utf8_ok(&ev->annotations[i].value))
			return false;
	for (int i = 0; i < ev->nmanaged; i++) {
		const struct pbevent_managed *m = &ev->managed[i];
		if (!utf8_ok(&m->manager) || !utf8_ok(&m->operation) || !utf8_ok(&m->api_version) ||
		    !utf8_ok(&m->fields_type) || !utf8_ok(&m->fields_v1) || !utf8_ok(&m->subresource))
			return false;
	}
	return true;
}

int pbevent_decode(const uint8_t *p, size_t n, struct pbevent *ev, bool full)
{
	struct reader r = { p, p + n };
	struct field f;
	int got, sub = 0;
	memset(ev, 0, offsetof(struct pbevent, labels));
	memset(&ev->nlabels, 0, sizeof(*ev) - offsetof(struct pbevent, nlabels));
	while ((got = next(&r, &f)) > 0) {
		if (f.wire == 2) {
			switch (f.num) {
			case 1: sub = object_meta(&f, ev, full); break;
			case 2: sub = reference(&f, &ev->involved); break;
			case 3: str(&f, &ev->reason); break;
			case 4: str(&f, &ev->message); break;
			case 5: sub = source(&f, ev); break;
			case 6: sub = timestamp(&f, &ev->first); break;
			case 7: sub = timestamp(&f, &ev->last); break;
			case 9: str(&f, &ev->type); break;
			case 10: sub = timestamp(&f, &ev->event_time); break;
			case 11: sub = series(&f, ev); break;
			case 12: str(&f, &ev->action); break;
			case 13: sub = reference(&f, &ev->related); break;
			case 14: str(&f, &ev->reporting_component); break;
			case 15: str(&f, &ev->reporting_instance); break;
			}
			if (sub < 0)
				return -1;
		} else if (f.num == 8 && f.wire == 0) {
			ev->count = (int32_t)f.v;
		}
	}
	return got < 0 || !event_utf8_ok(ev) ? -1 : 0;
}

/* "k8s\0", then runtime.Unknown: 1 typeMeta (1 apiVersion, 2 kind),
 * 2 raw, 3 contentEncoding, 4 contentType. */
int pbevent_unwrap(const uint8_t *p, size_t n, struct pbevent_str *kind, const uint8_t **raw, size_t *raw_n)
{
	static const uint8_t magic[4] = { 'k', '8', 's', 0 };
	struct reader r;
	struct field f, g;
	int got;
	if (n < 4 || memcmp(p, magic, 4) != 0)
		return -1;
	r = (struct reader){ p + 4, p + n };
	*raw = NULL;
	*raw_n = 0;
	kind->p = NULL;
	kind->n = 0;
	while ((got = next(&r, &f)) > 0) {
		if (f.num == 1 && f.wire == 2) {
			struct reader t = { f.p, f.p + f.n };
			while ((got = next(&t, &g)) > 0)
				if (g.num == 2)
					str(&g, kind);
			if (got < 0)
				return -1;
		} else if (f.num == 2 && f.wire == 2) {
			*raw = f.p;
			*raw_n = f.n;
		}
	}
	return got < 0 || !*raw ? -1 : 0;
}

long pbevent_watch_frame(const uint8_t *buf, size_t len, struct pbevent_str *type,
			 const uint8_t **obj, size_t *obj_n)
{
	struct reader r;
	struct field f, g;
	int got;
	if (len < 4)
		return 0;
	size_t size = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
	if (len - 4 < size)
		return 0;
	/* meta/v1 WatchEvent: 1 type, 2 object (runtime.RawExtension: 1 raw) */
	r = (struct reader){ buf + 4, buf + 4 + size };
	type->p = NULL;
	type->n = 0;
	*obj = NULL;
	*obj_n = 0;
	while ((got = next(&r, &f)) > 0) {
		if (f.num == 1)
			str(&f, type);
		else if (f.num == 2 && f.wire == 2) {
			struct reader o = { f.p, f.p + f.n };
			while ((got = next(&o, &g)) > 0) {
				if (g.num == 1 && g.wire == 2) {
					*obj = g.p;
					*obj_n = g.n;
				}
			}
			if (got < 0)
				return -1;
		}
	}
	return got < 0 || !*obj ? -1 : (long)(size + 4);
}

long pbevent_list(const uint8_t *p, size_t n, void (*cb)(void *arg, const uint8_t *item, size_t item_n),
		  void *arg)
{
	struct pbevent_str kind;
	const uint8_t *raw;
	size_t raw_n;
	struct reader r;
	struct field f;
	long count = 0;
	int got;
	if (pbevent_unwrap(p, n, &kind, &raw, &raw_n) < 0)
		return -1;
	/* core/v1 EventList: 1 metadata (ListMeta), 2 items */
	r = (struct reader){ raw, raw + raw_n };
	while ((got = next(&r, &f)) > 0) {
		if (f.num == 2 && f.wire == 2) {
			cb(arg, f.p, f.n);
			count++;
		}
	}
	return got < 0 ? -1 : count;
}
