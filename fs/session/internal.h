/*
 * seshfs: what the session modules share; nothing outside fs/session/
 * includes this.
 *
 * The modules, each calling only those above it in this list:
 *   record.c      records with a dropped start: the transcript and history files
 *   history.c     the history file's entries: which line the shell read, its exit
 *   expect.c      ctl expect: does the output since the last input end with a match
 *   registry.c    ids and names, references, handles, poll notification
 *   watchdog.c    the mount's watchdog exec, which outlives a killed seshfs
 *   stream.c      stdout/stderr: buffers, parked readers, deadlines, flow
 *   redaction.c   -o redact=: what is shown, secrets replaced on the way in
 *   procs.c       the shell's processes: its cgroup, signals and probes (host or helper)
 *   input.c       stdin: the queue to the shell, parked writers, the policy
 *   completion.c  prompt markers: when the shell is done; the waiting probe
 *   shell.c       the exec and its FIFOs: start, read its output, exit, signal, restart
 *   ctl_status.c  the ctl file read: status keys
 *   ctl.c         the ctl file written: command table
 *   files.c       the file table (session.h), open, stat, poll
 *   lifecycle.c   mkdir, rmdir, idle close, start-up and shutdown
 *   warm.c        -o warm=N: shells started ahead, taken by mkdir
 *   status.c      the mount's status file
 *
 * Locking: one mutex, sessions.lock, guards every session, the registry,
 * the parked requests and the event loop's timers. Nobody holds it across a
 * call to the engine; jobs take it only to publish their result.
 * req_watch_interrupt() is never called with the lock held: libfuse calls
 * the interrupt callback with its request lock held, and the callback takes
 * sessions.lock. Functions declared here expect the lock held unless they
 * say otherwise.
 */
#ifndef SESHFS_SESSION_INTERNAL_H
#define SESHFS_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../../backend/cgroup.h"
#include "../../backend/demux.h"
#include "../../backend/exec_conn.h"
#include "../../backend/fifo.h"
#include "../../backend/hostctl.h"
#include "../../backend/hostproc.h"
#include "../../backend/procctl.h"
#include "../util/bytequeue.h"
#include "../util/jobs.h"
#include "../util/list.h"
#include "../util/loop.h"
#include "../util/regex.h"
#include "../guard/cmdline.h"
#include "../guard/policy.h"
#include "../guard/redact.h"
#include "ctl_lang.h"
#include "noise.h"
#include "prompt.h"
#include "session.h"
#include "settings.h"

#define SESSION_HASH_BUCKETS 1024
#define SESSION_START_TIMEOUT_MS 10000
#define SESSION_JOB_THREADS 2
#define SESSION_STARTUP_MAX 64
#define SESSION_MARKER_MAX 64
#define SESSION_REPLY_IOV 64
/* The event loop's id of the watchdog's connection: sessions' ids start at 1. */
#define SESSION_WATCHDOG_ID 0

/* A session's fds in the event loop: its id shifted, and which of them (enum shell_fd). */
#define SHELL_FD_BITS 2

enum session_state {
	SESSION_CREATING,	/* name reserved, exec being started by a job */
	SESSION_RUNNING,	/* shell runs; its connection is in the event loop */
	SESSION_RESTARTING,	/* old shell being killed, new one started by a job */
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

/*
 * A request waiting on a session: a read with nothing to return yet, a
 * stdin write with no room yet, a mkdir whose shell is starting.
 */
struct parked {
	struct req *req;
	/* The caller was interrupted: answer req and parked_finish(p). */
	void (*interrupted)(struct parked *p);
	struct session *s;
	size_t size;			/* read: most bytes wanted; write: bytes of data */
	enum session_stream stream;	/* read */
	char *data;			/* write: its bytes, not queued yet */
	struct loop_timer deadline;	/* read: the open's deadline or the quiet time; mkdir: its limit */
	int64_t deadline_ns;		/* read: the open's deadline */
	int64_t opened_ns;		/* read: the open's time, for quiet; write: its arrival */
	struct list_node in_queue;	/* the session's readers of a stream, or writers */
	struct list_node in_all;	/* sessions.parked, to find it on an interrupt */
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
	/* A reader waits for a fuller reply until the timer fires (see stream.c). */
	struct loop_timer hold;
	struct session *s;
	enum session_stream stream;
};

/* Bytes kept with a dropped start (record.c): offsets count from the first byte ever. */
struct record {
	struct bytequeue bytes;		/* the newest ones, at most the file's limit */
	uint64_t end;			/* st_size: bytes ever recorded */
	struct timespec mtime;		/* the last append */
};

/* The history file and what it needs to match lines to prompts (history.c). */
struct session_history {
	struct record record;
	uint64_t entries;		/* SEQ of the last entry */
	struct list_node lines;		/* lines sent, not matched to a prompt yet, oldest first */
	size_t line_count;
	uint64_t untracked;		/* lines after those, too many to keep the text of */
	char *partial;			/* the line being written: no newline yet */
	size_t partial_len, partial_size;
	char *entry;			/* COMMAND of the entry being read, escaped */
	size_t entry_len;
	bool entry_open;
	bool entry_has_text;		/* not an empty line */
	struct timespec entry_start;
	int64_t entry_start_ns;
	struct timespec prompt_time;	/* the last prompt */
	int64_t prompt_ns;
};

/* A shell as helpers find it: a copy outlives a restart that resets the shell. */
struct shell_id {
	int pid;			/* in the container; 0 until the pid line came */
	char user[SETTINGS_USER_MAX];	/* it runs as; helpers run as it too */
	/* The same shell as the host sees it (0: no host view): a pidfd is checked against host_start. */
	int host_pid;
	unsigned long long host_start;
	bool in_cgroup;			/* it joined the session's cgroup (procs.c), so all it starts is there */
};

/* ctl expect (expect.c). */
struct session_expect {
	struct regex *re;		/* NULL: off */
	char *window[STREAM_COUNT];	/* each stream's last output since the last input */
	size_t window_len[STREAM_COUNT];
	size_t window_size[STREAM_COUNT];
	bool matched;			/* reads end (EOF) until the next input */
};

/* A prompt marker stderr brought before stdout caught up with it (completion.c). */
struct completion_event {
	enum prompt_kind kind;
	int status;
	bool both;		/* marked on both streams; else on stderr only */
};

/* A redacted stream's partial line and its quiet timer (redaction.c): stdout, stderr, then input. */
#define REDACTION_INPUT STREAM_COUNT
#define REDACTION_HELD_COUNT (STREAM_COUNT + 1)

struct redaction_held {
	struct redact_stream rs;
	struct loop_timer quiet;	/* no byte for a while: the partial line goes out */
	struct session *s;
	uint8_t which;			/* an enum session_stream, or REDACTION_INPUT */
};

struct session_redaction {
	struct redaction_held held[REDACTION_HELD_COUNT];
	struct redact_stream history;	/* the lines history entries are made of */
};

/* A redacted copy. */
struct redaction_text {
	char *data;
	size_t len;
};

/* Who reads stdin while a command runs, as the last reader probe said (input.c). */
enum admission_reader {
	READER_UNKNOWN,
	READER_ASKING,		/* a probe is out */
	READER_PROGRAM,		/* a program the shell runs reads it */
	READER_SHELL,		/* nothing else does: the shell will */
};

/* stdin under -o policy= (input.c). */
struct session_admission {
	struct cmdline_state *syntax;	/* the shell's input so far; NULL until needed */
	bool syntax_valid;		/* else it starts afresh */
	char *partial;			/* the last line written, no newline yet: held back */
	size_t partial_len;
	uint64_t refused;
	char *last_refusal;		/* "RULE: LINE" */
	enum admission_reader reader;
	int64_t reader_asked_ns;	/* when the probe behind reader went out */
};

/* Where a shell's stdin, stdout and stderr go (shell.c). */
enum shell_transport {
	SHELL_TRANSPORT_EXEC,	/* the engine's exec stream */
	SHELL_TRANSPORT_FIFO,	/* FIFOs inside the container, read and written from the host */
};

#define SHELL_TRANSPORT_REASON_MAX 160

/* Which of a shell's fds an event is for: the loop's id is (session id << SHELL_FD_BITS) | this. */
enum shell_fd {
	SHELL_FD_EXEC,		/* the exec stream: all of it, or (FIFO transport) its end and the ack */
	SHELL_FD_IN = 1 + FIFO_IN,
	SHELL_FD_OUT = 1 + FIFO_OUT,
	SHELL_FD_ERR = 1 + FIFO_ERR,
};

_Static_assert(SHELL_FD_ERR < (1 << SHELL_FD_BITS), "a shell's fds outgrow their bits of the loop's id");

/* The FIFO transport's side of a shell (shell.c): seshfs's ends of its FIFOs. */
struct shell_fifo {
	bool open;			/* fds hold seshfs's ends */
	bool asked;			/* the wrapper has the directory: its answer is awaited */
	bool refused;			/* it could not open the FIFOs */
	bool exec_ended;		/* the exec stream ended: the shell is gone once the FIFOs are drained */
	bool ended[FIFO_COUNT];		/* out, err: no writer is left */
	int fds[FIFO_COUNT];
	uint32_t events[FIFO_COUNT];	/* epoll interest of each; 0 = not watched */
	struct fifo_dir dir;		/* the names, until the wrapper has opened them */
	char answer[8];			/* the wrapper's line after the pid line */
	size_t answer_len;
};

/* What belongs to one shell: reset when a restart starts another. */
struct session_shell {
	char exec_id[ENGINE_EXEC_ID_MAX];
	struct shell_id id;
	char startup[SESSION_STARTUP_MAX];	/* the wrapper's first stdout line */
	size_t startup_len;
	bool tty;
	uint8_t dialect;		/* enum cmdline_dialect: the shell the wrapper started */
	struct exec_conn *conn;
	struct demux demux;
	uint32_t events;		/* epoll interest; 0 = not watched */
	struct hostproc host;		/* owns the pidfd; pid 0: no host view */
	uint8_t transport;		/* enum shell_transport */
	char transport_reason[SHELL_TRANSPORT_REASON_MAX];	/* why exec, when fifo was possible or asked */
	bool attached;			/* the pid line's work is done: host view, FIFOs, the wrapper answered */
	struct shell_fifo fifo;
	bool input_broken;		/* sending stdin failed: writes get EPIPE */
	/* Completion (pipe sessions, see prompt.h and completion.c). */
	bool setup_sent;
	struct prompt_scanner scanner[STREAM_COUNT];
	/* Prompt markers seen per stream, the set-up one included; stderr's wait for stdout's count. */
	uint64_t markers[STREAM_COUNT];
	uint64_t both_done;		/* prompts marked on both streams and complete */
	uint64_t events_done;		/* prompts complete, the set-up one included */
	struct completion_event *pending;	/* stderr's, waiting for stdout: [head, len) */
	size_t pending_head, pending_len, pending_size;
	/*
	 * The stream the shell's own fd 2 writes to. stdout (a terminal, or
	 * stderr merged): then stdout is one ordered stream with every marker.
	 */
	enum session_stream stderr_stream;
	/* bash: its terminal noise (noise.h) is taken out of stderr_stream. */
	bool filter_noise;
	struct noise_filter noise;
	/* A start marker (PS0) came on the stream after its last prompt marker: a command runs. */
	bool started[STREAM_COUNT];
	uint64_t prompts;		/* prompts complete on both streams, after the set-up one */
	uint64_t lines_sent;		/* newlines written to stdin since the set-up line */
	bool line_open;			/* the input written so far ends mid-line */
	enum prompt_kind last_kind;
	bool probing;			/* a waiting probe (completion.c) is out */
	uint64_t probe_lines;		/* the counts at the prompt that asked for the probe */
	uint64_t probe_prompts;
	bool has_last_exit;
	int last_exit;
	bool has_exit_code;		/* EXITED, and the engine said how */
	int exit_code;
};

struct session {
	uint64_t id;
	char name[SESSION_NAME_MAX + 1];
	char marker[SESSION_MARKER_MAX];	/* PROCCTL_ENV_NAME=<mount>.<id> */
	char token[PROMPT_TOKEN_LEN + 1];
	enum session_state state;
	unsigned refs;
	bool listed;
	bool warm;			/* in the warm pool (warm.c): started ahead for a mkdir, never listed */
	struct session *id_next;
	struct session *name_next;
	struct list_node in_listing;
	struct list_node in_closing;	/* sessions.closing: rmdir'ed, its processes not killed yet */
	struct list_node in_pool;	/* the warm pool's shells (warm.c) */

	struct session_shell shell;
	struct cgroup *cgroup;		/* its processes' (procs.c); NULL: none made */
	struct session_settings settings;
	struct session_output out[STREAM_COUNT];
	struct bytequeue input;
	struct list_node writers;
	/* Input and output in the order they happened; its mtime is the last activity. */
	struct record transcript;
	struct session_history history;
	char *cwd;			/* the shell's directory at its last prompt; NULL: unknown */
	struct session_expect expect;
	struct session_redaction redaction;
	struct session_admission admission;

	int64_t timeout_ms;
	bool eof_when_idle;
	bool refuse_busy_input;		/* stdin writes while a command runs fail with EBUSY */
	int64_t quiet_ms;		/* a read ends after this long without output; 0: never */
	int64_t last_output_ns;		/* the last byte on stdout or stderr */
	int64_t last_activity_ns;	/* last stdin write or stream read, for idle_timeout */
	int64_t last_input_ns;		/* last stdin write */
	struct loop_timer probe;	/* when to ask the shell's state (completion.c) */
	struct loop_timer buffered;	/* the transport holds bytes epoll cannot see (shell.c) */
	struct parked *mkdir;		/* CREATING: the mkdir waiting for the shell; NULL once it gave up */
	char last_error[CTL_ERR_MAX];
	struct timespec ctime;
	struct list_node handles;
};

struct session_handle {
	struct session *s;
	enum session_file file;
	int64_t opened_ns;
	int64_t deadline_ns;		/* stdout/stderr: open time + timeout */
	char *ctl_text;			/* ctl: snapshot made by the read at offset 0 */
	size_t ctl_len;
	struct poll_handle *poll;	/* to notify when the file becomes ready */
	struct list_node in_session;
};

/* A job of a session: holds a reference to it while queued and running. Kinds embed it first. */
struct session_job {
	struct job job;
	struct session *s;
	struct req *req;
};

struct sessions_state {
	pthread_mutex_t lock;
	struct sessions_config cfg;
	char mount_token[17];
	uint64_t next_id;
	size_t listed;			/* sessions in sessions/, starting ones included */
	struct session *by_id[SESSION_HASH_BUCKETS];
	struct session *by_name[SESSION_HASH_BUCKETS];
	struct list_node listing;	/* listed sessions, creation order */
	struct list_node parked;	/* every parked request */
	size_t parked_bytes;		/* the copies parked stdin writes hold, at most cfg.parked_max */
	struct list_node closing;	/* sessions waiting for the clean-up job (lifecycle.c) */
	bool clean_up_queued;
	struct loop *loop;
	struct loop_timer idle_check;	/* lifecycle.c: idle_timeout */
	int64_t started_ns;		/* sessions_init: the mount's uptime */
	bool stopping;
};

extern struct sessions_state sessions;

static inline bool session_stream_ended(const struct session *s)
{
	return s->state == SESSION_EXITING || s->state == SESSION_EXITED ||
	       s->state == SESSION_CLOSING || s->state == SESSION_CLOSED;
}

/* The shell has read every line written to it and prompts for more: kind says which prompt. */
static inline bool session_prompting(const struct session *s, enum prompt_kind kind)
{
	const struct session_shell *sh = &s->shell;

	/* A terminal's keystrokes without a newline are a line being typed: not done. */
	return s->state == SESSION_RUNNING && sh->events_done > 0 && !(sh->tty && sh->line_open) &&
	       sh->pending_len == 0 && sh->prompts >= sh->lines_sent && sh->last_kind == kind &&
	       !sh->started[STREAM_STDOUT] && !sh->started[STREAM_STDERR];
}

/* The shell has run every line written to it and waits for a new command. */
static inline bool session_idle(const struct session *s)
{
	return session_prompting(s, PROMPT_COMMAND);
}

/* The shell waits for the rest of an incomplete command (an open quote, a do without done). */
static inline bool session_continuing(const struct session *s)
{
	return session_prompting(s, PROMPT_CONTINUATION);
}

/* With nothing buffered, a read ends (EOF) now rather than at its deadline. */
static inline bool session_reads_end(const struct session *s)
{
	return session_stream_ended(s) || s->expect.matched ||
	       (s->eof_when_idle && (session_idle(s) || session_continuing(s)));
}

static inline enum session_file session_stream_file(enum session_stream stream)
{
	return stream == STREAM_STDOUT ? SESSION_STDOUT : SESSION_STDERR;
}

/* registry.c */
void session_ref(struct session *s);
void session_unref(struct session *s);
/* Known by its id: the event loop's events and the clean-ups find it, nothing lists it. */
void session_register(struct session *s);
/* In sessions/ under its name (registered already). */
void session_list_add(struct session *s);
void session_unlist(struct session *s);
bool session_visible(const struct session *s);
struct session *session_find_id(uint64_t id);
struct session *session_find_name(const char *name);
/* Frees every session, open handles included: shutdown, once nothing else runs. */
void session_free_all(void);
/* A zeroed job of size bytes (a kind that embeds struct session_job first). */
void *session_job_new(struct session *s, void (*run)(struct job *), struct req *req, size_t size);
void session_job_done(struct session_job *job);
/* Wakes poll(2) waiting on file of s (never from inside a related request's handler). */
void session_notify_poll(struct session *s, enum session_file file);
/* What a helper for id's processes needs: the container, id's user, the session's marker. */
void session_scope(const struct session *s, const struct shell_id *id, struct procctl_scope *scope);
void session_handle_attach(struct session *s, struct session_handle *h);
void session_handle_free(struct session_handle *h);

/* watchdog.c */
int watchdog_init(char err[ENGINE_ERR_MAX]);
void watchdog_stop(void);
void watchdog_handle_events(uint32_t events);
void watchdog_shell_started(int pid);
void watchdog_shell_gone(int pid);

/* record.c: also the transcript and history files' handlers */
uint64_t record_start(const struct record *r);
/* Keeps the newest limit bytes (0: none); whole_lines: drops the oldest whole lines. */
void record_append(struct record *r, const char *data, size_t len, size_t limit, bool whole_lines);
void transcript_record(struct session *s, const char *data, size_t len);
void record_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags);
void record_lseek(struct req *req, struct session_handle *h, off_t off, int whence);
void record_stat(const struct session *s, enum session_file file, struct stat *st);

/* history.c */
void history_init(struct session *s);
void history_free(struct session *s);
/* Input queued for the shell. */
void history_input(struct session *s, const char *buf, size_t size);
/* A prompt complete on both streams; setup: the set-up line's, which answers no line of the user's. */
void history_prompt(struct session *s, enum prompt_kind kind, int status, bool setup);
/* Completion found count lines read by commands, not by the shell. */
void history_lines_eaten(struct session *s, uint64_t count);
void history_shell_exited(struct session *s, int exit_code);
void history_shell_reset(struct session *s);

/* expect.c */
/* Input went to the shell: what comes next is matched afresh. */
void expect_input(struct session *s);
/* Output of a stream (markers taken out); whoever pushes it serves the readers. */
void expect_output(struct session *s, enum session_stream stream, const char *data, size_t len);
/* Would output data[0..len) on stream, appended, end with a match? */
bool expect_would_match(struct session *s, enum session_stream stream, const char *data, size_t len);
void expect_set(struct session *s, struct regex *re);
void expect_free(struct session *s);

/* stream.c: also the stdout and stderr files' handlers */
void stream_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags);
unsigned stream_poll(const struct session *s, enum session_file file);
void stream_stat(const struct session *s, enum session_file file, struct stat *st);
void stream_init(struct session *s);
void stream_push(struct session *s, enum session_stream stream, const char *data, size_t len);
void stream_serve_readers(struct session *s, enum session_stream stream);
bool stream_output_full(const struct session *s);
/* A request to park: add it (behind queue, if any); answer it, then parked_finish it. */
struct parked *parked_new(struct req *req, void (*interrupted)(struct parked *p), size_t size,
			  struct session *s);
void parked_add(struct parked *p, struct list_node *queue);
void parked_finish(struct parked *p);
/* The interrupted handler of requests that did nothing yet: EINTR. */
void parked_interrupted(struct parked *p);

/* redaction.c: each passes its bytes on at once when no rules are set */
void redaction_init(struct session *s);
void redaction_free(struct session *s);
/* Output of the shell, markers taken out: to the stream once redacted. */
void redaction_output(struct session *s, enum session_stream stream, const char *data, size_t len);
/* Input queued for the shell, or a refusal's line: to the transcript once redacted. */
void redaction_input(struct session *s, const char *data, size_t len);
/* A prompt marker on stream: what its output and the input hold goes out. */
void redaction_prompt(struct session *s, enum session_stream stream);
/* The shell is gone: everything held goes out. */
void redaction_flush_all(struct session *s);
/* A history line redacted into *out (data NULL: lost); false: no rule changed it. */
bool redaction_history_line(struct session *s, const char *line, size_t len, struct redaction_text *out);
/* 0: no rules (*out NULL); 1: *out is the redacted copy, NUL-terminated; -1: out of memory. */
int redaction_text(const char *text, size_t len, char **out);
uint64_t redaction_count(const struct session *s);

/* input.c: also the stdin file's handlers */
void input_write(struct req *req, struct session_handle *h, const char *buf, size_t size);
unsigned input_poll(const struct session *s, enum session_file file);
void input_pump_out(struct session *s);
void input_serve_writers(struct session *s);
/* A restart: what the old shell was sent or held back is gone. */
void input_reset(struct session *s);
void input_free(struct session *s);

/* procs.c */
/* What acting on a shell's processes needs, copied under the lock (scope points into it: do not move it). */
struct procs_target {
	struct shell_id id;
	struct procctl_scope scope;
	struct cgroup *cgroup;		/* the session's: lives as long as the session */
	bool command_runs;		/* a line was sent that the shell has not finished */
};
void procs_target(struct session *s, const struct shell_id *id, struct procs_target *t);
/* Moves the shell's host process into the session's cgroup, made on first use (the lock dropped meanwhile). */
int procs_join(struct session *s, int host_pid, unsigned long long host_start, char err[ENGINE_ERR_MAX]);
/* procctl_signal, procctl_shell_waiting, procctl_stdin_reader: from the host if it sees the shell. Lock NOT held. */
int procs_signal(const struct procs_target *t, const char *signal, enum procctl_target target,
		 char err[ENGINE_ERR_MAX]);
int procs_waiting(const struct procs_target *t, char err[ENGINE_ERR_MAX]);
int procs_reader(const struct procs_target *t, bool shell_counts, char err[ENGINE_ERR_MAX]);
/*
 * The session goes: its cgroup killed and removed (the lock dropped
 * meanwhile). -EOPNOTSUPP without one, or when its shell is outside it:
 * then the helper has the rest to find.
 */
int procs_end(struct session *s);
/* Before procs_end of many sessions: SIGKILL to what their cgroups hold now, so that all die at once. */
void procs_end_start(struct session *s);
void procs_free(struct session *s);

/* completion.c */
void completion_init(struct session *s);
/* Output of a pipe session: markers taken out, the rest to the stream. */
void completion_feed(struct session *s, enum session_stream stream, const char *data, size_t len);
/* End of stream: whatever was held back as a possible marker was output after all. */
void completion_flush(struct session *s);

/* shell.c */
void shell_init(struct session *s);
int shell_start(struct session *s, char err[ENGINE_ERR_MAX]);
void shell_disconnect(struct session *s);
/* The event loop: which of the shell's fds (enum shell_fd) is ready for events. */
void shell_handle_events(struct session *s, unsigned which, uint32_t events);
/* The epoll interest of the shell's fds from the session's state and buffers. */
void session_watch_update(struct session *s);
/* Sends stdin bytes to the shell without blocking: a count, -EAGAIN, or -errno. */
ssize_t shell_send(struct session *s, const void *buf, size_t len);
/* Signals id's processes (a copy: the lock is dropped); -ESRCH if the shell is gone. */
int shell_signal(struct session *s, const struct shell_id *id, const char *signal, enum procctl_target target,
		 char err[ENGINE_ERR_MAX]);
int shell_resize(struct session *s, char err[ENGINE_ERR_MAX]);
void shell_begin_restart(struct session *s);
int shell_restart(struct session *s, const struct shell_id *old, char err[ENGINE_ERR_MAX]);
/* Answers everything parked on s that can be: readers get what is left or EOF, writers EPIPE. */
void session_release_parked(struct session *s);

/* lifecycle.c */
/* A session named name, CREATING, with one reference (the listing's or the pool's); not registered yet. */
int session_new(const char *name, struct session **out);
/* Starts s's shell (the lock dropped meanwhile), then answers its mkdir, keeps it warm or undoes the start. */
void session_start(struct session *s);
/* Out of the tree at once; the clean-up job kills what it started. Takes over the listing's (or pool's) reference. */
void session_close(struct session *s);

/* warm.c: the pool holds a reference to each of its shells */
void warm_init(void);
/* Room for more shells in the pool (a mkdir took one, an rmdir freed a place): the fill job starts them. */
void warm_refill(void);
/* A shell of the pool for a mkdir, ready or starting, out of the pool with its reference; NULL if none. */
struct session *warm_take(void);
/* s, of the pool, could not start: out of the pool, and no new start for a while. */
void warm_start_failed(struct session *s, const char *err);
/* The pool's ready shells, for status. */
size_t warm_ready(void);
/* Unmount: the pool's shells go with the listed ones (sessions_shutdown kills them all). */
void warm_stop(void);

/* ctl_status.c: the ctl file read (takes the lock itself) */
const char *session_state_name(const struct session *s);
void ctl_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags);

/* ctl.c: the ctl file written (takes the lock itself) */
void ctl_write(struct req *req, struct session_handle *h, const char *buf, size_t size);

/* files.c */
void session_stat_locked(const struct session *s, enum session_file file, struct stat *st);

#endif
