/* daemon: `herald run`. Owns the loop, the http client, the outputs, the
 * sources and the runtime handle for the life of the command, and frees
 * them in order. Must not know a source's kind: it asks the source_ops. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "confwatch.h"
#include "elect.h"
#include "httpd.h"
#include "lastgood.h"
#include "ledgers.h"
#include "log.h"
#include "metrics.h"
#include "statedir.h"

#define STATE_SAVE_MS 2000   /* the checkpoints and ledgers, when they changed */
#define DRAIN_MS 10000

/* The directories a configuration is read from. */
static size_t config_dirs(const struct options *o, char dirs[3][4096])
{
	size_t n = 0;
	snprintf(dirs[n++], 4096, "%s", o->config_dir);
	if (o->rules_dir)
		snprintf(dirs[n++], 4096, "%s", o->rules_dir);
	else
		snprintf(dirs[n++], 4096, "%s/rules", o->config_dir);
	snprintf(dirs[n++], 4096, "%s/sinks", o->config_dir);
	return n;
}

static uint64_t config_hash(const struct options *o)
{
	if (o->memory_files)
		return 0; /* kube-eventer's flags: no files */
	char dirs[3][4096];
	size_t n = config_dirs(o, dirs);
	const char *ptrs[3] = { dirs[0], dirs[1], dirs[2] };
	return confwatch_hash(ptrs, n);
}

/* A step-down's save: once the sinks settled (what is queued or in
 * flight is sent first, so the next leader re-sends nothing), writes the
 * alert ledgers, then source i's checkpoint, in this loop turn (see
 * save_state), and mirrors the file into the state store. false: not
 * settled yet, or a file could not be written (logged; the old one stays). */
bool daemon_save_source(struct daemon *d, size_t i)
{
	struct source *s = d->sources.all[i];
	if (!s->ops->checkpoint || !d->o->state_dir)
		return true;
	if (sinks_drain(d->sinks) > 0 || sinks_unsettled(d->sinks) > 0)
		return false;
	if (ledgers_save(d->ledgers, d->sinks) < 0 || s->ops->checkpoint(s) < 0)
		return false;
	if (d->store)
		daemon_ha_saved(d, i);
	return true;
}

/* Writes the alert ledgers, then the checkpoints, in this loop turn: a
 * checkpoint counts an event folded into an alert group as delivered, so
 * the ledger holding that group must be on disk first. A checkpoint never
 * claims an event some sink has not acknowledged: what is queued or in
 * flight is written as "to send again". With election, only the clusters
 * this replica delivers are saved (the others are their leader's). */
static void save_state(struct daemon *d)
{
	if (!d->checkpoints)
		return;
	d->saved_at = loop_now(d->loop);
	d->save_failed = ledgers_save(d->ledgers, d->sinks) < 0;
	if (d->save_failed)
		return;   /* a checkpoint without its ledger could lose held events */
	for (size_t i = 0; i < d->sources.n; i++) {
		struct source *s = d->sources.all[i];
		if (!s->ops->checkpoint || (d->elect && !elect_may_deliver(d->elect, i)))
			continue;
		if (s->ops->checkpoint(s) < 0)
			d->save_failed = true;
		else if (d->store)
			daemon_ha_saved(d, i);
	}
}

static void on_alert_answered(void *arg)
{
	save_state(arg);
}

static void on_state_timer(struct loop *loop, void *arg)
{
	struct daemon *d = arg;
	if (loop_now(loop) - d->saved_at >= STATE_SAVE_MS / 2)
		save_state(d);
	loop_timer_start(d->state_timer, STATE_SAVE_MS);
}

/* A source with many events routed since the last save: save now (its
 * reading pauses at a bound until then). After a failed save, only every
 * STATE_SAVE_MS: reading stays paused and nothing is claimed until the
 * state dir takes writes again (each failure is logged). */
static void save_if_due(struct daemon *d)
{
	if (d->save_failed && loop_now(d->loop) - d->saved_at < STATE_SAVE_MS)
		return;
	for (size_t i = 0; i < d->sources.n; i++) {
		struct source *s = d->sources.all[i];
		if (s->ops->dirty && s->ops->dirty(s)) {
			save_state(d);
			return;
		}
	}
}

/* Resumes paused sources once no sink is over its bound. */
static void on_resume_timer(struct loop *loop, void *arg)
{
	struct daemon *d = arg;
	if (!sinks_blocked(d->sinks))
		for (size_t i = 0; i < d->sources.n; i++)
			if (d->sources.all[i]->ops->unblock)
				d->sources.all[i]->ops->unblock(d->sources.all[i]);
	loop_timer_start(d->resume_timer, 100);
}

/* Once per loop turn: a source past its unsaved mark is saved now, not
 * at the next timer (reading would pause meanwhile). */
static void before_wait(struct loop *loop, void *arg)
{
	save_if_due(arg);
}

static void on_source_finished(void *arg, struct source *s)
{
	struct daemon *d = arg;
	if (d->unfinished && --d->unfinished == 0)
		loop_stop(d->loop);
}

static void on_drain_check(struct loop *loop, void *arg)
{
	struct daemon *d = arg;
	if ((d->checkpoints ? sinks_unsettled : sinks_pending)(d->sinks) == 0)
		loop_stop(loop);
	else
		loop_timer_start(d->drain_timer, 50);
}

static void on_drain_deadline(struct loop *loop, void *arg)
{
	log_warn("draining took longer than %d s: stopping with events still queued", DRAIN_MS / 1000);
	loop_stop(loop);
}

/* Runs the loop until the HTTP sinks have sent what they hold, or the
 * deadline passes (a second signal ends it too). */
static void drain_async(struct daemon *d)
{
	log_info("sending %zu queued events before stopping", sinks_unsettled(d->sinks));
	d->drain_timer = loop_timer_new(d->loop, on_drain_check, d);
	struct loop_timer *deadline = loop_timer_new(d->loop, on_drain_deadline, d);
	if (!d->drain_timer || !deadline) {
		loop_timer_free(d->drain_timer);
		loop_timer_free(deadline);
		d->drain_timer = NULL;
		return;
	}
	sinks_set_draining(d->sinks, !d->checkpoints);
	loop_timer_start(d->drain_timer, 0);
	loop_timer_start(deadline, DRAIN_MS);
	loop_run(d->loop);
	loop_timer_free(deadline);
	loop_timer_free(d->drain_timer);
	d->drain_timer = NULL;
}

static void collect_line(void *arg, const char *severity, const char *text)
{
	struct daemon *d = arg;
	const char *phase = d->starting ? "start" : "reload";
	if (strcmp(severity, "error") == 0) {
		log_error("%s: %s", phase, text);
		buf_printf(&d->reload_errors, "%s\n", text);
	} else {
		log_warn("%s: %s", phase, text);
	}
}

/* A Kubernetes Event about the refusal, through the first source that
 * can post one. */
static void post_rejection(struct daemon *d)
{
	struct buf msg = BUF_INIT;
	buf_printf(&msg, "herald refused the new configuration; %s: %.*s",
		   d->on_lastgood ? "it runs the last good one" : "the previous one keeps running",
		   (int)(d->reload_errors.len > 900 ? 900 : d->reload_errors.len),
		   d->reload_errors.data ? d->reload_errors.data : "");
	msg.len = log_redact(msg.data, msg.len);
	for (size_t i = 0; i < d->sources.n; i++) {
		struct source *s = d->sources.all[i];
		if (s->ops->post_event) {
			s->ops->post_event(s, "Warning", "RulesRejected", msg.data);
			break;
		}
	}
	buf_free(&msg);
}

/* The new configuration's outputs open before it is swapped in. */
static int accept_config(void *arg, const struct runner_config *cfg)
{
	struct daemon *d = arg;
	return sinks_apply(d->sinks, cfg->sinks, cfg->nsinks);
}

/* The files (of hash) were refused: /status, the metrics, the log and
 * an Event say so until they change. */
static void refuse(struct daemon *d, uint64_t hash)
{
	d->refused_hash = hash;
	d->rejected = true;
	metrics_inc(M_CONFIG_RELOADS_TOTAL, 1, "result", "refused", NULL);
	metrics_set(M_CONFIG_REJECTED, 1, NULL);
	log_error("%s", d->on_lastgood ? "configuration refused; herald runs the last good one"
				       : "reload refused; the previous configuration keeps running");
	if (!d->starting)
		post_rejection(d);   /* at start: once a source can post it */
}

static void clear_refusal(struct daemon *d)
{
	d->refused_hash = 0;
	d->rejected = false;
	metrics_set(M_CONFIG_REJECTED, 0, NULL);
}

static bool files_unchanged(void *arg)
{
	struct daemon *d = arg;
	return config_hash(d->o) == d->loaded_hash;
}

/* Keeps the configuration just loaded from the files (of loaded_hash) as
 * the last good one, unless the files changed before or during the copy
 * (the reload that change brings saves them). */
static void save_lastgood(struct daemon *d)
{
	const struct options *o = d->o;
	if (!o->state_dir || o->memory_files || !files_unchanged(d))
		return;
	char err[4200] = "";
	int rc = lastgood_save(o->state_dir, o->config_dir, o->rules_dir, files_unchanged, d, err, sizeof(err));
	if (rc <= 0)
		statedir_saved(rc, "the last good configuration", err);
	else
		log_debug("the files changed while herald copied them: the last good copy stays as it was");
}

/* The first configuration. With a last good copy in the state dir, files
 * that do not validate are refused as a reload is, and the copy runs;
 * without one they stop herald. 0 or -1. */
static int load_config(struct daemon *d)
{
	const struct options *o = d->o;
	char copy[4096], rules[4200];
	if (!o->state_dir || o->memory_files || !lastgood_dir(o->state_dir, copy, sizeof(copy)))
		return runtime_load(d->rt, RUNNER_RUN);
	struct runner_report report = { collect_line, d };
	int rc = runtime_reload(d->rt, &report, NULL, NULL);
	if (rc != RUNTIME_INVALID)
		return rc < 0 ? -1 : 0;
	snprintf(rules, sizeof(rules), "%s/rules", copy);
	if (runtime_load_from(d->rt, RUNNER_RUN, copy, rules) < 0) {
		log_error("the last good configuration in %s does not load either", copy);
		return -1;
	}
	d->on_lastgood = true;
	refuse(d, d->loaded_hash);
	const char *dirs[3] = { copy, rules, NULL };
	char sinks[4200];
	snprintf(sinks, sizeof(sinks), "%s/sinks", copy);
	dirs[2] = sinks;
	d->loaded_hash = confwatch_hash(dirs, 3);   /* not the files': their next change reloads */
	return 0;
}

/* Swaps in the configuration of the files (runtime_reload validates it
 * first); on any failure the old state keeps running and says why. */
static void reload(struct daemon *d, bool forced)
{
	uint64_t hash = config_hash(d->o);
	if (!forced && hash == d->refused_hash)
		return; /* the same refused files again */
	if (!forced && hash == d->loaded_hash) {
		if (d->rejected) {
			log_info("the files hold the configuration in force again: the refusal is cleared");
			clear_refusal(d);
		}
		return; /* nothing new */
	}
	buf_reset(&d->reload_errors);
	struct runner_report report = { collect_line, d };
	int rc = runtime_reload(d->rt, &report, accept_config, d);
	if (rc < 0) {
		if (!d->reload_errors.len)
			buf_printf(&d->reload_errors, "%s\n", rc == RUNTIME_NO_STATE ? "the Lua state could not be created"
										: "a sink's output could not be opened");
		refuse(d, hash);
		return;
	}
	const struct runner_config *cfg = runtime_config(d->rt);
	d->loaded_hash = hash;
	d->on_lastgood = false;
	clear_refusal(d);
	d->loaded_at = time(NULL);
	metrics_inc(M_CONFIG_RELOADS_TOTAL, 1, "result", "ok", NULL);
	metrics_set(M_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS, (double)d->loaded_at, NULL);
	log_info("configuration reloaded: %zu sink%s, %zu rule%s, %zu example%s", cfg->nsinks,
		 cfg->nsinks == 1 ? "" : "s", cfg->rules, cfg->rules == 1 ? "" : "s", cfg->examples,
		 cfg->examples == 1 ? "" : "s");
	save_lastgood(d);
}

static void on_config_change(void *arg)
{
	reload(arg, false);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct daemon *d = arg;
	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading the configuration");
		reload(d, true);
		return;
	}
	log_info("signal %d: draining queues and stopping", signo);
	d->stopping = true;
	loop_stop(loop);
}

/* Builds everything up to the sources; 0 or the exit code. */
static int setup(struct daemon *d)
{
	const struct options *o = d->o;
	/* Watch the configuration before reading it: an edit that lands while
	 * it loads is then seen (its hash differs from the loaded one). */
	if (!(d->loop = loop_new()))
		return EXIT_IO;
	char dirs[3][4096];
	size_t ndirs = config_dirs(o, dirs);
	const char *dir_ptrs[3] = { dirs[0], dirs[1], dirs[2] };
	d->loaded_hash = config_hash(o);
	if (o->memory_files)
		log_info("the configuration comes from kube-eventer's flags: no files to watch, no reload");
	else
		d->confwatch = confwatch_new(d->loop, dir_ptrs, ndirs, 1000, 30000, d->loaded_hash,
					     on_config_change, d);
	struct runtime_opts ro = { o->config_dir, o->rules_dir, o->secrets_dir, o->scripts_dir,
				   o->memory_files, o->memory_secrets };
	d->starting = true;
	if (!(d->rt = runtime_new(&ro)) || load_config(d) < 0)
		return EXIT_CONFIG;
	if (!d->on_lastgood)
		save_lastgood(d);
	const struct runner_config *cfg = runtime_config(d->rt);
	d->loaded_at = time(NULL);
	metrics_set(M_BUILD_INFO, 1, "version", HERALD_VERSION, NULL);
	metrics_set(M_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS, (double)d->loaded_at, NULL);
	metrics_set(M_CONFIG_REJECTED, d->rejected ? 1 : 0, NULL);
	d->http = http_new(d->loop);
	d->sinks = d->http ? sinks_new(d->loop, d->rt, d->http) : NULL;
	d->state_timer = loop_timer_new(d->loop, on_state_timer, d);
	d->resume_timer = loop_timer_new(d->loop, on_resume_timer, d);
	if (!d->sinks || !d->state_timer || !d->resume_timer || sinks_apply(d->sinks, cfg->sinks, cfg->nsinks) < 0)
		return EXIT_IO;
	/* Before any source starts: the alert sinks resume their groups. */
	if (!(d->ledgers = ledgers_new(o->from ? NULL : o->state_dir)))
		return EXIT_IO;
	loop_update_time(d->loop);   /* the ledgers' wall times map to this clock: not a stale one */
	if (!elect_enabled(o)) {   /* with election: at the first gain (daemon_ha.c) */
		d->ledgers_loaded = true;
		ledgers_load(d->ledgers, d->sinks);
	}
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	if (loop_signals(d->loop, signals, 3, on_signal, d) < 0)
		log_warn("signals: %s", strerror(errno));
	const char *listen = o->listen;
	if (!listen && getenv("KUBERNETES_SERVICE_HOST") && *getenv("KUBERNETES_SERVICE_HOST"))
		listen = ":9090";
	if (listen && strcmp(listen, "off") != 0) {
		if (!(d->httpd = httpd_new(d->loop, listen, status_serve, d)))
			return EXIT_USAGE;
		log_info("serving /metrics, /healthz, /readyz, /status on port %d", httpd_port(d->httpd));
	}
	return EXIT_OK;
}

int daemon_start_timers(struct daemon *d, bool checkpoints)
{
	d->starting = false;
	d->checkpoints = checkpoints && d->o->state_dir;
	if (d->rejected)
		post_rejection(d);   /* refused at start: now a source can post it */
	if (d->checkpoints) {
		loop_timer_start(d->state_timer, STATE_SAVE_MS);
		sinks_on_alert_answered(d->sinks, on_alert_answered, d);
		if (loop_before_wait(d->loop, before_wait, d) < 0)
			return EXIT_IO;
	}
	loop_timer_start(d->resume_timer, 100);
	return EXIT_OK;
}

/* Opens, restores and starts every source (with election: daemon_ha.c
 * starts each one while this replica leads it); 0 or the exit code. */
static int start_sources(struct daemon *d)
{
	d->env = (struct source_env){
		.loop = d->loop, .http = d->http, .rt = d->rt, .sinks = d->sinks, .o = d->o,
		.finished = on_source_finished, .arg = d,
	};
	if (source_open_all(&d->env, &d->sources) < 0)
		return EXIT_CONFIG;
	if (elect_enabled(d->o))
		return daemon_ha_start(d);
	struct buf names = BUF_INIT;
	for (size_t i = 0; i < d->sources.n; i++) {
		struct source *s = d->sources.all[i];
		if (s->ops->restore && s->ops->restore(s) < 0) {
			buf_free(&names);
			return EXIT_CONFIG;
		}
		int rc = s->ops->start(s);
		if (rc != 0) {
			buf_free(&names);
			return rc;
		}
		if (s->ops->finite)
			d->unfinished++;
		d->checkpoints = d->checkpoints || (s->ops->checkpoint && d->o->state_dir);
		buf_printf(&names, "%s%s %s", i ? ", " : "", s->ops->kind, s->name);
	}
	const struct runner_config *cfg = runtime_config(d->rt);
	log_info("herald %s: routing events from %s to %zu sink%s", HERALD_VERSION,
		 names.data ? names.data : "nothing", cfg->nsinks, cfg->nsinks == 1 ? "" : "s");
	buf_free(&names);
	return daemon_start_timers(d, d->checkpoints);
	return EXIT_OK;
}

/* Stops reading, then delivers what is queued: local outputs at once,
 * HTTP ones within DRAIN_MS. With a state dir, alert groups keep what
 * they hold in their ledger (it goes out when due, after the restart);
 * without one they send it now. Returns the exit code. */
static int finish(struct daemon *d)
{
	int exit_code = EXIT_OK;
	loop_update_time(d->loop);
	for (size_t i = 0; i < d->sources.n; i++)
		d->sources.all[i]->ops->stop(d->sources.all[i]);
	size_t left = sinks_drain(d->sinks);
	size_t (*waiting)(const struct sinks *) = d->checkpoints ? sinks_unsettled : sinks_pending;
	if (waiting(d->sinks) > left)
		drain_async(d);
	left = waiting(d->sinks);
	unsigned long refused = sinks_refused(d->sinks);
	if (left) {
		log_error("%zu event%s could not be delivered%s", left, left == 1 ? "" : "s",
			  d->checkpoints ? " (the checkpoint keeps them to send again)" : "");
		exit_code = EXIT_IO;
	} else if (d->o->from && refused) {
		/* --from: a server that refused events for good left them
		 * undelivered (they are in the log, and the dead-letter file). */
		log_error("%lu event%s refused for good by a sink's server", refused,
			  refused == 1 ? " was" : "s were");
		exit_code = EXIT_IO;
	}
	unsigned long failed = statedir_failures();
	save_state(d);
	if (statedir_failures() > failed) {
		log_error("the final save into the state dir failed: %s", statedir_error());
		exit_code = EXIT_IO;
	}
	if (d->elect)
		elect_leave(d->elect, d->o->retry_period_ms * 2);
	for (size_t i = 0; i < d->sources.n; i++) {
		struct source *s = d->sources.all[i];
		int rc = s->ops->done ? s->ops->done(s, d->stopping) : EXIT_OK;
		if (exit_code == EXIT_OK)
			exit_code = rc;
	}
	return exit_code;
}

int daemon_run(const struct options *o)
{
	if (o->state_dir) {
		struct stat sb;
		char err[4200];
		if (stat(o->state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return cli_usage_error("--state-dir %s is not a directory", o->state_dir);
		if (statedir_probe(o->state_dir, err, sizeof(err)) < 0) {
			log_error("--state-dir %s cannot be written (%s): herald would forget what it "
				  "delivered; refusing to run", o->state_dir, err);
			return EXIT_CONFIG;
		}
	}
	struct daemon d = { .o = o };
	int exit_code = setup(&d);
	if (exit_code == EXIT_OK)
		exit_code = start_sources(&d);
	if (exit_code == EXIT_OK) {
		if (loop_run(d.loop) < 0)
			exit_code = EXIT_IO;
		int rc = finish(&d);
		if (exit_code == EXIT_OK)
			exit_code = rc;
	}
	daemon_ha_free(&d);    /* cancels its requests: before http */
	source_list_free(&d.sources);
	confwatch_free(d.confwatch);
	httpd_free(d.httpd);
	sinks_free(d.sinks);   /* cancels its requests in flight: before http */
	http_free(d.http);
	ledgers_free(d.ledgers);
	loop_timer_free(d.state_timer);
	loop_timer_free(d.resume_timer);
	loop_free(d.loop);
	runtime_free(d.rt);
	buf_free(&d.reload_errors);
	return exit_code;
}
