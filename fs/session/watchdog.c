/*
 * seshfs: the mount's watchdog, one exec that outlives seshfs (see the
 * script in backend/procctl.c). seshfs tells it the pid of each shell it
 * starts and of each it cleaned up, and holds its stdin open: when seshfs
 * dies, however it dies, the engine closes that stdin and the watchdog
 * kills what the sessions started. One process per mount, none per session.
 * If something ends it while seshfs lives, another is started.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "../util/log.h"
#include "internal.h"

#define WATCHDOG_RETRY_NS (1000 * NSEC_PER_MSEC)

static struct {
	struct exec_conn *conn;
	uint32_t events;
	bool failed;			/* the last start failed: retrying, logged once */
	struct loop_timer retry;
	struct job restart;
} watchdog;

static void watchdog_tell(char sign, int pid)
{
	char line[24];
	int len = snprintf(line, sizeof(line), "%c%d\n", sign, pid);

	/* A few bytes into a socket nobody else writes to go out whole. */
	if (watchdog.conn && pid > 0 && exec_conn_send(watchdog.conn, line, len) != len)
		log_error("watchdog: cannot tell it of shell %d", pid);
}

void watchdog_shell_started(int pid)
{
	watchdog_tell('+', pid);
}

void watchdog_shell_gone(int pid)
{
	watchdog_tell('-', pid);
}

/* Starts the watchdog exec and tells it the shells that live now. Lock held, dropped meanwhile. */
static int watchdog_start(char err[ENGINE_ERR_MAX])
{
	struct engine *e = sessions.cfg.engine;
	const char *argv[PROCCTL_WATCHDOG_ARGC];
	char marker[SESSION_MARKER_MAX];
	char id[ENGINE_EXEC_ID_MAX];
	struct exec_conn *conn = NULL;

	snprintf(marker, sizeof(marker), "%s=%s\\.", PROCCTL_ENV_NAME, sessions.mount_token);
	procctl_watchdog_argv(marker, sessions.cfg.own_container, argv);
	struct engine_exec_spec spec = {
		.container = sessions.cfg.container,
		.argv = argv,
		.user = "0",
		.attach_stdin = true,
	};
	pthread_mutex_unlock(&sessions.lock);
	int ret = e->ops->exec_create(e, &spec, id, err);
	if (ret == 0)
		ret = e->ops->exec_attach(e, id, false, SESSION_START_TIMEOUT_MS, &conn, err);
	pthread_mutex_lock(&sessions.lock);
	if (ret < 0)
		return ret;
	watchdog.conn = conn;
	watchdog.events = 0;
	if (loop_watch(sessions.loop, exec_conn_fd(conn), SESSION_WATCHDOG_ID, &watchdog.events, EPOLLIN) < 0)
		log_error("watchdog: epoll_ctl: %s", strerror(errno));
	for (size_t b = 0; b < SESSION_HASH_BUCKETS; b++) {
		for (struct session *s = sessions.by_id[b]; s; s = s->id_next) {
			if (s->state != SESSION_CLOSED)
				watchdog_shell_started(s->shell.id.pid);
		}
	}
	return 0;
}

static void watchdog_close(void)
{
	if (!watchdog.conn)
		return;
	if (loop_watch(sessions.loop, exec_conn_fd(watchdog.conn), SESSION_WATCHDOG_ID, &watchdog.events, 0) < 0)
		log_error("watchdog: epoll_ctl: %s", strerror(errno));
	exec_conn_close(watchdog.conn);
	watchdog.conn = NULL;
}

/* Job: a watchdog again; on failure (a stopped container, say) the next try is a second later. */
static void watchdog_restart_run(struct job *job)
{
	char err[ENGINE_ERR_MAX];
	(void)job;

	pthread_mutex_lock(&sessions.lock);
	if (!sessions.stopping && !watchdog.conn) {
		if (watchdog_start(err) < 0) {
			if (!watchdog.failed)
				log_error("watchdog: cannot start one, trying every second: %s", err);
			watchdog.failed = true;
			loop_timer_set(sessions.loop, &watchdog.retry, loop_now_ns() + WATCHDOG_RETRY_NS);
		} else if (watchdog.failed) {
			log_info("watchdog: running again");
			watchdog.failed = false;
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

static void watchdog_retry(struct loop_timer *timer)
{
	(void)timer;
	jobs_submit(&watchdog.restart);
}

/* The event loop: the watchdog says nothing, so readable means it ended. */
void watchdog_handle_events(uint32_t events)
{
	char buf[256];
	ssize_t n;

	(void)events;
	if (!watchdog.conn)
		return;
	while ((n = exec_conn_recv(watchdog.conn, buf, sizeof(buf))) > 0)
		;
	if (n == -EAGAIN)
		return;
	watchdog_close();
	if (sessions.stopping)
		return;
	log_error("watchdog: its exec ended while seshfs runs; starting another");
	jobs_submit(&watchdog.restart);
}

int watchdog_init(char err[ENGINE_ERR_MAX])
{
	loop_timer_init(&watchdog.retry, watchdog_retry);
	watchdog.restart.run = watchdog_restart_run;
	pthread_mutex_lock(&sessions.lock);
	int ret = watchdog_start(err);
	pthread_mutex_unlock(&sessions.lock);
	return ret;
}

/* Shutdown, after every shell was killed: it is told so, and ends without looking. */
void watchdog_stop(void)
{
	pthread_mutex_lock(&sessions.lock);
	loop_timer_cancel(&watchdog.retry);
	if (watchdog.conn && exec_conn_send(watchdog.conn, "=\n", 2) != 2)
		log_error("watchdog: cannot tell it seshfs stops; it will look for leftovers");
	watchdog_close();
	pthread_mutex_unlock(&sessions.lock);
}
