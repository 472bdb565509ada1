/* pbevent: the fields herald reads from a core/v1 Event, decoded from the
 * kube-apiserver's protobuf (application/vnd.kubernetes.protobuf).
 *
 * Written from the field numbers in k8s.io/api core/v1 generated.proto and
 * k8s.io/apimachinery meta/v1 and runtime generated.proto. Strings point
 * into the input (no copies); everything else in the message (managedFields,
 * labels, annotations, ownerReferences, ...) is skipped, not decoded. */
#ifndef HERALD_BENCH_PBEVENT_H
#define HERALD_BENCH_PBEVENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pbevent_str {
	const char *p;
	size_t n;
};

/* meta/v1 Time (whole seconds) or MicroTime (microseconds); empty bytes on
 * the wire are the zero time, which JSON writes as null. */
struct pbevent_time {
	int64_t seconds;
	int32_t nanos;
	bool set;
};

struct pbevent_ref {
	struct pbevent_str kind, namespace, name, uid, api_version, resource_version, field_path;
	bool present;
};

#define PBEVENT_MAX_PAIRS 32
#define PBEVENT_MAX_MANAGED 16

struct pbevent_pair {
	struct pbevent_str key, value;
};

/* meta/v1 ManagedFieldsEntry; fieldsV1 is JSON already, kept as bytes. */
struct pbevent_managed {
	struct pbevent_str manager, operation, api_version, fields_type, fields_v1, subresource;
	struct pbevent_time time;
	bool has_time, has_fields_v1;
};

struct pbevent {
	struct pbevent_str name, namespace, uid, resource_version;
	/* decoded only when asked for (full): what herald outputs but no rule
	 * reads from a table */
	struct pbevent_pair labels[PBEVENT_MAX_PAIRS], annotations[PBEVENT_MAX_PAIRS];
	struct pbevent_managed managed[PBEVENT_MAX_MANAGED];
	int nlabels, nannotations, nmanaged;
	struct pbevent_time created;
	struct pbevent_ref involved, related;
	struct pbevent_str reason, message, source_component, source_host;
	struct pbevent_time first, last, event_time;
	int32_t count;
	struct pbevent_str type, action, reporting_component, reporting_instance;
	bool has_series;
	int32_t series_count;
	struct pbevent_time series_last;
};

/* Decodes one Event message (no envelope) into ev; with full, also labels,
 * annotations and managedFields. 0, or -1 when the bytes are not a
 * well-formed message, a decoded string is not UTF-8, or there are more
 * pairs or entries than ev has room for. */
int pbevent_decode(const uint8_t *p, size_t n, struct pbevent *ev, bool full);

/* Strips the "k8s\0" magic and the runtime.Unknown around an object: sets
 * kind and the object's own bytes. 0 or -1. */
int pbevent_unwrap(const uint8_t *p, size_t n, struct pbevent_str *kind, const uint8_t **raw, size_t *raw_n);

/* One watch frame (4-byte big-endian length, then a meta/v1 WatchEvent):
 * sets type and the enveloped object's bytes. Returns the bytes the frame
 * takes, 0 when buf holds no whole frame, -1 on a malformed frame. */
long pbevent_watch_frame(const uint8_t *buf, size_t len, struct pbevent_str *type,
			 const uint8_t **obj, size_t *obj_n);

/* Calls cb with each item of an enveloped EventList; the count, or -1. */
long pbevent_list(const uint8_t *p, size_t n, void (*cb)(void *arg, const uint8_t *item, size_t item_n),
		  void *arg);

#endif
