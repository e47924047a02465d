/*
 * seshfs: the FUSE low-level operations, the only code besides reply.c that
 * speaks FUSE.
 *
 * Maps inodes to the tree (/, status, sessions/, sessions/NAME/ and its
 * files, as session_files[] lists them) and hands everything that touches a
 * session, or the status, to session/.
 *
 * The kernel caches names and attributes for FS_CACHE_SECONDS: they change
 * only through seshfs (mkdir and rmdir, which the kernel sees; an idle
 * session's close invalidates its name). The files whose size and mtime
 * move with output (session_files[].fresh) are never cached, so that
 * tail -f and ls -l see them: that costs one GETATTR per open. Operations
 * that carry nothing here (flush, xattrs) answer ENOSYS once, and the
 * kernel stops sending them.
 *
 * Permissions are checked here rather than by the kernel (no
 * default_permissions, which needs fresh attributes for every open): a
 * session's files and sessions/ itself are the mounting user's (and root's),
 * as their modes say; with -o allow_other others may list and read status.
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reply.h"
#include "session/session.h"

_Static_assert(INO_ROOT == FUSE_ROOT_ID, "the root's inode is FUSE's");

/* A session's file named name, or SESSION_DIR if none is. */
static enum session_file ops_file_named(const char *name)
{
	for (int f = SESSION_DIR + 1; f < SESSION_FILE_COUNT; f++) {
		if (strcmp(name, session_files[f].name) == 0)
			return (enum session_file)f;
	}
	return SESSION_DIR;
}

struct ops_dirbuf {
	char *data;
	size_t size;
};

/* Bigger requests: a stream's reader gets up to 1 MiB per read, not 128 KiB. */
static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = SESSION_MAX_REQUEST;
	conn->max_read = 0;	/* no limit below max_pages */
	/* O_TRUNC comes with the open (echo > stdin): no SETATTR request for it. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

/* Is the caller the mounting user or root? The owner bits are theirs, the others' bits anyone's. */
static bool ops_caller_owns(fuse_req_t req)
{
	uid_t uid = fuse_req_ctx(req)->uid;

	return uid == 0 || uid == getuid();
}

/* The mode bits (rwx, as in R_OK|W_OK|X_OK) the caller has on a file of mode. */
static int ops_mode_allows(fuse_req_t req, mode_t mode)
{
	return (int)(ops_caller_owns(req) ? (mode >> 6) & 7 : mode & 7);
}

/* How long the kernel may keep ino's attributes. */
static double ops_attr_timeout(fuse_ino_t ino)
{
	uint64_t id;
	enum session_file file;

	if (session_ino_split(ino, &id, &file) && session_files[file].fresh)
		return 0;
	return FS_CACHE_SECONDS;
}

static void ops_reply_stat_entry(fuse_req_t req, fuse_ino_t ino, const struct stat *st)
{
	struct fuse_entry_param entry = { .ino = ino, .attr = *st, .entry_timeout = FS_CACHE_SECONDS,
					  .attr_timeout = ops_attr_timeout(ino) };

	fuse_reply_entry(req, &entry);
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct session *s = NULL;
	enum session_file file = SESSION_DIR, parent_file;
	struct stat st;
	uint64_t id;

	status_count(STATUS_LOOKUP);

	if (parent == INO_ROOT) {
		fuse_ino_t ino = strcmp(name, "sessions") == 0 ? INO_SESSIONS :
				 strcmp(name, "status") == 0 ? INO_STATUS : 0;
		if (!ino) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		session_root_stat(ino, &st);
		ops_reply_stat_entry(req, ino, &st);
		return;
	}
	if (parent == INO_SESSIONS) {
		s = session_get_by_name(name);
	} else if (session_ino_split(parent, &id, &parent_file) && parent_file == SESSION_DIR) {
		file = ops_file_named(name);
		s = file == SESSION_DIR ? NULL : session_get_by_id(id);
	} else {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!s) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	session_stat(s, file, &st);
	session_put(s);
	ops_reply_stat_entry(req, st.st_ino, &st);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	status_count(STATUS_OTHER);
	fuse_reply_none(req);	/* inode numbers are computed, nothing to drop */
}

/* stat of ino; an open handle (fstat) still answers after its session was removed. */
static int ops_stat(fuse_ino_t ino, struct fuse_file_info *fi, struct stat *st)
{
	uint64_t id;
	enum session_file file;

	if (ino == INO_ROOT || ino == INO_SESSIONS || ino == INO_STATUS) {
		session_root_stat(ino, st);
		return 0;
	}
	if (!session_ino_split(ino, &id, &file))
		return -ENOENT;
	if (fi && fi->fh && file != SESSION_DIR) {
		session_stat(session_handle_session((struct session_handle *)fi->fh), file, st);
		return 0;
	}
	struct session *s = session_get_by_id(id);
	if (!s)
		return -ENOENT;
	session_stat(s, file, st);
	session_put(s);
	return 0;
}

static void ops_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct stat st;
	int ret = ops_stat(ino, NULL, &st);

	status_count(STATUS_OTHER);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_err(req, (mask & ~ops_mode_allows(req, st.st_mode)) ? EACCES : 0);
}

static void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	status_count(STATUS_GETATTR);
	ret = ops_stat(ino, fi, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, ops_attr_timeout(ino));
}

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	const int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME |
			    FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW;
	uint64_t id;
	enum session_file file;
	struct stat st;
	(void)attr;
	status_count(STATUS_SETATTR);

	/* Only truncate (echo > stdin, open(..., "w")) on stdin and ctl: a no-op. */
	if (!session_ino_split(ino, &id, &file) || !session_files[file].truncatable ||
	    !(to_set & FUSE_SET_ATTR_SIZE) || (to_set & ~allowed)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	int ret = ops_stat(ino, fi, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, ops_attr_timeout(ino));
}

static void ops_dirbuf_add(fuse_req_t req, struct ops_dirbuf *b, const char *name, fuse_ino_t ino)
{
	struct stat st = { .st_ino = ino };
	size_t old = b->size;

	if (!b->data && old > 0)
		return;	/* an earlier allocation failed */
	b->size += fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	char *grown = realloc(b->data, b->size);
	if (!grown) {
		free(b->data);
		b->data = NULL;
		return;
	}
	b->data = grown;
	fuse_add_direntry(req, b->data + old, b->size - old, name, &st, b->size);
}

struct ops_listing {
	fuse_req_t req;
	struct ops_dirbuf *buf;
};

static void ops_list_session(void *ctx, const char *name, uint64_t id)
{
	struct ops_listing *listing = ctx;

	ops_dirbuf_add(listing->req, listing->buf, name, session_ino(id, SESSION_DIR));
}

/* The listing is built at opendir so that readdir at any offset sees one snapshot. */
static void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ops_dirbuf *b = calloc(1, sizeof(*b));
	uint64_t id;
	enum session_file file;

	status_count(STATUS_OPENDIR);

	if (!b) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ops_dirbuf_add(req, b, ".", ino);
	if (ino == INO_ROOT) {
		ops_dirbuf_add(req, b, "..", INO_ROOT);
		ops_dirbuf_add(req, b, "sessions", INO_SESSIONS);
		ops_dirbuf_add(req, b, "status", INO_STATUS);
	} else if (ino == INO_SESSIONS) {
		struct ops_listing listing = { .req = req, .buf = b };
		ops_dirbuf_add(req, b, "..", INO_ROOT);
		session_list(ops_list_session, &listing);
	} else if (session_ino_split(ino, &id, &file) && file == SESSION_DIR) {
		struct session *s = session_get_by_id(id);
		if (!s) {
			free(b->data);
			free(b);
			fuse_reply_err(req, ENOENT);
			return;
		}
		session_put(s);
		ops_dirbuf_add(req, b, "..", INO_SESSIONS);
		for (int f = SESSION_DIR + 1; f < SESSION_FILE_COUNT; f++)
			ops_dirbuf_add(req, b, session_files[f].name, session_ino(id, (enum session_file)f));
	} else {
		free(b->data);
		free(b);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!b->data) {
		free(b);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)b;
	fuse_reply_open(req, fi);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct ops_dirbuf *b = (struct ops_dirbuf *)fi->fh;
	(void)ino;
	status_count(STATUS_READDIR);

	if ((size_t)off >= b->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	/* releasedir may free b while the reply is written (see reply_buf_copy). */
	reply_buf_copy((struct req *)req, b->data + off, b->size - off < size ? b->size - off : size);
}

static void ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ops_dirbuf *b = (struct ops_dirbuf *)fi->fh;

	status_count(STATUS_RELEASEDIR);

	(void)ino;

	free(b->data);
	free(b);
	fuse_reply_err(req, 0);
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	status_count(STATUS_MKDIR);
	if (parent == INO_SESSIONS && !ops_caller_owns(req))	/* sessions/ is 0755 */
		fuse_reply_err(req, EACCES);
	else if (parent == INO_SESSIONS)
		session_mkdir((struct req *)req, name);
	else
		fuse_reply_err(req, EPERM);
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	status_count(STATUS_RMDIR);
	if (parent == INO_SESSIONS && !ops_caller_owns(req))	/* sessions/ is 0755 */
		fuse_reply_err(req, EACCES);
	else if (parent == INO_SESSIONS)
		session_rmdir((struct req *)req, name);
	else
		fuse_reply_err(req, EPERM);
}

static void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct session_handle *h = NULL;
	uint64_t id;
	enum session_file file;

	status_count(STATUS_OPEN);

	if (ino == INO_ROOT || ino == INO_SESSIONS) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino == INO_STATUS) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			fuse_reply_err(req, EACCES);
		else
			status_open((struct req *)req);
		return;
	}
	if (!session_ino_split(ino, &id, &file)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!ops_caller_owns(req)) {
		fuse_reply_err(req, EACCES);	/* a session's files have no bits for others */
		return;
	}
	struct session *s = session_get_by_id(id);
	if (!s) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	int ret = session_open(s, file, fi->flags, &h);
	session_put(s);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)h;
	/* Reads return exactly what the session hands out; stdin and the streams are pipes. */
	fi->direct_io = 1;
	fi->nonseekable = !session_files[file].seekable;
	if (fuse_reply_open(req, fi) != 0)
		session_release(h);	/* the opener is gone */
}

/* open checked the access mode, so the handler a read or write needs is there. */
static void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct session_handle *h = (struct session_handle *)fi->fh;

	status_count(STATUS_READ);

	if (ino == INO_STATUS)
		status_read((struct req *)req, (void *)fi->fh, size, off);
	else
		session_handle_type(h)->read((struct req *)req, h, size, off, fi->flags);
}

static void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct session_handle *h = (struct session_handle *)fi->fh;
	(void)ino;
	(void)off;
	status_count(STATUS_WRITE);

	session_handle_type(h)->write((struct req *)req, h, buf, size);
}

static void ops_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph)
{
	status_count(STATUS_POLL);
	if (ino == INO_STATUS) {
		fuse_pollhandle_destroy(ph);	/* a snapshot: always readable */
		fuse_reply_poll(req, POLLIN | POLLRDNORM);
		return;
	}
	session_poll((struct req *)req, (struct session_handle *)fi->fh, (struct poll_handle *)ph);
}

/* SEEK_DATA and SEEK_HOLE (the kernel does the rest): files without an lseek handler are pipes. */
static void ops_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct session_handle *h = (struct session_handle *)fi->fh;

	status_count(STATUS_LSEEK);

	if (ino == INO_STATUS)
		fuse_reply_err(req, ENXIO);	/* its size is 0, like a /proc file's */
	else if (session_handle_type(h)->lseek)
		session_handle_type(h)->lseek((struct req *)req, h, off, whence);
	else
		fuse_reply_err(req, ESPIPE);
}

static void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	status_count(STATUS_RELEASE);
	if (ino == INO_STATUS)
		status_release((void *)fi->fh);
	else
		session_release((struct session_handle *)fi->fh);
	fuse_reply_err(req, 0);
}

/* Written bytes are with the session already: ENOSYS, and the kernel sends no more flushes. */
static void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	status_count(STATUS_FLUSH);
	fuse_reply_err(req, ENOSYS);
}

static void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	status_count(STATUS_OTHER);
	fuse_reply_err(req, 0);
}

static void ops_refuse(fuse_req_t req)
{
	status_count(STATUS_OTHER);
	fuse_reply_err(req, EPERM);
}

static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)fi;
	ops_refuse(req);
}

static void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	ops_refuse(req);
}

static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	ops_refuse(req);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	ops_refuse(req);
}

static void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	ops_refuse(req);
}

static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	(void)parent;
	(void)name;
	(void)newparent;
	(void)newname;
	(void)flags;
	ops_refuse(req);
}

/* No extended attributes: ENOSYS, and the kernel asks no more (nor checks security.capability on writes). */
static void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	status_count(STATUS_XATTR);
	fuse_reply_err(req, ENOSYS);
}

static void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	(void)size;
	status_count(STATUS_XATTR);
	fuse_reply_err(req, ENOSYS);
}

static void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	status_count(STATUS_XATTR);
	fuse_reply_err(req, ENOSYS);
}

static void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	status_count(STATUS_XATTR);
	fuse_reply_err(req, ENOSYS);
}

static void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			  struct fuse_file_info *fi)
{
	(void)ino;
	(void)mode;
	(void)offset;
	(void)length;
	(void)fi;
	status_count(STATUS_OTHER);
	fuse_reply_err(req, EOPNOTSUPP);
}

const struct fuse_lowlevel_ops seshfs_ops = {
	.init = ops_init,
	.lookup = ops_lookup,
	.forget = ops_forget,
	.getattr = ops_getattr,
	.access = ops_access,
	.setattr = ops_setattr,
	.mknod = ops_mknod,
	.mkdir = ops_mkdir,
	.unlink = ops_unlink,
	.rmdir = ops_rmdir,
	.symlink = ops_symlink,
	.rename = ops_rename,
	.link = ops_link,
	.open = ops_open,
	.read = ops_read,
	.write = ops_write,
	.flush = ops_flush,
	.release = ops_release,
	.fsync = ops_fsync,
	.opendir = ops_opendir,
	.readdir = ops_readdir,
	.releasedir = ops_releasedir,
	.setxattr = ops_setxattr,
	.getxattr = ops_getxattr,
	.listxattr = ops_listxattr,
	.removexattr = ops_removexattr,
	.create = ops_create,
	.fallocate = ops_fallocate,
	.poll = ops_poll,
	.lseek = ops_lseek,
};
