/* runtime: the one handle on the live Lua state and the configuration it
 * loaded. Sources and outputs ask it for the current state at each call
 * (runtime_host), so a reload swaps one pointer. A reload builds a new
 * state beside the old one, validates it and only then swaps. */
#ifndef HERALD_RUNTIME_H
#define HERALD_RUNTIME_H
#include <stdbool.h>
#include "runner.h"

struct runtime_opts {
	const char *config_dir;
	const char *rules_dir;         /* NULL: config_dir/rules */
	const char *secrets_dir;
	const char *scripts_dir;       /* NULL: the scripts compiled into herald */
	/* A configuration in memory (kube-eventer's flags), NULL-ended
	 * { path, text, ... } pairs such as "sinks.lua" and
	 * "rules/50-kube-eventer.lua": read instead of config_dir. NULL: none. */
	const char *const *files;
	const char *const *secrets;    /* { name, value, ... }: before secrets_dir */
};

enum runtime_refusal {
	RUNTIME_INVALID = -1,          /* the files hold errors (reported) */
	RUNTIME_NO_STATE = -2,         /* the Lua state could not be created */
	RUNTIME_NOT_ACCEPTED = -3,     /* accept refused it (an output would not open) */
};

struct runtime;

/* Keeps a copy of the options; no state is created until runtime_load. */
struct runtime *runtime_new(const struct runtime_opts *o);
void runtime_free(struct runtime *rt);

/* Creates the state and loads the configuration. RUNNER_CHECK and
 * RUNNER_REPLAY: a missing env variable or secret is a warning with a
 * placeholder; RUNNER_CHECK prints the one-line verdict to stdout. Otherwise the
 * verdict is printed (to stderr) only when the configuration is invalid.
 * 0 when it loaded and every example passed, else -1. */
int runtime_load(struct runtime *rt, enum runner_mode mode);

/* runtime_load from other directories (the last good copy of a
 * configuration); later reloads read the options' own directories. */
int runtime_load_from(struct runtime *rt, enum runner_mode mode, const char *config_dir, const char *rules_dir);

/* Validate-then-swap: a new state loads the files (errors go to report);
 * accept, when given, sees the new configuration before the swap and may
 * refuse it with -1. 0 when the new state is in force; a runtime_refusal
 * when the old one keeps running. */
int runtime_reload(struct runtime *rt, const struct runner_report *report,
		   int (*accept)(void *arg, const struct runner_config *cfg), void *arg);

/* The state in force (NULL before runtime_load). */
struct luahost *runtime_host(const struct runtime *rt);
const struct runner_config *runtime_config(const struct runtime *rt);

#endif
