/*
 * seshfs: the engine threads.
 *
 * Every call to the Docker engine (exec create/start, inspect, signal
 * helpers) runs here, so FUSE worker threads and the I/O loop never wait
 * on the engine. A job is a callback; it answers its parked FUSE request
 * itself when done.
 */
#ifndef SESHFS_ENGINE_H
#define SESHFS_ENGINE_H

#include "list.h"

struct engine_job {
	void (*run)(struct engine_job *job);
	struct list_node node;
};

int engine_start(int threads);
void engine_submit(struct engine_job *job);
/* Runs every job already submitted, then stops the threads. */
void engine_stop(void);

#endif
