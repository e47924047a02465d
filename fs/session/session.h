/*
 * seshfs: sessions, what fs/ sees of them.
 *
 * A session owns one exec running a shell, its output buffers, the requests
 * parked on it and their deadlines. Nothing here knows FUSE: requests come
 * as struct req and are answered through reply.h. Functions taking a
 * struct req answer it, now or later.
 *
 * Lifecycle (enum session_state in internal.h):
 *   CREATING -> RUNNING -> EXITING -> EXITED
 *   RUNNING, EXITING, EXITED --ctl restart--> RESTARTING -> RUNNING (or EXITED)
 *   RUNNING, EXITING, EXITED --rmdir or idle timeout--> CLOSING -> CLOSED
 * CREATING failures unlist the session and answer the mkdir with an errno.
 */
#ifndef SESHFS_SESSION_H
#define SESHFS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../../backend/engine.h"
#include "reply.h"
#include "settings.h"

#define SESSION_NAME_MAX 64
/* The most a read or write request carries (negotiated in fs/ops.c's init). */
#define SESSION_MAX_REQUEST (1024 * 1024)

/* Inodes: 1 the root, 2 sessions/, 3 status, then eight numbers per session id. */
#define INO_ROOT 1
#define INO_SESSIONS 2
#define INO_STATUS 3
#define INO_SESSION_FIRST 16
#define INO_PER_SESSION 8

enum session_file {
	SESSION_DIR,
	SESSION_STDIN,
	SESSION_STDOUT,
	SESSION_STDERR,
	SESSION_CTL,
	SESSION_TRANSCRIPT,
	SESSION_HISTORY,
	SESSION_FILE_COUNT,
};

_Static_assert(SESSION_FILE_COUNT <= INO_PER_SESSION, "a session's files outgrow its inode range");

static inline uint64_t session_ino(uint64_t id, enum session_file file)
{
	return INO_SESSION_FIRST + id * INO_PER_SESSION + file;
}

static inline bool session_ino_split(uint64_t ino, uint64_t *id, enum session_file *file)
{
	if (ino < INO_SESSION_FIRST || (ino - INO_SESSION_FIRST) % INO_PER_SESSION >= SESSION_FILE_COUNT)
		return false;
	*id = (ino - INO_SESSION_FIRST) / INO_PER_SESSION;
	*file = (enum session_file)((ino - INO_SESSION_FIRST) % INO_PER_SESSION);
	return true;
}

struct session;
struct session_handle;
struct policy;
struct redact_rules;

/*
 * The files of a session directory: every operation on them consults this
 * table (files.c). Adding a file is one row plus its handlers.
 */
struct session_file_type {
	const char *name;
	mode_t mode;
	int access;		/* O_RDONLY or O_WRONLY: what open accepts; O_RDWR: any */
	bool seekable;		/* else opened nonseekable, like a pipe */
	bool truncatable;	/* O_TRUNC and truncate(2) accepted, doing nothing */
	bool fresh;		/* st_size/st_mtime change with output: the kernel must not cache them */
	void (*read)(struct req *req, struct session_handle *h, size_t size, off_t off, int flags);
	void (*write)(struct req *req, struct session_handle *h, const char *buf, size_t size);
	void (*lseek)(struct req *req, struct session_handle *h, off_t off, int whence);
	/* poll(2) events ready now, lock held; NULL: always ready, like a regular file. */
	unsigned (*poll)(const struct session *s, enum session_file file);
	/* st_size and st_mtime, lock held; NULL: 0 and the session's creation time. */
	void (*stat)(const struct session *s, enum session_file file, struct stat *st);
};

extern const struct session_file_type session_files[SESSION_FILE_COUNT];

/* How shells' stdin, stdout and stderr travel (-o transport=). */
enum sessions_transport {
	SESSIONS_TRANSPORT_AUTO,	/* FIFOs where they can (a local engine, no terminal), else the exec stream */
	SESSIONS_TRANSPORT_FIFO,	/* FIFOs, or the start fails with EOPNOTSUPP */
	SESSIONS_TRANSPORT_EXEC,	/* the engine's exec stream */
};

struct sessions_config {
	struct engine *engine;
	const char *container;
	const char *version;	/* seshfs's, for status */
	struct session_settings defaults;	/* how new sessions start */
	int64_t timeout_ms;	/* initial read timeout of new sessions */
	bool refuse_busy_input;	/* initial busy_input of new sessions */
	int64_t idle_timeout_ms;	/* 0: sessions never expire */
	size_t bufsize;		/* per output stream and for pending input */
	size_t transcript_size;	/* bytes of transcript kept per session; 0: none */
	size_t history_size;	/* bytes of history kept per session; 0: none */
	size_t max_sessions;	/* sessions in sessions/ at once, starting ones included */
	size_t warm;		/* shells kept started with the defaults for mkdir to take; they count toward max_sessions */
	size_t parked_max;	/* bytes the stdin writes waiting for room may hold, all sessions together */
	/* Guard rails, set at mount and never through it (fs/guard/): NULL for none. */
	const struct policy *policy;
	const struct redact_rules *redact;
	bool lock_settings;	/* ctl refuses the start settings that step around the policy */
	/* -o image=: seshfs made the container (it ends with seshfs, see fs/sandbox.c). */
	bool own_container;
	char container_id[ENGINE_CONTAINER_ID_MAX];	/* the engine's id, for its cgroup; "": unknown */
	enum sessions_transport transport;
	/* Lines status shows besides its own ("key value"): the sandbox's limits. NULL-terminated. */
	const char *const *status_lines;
};

int sessions_init(const struct sessions_config *cfg);
/* Answers every parked request, closes every shell and frees everything. */
void sessions_shutdown(void);

void session_mkdir(struct req *req, const char *name);
void session_rmdir(struct req *req, const char *name);

/* Listed sessions only; the result holds a reference. */
struct session *session_get_by_name(const char *name);
struct session *session_get_by_id(uint64_t id);
void session_put(struct session *s);

void session_stat(struct session *s, enum session_file file, struct stat *st);
void session_root_stat(uint64_t ino, struct stat *st);
/* Calls fn for each listed session, in creation order. */
void session_list(void (*fn)(void *ctx, const char *name, uint64_t id), void *ctx);

/* Opens a file of s; flags as given to open(2). Returns 0 or -errno. */
int session_open(struct session *s, enum session_file file, int flags, struct session_handle **out);
struct session *session_handle_session(const struct session_handle *h);
const struct session_file_type *session_handle_type(const struct session_handle *h);
/* poll(2): replies with the ready events and keeps ph to notify later. */
void session_poll(struct req *req, struct session_handle *h, struct poll_handle *ph);
void session_release(struct session_handle *h);

/* Kernel requests, counted for status (a line each: fuse_lookup N, ...). */
enum status_request {
	STATUS_LOOKUP, STATUS_GETATTR, STATUS_SETATTR, STATUS_OPEN, STATUS_READ, STATUS_WRITE,
	STATUS_FLUSH, STATUS_RELEASE, STATUS_OPENDIR, STATUS_READDIR, STATUS_RELEASEDIR, STATUS_MKDIR,
	STATUS_RMDIR, STATUS_POLL, STATUS_LSEEK, STATUS_XATTR, STATUS_OTHER, STATUS_REQUEST_COUNT,
};
void status_count(enum status_request kind);

/*
 * MOUNTPOINT/status (status.c): open makes the text (answered within about a
 * second, engine or not; the handle is the text), reads serve it.
 */
void status_open(struct req *req);
void status_read(struct req *req, void *fh, size_t size, off_t off);
void status_release(void *fh);

/* A parked request was interrupted (see req_watch_interrupt). */
void session_req_interrupted(struct req *req);

#endif
