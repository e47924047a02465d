/*
 * seshfs: how sessions answer the kernel without knowing FUSE.
 *
 * A struct req is one kernel request. It is answered exactly once, by one
 * reply_* call, from any thread, now or later (a request waiting on a
 * session is "parked"). fs/reply.c implements these over libfuse.
 */
#ifndef SESHFS_REPLY_H
#define SESHFS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

struct req;
struct poll_handle;

/* errnum 0 is success without data (rmdir, release). */
void reply_err(struct req *req, int errnum);
/* Read data (count 0: EOF). 0, or -errno when the requester is gone. */
int reply_data(struct req *req, const struct iovec *iov, int count);
void reply_buf(struct req *req, const void *buf, size_t len);
/*
 * The same from a copy: for a buffer the requester's close may free. The
 * kernel can complete the read while the reply is still being written, and
 * the reader's close (release) then runs at once.
 */
void reply_buf_copy(struct req *req, const void *buf, size_t len);
void reply_written(struct req *req, size_t count);
/* A new directory entry (mkdir); st->st_ino names it. */
void reply_entry(struct req *req, const struct stat *st);
void reply_offset(struct req *req, off_t off);
void reply_poll(struct req *req, unsigned revents);
/* An open answered later (a root file's): fh is the handle; reads bypass the page cache. -errno if the opener is gone. */
int reply_open(struct req *req, void *fh);

/*
 * From now on an interrupt of req (a signal to the caller) calls
 * session_req_interrupted(req) (session.h). Call without the sessions lock:
 * the callback takes it, and may run at once if req was interrupted already.
 */
void req_watch_interrupt(struct req *req);
bool req_interrupted(struct req *req);

/*
 * The kernel caches names: tells it that name in directory parent is gone
 * without a request of its own (an idle session closed). Queued, and sent by
 * a thread of its own: never from a request's path, which could hold the
 * directory lock the kernel needs for it.
 */
void notify_entry_gone(uint64_t parent, const char *name);

/* Tells a poll(2) waiter the file's state changed, then frees the handle. */
void poll_handle_notify(struct poll_handle *ph);
void poll_handle_free(struct poll_handle *ph);

#endif
