/*
 * seshfs: the event loop, in the manner of Redis's ae: watch fds by id,
 * timers, a wake-up. epoll, one timerfd and one eventfd underneath.
 *
 * One thread runs it. The loop belongs to whoever created it with a mutex:
 * it holds that mutex except while it sleeps, so handlers and timers run
 * with it held, and every loop_* call from other threads expects it held.
 */
#ifndef SESHFS_LOOP_H
#define SESHFS_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "list.h"

#define LOOP_NEVER INT64_MAX
#define NSEC_PER_MSEC INT64_C(1000000)

static inline int64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

struct loop_timer {
	int64_t at_ns;		/* LOOP_NEVER while not scheduled */
	void (*fire)(struct loop_timer *timer);
	struct list_node node;
};

/* Called for each ready fd, with the id it was watched under. */
typedef void (*loop_fd_handler)(uint64_t id, uint32_t events);

struct loop;

struct loop *loop_new(pthread_mutex_t *lock, loop_fd_handler on_fd);
/* Starts the loop's thread. */
int loop_start(struct loop *loop);
/* Makes the loop return and joins its thread; call without the lock. */
void loop_stop(struct loop *loop);
void loop_free(struct loop *loop);

/* Sets fd's epoll interest from *watched to events (0 unwatches); *watched follows. */
int loop_watch(struct loop *loop, int fd, uint64_t id, uint32_t *watched, uint32_t events);

void loop_timer_init(struct loop_timer *timer, void (*fire)(struct loop_timer *timer));
/* (Re)schedules timer to fire at at_ns (monotonic), or at once if that has passed. */
void loop_timer_set(struct loop *loop, struct loop_timer *timer, int64_t at_ns);
void loop_timer_cancel(struct loop_timer *timer);

static inline bool loop_timer_pending(const struct loop_timer *timer)
{
	return timer->at_ns != LOOP_NEVER;
}

#endif
