/*
 * seshfs: the reply port of sessions (session/reply.h) over libfuse. A
 * struct req is a fuse_req_t, a struct poll_handle a fuse_pollhandle.
 */
#include <fuse_lowlevel.h>

#include "session/session.h"

static fuse_req_t fuse_req(struct req *req)
{
	return (fuse_req_t)req;
}

void reply_err(struct req *req, int errnum)
{
	fuse_reply_err(fuse_req(req), errnum);
}

int reply_data(struct req *req, const struct iovec *iov, int count)
{
	if (count == 0)
		return fuse_reply_buf(fuse_req(req), NULL, 0);
	return fuse_reply_iov(fuse_req(req), iov, count);
}

void reply_buf(struct req *req, const void *buf, size_t len)
{
	fuse_reply_buf(fuse_req(req), buf, len);
}

void reply_written(struct req *req, size_t count)
{
	fuse_reply_write(fuse_req(req), count);
}

void reply_entry(struct req *req, const struct stat *st)
{
	struct fuse_entry_param entry = { .ino = st->st_ino, .attr = *st };

	fuse_reply_entry(fuse_req(req), &entry);
}

void reply_offset(struct req *req, off_t off)
{
	fuse_reply_lseek(fuse_req(req), off);
}

void reply_poll(struct req *req, unsigned revents)
{
	fuse_reply_poll(fuse_req(req), revents);
}

int reply_open(struct req *req, void *fh)
{
	struct fuse_file_info fi = { .fh = (uintptr_t)fh, .direct_io = 1 };

	return fuse_reply_open(fuse_req(req), &fi);
}

static void reply_interrupted(fuse_req_t req, void *data)
{
	(void)data;
	session_req_interrupted((struct req *)req);
}

void req_watch_interrupt(struct req *req)
{
	fuse_req_interrupt_func(fuse_req(req), reply_interrupted, NULL);
}

bool req_interrupted(struct req *req)
{
	return fuse_req_interrupted(fuse_req(req));
}

void poll_handle_notify(struct poll_handle *ph)
{
	fuse_lowlevel_notify_poll((struct fuse_pollhandle *)ph);
	fuse_pollhandle_destroy((struct fuse_pollhandle *)ph);
}

void poll_handle_free(struct poll_handle *ph)
{
	fuse_pollhandle_destroy((struct fuse_pollhandle *)ph);
}
