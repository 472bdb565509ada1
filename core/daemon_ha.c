/* daemon_ha: the daemon's side of leader election. Owns the hooks that
 * start a source when this replica gains its cluster's Lease (state loaded
 * first), stop it the moment it loses it, and save its state before a
 * step-down hands the Lease over. Must not decide leadership (elect.c and
 * shard.c do) nor know a source's kind. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "elect.h"
#include "log.h"

#define SAVE_GIVE_UP_MS 5000  /* a step-down waits this long for the sinks to settle */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_gained(void *arg, size_t i)
{
	struct daemon *d = arg;
	struct source *s = d->sources.all[i];
	d->save_since_ms[i] = 0;
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

static void on_lost(void *arg, size_t i)
{
	struct daemon *d = arg;
	d->sources.all[i]->ops->stop(d->sources.all[i]);
}

/* A step-down: the source is stopped; write what it delivered so the next
 * leader starts from there. Gives up after SAVE_GIVE_UP_MS (the next
 * leader then delivers again what was not saved: duplicates, not loss). */
static bool on_save(void *arg, size_t i)
{
	struct daemon *d = arg;
	if (!d->save_since_ms[i])
		d->save_since_ms[i] = mono_ms();
	if (daemon_save_source(d, i))
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
	if (!d->cluster_names || !d->save_since_ms)
		return EXIT_IO;
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
	d->env.may_deliver = may_deliver;
	elect_start(d->elect);
	daemon_start_timers(d, checkpoints);
	return EXIT_OK;
}
