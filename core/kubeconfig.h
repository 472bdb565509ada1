/* kubeconfig: how to reach one cluster, from a kubeconfig file (or the
 * KUBECONFIG list) or from inside a pod; and the credentials that go with
 * it, kept fresh (token files re-read, exec plugins re-run on expiry or
 * after a 401). Parses YAML with libyaml; never talks HTTP itself. */
#ifndef HERALD_KUBECONFIG_H
#define HERALD_KUBECONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct kube_exec {
	char *command;
	char **args;         /* NULL-terminated */
	char **env;          /* "NAME=value", NULL-terminated */
	char *api_version;
};

struct kubeconn {
	char *server;              /* https://host:port, no trailing slash */
	char *ca_file;             /* a path, or NULL */
	char *ca_data;             /* PEM bytes, or NULL */
	size_t ca_len;
	bool insecure;             /* insecure-skip-tls-verify */
	char *tls_server_name;
	char *token;               /* static token */
	char *token_file;          /* re-read at least once a minute and after a 401 */
	char *cert_file, *key_file;
	char *cert_data, *key_data;
	size_t cert_len, key_len;
	char *username, *password;
	struct kube_exec *exec;
	char *namespace;           /* the context's namespace (informational) */

	/* credentials in force */
	char *bearer;              /* token to send, or NULL */
	time_t bearer_read;        /* when a token file was last read */
	time_t bearer_expires;     /* exec credential expiry, 0 = none */
	char *exec_cert, *exec_key;/* PEM from an exec plugin */
	size_t exec_cert_len, exec_key_len;
};

/* Reads a kubeconfig. paths: a ':'-separated list (merged: the first file
 * to set a name wins), or NULL for $KUBECONFIG, else ~/.kube/config.
 * context: NULL for current-context. Relative file paths resolve against
 * the directory of the file that names them. -1 with err on failure. */
int kubeconfig_load(const char *paths, const char *context, struct kubeconn *out,
		    char *err, size_t errlen);

/* The in-cluster configuration (service account token and CA), when
 * KUBERNETES_SERVICE_HOST and _PORT are set. -1 with err otherwise. */
int kubeconfig_in_cluster(struct kubeconn *out, char *err, size_t errlen);

/* Makes conn->bearer (and exec client certs) current: re-reads a token
 * file when older than a minute (or when force, after a 401), re-runs an
 * exec plugin when its credential expired (or when force). -1 with err
 * when no credential could be had. */
int kubeconn_refresh(struct kubeconn *conn, bool force, char *err, size_t errlen);

void kubeconn_free(struct kubeconn *conn);

#endif
