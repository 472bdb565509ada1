/* kubeeventer: herald on kube-eventer's own command line (issue 16).
 * `herald --source=kubernetes:... --sink=...` runs on the configuration
 * scripts/herald/kubeeventer.lua translates from the flags, held in memory
 * (no files, so a read-only root filesystem is enough); `herald migrate
 * -- ARGS` prints that configuration as files. */
#ifndef HERALD_KUBEEVENTER_H
#define HERALD_KUBEEVENTER_H
#include <stdbool.h>
#include <stddef.h>
#include "cli.h"
#include "kubeconfig.h"

/* The cluster kube-eventer's --source=kubernetes:URL?OPTIONS names. */
struct ke_source {
	bool in_cluster;               /* inClusterConfig (default true) */
	bool insecure;                 /* insecure=true: no TLS verification */
	bool use_service_account;      /* useServiceAccount: the pod's token */
	char *server;                  /* the URL's scheme://host, or NULL */
	char *kubeconfig;              /* auth= or localKubeConfig=, or NULL */
};

struct kubeeventer;

/* Is this kube-eventer's command line: a --source or --sink flag (one or
 * two dashes, with = or not), or a "--" after which kube-eventer's
 * arguments follow (herald migrate -- ARGS)? */
bool kubeeventer_detect(int argc, char **argv);

/* Splits argv by herald.kubeeventer's flag table: kube-eventer's flags
 * (a non-bool one without '=' takes the next argument too) and everything
 * after "--" are kube-eventer's; the rest, argv[0] first, is herald's and
 * goes to cli_parse through *hargc and *hargv (owned by the result).
 * NULL (logged) when the Lua host cannot start. */
struct kubeeventer *kubeeventer_split(int argc, char **argv, int *hargc, char ***hargv);

/* Gives o kube-eventer's arguments (o->ke_argv; ke may be NULL). */
void kubeeventer_attach(const struct kubeeventer *ke, struct options *o);

/* Translates kube-eventer's arguments (with o's --configmap files) and
 * fills o: the configuration and secrets in memory, the cluster to watch,
 * the listen address unless --listen was given, the cluster's name unless
 * --cluster-name was. Logs each error (exit 2), each flag ignored, and
 * what changed in meaning. Returns -1 to go on, or the exit code (0 after
 * --version). The strings live as long as ke. */
int kubeeventer_apply(struct kubeeventer *ke, struct options *o);

/* `herald migrate [--configmap NS/NAME=FILE] -- ARGS`: prints the files
 * (exit 0) or every error (stderr, exit 2). Never prints a secret value. */
int kubeeventer_migrate(const struct options *o);

/* Fills out for a --source: in-cluster (its server and insecure applied
 * over the service account's), a kubeconfig, or the bare URL. -1 with err. */
int kubeeventer_connect(const struct ke_source *s, struct kubeconn *out, char *err, size_t errlen);

void kubeeventer_free(struct kubeeventer *ke);

#endif
