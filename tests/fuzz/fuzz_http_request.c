/* libFuzzer target: the request parser of herald's HTTP endpoint. The
 * method and path it gives back are NUL-terminated and within bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char method[8], path[512];
	int status = httpd_parse((const char *)data, size, method, path);
	if (status != 0 && status != 200 && status != 400 && status != 405 && status != 431)
		abort();
	if (status == 200 && (strlen(method) > 7 || strlen(path) > 511 || path[0] != '/'))
		abort();
	return 0;
}
