/* sinktype: the names of the outputs and the freeing of what sink types
 * build. Owns no state; must not reach the Lua state or any output. */
#include "sinktype.h"

#include <stdlib.h>
#include <string.h>

/* One line per output: adding an output adds its name here, in the order
 * of enum sink_output, and its implementation to sinks.c's table. */
const char *const sinktype_outputs[SINK_OUT_COUNT + 1] = {
	[SINK_OUT_STDOUT] = "stdout",
	[SINK_OUT_FILE] = "file",
	[SINK_OUT_NULL] = "null",
	[SINK_OUT_HTTP] = "http",
	[SINK_OUT_KAFKA] = "kafka",
	[SINK_OUT_COUNT] = NULL,
};

int sinktype_output(const char *name)
{
	for (int i = 0; i < SINK_OUT_COUNT; i++)
		if (strcmp(sinktype_outputs[i], name) == 0)
			return i;
	return -1;
}

void sink_request_free(struct sink_request *r)
{
	free(r->method);
	free(r->url);
	if (r->body)
		explicit_bzero(r->body, r->body_len);
	free(r->body);
	free(r->ca_file);
	free(r->cert_file);
	free(r->key_file);
	free(r->kind);
	for (size_t i = 0; i < r->nheaders; i++) {
		explicit_bzero(r->headers[i], strlen(r->headers[i]));
		free(r->headers[i]);
	}
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

void sinktype_props_free(char **props, size_t n)
{
	for (size_t i = 0; props && i < 2 * n; i++) {
		if (props[i])
			explicit_bzero(props[i], strlen(props[i]));
		free(props[i]);
	}
	free(props);
}

void sink_verdict_free(struct sink_verdict *v)
{
	for (size_t i = 0; v->reason && i < v->n; i++)
		free(v->reason[i]);
	free(v->reason);
	free(v->state);
	free(v->message);
	memset(v, 0, sizeof(*v));
}
