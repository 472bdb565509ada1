/* source: the registry of source kinds and the list the daemon holds.
 * Owns the list, not what the sources read: each kind's file does. */
#include "source.h"

#include <stdlib.h>

/* One line per source kind, in the order they are opened. */
static int (*const kinds[])(const struct source_env *env, struct source_list *list) = {
	source_file_open,
	source_kube_open,
};

int source_list_add(struct source_list *list, struct source *s)
{
	struct source **grown = realloc(list->all, (list->n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	list->all = grown;
	list->all[list->n++] = s;
	return 0;
}

int source_open_all(const struct source_env *env, struct source_list *list)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (kinds[i](env, list) < 0)
			return -1;
	return 0;
}

void source_list_free(struct source_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		list->all[i]->ops->free(list->all[i]);
	free(list->all);
	list->all = NULL;
	list->n = 0;
}

void source_emit(void *env, const struct runner_item *it)
{
	sinks_push(((const struct source_env *)env)->sinks, it);
}

bool source_blocked(void *env)
{
	return sinks_blocked(((const struct source_env *)env)->sinks);
}
