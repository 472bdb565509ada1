/* cli: herald's command line: the options every command reads, the exit
 * codes, and parsing. Knows no module beyond log (levels and format are
 * set while parsing), evmetrics and enrich (their limits are parsed here). */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H
#include <stdbool.h>
#include "enrich.h"
#include "evmetrics.h"

/* Exit codes are part of the interface (see the usage text). */
enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,     /* configuration invalid, or an example failed */
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,      /* replay/run --from: some input records skipped */
	EXIT_IO = 4,         /* input unreadable, or events left undelivered */
};

#define CLI_MAX_CLUSTERS 128
#define CLI_MAX_NAMESPACES 64
#define CLI_MAX_CONFIGMAPS 16

struct ke_source;   /* kubeeventer.h */

struct options {
	const char *command;
	const char *kubeconfig;
	const char *context;
	const char *clusters[CLI_MAX_CLUSTERS];   /* NAME=KUBECONFIG[:CONTEXT] */
	int nclusters;
	char *namespaces[CLI_MAX_NAMESPACES];
	int nnamespaces;
	const char *state_dir;
	const char *listen;           /* NULL: default (in a pod :9090, else off) */
	long max_event_age_s;
	int watch_timeout_s;
	long rule_budget_ms;          /* --rule-budget; 0: the default (or HERALD_TIME_BUDGET) */
	long template_budget_ms;      /* --template-budget; likewise */
	const char *config_dir;
	const char *rules_dir;
	const char *secrets_dir;
	const char *scripts_dir;
	const char *from;
	const char *cluster;
	bool cluster_given;
	bool json;
	const char *input;
	const char *configmaps[CLI_MAX_CONFIGMAPS];   /* NS/NAME=FILE (kube-eventer's webhook bodies) */
	int nconfigmaps;

	/* herald on kube-eventer's command line (kubeeventer.c fills these) */
	char **ke_argv;               /* kube-eventer's own arguments, or NULL */
	int ke_argc;
	const char *const *memory_files;    /* the configuration in memory (runtime.h) */
	const char *const *memory_secrets;
	const struct ke_source *ke_source;  /* the cluster its --source names */
	struct evmetrics_config event_metrics;   /* --event-metrics-limit/-allow */
	struct enrich_config enrich;             /* --enrich-limit */

	int leader_elect;             /* -1: default (on in a pod), 0 off, 1 on */
	const char *lease_namespace;  /* NULL: $POD_NAMESPACE, else default */
	const char *lease_name;       /* Lease name prefix; NULL: herald */
	unsigned long lease_duration_ms, renew_deadline_ms, retry_period_ms;
	const char *state_configmap;  /* with election: mirror --state-dir into this ConfigMap */
};

/* Fills o from the environment's defaults and argv: the command (default
 * "run"), its options (before or after it) and its FILE. Returns -1 to go
 * on, or the exit code to end with (--help, --version, a usage error). */
int cli_parse(int argc, char **argv, struct options *o);
void cli_free(struct options *o);

/* Prints "herald: <message>" and the --help hint; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2)))
int cli_usage_error(const char *fmt, ...);

#endif
