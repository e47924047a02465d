/*
 * seshfs: stdin of a session. A write queues its bytes for the shell and
 * returns. The queue holds at most bufsize bytes: a write that does not fit
 * is parked with its bytes, like a writer of a full pipe, and queued once
 * the shell has read enough (one larger than bufsize goes in whole when
 * the queue is empty). Writers are admitted in order, under the lock, so
 * the bound holds however many write at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

/* Sends queued input until the socket is full. */
static void input_send(struct session *s)
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

static uint64_t count_newlines(const char *buf, size_t size)
{
	uint64_t lines = 0;

	for (const char *nl = buf; (nl = memchr(nl, '\n', size - (size_t)(nl - buf))); nl++)
		lines++;
	return lines;
}

static bool input_fits(const struct session *s, size_t size)
{
	return s->input.len == 0 || s->input.len + size <= sessions.cfg.bufsize;
}

/* Takes the bytes of a write: 0, or -ENOMEM with nothing taken. */
static int input_queue(struct session *s, const char *buf, size_t size)
{
	if (bytequeue_push(&s->input, buf, size) < 0)
		return -ENOMEM;
	s->shell.lines_sent += count_newlines(buf, size);
	if (size > 0)
		s->shell.line_open = buf[size - 1] != '\n';
	transcript_record(s, buf, size);
	history_input(s, buf, size);
	expect_input(s);
	return 0;
}

static bool input_broken(const struct session *s)
{
	return s->shell.input_broken || (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING);
}

/* Writers waiting for room: queued in order while they fit; EPIPE once the shell is gone. */
void input_serve_writers(struct session *s)
{
	while (!list_empty(&s->writers)) {
		struct parked *p = list_entry(s->writers.next, struct parked, in_queue);
		if (input_broken(s))
			reply_err(p->req, EPIPE);
		else if (!input_fits(s, p->size))
			break;
		else if (input_queue(s, p->data, p->size) < 0)
			reply_err(p->req, ENOMEM);
		else
			reply_written(p->req, p->size);
		parked_finish(p);
	}
}

/* The connection can take more: send, and let writers waiting for room go on. */
void input_pump_out(struct session *s)
{
	input_send(s);
	input_serve_writers(s);
	session_watch_update(s);
	if (s->input.len <= sessions.cfg.bufsize)
		session_notify_poll(s, SESSION_STDIN);
}

void input_write(struct req *req, struct session_handle *h, const char *buf, size_t size)
{
	struct session *s = h->s;
	struct parked *p = NULL;
	int err = 0;

	req_watch_interrupt(req);
	pthread_mutex_lock(&sessions.lock);
	s->last_activity_ns = s->last_input_ns = loop_now_ns();
	/* While restarting, input waits in the queue for the new shell. */
	if (input_broken(s)) {
		err = EPIPE;
	} else if (s->refuse_busy_input && s->state == SESSION_RUNNING && !s->shell.tty && !session_idle(s) &&
		   !session_continuing(s) && !s->expect.matched) {
		err = EBUSY;	/* a command runs: this input would be its, or wait behind it */
	} else if (list_empty(&s->writers) && input_fits(s, size)) {
		err = -input_queue(s, buf, size);
		if (!err) {
			/*
			 * Answer first, then send: sending wakes the engine, which would
			 * otherwise run before the writer hears back.
			 */
			reply_written(req, size);
			if (s->state == SESSION_RUNNING)
				input_send(s);
			session_watch_update(s);
		}
	} else if (!(p = parked_new(req, parked_interrupted, size, s)) || !(p->data = malloc(size))) {
		free(p);
		err = ENOMEM;
	} else {
		/*
		 * Nothing is queued until it fits, so an interrupt leaves it unwritten
		 * (EINTR). The request's buffer is libfuse's until the handler returns:
		 * keep a copy.
		 */
		memcpy(p->data, buf, size);
		parked_add(p, &s->writers);
	}
	pthread_mutex_unlock(&sessions.lock);
	if (err)
		reply_err(req, err);
}

unsigned input_poll(const struct session *s, enum session_file file)
{
	(void)file;
	if (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING)
		return POLLERR;
	return s->input.len <= sessions.cfg.bufsize ? POLLOUT | POLLWRNORM : 0;
}
