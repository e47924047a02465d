/*
 * seshfs: the shell of a session, one exec: starting it, reading its stream
 * (demux, the pid line, markers), its exit, and what jobs do to it (signal,
 * resize, restart). Engine calls happen on job threads with the lock dropped.
 *
 * Its stdin, stdout and stderr travel one of two ways (enum
 * shell_transport). The exec stream: the engine relays them. FIFOs, on a
 * local engine (../../backend/hostproc.h, fifo.h): the engine still starts
 * the shell, so it has the container's whole security context, but once
 * the wrapper (procctl.c) said its pid, seshfs finds it on the host, makes
 * FIFOs in a private directory inside the container and tells the wrapper
 * where; the wrapper moves the shell onto them and answers "fifo" on the
 * exec stream, whose names then go. The exec stream stays open, carrying
 * nothing more: it ends with the shell, as before, and then the FIFOs are
 * read to their end and the engine says the exit code.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../util/log.h"
#include "internal.h"

#define SHELL_RECV_CHUNK (64 * 1024)
/* Reads per wake-up of one session, so a busy stream cannot starve the others. */
#define SHELL_RECV_BURST 8
/* A start waiting for its shell looks this often whether anybody still wants it. */
#define SHELL_START_SLICE_MS 100

enum pump_result {
	PUMP_AGAIN,	/* nothing more to read now */
	PUMP_MORE,	/* a burst's worth read: there may be more */
	PUMP_FULL,	/* buffers full: reading paused */
	PUMP_ENDED,	/* end of stream or a broken connection */
};

/* What the exec stream and the FIFOs bring is read into this, under sessions.lock only. */
static char shell_buf[SHELL_RECV_CHUNK];

/* mkdir and restart: an engine's "no such container" is, to a caller starting a shell, a stopped one. */
static int shell_errno(int engine_errno)
{
	return engine_errno == -ENOENT ? -ESRCH : engine_errno;
}

/* "PID DIALECT", the wrapper's first line (procctl.h); false for anything else: its complaint. */
static bool shell_parse_startup(struct session_shell *sh)
{
	char *end;
	long pid = strtol(sh->startup, &end, 10);
	int dialect = end != sh->startup && *end == ' ' ? cmdline_dialect_parse(end + 1) : -1;

	if (dialect < 0 || pid <= 0 || pid >= INT32_MAX)
		return false;
	sh->id.pid = (int)pid;
	sh->dialect = (uint8_t)dialect;
	return true;
}

/* The wrapper's first stdout line says which shell runs; the rest is output. */
static void shell_take_startup(struct session *s, const char **data, size_t *len)
{
	struct session_shell *sh = &s->shell;

	while (*len > 0 && sh->id.pid == 0 && sh->startup_len < sizeof(sh->startup) - 1) {
		char c = **data;
		(*data)++;
		(*len)--;
		if (c == '\r')
			continue;	/* a tty turns \n into \r\n */
		if (c == '\n') {
			if (!shell_parse_startup(sh))
				sh->startup_len = sizeof(sh->startup) - 1;	/* fail */
			return;
		}
		sh->startup[sh->startup_len++] = c;
		sh->startup[sh->startup_len] = '\0';
	}
}

/* seshfs's ends of the FIFOs close, and their names go if they are still there. */
static void shell_fifo_close(struct session_shell *sh)
{
	struct shell_fifo *f = &sh->fifo;

	fifo_remove(&f->dir);
	for (int end = 0; f->open && end < FIFO_COUNT; end++)
		close(f->fds[end]);
	f->open = false;
	memset(f->events, 0, sizeof(f->events));
	sh->transport = SHELL_TRANSPORT_EXEC;
}

/* The shell stays on the exec stream: why, in ctl and in the log. */
static void shell_fifo_give_up(struct session *s, const char *why)
{
	struct session_shell *sh = &s->shell;

	shell_fifo_close(sh);
	snprintf(sh->transport_reason, sizeof(sh->transport_reason), "%s", why);
	log_info("session %s: the shell uses the exec stream, not FIFOs: %s", s->name, why);
}

/* The wrapper's answer, the line after the pid line: "fifo" (it moved onto them) or "exec". */
static void shell_take_answer(struct session *s, const char **data, size_t *len)
{
	struct shell_fifo *f = &s->shell.fifo;

	while (*len > 0 && f->asked) {
		char c = **data;
		(*data)++;
		(*len)--;
		if (c != '\n') {
			if (f->answer_len < sizeof(f->answer) - 1)
				f->answer[f->answer_len++] = c;
			continue;
		}
		f->asked = false;
		fifo_remove(&f->dir);	/* the shell has them open, or never will */
		if (strcmp(f->answer, "fifo") == 0) {
			s->shell.transport = SHELL_TRANSPORT_FIFO;
		} else {
			f->refused = true;
			shell_fifo_give_up(s, "the shell could not open its FIFOs");
		}
	}
}

static void shell_sink(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct session *s = ctx;
	enum session_stream which = stream == DEMUX_STDERR ? STREAM_STDERR : STREAM_STDOUT;

	if (which == STREAM_STDOUT && s->shell.id.pid == 0)
		shell_take_startup(s, &data, &len);
	if (which == STREAM_STDOUT && s->shell.fifo.asked)
		shell_take_answer(s, &data, &len);
	/* On FIFOs the exec stream is the wrapper's fd 7: nothing of the shell's output comes there. */
	if (len == 0 || s->shell.transport == SHELL_TRANSPORT_FIFO)
		return;
	completion_feed(s, which, data, len);
}

/* Reads the exec stream: all a shell on it says; of a shell on FIFOs, the wrapper's answer and the end. */
static enum pump_result shell_pump_in(struct session *s)
{
	enum pump_result result = PUMP_MORE;

	for (int burst = 0; burst < SHELL_RECV_BURST; burst++) {
		/* With FIFOs nothing read here is kept: no room is needed, and waiting for it would spin. */
		if (!s->shell.fifo.open && stream_output_full(s)) {
			result = PUMP_FULL;
			break;
		}
		ssize_t n = exec_conn_recv(s->shell.conn, shell_buf, sizeof(shell_buf));
		if (n == -EAGAIN) {
			result = PUMP_AGAIN;
			break;
		}
		if (n <= 0) {
			result = PUMP_ENDED;
			break;
		}
		if (demux_feed(&s->shell.demux, shell_buf, n, shell_sink, s) < 0) {
			log_error("session %s: malformed stream from the engine", s->name);
			result = PUMP_ENDED;
			break;
		}
	}
	stream_serve_readers(s, STREAM_STDOUT);
	stream_serve_readers(s, STREAM_STDERR);
	return result;
}

/* Reads the shell's stdout or stderr FIFO (transport FIFO): the stream's bytes as they are. */
static enum pump_result shell_pump_fifo(struct session *s, enum fifo_end end)
{
	struct shell_fifo *f = &s->shell.fifo;
	enum session_stream stream = end == FIFO_OUT ? STREAM_STDOUT : STREAM_STDERR;
	enum pump_result result = PUMP_MORE;

	for (int burst = 0; burst < SHELL_RECV_BURST; burst++) {
		if (f->ended[end]) {
			result = PUMP_ENDED;
			break;
		}
		if (stream_output_full(s)) {
			result = PUMP_FULL;
			break;
		}
		ssize_t n = read(f->fds[end], shell_buf, sizeof(shell_buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			result = PUMP_AGAIN;
			break;
		}
		if (n <= 0) {
			/* No writer left: the shell and all it started closed it. */
			if (n < 0)
				log_error("session %s: reading its FIFO: %s", s->name, strerror(errno));
			f->ended[end] = true;
			result = PUMP_ENDED;
			break;
		}
		completion_feed(s, stream, shell_buf, (size_t)n);
	}
	/* A marker on one stream may complete a prompt the other's readers wait for. */
	stream_serve_readers(s, STREAM_STDOUT);
	stream_serve_readers(s, STREAM_STDERR);
	return result;
}

/* Stops moving bytes: out of the event loop, the connection and the FIFOs closed. */
void shell_disconnect(struct session *s)
{
	session_watch_update(s);	/* state is no longer RUNNING: unwatches */
	loop_timer_cancel(&s->buffered);
	exec_conn_close(s->shell.conn);
	s->shell.conn = NULL;
	shell_fifo_close(&s->shell);
	hostproc_close(&s->shell.host);
}

ssize_t shell_send(struct session *s, const void *buf, size_t len)
{
	struct session_shell *sh = &s->shell;

	if (sh->transport != SHELL_TRANSPORT_FIFO)
		return exec_conn_send(sh->conn, buf, len);
	ssize_t n = write(sh->fifo.fds[FIFO_IN], buf, len);
	return n < 0 ? -errno : n;
}

static void shell_watch(struct session *s, enum shell_fd which, int fd, uint32_t *watched, uint32_t want)
{
	int ret = loop_watch(sessions.loop, fd, s->id << SHELL_FD_BITS | which, watched, want);

	if (ret < 0)
		log_error("session %s: epoll_ctl: %s", s->name, strerror(-ret));
}

void session_watch_update(struct session *s)
{
	struct session_shell *sh = &s->shell;
	bool running = s->state == SESSION_RUNNING;
	bool room = running && !stream_output_full(s);
	bool input = running && s->input.len > 0 && !sh->input_broken;

	if (!sh->conn)
		return;
	if (sh->transport != SHELL_TRANSPORT_FIFO) {
		shell_watch(s, SHELL_FD_EXEC, exec_conn_fd(sh->conn), &sh->events,
			    (room ? EPOLLIN : 0) | (input ? EPOLLOUT : 0));
		/* Bytes a transport library holds never make the socket readable: read them now. */
		if (room && exec_conn_pending(sh->conn) > 0)
			loop_timer_set(sessions.loop, &s->buffered, loop_now_ns());
		return;
	}
	struct shell_fifo *f = &sh->fifo;
	shell_watch(s, SHELL_FD_EXEC, exec_conn_fd(sh->conn), &sh->events, running && !f->exec_ended ? EPOLLIN : 0);
	shell_watch(s, SHELL_FD_IN, f->fds[FIFO_IN], &f->events[FIFO_IN], input && !f->exec_ended ? EPOLLOUT : 0);
	shell_watch(s, SHELL_FD_OUT, f->fds[FIFO_OUT], &f->events[FIFO_OUT], room && !f->ended[FIFO_OUT] ? EPOLLIN : 0);
	shell_watch(s, SHELL_FD_ERR, f->fds[FIFO_ERR], &f->events[FIFO_ERR], room && !f->ended[FIFO_ERR] ? EPOLLIN : 0);
	/* The shell is gone, its output not read to the end yet: go on now there is room. */
	if (room && f->exec_ended)
		loop_timer_set(sessions.loop, &s->buffered, loop_now_ns());
}

void session_release_parked(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		stream_serve_readers(s, (enum session_stream)i);
	input_serve_writers(s);
}

struct shell_exit_job {
	struct session_job job;
	char exec_id[ENGINE_EXEC_ID_MAX];
};

/* Job: the exit code of the shell whose stream ended. */
static void shell_inspect_run(struct job *j)
{
	struct shell_exit_job *job = (struct shell_exit_job *)j;
	struct session *s = job->job.s;
	struct engine_exec_status status = { 0 };
	char err[ENGINE_ERR_MAX];
	int ret = sessions.cfg.engine->ops->exec_inspect(sessions.cfg.engine, job->exec_id, &status, err);

	pthread_mutex_lock(&sessions.lock);
	if (ret < 0 || !status.has_exit_code) {
		log_error("session %s: cannot read the shell's exit code: %s", s->name,
			  ret < 0 ? err : "engine reports none");
		snprintf(s->last_error, sizeof(s->last_error), "exit code unknown");
	}
	/* A restart may have begun meanwhile: then this exit is old news. */
	if (s->state == SESSION_EXITING && strcmp(job->exec_id, s->shell.exec_id) == 0) {
		s->state = SESSION_EXITED;
		s->shell.has_exit_code = ret == 0 && status.has_exit_code;
		s->shell.exit_code = status.exit_code;
		if (s->shell.has_exit_code)
			history_shell_exited(s, status.exit_code);
		else
			history_shell_reset(s);
	}
	session_job_done(&job->job);
	pthread_mutex_unlock(&sessions.lock);
}

/* RUNNING -> EXITING: the shell is gone. */
static void shell_exit(struct session *s)
{
	s->state = SESSION_EXITING;
	shell_disconnect(s);
	bytequeue_clear(&s->input);
	completion_flush(s);
	session_release_parked(s);
	for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
		session_notify_poll(s, (enum session_file)f);
	struct shell_exit_job *job = session_job_new(s, shell_inspect_run, NULL, sizeof(*job));
	if (job) {
		strcpy(job->exec_id, s->shell.exec_id);
		jobs_submit(&job->job.job);
	} else {
		s->state = SESSION_EXITED;
	}
	log_debug("session %s: shell exited", s->name);
}

/*
 * The exec stream of a shell on FIFOs ended: the shell is gone, and what it
 * wrote is in the FIFOs. Read to their end (what orphans write later is
 * lost, as the exec stream would have been theirs alone), it has exited.
 */
static void shell_fifo_drain(struct session *s)
{
	for (int end = FIFO_OUT; end <= FIFO_ERR; end++) {
		enum pump_result result = shell_pump_fifo(s, (enum fifo_end)end);
		if (result == PUMP_FULL || result == PUMP_MORE) {
			session_watch_update(s);	/* on again at once, or once readers made room */
			return;
		}
	}
	shell_exit(s);
}

/* The event loop: one of the shell's fds is ready. */
void shell_handle_events(struct session *s, unsigned which, uint32_t events)
{
	struct session_shell *sh = &s->shell;

	/* Events of a connection or FIFO closed since epoll_wait returned are stale. */
	if (s->state != SESSION_RUNNING || !sh->conn)
		return;
	if (which != SHELL_FD_EXEC && sh->transport != SHELL_TRANSPORT_FIFO)
		return;
	if (sh->fifo.exec_ended) {
		shell_fifo_drain(s);
		return;
	}
	if (which == SHELL_FD_OUT || which == SHELL_FD_ERR) {
		shell_pump_fifo(s, (enum fifo_end)(which - SHELL_FD_IN));
		session_watch_update(s);
		return;
	}
	if (events & EPOLLOUT)
		input_pump_out(s);
	if (which != SHELL_FD_EXEC || s->state != SESSION_RUNNING || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (shell_pump_in(s) != PUMP_ENDED) {
		session_watch_update(s);
	} else if (sh->transport == SHELL_TRANSPORT_FIFO) {
		sh->fifo.exec_ended = true;
		shell_fifo_drain(s);
	} else {
		shell_exit(s);
	}
}

static void shell_read_buffered(struct loop_timer *timer)
{
	shell_handle_events(list_entry(timer, struct session, buffered), SHELL_FD_EXEC, EPOLLIN);
}

void shell_init(struct session *s)
{
	loop_timer_init(&s->buffered, shell_read_buffered);
}

/* The shell is up once its pid came and its set-up prompt is complete. */
static bool shell_ready(const struct session_shell *sh)
{
	return sh->id.pid > 0 && sh->events_done > 0;
}

/* The first line installs the prompt markers (see prompt.h). */
static int shell_send_setup(struct session *s, const struct session_settings *settings, char err[ENGINE_ERR_MAX])
{
	char line[PROMPT_SETUP_MAX];
	int len = prompt_setup_line(s->token, settings->tty, settings->stderr_merged, settings->echo, line,
				    sizeof(line));

	s->shell.setup_sent = true;
	/* A short first write into an empty socket or FIFO goes out whole. */
	if (shell_send(s, line, len) != len) {
		snprintf(err, ENGINE_ERR_MAX, "cannot send the prompt set-up line");
		return -EIO;
	}
	return 0;
}

/* The exec's environment: the session marker, TERM for a tty, then the settings'. */
static const char **shell_env(const struct session *s, const struct session_settings *settings)
{
	const char **env = calloc(settings->env_count + 3, sizeof(*env));
	size_t envc = 0;

	if (!env)
		return NULL;
	env[envc++] = s->marker;
	if (settings->tty && !settings_has_env(settings, "TERM"))
		env[envc++] = "TERM=xterm";
	for (size_t i = 0; i < settings->env_count; i++)
		env[envc++] = settings->env[i];
	return env;
}

/* Creates and attaches the exec (lock dropped); 0 with *conn, or -errno. ask_fifo: see procctl_shell_argv. */
static int shell_create(struct session *s, const struct session_settings *settings, bool ask_fifo,
			char exec_id[ENGINE_EXEC_ID_MAX], struct exec_conn **conn, char err[ENGINE_ERR_MAX])
{
	struct engine *e = sessions.cfg.engine;
	const char *argv[PROCCTL_SHELL_ARGC];
	const char **env = shell_env(s, settings);
	int ret;

	if (!env) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	procctl_shell_argv(settings->shell, settings->tty, settings->stderr_merged, ask_fifo, argv);
	struct engine_exec_spec spec = {
		.container = sessions.cfg.container,
		.argv = argv,
		.env = env,
		.user = settings->user,
		.workdir = settings->workdir,
		.attach_stdin = true,
		.tty = settings->tty,
	};
	pthread_mutex_unlock(&sessions.lock);
	ret = e->ops->exec_create(e, &spec, exec_id, err);
	if (ret == 0)
		ret = e->ops->exec_attach(e, exec_id, settings->tty, SESSION_START_TIMEOUT_MS, conn, err);
	/* A tty starts with no size at all: give it one before the shell asks. */
	if (ret == 0 && settings->tty &&
	    e->ops->exec_resize(e, exec_id, settings->cols, settings->rows, err) < 0)
		log_error("session %s: resize: %s", s->name, err);
	pthread_mutex_lock(&sessions.lock);
	free(env);
	return ret < 0 ? shell_errno(ret) : 0;
}

/*
 * Can this shell have FIFOs: the engine is local, and it has no terminal?
 * If not, why (for ctl's transport_reason).
 */
static bool shell_fifo_possible(const struct session_settings *settings, char why[ENGINE_ERR_MAX])
{
	why[0] = '\0';
	if (sessions.cfg.transport == SESSIONS_TRANSPORT_EXEC)
		snprintf(why, ENGINE_ERR_MAX, "-o transport=exec");
	else if (settings->tty)
		snprintf(why, ENGINE_ERR_MAX, "a terminal session: the terminal is the engine's");
	else if (hostproc_engine_local(engine_url(sessions.cfg.engine), why) == 0 && !sessions.cfg.container_id[0])
		snprintf(why, ENGINE_ERR_MAX, "the engine gave no container id");
	return why[0] == '\0';
}

/*
 * The pid line came (lock held, dropped meanwhile): find the shell on the
 * host and move it into the session's cgroup; if the wrapper asks, make its
 * FIFOs and tell it where they are, or "-" to stay on the exec stream,
 * logged and in ctl (-o transport=fifo: the start fails instead). The
 * wrapper waits for that answer, so all the shell starts is in the cgroup.
 */
static int shell_attach(struct session *s, bool ask_fifo, char err[ENGINE_ERR_MAX])
{
	struct session_shell *sh = &s->shell;
	struct hostproc host = { .pidfd = -1 };
	struct fifo_dir dir = { 0 };
	int fds[FIFO_COUNT];
	char why[ENGINE_ERR_MAX] = "";
	char line[FIFO_PATH_MAX + 1] = "-\n";
	int ns_pid = sh->id.pid;
	int ret = -EOPNOTSUPP;

	sh->attached = true;
	if (hostproc_engine_local(engine_url(sessions.cfg.engine), why) < 0 || !sessions.cfg.container_id[0])
		return 0;	/* no host view: ask_fifo is false too */
	pthread_mutex_unlock(&sessions.lock);
	ret = hostproc_find(sessions.cfg.container_id, ns_pid, &host, why);
	pthread_mutex_lock(&sessions.lock);
	if (ret == 0) {
		char cgroup_err[ENGINE_ERR_MAX];
		sh->host = host;
		sh->id.host_pid = host.pid;
		sh->id.host_start = host.start_time;
		if (procs_join(s, host.pid, host.start_time, cgroup_err) < 0)
			log_error("session %s: its processes have no cgroup of their own: %s", s->name, cgroup_err);
	}
	if (!ask_fifo)
		return 0;
	if (ret == 0) {
		pthread_mutex_unlock(&sessions.lock);
		ret = fifo_create(&host, &dir, fds, why);
		pthread_mutex_lock(&sessions.lock);
	}
	if (ret == 0) {
		sh->fifo.open = true;
		memcpy(sh->fifo.fds, fds, sizeof(fds));
		sh->fifo.dir = dir;
		sh->fifo.asked = true;
		snprintf(line, sizeof(line), "%s\n", dir.path);
	} else {
		shell_fifo_give_up(s, why);
		if (sessions.cfg.transport == SESSIONS_TRANSPORT_FIFO) {
			snprintf(err, ENGINE_ERR_MAX, "-o transport=fifo: %s", why);
			return -EOPNOTSUPP;
		}
	}
	/* The wrapper waits for this line alone: a short write into an empty socket goes out whole. */
	int len = (int)strlen(line);
	if (exec_conn_send(sh->conn, line, len) != len) {
		snprintf(err, ENGINE_ERR_MAX, "cannot answer the shell's wrapper");
		return -EIO;
	}
	return 0;
}

/* Waits (the lock dropped) until the exec stream, or a FIFO the shell writes, is readable: 1, 0 at the timeout, -errno. */
static int shell_wait_readable(struct session *s, int timeout_ms)
{
	struct session_shell *sh = &s->shell;
	struct pollfd fds[1 + FIFO_COUNT] = { { .fd = exec_conn_fd(sh->conn), .events = POLLIN } };
	nfds_t n = 1;
	int ready;

	for (int end = FIFO_OUT; sh->transport == SHELL_TRANSPORT_FIFO && end <= FIFO_ERR; end++) {
		if (!sh->fifo.ended[end])
			fds[n++] = (struct pollfd){ .fd = sh->fifo.fds[end], .events = POLLIN };
	}
	pthread_mutex_unlock(&sessions.lock);
	do {
		ready = poll(fds, n, timeout_ms);
	} while (ready < 0 && errno == EINTR);
	if (ready < 0)
		ready = -errno;
	pthread_mutex_lock(&sessions.lock);
	return ready;
}

/* Reads the new shell's stream (lock dropped while waiting) until it is ready, bounded. */
static int shell_wait_ready(struct session *s, const struct session_settings *settings, bool ask_fifo,
			    int64_t deadline_ns, char err[ENGINE_ERR_MAX])
{
	struct session_shell *sh = &s->shell;

	for (;;) {
		enum pump_result result = shell_pump_in(s);
		/* Until the wrapper's answer the FIFOs may have no writer yet: a read would take that for their end. */
		for (int end = FIFO_OUT; sh->transport == SHELL_TRANSPORT_FIFO && end <= FIFO_ERR; end++)
			shell_pump_fifo(s, (enum fifo_end)end);
		if (sh->id.pid > 0 && !sh->attached) {
			int ret = shell_attach(s, ask_fifo, err);
			if (ret < 0)
				return ret;
		}
		if (sh->fifo.refused && sessions.cfg.transport == SESSIONS_TRANSPORT_FIFO) {
			snprintf(err, ENGINE_ERR_MAX, "-o transport=fifo: %s", sh->transport_reason);
			return -EOPNOTSUPP;
		}
		if (sh->attached && !sh->fifo.asked && !sh->setup_sent) {
			int ret = shell_send_setup(s, settings, err);
			if (ret < 0)
				return ret;
		}
		if (shell_ready(sh))
			return 0;
		if (result == PUMP_ENDED || sh->startup_len >= sizeof(sh->startup) - 1) {
			snprintf(err, ENGINE_ERR_MAX, "shell did not start: %s",
				 sh->startup_len ? sh->startup : "exec ended at once");
			return sh->startup_len && strstr(sh->startup, "not found") ? -ENOENT : -EIO;
		}
		/*
		 * Unmounting, or the mkdir gave up (a restart's session stays listed,
		 * the warm pool's is wanted by the pool): stop, once the pid line
		 * came. The engine answers the start before the process exists, so
		 * a clean-up sent earlier can miss it.
		 */
		if ((sessions.stopping || (!s->listed && !s->warm)) && sh->id.pid > 0) {
			snprintf(err, ENGINE_ERR_MAX, "%s", sessions.stopping ? "unmounting" : "nobody waits for it");
			return -ENODEV;
		}
		int64_t left_ms = (deadline_ns - loop_now_ns()) / NSEC_PER_MSEC;
		int ready = left_ms > 0 ? shell_wait_readable(s, left_ms < SHELL_START_SLICE_MS ?
								 (int)left_ms : SHELL_START_SLICE_MS) : 0;
		if (ready < 0 || (ready == 0 && left_ms <= SHELL_START_SLICE_MS)) {
			snprintf(err, ENGINE_ERR_MAX, "shell did not start within %d ms", SESSION_START_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
	}
}

/*
 * A start that failed once its exec existed may have left processes: the
 * wrapper, a shell that never prompts (a script that sleeps) and what it
 * started. They go as an rmdir'ed session's do: the group, the marker.
 */
static void shell_undo_start(struct session *s, const char *user)
{
	struct shell_id id = s->shell.id;
	char err[ENGINE_ERR_MAX];

	snprintf(id.user, sizeof(id.user), "%s", user);
	if (shell_signal(s, &id, "KILL", PROCCTL_ALL, err) < 0)
		log_error("session %s: a failed start may have left processes: %s", s->name, err);
}

/*
 * Job thread, lock held (dropped around every engine call): create and
 * start the exec, then wait until the shell is ready.
 */
int shell_start(struct session *s, char err[ENGINE_ERR_MAX])
{
	struct session_settings settings;
	struct session_shell *sh = &s->shell;
	char exec_id[ENGINE_EXEC_ID_MAX] = "";	/* set once the exec exists */
	struct exec_conn *conn = NULL;
	char why[ENGINE_ERR_MAX];

	if (settings_copy(&settings, &s->settings) < 0) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	bool ask_fifo = shell_fifo_possible(&settings, why);
	snprintf(sh->transport_reason, sizeof(sh->transport_reason), "%s", why);
	int ret = 0;
	if (!ask_fifo && sessions.cfg.transport == SESSIONS_TRANSPORT_FIFO) {
		snprintf(err, ENGINE_ERR_MAX, "-o transport=fifo: %s", why);
		ret = -EOPNOTSUPP;
	}
	if (ret == 0)
		ret = shell_create(s, &settings, ask_fifo, exec_id, &conn, err);
	if (ret == 0) {
		strcpy(sh->exec_id, exec_id);
		snprintf(sh->id.user, sizeof(sh->id.user), "%s", settings.user);
		sh->tty = settings.tty;
		sh->conn = conn;
		demux_init(&sh->demux, settings.tty);
		for (int i = 0; i < STREAM_COUNT; i++) {
			prompt_scanner_init(&sh->scanner[i], s->token);
			sh->scanner[i].crlf = settings.tty;
		}
		const char *base = strrchr(settings.shell, '/');
		sh->filter_noise = !settings.tty && strcmp(base ? base + 1 : settings.shell, "bash") == 0;
		sh->stderr_stream = settings.tty || settings.stderr_merged ? STREAM_STDOUT : STREAM_STDERR;
		noise_init(&sh->noise);
		/* From the start, not the create: a slow engine must not leave the new shell unwatched. */
		ret = shell_wait_ready(s, &settings, ask_fifo, loop_now_ns() + SESSION_START_TIMEOUT_MS * NSEC_PER_MSEC,
				       err);
		if (ret == 0 && sessions.stopping) {
			snprintf(err, ENGINE_ERR_MAX, "unmounting");
			ret = -ENODEV;
		}
		if (ret == 0)
			watchdog_shell_started(sh->id.pid);
	}
	if (ret < 0 && exec_id[0])
		shell_undo_start(s, settings.user);
	settings_free(&settings);
	return ret;
}

/* Job thread, lock held (dropped while it runs: a helper exec, unless the host sees the shell). */
int shell_signal(struct session *s, const struct shell_id *id, const char *signal, enum procctl_target target,
		 char err[ENGINE_ERR_MAX])
{
	struct procs_target t;

	procs_target(s, id, &t);
	pthread_mutex_unlock(&sessions.lock);
	int ret = procs_signal(&t, signal, target, err);
	pthread_mutex_lock(&sessions.lock);
	return ret;
}

/* Job thread, lock held: the tty's size from the settings. */
int shell_resize(struct session *s, char err[ENGINE_ERR_MAX])
{
	struct engine *e = sessions.cfg.engine;
	char exec_id[ENGINE_EXEC_ID_MAX];
	unsigned cols = s->settings.cols, rows = s->settings.rows;

	if (s->state != SESSION_RUNNING || !s->shell.tty)
		return 0;
	strcpy(exec_id, s->shell.exec_id);
	pthread_mutex_unlock(&sessions.lock);
	int ret = e->ops->exec_resize(e, exec_id, cols, rows, err);
	pthread_mutex_lock(&sessions.lock);
	return ret;
}

/* ctl restart, at once: the old shell's connection goes; its unread output stays for readers. */
void shell_begin_restart(struct session *s)
{
	s->state = SESSION_RESTARTING;
	shell_disconnect(s);
	redaction_flush_all(s);
	bytequeue_clear(&s->input);
	input_reset(s);
	input_serve_writers(s);
	history_shell_reset(s);
	for (int i = 0; i < STREAM_COUNT; i++)
		prompt_scanner_free(&s->shell.scanner[i]);
	free(s->shell.pending);
	memset(&s->shell, 0, sizeof(s->shell));
}

/* Job thread, RESTARTING: kill the old shell and all it started, then start a new one. */
int shell_restart(struct session *s, const struct shell_id *old, char err[ENGINE_ERR_MAX])
{
	int ret = shell_signal(s, old, "KILL", PROCCTL_ALL, err);

	if (ret < 0)
		log_error("session %s: restart: processes may be left: %s", s->name, err);
	watchdog_shell_gone(old->pid);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	ret = shell_start(s, err);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	if (ret < 0) {
		s->state = SESSION_EXITED;	/* no shell ran: no exit code */
		shell_disconnect(s);
		session_release_parked(s);
		return ret;
	}
	s->state = SESSION_RUNNING;
	session_release_parked(s);	/* writers waiting for room may queue now */
	session_watch_update(s);	/* input written meanwhile goes out now */
	return 0;
}
