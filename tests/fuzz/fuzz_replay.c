/* libFuzzer target: what `herald replay` and `--from` read (JSON lines,
 * watch events, Lists) through the framer, the decoder and the runtime
 * with the repository's default configuration. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ingest.h"
#include "log.h"
#include "luahost.h"
#include "runner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct luahost *host;
static struct runner_config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!host) {
		log_set_level(LOG_OFF);
		struct luahost_opts o = { .limits = LUAHOST_DEFAULT_LIMITS };
		if (!(host = luahost_new(&o)))
			abort();
		runner_register(host);
		if (runner_load(host, HERALD_SOURCE_DIR, NULL, "/nonexistent", false, NULL, &cfg) < 0 ||
		    !cfg.ok)
			abort();
	}
	struct runner_hooks hooks = { 0 };
	struct ingest in;
	ingest_init(&in, host, "fuzz", NULL, &hooks);
	ingest_feed(&in, (const char *)data, size);
	ingest_finish(&in);
	ingest_free(&in);
	return 0;
}
