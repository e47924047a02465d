/*
 * seshfs: stdin of a session. A write queues its bytes for the shell and
 * returns; while more than bufsize bytes are pending the writer is parked,
 * like a writer of a full pipe, until the shell reads.
 */
#include <errno.h>
#include <poll.h>
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

void input_serve_writers(struct session *s)
{
	bool broken = s->shell.input_broken ||
		      (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING);

	while (!list_empty(&s->writers) && (broken || s->input.len <= sessions.cfg.bufsize)) {
		struct parked *p = list_entry(s->writers.next, struct parked, in_queue);
		if (broken)
			reply_err(p->req, EPIPE);
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

static uint64_t count_newlines(const char *buf, size_t size)
{
	uint64_t lines = 0;

	for (const char *nl = buf; (nl = memchr(nl, '\n', size - (size_t)(nl - buf))); nl++)
		lines++;
	return lines;
}

void input_write(struct req *req, struct session_handle *h, const char *buf, size_t size)
{
	struct session *s = h->s;
	struct session_shell *sh = &s->shell;
	int err = 0;

	req_watch_interrupt(req);
	pthread_mutex_lock(&sessions.lock);
	s->last_activity_ns = s->last_input_ns = loop_now_ns();
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
	transcript_record(s, buf, size);
	if (s->input.len <= sessions.cfg.bufsize && list_empty(&s->writers)) {
		/*
		 * Answer first, then send: sending wakes the engine, which would
		 * otherwise run before the writer hears back.
		 */
		reply_written(req, size);
		if (s->state == SESSION_RUNNING)
			input_send(s);
		session_watch_update(s);
	} else {
		session_watch_update(s);
		struct parked *p = parked_new(req, PARKED_WRITE, size, s);
		if (!p)
			reply_written(req, size);	/* the bytes are queued already */
		else
			parked_add(p, &s->writers);
	}
out:
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
