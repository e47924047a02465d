/*
 * seshfs: the job pool, threads that do the slow work.
 *
 * Every call to the engine (exec create/start, inspect, helper execs) runs
 * on one of these threads, so FUSE worker threads and the event loop never
 * wait on it. A job is a callback; it answers its parked request itself.
 */
#ifndef SESHFS_JOBS_H
#define SESHFS_JOBS_H

#include "list.h"

struct job {
	void (*run)(struct job *job);
	struct list_node node;
};

int jobs_start(int threads);
void jobs_submit(struct job *job);
/* Runs every job already submitted, then stops the threads. */
void jobs_stop(void);

#endif
