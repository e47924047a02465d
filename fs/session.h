/*
 * seshfs: sessions, the layer between the FUSE operations and the engine.
 *
 * A session owns one exec running a shell, its output buffers, the FUSE
 * requests parked on it and their deadlines. One I/O thread moves bytes
 * between the exec connections and the buffers and answers parked requests;
 * engine threads (engine.h) make the calls to Docker. Functions taking a
 * fuse_req_t answer it, now or later.
 *
 * Lifecycle (enum session_state):
 *   CREATING -> RUNNING -> EXITING -> EXITED
 *   RUNNING, EXITING, EXITED --ctl restart--> RESTARTING -> RUNNING (or EXITED)
 *   RUNNING, EXITING, EXITED --rmdir or idle timeout--> CLOSING -> CLOSED
 * CREATING failures unlist the session and answer the mkdir with an errno.
 */
#ifndef SESHFS_SESSION_H
#define SESHFS_SESSION_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../backend/docker.h"
#include "settings.h"

#define SESSION_NAME_MAX 64
/* The most a FUSE read or write request carries (negotiated in ops.c's init). */
#define SESSION_MAX_REQUEST (1024 * 1024)

/* Inodes: 1 the root, 2 sessions/, then eight numbers per session id. */
#define INO_ROOT FUSE_ROOT_ID
#define INO_SESSIONS 2
#define INO_SESSION_FIRST 16

enum session_file {
	SESSION_DIR,
	SESSION_STDIN,
	SESSION_STDOUT,
	SESSION_STDERR,
	SESSION_CTL,
	SESSION_TRANSCRIPT,
	SESSION_FILE_COUNT,
};

static inline fuse_ino_t session_ino(uint64_t id, enum session_file file)
{
	return INO_SESSION_FIRST + id * 8 + file;
}

static inline bool session_ino_split(fuse_ino_t ino, uint64_t *id, enum session_file *file)
{
	if (ino < INO_SESSION_FIRST || (ino - INO_SESSION_FIRST) % 8 >= SESSION_FILE_COUNT)
		return false;
	*id = (ino - INO_SESSION_FIRST) / 8;
	*file = (enum session_file)((ino - INO_SESSION_FIRST) % 8);
	return true;
}

struct sessions_config {
	struct docker *docker;
	const char *container;
	struct session_settings defaults;	/* how new sessions start */
	int64_t timeout_ms;	/* initial read timeout of new sessions */
	int64_t idle_timeout_ms;	/* 0: sessions never expire */
	size_t bufsize;		/* per output stream and for pending input */
	size_t transcript_size;	/* bytes of history kept per session; 0: none */
};

struct session;
struct session_handle;

int sessions_init(const struct sessions_config *cfg);
/* Answers every parked request, closes every shell and frees everything. */
void sessions_shutdown(void);

bool session_name_valid(const char *name);
void session_mkdir(fuse_req_t req, const char *name);
void session_rmdir(fuse_req_t req, const char *name);

/* Listed sessions only; the result holds a reference. */
struct session *session_get_by_name(const char *name);
struct session *session_get_by_id(uint64_t id);
void session_put(struct session *s);
uint64_t session_id(const struct session *s);

void session_stat(struct session *s, enum session_file file, struct stat *st);
void session_root_stat(fuse_ino_t ino, struct stat *st);
/* Calls fn for each listed session, in creation order. */
void session_list(void (*fn)(void *ctx, const char *name, uint64_t id), void *ctx);

/* Opens a file of s; flags as given to open(2). Returns 0 or -errno. */
int session_open(struct session *s, enum session_file file, int flags, struct session_handle **out);
struct session *session_handle_session(struct session_handle *h);
void session_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off, int flags);
void session_write(fuse_req_t req, struct session_handle *h, const char *buf, size_t size);
/* O_TRUNC and truncate(2) on stdin or ctl: accepted, nothing to do. */
bool session_file_truncatable(enum session_file file);
/* lseek(2) SEEK_DATA/SEEK_HOLE on the transcript. */
void session_lseek(fuse_req_t req, struct session_handle *h, off_t off, int whence);
/* poll(2): replies with the ready events and keeps ph to notify later. */
void session_poll(fuse_req_t req, struct session_handle *h, struct fuse_pollhandle *ph);
void session_release(struct session_handle *h);

#endif
