/*
 * seshfs: engine thread pool (see engine.h).
 */
#include "engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define ENGINE_THREADS_MAX 8

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct list_node queue;
	bool stopping;
	int threads;
	pthread_t thread[ENGINE_THREADS_MAX];
} engine = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

static void *engine_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&engine.lock);
	for (;;) {
		while (list_empty(&engine.queue) && !engine.stopping)
			pthread_cond_wait(&engine.wake, &engine.lock);
		if (list_empty(&engine.queue))
			break;
		struct engine_job *job = list_entry(engine.queue.next, struct engine_job, node);
		list_del(&job->node);
		pthread_mutex_unlock(&engine.lock);
		job->run(job);
		pthread_mutex_lock(&engine.lock);
	}
	pthread_mutex_unlock(&engine.lock);
	return NULL;
}

int engine_start(int threads)
{
	list_init(&engine.queue);
	if (threads > ENGINE_THREADS_MAX)
		threads = ENGINE_THREADS_MAX;
	for (engine.threads = 0; engine.threads < threads; engine.threads++) {
		int err = pthread_create(&engine.thread[engine.threads], NULL, engine_main, NULL);
		if (err) {
			engine_stop();
			return -err;
		}
	}
	return 0;
}

void engine_submit(struct engine_job *job)
{
	pthread_mutex_lock(&engine.lock);
	list_add_tail(&engine.queue, &job->node);
	pthread_cond_signal(&engine.wake);
	pthread_mutex_unlock(&engine.lock);
}

void engine_stop(void)
{
	pthread_mutex_lock(&engine.lock);
	engine.stopping = true;
	pthread_cond_broadcast(&engine.wake);
	pthread_mutex_unlock(&engine.lock);
	for (int i = 0; i < engine.threads; i++)
		pthread_join(engine.thread[i], NULL);
	engine.threads = 0;
}
