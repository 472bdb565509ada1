/* daemon: `herald run`: the loop, the runtime, the outputs and the list
 * of sources, kept until a signal or the end of the input; reloads the
 * configuration, saves checkpoints, drains on the way out. status.c reads
 * its state for the HTTP endpoints. */
#ifndef HERALD_DAEMON_H
#define HERALD_DAEMON_H
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "buf.h"
#include "cli.h"
#include "source.h"

struct daemon {
	const struct options *o;
	struct runtime *rt;            /* the Lua state in force and its configuration */
	struct loop *loop;
	struct http *http;
	struct sinks *sinks;
	struct confwatch *confwatch;
	struct httpd *httpd;
	struct source_env env;
	struct source_list sources;
	size_t unfinished;             /* finite sources still reading */
	uint64_t loaded_hash, refused_hash;
	time_t loaded_at;
	bool rejected;                 /* the files hold a refused configuration */
	struct buf reload_errors;      /* the last refusal's lines, for /status */
	struct ledgers *ledgers;       /* the alert ledgers in the state dir */
	bool checkpoints;              /* some source keeps one */
	uint64_t saved_at;             /* loop time of the last save */
	bool save_failed;              /* the last save could not write a file */
	struct loop_timer *state_timer;
	struct loop_timer *resume_timer;
	struct loop_timer *drain_timer;
	bool stopping;
};

int daemon_run(const struct options *o);

/* status.c: answers /healthz, /readyz, /metrics and /status (httpd_new's
 * handler; arg is the daemon). */
int status_serve(void *arg, const char *path, struct buf *body, const char **type);

#endif
