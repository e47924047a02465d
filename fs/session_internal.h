/*
 * seshfs: what the session modules share (session.c, session_io.c,
 * session_ctl.c); nothing outside them includes this.
 *
 * Locking: one mutex, sessions.lock, guards every session, the registry and
 * the parked requests. Nobody holds it across a call to the engine; engine
 * jobs take it only to publish their result. fuse_req_interrupt_func() is
 * never called with the lock held: libfuse calls our interrupt callback with
 * its request lock held, and the callback takes sessions.lock. Functions
 * declared here expect the lock held unless they say otherwise.
 */
#ifndef SESHFS_SESSION_INTERNAL_H
#define SESHFS_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../backend/demux.h"
#include "../backend/exec_conn.h"
#include "bytequeue.h"
#include "ctl.h"
#include "engine.h"
#include "list.h"
#include "prompt.h"
#include "session.h"
#include "settings.h"

#define SESSION_HASH_BUCKETS 1024
#define SESSION_START_TIMEOUT_MS 10000
#define SESSION_ENGINE_THREADS 2
#define SESSION_RECV_CHUNK (64 * 1024)
/* Reads per wake-up of one session, so a busy stream cannot starve the others. */
#define SESSION_RECV_BURST 8
#define SESSION_REPLY_IOV 64
#define SESSION_STARTUP_MAX 64
#define SESSION_MARKER_MAX 64
#define SESSION_IDLE_CHECK_MS 1000
/* Output counts as streaming above 64 KiB per 1 ms window; then replies wait up to 500 us to fill. */
#define SESSION_FLOW_WINDOW_NS (1 * NSEC_PER_MSEC)
#define SESSION_FLOW_BYTES (64 * 1024)
#define SESSION_HOLD_NS (500 * INT64_C(1000))
/* Quiet time after a prompt, and after the last input, before asking the shell's state. */
#define SESSION_PROBE_DELAY_MS 100
#define NSEC_PER_MSEC INT64_C(1000000)
#define NO_DEADLINE INT64_MAX
/* epoll data of the loop's own fds; sessions use their id. */
#define IO_WAKE_ID UINT64_MAX
#define IO_TIMER_ID (UINT64_MAX - 1)

enum session_state {
	SESSION_CREATING,	/* name reserved, exec being started by an engine job */
	SESSION_RUNNING,	/* shell runs; its connection is in the I/O loop */
	SESSION_RESTARTING,	/* old shell being killed, new one started by an engine job */
	SESSION_EXITING,	/* stream ended, exit code being fetched */
	SESSION_EXITED,		/* exit code known */
	SESSION_CLOSING,	/* rmdir'ed: processes being killed */
	SESSION_CLOSED,		/* gone; lives on only while files are open */
};

enum session_stream {
	STREAM_STDOUT,
	STREAM_STDERR,
	STREAM_COUNT,
};

/* A FUSE request waiting on a session. */
enum parked_kind {
	PARKED_READ,	/* stdout/stderr: nothing to return yet */
	PARKED_WRITE,	/* stdin: bytes queued, but over bufsize */
};

struct parked {
	fuse_req_t req;
	enum parked_kind kind;
	size_t size;			/* read: most bytes wanted; write: bytes to report */
	int64_t deadline_ns;
	struct list_node in_queue;	/* the session's readers of a stream, or writers */
	struct list_node in_all;	/* sessions.parked, ordered by deadline */
};

struct session_output {
	struct bytequeue queue;
	uint64_t produced;		/* st_size: bytes ever produced */
	struct timespec mtime;		/* time of the last output */
	struct list_node readers;
	/* Bytes in the current and the previous flow window: is output streaming in? */
	int64_t flow_window_start_ns;
	size_t flow_bytes;
	size_t flow_prev_bytes;
	int64_t hold_until_ns;		/* a reader waits for a fuller reply until then; 0: none */
};

/* What belongs to one shell: reset when a restart starts another. */
struct session_shell {
	char exec_id[DOCKER_EXEC_ID_MAX];
	int pid;			/* in the container; 0 until the pid line came */
	char startup[SESSION_STARTUP_MAX];	/* the wrapper's first stdout line */
	size_t startup_len;
	bool tty;
	struct exec_conn *conn;
	struct demux demux;
	uint32_t events;		/* epoll interest; 0 = not registered */
	bool input_broken;		/* sending stdin failed: writes get EPIPE */
	/* Completion (pipe sessions, see prompt.h). */
	bool setup_sent;
	struct prompt_scanner scanner[STREAM_COUNT];
	uint64_t markers[STREAM_COUNT];	/* markers seen per stream, the set-up one included */
	uint64_t prompts;		/* prompts complete on both streams, after the set-up one */
	uint64_t lines_sent;		/* newlines written to stdin since the set-up line */
	enum prompt_kind last_kind;
	bool probing;			/* a waiting probe (see session_probe_run) is out */
	bool has_last_exit;
	int last_exit;
	int exit_code;			/* EXITED */
};

struct session {
	uint64_t id;
	char name[SESSION_NAME_MAX + 1];
	char marker[SESSION_MARKER_MAX];	/* PROCCTL_ENV_NAME=<mount>.<id> */
	char token[PROMPT_TOKEN_LEN + 1];
	enum session_state state;
	unsigned refs;
	bool listed;
	struct session *id_next;
	struct session *name_next;
	struct list_node in_listing;

	struct session_shell shell;
	struct session_settings settings;
	struct session_output out[STREAM_COUNT];
	struct bytequeue input;
	struct list_node writers;
	/* Input and output in the order they happened; offsets count from the first byte ever. */
	struct bytequeue transcript;
	uint64_t transcript_end;
	struct timespec transcript_mtime;

	int64_t timeout_ms;
	bool eof_when_idle;
	int64_t last_activity_ns;	/* last stdin write or stream read, for idle_timeout */
	int64_t last_input_ns;		/* last stdin write */
	int64_t probe_at_ns;		/* in sessions.probes: when to ask the shell's state */
	struct list_node in_probes;
	struct list_node in_holds;	/* in sessions.holds while a stream holds a reply */
	char last_error[CTL_ERR_MAX];
	struct timespec ctime;
	struct list_node handles;
};

struct session_handle {
	struct session *s;
	enum session_file file;
	int64_t deadline_ns;		/* stdout/stderr: open time + timeout */
	char *ctl_text;			/* ctl: snapshot made by the read at offset 0 */
	size_t ctl_len;
	struct fuse_pollhandle *poll;	/* to notify when the file becomes ready */
	struct list_node in_session;
};

/* What a ctl write asks of the engine, done in this order, then answered. */
struct session_ctl_actions {
	size_t reply_size;	/* the write's length, reported once all is done */
	int signal_count;
	const char *signals[CTL_MAX_COMMANDS];
	bool resize;
	bool restart;
};

struct session_job {
	struct engine_job job;
	struct session *s;
	fuse_req_t req;
	struct session_ctl_actions ctl;	/* session_ctl_run */
	uint64_t lines_sent;	/* probe: the counts when it started */
	uint64_t prompts;
};

enum pump_result {
	PUMP_AGAIN,	/* nothing more to read now */
	PUMP_FULL,	/* buffers full: reading paused */
	PUMP_ENDED,	/* end of stream or a broken connection */
};

struct sessions_state {
	pthread_mutex_t lock;
	struct sessions_config cfg;
	char mount_token[17];
	uint64_t next_id;
	struct session *by_id[SESSION_HASH_BUCKETS];
	struct session *by_name[SESSION_HASH_BUCKETS];
	struct list_node listing;	/* listed sessions, creation order */
	struct list_node parked;	/* every parked request, by deadline */
	struct list_node probes;	/* sessions with a waiting probe scheduled */
	struct list_node holds;		/* sessions whose readers wait for a fuller reply */
	int64_t next_idle_check_ns;
	int epoll_fd;
	int wake_fd;		/* shutdown */
	int timer_fd;		/* the next deadline, probe or idle check */
	int64_t timer_armed_ns;	/* what timer_fd is set to; NO_DEADLINE: disarmed */
	pthread_t io_thread;
	bool io_running;
	bool stopping;
};

extern struct sessions_state sessions;

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

/* session.c: lifecycle */
void session_unref(struct session *s);
struct session_job *session_job_new(struct session *s, void (*run)(struct engine_job *), fuse_req_t req);
void session_job_done(struct session_job *job);
void session_exit(struct session *s);
int session_close(struct session *s, fuse_req_t req);
void session_probe_run(struct engine_job *engine_job);
void session_ctl_run(struct engine_job *engine_job);
struct session *session_find_id(uint64_t id);
const char *session_state_name(const struct session *s);

/* session_io.c: the data path */
void io_rearm(void);
void *io_main(void *arg);
bool session_stream_ended(const struct session *s);
bool session_idle(const struct session *s);
void session_update_events(struct session *s);
void session_notify_poll(struct session *s, enum session_file file);
void session_serve_readers(struct session *s, enum session_stream stream);
void session_serve_writers(struct session *s);
void session_release_parked(struct session *s);
void session_disconnect(struct session *s);
void session_flush_scanners(struct session *s);
enum pump_result session_pump_in(struct session *s);
uint64_t session_transcript_start(const struct session *s);

/* session_ctl.c: the ctl file (take the lock themselves) */
void session_ctl_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off);
void session_ctl_write(fuse_req_t req, struct session *s, const char *buf, size_t size);

#endif
