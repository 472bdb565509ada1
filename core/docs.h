/* docs: `herald docs sinks`, a hidden command that prints the reference
 * page of every built-in sink type's options (docs/reference/sinks.md),
 * generated from the option schemas so the page cannot drift. */
#ifndef HERALD_DOCS_H
#define HERALD_DOCS_H
#include "cli.h"

/* Prints the page named by o->input ("sinks") on stdout; EXIT_OK, or
 * EXIT_USAGE for another name or when the Lua cannot run (logged). */
int docs_run(const struct options *o);
#endif
