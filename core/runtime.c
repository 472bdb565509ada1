/* runtime: owns the live luahost and its runner_config, and swaps both on
 * a reload. Registers every core.* function (runner_register) before the
 * runtime script starts. Must not know what a source or an output is:
 * the caller's accept hook opens outputs. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luahost.h"

struct runtime {
	struct runtime_opts o;         /* strings borrowed from the command line */
	struct luahost *host;          /* the state in force */
	struct runner_config cfg;      /* its configuration */
};

struct runtime *runtime_new(const struct runtime_opts *o)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	if (rt)
		rt->o = *o;
	return rt;
}

void runtime_free(struct runtime *rt)
{
	if (!rt)
		return;
	runner_config_free(&rt->cfg);
	luahost_free(rt->host);
	free(rt);
}

struct luahost *runtime_host(const struct runtime *rt) { return rt->host; }
const struct runner_config *runtime_config(const struct runtime *rt) { return &rt->cfg; }

static struct luahost *make_host(const struct runtime *rt)
{
	struct luahost_opts ho = {
		.scripts_dir = rt->o.scripts_dir,
		.limits = LUAHOST_DEFAULT_LIMITS,
		.extend = runner_register,
	};
	struct luahost *h = luahost_new(&ho);
	if (h && rt->o.files)
		luahost_register_list(h, "memory_files", rt->o.files);
	if (h && rt->o.secrets)
		luahost_register_list(h, "memory_secrets", rt->o.secrets);
	return h;
}

/* Loads the files into h. With no report, prints a one-line verdict
 * (for check, or when the configuration is invalid). */
static int load(const struct runtime *rt, struct luahost *h, enum runner_mode mode,
		const struct runner_report *report, struct runner_config *cfg)
{
	bool check = mode == RUNNER_CHECK;
	if (runner_load(h, rt->o.config_dir, rt->o.rules_dir, rt->o.secrets_dir, mode, report, cfg) < 0)
		return -1;
	if (report)
		return cfg->ok ? 0 : -1;
	if (check || !cfg->ok)
		fprintf(check ? stdout : stderr,
			"%s: %zu sink%s, %zu rule file%s, %zu rule%s, %zu example%s (%zu failed), "
			"%zu error%s, %zu warning%s\n",
			cfg->ok ? "ok" : "invalid",
			cfg->nsinks, cfg->nsinks == 1 ? "" : "s", cfg->files, cfg->files == 1 ? "" : "s",
			cfg->rules, cfg->rules == 1 ? "" : "s", cfg->examples, cfg->examples == 1 ? "" : "s",
			cfg->examples_failed, cfg->errors, cfg->errors == 1 ? "" : "s",
			cfg->warnings, cfg->warnings == 1 ? "" : "s");
	return cfg->ok ? 0 : -1;
}

int runtime_load(struct runtime *rt, enum runner_mode mode)
{
	if (!(rt->host = make_host(rt)))
		return -1;
	return load(rt, rt->host, mode, NULL, &rt->cfg);
}

int runtime_load_from(struct runtime *rt, enum runner_mode mode, const char *config_dir, const char *rules_dir)
{
	struct runtime_opts own = rt->o;
	rt->o.config_dir = config_dir;
	rt->o.rules_dir = rules_dir;
	int rc = runtime_load(rt, mode);
	rt->o = own;
	return rc;
}

int runtime_reload(struct runtime *rt, const struct runner_report *report,
		   int (*accept)(void *arg, const struct runner_config *cfg), void *arg)
{
	struct runner_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	struct luahost *h = make_host(rt);
	int rc = 0;
	if (!h)
		rc = RUNTIME_NO_STATE;
	else if (load(rt, h, RUNNER_RUN, report, &cfg) < 0)
		rc = RUNTIME_INVALID;
	else if (accept && accept(arg, &cfg) < 0)
		rc = RUNTIME_NOT_ACCEPTED;
	if (rc < 0) {
		runner_config_free(&cfg);
		luahost_free(h);
		return rc;
	}
	luahost_free(rt->host);
	runner_config_free(&rt->cfg);
	rt->host = h;
	rt->cfg = cfg;
	return 0;
}
