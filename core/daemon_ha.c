/* daemon_ha: the daemon's side of leader election. Owns the hooks that
 * start a source when this replica gains its cluster's Lease (state loaded
 * first), stop it the moment it loses it, and save its state before a
 * step-down hands the Lease over, and the state store that carries a
 * source's checkpoint file to the next leader (--state-configmap). Must
 * not decide leadership (elect.c and shard.c do) nor know a source's kind
 * or its file's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "daemon.h"
#include "elect.h"
#include "ledgers.h"
#include "log.h"
#include "statestore.h"

#define STORE_INTERVAL_MS 5000     /* the ConfigMap is written at most this often */
#define STATE_FILE_MAX (64u << 20)

#define SAVE_GIVE_UP_MS 5000  /* a step-down waits this long for the sinks to settle */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The store's key of source i's file: its base name. */
static const char *store_key(struct source *s)
{
	const char *path = s->ops->state_file ? s->ops->state_file(s) : NULL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path;
}

void daemon_ha_saved(struct daemon *d, size_t i)
{
	struct source *s = d->sources.all[i];
	const char *path = s->ops->state_file ? s->ops->state_file(s) : NULL;
	char *data = NULL, err[256];
	size_t len = 0;
	if (!path || !d->store)
		return;
	int rc = atomicfile_read(path, STATE_FILE_MAX, &data, &len, err, sizeof(err));
	if (rc == 0)
		statestore_put(d->store, store_key(s), data, len);
	else if (rc < 0)
		log_warn("cluster %s: state not mirrored: %s", s->name, err);
	free(data);
}

static void start_source(struct daemon *d, size_t i)
{
	struct source *s = d->sources.all[i];
	if (!d->ledgers_loaded) {
		/* The first gain, before this replica delivers anything: the
		 * alert ledgers (the store's copy first: the last leader's). */
		d->ledgers_loaded = true;
		loop_update_time(d->loop);
		ledgers_load(d->ledgers, d->sinks);
	}
	if (s->ops->restore && s->ops->restore(s) < 0) {
		log_error("cluster %s: its state could not be loaded; stopping", s->name);
		loop_stop(d->loop);
		return;
	}
	int rc = s->ops->start(s);
	if (rc != 0) {
		log_error("cluster %s: could not start (exit code %d); stopping", s->name, rc);
		loop_stop(d->loop);
	}
}

struct gain {
	struct daemon *d;
	size_t i;
};

/* The store is read: its copy of the cluster's file replaces the local one
 * (the last leader wrote it), then the source starts, if still leading. */
static void on_store_loaded(void *arg, int rc)
{
	struct gain *g = arg;
	struct daemon *d = g->d;
	size_t i = g->i;
	free(g);
	if (d->stopping || !elect_may_deliver(d->elect, i))
		return;  /* lost again meanwhile: the next gain loads again */
	struct source *s = d->sources.all[i];
	struct buf bytes = BUF_INIT;
	char err[256];
	int got = rc == 0 ? statestore_get(d->store, store_key(s), &bytes) : -1;
	if (got == 0) {
		if (atomicfile_write(s->ops->state_file(s), bytes.data ? bytes.data : "", bytes.len, err,
				     sizeof(err)) < 0)
			log_warn("cluster %s: %s", s->name, err);
		else
			log_info("cluster %s: state loaded from configmap %s (%zu bytes)", s->name,
				 d->o->state_configmap, bytes.len);
	} else if (got < 0) {
		log_warn("cluster %s: the state store could not be read; starting from the local state "
			 "(events may be delivered again)", s->name);
	}
	buf_free(&bytes);
	start_source(d, i);
}

static void on_gained(void *arg, size_t i)
{
	struct daemon *d = arg;
	struct source *s = d->sources.all[i];
	d->save_since_ms[i] = 0;
	d->save_phase[i] = 0;
	struct gain *g = d->store && store_key(s) ? malloc(sizeof(*g)) : NULL;
	if (!g) {
		start_source(d, i);
		return;
	}
	*g = (struct gain){ d, i };
	statestore_load(d->store, on_store_loaded, g);
}

static void on_lost(void *arg, size_t i)
{
	struct daemon *d = arg;
	d->sources.all[i]->ops->stop(d->sources.all[i]);
}

/* A step-down: the source is stopped; write what it delivered so the next
 * leader starts from there. Gives up after SAVE_GIVE_UP_MS (the next
 * leader then delivers again what was not saved: duplicates, not loss). */
static void on_flushed(void *arg, int rc)
{
	int *phase = arg;
	*phase = 2;   /* written or failed (logged): hand over either way */
}

static bool on_save(void *arg, size_t i)
{
	struct daemon *d = arg;
	if (!d->save_since_ms[i])
		d->save_since_ms[i] = mono_ms();
	if (d->save_phase[i] == 0 && daemon_save_source(d, i)) {
		if (!d->store)
			return true;
		daemon_ha_saved(d, i);     /* also when nothing changed since the last save */
		d->save_phase[i] = 1;
		statestore_flush(d->store, on_flushed, &d->save_phase[i]);
	}
	if (d->save_phase[i] == 2)
		return true;
	if (mono_ms() - d->save_since_ms[i] < SAVE_GIVE_UP_MS)
		return false;
	log_warn("cluster %s: sinks did not settle within %d s; handing over without saving", d->sources.all[i]->name,
		 SAVE_GIVE_UP_MS / 1000);
	return true;
}

static bool may_deliver(void *arg, const struct source *s)
{
	struct daemon *d = arg;
	for (size_t i = 0; i < d->sources.n; i++)
		if (d->sources.all[i] == s)
			return elect_may_deliver(d->elect, i);
	return false;
}

int daemon_ha_start(struct daemon *d)
{
	size_t n = d->sources.n;
	bool checkpoints = false;
	d->cluster_names = calloc(n ? n : 1, sizeof(*d->cluster_names));
	d->save_since_ms = calloc(n ? n : 1, sizeof(*d->save_since_ms));
	d->save_phase = calloc(n ? n : 1, sizeof(*d->save_phase));
	if (!d->cluster_names || !d->save_since_ms || !d->save_phase)
		return EXIT_IO;
	if (d->o->state_configmap && !d->o->state_dir) {
		log_error("--state-configmap keeps what --state-dir holds: give both");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		struct source *s = d->sources.all[i];
		if (s->ops->finite) {
			log_error("leader election needs clusters to watch, not %s %s", s->ops->kind, s->name);
			return EXIT_USAGE;
		}
		d->cluster_names[i] = s->name;
		checkpoints = checkpoints || s->ops->checkpoint;
	}
	struct elect_hooks hooks = { on_gained, on_lost, on_save, d };
	if (!(d->elect = elect_new(d->loop, d->http, d->o, d->cluster_names, n, &hooks)))
		return EXIT_CONFIG;
	if (d->o->state_configmap &&
	    !(d->store = statestore_open_configmap(d->loop, elect_api(d->elect), elect_namespace(d->elect),
						    d->o->state_configmap, STORE_INTERVAL_MS)))
		return EXIT_IO;
	ledgers_set_store(d->ledgers, d->store);
	d->env.may_deliver = may_deliver;
	elect_start(d->elect);
	return daemon_start_timers(d, checkpoints);
}

void daemon_ha_free(struct daemon *d)
{
	d->stopping = true;      /* a load answered from here starts nothing */
	statestore_free(d->store);
	elect_free(d->elect);
	free(d->cluster_names);
	free(d->save_since_ms);
	free(d->save_phase);
}
