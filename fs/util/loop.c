/*
 * seshfs: the event loop (see loop.h).
 *
 * Timers sit in one list ordered by time; most are set a fixed delay ahead,
 * so an insert scanning from the tail is short. The timerfd is armed no later
 * than the first timer, never re-armed for a later one: a timer set earlier
 * than needed fires once, finds nothing due and is set again. So the common
 * case (park a read, answer it long before its deadline) costs no syscall.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

/* epoll data of the loop's own fds; watched fds use their owner's ids. */
#define LOOP_WAKE_ID UINT64_MAX
#define LOOP_TIMER_ID (UINT64_MAX - 1)
#define LOOP_EVENTS 64

struct loop {
	pthread_mutex_t *lock;
	loop_fd_handler on_fd;
	int epoll_fd;
	int wake_fd;
	int timer_fd;
	int64_t timer_armed_ns;	/* what timer_fd is set to; LOOP_NEVER: disarmed */
	struct list_node timers;
	pthread_t thread;
	bool running;
	bool stopping;
};

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->timer_fd >= 0)
		close(loop->timer_fd);
	free(loop);
}

struct loop *loop_new(pthread_mutex_t *lock, loop_fd_handler on_fd)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->lock = lock;
	loop->on_fd = on_fd;
	loop->timer_armed_ns = LOOP_NEVER;
	list_init(&loop->timers);
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	loop->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = LOOP_WAKE_ID };
	struct epoll_event timer = { .events = EPOLLIN, .data.u64 = LOOP_TIMER_ID };
	if (loop->epoll_fd < 0 || loop->wake_fd < 0 || loop->timer_fd < 0 ||
	    epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &wake) < 0 ||
	    epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->timer_fd, &timer) < 0) {
		int saved = errno;
		loop_free(loop);
		errno = saved;
		return NULL;
	}
	return loop;
}

int loop_watch(struct loop *loop, int fd, uint64_t id, uint32_t *watched, uint32_t events)
{
	if (events == *watched)
		return 0;
	/* Unwatch rather than wait on nothing: EPOLLHUP would fire regardless. */
	int op = events == 0 ? EPOLL_CTL_DEL : *watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	struct epoll_event ev = { .events = events, .data.u64 = id };
	*watched = events;
	return epoll_ctl(loop->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

/* Makes timer_fd fire no later than at_ns (any thread: arming does not wake the loop). */
static void loop_arm(struct loop *loop, int64_t at_ns)
{
	struct itimerspec when = { 0 };

	if (at_ns >= loop->timer_armed_ns)
		return;
	when.it_value.tv_sec = at_ns / 1000000000;
	when.it_value.tv_nsec = at_ns % 1000000000;
	if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
		when.it_value.tv_nsec = 1;	/* zero would disarm */
	if (timerfd_settime(loop->timer_fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
		log_error("timerfd_settime: %s", strerror(errno));
	loop->timer_armed_ns = at_ns;
}

void loop_timer_init(struct loop_timer *timer, void (*fire)(struct loop_timer *timer))
{
	timer->at_ns = LOOP_NEVER;
	timer->fire = fire;
	list_init(&timer->node);
}

void loop_timer_cancel(struct loop_timer *timer)
{
	list_del(&timer->node);
	timer->at_ns = LOOP_NEVER;
}

void loop_timer_set(struct loop *loop, struct loop_timer *timer, int64_t at_ns)
{
	struct list_node *at = &loop->timers;

	list_del(&timer->node);
	timer->at_ns = at_ns;
	while (at->prev != &loop->timers && list_entry(at->prev, struct loop_timer, node)->at_ns > at_ns)
		at = at->prev;
	list_insert_before(at, &timer->node);
	if (loop->timers.next == &timer->node)
		loop_arm(loop, at_ns);
}

/* Fires every timer that is due; a fired timer may set itself or others again. */
static void loop_fire_timers(struct loop *loop)
{
	int64_t now = loop_now_ns();

	while (!list_empty(&loop->timers)) {
		struct loop_timer *timer = list_entry(loop->timers.next, struct loop_timer, node);
		if (timer->at_ns > now)
			break;
		loop_timer_cancel(timer);
		timer->fire(timer);
	}
	if (!list_empty(&loop->timers))
		loop_arm(loop, list_entry(loop->timers.next, struct loop_timer, node)->at_ns);
}

static void *loop_main(void *arg)
{
	struct loop *loop = arg;
	struct epoll_event events[LOOP_EVENTS];

	pthread_mutex_lock(loop->lock);
	while (!loop->stopping) {
		pthread_mutex_unlock(loop->lock);
		int n = epoll_wait(loop->epoll_fd, events, LOOP_EVENTS, -1);
		pthread_mutex_lock(loop->lock);
		for (int i = 0; i < n; i++) {
			uint64_t id = events[i].data.u64;
			if (id == LOOP_WAKE_ID || id == LOOP_TIMER_ID) {
				uint64_t count;
				int fd = id == LOOP_WAKE_ID ? loop->wake_fd : loop->timer_fd;
				if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					log_error("event loop: read of a wake-up: %s", strerror(errno));
				if (id == LOOP_TIMER_ID)
					loop->timer_armed_ns = LOOP_NEVER;	/* it fired */
				continue;
			}
			loop->on_fd(id, events[i].events);
		}
		loop_fire_timers(loop);
	}
	pthread_mutex_unlock(loop->lock);
	return NULL;
}

int loop_start(struct loop *loop)
{
	int err = pthread_create(&loop->thread, NULL, loop_main, loop);

	if (err)
		return -err;
	loop->running = true;
	return 0;
}

void loop_stop(struct loop *loop)
{
	uint64_t one = 1;

	pthread_mutex_lock(loop->lock);
	loop->stopping = true;
	pthread_mutex_unlock(loop->lock);
	if (write(loop->wake_fd, &one, sizeof(one)) < 0)
		log_error("cannot wake the event loop: %s", strerror(errno));
	if (loop->running)
		pthread_join(loop->thread, NULL);
	loop->running = false;
}
