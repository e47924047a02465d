/*
 * seshfs: -o warm=N, the warm pool: shells started ahead with the mount's
 * defaults (every mkdir starts with those), so that a mkdir takes a ready
 * one and returns at once.
 *
 * A pool shell is a whole session, never listed: registered by its id, so
 * its marker (PROCCTL_ENV_NAME=<mount>.<id>, in the shell's environment
 * from its start) and its cgroup are those of the session it becomes, and
 * the clean-ups, the watchdog and unmount find it as they find a listed one. The pool counts
 * toward max_sessions: it holds at most max_sessions minus the listed ones,
 * so a mkdir within max_sessions always finds room, or a pool shell to take.
 * One job fills it, a shell at a time, leaving the other job thread free.
 */
#include <stdio.h>

#include "../util/log.h"
#include "internal.h"

/* How often the pool looks for shells that died and for room to refill. */
#define WARM_CHECK_NS (1000 * NSEC_PER_MSEC)
/*
 * After a failed start, no new one for a while, twice as long after each
 * failure in a row: a broken default shell or a stopped container must not
 * spin, nor fill the log.
 */
#define WARM_RETRY_MIN_NS (5000 * NSEC_PER_MSEC)
#define WARM_RETRY_MAX_NS (300000 * NSEC_PER_MSEC)

static struct {
	struct list_node shells;	/* oldest first; each holds the pool's reference */
	size_t count;
	uint64_t started;		/* pool shells ever made: their names */
	bool filling;			/* the fill job is queued or runs */
	int64_t retry_ns;		/* no new start before this */
	int64_t retry_delay_ns;		/* the wait after the next failed start */
	struct job fill;
	struct loop_timer check;
} warm;

/* Shells the pool should hold now. */
static size_t warm_target(void)
{
	if (sessions.stopping || sessions.listed >= sessions.cfg.max_sessions)
		return 0;
	size_t room = sessions.cfg.max_sessions - sessions.listed;
	return sessions.cfg.warm < room ? sessions.cfg.warm : room;
}

static void warm_remove(struct session *s)
{
	list_del(&s->in_pool);
	s->warm = false;
	warm.count--;
}

/* Job: starts pool shells one after the other until the pool is full, or a start failed. */
static void warm_fill(struct job *job)
{
	(void)job;
	pthread_mutex_lock(&sessions.lock);
	while (warm.count < warm_target() && loop_now_ns() >= warm.retry_ns) {
		char name[SESSION_NAME_MAX + 1];
		struct session *s;

		snprintf(name, sizeof(name), ".warm-%llu", (unsigned long long)++warm.started);
		if (session_new(name, &s) < 0) {
			warm.retry_ns = loop_now_ns() + warm.retry_delay_ns;
			break;
		}
		s->warm = true;
		list_add_tail(&warm.shells, &s->in_pool);
		warm.count++;
		session_register(s);
		session_ref(s);		/* the start's own: a mkdir may take it meanwhile */
		session_start(s);	/* the lock is dropped while it starts */
		if (loop_now_ns() >= warm.retry_ns)
			warm.retry_delay_ns = WARM_RETRY_MIN_NS;	/* it did start */
		session_unref(s);
	}
	warm.filling = false;
	pthread_mutex_unlock(&sessions.lock);
}

void warm_refill(void)
{
	if (warm.filling || warm.count >= warm_target() || loop_now_ns() < warm.retry_ns)
		return;
	warm.filling = true;
	jobs_submit(&warm.fill);
}

/* Shells whose stream ended leave the pool, as an rmdir'ed session goes. */
static void warm_prune(void)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &warm.shells) {
		struct session *s = list_entry(pos, struct session, in_pool);
		if (s->state == SESSION_CREATING || s->state == SESSION_RUNNING)
			continue;
		log_info("warm shell %s (pid %d) ended; another starts", s->name, s->shell.id.pid);
		warm_remove(s);
		session_close(s);	/* with the pool's reference */
	}
}

static void warm_check(struct loop_timer *timer)
{
	loop_timer_set(sessions.loop, timer, loop_now_ns() + WARM_CHECK_NS);
	warm_prune();
	warm_refill();
}

void warm_init(void)
{
	list_init(&warm.shells);
	warm.fill.run = warm_fill;
	warm.retry_delay_ns = WARM_RETRY_MIN_NS;
	loop_timer_init(&warm.check, warm_check);
	if (sessions.cfg.warm > 0)
		loop_timer_set(sessions.loop, &warm.check, loop_now_ns());
}

struct session *warm_take(void)
{
	struct list_node *pos, *tmp;
	struct session *starting = NULL;

	warm_prune();
	list_for_each_safe(pos, tmp, &warm.shells) {
		struct session *s = list_entry(pos, struct session, in_pool);
		if (s->state == SESSION_RUNNING) {
			warm_remove(s);
			return s;
		}
		if (!starting)
			starting = s;
	}
	/* None ready: the oldest starting one is further along than a start of the mkdir's own. */
	if (starting)
		warm_remove(starting);
	return starting;
}

void warm_start_failed(struct session *s, const char *err)
{
	log_error("warm shell %s: %s; the pool tries again in %lld s", s->name, err,
		  (long long)(warm.retry_delay_ns / (1000 * NSEC_PER_MSEC)));
	warm.retry_ns = loop_now_ns() + warm.retry_delay_ns;
	if (warm.retry_delay_ns < WARM_RETRY_MAX_NS)
		warm.retry_delay_ns *= 2;
	warm_remove(s);
	session_unref(s);	/* the pool's reference; the start holds its own */
}

size_t warm_ready(void)
{
	struct list_node *pos, *tmp;
	size_t ready = 0;

	list_for_each_safe(pos, tmp, &warm.shells)
		ready += list_entry(pos, struct session, in_pool)->state == SESSION_RUNNING;
	return ready;
}

/* The pool's references are left to session_free_all; a start under way stops (unmounting). */
void warm_stop(void)
{
	struct list_node *pos, *tmp;

	loop_timer_cancel(&warm.check);
	list_for_each_safe(pos, tmp, &warm.shells) {
		struct session *s = list_entry(pos, struct session, in_pool);
		warm_remove(s);
		if (s->state == SESSION_RUNNING) {
			s->state = SESSION_CLOSING;
			session_watch_update(s);	/* out of the event loop */
		}
	}
}
