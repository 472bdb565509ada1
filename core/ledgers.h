/* ledgers: the alert sinks' ledgers (alerts.h) in the state dir, one file
 * each: <state-dir>/<sink>.ledger. Read once at start, before any
 * delivery; written with the checkpoints, ledgers first (an alert sink
 * acknowledges an event to the checkpoint when it folds it into a group:
 * the ledger written before the checkpoint holds it). */
#ifndef HERALD_LEDGERS_H
#define HERALD_LEDGERS_H
#include "sinks.h"

struct ledgers;
struct statestore;

/* dir: the state dir (NULL: ledgers are not kept, every call does nothing). */
struct ledgers *ledgers_new(const char *dir);
void ledgers_free(struct ledgers *l);
/* With leader election's state store (--state-configmap): each ledger
 * written is also put there as <sink>.ledger, and a load prefers the
 * store's copy (the last leader's). store is borrowed. */
void ledgers_set_store(struct ledgers *l, struct statestore *store);
/* Imports each alert sink's saved ledger. A damaged, foreign or older one
 * is logged, counted (herald_state_load_errors_total) and ignored. */
void ledgers_load(struct ledgers *l, struct sinks *s);
/* Writes the ledgers that changed since their last save. 0, or -1
 * (logged) when one could not be written. */
int ledgers_save(struct ledgers *l, const struct sinks *s);

#endif
