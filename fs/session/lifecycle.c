/*
 * seshfs: sessions coming and going: mkdir and rmdir, closing idle
 * sessions, and the start-up and shutdown of the whole layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/log.h"
#include "internal.h"

#define SESSION_IDLE_CHECK_NS (1000 * NSEC_PER_MSEC)
/* The longest a mkdir waits for its shell; the start goes on, and is undone, in the background. */
#define SESSION_MKDIR_LIMIT_NS (15000 * NSEC_PER_MSEC)

/* 0, -EMFILE and the like when it cannot be opened, -EIO when it gives too little. */
static int random_hex(char *out, size_t bytes)
{
	unsigned char random[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (bytes > sizeof(random) || read(fd, random, bytes) != (ssize_t)bytes) {
		close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", random[i]);
	return 0;
}

/* ---- closing ---- */

/* Sessions one clean-up job takes at most; more wait for the next. */
#define SESSION_CLEAN_UP_BATCH 256

/*
 * Kills what the n sessions of list started: each one's cgroup, or else one
 * helper per user their shells run as, for their shells' groups and every
 * process whose environment matches marker. Lock held (dropped meanwhile).
 */
static void sessions_kill(struct session **list, size_t n, const char *marker)
{
	int *pids = calloc(n ? n : 1, sizeof(*pids));
	bool *done = calloc(n ? n : 1, sizeof(*done));
	char err[ENGINE_ERR_MAX];

	/* A session with a cgroup of its own goes from the host; the helper does the rest. */
	for (size_t i = 0; pids && done && i < n; i++)
		procs_end_start(list[i]);
	for (size_t i = 0; pids && done && i < n; i++)
		done[i] = procs_end(list[i]) == 0;
	for (size_t first = 0; pids && done && first < n; first++) {
		if (done[first])
			continue;	/* its user's helper ran already */
		char user[SETTINGS_USER_MAX];
		size_t npids = 0;
		snprintf(user, sizeof(user), "%s", list[first]->shell.id.user);
		for (size_t i = first; i < n; i++) {
			if (!done[i] && strcmp(list[i]->shell.id.user, user) == 0) {
				if (list[i]->shell.id.pid > 0)
					pids[npids++] = list[i]->shell.id.pid;
				done[i] = true;
			}
		}
		struct procctl_scope scope = { sessions.cfg.container, user, marker };
		pthread_mutex_unlock(&sessions.lock);
		int ret = procctl_signal(sessions.cfg.engine, &scope, "KILL", PROCCTL_ALL, pids, npids, err);
		pthread_mutex_lock(&sessions.lock);
		if (ret == -EMFILE || ret == -ENFILE) {
			/* No fd for the helper: the shells' connections go first (they see EOF). */
			for (size_t i = 0; i < n; i++)
				shell_disconnect(list[i]);
			pthread_mutex_unlock(&sessions.lock);
			ret = procctl_signal(sessions.cfg.engine, &scope, "KILL", PROCCTL_ALL, pids, npids, err);
			pthread_mutex_lock(&sessions.lock);
		}
		if (ret < 0)
			log_error("clean-up: processes may be left in %s: %s", sessions.cfg.container, err);
	}
	if (!pids || !done)
		log_error("clean-up: out of memory, processes may be left in %s", sessions.cfg.container);
	free(done);
	free(pids);
}

/* An extended regular expression for the markers of the sessions in list. */
static void sessions_marker(struct session **list, size_t n, char *re, size_t size)
{
	int len = snprintf(re, size, "%s=%s\\.(", PROCCTL_ENV_NAME, sessions.mount_token);

	for (size_t i = 0; i < n && len > 0 && (size_t)len < size; i++)
		len += snprintf(re + len, size - len, "%s%010llu", i ? "|" : "", (unsigned long long)list[i]->id);
	if (len > 0 && (size_t)len < size)
		snprintf(re + len, size - len, ")");
}

static void sessions_clean_up(struct job *job);

static void sessions_queue_clean_up(void)
{
	static struct job clean_up = { .run = sessions_clean_up };

	if (sessions.clean_up_queued)
		return;
	sessions.clean_up_queued = true;
	jobs_submit(&clean_up);
}

/*
 * Job: kills what the sessions waiting for their clean-up started, all at
 * once (rmdir answers at once, so many may wait), then lets them go.
 */
static void sessions_clean_up(struct job *job)
{
	struct session *batch[SESSION_CLEAN_UP_BATCH];
	/* On the stack: queued again while it runs, the job may run on both threads at once. */
	char marker[SESSION_CLEAN_UP_BATCH * 11 + SESSION_MARKER_MAX];
	size_t n = 0;
	(void)job;

	pthread_mutex_lock(&sessions.lock);
	sessions.clean_up_queued = false;
	while (!list_empty(&sessions.closing) && n < SESSION_CLEAN_UP_BATCH) {
		batch[n] = list_entry(sessions.closing.next, struct session, in_closing);
		list_del(&batch[n++]->in_closing);
	}
	sessions_marker(batch, n, marker, sizeof(marker));
	sessions_kill(batch, n, marker);
	for (size_t i = 0; i < n; i++) {
		struct session *s = batch[i];
		watchdog_shell_gone(s->shell.id.pid);
		s->state = SESSION_CLOSED;
		shell_disconnect(s);
		/* Pollers learn of the end here, on a job thread: never from inside rmdir's handler. */
		for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
			session_notify_poll(s, (enum session_file)f);
		session_unref(s);	/* the listing's reference, which the closing list held */
	}
	if (!list_empty(&sessions.closing))
		sessions_queue_clean_up();
	pthread_mutex_unlock(&sessions.lock);
}

/*
 * Takes s out of the tree at once; the clean-up job kills what it started
 * (unmount waits for that). The kernel holds sessions/ locked until an
 * rmdir is answered, so it must not wait for the engine. The connection
 * stays open until the kill: closing it would end the shell (EOF), and a
 * hundred rmdirs would flood the engine with exits just as its helper runs.
 * The closing list takes over the listing's reference.
 */
void session_close(struct session *s)
{
	session_unlist(s);
	s->state = SESSION_CLOSING;
	session_watch_update(s);	/* out of the event loop */
	bytequeue_clear(&s->input);
	session_release_parked(s);
	list_add_tail(&sessions.closing, &s->in_closing);	/* with the listing's reference */
	sessions_queue_clean_up();
	warm_refill();	/* a place in max_sessions is free */
}

/* A reader or writer waits on s: someone uses it, however long the wait (a running command alone does not). */
static bool session_has_waiters(const struct session *s)
{
	return !list_empty(&s->out[STREAM_STDOUT].readers) || !list_empty(&s->out[STREAM_STDERR].readers) ||
	       !list_empty(&s->writers);
}

/* Closes sessions nobody wrote to or read from for idle_timeout. */
static void session_close_idle(struct loop_timer *timer)
{
	struct list_node *pos, *tmp;
	int64_t now = loop_now_ns();

	loop_timer_set(sessions.loop, timer, now + SESSION_IDLE_CHECK_NS);
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		bool busy_state = s->state == SESSION_CREATING || s->state == SESSION_RESTARTING;
		if (busy_state || session_has_waiters(s) ||
		    now - s->last_activity_ns < sessions.cfg.idle_timeout_ms * NSEC_PER_MSEC)
			continue;
		log_info("session %s: closed after %lld s without a read or write", s->name,
			 (long long)(sessions.cfg.idle_timeout_ms / 1000));
		notify_entry_gone(INO_SESSIONS, s->name);	/* no rmdir told the kernel */
		session_close(s);
	}
}

/* ---- mkdir / rmdir ---- */

static bool session_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SESSION_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* The mkdir's caller gave up (errnum says why): the name is free, the start is undone later. */
static void session_mkdir_abandon(struct parked *p, int errnum)
{
	struct session *s = p->s;

	log_error("mkdir %s: %s; the shell is stopped in the background", s->name, strerror(errnum));
	reply_err(p->req, errnum);
	s->mkdir = NULL;
	parked_finish(p);
	session_unlist(s);
	session_unref(s);	/* the listing's reference; the starting job holds one */
}

static void session_mkdir_interrupted(struct parked *p)
{
	session_mkdir_abandon(p, EINTR);
}

static void session_mkdir_expired(struct loop_timer *timer)
{
	session_mkdir_abandon(list_entry(timer, struct parked, deadline), ETIMEDOUT);
}

/* Answers the mkdir waiting on s, if it still waits. */
static void session_mkdir_answer(struct session *s, int errnum)
{
	struct parked *p = s->mkdir;
	struct stat st;

	if (!p)
		return;
	if (errnum) {
		reply_err(p->req, errnum);
	} else {
		session_stat_locked(s, SESSION_DIR, &st);
		reply_entry(p->req, &st);
	}
	s->mkdir = NULL;
	parked_finish(p);
}

/*
 * The caller holds a reference of its own. A shell of the warm pool stays
 * there; one a mkdir took while it started answers that mkdir.
 */
void session_start(struct session *s)
{
	char err[ENGINE_ERR_MAX] = "";
	int ret = shell_start(s, err);	/* a failed start leaves no process */

	if (ret == 0 && s->warm) {
		s->state = SESSION_RUNNING;
		session_watch_update(s);
		log_debug("session %s: shell pid %d in %s, warm", s->name, s->shell.id.pid, sessions.cfg.container);
	} else if (ret == 0 && !s->mkdir) {
		/* The mkdir gave up: the started shell goes like an rmdir'ed one, for a reference of its own. */
		session_ref(s);
		session_close(s);
	} else if (ret < 0) {
		if (s->mkdir) {
			log_error("mkdir %s: %s", s->name, err);
			session_unlist(s);
			session_mkdir_answer(s, -ret);
			session_unref(s);	/* the listing's reference */
		} else if (s->warm) {
			warm_start_failed(s, err);
		}
		s->state = SESSION_CLOSED;
		shell_disconnect(s);
		procs_end(s);	/* the cgroup, emptied by the undone start */
	} else {
		s->state = SESSION_RUNNING;
		s->last_activity_ns = loop_now_ns();
		session_watch_update(s);
		session_mkdir_answer(s, 0);
		log_debug("session %s: shell pid %d in %s", s->name, s->shell.id.pid, sessions.cfg.container);
	}
}

/* Job: start the shell, then answer the mkdir, or undo the start if the mkdir gave up. */
static void session_open_run(struct job *j)
{
	struct session_job *job = (struct session_job *)j;

	pthread_mutex_lock(&sessions.lock);
	session_start(job->s);
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

int session_new(const char *name, struct session **out)
{
	struct session *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	if (!s)
		return -ENOMEM;
	if (settings_copy(&s->settings, &sessions.cfg.defaults) < 0 ||
	    (ret = random_hex(s->token, PROMPT_TOKEN_LEN / 2)) < 0) {
		log_error("mkdir %s: %s", name, strerror(-ret));
		settings_free(&s->settings);
		free(s);
		return ret;
	}
	s->id = sessions.next_id++;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->marker, sizeof(s->marker), "%s=%s.%010llu", PROCCTL_ENV_NAME,
		 sessions.mount_token, (unsigned long long)s->id);
	s->state = SESSION_CREATING;
	s->refs = 1;
	s->timeout_ms = sessions.cfg.timeout_ms;
	s->refuse_busy_input = sessions.cfg.refuse_busy_input;
	s->eof_when_idle = true;
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	list_init(&s->in_listing);
	list_init(&s->in_closing);
	list_init(&s->in_pool);
	list_init(&s->writers);
	list_init(&s->handles);
	history_init(s);
	stream_init(s);
	redaction_init(s);
	completion_init(s);
	shell_init(s);
	*out = s;
	return 0;
}

/*
 * A shell of the warm pool becomes the session name, listed as a new one
 * would be: its id, and so its marker, were its own from the start; nothing
 * was written to it yet; its times start now.
 */
static void session_adopt(struct session *s, const char *name)
{
	log_debug("session %s: takes the warm shell %s (pid %d)", name, s->name, s->shell.id.pid);
	snprintf(s->name, sizeof(s->name), "%s", name);
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	for (int i = 0; i < STREAM_COUNT; i++)
		s->out[i].mtime = s->ctime;
	if (s->transcript.mtime.tv_sec)
		s->transcript.mtime = s->ctime;
	s->last_activity_ns = loop_now_ns();
	session_list_add(s);
	warm_refill();
}

/*
 * mkdir returns once the shell runs, within SESSION_MKDIR_LIMIT_NS; an
 * interrupt ends it at once. A ready shell of the warm pool answers at once.
 */
void session_mkdir(struct req *req, const char *name)
{
	struct session *s = NULL;
	struct session_job *job = NULL;
	struct parked *p = NULL;
	struct stat st;
	bool ready = false;
	int err = 0;

	if (!session_name_valid(name)) {
		reply_err(req, EINVAL);
		return;
	}
	req_watch_interrupt(req);
	pthread_mutex_lock(&sessions.lock);
	if (req_interrupted(req)) {
		err = EINTR;
	} else if (session_find_name(name)) {
		err = EEXIST;
	} else if ((s = warm_take())) {
		session_adopt(s, name);
		ready = s->state == SESSION_RUNNING;
		if (ready)
			session_stat_locked(s, SESSION_DIR, &st);
		else if (!(p = parked_new(req, session_mkdir_interrupted, 0, s)))
			err = ENOMEM;	/* its start, seeing it unlisted, stops */
	} else if (sessions.listed >= sessions.cfg.max_sessions) {
		log_error("mkdir %s: %zu sessions already, the most max_sessions allows", name, sessions.listed);
		err = EMFILE;
	} else if ((err = -session_new(name, &s)) == 0 &&
		   (!(job = session_job_new(s, session_open_run, NULL, sizeof(*job))) ||
		    !(p = parked_new(req, session_mkdir_interrupted, 0, s)))) {
		err = ENOMEM;
	}
	if (err) {
		if (job)
			session_job_done(job);
		if (s) {
			session_unlist(s);
			session_unref(s);
		}
	} else if (p) {
		if (job) {
			session_register(s);
			session_list_add(s);
		}
		s->mkdir = p;
		parked_add(p, NULL);
		p->deadline.fire = session_mkdir_expired;
		loop_timer_set(sessions.loop, &p->deadline, loop_now_ns() + SESSION_MKDIR_LIMIT_NS);
	}
	pthread_mutex_unlock(&sessions.lock);
	if (err)
		reply_err(req, err);
	else if (ready)
		reply_entry(req, &st);
	else if (job)
		jobs_submit(&job->job);
}

/* Answered as soon as the session is out of the tree; its processes go within a moment. */
void session_rmdir(struct req *req, const char *name)
{
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_find_name(name);
	if (!s || !session_visible(s))
		ret = -ENOENT;
	else if (s->state == SESSION_RESTARTING)
		ret = -EBUSY;	/* the restart's job owns the shell until it is done */
	else
		session_close(s);
	pthread_mutex_unlock(&sessions.lock);
	reply_err(req, -ret);
}

/* ---- the event loop's fds ---- */

static void sessions_on_fd(uint64_t id, uint32_t events)
{
	struct session *s = id == SESSION_WATCHDOG_ID ? NULL : session_find_id(id >> SHELL_FD_BITS);

	if (id == SESSION_WATCHDOG_ID)
		watchdog_handle_events(events);
	else if (s)
		shell_handle_events(s, (unsigned)(id & ((1u << SHELL_FD_BITS) - 1)), events);
}

/* ---- start and shutdown ---- */

int sessions_init(const struct sessions_config *cfg)
{
	sessions.cfg = *cfg;
	sessions.next_id = 1;
	sessions.started_ns = loop_now_ns();
	list_init(&sessions.listing);
	list_init(&sessions.parked);
	list_init(&sessions.closing);
	loop_timer_init(&sessions.idle_check, session_close_idle);
	int ret = random_hex(sessions.mount_token, 8);
	if (ret < 0)
		return ret;
	sessions.loop = loop_new(&sessions.lock, sessions_on_fd);
	if (!sessions.loop)
		return -errno;
	if (cfg->idle_timeout_ms > 0) {
		pthread_mutex_lock(&sessions.lock);
		loop_timer_set(sessions.loop, &sessions.idle_check, loop_now_ns() + SESSION_IDLE_CHECK_NS);
		pthread_mutex_unlock(&sessions.lock);
	}
	ret = loop_start(sessions.loop);
	if (ret == 0)
		ret = jobs_start(SESSION_JOB_THREADS);
	if (ret == 0) {
		char err[ENGINE_ERR_MAX];
		ret = watchdog_init(err);
		if (ret < 0)
			log_error("cannot start the watchdog exec: %s", err);
	}
	if (ret == 0) {
		pthread_mutex_lock(&sessions.lock);
		warm_init();	/* its shells start once the watchdog can know them */
		pthread_mutex_unlock(&sessions.lock);
	}
	return ret;
}

/* What the mount's sessions started, all of it: their groups, and everything with this mount's marker. */
static void sessions_kill_all(void)
{
	struct session **list = calloc(sessions.next_id, sizeof(*list));
	char marker[SESSION_MARKER_MAX];
	size_t n = 0;

	for (size_t b = 0; list && b < SESSION_HASH_BUCKETS; b++) {
		for (struct session *s = sessions.by_id[b]; s; s = s->id_next) {
			/* A failed restart leaves no shell, and the session's cgroup. */
			if ((s->shell.id.pid > 0 || s->cgroup) && s->state != SESSION_CLOSED)
				list[n++] = s;
		}
	}
	snprintf(marker, sizeof(marker), "%s=%s\\.", PROCCTL_ENV_NAME, sessions.mount_token);
	if (n > 0)
		sessions_kill(list, n, marker);
	free(list);
}

void sessions_shutdown(void)
{
	struct list_node *pos, *tmp;

	if (!sessions.loop)
		return;	/* sessions_init failed before anything started */
	/*
	 * No request comes any more. Answer the parked ones; connections stay
	 * open until the shells are killed: closing them first would make every
	 * shell exit on EOF at once, and the engine, busy with all those exits,
	 * would start the kill helper late.
	 */
	pthread_mutex_lock(&sessions.lock);
	sessions.stopping = true;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (s->state == SESSION_RUNNING) {
			s->state = SESSION_CLOSING;
			session_watch_update(s);	/* out of the event loop */
		}
		session_release_parked(s);
	}
	warm_stop();
	pthread_mutex_unlock(&sessions.lock);
	loop_stop(sessions.loop);
	jobs_stop();	/* pending mkdir, ctl and clean-up jobs finish and answer */
	pthread_mutex_lock(&sessions.lock);
	sessions_kill_all();
	pthread_mutex_unlock(&sessions.lock);
	watchdog_stop();
	/* Whatever is left is ours alone now: free it, open handles included. */
	session_free_all();
	loop_free(sessions.loop);
	sessions.loop = NULL;
}
