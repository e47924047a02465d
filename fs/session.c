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
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
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
#include "prompt.h"

#define SESSION_HASH_BUCKETS 1024
#define SESSION_START_TIMEOUT_MS 10000
#define SESSION_ENGINE_THREADS 2
#define SESSION_RECV_CHUNK (64 * 1024)
/* Reads per wake-up of one session, so a busy stream cannot starve the others. */
#define SESSION_RECV_BURST 8
#define SESSION_REPLY_IOV 64
#define SESSION_STARTUP_MAX 64
#define SESSION_MARKER_MAX 64
#define SESSION_IDLE_CHECK_MS 1000
/* Quiet time after a prompt, and after the last input, before asking the shell's state. */
#define SESSION_PROBE_DELAY_MS 100
#define NSEC_PER_MSEC INT64_C(1000000)
#define NO_DEADLINE INT64_MAX
/* epoll data of the loop's own fds; sessions use their id. */
#define IO_WAKE_ID UINT64_MAX
#define IO_TIMER_ID (UINT64_MAX - 1)

enum session_state {
	SESSION_CREATING,	/* name reserved, exec being started by an engine job */
	SESSION_RUNNING,	/* shell runs; its connection is in the I/O loop */
	SESSION_RESTARTING,	/* old shell being killed, new one started by an engine job */
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

/* What belongs to one shell: reset when a restart starts another. */
struct session_shell {
	char exec_id[DOCKER_EXEC_ID_MAX];
	int pid;			/* in the container; 0 until the pid line came */
	char startup[SESSION_STARTUP_MAX];	/* the wrapper's first stdout line */
	size_t startup_len;
	bool tty;
	struct exec_conn *conn;
	struct demux demux;
	uint32_t events;		/* epoll interest; 0 = not registered */
	bool input_broken;		/* sending stdin failed: writes get EPIPE */
	/* Completion (pipe sessions, see prompt.h). */
	bool setup_sent;
	struct prompt_scanner scanner[STREAM_COUNT];
	uint64_t markers[STREAM_COUNT];	/* markers seen per stream, the set-up one included */
	uint64_t prompts;		/* prompts complete on both streams, after the set-up one */
	uint64_t lines_sent;		/* newlines written to stdin since the set-up line */
	enum prompt_kind last_kind;
	bool probing;			/* a waiting probe (see session_probe_run) is out */
	bool has_last_exit;
	int last_exit;
	int exit_code;			/* EXITED */
};

struct session {
	uint64_t id;
	char name[SESSION_NAME_MAX + 1];
	char marker[SESSION_MARKER_MAX];	/* PROCCTL_ENV_NAME=<mount>.<id> */
	char token[PROMPT_TOKEN_LEN + 1];
	enum session_state state;
	unsigned refs;
	bool listed;
	struct session *id_next;
	struct session *name_next;
	struct list_node in_listing;

	struct session_shell shell;
	struct session_settings settings;
	struct session_output out[STREAM_COUNT];
	struct bytequeue input;
	struct list_node writers;
	/* Input and output in the order they happened; offsets count from the first byte ever. */
	struct bytequeue transcript;
	uint64_t transcript_end;
	struct timespec transcript_mtime;

	int64_t timeout_ms;
	bool eof_when_idle;
	int64_t last_activity_ns;	/* last stdin write or stream read, for idle_timeout */
	int64_t last_input_ns;		/* last stdin write */
	int64_t probe_at_ns;		/* in sessions.probes: when to ask the shell's state */
	struct list_node in_probes;
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
	struct fuse_pollhandle *poll;	/* to notify when the file becomes ready */
	struct list_node in_session;
};

/* What a ctl write asks of the engine, done in this order, then answered. */
struct session_job {
	struct engine_job job;
	struct session *s;
	fuse_req_t req;
	size_t reply_size;
	int signal_count;
	const char *signals[CTL_MAX_COMMANDS];
	bool resize;
	bool restart;
	uint64_t lines_sent;	/* probe: the counts when it started */
	uint64_t prompts;
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
	struct list_node probes;	/* sessions with a waiting probe scheduled */
	int64_t next_idle_check_ns;
	int epoll_fd;
	int wake_fd;		/* shutdown */
	int timer_fd;		/* the next deadline, probe or idle check */
	int64_t timer_armed_ns;	/* what timer_fd is set to; NO_DEADLINE: disarmed */
	pthread_t io_thread;
	bool io_running;
	bool stopping;
} sessions = {
	/* Held for microseconds: spinning a little beats sleeping on a 2-core machine. */
	.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
	.epoll_fd = -1,
	.wake_fd = -1,
	.timer_fd = -1,
	.timer_armed_ns = NO_DEADLINE,
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char random[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || bytes > sizeof(random) || read(fd, random, bytes) != (ssize_t)bytes) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", random[i]);
	return 0;
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
	list_del(&s->in_probes);
	exec_conn_close(s->shell.conn);
	for (int i = 0; i < STREAM_COUNT; i++)
		bytequeue_clear(&s->out[i].queue);
	bytequeue_clear(&s->input);
	bytequeue_clear(&s->transcript);
	settings_free(&s->settings);
	free(s);
}

static void session_unref(struct session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

/* ---- timers ---- */

/* The earliest of: a parked request's deadline, a waiting probe, the idle check. */
static int64_t io_next_wake_ns(void)
{
	int64_t next = NO_DEADLINE;
	struct list_node *pos;

	if (!list_empty(&sessions.parked))
		next = list_entry(sessions.parked.next, struct parked, in_all)->deadline_ns;
	if (sessions.cfg.idle_timeout_ms > 0 && sessions.next_idle_check_ns < next)
		next = sessions.next_idle_check_ns;
	for (pos = sessions.probes.next; pos != &sessions.probes; pos = pos->next) {
		int64_t at = list_entry(pos, struct session, in_probes)->probe_at_ns;
		if (at < next)
			next = at;
	}
	return next;
}

/*
 * Sets timer_fd to the next wake-up. Any thread may call it: arming a
 * timerfd does not wake the I/O loop, so parking a read costs it nothing.
 */
static void io_rearm(void)
{
	int64_t next = io_next_wake_ns();
	struct itimerspec when = { 0 };

	if (next == sessions.timer_armed_ns)
		return;
	if (next != NO_DEADLINE) {
		when.it_value.tv_sec = next / 1000000000;
		when.it_value.tv_nsec = next % 1000000000;
		if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
			when.it_value.tv_nsec = 1;	/* zero would disarm */
	}
	if (timerfd_settime(sessions.timer_fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
		log_error("timerfd_settime: %s", strerror(errno));
	sessions.timer_armed_ns = next;
}

/* ---- parked requests ---- */

/* Queues p behind the session's queue and in deadline order. */
static void parked_add(struct parked *p, struct list_node *queue)
{
	struct list_node *at = &sessions.parked;

	list_add_tail(queue, &p->in_queue);
	while (at->prev != &sessions.parked &&
	       list_entry(at->prev, struct parked, in_all)->deadline_ns > p->deadline_ns)
		at = at->prev;
	list_insert_before(at, &p->in_all);
	if (sessions.parked.next == &p->in_all)
		io_rearm();
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
	return s->state == SESSION_EXITING || s->state == SESSION_EXITED ||
	       s->state == SESSION_CLOSING || s->state == SESSION_CLOSED;
}

/* The shell has run every line written to it and waits for a new command. */
static bool session_idle(const struct session *s)
{
	const struct session_shell *sh = &s->shell;

	return s->state == SESSION_RUNNING && !sh->tty && sh->markers[STREAM_STDOUT] > 0 &&
	       sh->markers[STREAM_STDERR] > 0 && sh->prompts >= sh->lines_sent &&
	       sh->last_kind == PROMPT_COMMAND;
}

/* With nothing buffered, a read ends (EOF) now rather than at its deadline. */
static bool session_reads_end(const struct session *s)
{
	return session_stream_ended(s) || (s->eof_when_idle && session_idle(s));
}

static bool session_output_full(const struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++) {
		if (s->out[i].queue.len >= sessions.cfg.bufsize)
			return true;
	}
	return false;
}

static enum session_file session_stream_file(enum session_stream stream)
{
	return stream == STREAM_STDOUT ? SESSION_STDOUT : SESSION_STDERR;
}

/* Wakes poll()/select() waiting on file of s (called from the I/O loop and engine threads only). */
static void session_notify_poll(struct session *s, enum session_file file)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &s->handles) {
		struct session_handle *h = list_entry(pos, struct session_handle, in_session);
		if (h->file == file && h->poll) {
			fuse_lowlevel_notify_poll(h->poll);
			fuse_pollhandle_destroy(h->poll);
			h->poll = NULL;
		}
	}
}

static void session_update_events(struct session *s)
{
	struct session_shell *sh = &s->shell;
	uint32_t want = 0;
	int op;

	if (s->state == SESSION_RUNNING && sh->conn) {
		if (!session_output_full(s))
			want |= EPOLLIN;
		if (s->input.len > 0 && !sh->input_broken)
			want |= EPOLLOUT;
	}
	if (want == sh->events)
		return;
	/* Unregister rather than wait on nothing: EPOLLHUP would fire regardless. */
	op = want == 0 ? EPOLL_CTL_DEL : sh->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	struct epoll_event ev = { .events = want, .data.u64 = s->id };
	if (epoll_ctl(sessions.epoll_fd, op, exec_conn_fd(sh->conn), &ev) < 0)
		log_error("session %s: epoll_ctl: %s", s->name, strerror(errno));
	sh->events = want;
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

	while (!list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s))) {
		struct parked *p = list_entry(o->readers.next, struct parked, in_queue);
		parked_remove(p);
		reply_from_queue(p->req, &o->queue, p->size);
		free(p);
	}
}

static void session_serve_writers(struct session *s)
{
	bool broken = s->shell.input_broken ||
		      (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING);

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

/* The wrapper's first stdout line is the shell's pid; the rest is output. */
static void session_take_startup(struct session *s, const char **data, size_t *len)
{
	struct session_shell *sh = &s->shell;

	while (*len > 0 && sh->pid == 0 && sh->startup_len < sizeof(sh->startup) - 1) {
		char c = **data;
		(*data)++;
		(*len)--;
		if (c == '\r')
			continue;	/* a tty turns \n into \r\n */
		if (c == '\n') {
			char *end;
			long pid = strtol(sh->startup, &end, 10);
			if (sh->startup_len > 0 && *end == '\0' && pid > 0 && pid < INT32_MAX)
				sh->pid = (int)pid;
			else
				sh->startup_len = sizeof(sh->startup) - 1;	/* not a pid: fail */
			return;
		}
		sh->startup[sh->startup_len++] = c;
		sh->startup[sh->startup_len] = '\0';
	}
}

static uint64_t session_transcript_start(const struct session *s)
{
	return s->transcript_end - s->transcript.len;
}

static void session_record(struct session *s, const char *data, size_t len)
{
	size_t limit = sessions.cfg.transcript_size;

	if (limit == 0)
		return;
	/* Only the newest limit bytes of this piece can be kept anyway. */
	s->transcript_end += len;
	if (len > limit) {
		data += len - limit;
		len = limit;
	}
	if (bytequeue_push(&s->transcript, data, len) < 0) {
		bytequeue_clear(&s->transcript);	/* offsets stay right: the gap reads as dropped */
		log_error("session %s: out of memory, transcript dropped", s->name);
	}
	if (s->transcript.len > limit)
		bytequeue_drop(&s->transcript, s->transcript.len - limit);
	clock_gettime(CLOCK_REALTIME, &s->transcript_mtime);
}

static void session_push_output(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	if (bytequeue_push(&s->out[stream].queue, data, len) < 0) {
		log_error("session %s: out of memory, %zu bytes of output lost", s->name, len);
		return;
	}
	s->out[stream].produced += len;
	clock_gettime(CLOCK_REALTIME, &s->out[stream].mtime);
	session_record(s, data, len);
	session_notify_poll(s, session_stream_file(stream));
}

/* The scanner's callbacks get one of these, to know which stream they scan. */
struct session_scan {
	struct session *s;
	enum session_stream stream;
};

static void session_scan_data(void *ctx, const char *data, size_t len)
{
	struct session_scan *scan = ctx;

	/* Before the set-up prompt everything is start-up noise: banners, job control warnings. */
	if (scan->s->shell.markers[scan->stream] > 0)
		session_push_output(scan->s, scan->stream, data, len);
}

static void session_scan_marker(void *ctx, enum prompt_kind kind, int status)
{
	struct session_scan *scan = ctx;
	struct session_shell *sh = &scan->s->shell;
	enum session_stream other = scan->stream == STREAM_STDOUT ? STREAM_STDERR : STREAM_STDOUT;

	sh->markers[scan->stream]++;
	/* A prompt is complete when its marker came on both streams. */
	if (sh->markers[scan->stream] > sh->markers[other])
		return;
	sh->last_kind = kind;
	if (sh->markers[scan->stream] == 1)
		return;	/* the set-up line's prompt: no command of the user's ran */
	sh->prompts++;
	if (kind != PROMPT_COMMAND)
		return;
	sh->last_exit = status;
	sh->has_last_exit = true;
	/* A prompt nobody asked for (after an interrupt, say) must not leave the count behind. */
	if (sh->prompts > sh->lines_sent)
		sh->lines_sent = sh->prompts;
	/*
	 * Lines still unaccounted for at a prompt were either not read yet, or
	 * read by a command (cat, read, a REPL) instead of the shell. Only the
	 * shell's state tells which: ask it once things are quiet.
	 */
	if (sh->prompts < sh->lines_sent) {
		list_del(&scan->s->in_probes);
		scan->s->probe_at_ns = now_ns() + SESSION_PROBE_DELAY_MS * NSEC_PER_MSEC;
		list_add_tail(&sessions.probes, &scan->s->in_probes);
		io_rearm();
	}
}

static void session_sink(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct session *s = ctx;
	enum session_stream which = stream == DEMUX_STDERR ? STREAM_STDERR : STREAM_STDOUT;

	if (which == STREAM_STDOUT && s->shell.pid == 0)
		session_take_startup(s, &data, &len);
	if (len == 0)
		return;
	if (s->shell.tty) {
		session_push_output(s, which, data, len);
		return;
	}
	struct session_scan scan = { s, which };
	struct prompt_sink sink = { session_scan_data, session_scan_marker, &scan };
	prompt_scan(&s->shell.scanner[which], data, len, &sink);
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
		ssize_t n = exec_conn_recv(s->shell.conn, buf, sizeof(buf));
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			result = PUMP_ENDED;
			break;
		}
		if (demux_feed(&s->shell.demux, buf, n, session_sink, s) < 0) {
			log_error("session %s: malformed stream from the engine", s->name);
			result = PUMP_ENDED;
			break;
		}
	}
	session_serve_readers(s, STREAM_STDOUT);
	session_serve_readers(s, STREAM_STDERR);
	return result;
}

/* Sends queued input until the socket is full. */
static void session_send_input(struct session *s)
{
	struct session_shell *sh = &s->shell;

	while (s->input.len > 0 && !sh->input_broken) {
		struct iovec iov;
		bytequeue_peek(&s->input, s->input.len, &iov, 1);
		ssize_t n = exec_conn_send(sh->conn, iov.iov_base, iov.iov_len);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			log_error("session %s: stdin: %s", s->name, strerror((int)-n));
			sh->input_broken = true;
			bytequeue_clear(&s->input);
			break;
		}
		bytequeue_drop(&s->input, n);
	}
}

static void session_pump_out(struct session *s)
{
	session_send_input(s);
	session_serve_writers(s);
	session_update_events(s);
	if (s->input.len <= sessions.cfg.bufsize)
		session_notify_poll(s, SESSION_STDIN);
}

/* Answers everything parked on s that can be answered: readers get what is left or EOF, writers EPIPE. */
static void session_release_parked(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		session_serve_readers(s, (enum session_stream)i);
	session_serve_writers(s);
}

/* Stops moving bytes: out of the I/O loop and the connection closed. */
static void session_disconnect(struct session *s)
{
	session_update_events(s);	/* state is no longer RUNNING: unregisters */
	exec_conn_close(s->shell.conn);
	s->shell.conn = NULL;
}

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

static void session_job_done(struct session_job *job)
{
	session_unref(job->s);
	free(job);
}

static void session_inspect_run(struct engine_job *engine_job);
static void session_stat_locked(struct session *s, enum session_file file, struct stat *st);

/* RUNNING -> EXITING: the shell is gone. */
static void session_exit(struct session *s)
{
	s->state = SESSION_EXITING;
	session_disconnect(s);
	bytequeue_clear(&s->input);
	if (!s->shell.tty) {
		/* Whatever was held back as a possible marker was output after all. */
		for (int i = 0; i < STREAM_COUNT; i++) {
			struct session_scan scan = { s, (enum session_stream)i };
			struct prompt_sink sink = { session_scan_data, session_scan_marker, &scan };
			prompt_scan_flush(&s->shell.scanner[i], &sink);
		}
	}
	session_release_parked(s);
	for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
		session_notify_poll(s, (enum session_file)f);
	struct session_job *job = session_job_new(s, session_inspect_run, NULL);
	if (job)
		engine_submit(&job->job);
	else
		s->state = SESSION_EXITED;
	log_debug("session %s: shell exited", s->name);
}

static void session_close_run(struct engine_job *engine_job);

/* Unlists s and kills what it started; req (rmdir) is answered once that is done. */
static int session_close(struct session *s, fuse_req_t req)
{
	struct session_job *job = session_job_new(s, session_close_run, req);

	if (!job)
		return -ENOMEM;
	registry_unlist(s);
	s->state = SESSION_CLOSING;
	session_disconnect(s);
	bytequeue_clear(&s->input);
	session_release_parked(s);
	session_unref(s);	/* the listing's reference; the job holds one */
	engine_submit(&job->job);
	return 0;
}

/* ---- the I/O loop ---- */

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

static bool session_has_readers(const struct session *s)
{
	return !list_empty(&s->out[STREAM_STDOUT].readers) || !list_empty(&s->out[STREAM_STDERR].readers);
}

/* Closes sessions nobody wrote to or read from for idle_timeout. */
static void io_close_idle_sessions(void)
{
	struct list_node *pos, *tmp;
	int64_t now = now_ns();

	if (sessions.cfg.idle_timeout_ms == 0 || now < sessions.next_idle_check_ns)
		return;
	sessions.next_idle_check_ns = now + SESSION_IDLE_CHECK_MS * NSEC_PER_MSEC;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		bool busy_state = s->state == SESSION_CREATING || s->state == SESSION_RESTARTING;
		if (busy_state || session_has_readers(s) ||
		    now - s->last_activity_ns < sessions.cfg.idle_timeout_ms * NSEC_PER_MSEC)
			continue;
		log_info("session %s: closed after %lld s without a read or write", s->name,
			 (long long)(sessions.cfg.idle_timeout_ms / 1000));
		if (session_close(s, NULL) < 0)
			log_error("session %s: cannot close: out of memory", s->name);
	}
}

static void session_probe_run(struct engine_job *engine_job);

/* Starts the waiting probes that are due (see session_scan_marker). */
static void io_start_probes(void)
{
	struct list_node *pos, *tmp;
	int64_t now = now_ns();

	list_for_each_safe(pos, tmp, &sessions.probes) {
		struct session *s = list_entry(pos, struct session, in_probes);
		struct session_shell *sh = &s->shell;
		if (s->probe_at_ns > now)
			continue;
		list_del(&s->in_probes);
		if (s->state != SESSION_RUNNING || sh->probing || sh->prompts >= sh->lines_sent ||
		    sh->last_kind != PROMPT_COMMAND)
			continue;
		/* Input sent just now may not have reached the shell: let it arrive first. */
		int64_t quiet_from = s->last_input_ns + SESSION_PROBE_DELAY_MS * NSEC_PER_MSEC;
		if (quiet_from > now) {
			s->probe_at_ns = quiet_from;
			list_add_tail(&sessions.probes, &s->in_probes);
			continue;
		}
		struct session_job *job = session_job_new(s, session_probe_run, NULL);
		if (!job)
			continue;
		job->lines_sent = sh->lines_sent;
		job->prompts = sh->prompts;
		sh->probing = true;
		engine_submit(&job->job);
	}
}

static void io_handle(uint64_t id, uint32_t events)
{
	struct session *s = registry_find_id(id);

	/* Events of a connection closed since epoll_wait returned are stale. */
	if (!s || s->state != SESSION_RUNNING || !s->shell.conn)
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
		pthread_mutex_unlock(&sessions.lock);
		int n = epoll_wait(sessions.epoll_fd, events, 64, -1);
		pthread_mutex_lock(&sessions.lock);
		for (int i = 0; i < n; i++) {
			if (events[i].data.u64 == IO_WAKE_ID || events[i].data.u64 == IO_TIMER_ID) {
				uint64_t count;
				int fd = events[i].data.u64 == IO_WAKE_ID ? sessions.wake_fd : sessions.timer_fd;
				if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					log_error("I/O loop: read of a wake-up: %s", strerror(errno));
				if (fd == sessions.timer_fd)
					sessions.timer_armed_ns = NO_DEADLINE;	/* it fired */
				continue;
			}
			io_handle(events[i].data.u64, events[i].events);
		}
		io_expire_deadlines();
		io_start_probes();
		io_close_idle_sessions();
		io_rearm();
	}
	pthread_mutex_unlock(&sessions.lock);
	return NULL;
}

/* ---- engine jobs ---- */

static void session_inspect_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	struct docker_exec_status status = { 0 };
	char exec_id[DOCKER_EXEC_ID_MAX];
	char err[DOCKER_ERR_MAX];

	pthread_mutex_lock(&sessions.lock);
	strcpy(exec_id, s->shell.exec_id);
	pthread_mutex_unlock(&sessions.lock);
	int ret = docker_exec_inspect(sessions.cfg.docker, exec_id, &status, err);

	pthread_mutex_lock(&sessions.lock);
	if (ret < 0 || !status.has_exit_code) {
		log_error("session %s: cannot read the shell's exit code: %s", s->name,
			  ret < 0 ? err : "engine reports none");
		snprintf(s->last_error, sizeof(s->last_error), "exit code unknown");
	}
	/* A restart may have begun meanwhile: then this exit is old news. */
	if (s->state == SESSION_EXITING && strcmp(exec_id, s->shell.exec_id) == 0) {
		s->shell.exit_code = status.exit_code;
		s->state = SESSION_EXITED;
	}
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

/* The shell is up once its pid came and, without a tty, both streams carried the set-up prompt. */
static bool session_shell_ready(const struct session_shell *sh)
{
	return sh->pid > 0 && (sh->tty || (sh->markers[STREAM_STDOUT] > 0 && sh->markers[STREAM_STDERR] > 0));
}

/* Pipe sessions: the first line installs the prompt markers (see prompt.h). */
static int session_send_setup(struct session *s, char err[DOCKER_ERR_MAX])
{
	char line[PROMPT_SETUP_MAX];
	int len = prompt_setup_line(s->token, line, sizeof(line));

	s->shell.setup_sent = true;
	/* A short first write into an empty socket goes out whole. */
	if (exec_conn_send(s->shell.conn, line, len) != len) {
		snprintf(err, DOCKER_ERR_MAX, "cannot send the prompt set-up line");
		return -EIO;
	}
	return 0;
}

/*
 * Engine thread: create and start the exec, then wait until the shell is
 * ready. Called with the lock held; drops it around every engine call.
 */
static int session_start_exec(struct session *s, char err[DOCKER_ERR_MAX])
{
	struct session_settings settings;
	const char *argv[PROCCTL_SHELL_ARGC];
	char exec_id[DOCKER_EXEC_ID_MAX];
	int64_t deadline = now_ns() + SESSION_START_TIMEOUT_MS * NSEC_PER_MSEC;
	int ret;

	if (settings_copy(&settings, &s->settings) < 0) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	const char **env = calloc(settings.env_count + 3, sizeof(*env));
	if (!env) {
		settings_free(&settings);
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	size_t envc = 0;
	env[envc++] = s->marker;
	if (settings.tty && !settings_has_env(&settings, "TERM"))
		env[envc++] = "TERM=xterm";
	for (size_t i = 0; i < settings.env_count; i++)
		env[envc++] = settings.env[i];
	procctl_shell_argv(settings.shell, settings.tty, argv);
	struct docker_exec_spec spec = {
		.container = sessions.cfg.container,
		.argv = argv,
		.env = env,
		.user = settings.user,
		.workdir = settings.workdir,
		.attach_stdin = true,
		.tty = settings.tty,
	};

	pthread_mutex_unlock(&sessions.lock);
	struct exec_conn *conn = NULL;
	ret = docker_exec_create(sessions.cfg.docker, &spec, exec_id, err);
	if (ret < 0)
		ret = -errno_from_start(ret);
	if (ret == 0) {
		conn = exec_conn_start(sessions.cfg.docker, exec_id, settings.tty,
				       SESSION_START_TIMEOUT_MS, err);
		if (!conn)
			ret = -EIO;
	}
	/* A tty starts with no size at all: give it one before the shell asks. */
	if (ret == 0 && settings.tty &&
	    docker_exec_resize(sessions.cfg.docker, exec_id, settings.cols, settings.rows, err) < 0)
		log_error("session %s: resize: %s", s->name, err);
	pthread_mutex_lock(&sessions.lock);
	free(env);
	if (ret < 0)
		goto out;

	struct session_shell *sh = &s->shell;
	strcpy(sh->exec_id, exec_id);
	sh->tty = settings.tty;
	sh->conn = conn;
	demux_init(&sh->demux, settings.tty);
	for (int i = 0; i < STREAM_COUNT; i++)
		prompt_scanner_init(&sh->scanner[i], s->token);
	for (;;) {
		enum pump_result result = session_pump_in(s);
		if (sh->pid > 0 && !sh->tty && !sh->setup_sent) {
			ret = session_send_setup(s, err);
			if (ret < 0)
				break;
		}
		if (session_shell_ready(sh))
			break;
		if (result == PUMP_ENDED || sh->startup_len >= sizeof(sh->startup) - 1) {
			snprintf(err, DOCKER_ERR_MAX, "shell did not start: %s",
				 sh->startup_len ? sh->startup : "exec ended at once");
			ret = sh->startup_len && strstr(sh->startup, "not found") ? -ENOENT : -EIO;
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
out:
	settings_free(&settings);
	return ret;
}

static void session_open_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	int ret = session_start_exec(s, err);
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
		s->last_activity_ns = now_ns();
		session_update_events(s);
		session_stat_locked(s, SESSION_DIR, &entry.attr);
		fuse_reply_entry(job->req, &entry);
		log_debug("session %s: shell pid %d in %s", s->name, s->shell.pid, sessions.cfg.container);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* Engine thread, lock held: signal, restart and kill helpers take the session's shell pid. */
static int session_signal(struct session *s, const char *signal, enum procctl_target target,
			  char err[DOCKER_ERR_MAX])
{
	int pid = s->shell.pid;
	char marker[SESSION_MARKER_MAX];

	strcpy(marker, s->marker);
	pthread_mutex_unlock(&sessions.lock);
	int ret = procctl_signal(sessions.cfg.docker, sessions.cfg.container, signal, target,
				 marker, &pid, pid > 0 ? 1 : 0, err);
	pthread_mutex_lock(&sessions.lock);
	return ret;
}

/* RESTARTING: kill the old shell and all it started, then start a new one. */
static int session_restart(struct session *s, char err[DOCKER_ERR_MAX])
{
	int ret = session_signal(s, "KILL", PROCCTL_ALL, err);

	if (ret < 0)
		log_error("session %s: restart: processes may be left: %s", s->name, err);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	ret = session_start_exec(s, err);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	if (ret < 0) {
		s->state = SESSION_EXITED;
		s->shell.exit_code = -1;
		session_disconnect(s);
		session_release_parked(s);
		return ret;
	}
	s->state = SESSION_RUNNING;
	session_update_events(s);	/* input written meanwhile goes out now */
	session_release_parked(s);
	return 0;
}

static void session_ctl_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	for (int i = 0; i < job->signal_count && ret == 0; i++) {
		/* Set before: the shell's newline may come before the helper's answer. */
		bool may_reach_shell = !strcmp(job->signals[i], "INT") || !strcmp(job->signals[i], "QUIT");
		s->shell.scanner[STREAM_STDERR].eat_newline |= may_reach_shell && !s->shell.tty;
		ret = session_signal(s, job->signals[i], PROCCTL_FOREGROUND, err);
		if (ret == 0 && may_reach_shell)
			s->shell.scanner[STREAM_STDERR].eat_newline = false;
		if (ret < 0)
			log_error("session %s: signal: %s", s->name, err);
		ret = ret < 0 ? ret : 0;
	}
	if (ret == 0 && job->resize && s->state == SESSION_RUNNING && s->shell.tty) {
		char exec_id[DOCKER_EXEC_ID_MAX];
		unsigned cols = s->settings.cols, rows = s->settings.rows;
		strcpy(exec_id, s->shell.exec_id);
		pthread_mutex_unlock(&sessions.lock);
		ret = docker_exec_resize(sessions.cfg.docker, exec_id, cols, rows, err);
		pthread_mutex_lock(&sessions.lock);
		if (ret < 0)
			log_error("session %s: resize: %s", s->name, err);
	}
	if (ret == 0 && job->restart) {
		ret = session_restart(s, err);
		if (ret < 0)
			log_error("session %s: restart: %s", s->name, err);
	}
	if (ret < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", err);
		fuse_reply_err(job->req, ret == -ESRCH ? ESRCH : EIO);
	} else {
		fuse_reply_write(job->req, job->reply_size);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* Is the shell at its prompt with nothing left to read? Then the missing lines were eaten. */
static void session_probe_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char exec_id[DOCKER_EXEC_ID_MAX];
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	int pid = s->shell.pid;
	strcpy(exec_id, s->shell.exec_id);
	pthread_mutex_unlock(&sessions.lock);
	int waiting = procctl_shell_waiting(sessions.cfg.docker, sessions.cfg.container, pid, err);
	pthread_mutex_lock(&sessions.lock);
	struct session_shell *sh = &s->shell;
	if (waiting < 0)
		log_error("session %s: cannot tell whether the shell waits: %s", s->name, err);
	if (s->state == SESSION_RUNNING && strcmp(exec_id, sh->exec_id) == 0) {
		sh->probing = false;
		if (waiting == 1) {
			uint64_t eaten = job->lines_sent - job->prompts;
			sh->lines_sent = sh->lines_sent - eaten > sh->prompts ? sh->lines_sent - eaten : sh->prompts;
			log_debug("session %s: %llu input lines were read by commands", s->name,
				  (unsigned long long)eaten);
			session_serve_readers(s, STREAM_STDOUT);
			session_serve_readers(s, STREAM_STDERR);
		}
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_close_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	if (session_signal(s, "KILL", PROCCTL_ALL, err) < 0)
		log_error("session %s: processes may be left in %s: %s", s->name, sessions.cfg.container, err);
	s->state = SESSION_CLOSED;
	/* Pollers learn of the end here, on an engine thread: never from inside rmdir's handler. */
	for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
		session_notify_poll(s, (enum session_file)f);
	if (job->req)
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
	if (!s || settings_copy(&s->settings, &sessions.cfg.defaults) < 0)
		goto nomem;
	if (random_hex(s->token, PROMPT_TOKEN_LEN / 2) < 0)
		goto nomem;
	s->id = sessions.next_id++;
	strcpy(s->name, name);
	snprintf(s->marker, sizeof(s->marker), "%s=%s.%010llu", PROCCTL_ENV_NAME,
		 sessions.mount_token, (unsigned long long)s->id);
	s->state = SESSION_CREATING;
	s->refs = 1;	/* the listing's */
	s->timeout_ms = sessions.cfg.timeout_ms;
	s->eof_when_idle = true;
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	for (int i = 0; i < STREAM_COUNT; i++) {
		list_init(&s->out[i].readers);
		s->out[i].mtime = s->ctime;
	}
	list_init(&s->writers);
	list_init(&s->handles);
	list_init(&s->in_probes);
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
	if (s)
		settings_free(&s->settings);
	free(s);
	fuse_reply_err(req, ENOMEM);
}

void session_rmdir(fuse_req_t req, const char *name)
{
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	struct session *s = registry_find_name(name);
	if (!s || !session_visible(s))
		ret = -ENOENT;
	else if (s->state == SESSION_RESTARTING)
		ret = -EBUSY;	/* the restart's engine job owns the shell until it is done */
	else
		ret = session_close(s, req);
	pthread_mutex_unlock(&sessions.lock);
	if (ret < 0)
		fuse_reply_err(req, -ret);
}

/* ---- lookups and attributes ---- */

/* Lock held: a new reference to s if the tree shows it, else NULL. */
static struct session *session_ref_visible(struct session *s)
{
	if (!s || !session_visible(s))
		return NULL;
	s->refs++;
	return s;
}

struct session *session_get_by_name(const char *name)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(registry_find_name(name));
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

struct session *session_get_by_id(uint64_t id)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(registry_find_id(id));
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
		[SESSION_TRANSCRIPT] = S_IFREG | 0400,
	};

	stat_common(st, session_ino(s->id, file), modes[file], s->ctime);
	if (file == SESSION_STDOUT || file == SESSION_STDERR) {
		struct session_output *o = &s->out[file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR];
		st->st_size = (off_t)o->produced;
		st->st_mtim = o->mtime;
	} else if (file == SESSION_TRANSCRIPT) {
		st->st_size = (off_t)s->transcript_end;
		if (s->transcript_end > 0)
			st->st_mtim = s->transcript_mtime;
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
	case SESSION_TRANSCRIPT:
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
	case SESSION_RESTARTING:
		return "restarting";
	case SESSION_EXITING:
	case SESSION_EXITED:
		return "exited";
	default:
		return "closed";
	}
}

/* Appends printf output to a growing string; *failed sticks once memory runs out. */
static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
{
	va_list ap;
	char *piece;

	if (*failed)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	char *grown = n < 0 ? NULL : realloc(*text, *len + n + 1);
	if (!grown) {
		if (n >= 0)
			free(piece);
		*failed = true;
		return;
	}
	memcpy(grown + *len, piece, n + 1);
	free(piece);
	*text = grown;
	*len += n;
}

static int session_ctl_format(struct session *s, char **text, size_t *len)
{
	const struct session_shell *sh = &s->shell;
	const struct session_settings *set = &s->settings;
	char timeout[32];
	bool failed = false;

	*text = NULL;
	*len = 0;
	ctl_format_seconds(s->timeout_ms, timeout, sizeof(timeout));
	text_append(text, len, &failed, "state %s\n", session_state_name(s));
	if (s->state == SESSION_RUNNING && !sh->tty)
		text_append(text, len, &failed, "activity %s\n", session_idle(s) ? "idle" : "busy");
	if (sh->has_last_exit)
		text_append(text, len, &failed, "last_exit %d\n", sh->last_exit);
	if (s->state == SESSION_EXITED)
		text_append(text, len, &failed, "exit_code %d\n", sh->exit_code);
	text_append(text, len, &failed, "timeout %s\neof %s\ncontainer %s\nexec_id %s\npid %d\n",
		    timeout, s->eof_when_idle ? "idle" : "deadline", sessions.cfg.container,
		    sh->exec_id, sh->pid);
	text_append(text, len, &failed, "shell %s\ntty %s\nsize %u %u\n", set->shell,
		    set->tty ? "on" : "off", set->cols, set->rows);
	if (set->user[0])
		text_append(text, len, &failed, "user %s\n", set->user);
	if (set->workdir[0])
		text_append(text, len, &failed, "workdir %s\n", set->workdir);
	for (size_t i = 0; i < set->env_count; i++)
		text_append(text, len, &failed, "env %s\n", set->env[i]);
	text_append(text, len, &failed, "transcript_start %llu\n",
		    (unsigned long long)session_transcript_start(s));
	if (s->last_error[0])
		text_append(text, len, &failed, "error %s\n", s->last_error);
	if (failed) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void session_ctl_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off)
{
	pthread_mutex_lock(&sessions.lock);
	if (off == 0 || !h->ctl_text) {
		free(h->ctl_text);
		if (session_ctl_format(h->s, &h->ctl_text, &h->ctl_len) < 0) {
			pthread_mutex_unlock(&sessions.lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
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
	s->last_activity_ns = now_ns();
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
	} else if (list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s))) {
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

/*
 * pread at any offset, consuming nothing. Dropped history is a hole, as in a
 * file whose start was punched out: it reads as zero bytes.
 */
static void session_transcript_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off)
{
	static const char zeros[64 * 1024];
	struct session *s = h->s;
	struct iovec iov[SESSION_REPLY_IOV];
	int count = 0;

	pthread_mutex_lock(&sessions.lock);
	uint64_t start = session_transcript_start(s);
	uint64_t pos = (uint64_t)off;
	uint64_t end = pos + size < s->transcript_end ? pos + size : s->transcript_end;
	while (pos < end && pos < start && count < SESSION_REPLY_IOV - 1) {
		uint64_t n = (start < end ? start : end) - pos;
		iov[count].iov_base = (void *)zeros;
		iov[count].iov_len = n < sizeof(zeros) ? n : sizeof(zeros);
		pos += iov[count++].iov_len;
	}
	if (pos >= start && pos < end)
		count += bytequeue_peek_at(&s->transcript, pos - start, end - pos, iov + count,
					   SESSION_REPLY_IOV - count);
	if (count == 0)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_iov(req, iov, count);
	pthread_mutex_unlock(&sessions.lock);
}

/* SEEK_DATA finds the oldest byte kept in the transcript, SEEK_HOLE the end. */
void session_lseek(fuse_req_t req, struct session_handle *h, off_t off, int whence)
{
	pthread_mutex_lock(&sessions.lock);
	uint64_t start = session_transcript_start(h->s);
	uint64_t end = h->s->transcript_end;
	pthread_mutex_unlock(&sessions.lock);
	if (h->file != SESSION_TRANSCRIPT || off < 0 || (whence != SEEK_DATA && whence != SEEK_HOLE)) {
		fuse_reply_err(req, h->file != SESSION_TRANSCRIPT ? ESPIPE : EINVAL);
		return;
	}
	if ((uint64_t)off >= end) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	if (whence == SEEK_DATA)
		fuse_reply_lseek(req, (uint64_t)off > start ? off : (off_t)start);
	else
		fuse_reply_lseek(req, (uint64_t)off < start ? off : (off_t)end);
}

void session_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off, int flags)
{
	if (h->file == SESSION_CTL)
		session_ctl_read(req, h, size, off);
	else if (h->file == SESSION_TRANSCRIPT)
		session_transcript_read(req, h, size, off);
	else if (h->file == SESSION_STDOUT || h->file == SESSION_STDERR)
		session_stream_read(req, h, size, flags);
	else
		fuse_reply_err(req, EBADF);
}

static uint64_t count_newlines(const char *buf, size_t size)
{
	uint64_t lines = 0;

	for (const char *nl = buf; (nl = memchr(nl, '\n', size - (size_t)(nl - buf))); nl++)
		lines++;
	return lines;
}

static void session_stdin_write(fuse_req_t req, struct session *s, const char *buf, size_t size)
{
	struct session_shell *sh = &s->shell;
	int err = 0;

	fuse_req_interrupt_func(req, session_interrupted, NULL);
	pthread_mutex_lock(&sessions.lock);
	s->last_activity_ns = s->last_input_ns = now_ns();
	/* While restarting, input waits in the queue for the new shell. */
	if ((s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING) || sh->input_broken) {
		err = EPIPE;
		goto out;
	}
	if (bytequeue_push(&s->input, buf, size) < 0) {
		err = ENOMEM;
		goto out;
	}
	sh->lines_sent += count_newlines(buf, size);
	session_record(s, buf, size);
	if (s->input.len <= sessions.cfg.bufsize && list_empty(&s->writers)) {
		/*
		 * Answer first, then send: sending wakes the engine, which would
		 * otherwise run before the writer hears back.
		 */
		fuse_reply_write(req, size);
		if (s->state == SESSION_RUNNING)
			session_send_input(s);
		session_update_events(s);
	} else {
		session_update_events(s);
		struct parked *p = calloc(1, sizeof(*p));
		if (!p) {
			fuse_reply_write(req, size);	/* the bytes are queued already */
		} else {
			*p = (struct parked){ .req = req, .size = size, .deadline_ns = NO_DEADLINE };
			parked_add(p, &s->writers);
		}
	}
out:
	pthread_mutex_unlock(&sessions.lock);
	if (err)
		fuse_reply_err(req, err);
}

/* Applies the start settings of a ctl write to a copy, so that a failure changes nothing. */
static int session_apply_settings(struct session *s, const struct ctl_command *cmds, int count)
{
	struct session_settings next;
	int ret = settings_copy(&next, &s->settings);

	for (int i = 0; i < count && ret == 0; i++) {
		const struct ctl_command *c = &cmds[i];
		switch (c->verb) {
		case CTL_SHELL:
			ret = settings_set_string(&next.shell, c->arg, c->arg_len);
			break;
		case CTL_USER:
			ret = settings_set_string(&next.user, c->arg, c->arg_len);
			break;
		case CTL_WORKDIR:
			ret = settings_set_string(&next.workdir, c->arg, c->arg_len);
			break;
		case CTL_ENV:
			ret = settings_setenv(&next, c->arg, c->arg_len);
			break;
		case CTL_UNSETENV:
			settings_unsetenv(&next, c->arg, c->arg_len);
			break;
		case CTL_TTY:
			next.tty = c->flag;
			break;
		case CTL_RESIZE:
			next.cols = c->cols;
			next.rows = c->rows;
			break;
		default:
			break;
		}
	}
	if (ret < 0) {
		settings_free(&next);
		return ret;
	}
	settings_free(&s->settings);
	s->settings = next;
	return 0;
}

static void session_ctl_write(fuse_req_t req, struct session *s, const char *buf, size_t size)
{
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	int count = ctl_parse(buf, size, cmds, err);
	struct session_job job = { .reply_size = size };
	int errnum = 0;

	pthread_mutex_lock(&sessions.lock);
	if (count < 0) {
		log_info("session %s: ctl: %s", s->name, err);
		errnum = EINVAL;
		goto out;
	}
	for (int i = 0; i < count; i++) {
		if (cmds[i].verb == CTL_SIGNAL)
			job.signals[job.signal_count++] = cmds[i].signal;
		job.resize |= cmds[i].verb == CTL_RESIZE;
		job.restart |= cmds[i].verb == CTL_RESTART;
	}
	if (job.signal_count > 0 && (s->state != SESSION_RUNNING || s->shell.pid <= 0)) {
		snprintf(err, sizeof(err), "signal: the shell is not running");
		errnum = ESRCH;
		goto out;
	}
	if (job.restart && s->state != SESSION_RUNNING && s->state != SESSION_EXITING &&
	    s->state != SESSION_EXITED) {
		snprintf(err, sizeof(err), "restart: the session is %s", session_state_name(s));
		errnum = EBUSY;
		goto out;
	}
	struct session_job *queued = NULL;
	if (job.signal_count > 0 || job.resize || job.restart) {
		queued = session_job_new(s, session_ctl_run, req);
		if (!queued || session_apply_settings(s, cmds, count) < 0) {
			if (queued)
				session_job_done(queued);
			snprintf(err, sizeof(err), "out of memory");
			errnum = ENOMEM;
			goto out;
		}
		memcpy(queued->signals, job.signals, sizeof(job.signals));
		queued->signal_count = job.signal_count;
		queued->resize = job.resize;
		queued->restart = job.restart;
		queued->reply_size = size;
	} else if (session_apply_settings(s, cmds, count) < 0) {
		snprintf(err, sizeof(err), "out of memory");
		errnum = ENOMEM;
		goto out;
	}
	for (int i = 0; i < count; i++) {
		if (cmds[i].verb == CTL_TIMEOUT)
			s->timeout_ms = cmds[i].timeout_ms;
		else if (cmds[i].verb == CTL_EOF)
			s->eof_when_idle = cmds[i].flag;
	}
	if (job.restart) {
		/* The old shell's connection goes now; its unread output stays for readers. */
		s->state = SESSION_RESTARTING;
		session_disconnect(s);
		bytequeue_clear(&s->input);
		session_serve_writers(s);
		memset(&s->shell, 0, sizeof(s->shell));
	}
	s->last_error[0] = '\0';
	pthread_mutex_unlock(&sessions.lock);
	if (queued)
		engine_submit(&queued->job);
	else
		fuse_reply_write(req, size);
	return;
out:
	snprintf(s->last_error, sizeof(s->last_error), "%s", err);
	pthread_mutex_unlock(&sessions.lock);
	fuse_reply_err(req, errnum);
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

void session_poll(fuse_req_t req, struct session_handle *h, struct fuse_pollhandle *ph)
{
	struct session *s = h->s;
	unsigned revents = 0;

	pthread_mutex_lock(&sessions.lock);
	switch (h->file) {
	case SESSION_STDOUT:
	case SESSION_STDERR: {
		struct session_output *o = &s->out[h->file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR];
		if (o->queue.len > 0 || session_stream_ended(s))
			revents |= POLLIN | POLLRDNORM;
		break;
	}
	case SESSION_STDIN:
		if (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING)
			revents |= POLLERR;
		else if (s->input.len <= sessions.cfg.bufsize)
			revents |= POLLOUT | POLLWRNORM;
		break;
	default:
		revents |= POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
		break;
	}
	/* Keep the newest handle: it is the one the kernel waits on. */
	if (ph) {
		if (h->poll)
			fuse_pollhandle_destroy(h->poll);
		h->poll = ph;
	}
	fuse_reply_poll(req, revents);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_handle_free(struct session_handle *h)
{
	list_del(&h->in_session);
	if (h->poll)
		fuse_pollhandle_destroy(h->poll);
	free(h->ctl_text);
	free(h);
}

void session_release(struct session_handle *h)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = h->s;
	session_handle_free(h);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- start and shutdown ---- */

int sessions_init(const struct sessions_config *cfg)
{
	if (random_hex(sessions.mount_token, 8) < 0)
		return -EIO;
	sessions.cfg = *cfg;
	sessions.next_id = 1;
	list_init(&sessions.listing);
	list_init(&sessions.parked);
	list_init(&sessions.probes);
	sessions.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	sessions.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sessions.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sessions.epoll_fd < 0 || sessions.wake_fd < 0 || sessions.timer_fd < 0)
		return -errno;
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = IO_WAKE_ID };
	struct epoll_event timer = { .events = EPOLLIN, .data.u64 = IO_TIMER_ID };
	if (epoll_ctl(sessions.epoll_fd, EPOLL_CTL_ADD, sessions.wake_fd, &wake) < 0 ||
	    epoll_ctl(sessions.epoll_fd, EPOLL_CTL_ADD, sessions.timer_fd, &timer) < 0)
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

	/*
	 * No FUSE request comes any more. Answer the parked ones; connections
	 * stay open until the shells are killed: closing them first would make
	 * every shell exit on EOF at once, and the engine, busy with all those
	 * exits, would start the kill helper late.
	 */
	pthread_mutex_lock(&sessions.lock);
	sessions.stopping = true;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (s->state == SESSION_RUNNING) {
			s->state = SESSION_CLOSING;
			session_update_events(s);	/* out of the I/O loop */
		}
		session_release_parked(s);
	}
	pthread_mutex_unlock(&sessions.lock);
	uint64_t one = 1;
	if (write(sessions.wake_fd, &one, sizeof(one)) < 0)
		log_error("cannot wake the I/O loop: %s", strerror(errno));
	if (sessions.io_running)
		pthread_join(sessions.io_thread, NULL);
	engine_stop();	/* pending mkdir/rmdir/ctl jobs finish and answer */

	/* One helper kills what every session of this mount started. */
	size_t npids = 0;
	int *pids = calloc(sessions.next_id, sizeof(*pids));
	for (size_t b = 0; pids && b < SESSION_HASH_BUCKETS; b++) {
		for (struct session *s = sessions.by_id[b]; s; s = s->id_next) {
			if (s->shell.pid > 0 && s->state != SESSION_CLOSED)
				pids[npids++] = s->shell.pid;
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
			list_for_each_safe(pos, tmp, &s->handles)
				session_handle_free(list_entry(pos, struct session_handle, in_session));
			registry_unlist(s);
			session_free(s);
		}
	}
	if (sessions.epoll_fd >= 0)
		close(sessions.epoll_fd);
	if (sessions.wake_fd >= 0)
		close(sessions.wake_fd);
	if (sessions.timer_fd >= 0)
		close(sessions.timer_fd);
}
