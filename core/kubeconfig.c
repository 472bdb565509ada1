/* kubeconfig: kubeconfig files and in-cluster config -> struct kubeconn;
 * token files and exec credential plugins -> a current bearer token.
 * Owns the strings of a kubeconn (kubeconn_free). Never logs secrets:
 * errors name files and keys, never values. */
#include "kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"
#include "log.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define TOKEN_FILE_MAX_AGE 60
#define EXEC_TIMEOUT_MS 30000

struct kdoc {
	yaml_document_t doc;
	char *dir;     /* directory of the file, for relative paths */
	char *path;
};

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *map_str(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	return scalar(map_get(d, map, key));
}

/* The `inner` mapping of the entry named `name` in the list `list`
 * (clusters/users/contexts), e.g. clusters[].{name, cluster}. */
static yaml_node_t *named(yaml_document_t *d, const char *list, const char *inner, const char *name)
{
	yaml_node_t *seq = map_get(d, yaml_document_get_root_node(d), list);
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *entry = yaml_document_get_node(d, *it);
		const char *n = map_str(d, entry, "name");
		if (n && strcmp(n, name) == 0)
			return map_get(d, entry, inner);
	}
	return NULL;
}

static int load_yaml_file(const char *path, struct kdoc *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t p;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	int ok = yaml_parser_load(&p, &out->doc);
	if (!ok)
		snprintf(err, errlen, "%s:%zu: %s", path, p.problem_mark.line + 1,
			 p.problem ? p.problem : "invalid YAML");
	yaml_parser_delete(&p);
	fclose(f);
	if (!ok)
		return -1;
	out->path = strdup(path);
	const char *slash = strrchr(path, '/');
	out->dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
	if (slash == path) {
		free(out->dir);
		out->dir = strdup("/");
	}
	return 0;
}

static int parse_yaml_text(const char *text, size_t len, yaml_document_t *doc)
{
	yaml_parser_t p;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	int ok = yaml_parser_load(&p, doc);
	yaml_parser_delete(&p);
	return ok ? 0 : -1;
}

static char *resolve(const char *dir, const char *path)
{
	if (!path)
		return NULL;
	if (path[0] == '/' || !dir)
		return strdup(path);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/%s", dir, path);
	return b.data;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Decodes standard or URL-safe base64, ignoring whitespace. Caller frees. */
static char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' || s[i] == '\n' || s[i] == '\r' || s[i] == ' ')
			continue;
		int v = b64_value(s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int data_field(yaml_document_t *d, yaml_node_t *m, const char *key, char **out, size_t *len,
		      char *err, size_t errlen)
{
	const char *v = map_str(d, m, key);
	if (!v)
		return 0;
	*out = b64_decode(v, len);
	if (!*out) {
		snprintf(err, errlen, "%s is not valid base64", key);
		return -1;
	}
	return 0;
}

static void free_list(char **list)
{
	for (char **p = list; p && *p; p++)
		free(*p);
	free(list);
}

/* The strings of a sequence (absent: an empty list). -1 with err naming
 * the item when one is not a string, or when out of memory. */
static int string_list(yaml_document_t *d, yaml_node_t *seq, const char *what, char ***out,
		       char *err, size_t errlen)
{
	*out = NULL;
	if (seq && seq->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "%s must be a list of strings", what);
		return -1;
	}
	size_t n = seq ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start) : 0;
	char **list = calloc(n + 1, sizeof(*list));
	if (!list) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = scalar(yaml_document_get_node(d, seq->data.sequence.items.start[i]));
		if (!v) {
			snprintf(err, errlen, "%s item %zu is not a string", what, i + 1);
			free_list(list);
			return -1;
		}
		if (!(list[i] = strdup(v))) {
			snprintf(err, errlen, "%s: out of memory", what);
			free_list(list);
			return -1;
		}
	}
	*out = list;
	return 0;
}

static void free_exec(struct kube_exec *e)
{
	if (!e)
		return;
	free(e->command);
	free(e->api_version);
	free_list(e->args);
	free_list(e->env);
	free(e);
}

/* The exec plugin of a user; NULL with err when it is not usable. */
static struct kube_exec *read_exec(yaml_document_t *d, yaml_node_t *m, char *err, size_t errlen)
{
	struct kube_exec *e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "exec: out of memory");
		return NULL;
	}
	e->command = dup_or_null(map_str(d, m, "command"));
	e->api_version = dup_or_null(map_str(d, m, "apiVersion"));
	if (!e->command) {
		snprintf(err, errlen, "exec needs a command");
		goto fail;
	}
	if (string_list(d, map_get(d, m, "args"), "exec.args", &e->args, err, errlen) < 0)
		goto fail;
	yaml_node_t *env = map_get(d, m, "env");
	if (env && env->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "exec.env must be a list of {name, value}");
		goto fail;
	}
	size_t n = env ? (size_t)(env->data.sequence.items.top - env->data.sequence.items.start) : 0;
	if (!(e->env = calloc(n + 1, sizeof(*e->env)))) {
		snprintf(err, errlen, "exec: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *kv = yaml_document_get_node(d, env->data.sequence.items.start[i]);
		const char *name = map_str(d, kv, "name"), *value = map_str(d, kv, "value");
		if (!name || !*name || !value) {
			snprintf(err, errlen, "exec.env item %zu needs a name and a value (strings)", i + 1);
			goto fail;
		}
		struct buf b = BUF_INIT;
		if (buf_printf(&b, "%s=%s", name, value) < 0) {
			buf_free(&b);
			snprintf(err, errlen, "exec: out of memory");
			goto fail;
		}
		e->env[i] = b.data;
	}
	return e;
fail:
	free_exec(e);
	return NULL;
}

int kubeconfig_load(const char *paths, const char *context, struct kubeconn *out,
		    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	struct buf list = BUF_INIT;
	if (paths && *paths)
		buf_printf(&list, "%s", paths);
	else if (getenv("KUBECONFIG") && *getenv("KUBECONFIG"))
		buf_printf(&list, "%s", getenv("KUBECONFIG"));
	else
		buf_printf(&list, "%s/.kube/config", getenv("HOME") ? getenv("HOME") : "");

	struct kdoc docs[16];
	size_t ndocs = 0;
	int rc = -1;
	char *save = NULL;
	for (char *p = strtok_r(list.data, ":", &save); p && ndocs < 16; p = strtok_r(NULL, ":", &save)) {
		memset(&docs[ndocs], 0, sizeof(docs[ndocs]));
		if (load_yaml_file(p, &docs[ndocs], err, errlen) < 0) {
			if (errno == ENOENT && strchr(paths ? paths : list.data, ':'))
				continue; /* missing files in a list are skipped, as kubectl does */
			goto out;
		}
		ndocs++;
	}
	if (ndocs == 0) {
		snprintf(err, errlen, "no kubeconfig file found in %s", list.data ? list.data : "");
		goto out;
	}

	const char *ctx_name = context;
	for (size_t i = 0; !ctx_name && i < ndocs; i++) {
		const char *c = map_str(&docs[i].doc, yaml_document_get_root_node(&docs[i].doc), "current-context");
		if (c && *c)
			ctx_name = c;
	}
	if (!ctx_name) {
		snprintf(err, errlen, "no context given and no current-context set");
		goto out;
	}
	yaml_node_t *ctx = NULL;
	struct kdoc *ctx_doc = NULL;
	for (size_t i = 0; !ctx && i < ndocs; i++)
		if ((ctx = named(&docs[i].doc, "contexts", "context", ctx_name)))
			ctx_doc = &docs[i];
	if (!ctx) {
		snprintf(err, errlen, "context \"%s\" not found", ctx_name);
		goto out;
	}
	const char *cluster_name = map_str(&ctx_doc->doc, ctx, "cluster");
	const char *user_name = map_str(&ctx_doc->doc, ctx, "user");
	out->namespace = dup_or_null(map_str(&ctx_doc->doc, ctx, "namespace"));

	yaml_node_t *cl = NULL;
	struct kdoc *cd = NULL;
	for (size_t i = 0; cluster_name && !cl && i < ndocs; i++)
		if ((cl = named(&docs[i].doc, "clusters", "cluster", cluster_name)))
			cd = &docs[i];
	if (!cl) {
		snprintf(err, errlen, "context \"%s\": cluster \"%s\" not found", ctx_name,
			 cluster_name ? cluster_name : "");
		goto out;
	}
	const char *server = map_str(&cd->doc, cl, "server");
	if (!server || !*server) {
		snprintf(err, errlen, "cluster \"%s\" has no server", cluster_name);
		goto out;
	}
	out->server = strdup(server);
	size_t sl = strlen(out->server);
	while (sl > 0 && out->server[sl - 1] == '/')
		out->server[--sl] = '\0';
	out->ca_file = resolve(cd->dir, map_str(&cd->doc, cl, "certificate-authority"));
	if (data_field(&cd->doc, cl, "certificate-authority-data", &out->ca_data, &out->ca_len, err, errlen) < 0)
		goto out;
	const char *insecure = map_str(&cd->doc, cl, "insecure-skip-tls-verify");
	out->insecure = insecure && strcmp(insecure, "true") == 0;
	out->tls_server_name = dup_or_null(map_str(&cd->doc, cl, "tls-server-name"));

	yaml_node_t *user = NULL;
	struct kdoc *ud = NULL;
	for (size_t i = 0; user_name && !user && i < ndocs; i++)
		if ((user = named(&docs[i].doc, "users", "user", user_name)))
			ud = &docs[i];
	if (user) {
		out->token = dup_or_null(map_str(&ud->doc, user, "token"));
		out->token_file = resolve(ud->dir, map_str(&ud->doc, user, "tokenFile"));
		out->cert_file = resolve(ud->dir, map_str(&ud->doc, user, "client-certificate"));
		out->key_file = resolve(ud->dir, map_str(&ud->doc, user, "client-key"));
		if (data_field(&ud->doc, user, "client-certificate-data", &out->cert_data, &out->cert_len, err, errlen) < 0 ||
		    data_field(&ud->doc, user, "client-key-data", &out->key_data, &out->key_len, err, errlen) < 0)
			goto out;
		out->username = dup_or_null(map_str(&ud->doc, user, "username"));
		out->password = dup_or_null(map_str(&ud->doc, user, "password"));
		yaml_node_t *exec = map_get(&ud->doc, user, "exec");
		if (exec) {
			char why[200];
			if (!(out->exec = read_exec(&ud->doc, exec, why, sizeof(why)))) {
				snprintf(err, errlen, "user \"%s\": %s", user_name, why);
				goto out;
			}
		}
		if (map_get(&ud->doc, user, "auth-provider"))
			log_warn("kubeconfig user \"%s\": auth-provider is not supported (use exec)", user_name);
	} else if (user_name) {
		snprintf(err, errlen, "context \"%s\": user \"%s\" not found", ctx_name, user_name);
		goto out;
	}
	if (out->token)
		log_redact_add(out->token, strlen(out->token));
	if (out->password)
		log_redact_add(out->password, strlen(out->password));
	if (out->username)
		log_redact_add_basic(out->username, out->password);
	rc = 0;
out:
	for (size_t i = 0; i < ndocs; i++) {
		yaml_document_delete(&docs[i].doc);
		free(docs[i].dir);
		free(docs[i].path);
	}
	buf_free(&list);
	if (rc < 0)
		kubeconn_free(out);
	return rc;
}

int kubeconfig_in_cluster(struct kubeconn *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen, "not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)");
		return -1;
	}
	struct buf b = BUF_INIT;
	if (strchr(host, ':'))
		buf_printf(&b, "https://[%s]:%s", host, port); /* IPv6 */
	else
		buf_printf(&b, "https://%s:%s", host, port);
	out->server = b.data;
	const char *dir = getenv("HERALD_SA_DIR") ? getenv("HERALD_SA_DIR") : SA_DIR;
	b = (struct buf)BUF_INIT;
	buf_printf(&b, "%s/token", dir);
	out->token_file = b.data;
	b = (struct buf)BUF_INIT;
	buf_printf(&b, "%s/ca.crt", dir);
	out->ca_file = b.data;
	return 0;
}

static char *read_small_file(const char *path)
{
	struct buf b = BUF_INIT;
	if (buf_read_file(&b, path, 1u << 20) < 0 && !b.data)
		return NULL;   /* cannot be opened (or read at all) */
	if (!b.data)
		buf_append(&b, "", 0);
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	return b.data;
}

static time_t parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static void set_bearer(struct kubeconn *c, char *token)
{
	if (token && *token)
		log_redact_add(token, strlen(token));
	free(c->bearer);
	c->bearer = token;
}

/* Runs the exec plugin and reads its ExecCredential (JSON, which libyaml
 * parses). */
static int run_exec(struct kubeconn *c, char *err, size_t errlen)
{
	struct kube_exec *e = c->exec;
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "exec: pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(out[0]);
		close(out[1]);
		snprintf(err, errlen, "exec: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		char info[256];
		snprintf(info, sizeof(info),
			 "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}",
			 e->api_version ? e->api_version : "client.authentication.k8s.io/v1");
		setenv("KUBERNETES_EXEC_INFO", info, 1);
		for (char **kv = e->env; kv && *kv; kv++)
			putenv(*kv);
		size_t nargs = 0;
		while (e->args && e->args[nargs])
			nargs++;
		char **argv = calloc(nargs + 2, sizeof(*argv));
		argv[0] = e->command;
		for (size_t i = 0; i < nargs; i++)
			argv[i + 1] = e->args[i];
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(e->command, argv);
		_exit(127);
	}
	close(out[1]);
	struct buf b = BUF_INIT;
	int waited = 0;
	for (;;) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		int r = poll(&pfd, 1, 200);
		if (r > 0) {
			char chunk[4096];
			ssize_t n = read(out[0], chunk, sizeof(chunk));
			if (n <= 0)
				break;
			buf_append(&b, chunk, (size_t)n);
		} else if (r == 0 && (waited += 200) >= EXEC_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			break;
		}
	}
	close(out[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	int rc = -1;
	yaml_document_t doc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "exec plugin %s failed (status %d)", e->command,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (!b.data || parse_yaml_text(b.data, b.len, &doc) < 0) {
		snprintf(err, errlen, "exec plugin %s printed no ExecCredential", e->command);
	} else {
		yaml_node_t *st = map_get(&doc, yaml_document_get_root_node(&doc), "status");
		const char *token = map_str(&doc, st, "token");
		const char *cert = map_str(&doc, st, "clientCertificateData");
		const char *key = map_str(&doc, st, "clientKeyData");
		if (token || (cert && key)) {
			set_bearer(c, token ? strdup(token) : NULL);
			free(c->exec_cert);
			free(c->exec_key);
			c->exec_cert = cert ? strdup(cert) : NULL;
			c->exec_key = key ? strdup(key) : NULL;
			c->exec_cert_len = cert ? strlen(cert) : 0;
			c->exec_key_len = key ? strlen(key) : 0;
			c->bearer_expires = parse_time(map_str(&doc, st, "expirationTimestamp"));
			rc = 0;
		} else {
			snprintf(err, errlen, "exec plugin %s: ExecCredential has no token or client certificate",
				 e->command);
		}
		yaml_document_delete(&doc);
	}
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return rc;
}

int kubeconn_refresh(struct kubeconn *c, bool force, char *err, size_t errlen)
{
	time_t now = time(NULL);
	if (c->exec) {
		bool expired = c->bearer_expires && now >= c->bearer_expires - 10;
		bool have = c->bearer || c->exec_cert;
		if (force || !have || expired)
			return run_exec(c, err, errlen);
		return 0;
	}
	if (c->token_file) {
		if (!force && c->bearer && now - c->bearer_read < TOKEN_FILE_MAX_AGE)
			return 0;
		char *t = read_small_file(c->token_file);
		if (!t) {
			snprintf(err, errlen, "token file %s: %s", c->token_file, strerror(errno));
			return c->bearer ? 0 : -1; /* keep the last token if the file is briefly gone */
		}
		set_bearer(c, t);
		c->bearer_read = now;
		return 0;
	}
	if (c->token && !c->bearer)
		set_bearer(c, strdup(c->token));
	return 0;
}

void kubeconn_free(struct kubeconn *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free(c->tls_server_name);
	free(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	free(c->key_data);
	free(c->username);
	free(c->password);
	free(c->namespace);
	free(c->bearer);
	free(c->exec_cert);
	free(c->exec_key);
	free_exec(c->exec);
	memset(c, 0, sizeof(*c));
}
