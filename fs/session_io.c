/*
 * seshfs: the data path of sessions.
 *
 * One I/O thread waits (epoll) on every exec connection, the timerfd and a
 * wake-up eventfd. It moves output from the engine into the sessions' buffers
 * (demux, prompt marks stripped, transcript) and answers the FUSE reads
 * parked on them; stdin goes the other way. FUSE handlers here never wait:
 * a read with nothing to return is parked and answered later.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "session_internal.h"

/* ---- timers ---- */

/* The earliest of: a parked request's deadline, a waiting probe, a held reply, the idle check. */
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
	for (pos = sessions.holds.next; pos != &sessions.holds; pos = pos->next) {
		struct session *s = list_entry(pos, struct session, in_holds);
		for (int i = 0; i < STREAM_COUNT; i++) {
			if (s->out[i].hold_until_ns != 0 && s->out[i].hold_until_ns < next)
				next = s->out[i].hold_until_ns;
		}
	}
	return next;
}

/*
 * Makes timer_fd fire no later than the next wake-up. Any thread may call it:
 * arming a timerfd does not wake the I/O loop, so parking a read costs it
 * nothing. A timer set earlier than needed is left alone: when it fires, the
 * loop finds nothing due and sets it again, one wake-up per deadline period
 * instead of a syscall each time a parked read is answered.
 */
void io_rearm(void)
{
	int64_t next = io_next_wake_ns();
	struct itimerspec when = { 0 };

	if (next >= sessions.timer_armed_ns)
		return;
	when.it_value.tv_sec = next / 1000000000;
	when.it_value.tv_nsec = next % 1000000000;
	if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0)
		when.it_value.tv_nsec = 1;	/* zero would disarm */
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
			/* A parked write's bytes are queued already: it did write them. */
			if (p->kind == PARKED_WRITE)
				fuse_reply_write(req, p->size);
			else
				fuse_reply_err(req, EINTR);
			free(p);
			break;
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- output: exec stream -> buffers -> readers ---- */

bool session_stream_ended(const struct session *s)
{
	return s->state == SESSION_EXITING || s->state == SESSION_EXITED ||
	       s->state == SESSION_CLOSING || s->state == SESSION_CLOSED;
}

/* The shell has run every line written to it and waits for a new command. */
bool session_idle(const struct session *s)
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
void session_notify_poll(struct session *s, enum session_file file)
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

void session_update_events(struct session *s)
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

static bool session_streaming(const struct session_output *o, int64_t now)
{
	if (now - o->flow_window_start_ns >= 2 * SESSION_FLOW_WINDOW_NS)
		return false;	/* nothing came for a whole window */
	return o->flow_prev_bytes + o->flow_bytes >= SESSION_FLOW_BYTES;
}

static void session_count_flow(struct session_output *o, size_t len, int64_t now)
{
	if (now - o->flow_window_start_ns >= SESSION_FLOW_WINDOW_NS) {
		bool adjacent = now - o->flow_window_start_ns < 2 * SESSION_FLOW_WINDOW_NS;
		o->flow_prev_bytes = adjacent ? o->flow_bytes : 0;
		o->flow_bytes = 0;
		o->flow_window_start_ns = now;
	}
	o->flow_bytes += len;
}

/*
 * Whether a reader wanting size bytes, with less than that buffered, waits
 * for more (until deadline_ns at the latest). Only while output streams in:
 * the engine sends it in 32 KiB frames, and a reply per frame costs the
 * reader and seshfs a wake-up each, CPU the engine needs on a small machine.
 * Interactive output, a shell at its prompt, a stream that ended: never held.
 */
static bool session_hold_reply(struct session *s, struct session_output *o, size_t size,
			       int64_t deadline_ns)
{
	size_t enough = size < sessions.cfg.bufsize / 2 ? size : sessions.cfg.bufsize / 2;
	int64_t now = now_ns();

	if (o->queue.len == 0 || o->queue.len >= enough || s->state != SESSION_RUNNING || !s->shell.conn ||
	    session_idle(s) || !session_streaming(o, now))
		return false;
	if (o->hold_until_ns == 0) {
		o->hold_until_ns = now + SESSION_HOLD_NS < deadline_ns ? now + SESSION_HOLD_NS : deadline_ns;
		list_del(&s->in_holds);
		list_add_tail(&sessions.holds, &s->in_holds);
		io_rearm();
	}
	return now < o->hold_until_ns;
}

/*
 * Replies with up to size bytes of o's output (0 bytes is EOF) and consumes
 * what was sent. A hold waited for this reply: it is over.
 */
static void reply_from_output(fuse_req_t req, struct session_output *o, size_t size)
{
	struct bytequeue *q = &o->queue;
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
	o->hold_until_ns = 0;
}

/* Answers the parked readers of one stream that can be answered now. */
void session_serve_readers(struct session *s, enum session_stream stream)
{
	struct session_output *o = &s->out[stream];

	while (!list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s))) {
		struct parked *p = list_entry(o->readers.next, struct parked, in_queue);
		if (session_hold_reply(s, o, p->size, p->deadline_ns))
			return;
		parked_remove(p);
		reply_from_output(p->req, o, p->size);
		free(p);
	}
}

void session_serve_writers(struct session *s)
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

uint64_t session_transcript_start(const struct session *s)
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
	session_count_flow(&s->out[stream], len, now_ns());
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


enum pump_result session_pump_in(struct session *s)
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
void session_release_parked(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		session_serve_readers(s, (enum session_stream)i);
	session_serve_writers(s);
}

/* Stops moving bytes: out of the I/O loop and the connection closed. */
void session_disconnect(struct session *s)
{
	session_update_events(s);	/* state is no longer RUNNING: unregisters */
	exec_conn_close(s->shell.conn);
	s->shell.conn = NULL;
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

/* Readers whose hold for a fuller reply is over get what there is. */
static void io_release_holds(void)
{
	struct list_node *pos, *tmp;
	int64_t now = now_ns();

	list_for_each_safe(pos, tmp, &sessions.holds) {
		struct session *s = list_entry(pos, struct session, in_holds);
		bool holding = false;
		for (int i = 0; i < STREAM_COUNT; i++) {
			struct session_output *o = &s->out[i];
			if (o->hold_until_ns != 0 && o->hold_until_ns <= now) {
				session_serve_readers(s, (enum session_stream)i);
				/* Answered, or nobody left to answer; a reader behind may hold anew. */
				if (o->hold_until_ns <= now)
					o->hold_until_ns = 0;
			}
			holding |= o->hold_until_ns != 0;
		}
		if (!holding)
			list_del(&s->in_holds);
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

void session_probe_run(struct engine_job *engine_job);

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
	struct session *s = session_find_id(id);

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

void *io_main(void *arg)
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
		io_release_holds();	/* first: a reader held up to its deadline gets the data */
		io_expire_deadlines();
		io_start_probes();
		io_close_idle_sessions();
		io_rearm();
	}
	pthread_mutex_unlock(&sessions.lock);
	return NULL;
}

static void session_stream_read(fuse_req_t req, struct session_handle *h, size_t size, int flags)
{
	struct session *s = h->s;
	enum session_stream stream = h->file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR;
	struct session_output *o = &s->out[stream];

	/*
	 * The kernel splits a read() bigger than one request (1 MiB, less the
	 * buffer's offset in its first page) into several, each sent once the
	 * one before came back full. Another reader's request could be answered
	 * in between, and one read() would return two distant pieces of the
	 * stream. A reply short of such a first piece ends the read() there,
	 * like a pipe's, so each read() stays one contiguous piece.
	 */
	if (size > SESSION_MAX_REQUEST / 2)
		size = SESSION_MAX_REQUEST / 2;
	/* Registered before looking, so an interrupt can never slip between the two. */
	fuse_req_interrupt_func(req, session_interrupted, NULL);
	pthread_mutex_lock(&sessions.lock);
	s->last_activity_ns = now_ns();
	if (fuse_req_interrupted(req)) {
		fuse_reply_err(req, EINTR);
	} else if (list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s)) &&
		   ((flags & O_NONBLOCK) || !session_hold_reply(s, o, size, h->deadline_ns))) {
		reply_from_output(req, o, size);
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
			*p = (struct parked){ .req = req, .kind = PARKED_READ, .size = size,
					      .deadline_ns = h->deadline_ns };
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
			*p = (struct parked){ .req = req, .kind = PARKED_WRITE, .size = size,
					      .deadline_ns = NO_DEADLINE };
			parked_add(p, &s->writers);
		}
	}
out:
	pthread_mutex_unlock(&sessions.lock);
	if (err)
		fuse_reply_err(req, err);
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

/* End of stream: whatever was held back as a possible marker was output after all. */
void session_flush_scanners(struct session *s)
{
	if (s->shell.tty)
		return;
	for (int i = 0; i < STREAM_COUNT; i++) {
		struct session_scan scan = { s, (enum session_stream)i };
		struct prompt_sink sink = { session_scan_data, session_scan_marker, &scan };
		prompt_scan_flush(&s->shell.scanner[i], &sink);
	}
}
