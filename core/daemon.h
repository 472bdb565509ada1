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
	bool on_lastgood;              /* running the state dir's last good copy */
	bool starting;                 /* the first load: refusals say "start" */
	struct buf reload_errors;      /* the last refusal's lines, for /status */
	struct ledgers *ledgers;       /* the alert ledgers in the state dir */
	bool ledgers_loaded;           /* imported (with election: at the first gain) */
	bool checkpoints;              /* some source keeps one */
	uint64_t saved_at;             /* loop time of the last save */
	bool save_failed;              /* the last save could not write a file */
	struct loop_timer *state_timer;
	struct loop_timer *resume_timer;
	struct loop_timer *drain_timer;
	bool stopping;
	struct elect *elect;           /* leader election; NULL when off */
	const char **cluster_names;    /* the sources' names, for elect */
	uint64_t *save_since_ms;       /* per source: when a step-down save began */
	int *save_phase;               /* per source: 0, 1 store flushing, 2 saved */
	struct statestore *store;      /* --state-configmap; NULL when none */
};

int daemon_run(const struct options *o);
/* Once the sinks settled, writes the alert ledgers and source i's
 * checkpoint (and mirrors them into the state store); false: not yet, or
 * a write failed. */
bool daemon_save_source(struct daemon *d, size_t i);
/* Sources run (or election decides when): the end of the start, then the
 * checkpoint and backpressure timers. 0 or the exit code. */
int daemon_start_timers(struct daemon *d, bool checkpoints);

/* daemon_ha.c: with leader election, starts the election; each source is
 * restored and started while this replica leads its cluster, stopped the
 * moment it does not. 0 or the exit code. */
int daemon_ha_start(struct daemon *d);
/* Source i wrote its checkpoint file: mirror it into the state store. */
void daemon_ha_saved(struct daemon *d, size_t i);
/* Frees what daemon_ha_start made (before the http client). */
void daemon_ha_free(struct daemon *d);

/* status.c: answers /healthz, /readyz, /metrics and /status (httpd_new's
 * handler; arg is the daemon). */
int status_serve(void *arg, const char *path, struct buf *body, const char **type);

#endif
