/* replay: the `replay` command (see replay.c). */
#ifndef HERALD_REPLAY_H
#define HERALD_REPLAY_H
#include "cli.h"

int replay_run(const struct options *o);

#endif
