/* libFuzzer target: loading a kubeconfig (YAML, base64 data fields, exec
 * blocks, relative paths). Nothing is run and nothing is connected. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		log_set_level(LOG_OFF);
		snprintf(path, sizeof(path), "/tmp/herald-fuzz-kubeconfig-%d", (int)getpid());
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct kubeconn c;
	char err[256];
	if (kubeconfig_load(path, NULL, &c, err, sizeof(err)) == 0)
		kubeconn_free(&c);
	log_redact_clear(); /* tokens it registered: keep the list from growing */
	return 0;
}
