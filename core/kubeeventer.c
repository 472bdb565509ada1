/* kubeeventer: the C side of herald on kube-eventer's command line. Owns
 * the split argument lists, a Lua host of its own for the translator
 * (herald.kubeeventer) and what a translation gives: the files and secrets
 * the runtime loads from memory and the cluster to watch. Must not route
 * or deliver, nor decide what a flag means: the translator does. */
#include "kubeeventer.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "luahost.h"

#define SA_TOKEN "/var/run/secrets/kubernetes.io/serviceaccount/token"

struct kubeeventer {
	char **ke_argv;                /* kube-eventer's arguments (borrowed strings) */
	int ke_argc;
	char **herald_argv;            /* herald's, argv[0] first (borrowed strings) */
	char **files;                  /* { path, text, ..., NULL } */
	char **secrets;                /* { name, value, ..., NULL } */
	struct ke_source source;
	char *listen, *cluster;
};

/* The flag's name: "--sink=x" and "-sink" -> "sink"; NULL for no flag. */
static const char *flag_name(const char *a, char *out, size_t outlen)
{
	if (a[0] != '-' || a[1] == '\0')
		return NULL;
	const char *body = a + (a[1] == '-' ? 2 : 1);
	size_t n = strcspn(body, "=");
	if (n == 0 || n >= outlen)
		return NULL;
	memcpy(out, body, n);
	out[n] = '\0';
	return out;
}

bool kubeeventer_detect(int argc, char **argv)
{
	char name[64];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return true;
		if (flag_name(argv[i], name, sizeof(name)) &&
		    (strcmp(name, "source") == 0 || strcmp(name, "sink") == 0))
			return true;
	}
	return false;
}

static struct luahost *new_host(const char *scripts_dir)
{
	struct luahost_opts ho = { .scripts_dir = scripts_dir, .limits = LUAHOST_DEFAULT_LIMITS };
	return luahost_new(&ho);
}

/* Pushes herald.kubeeventer's function fn; -1 (logged) when it cannot. */
static int push_fn(struct luahost *h, const char *fn)
{
	lua_State *L = luahost_state(h);
	lua_getglobal(L, "require");                                    /* require */
	lua_pushstring(L, "herald.kubeeventer");                        /* require name */
	if (luahost_pcall(h, 1, 1) < 0) {
		log_error("kube-eventer flags: %s", luahost_error(h));
		return -1;
	}
	lua_getfield(L, -1, fn);                                        /* M fn */
	lua_remove(L, -2);                                              /* fn */
	return 0;
}

struct kubeeventer *kubeeventer_split(int argc, char **argv, int *hargc, char ***hargv)
{
	struct kubeeventer *ke = calloc(1, sizeof(*ke));
	/* The built-in scripts' flag table: --scripts-dir is not parsed yet. */
	struct luahost *h = new_host(NULL);
	if (!ke || !h)
		goto fail;
	ke->ke_argv = calloc((size_t)argc + 1, sizeof(char *));
	ke->herald_argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!ke->ke_argv || !ke->herald_argv || push_fn(h, "flags") < 0)
		goto fail;
	lua_State *L = luahost_state(h);
	if (luahost_pcall(h, 0, 1) < 0) {                               /* flags */
		log_error("kube-eventer flags: %s", luahost_error(h));
		goto fail;
	}
	int n = 0;
	ke->herald_argv[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		char name[64];
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				ke->ke_argv[ke->ke_argc++] = argv[i];
			break;
		}
		if (!flag_name(argv[i], name, sizeof(name))) {
			ke->herald_argv[n++] = argv[i];
			continue;
		}
		lua_getfield(L, -1, name);                              /* flags kind */
		const char *kind = lua_tostring(L, -1);
		bool takes_next = kind && strcmp(kind, "bool") != 0 && !strchr(argv[i], '=');
		if (kind)
			ke->ke_argv[ke->ke_argc++] = argv[i];
		else
			ke->herald_argv[n++] = argv[i];
		if (takes_next && i + 1 < argc)
			ke->ke_argv[ke->ke_argc++] = argv[++i];
		lua_pop(L, 1);                                          /* flags */
	}
	lua_pop(L, 1);
	luahost_free(h);
	*hargc = n;
	*hargv = ke->herald_argv;
	return ke;
fail:
	luahost_free(h);
	kubeeventer_free(ke);
	return NULL;
}

void kubeeventer_attach(const struct kubeeventer *ke, struct options *o)
{
	if (!ke)
		return;
	o->ke_argv = ke->ke_argv;
	o->ke_argc = ke->ke_argc;
}

/* core.getenv for the translator: ${VAR} in the URLs. */
static int l_getenv(lua_State *L)
{
	const char *v = getenv(luaL_checkstring(L, 1));
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

static char *read_text(const char *path)
{
	struct buf b = BUF_INIT;
	if (buf_read_file(&b, path, 0) < 0) {
		buf_free(&b);
		return NULL;
	}
	if (!b.data)
		buf_append(&b, "", 0);
	return b.data;
}

/* Pushes translate's or migrate's arguments: argv and opts { getenv,
 * configmaps }. -1 (reported) when a --configmap file cannot be read. */
static int push_args(lua_State *L, const struct options *o)
{
	lua_createtable(L, o->ke_argc, 0);                              /* fn argv */
	for (int i = 0; i < o->ke_argc; i++) {
		lua_pushstring(L, o->ke_argv[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_createtable(L, 0, 2);                                       /* fn argv opts */
	lua_pushcfunction(L, l_getenv);
	lua_setfield(L, -2, "getenv");
	lua_createtable(L, 0, o->nconfigmaps);                          /* fn argv opts cms */
	for (int i = 0; i < o->nconfigmaps; i++) {
		const char *eq = strchr(o->configmaps[i], '=');
		char *text = read_text(eq + 1);
		if (!text) {
			cli_usage_error("--configmap %s: cannot read %s", o->configmaps[i], eq + 1);
			return -1;
		}
		lua_pushlstring(L, o->configmaps[i], (size_t)(eq - o->configmaps[i])); /* ... cms key */
		lua_pushstring(L, text);                                /* ... cms key text */
		lua_rawset(L, -3);                                      /* ... cms */
		free(text);
	}
	lua_setfield(L, -2, "configmaps");                              /* fn argv opts */
	return 0;
}

/* Calls fn(argv, opts) (on the stack); leaves r or nil and the errors.
 * -1: the call itself failed (logged) or an argument was bad. */
static int call_translator(struct luahost *h, const struct options *o)
{
	lua_State *L = luahost_state(h);
	if (push_args(L, o) < 0)
		return -1;
	if (luahost_pcall(h, 2, 2) < 0) {                               /* r err */
		log_error("kube-eventer flags: %s", luahost_error(h));
		return -1;
	}
	return 0;
}

int kubeeventer_migrate(const struct options *o)
{
	struct luahost *h = new_host(o->scripts_dir);
	int rc = EXIT_USAGE;
	if (!h || push_fn(h, "migrate") < 0 || call_translator(h, o) < 0)
		goto out;
	lua_State *L = luahost_state(h);
	if (lua_isstring(L, -2)) {
		fputs(lua_tostring(L, -2), stdout);
		rc = EXIT_OK;
	} else {
		const char *err = lua_tostring(L, -1);
		fprintf(stderr, "%s\n", err ? err : "herald: the translation failed");
	}
	lua_pop(L, 2);
out:
	luahost_free(h);
	return rc;
}

/* { k = v, ... } -> { k, v, ..., NULL }, strings copied. */
static char **pairs_of(lua_State *L, int idx)
{
	size_t n = 0, cap = 8;
	char **out = calloc(cap + 1, sizeof(char *));
	if (!out)
		return NULL;
	lua_pushnil(L);                                                 /* nil */
	while (lua_next(L, idx)) {                                      /* k v */
		if (n + 2 > cap) {
			char **grown = realloc(out, (cap * 2 + 1) * sizeof(char *));
			if (!grown) {
				lua_pop(L, 2);
				break;
			}
			out = grown;
			cap *= 2;
		}
		out[n++] = strdup(lua_tostring(L, -2));
		out[n++] = strdup(lua_tostring(L, -1));
		out[n] = NULL;
		lua_pop(L, 1);                                          /* k */
	}
	out[n] = NULL;
	return out;
}

static char *str_field(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);                                      /* v */
	const char *s = lua_tostring(L, -1);
	char *copy = s ? strdup(s) : NULL;
	lua_pop(L, 1);
	return copy;
}

static bool bool_field(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);                                      /* v */
	bool b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

/* Logs each string of the list r[key] at level. */
static void log_list(lua_State *L, int r, const char *key, enum log_level level, const char *prefix)
{
	lua_getfield(L, r, key);                                        /* list */
	size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i);                     /* list s */
		log_msg(level, "%s%s", prefix, lua_tostring(L, -1));
		lua_pop(L, 1);                                          /* list */
	}
	lua_pop(L, 1);
}

/* Keeps what a translation r (at the top) gives; 0 or -1 (out of memory). */
static int keep(struct kubeeventer *ke, lua_State *L, int r)
{
	lua_getfield(L, r, "files");                                    /* files */
	ke->files = pairs_of(L, lua_gettop(L));
	lua_getfield(L, r, "secrets");                                  /* files secrets */
	ke->secrets = pairs_of(L, lua_gettop(L));
	lua_getfield(L, r, "source");                                   /* files secrets source */
	int s = lua_gettop(L);
	if (lua_istable(L, s)) {
		ke->source.in_cluster = bool_field(L, s, "in_cluster");
		ke->source.insecure = bool_field(L, s, "insecure");
		ke->source.use_service_account = bool_field(L, s, "use_service_account");
		ke->source.server = str_field(L, s, "server");
		ke->source.kubeconfig = str_field(L, s, "kubeconfig");
	}
	lua_pop(L, 3);
	ke->listen = str_field(L, r, "listen");
	ke->cluster = str_field(L, r, "cluster_name");
	return ke->files && ke->secrets ? 0 : -1;
}

int kubeeventer_apply(struct kubeeventer *ke, struct options *o)
{
	struct luahost *h = new_host(o->scripts_dir);
	int rc = EXIT_USAGE;
	if (!h || push_fn(h, "translate") < 0 || call_translator(h, o) < 0)
		goto out;
	lua_State *L = luahost_state(h);
	int r = lua_gettop(L) - 1;
	if (!lua_istable(L, r)) {
		const char *err = lua_tostring(L, r + 1);
		struct buf line = BUF_INIT;
		for (const char *p = err ? err : "the translation failed"; *p;) {
			size_t n = strcspn(p, "\n");
			buf_reset(&line);
			buf_append(&line, p, n);
			log_error("kube-eventer flags: %s", line.data);
			p += n + (p[n] == '\n');
		}
		buf_free(&line);
		goto out;
	}
	if (bool_field(L, r, "version")) {
		printf("herald %s (reads kube-eventer's flags)\n", HERALD_VERSION);
		rc = EXIT_OK;
		goto out;
	}
	log_list(L, r, "ignored", LOG_WARN, "kube-eventer flags: ignored: ");
	log_list(L, r, "changes", LOG_INFO, "kube-eventer flags: changed in meaning: ");
	if (keep(ke, L, r) < 0) {
		log_error("kube-eventer flags: out of memory");
		goto out;
	}
	o->memory_files = (const char *const *)ke->files;
	o->memory_secrets = (const char *const *)ke->secrets;
	o->ke_source = &ke->source;
	if (!o->listen && ke->listen)
		o->listen = ke->listen;
	if (!o->cluster_given && ke->cluster)
		o->cluster = ke->cluster;
	log_info("kube-eventer flags: the configuration is built from them in memory; no files are read "
		 "or watched (`herald migrate -- ARGS` prints it as files)");
	rc = -1;
out:
	luahost_free(h);
	return rc;
}

int kubeeventer_connect(const struct ke_source *s, struct kubeconn *out, char *err, size_t errlen)
{
	int rc;
	if (s->in_cluster) {
		if ((rc = kubeconfig_in_cluster(out, err, errlen)) < 0)
			return rc;
		if (s->server) {
			free(out->server);
			out->server = strdup(s->server);
		}
		if (s->insecure) {
			out->insecure = true;
			free(out->ca_file);
			out->ca_file = NULL;
		}
	} else if (s->kubeconfig) {
		/* kube-eventer uses the file's current context as it is. */
		if ((rc = kubeconfig_load(s->kubeconfig, NULL, out, err, errlen)) < 0)
			return rc;
	} else {
		memset(out, 0, sizeof(*out));
		out->server = strdup(s->server ? s->server : "");
		out->insecure = s->insecure;
	}
	if (s->use_service_account) {
		/* kube-eventer: the pod's token, when it is readable, replaces
		 * the credentials. */
		const char *dir = getenv("HERALD_SA_DIR");
		struct buf path = BUF_INIT;
		buf_printf(&path, "%s", dir ? dir : "");
		buf_printf(&path, "%s", dir ? "/token" : SA_TOKEN);
		FILE *f = fopen(path.data, "r");
		if (f) {
			fclose(f);
			free(out->token);
			out->token = NULL;
			free(out->token_file);
			out->token_file = path.data;
			path.data = NULL;
		}
		buf_free(&path);
	}
	if (!out->server || !*out->server) {
		snprintf(err, errlen, "--source: invalid kubernetes master url specified");
		return -1;
	}
	size_t n = strlen(out->server);
	while (n && out->server[n - 1] == '/')
		out->server[--n] = '\0';
	return 0;
}

static void free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

void kubeeventer_free(struct kubeeventer *ke)
{
	if (!ke)
		return;
	free(ke->ke_argv);
	free(ke->herald_argv);
	free_list(ke->files);
	free_list(ke->secrets);
	free(ke->source.server);
	free(ke->source.kubeconfig);
	free(ke->listen);
	free(ke->cluster);
	free(ke);
}
