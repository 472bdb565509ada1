/* libFuzzer target: what `herald replay` and `--from` read (JSON lines,
 * watch events, Lists) through the framer, the decoder and the runtime
 * with the repository's default configuration. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest.h"
#include "log.h"
#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct runtime *rt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rt) {
		log_set_level(LOG_OFF);
		struct runtime_opts o = { .config_dir = HERALD_SOURCE_DIR, .secrets_dir = "/nonexistent" };
		if (!(rt = runtime_new(&o)) || runtime_load(rt, RUNNER_REPLAY) < 0)
			abort();
	}
	struct runner_hooks hooks = { 0 };
	struct ingest in;
	ingest_init(&in, rt, "fuzz", NULL, &hooks);
	ingest_feed(&in, (const char *)data, size);
	ingest_finish(&in);
	ingest_free(&in);
	return 0;
}
