/*
 * seshfs: stdout and stderr of a session: output buffers, the readers parked
 * on them with their deadlines, and flow control (a full buffer stops
 * reading the exec's stream). Also the parked-request bookkeeping that stdin
 * shares. Handlers here never wait: a read with nothing to return is parked
 * and answered later, by the event loop or a job.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

/* Output counts as streaming above 64 KiB per 1 ms window; then replies wait up to 500 us to fill. */
#define STREAM_FLOW_WINDOW_NS (1 * NSEC_PER_MSEC)
#define STREAM_FLOW_BYTES (64 * 1024)
#define STREAM_HOLD_NS (500 * INT64_C(1000))

static void stream_hold_over(struct loop_timer *timer);

void stream_init(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++) {
		struct session_output *o = &s->out[i];
		list_init(&o->readers);
		o->mtime = s->ctime;
		o->s = s;
		o->stream = (enum session_stream)i;
		loop_timer_init(&o->hold, stream_hold_over);
	}
}

/* ---- parked requests ---- */

struct parked *parked_new(struct req *req, void (*interrupted)(struct parked *p), size_t size,
			  struct session *s)
{
	struct parked *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->req = req;
	p->interrupted = interrupted;
	p->size = size;
	p->s = s;
	list_init(&p->in_queue);
	list_init(&p->in_all);
	loop_timer_init(&p->deadline, NULL);
	return p;
}

void parked_add(struct parked *p, struct list_node *queue)
{
	if (queue)
		list_add_tail(queue, &p->in_queue);
	list_add_tail(&sessions.parked, &p->in_all);
}

/* Out of every list and freed: its request was answered. */
void parked_finish(struct parked *p)
{
	list_del(&p->in_queue);
	list_del(&p->in_all);
	loop_timer_cancel(&p->deadline);
	if (p->data)
		sessions.parked_bytes -= p->size;
	free(p->data);
	free(p);
}

/* An interrupted read, or a write that waited for room: nothing was done, EINTR. */
void parked_interrupted(struct parked *p)
{
	reply_err(p->req, EINTR);
	parked_finish(p);
}

void session_req_interrupted(struct req *req)
{
	struct list_node *pos, *tmp;

	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &sessions.parked) {
		struct parked *p = list_entry(pos, struct parked, in_all);
		if (p->req == req) {
			p->interrupted(p);
			break;
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- output: buffers -> readers ---- */

bool stream_output_full(const struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++) {
		if (s->out[i].queue.len >= sessions.cfg.bufsize)
			return true;
	}
	return false;
}

static bool stream_flowing(const struct session_output *o, int64_t now)
{
	if (now - o->flow_window_start_ns >= 2 * STREAM_FLOW_WINDOW_NS)
		return false;	/* nothing came for a whole window */
	return o->flow_prev_bytes + o->flow_bytes >= STREAM_FLOW_BYTES;
}

static void stream_count_flow(struct session_output *o, size_t len, int64_t now)
{
	if (now - o->flow_window_start_ns >= STREAM_FLOW_WINDOW_NS) {
		bool adjacent = now - o->flow_window_start_ns < 2 * STREAM_FLOW_WINDOW_NS;
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
static bool stream_hold_reply(struct session *s, struct session_output *o, size_t size, int64_t deadline_ns)
{
	size_t enough = size < sessions.cfg.bufsize / 2 ? size : sessions.cfg.bufsize / 2;
	int64_t now = loop_now_ns();

	if (o->queue.len == 0 || o->queue.len >= enough || s->state != SESSION_RUNNING || !s->shell.conn ||
	    session_idle(s) || !stream_flowing(o, now))
		return false;
	if (!loop_timer_pending(&o->hold))
		loop_timer_set(sessions.loop, &o->hold,
			       now + STREAM_HOLD_NS < deadline_ns ? now + STREAM_HOLD_NS : deadline_ns);
	return now < o->hold.at_ns;
}

/*
 * Replies with up to size bytes of o's output (0 bytes is EOF) and consumes
 * what was sent. A hold waited for this reply: it is over.
 */
static void stream_reply(struct req *req, struct session_output *o, size_t size)
{
	struct bytequeue *q = &o->queue;
	struct iovec iov[SESSION_REPLY_IOV];
	int count = bytequeue_peek(q, size, iov, SESSION_REPLY_IOV);
	size_t len = 0;

	for (int i = 0; i < count; i++)
		len += iov[i].iov_len;
	/* A failed reply means the reader is gone: keep the bytes for the next one. */
	if (reply_data(req, iov, count) == 0)
		bytequeue_drop(q, len);
	loop_timer_cancel(&o->hold);
}

/* Answers the parked readers of one stream that can be answered now. */
void stream_serve_readers(struct session *s, enum session_stream stream)
{
	struct session_output *o = &s->out[stream];

	while (!list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s))) {
		struct parked *p = list_entry(o->readers.next, struct parked, in_queue);
		if (stream_hold_reply(s, o, p->size, p->deadline_ns))
			return;
		stream_reply(p->req, o, p->size);
		parked_finish(p);
	}
}

/* The hold is over: the waiting reader gets what there is (a reader behind it may hold anew). */
static void stream_hold_over(struct loop_timer *timer)
{
	struct session_output *o = list_entry(timer, struct session_output, hold);

	if (list_empty(&o->readers) || o->queue.len == 0)
		return;
	struct parked *p = list_entry(o->readers.next, struct parked, in_queue);
	stream_reply(p->req, o, p->size);
	parked_finish(p);
	stream_serve_readers(o->s, o->stream);
	session_watch_update(o->s);
}

/* With quiet set, when a read opened at opened_ns ends for want of output: no byte for quiet_ms. */
static int64_t stream_quiet_at(const struct session *s, int64_t opened_ns)
{
	int64_t since = s->last_output_ns > opened_ns ? s->last_output_ns : opened_ns;

	return s->quiet_ms > 0 ? since + s->quiet_ms * NSEC_PER_MSEC : LOOP_NEVER;
}

/* A parked read's deadline or quiet time: it returns what is buffered, else EOF. */
static void stream_read_expired(struct loop_timer *timer)
{
	struct parked *p = list_entry(timer, struct parked, deadline);
	int64_t quiet_at = stream_quiet_at(p->s, p->opened_ns);
	int64_t now = loop_now_ns();

	if (now < p->deadline_ns && now < quiet_at) {
		/* Output came on the other stream meanwhile: the quiet time starts again. */
		loop_timer_set(sessions.loop, timer, quiet_at < p->deadline_ns ? quiet_at : p->deadline_ns);
		return;
	}
	stream_reply(p->req, &p->s->out[p->stream], p->size);
	parked_finish(p);
}

void stream_push(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	struct session_output *o = &s->out[stream];

	if (bytequeue_push(&o->queue, data, len) < 0) {
		log_error("session %s: out of memory, %zu bytes of output lost", s->name, len);
		return;
	}
	o->produced += len;
	s->last_output_ns = loop_now_ns();
	stream_count_flow(o, len, s->last_output_ns);
	clock_gettime(CLOCK_REALTIME, &o->mtime);
	transcript_record(s, data, len);
	bool matched = s->expect.matched;
	expect_output(s, stream, data, len);
	session_notify_poll(s, session_stream_file(stream));
	if (!matched && s->expect.matched)	/* the other stream's reads end too */
		session_notify_poll(s, session_stream_file(stream == STREAM_STDOUT ? STREAM_STDERR : STREAM_STDOUT));
}

static enum session_stream stream_of(enum session_file file)
{
	return file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR;
}

void stream_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags)
{
	struct session *s = h->s;
	enum session_stream stream = stream_of(h->file);
	struct session_output *o = &s->out[stream];
	(void)off;

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
	/* Watched before looking, so an interrupt can never slip between the two. */
	req_watch_interrupt(req);
	pthread_mutex_lock(&sessions.lock);
	int64_t now = s->last_activity_ns = loop_now_ns();
	int64_t quiet_at = stream_quiet_at(s, h->opened_ns);
	if (req_interrupted(req)) {
		reply_err(req, EINTR);
	} else if (list_empty(&o->readers) && (o->queue.len > 0 || session_reads_end(s) || now >= quiet_at) &&
		   ((flags & O_NONBLOCK) || !stream_hold_reply(s, o, size, h->deadline_ns))) {
		stream_reply(req, o, size);
		session_watch_update(s);
	} else if (flags & O_NONBLOCK) {
		reply_err(req, EAGAIN);
	} else if (now >= h->deadline_ns) {
		reply_data(req, NULL, 0);
	} else {
		struct parked *p = parked_new(req, parked_interrupted, size, s);
		if (!p) {
			reply_err(req, ENOMEM);
		} else {
			p->stream = stream;
			p->deadline_ns = h->deadline_ns;
			p->opened_ns = h->opened_ns;
			p->deadline.fire = stream_read_expired;
			parked_add(p, &o->readers);
			loop_timer_set(sessions.loop, &p->deadline, quiet_at < h->deadline_ns ? quiet_at : h->deadline_ns);
		}
	}
	pthread_mutex_unlock(&sessions.lock);
}

unsigned stream_poll(const struct session *s, enum session_file file)
{
	return s->out[stream_of(file)].queue.len > 0 || session_stream_ended(s) ? POLLIN | POLLRDNORM : 0;
}

/* st_size is every byte the stream produced (reading does not lower it), st_mtime its last output. */
void stream_stat(const struct session *s, enum session_file file, struct stat *st)
{
	st->st_size = (off_t)s->out[stream_of(file)].produced;
	st->st_mtim = s->out[stream_of(file)].mtime;
}
