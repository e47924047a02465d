/*
 * seshfs unit tests: the reply port (fs/session/reply.h) without FUSE. The
 * parsers under test never answer a request; linking the session library
 * needs the symbols, and a call to any of them is a test failure, but for
 * the answers and interrupts a test allows (reply_stub in unit.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "../fs/session/reply.h"
#include "../fs/session/session.h"
#include "unit.h"

struct reply_stub reply_stub;

static void reply_unexpected(const char *what)
{
	fprintf(stderr, "unit tests: unexpected %s\n", what);
	abort();
}

void reply_err(struct req *req, int errnum)
{
	(void)req;
	if (!reply_stub.answers)
		reply_unexpected("reply_err");
	reply_stub.replies++;
	reply_stub.last_err = errnum;
}

int reply_data(struct req *req, const struct iovec *iov, int count)
{
	(void)req;
	(void)iov;
	(void)count;
	reply_unexpected("reply_data");
	return 0;
}

void reply_buf(struct req *req, const void *buf, size_t len)
{
	(void)req;
	(void)buf;
	(void)len;
	reply_unexpected("reply_buf");
}

void reply_written(struct req *req, size_t count)
{
	(void)req;
	(void)count;
	if (!reply_stub.answers)
		reply_unexpected("reply_written");
	reply_stub.replies++;
	reply_stub.last_err = 0;
}

void reply_entry(struct req *req, const struct stat *st)
{
	(void)req;
	(void)st;
	reply_unexpected("reply_entry");
}

void reply_offset(struct req *req, off_t off)
{
	(void)req;
	(void)off;
	reply_unexpected("reply_offset");
}

void reply_poll(struct req *req, unsigned revents)
{
	(void)req;
	(void)revents;
	reply_unexpected("reply_poll");
}

void reply_buf_copy(struct req *req, const void *buf, size_t len)
{
	(void)req;
	(void)buf;
	(void)len;
	reply_unexpected("reply_buf_copy");
}

int reply_open(struct req *req, void *fh)
{
	(void)req;
	(void)fh;
	reply_unexpected("reply_open");
	return 0;
}

void notify_entry_gone(uint64_t parent, const char *name)
{
	(void)parent;
	(void)name;
	reply_unexpected("notify_entry_gone");
}

/* As libfuse does: the callback runs at once for a request interrupted already. */
void req_watch_interrupt(struct req *req)
{
	if (!reply_stub.answers)
		reply_unexpected("req_watch_interrupt");
	if (reply_stub.interrupted)
		session_req_interrupted(req);
}

bool req_interrupted(struct req *req)
{
	(void)req;
	if (!reply_stub.answers)
		reply_unexpected("req_interrupted");
	return reply_stub.interrupted;
}

void poll_handle_notify(struct poll_handle *ph)
{
	(void)ph;
	reply_unexpected("poll_handle_notify");
}

void poll_handle_free(struct poll_handle *ph)
{
	(void)ph;
	reply_unexpected("poll_handle_free");
}
