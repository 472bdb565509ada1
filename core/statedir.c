/* statedir: owns the record of the state dir's health (the last save's
 * outcome and the failure count). Must not write the checkpoint or the
 * last good configuration itself: their modules save and report here. */
#include "statedir.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"
#include "metrics.h"

static struct {
	bool failing;
	unsigned long failures;
	char error[512];
} health;

int statedir_probe(const char *dir, char *err, size_t errlen)
{
	static const char probe[] = "herald checks that it can write its state here\n";
	char path[4096];
	snprintf(path, sizeof(path), "%s/.herald-probe", dir);
	if (atomicfile_write(path, probe, sizeof(probe) - 1, err, errlen) < 0)
		return -1;
	unlink(path);
	metrics_inc(M_STATE_SAVE_FAILURES_TOTAL, 0, NULL);   /* exposed from the start */
	return 0;
}

void statedir_saved(int rc, const char *what, const char *why)
{
	if (rc == 0) {
		if (health.failing)
			log_info("state dir: saving works again (%s)", what);
		health.failing = false;
		health.error[0] = '\0';
		return;
	}
	health.failures++;
	metrics_inc(M_STATE_SAVE_FAILURES_TOTAL, 1, NULL);
	if (!health.failing)
		log_error("state dir: %s; herald keeps running but is not ready, and what it delivered "
			  "since the last good save would be sent again after a restart", why);
	health.failing = true;
	snprintf(health.error, sizeof(health.error), "%s", why);
}

bool statedir_writable(void) { return !health.failing; }
const char *statedir_error(void) { return health.error; }
unsigned long statedir_failures(void) { return health.failures; }
