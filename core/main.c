/* main: herald's commands. Parses the command line (cli.c) and runs one
 * command from the table below; each command builds and frees what it
 * needs. Exit codes are part of the interface (cli.h). */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "docs.h"
#include "kubeeventer.h"
#include "luahost.h"
#include "replay.h"
#include "runtime.h"

/* check: load the configuration, run its examples, print the verdict. */
static int check_run(const struct options *o)
{
	struct runtime_opts ro = { o->config_dir, o->rules_dir, o->secrets_dir, o->scripts_dir,
				   o->memory_files, o->memory_secrets };
	struct runtime *rt = runtime_new(&ro);
	int rc = rt && runtime_load(rt, RUNNER_CHECK) == 0 ? EXIT_OK : EXIT_CONFIG;
	runtime_free(rt);
	return rc;
}

/* One line per command. */
static const struct command {
	const char *name;
	int (*run)(const struct options *o);
	bool takes_file;
	const char *file_hint;     /* added to the usage error when a FILE is given */
} commands[] = {
	{ "run", daemon_run, false, ": use --from" },
	{ "check", check_run, false, "" },
	{ "replay", replay_run, true, "" },
	{ "migrate", kubeeventer_migrate, false, ": give kube-eventer's arguments after --" },
	{ "docs", docs_run, true, "" },    /* hidden: prints docs/reference/sinks.md */
};

int main(int argc, char **argv)
{
	struct options o;
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid()); /* backoff jitter differs per process */
	/* kube-eventer's command line: its flags go to the translator, the
	 * rest to herald's own parser. */
	struct kubeeventer *ke = NULL;
	if (kubeeventer_detect(argc, argv) && !(ke = kubeeventer_split(argc, argv, &argc, &argv)))
		return EXIT_USAGE;
	int rc = cli_parse(argc, argv, &o);
	kubeeventer_attach(ke, &o);
	if (rc < 0 && ke && strcmp(o.command, "migrate") != 0)
		rc = kubeeventer_apply(ke, &o);
	if (rc >= 0) {
		cli_free(&o);
		kubeeventer_free(ke);
		return rc;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (strcmp(o.command, commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		rc = cli_usage_error("unknown command '%s'", o.command);
	else if (!cmd->takes_file && o.input)
		rc = cli_usage_error("%s takes no FILE ('%s')%s", cmd->name, o.input, cmd->file_hint);
	else {
		luahost_set_time_budget(o.rule_budget_ms, o.template_budget_ms);
		rc = cmd->run(&o);
	}
	cli_free(&o);
	kubeeventer_free(ke);
	return rc;
}
