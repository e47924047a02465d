/*
 * seshfs: the reply port of sessions (session/reply.h) over libfuse. A
 * struct req is a fuse_req_t, a struct poll_handle a fuse_pollhandle.
 * Invalidations go through a queue and a thread of their own (reply.h).
 */
#include "reply.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "util/list.h"
#include "util/log.h"

struct notify_gone {
	struct list_node node;
	uint64_t parent;
	char name[];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct list_node queue;
	struct fuse_session *se;
	pthread_t thread;
	bool started;
	bool stopping;
} notify = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

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

void reply_buf_copy(struct req *req, const void *buf, size_t len)
{
	char *copy = len ? malloc(len) : NULL;

	if (len && !copy) {
		fuse_reply_err(fuse_req(req), ENOMEM);
		return;
	}
	if (len)
		memcpy(copy, buf, len);
	fuse_reply_buf(fuse_req(req), copy, len);
	free(copy);
}

void reply_written(struct req *req, size_t count)
{
	fuse_reply_write(fuse_req(req), count);
}

void reply_entry(struct req *req, const struct stat *st)
{
	/* A new session's directory: its name goes only by rmdir or an invalidation. */
	struct fuse_entry_param entry = { .ino = st->st_ino, .attr = *st, .entry_timeout = FS_CACHE_SECONDS,
					  .attr_timeout = FS_CACHE_SECONDS };

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

void notify_entry_gone(uint64_t parent, const char *name)
{
	struct notify_gone *n = malloc(sizeof(*n) + strlen(name) + 1);

	if (!n) {
		log_error("out of memory: the kernel may keep the name %s a while", name);
		return;
	}
	n->parent = parent;
	strcpy(n->name, name);
	pthread_mutex_lock(&notify.lock);
	list_add_tail(&notify.queue, &n->node);
	pthread_cond_signal(&notify.wake);
	pthread_mutex_unlock(&notify.lock);
}

static void *notify_run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&notify.lock);
	for (;;) {
		while (list_empty(&notify.queue) && !notify.stopping)
			pthread_cond_wait(&notify.wake, &notify.lock);
		if (list_empty(&notify.queue))
			break;
		struct notify_gone *n = list_entry(notify.queue.next, struct notify_gone, node);
		list_del(&n->node);
		pthread_mutex_unlock(&notify.lock);
		int ret = fuse_lowlevel_notify_inval_entry(notify.se, n->parent, n->name, strlen(n->name));
		if (ret < 0 && ret != -ENOENT)
			log_error("cannot tell the kernel %s is gone: %s", n->name, strerror(-ret));
		free(n);
		pthread_mutex_lock(&notify.lock);
	}
	pthread_mutex_unlock(&notify.lock);
	return NULL;
}

int reply_start(struct fuse_session *se)
{
	list_init(&notify.queue);
	notify.se = se;
	int ret = pthread_create(&notify.thread, NULL, notify_run, NULL);
	notify.started = ret == 0;
	return -ret;
}

void reply_stop(void)
{
	if (!notify.started)
		return;
	pthread_mutex_lock(&notify.lock);
	notify.stopping = true;
	pthread_cond_signal(&notify.wake);
	pthread_mutex_unlock(&notify.lock);
	pthread_join(notify.thread, NULL);
	notify.started = false;
}
