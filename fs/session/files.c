/*
 * seshfs: the files of a session directory. One table says what each file
 * is; lookup, readdir, stat, open, read, write, lseek and poll all consult
 * it (here and in fs/).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

const struct session_file_type session_files[SESSION_FILE_COUNT] = {
	[SESSION_DIR] = { .mode = S_IFDIR | 0755 },
	[SESSION_STDIN] = {
		.name = "stdin", .mode = S_IFREG | 0200, .access = O_WRONLY, .truncatable = true,
		.write = input_write, .poll = input_poll,
	},
	[SESSION_STDOUT] = {
		.name = "stdout", .mode = S_IFREG | 0400, .access = O_RDONLY, .fresh = true,
		.read = stream_read, .poll = stream_poll, .stat = stream_stat,
	},
	[SESSION_STDERR] = {
		.name = "stderr", .mode = S_IFREG | 0400, .access = O_RDONLY, .fresh = true,
		.read = stream_read, .poll = stream_poll, .stat = stream_stat,
	},
	[SESSION_CTL] = {
		.name = "ctl", .mode = S_IFREG | 0600, .access = O_RDWR, .seekable = true, .truncatable = true,
		.read = ctl_read, .write = ctl_write,
	},
	[SESSION_TRANSCRIPT] = {
		.name = "transcript", .mode = S_IFREG | 0400, .access = O_RDONLY, .fresh = true, .seekable = true,
		.read = record_read, .lseek = record_lseek, .stat = record_stat,
	},
	[SESSION_HISTORY] = {
		.name = "history", .mode = S_IFREG | 0400, .access = O_RDONLY, .fresh = true, .seekable = true,
		.read = record_read, .lseek = record_lseek, .stat = record_stat,
	},
};

static void stat_common(struct stat *st, uint64_t ino, mode_t mode, struct timespec when)
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

void session_root_stat(uint64_t ino, struct stat *st)
{
	static struct timespec mounted;

	if (mounted.tv_sec == 0)
		clock_gettime(CLOCK_REALTIME, &mounted);
	stat_common(st, ino, ino == INO_STATUS ? S_IFREG | 0444 : S_IFDIR | 0755, mounted);
}

void session_stat_locked(const struct session *s, enum session_file file, struct stat *st)
{
	const struct session_file_type *type = &session_files[file];

	stat_common(st, session_ino(s->id, file), type->mode, s->ctime);
	if (type->stat)
		type->stat(s, file, st);
}

void session_stat(struct session *s, enum session_file file, struct stat *st)
{
	pthread_mutex_lock(&sessions.lock);
	session_stat_locked(s, file, st);
	pthread_mutex_unlock(&sessions.lock);
}

int session_open(struct session *s, enum session_file file, int flags, struct session_handle **out)
{
	const struct session_file_type *type = &session_files[file];

	if (S_ISDIR(type->mode))
		return -EISDIR;
	if (type->access != O_RDWR && (flags & O_ACCMODE) != type->access)
		return -EACCES;
	struct session_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&sessions.lock);
	h->file = file;
	h->opened_ns = loop_now_ns();
	h->deadline_ns = h->opened_ns + s->timeout_ms * NSEC_PER_MSEC;
	session_handle_attach(s, h);
	pthread_mutex_unlock(&sessions.lock);
	*out = h;
	return 0;
}

struct session *session_handle_session(const struct session_handle *h)
{
	return h->s;
}

const struct session_file_type *session_handle_type(const struct session_handle *h)
{
	return &session_files[h->file];
}

void session_poll(struct req *req, struct session_handle *h, struct poll_handle *ph)
{
	const struct session_file_type *type = &session_files[h->file];
	unsigned revents = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

	pthread_mutex_lock(&sessions.lock);
	if (type->poll)
		revents = type->poll(h->s, h->file);
	/* Keep the newest handle: it is the one the kernel waits on. */
	if (ph) {
		if (h->poll)
			poll_handle_free(h->poll);
		h->poll = ph;
	}
	reply_poll(req, revents);
	pthread_mutex_unlock(&sessions.lock);
}

void session_release(struct session_handle *h)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = h->s;
	session_handle_free(h);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}
