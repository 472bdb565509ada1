/* statedir: whether --state-dir can be written. A probe at start, and
 * the outcome of every save into it (the delivery checkpoint, the last
 * good configuration), reported once per change of health and exposed to
 * /readyz, /status and herald_state_save_failures_total. One state dir a
 * process: the record is module state, like the metrics. */
#ifndef HERALD_STATEDIR_H
#define HERALD_STATEDIR_H
#include <stdbool.h>
#include <stddef.h>

/* Writes, fsyncs and removes a small file in dir: 0 (and the failure
 * counter shows, at 0), or -1 with the reason in err. Never logs. */
int statedir_probe(const char *dir, char *err, size_t errlen);

/* Records a save into the state dir: rc 0 (what = the file, for the log
 * line when health returns) or -1 (why = the reason, without secrets).
 * The first failure logs an error and each one counts; the first success
 * after failures logs that saves work again. */
void statedir_saved(int rc, const char *what, const char *why);

/* false while the last save failed; why it failed (or ""). */
bool statedir_writable(void);
const char *statedir_error(void);
/* Saves that failed since the start. */
unsigned long statedir_failures(void);

#endif
