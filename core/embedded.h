/* The Lua of scripts/, compiled into the binary by core/embed.cmake. */
#ifndef HERALD_EMBEDDED_H
#define HERALD_EMBEDDED_H
#include <stddef.h>

struct embedded_script {
	const char *module;  /* "sinks.stdout" */
	const char *path;    /* "scripts/sinks/stdout.lua", for chunk names */
	const char *source;
	size_t len;
};

/* Terminated by an entry whose module is NULL. */
extern const struct embedded_script embedded_scripts[];

#endif
