/* cli: parses herald's command line into struct options. Owns the usage
 * text and the option table; the namespaces it copies are freed by
 * cli_free. Must not build any module: commands do (see main.c). */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char usage_text[] =
	"usage: herald [run] [options]            watch, route, deliver\n"
	"       herald check [options]            validate the configuration, run its examples\n"
	"       herald replay [options] FILE|-    show where recorded events would go; send nothing\n"
	"       herald migrate [--configmap NS/NAME=FILE] -- KUBE-EVENTER-ARGS\n"
	"                                         print kube-eventer's flags as herald's files\n"
	"       herald [run|check|replay] [options] --source=... --sink=...\n"
	"                                         run on kube-eventer's own flags\n"
	"       herald --help | --version\n"
	"\n"
	"options:\n"
	"  -c, --config DIR       sinks.lua and rules/ (default: $HERALD_CONFIG, else .)\n"
	"      --rules-dir DIR    the rule files (default: the config's rules/)\n"
	"      --secrets-dir DIR  where secret \"name\" reads files\n"
	"                         (default: $HERALD_SECRETS_DIR, else /etc/herald/secrets)\n"
	"      --scripts-dir DIR  read herald's own Lua from DIR instead of the built-in copy\n"
	"      --from FILE|-      run: read events from FILE or stdin instead of watching clusters\n"
	"      --kubeconfig PATHS kubeconfig file(s), ':'-separated (default: $KUBECONFIG,\n"
	"                         else ~/.kube/config; in a pod: the service account)\n"
	"      --context NAME     kubeconfig context (default: current-context)\n"
	"      --cluster-name N   the cluster events are tagged with (default: default;\n"
	"                         replay keeps an event's own `cluster` when it has one)\n"
	"      --cluster NAME=KUBECONFIG[:CONTEXT]\n"
	"                         watch this cluster too (repeatable; replaces the default one)\n"
	"      --namespace NS     watch only these namespaces (repeatable or a,b,c; default: all)\n"
	"      --state-dir DIR    remember what was delivered across restarts\n"
	"      --max-event-age D  without --state-dir, alert sinks skip events older than D\n"
	"                         when herald starts (default 5m; seconds or 30s, 5m, 1h)\n"
	"      --watch-timeout S  a watch lasts S/2..S seconds before it is renewed (default 600)\n"
	"      --rule-budget T    CPU time one call of a rule function may take (default 10ms;\n"
	"                         ms or s, 1ms to 60s)\n"
	"      --template-budget T  the same for templates, sink types and whole files\n"
	"                         (default 100ms)\n"
	"      --configmap NS/NAME=FILE\n"
	"                         kube-eventer's webhook custom_body_configmap NAME in\n"
	"                         namespace NS: its `content` is in FILE (repeatable)\n"
	"      --json             replay: one JSON object per event:\n"
	"                         {\"uid\",\"namespace\",\"reason\",\"routes\":[...]}\n"
	"      --log-level L      debug, info, warn, error (default: info)\n"
	"      --log-format F     text or json (one object per line)\n"
	"      --listen ADDR      serve /metrics, /healthz, /readyz, /status on ADDR\n"
	"                         (host:port; default :9090 in a pod, else off; off disables)\n"
	"      --leader-elect[=B] run: deliver a cluster only while holding its Lease, so\n"
	"                         replicas stand by (true/false; default: true in a pod)\n"
	"      --lease-namespace NS  where the Leases live (default: $POD_NAMESPACE, else default)\n"
	"      --lease-name P     Lease names: P-<cluster>, P.members (default herald)\n"
	"      --lease-duration D --renew-deadline D --retry-period D\n"
	"                         election timing (default 15s, 10s, 2s; 500ms also reads)\n"
	"      --state-configmap N  with --leader-elect and --state-dir: keep the state in\n"
	"                         ConfigMap N beside the Leases too, for the next leader\n"
	"      --event-metrics-limit reason=N,namespace=N,kind=N,series=N\n"
	"                         herald_kube_events_total keeps N values of a label (the\n"
	"                         first seen; others are \"other\") and N series in all\n"
	"                         (default 50, 50, 20, 1000; series=0 turns it off)\n"
	"      --enrich-limit qps=N,burst=N,inflight=N,queue=N,deadline=D,ttl=D,cache=N\n"
	"                         owners and labels: API reads per second (default 20,\n"
	"                         burst 40, 4 at once), events waiting (1000) and for how\n"
	"                         long (5s), how long an answer is kept (1m), objects kept\n"
	"                         (10000)\n"
	"      --event-metrics-allow LABEL=V1,V2,...\n"
	"                         only these values of reason, namespace or kind keep\n"
	"                         their label (repeatable, one label each)\n"
	"\n"
	"Input (replay, --from): JSON lines of Events or of watch events\n"
	"({\"type\":..,\"object\":..}), or `kubectl get events -o json` output.\n"
	"\n"
	"exit codes: 0 ok; 1 configuration invalid or an example failed; 2 usage;\n"
	"            3 some input records were skipped (each reported with its line);\n"
	"            4 input unreadable or events left undelivered\n";

/* getopt_long values of the long options without a short form. */
enum option_id {
	OPT_SECRETS_DIR = 256,
	OPT_SCRIPTS_DIR,
	OPT_FROM,
	OPT_CLUSTER_NAME,
	OPT_JSON,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_CLUSTER,
	OPT_NAMESPACE,
	OPT_STATE_DIR,
	OPT_MAX_EVENT_AGE,
	OPT_WATCH_TIMEOUT,
	OPT_RULES_DIR,
	OPT_LISTEN,
	OPT_LOG_FORMAT,
	OPT_CONFIGMAP,
	OPT_RULE_BUDGET,
	OPT_TEMPLATE_BUDGET,
	OPT_LEADER_ELECT,
	OPT_LEASE_NAMESPACE,
	OPT_LEASE_NAME,
	OPT_LEASE_DURATION,
	OPT_RENEW_DEADLINE,
	OPT_RETRY_PERIOD,
	OPT_STATE_CONFIGMAP,
	OPT_EVENT_METRICS_LIMIT,
	OPT_EVENT_METRICS_ALLOW,
	OPT_ENRICH_LIMIT,
};

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "herald: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'herald --help'.\n");
	return EXIT_USAGE;
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "secrets-dir", required_argument, NULL, OPT_SECRETS_DIR },
	{ "scripts-dir", required_argument, NULL, OPT_SCRIPTS_DIR },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "cluster-name", required_argument, NULL, OPT_CLUSTER_NAME },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
	{ "context", required_argument, NULL, OPT_CONTEXT },
	{ "cluster", required_argument, NULL, OPT_CLUSTER },
	{ "namespace", required_argument, NULL, OPT_NAMESPACE },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "max-event-age", required_argument, NULL, OPT_MAX_EVENT_AGE },
	{ "watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT },
	{ "rules-dir", required_argument, NULL, OPT_RULES_DIR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "configmap", required_argument, NULL, OPT_CONFIGMAP },
	{ "rule-budget", required_argument, NULL, OPT_RULE_BUDGET },
	{ "template-budget", required_argument, NULL, OPT_TEMPLATE_BUDGET },
	{ "leader-elect", optional_argument, NULL, OPT_LEADER_ELECT },
	{ "lease-namespace", required_argument, NULL, OPT_LEASE_NAMESPACE },
	{ "lease-name", required_argument, NULL, OPT_LEASE_NAME },
	{ "lease-duration", required_argument, NULL, OPT_LEASE_DURATION },
	{ "renew-deadline", required_argument, NULL, OPT_RENEW_DEADLINE },
	{ "retry-period", required_argument, NULL, OPT_RETRY_PERIOD },
	{ "state-configmap", required_argument, NULL, OPT_STATE_CONFIGMAP },
	{ "event-metrics-limit", required_argument, NULL, OPT_EVENT_METRICS_LIMIT },
	{ "event-metrics-allow", required_argument, NULL, OPT_EVENT_METRICS_ALLOW },
	{ "enrich-limit", required_argument, NULL, OPT_ENRICH_LIMIT },
	{ NULL, 0, NULL, 0 },
};

/* "90", "90s", "5m", "1h" -> seconds; -1 when it is none of those. */
static long parse_duration_s(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		return v;
	if (strcmp(end, "m") == 0)
		return v * 60;
	if (strcmp(end, "h") == 0)
		return v * 3600;
	return -1;
}

/* "250ms", "1s", "250" (ms) -> milliseconds, 1 to 60000; -1 otherwise. */
static long parse_budget_ms(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || v < 1)
		return -1;
	if (strcmp(end, "s") == 0)
		v = v <= 60 ? v * 1000 : -1;
	else if (*end != '\0' && strcmp(end, "ms") != 0)
		return -1;
	return v <= 60000 ? v : -1;
}

/* "500ms" or a duration parse_duration_s reads -> milliseconds; 0 when
 * it is neither. */
static unsigned long parse_duration_ms(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end != s && v > 0 && strcmp(end, "ms") == 0)
		return (unsigned long)v;
	long sec = parse_duration_s(s);
	return sec > 0 ? (unsigned long)sec * 1000 : 0;
}

/* Reads options until the first non-option. Returns -1 to go on, or the
 * exit code (after --help, --version or a usage error). */
static int parse_options(int argc, char **argv, struct options *o)
{
	int c;
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		enum log_level level;
		switch (c) {
		case 'c': o->config_dir = optarg; break;
		case OPT_SECRETS_DIR: o->secrets_dir = optarg; break;
		case OPT_SCRIPTS_DIR: o->scripts_dir = optarg; break;
		case OPT_FROM: o->from = optarg; break;
		case OPT_CLUSTER_NAME: o->cluster = optarg; o->cluster_given = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_LOG_LEVEL:
			if (log_parse_level(optarg, &level) < 0)
				return cli_usage_error("unknown log level '%s'", optarg);
			log_set_level(level);
			break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case OPT_VERSION: printf("herald %s\n", HERALD_VERSION); return EXIT_OK;
		case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
		case OPT_CONTEXT: o->context = optarg; break;
		case OPT_CLUSTER:
			if (o->nclusters == CLI_MAX_CLUSTERS)
				return cli_usage_error("at most %d --cluster", CLI_MAX_CLUSTERS);
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cli_usage_error("--cluster wants NAME=KUBECONFIG[:CONTEXT], not '%s'", optarg);
			o->clusters[o->nclusters++] = optarg;
			break;
		case OPT_NAMESPACE: {
			char *copy = strdup(optarg), *save = NULL;
			for (char *ns = strtok_r(copy, ",", &save); ns; ns = strtok_r(NULL, ",", &save)) {
				if (o->nnamespaces == CLI_MAX_NAMESPACES)
					return cli_usage_error("at most %d namespaces", CLI_MAX_NAMESPACES);
				o->namespaces[o->nnamespaces++] = strdup(ns);
			}
			free(copy);
			break;
		}
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_RULES_DIR: o->rules_dir = optarg; break;
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_CONFIGMAP:
			if (o->nconfigmaps == CLI_MAX_CONFIGMAPS)
				return cli_usage_error("at most %d --configmap", CLI_MAX_CONFIGMAPS);
			if (!strchr(optarg, '/') || !strchr(optarg, '=') || strchr(optarg, '=') < strchr(optarg, '/'))
				return cli_usage_error("--configmap wants NAMESPACE/NAME=FILE, not '%s'", optarg);
			o->configmaps[o->nconfigmaps++] = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return cli_usage_error("--log-format is text or json, not '%s'", optarg);
			log_set_json(strcmp(optarg, "json") == 0);
			break;
		case OPT_MAX_EVENT_AGE:
			if ((o->max_event_age_s = parse_duration_s(optarg)) < 0)
				return cli_usage_error("--max-event-age: '%s' is not a duration (30s, 5m, 1h)", optarg);
			break;
		case OPT_WATCH_TIMEOUT:
			if ((o->watch_timeout_s = (int)parse_duration_s(optarg)) < 2)
				return cli_usage_error("--watch-timeout: '%s' is not a duration of 2s or more", optarg);
			break;
		case OPT_RULE_BUDGET:
			if ((o->rule_budget_ms = parse_budget_ms(optarg)) < 0)
				return cli_usage_error("--rule-budget: '%s' is not a time of 1ms to 60s (10ms, 1s)", optarg);
			break;
		case OPT_TEMPLATE_BUDGET:
			if ((o->template_budget_ms = parse_budget_ms(optarg)) < 0)
				return cli_usage_error("--template-budget: '%s' is not a time of 1ms to 60s (100ms, 1s)",
						       optarg);
			break;
		case OPT_LEADER_ELECT:
			if (!optarg || strcmp(optarg, "true") == 0)
				o->leader_elect = 1;
			else if (strcmp(optarg, "false") == 0)
				o->leader_elect = 0;
			else
				return cli_usage_error("--leader-elect is true or false, not '%s'", optarg);
			break;
		case OPT_LEASE_NAMESPACE: o->lease_namespace = optarg; break;
		case OPT_STATE_CONFIGMAP: o->state_configmap = optarg; break;
		case OPT_LEASE_NAME: o->lease_name = optarg; break;
		case OPT_LEASE_DURATION:
		case OPT_RENEW_DEADLINE:
		case OPT_RETRY_PERIOD: {
			unsigned long ms = parse_duration_ms(optarg);
			if (!ms)
				return cli_usage_error("'%s' is not a duration (2s, 500ms)", optarg);
			*(c == OPT_LEASE_DURATION ? &o->lease_duration_ms
			  : c == OPT_RENEW_DEADLINE ? &o->renew_deadline_ms : &o->retry_period_ms) = ms;
			break;
		}
		case OPT_EVENT_METRICS_LIMIT:
		case OPT_EVENT_METRICS_ALLOW: {
			char err[160];
			bool allow = c == OPT_EVENT_METRICS_ALLOW;
			if (evmetrics_parse(&o->event_metrics, optarg, allow, err, sizeof(err)) < 0)
				return cli_usage_error("--event-metrics-%s %s", allow ? "allow" : "limit", err);
			break;
		}
		case OPT_ENRICH_LIMIT: {
			char err[160];
			if (enrich_parse(&o->enrich, optarg, err, sizeof(err)) < 0)
				return cli_usage_error("--enrich-limit %s", err);
			break;
		}
		default: return cli_usage_error("%s", "bad option");
		}
	}
	return -1;
}

int cli_parse(int argc, char **argv, struct options *o)
{
	*o = (struct options){
		.config_dir = getenv("HERALD_CONFIG") ? getenv("HERALD_CONFIG") : ".",
		.secrets_dir = getenv("HERALD_SECRETS_DIR") ? getenv("HERALD_SECRETS_DIR")
							    : "/etc/herald/secrets",
		.cluster = "default",
		.max_event_age_s = 300,
		.watch_timeout_s = 600,
		.command = "run",
		.leader_elect = -1,
		.lease_duration_ms = 15000,
		.renew_deadline_ms = 10000,
		.retry_period_ms = 2000,
		.event_metrics.limit = { -1, -1, -1, -1 },
		.enrich.limit = { -1, -1, -1, -1, -1, -1, -1 },
	};
	int rc = parse_options(argc, argv, o);
	if (rc >= 0 || optind >= argc)
		return rc;
	/* Options may also follow the command: herald replay --json FILE.
	 * Parse the rest as if the command were the program name. */
	o->command = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if ((rc = parse_options(argc, argv, o)) >= 0)
		return rc;
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

void cli_free(struct options *o)
{
	for (int i = 0; i < o->nnamespaces; i++)
		free(o->namespaces[i]);
	o->nnamespaces = 0;
}
