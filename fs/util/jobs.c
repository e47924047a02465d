/*
 * seshfs: the job pool (see jobs.h).
 */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define JOBS_THREADS_MAX 8

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct list_node queue;
	bool stopping;
	int threads;
	pthread_t thread[JOBS_THREADS_MAX];
} jobs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

static void *jobs_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&jobs.lock);
	for (;;) {
		while (list_empty(&jobs.queue) && !jobs.stopping)
			pthread_cond_wait(&jobs.wake, &jobs.lock);
		if (list_empty(&jobs.queue))
			break;
		struct job *job = list_entry(jobs.queue.next, struct job, node);
		list_del(&job->node);
		pthread_mutex_unlock(&jobs.lock);
		job->run(job);
		pthread_mutex_lock(&jobs.lock);
	}
	pthread_mutex_unlock(&jobs.lock);
	return NULL;
}

int jobs_start(int threads)
{
	list_init(&jobs.queue);
	if (threads > JOBS_THREADS_MAX)
		threads = JOBS_THREADS_MAX;
	for (jobs.threads = 0; jobs.threads < threads; jobs.threads++) {
		int err = pthread_create(&jobs.thread[jobs.threads], NULL, jobs_main, NULL);
		if (err) {
			jobs_stop();
			return -err;
		}
	}
	return 0;
}

void jobs_submit(struct job *job)
{
	pthread_mutex_lock(&jobs.lock);
	list_add_tail(&jobs.queue, &job->node);
	pthread_cond_signal(&jobs.wake);
	pthread_mutex_unlock(&jobs.lock);
}

void jobs_stop(void)
{
	pthread_mutex_lock(&jobs.lock);
	jobs.stopping = true;
	pthread_cond_broadcast(&jobs.wake);
	pthread_mutex_unlock(&jobs.lock);
	for (int i = 0; i < jobs.threads; i++)
		pthread_join(jobs.thread[i], NULL);
	jobs.threads = 0;
}
