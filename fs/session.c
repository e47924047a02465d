/*
 * seshfs: sessions (see session.h).
 *
 * Locking: one mutex, sessions.lock, guards every session, the registry and
 * the parked requests. Nobody holds it across a call to the engine; engine
 * jobs take it only to publish their result. fuse_req_interrupt_func() is
 * never called with the lock held: libfuse calls our interrupt callback with
 * its request lock held, and the callback takes sessions.lock.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../backend/demux.h"
#include "../backend/exec_conn.h"
#include "bytequeue.h"
#include "ctl.h"
#include "engine.h"
#include "list.h"
#include "log.h"
#include "procctl.h"

#define SESSION_HASH_BUCKETS 1024
#define SESSION_START_TIMEOUT_MS 10000
#define SESSION_ENGINE_THREADS 2
#define SESSION_RECV_CHUNK (64 * 1024)
/* Reads per wake-up of one session, so a busy stream cannot starve the others. */
#define SESSION_RECV_BURST 8
#define SESSION_REPLY_IOV 64
#define SESSION_STARTUP_MAX 64
#define SESSION_MARKER_MAX 64
#define NSEC_PER_MSEC INT64_C(1000000)
#define NO_DEADLINE INT64_MAX

enum session_state {
	SESSION_CREATING,	/* name reserved, exec being started by an engine job */
	SESSION_RUNNING,	/* shell runs; its connection is in the I/O loop */
	SESSION_EXITING,	/* stream ended, exit code being fetched */
	SESSION_EXITED,		/* exit code known */
	SESSION_CLOSING,	/* rmdir'ed: processes being killed */
	SESSION_CLOSED,		/* gone; lives on only while files are open */
};

enum session_stream {
	STREAM_STDOUT,
	STREAM_STDERR,
	STREAM_COUNT,
};

/* A FUSE request waiting on a session. */
struct parked {
	fuse_req_t req;
	size_t size;			/* read: most bytes wanted; write: bytes to report */
	int64_t deadline_ns;
	struct list_node in_queue;	/* the session's readers of a stream, or writers */
	struct list_node in_all;	/* sessions.parked, ordered by deadline */
};

struct session_output {
	struct bytequeue queue;
	uint64_t produced;		/* st_size: bytes ever produced */
	struct timespec mtime;		/* time of the last output */
	struct list_node readers;
};

struct session {
	uint64_t id;
	char name[SESSION_NAME_MAX + 1];
	char marker[SESSION_MARKER_MAX];	/* PROCCTL_ENV_NAME=<mount>.<id> */
	enum session_state state;
	unsigned refs;
	bool listed;
	struct session *id_next;
	struct session *name_next;
	struct list_node in_listing;

	char exec_id[DOCKER_EXEC_ID_MAX];
	int shell_pid;			/* in the container; 0 until the pid line came */
	char startup[SESSION_STARTUP_MAX];	/* CREATING: the wrapper's first stdout line */
	size_t startup_len;
	struct exec_conn *conn;
	struct demux demux;
	uint32_t events;		/* epoll interest; 0 = not registered */

	struct session_output out[STREAM_COUNT];
	struct bytequeue input;
	bool input_broken;		/* sending stdin failed: writes get EPIPE */
	struct list_node writers;

	int64_t timeout_ms;
	int exit_code;
	char last_error[CTL_ERR_MAX];
	struct timespec ctime;
	struct list_node handles;
};

struct session_handle {
	struct session *s;
	enum session_file file;
	int64_t deadline_ns;		/* stdout/stderr: open time + timeout */
	char *ctl_text;			/* ctl: snapshot made by the read at offset 0 */
	size_t ctl_len;
	struct list_node in_session;
};

struct session_job {
	struct engine_job job;
	struct session *s;
	fuse_req_t req;
	size_t reply_size;
	int signal_count;
	const char *signals[CTL_MAX_COMMANDS];
};

static struct {
	pthread_mutex_t lock;
	struct sessions_config cfg;
	char mount_token[17];
	uint64_t next_id;
	struct session *by_id[SESSION_HASH_BUCKETS];
	struct session *by_name[SESSION_HASH_BUCKETS];
	struct list_node listing;	/* listed sessions, creation order */
	struct list_node parked;	/* every parked request, by deadline */
	int epoll_fd;
	int wake_fd;
	pthread_t io_thread;
	bool io_running;
	bool stopping;
} sessions = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.epoll_fd = -1,
	.wake_fd = -1,
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* ---- registry ---- */

static unsigned name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % SESSION_HASH_BUCKETS;
}

static struct session *registry_find_id(uint64_t id)
{
	struct session *s = sessions.by_id[id % SESSION_HASH_BUCKETS];

	while (s && s->id != id)
		s = s->id_next;
	return s;
}

static struct session *registry_find_name(const char *name)
{
	struct session *s = sessions.by_name[name_bucket(name)];

	while (s && strcmp(s->name, name) != 0)
		s = s->name_next;
	return s;
}

static void registry_unlink(struct session **slot, struct session *s, size_t next_offset)
{
	while (*slot && *slot != s)
		slot = (struct session **)((char *)*slot + next_offset);
	if (*slot)
		*slot = *(struct session **)((char *)s + next_offset);
}

static void registry_unlist(struct session *s)
{
	if (!s->listed)
		return;
	registry_unlink(&sessions.by_name[name_bucket(s->name)], s, offsetof(struct session, name_next));
	list_del(&s->in_listing);
	s->listed = false;
}

static bool session_visible(const struct session *s)
{
	return s->listed && s->state != SESSION_CREATING;
}

static void session_free(struct session *s)
{
	registry_unlink(&sessions.by_id[s->id % SESSION_HASH_BUCKETS], s, offsetof(struct session, id_next));
	exec_conn_close(s->conn);
	for (int i = 0; i < STREAM_COUNT; i++)
		bytequeue_clear(&s->out[i].queue);
	bytequeue_clear(&s->input);
	free(s);
}

static void session_unref(struct session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

/* ---- parked requests ---- */

static void parked_wake_io(void)
{
	uint64_t one = 1;

	if (write(sessions.wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("cannot wake the I/O loop: %s", strerror(errno));
}

/* Queues p behind the session's queue and in deadline order; wakes the loop if p is now first. */
static void parked_add(struct parked *p, struct list_node *queue)
{
	struct list_node *at = &sessions.parked;

	list_add_tail(queue, &p->in_queue);
	while (at->prev != &sessions.parked &&
	       list_entry(at->prev, struct parked, in_all)->deadline_ns > p->deadline_ns)
		at = at->prev;
	list_insert_before(at, &p->in_all);
	if (sessions.parked.next == &p->in_all && p->deadline_ns != NO_DEADLINE)
		parked_wake_io();
}

static void parked_remove(struct parked *p)
{
	list_del(&p->in_queue);
	list_del(&p->in_all);
}

static void session_interrupted(fuse_req_t req, void *data)
{
	struct list_node *pos, *tmp;
	(void)data;

	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &sessions.parked) {
		struct parked *p = list_entry(pos, struct parked, in_all);
		if (p->req == req) {
			parked_remove(p);
			fuse_reply_err(req, EINTR);
			free(p);
			break;
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- output: exec stream -> buffers -> readers ---- */

static bool session_stream_ended(const struct session *s)
{
	return s->state != SESSION_RUNNING && s->state != SESSION_CREATING;
}

static bool session_output_full(const struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++) {
		if (s->out[i].queue.len >= sessions.cfg.bufsize)
			return true;
	}
	return false;
}

static void session_update_events(struct session *s)
{
	uint32_t want = 0;
	int op;

	if (s->state == SESSION_RUNNING && s->conn) {
		if (!session_output_full(s))
			want |= EPOLLIN;
		if (s->input.len > 0 && !s->input_broken)
			want |= EPOLLOUT;
	}
	if (want == s->events)
		return;
	/* Unregister rather than wait on nothing: EPOLLHUP would fire regardless. */
	op = want == 0 ? EPOLL_CTL_DEL : s->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	struct epoll_event ev = { .events = want, .data.u64 = s->id };
	if (epoll_ctl(sessions.epoll_fd, op, exec_conn_fd(s->conn), &ev) < 0)
		log_error("session %s: epoll_ctl: %s", s->name, strerror(errno));
	s->events = want;
}

/* Replies with up to size bytes from q (0 bytes is EOF) and consumes what was sent. */
static void reply_from_queue(fuse_req_t req, struct bytequeue *q, size_t size)
{
	struct iovec iov[SESSION_REPLY_IOV];
	int count = bytequeue_peek(q, size, iov, SESSION_REPLY_IOV);
	size_t len = 0;

	for (int i = 0; i < count; i++)
		len += iov[i].iov_len;
	/* A failed reply means the reader is gone: keep the bytes for the next one. */
	if (count == 0)
		fuse_reply_buf(req, NULL, 0);
	else if (fuse_reply_iov(req, iov, count) == 0)
		bytequeue_drop(q, len);
}

/* Answers the parked readers of one stream that can be answered now. */
static void session_serve_readers(struct session *s, enum session_stream stream)
{
	struct session_output *o = &s->out[stream];

	while (!list_empty(&o->readers) && (o->queue.len > 0 || session_stream_ended(s))) {
		struct parked *p = list_entry(o->readers.next, struct parked, in_queue);
		parked_remove(p);
		reply_from_queue(p->req, &o->queue, p->size);
		free(p);
	}
}

static void session_serve_writers(struct session *s)
{
	bool broken = s->input_broken || s->state != SESSION_RUNNING;

	while (!list_empty(&s->writers) && (broken || s->input.len <= sessions.cfg.bufsize)) {
		struct parked *p = list_entry(s->writers.next, struct parked, in_queue);
		parked_remove(p);
		if (broken)
			fuse_reply_err(p->req, EPIPE);
		else
			fuse_reply_write(p->req, p->size);
		free(p);
	}
}

/* CREATING: the wrapper's first stdout line is the shell's pid; the rest is output. */
static void session_take_startup(struct session *s, const char **data, size_t *len)
{
	while (*len > 0 && s->shell_pid == 0 && s->startup_len < sizeof(s->startup) - 1) {
		char c = **data;
		(*data)++;
		(*len)--;
		if (c == '\n') {
			char *end;
			long pid = strtol(s->startup, &end, 10);
			if (s->startup_len > 0 && *end == '\0' && pid > 0 && pid < INT32_MAX)
				s->shell_pid = (int)pid;
			else
				s->startup_len = sizeof(s->startup) - 1;	/* not a pid: fail */
			return;
		}
		s->startup[s->startup_len++] = c;
		s->startup[s->startup_len] = '\0';
	}
}

static void session_sink(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct session *s = ctx;
	enum session_stream which = stream == DEMUX_STDERR ? STREAM_STDERR : STREAM_STDOUT;

	if (which == STREAM_STDOUT && s->shell_pid == 0)
		session_take_startup(s, &data, &len);
	if (len == 0)
		return;
	if (bytequeue_push(&s->out[which].queue, data, len) < 0) {
		log_error("session %s: out of memory, %zu bytes of output lost", s->name, len);
		return;
	}
	s->out[which].produced += len;
	clock_gettime(CLOCK_REALTIME, &s->out[which].mtime);
}

enum pump_result {
	PUMP_AGAIN,	/* nothing more to read now */
	PUMP_FULL,	/* buffers full: reading paused */
	PUMP_ENDED,	/* end of stream or a broken connection */
};

static enum pump_result session_pump_in(struct session *s)
{
	static char buf[SESSION_RECV_CHUNK];	/* used under sessions.lock only */
	enum pump_result result = PUMP_AGAIN;

	for (int burst = 0; burst < SESSION_RECV_BURST; burst++) {
		if (session_output_full(s)) {
			result = PUMP_FULL;
			break;
		}
		ssize_t n = exec_conn_recv(s->conn, buf, sizeof(buf));
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			result = PUMP_ENDED;
			break;
		}
		if (demux_feed(&s->demux, buf, n, session_sink, s) < 0) {
			log_error("session %s: malformed stream from the engine", s->name);
			result = PUMP_ENDED;
			break;
		}
	}
	session_serve_readers(s, STREAM_STDOUT);
	session_serve_readers(s, STREAM_STDERR);
	return result;
}

static void session_pump_out(struct session *s)
{
	while (s->input.len > 0 && !s->input_broken) {
		struct iovec iov;
		bytequeue_peek(&s->input, s->input.len, &iov, 1);
		ssize_t n = exec_conn_send(s->conn, iov.iov_base, iov.iov_len);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			log_error("session %s: stdin: %s", s->name, strerror((int)-n));
			s->input_broken = true;
			bytequeue_clear(&s->input);
			break;
		}
		bytequeue_drop(&s->input, n);
	}
	session_serve_writers(s);
	session_update_events(s);
}

static void session_inspect_run(struct engine_job *job);
static void session_stat_locked(struct session *s, enum session_file file, struct stat *st);

static struct session_job *session_job_new(struct session *s, void (*run)(struct engine_job *),
					   fuse_req_t req)
{
	struct session_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->job.run = run;
	job->s = s;
	job->req = req;
	s->refs++;
	return job;
}

/* Answers everything parked on s: readers get what is left then EOF, writers EPIPE. */
static void session_release_parked(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		session_serve_readers(s, (enum session_stream)i);
	session_serve_writers(s);
}

/* Stops moving bytes: out of the I/O loop, connection closed, pending input dropped. */
static void session_disconnect(struct session *s)
{
	session_update_events(s);	/* state is no longer RUNNING: unregisters */
	exec_conn_close(s->conn);
	s->conn = NULL;
	bytequeue_clear(&s->input);
}

/* RUNNING -> EXITING: the shell is gone. */
static void session_exit(struct session *s)
{
	s->state = SESSION_EXITING;
	session_disconnect(s);
	session_release_parked(s);
	struct session_job *job = session_job_new(s, session_inspect_run, NULL);
	if (job)
		engine_submit(&job->job);
	else
		s->state = SESSION_EXITED;
	log_debug("session %s: shell exited", s->name);
}

/* ---- the I/O loop ---- */

static int io_timeout_ms(void)
{
	if (list_empty(&sessions.parked))
		return -1;
	int64_t deadline = list_entry(sessions.parked.next, struct parked, in_all)->deadline_ns;
	if (deadline == NO_DEADLINE)
		return -1;
	int64_t left = deadline - now_ns();
	if (left <= 0)
		return 0;
	return (int)((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

static void io_expire_deadlines(void)
{
	int64_t now = now_ns();

	while (!list_empty(&sessions.parked)) {
		struct parked *p = list_entry(sessions.parked.next, struct parked, in_all);
		if (p->deadline_ns > now)
			break;
		parked_remove(p);
		fuse_reply_buf(p->req, NULL, 0);	/* only reads have deadlines */
		free(p);
	}
}

static void io_handle(uint64_t id, uint32_t events)
{
	struct session *s = registry_find_id(id);

	/* Events of a connection closed since epoll_wait returned are stale. */
	if (!s || s->state != SESSION_RUNNING || !s->conn)
		return;
	if (events & EPOLLOUT)
		session_pump_out(s);
	if (s->state == SESSION_RUNNING && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (session_pump_in(s) == PUMP_ENDED)
			session_exit(s);
		else
			session_update_events(s);
	}
}

static void *io_main(void *arg)
{
	struct epoll_event events[64];
	(void)arg;

	pthread_mutex_lock(&sessions.lock);
	while (!sessions.stopping) {
		int timeout = io_timeout_ms();
		pthread_mutex_unlock(&sessions.lock);
		int n = epoll_wait(sessions.epoll_fd, events, 64, timeout);
		pthread_mutex_lock(&sessions.lock);
		for (int i = 0; i < n; i++) {
			if (events[i].data.u64 == UINT64_MAX) {
				uint64_t count;
				if (read(sessions.wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					log_error("I/O loop: wake-up read: %s", strerror(errno));
				continue;
			}
			io_handle(events[i].data.u64, events[i].events);
		}
		io_expire_deadlines();
	}
	pthread_mutex_unlock(&sessions.lock);
	return NULL;
}

/* ---- engine jobs ---- */

static void session_job_done(struct session_job *job)
{
	session_unref(job->s);
	free(job);
}

static void session_inspect_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	struct docker_exec_status status = { 0 };
	char err[DOCKER_ERR_MAX];
	int ret = docker_exec_inspect(sessions.cfg.docker, s->exec_id, &status, err);

	pthread_mutex_lock(&sessions.lock);
	if (ret < 0 || !status.has_exit_code) {
		log_error("session %s: cannot read the shell's exit code: %s", s->name,
			  ret < 0 ? err : "engine reports none");
		snprintf(s->last_error, sizeof(s->last_error), "exit code unknown");
	}
	s->exit_code = status.exit_code;
	if (s->state == SESSION_EXITING)
		s->state = SESSION_EXITED;
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static int errno_from_start(int ret)
{
	switch (ret) {
	case -ENOENT:
	case -ESRCH:
		return ESRCH;	/* container gone or stopped */
	case -ECONNREFUSED:
		return ECONNREFUSED;
	case -ETIMEDOUT:
		return ETIMEDOUT;
	default:
		return EIO;
	}
}

/* Engine thread: create and start the exec, then wait for the shell's pid line. */
static int session_start_exec(struct session *s, char err[DOCKER_ERR_MAX])
{
	const char *argv[5];
	const char *env[] = { s->marker, NULL };
	char exec_id[DOCKER_EXEC_ID_MAX];
	int64_t deadline = now_ns() + SESSION_START_TIMEOUT_MS * NSEC_PER_MSEC;

	procctl_shell_argv(sessions.cfg.shell, argv);
	struct docker_exec_spec spec = {
		.container = sessions.cfg.container,
		.argv = argv,
		.env = env,
		.attach_stdin = true,
	};
	int ret = docker_exec_create(sessions.cfg.docker, &spec, exec_id, err);
	if (ret < 0)
		return -errno_from_start(ret);
	struct exec_conn *conn = exec_conn_start(sessions.cfg.docker, exec_id, false,
						 SESSION_START_TIMEOUT_MS, err);
	if (!conn)
		return -EIO;

	pthread_mutex_lock(&sessions.lock);
	strcpy(s->exec_id, exec_id);
	s->conn = conn;
	demux_init(&s->demux, false);
	for (;;) {
		enum pump_result result = session_pump_in(s);
		if (s->shell_pid > 0)
			break;
		if (result == PUMP_ENDED || s->startup_len >= sizeof(s->startup) - 1) {
			snprintf(err, DOCKER_ERR_MAX, "shell did not start: %s",
				 s->startup_len ? s->startup : "exec ended at once");
			ret = s->startup_len && strstr(s->startup, "not found") ? -ENOENT : -EIO;
			break;
		}
		pthread_mutex_unlock(&sessions.lock);
		int64_t left_ms = (deadline - now_ns()) / NSEC_PER_MSEC;
		int ready = left_ms > 0 ? exec_conn_wait(conn, POLLIN, (int)left_ms) : 0;
		pthread_mutex_lock(&sessions.lock);
		if (ready <= 0) {
			snprintf(err, DOCKER_ERR_MAX, "shell did not start within %d ms",
				 SESSION_START_TIMEOUT_MS);
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&sessions.lock);
	return ret;
}

static void session_open_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";
	int ret = session_start_exec(s, err);

	pthread_mutex_lock(&sessions.lock);
	if (ret == 0 && sessions.stopping) {
		snprintf(err, sizeof(err), "unmounting");
		ret = -ENODEV;
	}
	if (ret < 0) {
		log_error("mkdir %s: %s", s->name, err);
		registry_unlist(s);
		s->state = SESSION_CLOSED;
		fuse_reply_err(job->req, -ret);
		session_unref(s);	/* the listing's reference */
	} else {
		struct fuse_entry_param entry = { .ino = session_ino(s->id, SESSION_DIR) };
		s->state = SESSION_RUNNING;
		session_update_events(s);
		session_stat_locked(s, SESSION_DIR, &entry.attr);
		fuse_reply_entry(job->req, &entry);
		log_debug("session %s: shell pid %d in %s", s->name, s->shell_pid, sessions.cfg.container);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_signal_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";
	int ret = 0;

	for (int i = 0; i < job->signal_count && ret == 0; i++)
		ret = procctl_signal(sessions.cfg.docker, sessions.cfg.container, job->signals[i],
				     PROCCTL_FOREGROUND, s->marker, &s->shell_pid, 1, err);
	pthread_mutex_lock(&sessions.lock);
	if (ret < 0) {
		log_error("session %s: signal: %s", s->name, err);
		snprintf(s->last_error, sizeof(s->last_error), "signal: %s", err);
		fuse_reply_err(job->req, EIO);
	} else {
		fuse_reply_write(job->req, job->reply_size);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_close_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";
	int ret = procctl_signal(sessions.cfg.docker, sessions.cfg.container, "KILL",
				 PROCCTL_ALL, s->marker, &s->shell_pid, 1, err);

	if (ret < 0)
		log_error("rmdir %s: processes may be left in %s: %s", s->name, sessions.cfg.container, err);
	pthread_mutex_lock(&sessions.lock);
	exec_conn_close(s->conn);
	s->conn = NULL;
	s->state = SESSION_CLOSED;
	fuse_reply_err(job->req, 0);
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- mkdir / rmdir ---- */

bool session_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SESSION_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

void session_mkdir(fuse_req_t req, const char *name)
{
	struct session *s = NULL;
	struct session_job *job = NULL;

	if (!session_name_valid(name)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&sessions.lock);
	if (registry_find_name(name)) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, EEXIST);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto nomem;
	s->id = sessions.next_id++;
	strcpy(s->name, name);
	snprintf(s->marker, sizeof(s->marker), "%s=%s.%010llu", PROCCTL_ENV_NAME,
		 sessions.mount_token, (unsigned long long)s->id);
	s->state = SESSION_CREATING;
	s->refs = 1;	/* the listing's */
	s->timeout_ms = sessions.cfg.timeout_ms;
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	for (int i = 0; i < STREAM_COUNT; i++) {
		list_init(&s->out[i].readers);
		s->out[i].mtime = s->ctime;
	}
	list_init(&s->writers);
	list_init(&s->handles);
	job = session_job_new(s, session_open_run, req);
	if (!job)
		goto nomem;
	s->id_next = sessions.by_id[s->id % SESSION_HASH_BUCKETS];
	sessions.by_id[s->id % SESSION_HASH_BUCKETS] = s;
	s->name_next = sessions.by_name[name_bucket(name)];
	sessions.by_name[name_bucket(name)] = s;
	list_add_tail(&sessions.listing, &s->in_listing);
	s->listed = true;
	pthread_mutex_unlock(&sessions.lock);
	engine_submit(&job->job);
	return;
nomem:
	pthread_mutex_unlock(&sessions.lock);
	free(s);
	fuse_reply_err(req, ENOMEM);
}

void session_rmdir(fuse_req_t req, const char *name)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = registry_find_name(name);
	if (!s || !session_visible(s)) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct session_job *job = session_job_new(s, session_close_run, req);
	if (!job) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	registry_unlist(s);
	s->state = SESSION_CLOSING;
	session_disconnect(s);
	session_release_parked(s);
	session_unref(s);	/* the listing's reference; the job holds one */
	pthread_mutex_unlock(&sessions.lock);
	engine_submit(&job->job);
}

/* ---- lookups and attributes ---- */

struct session *session_get_by_name(const char *name)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = registry_find_name(name);
	if (s && session_visible(s))
		s->refs++;
	else
		s = NULL;
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

struct session *session_get_by_id(uint64_t id)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = registry_find_id(id);
	if (s && session_visible(s))
		s->refs++;
	else
		s = NULL;
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

void session_put(struct session *s)
{
	pthread_mutex_lock(&sessions.lock);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}

uint64_t session_id(const struct session *s)
{
	return s->id;
}

static void stat_common(struct stat *st, fuse_ino_t ino, mode_t mode, struct timespec when)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = when;
}

void session_root_stat(fuse_ino_t ino, struct stat *st)
{
	static struct timespec mounted;

	if (mounted.tv_sec == 0)
		clock_gettime(CLOCK_REALTIME, &mounted);
	stat_common(st, ino, S_IFDIR | 0755, mounted);
}

static void session_stat_locked(struct session *s, enum session_file file, struct stat *st)
{
	static const mode_t modes[SESSION_FILE_COUNT] = {
		[SESSION_DIR] = S_IFDIR | 0755,
		[SESSION_STDIN] = S_IFREG | 0200,
		[SESSION_STDOUT] = S_IFREG | 0400,
		[SESSION_STDERR] = S_IFREG | 0400,
		[SESSION_CTL] = S_IFREG | 0600,
	};
	stat_common(st, session_ino(s->id, file), modes[file], s->ctime);
	if (file == SESSION_STDOUT || file == SESSION_STDERR) {
		struct session_output *o = &s->out[file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR];
		st->st_size = (off_t)o->produced;
		st->st_mtim = o->mtime;
	}
}

void session_stat(struct session *s, enum session_file file, struct stat *st)
{
	pthread_mutex_lock(&sessions.lock);
	session_stat_locked(s, file, st);
	pthread_mutex_unlock(&sessions.lock);
}

void session_list(void (*fn)(void *ctx, const char *name, uint64_t id), void *ctx)
{
	struct list_node *pos, *tmp;

	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (session_visible(s))
			fn(ctx, s->name, s->id);
	}
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- open files ---- */

int session_open(struct session *s, enum session_file file, int flags, struct session_handle **out)
{
	int accmode = flags & O_ACCMODE;
	bool allowed;

	switch (file) {
	case SESSION_STDIN:
		allowed = accmode == O_WRONLY;
		break;
	case SESSION_STDOUT:
	case SESSION_STDERR:
		allowed = accmode == O_RDONLY;
		break;
	case SESSION_CTL:
		allowed = true;
		break;
	default:
		return -EISDIR;
	}
	if (!allowed)
		return -EACCES;

	struct session_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&sessions.lock);
	h->s = s;
	h->file = file;
	h->deadline_ns = now_ns() + s->timeout_ms * NSEC_PER_MSEC;
	s->refs++;
	list_add_tail(&s->handles, &h->in_session);
	pthread_mutex_unlock(&sessions.lock);
	*out = h;
	return 0;
}

struct session *session_handle_session(struct session_handle *h)
{
	return h->s;
}

bool session_file_truncatable(enum session_file file)
{
	return file == SESSION_STDIN || file == SESSION_CTL;
}

static const char *session_state_name(const struct session *s)
{
	switch (s->state) {
	case SESSION_CREATING:
		return "starting";
	case SESSION_RUNNING:
		return "running";
	case SESSION_EXITING:
	case SESSION_EXITED:
		return "exited";
	default:
		return "closed";
	}
}

static int session_ctl_format(struct session *s, char **text)
{
	char timeout[32];

	ctl_format_seconds(s->timeout_ms, timeout, sizeof(timeout));
	char exit_line[32] = "";
	if (s->state == SESSION_EXITED)
		snprintf(exit_line, sizeof(exit_line), "exit_code %d\n", s->exit_code);
	int len = asprintf(text,
			   "state %s\n"
			   "%s"
			   "timeout %s\n"
			   "container %s\n"
			   "exec_id %s\n"
			   "pid %d\n"
			   "%s%s%s",
			   session_state_name(s), exit_line, timeout, sessions.cfg.container,
			   s->exec_id, s->shell_pid,
			   s->last_error[0] ? "error " : "", s->last_error, s->last_error[0] ? "\n" : "");
	return len < 0 ? -ENOMEM : len;
}

static void session_ctl_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off)
{
	pthread_mutex_lock(&sessions.lock);
	if (off == 0 || !h->ctl_text) {
		free(h->ctl_text);
		h->ctl_text = NULL;
		int len = session_ctl_format(h->s, &h->ctl_text);
		if (len < 0) {
			h->ctl_text = NULL;
			pthread_mutex_unlock(&sessions.lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		h->ctl_len = (size_t)len;
	}
	size_t start = (size_t)off < h->ctl_len ? (size_t)off : h->ctl_len;
	size_t n = h->ctl_len - start < size ? h->ctl_len - start : size;
	fuse_reply_buf(req, h->ctl_text + start, n);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_stream_read(fuse_req_t req, struct session_handle *h, size_t size, int flags)
{
	struct session *s = h->s;
	enum session_stream stream = h->file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR;
	struct session_output *o = &s->out[stream];

	/* Registered before looking, so an interrupt can never slip between the two. */
	fuse_req_interrupt_func(req, session_interrupted, NULL);
	pthread_mutex_lock(&sessions.lock);
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
	} else if (list_empty(&o->readers) && (o->queue.len > 0 || session_stream_ended(s))) {
		reply_from_queue(req, &o->queue, size);
		session_update_events(s);
	} else if (flags & O_NONBLOCK) {
		fuse_reply_err(req, EAGAIN);
	} else if (now_ns() >= h->deadline_ns) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		struct parked *p = calloc(1, sizeof(*p));
		if (!p) {
			fuse_reply_err(req, ENOMEM);
		} else {
			*p = (struct parked){ .req = req, .size = size, .deadline_ns = h->deadline_ns };
			parked_add(p, &o->readers);
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

void session_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off, int flags)
{
	if (h->file == SESSION_CTL)
		session_ctl_read(req, h, size, off);
	else if (h->file == SESSION_STDOUT || h->file == SESSION_STDERR)
		session_stream_read(req, h, size, flags);
	else
		fuse_reply_err(req, EBADF);
}

static void session_stdin_write(fuse_req_t req, struct session *s, const char *buf, size_t size)
{
	size_t sent = 0;

	fuse_req_interrupt_func(req, session_interrupted, NULL);
	pthread_mutex_lock(&sessions.lock);
	if (s->state != SESSION_RUNNING || s->input_broken) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, EPIPE);
		return;
	}
	/* Fast path: nothing queued, so the bytes may go straight to the socket. */
	if (s->input.len == 0) {
		ssize_t n = exec_conn_send(s->conn, buf, size);
		if (n > 0)
			sent = (size_t)n;
		else if (n != -EAGAIN)
			s->input_broken = true;
	}
	if (s->input_broken) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, EPIPE);
		return;
	}
	if (sent < size && bytequeue_push(&s->input, buf + sent, size - sent) < 0) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, sent ? EIO : ENOMEM);
		return;
	}
	session_update_events(s);
	if (s->input.len <= sessions.cfg.bufsize && list_empty(&s->writers)) {
		fuse_reply_write(req, size);
	} else {
		struct parked *p = calloc(1, sizeof(*p));
		if (!p) {
			fuse_reply_write(req, size);	/* the bytes are queued already */
		} else {
			*p = (struct parked){ .req = req, .size = size, .deadline_ns = NO_DEADLINE };
			parked_add(p, &s->writers);
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

static void session_ctl_write(fuse_req_t req, struct session *s, const char *buf, size_t size)
{
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	int count = ctl_parse(buf, size, cmds, err);
	struct session_job *job = NULL;

	pthread_mutex_lock(&sessions.lock);
	if (count < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", err);
		log_info("session %s: ctl: %s", s->name, err);
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, EINVAL);
		return;
	}
	int signal_count = 0;
	for (int i = 0; i < count; i++)
		signal_count += cmds[i].verb == CTL_SIGNAL;
	if (signal_count > 0) {
		if (s->state != SESSION_RUNNING || s->shell_pid <= 0) {
			snprintf(s->last_error, sizeof(s->last_error), "signal: the shell is not running");
			pthread_mutex_unlock(&sessions.lock);
			fuse_reply_err(req, ESRCH);
			return;
		}
		job = session_job_new(s, session_signal_run, req);
		if (!job) {
			pthread_mutex_unlock(&sessions.lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		job->reply_size = size;
	}
	for (int i = 0; i < count; i++) {
		if (cmds[i].verb == CTL_TIMEOUT)
			s->timeout_ms = cmds[i].timeout_ms;
		else
			job->signals[job->signal_count++] = cmds[i].signal;
	}
	s->last_error[0] = '\0';
	pthread_mutex_unlock(&sessions.lock);
	if (job)
		engine_submit(&job->job);
	else
		fuse_reply_write(req, size);
}

void session_write(fuse_req_t req, struct session_handle *h, const char *buf, size_t size)
{
	if (h->file == SESSION_STDIN)
		session_stdin_write(req, h->s, buf, size);
	else if (h->file == SESSION_CTL)
		session_ctl_write(req, h->s, buf, size);
	else
		fuse_reply_err(req, EBADF);
}

void session_release(struct session_handle *h)
{
	pthread_mutex_lock(&sessions.lock);
	list_del(&h->in_session);
	session_unref(h->s);
	pthread_mutex_unlock(&sessions.lock);
	free(h->ctl_text);
	free(h);
}

/* ---- start and shutdown ---- */

int sessions_init(const struct sessions_config *cfg)
{
	unsigned char random[8];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, random, sizeof(random)) != sizeof(random)) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(random); i++)
		snprintf(sessions.mount_token + 2 * i, 3, "%02x", random[i]);
	sessions.cfg = *cfg;
	sessions.next_id = 1;
	list_init(&sessions.listing);
	list_init(&sessions.parked);
	sessions.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	sessions.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sessions.epoll_fd < 0 || sessions.wake_fd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	if (epoll_ctl(sessions.epoll_fd, EPOLL_CTL_ADD, sessions.wake_fd, &ev) < 0)
		return -errno;
	int err = pthread_create(&sessions.io_thread, NULL, io_main, NULL);
	if (err)
		return -err;
	sessions.io_running = true;
	return engine_start(SESSION_ENGINE_THREADS);
}

void sessions_shutdown(void)
{
	struct list_node *pos, *tmp;

	/* No FUSE request comes any more. Answer the parked ones and close every shell. */
	pthread_mutex_lock(&sessions.lock);
	sessions.stopping = true;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (s->state == SESSION_RUNNING) {
			s->state = SESSION_CLOSING;
			session_disconnect(s);
		}
		session_release_parked(s);
	}
	pthread_mutex_unlock(&sessions.lock);
	parked_wake_io();
	if (sessions.io_running)
		pthread_join(sessions.io_thread, NULL);
	engine_stop();	/* pending mkdir/rmdir/signal jobs finish and answer */

	/* One helper kills what every session of this mount started. */
	size_t npids = 0;
	int *pids = calloc(sessions.next_id, sizeof(*pids));
	for (size_t b = 0; pids && b < SESSION_HASH_BUCKETS; b++) {
		for (struct session *s = sessions.by_id[b]; s; s = s->id_next) {
			if (s->shell_pid > 0 && s->state != SESSION_CLOSED)
				pids[npids++] = s->shell_pid;
		}
	}
	char marker[SESSION_MARKER_MAX];
	char err[DOCKER_ERR_MAX];
	snprintf(marker, sizeof(marker), "%s=%s.", PROCCTL_ENV_NAME, sessions.mount_token);
	if (npids > 0 && procctl_signal(sessions.cfg.docker, sessions.cfg.container, "KILL",
					PROCCTL_ALL, marker, pids, npids, err) < 0)
		log_error("unmount: processes may be left in %s: %s", sessions.cfg.container, err);
	free(pids);

	/* Whatever is left is ours alone now: free it, open handles included. */
	for (size_t b = 0; b < SESSION_HASH_BUCKETS; b++) {
		while (sessions.by_id[b]) {
			struct session *s = sessions.by_id[b];
			list_for_each_safe(pos, tmp, &s->handles) {
				struct session_handle *h = list_entry(pos, struct session_handle, in_session);
				list_del(&h->in_session);
				free(h->ctl_text);
				free(h);
			}
			registry_unlist(s);
			session_free(s);
		}
	}
	if (sessions.epoll_fd >= 0)
		close(sessions.epoll_fd);
	if (sessions.wake_fd >= 0)
		close(sessions.wake_fd);
}
