/*
 * seshfs: sandboxes (-o image=): the container seshfs creates for a mount,
 * with docker run's limits and mounts, and ends at unmount. Killed, seshfs
 * leaves none behind: its watchdog ends the container, which the engine
 * removes (auto-remove); one that survives anyway is swept when seshfs
 * mounts on the same mount point again, if the host's records (sandbox.c)
 * say seshfs made it.
 */
#ifndef SESHFS_SANDBOX_H
#define SESHFS_SANDBOX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "../backend/engine.h"
#include "session/settings.h"

/* A repeatable option's values, NULL-terminated. */
struct sandbox_list {
	char **items;
	size_t count;
};

/* The options, as given (fs/main.c's option table fills them). */
struct sandbox_options {
	char *image;
	char *name;
	char *memory;
	char *memory_swap;
	char *cpus;
	char *pids;
	char *network;
	struct sandbox_list volumes, publish, labels, cap_drop;
	int read_only;
	int no_new_privileges;
	int keep;
};

#define SANDBOX_NAME_MAX 128
#define SANDBOX_STATUS_LINES 8

struct sandbox {
	char name[SANDBOX_NAME_MAX];
	char id[ENGINE_CONTAINER_ID_MAX];
	char record[PATH_MAX];	/* the host's record of it (see sandbox.c), or "" */
	bool keep;
	char *status_lines[SANDBOX_STATUS_LINES + 1];	/* "key value", for the mount's status */
};

int sandbox_list_add(struct sandbox_list *l, const char *item);
void sandbox_options_free(struct sandbox_options *o);

/*
 * Sweeps what a killed seshfs left on this mount point, then creates and
 * starts the container (name: the CONTAINER argument, or NULL). 0, or -1
 * after one line on stderr.
 */
int sandbox_start(struct engine *e, const struct sandbox_options *o, const char *name, const char *mountpoint,
		  const struct session_settings *defaults, struct sandbox *sb);
/* Stops the container and removes it unless keep; a failure is a log line. */
void sandbox_end(struct engine *e, struct sandbox *sb);
void sandbox_free(struct sandbox *sb);

#endif
