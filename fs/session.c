/*
 * seshfs: sessions, their lifecycle (see session.h): the registry, mkdir and
 * rmdir, the engine jobs that start, restart, signal and close shells, and
 * start-up and shutdown. The data path is in session_io.c, the ctl file in
 * session_ctl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "procctl.h"
#include "session_internal.h"

struct sessions_state sessions = {
	/* Held for microseconds: spinning a little beats sleeping on a 2-core machine. */
	.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
	.epoll_fd = -1,
	.wake_fd = -1,
	.timer_fd = -1,
	.timer_armed_ns = NO_DEADLINE,
};

static int random_hex(char *out, size_t bytes)
{
	unsigned char random[32];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || bytes > sizeof(random) || read(fd, random, bytes) != (ssize_t)bytes) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", random[i]);
	return 0;
}

/* ---- registry ---- */

static unsigned name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % SESSION_HASH_BUCKETS;
}

struct session *session_find_id(uint64_t id)
{
	struct session *s = sessions.by_id[id % SESSION_HASH_BUCKETS];

	while (s && s->id != id)
		s = s->id_next;
	return s;
}

static struct session *registry_find_name(const char *name)
{
	struct session *s = sessions.by_name[name_bucket(name)];

	while (s && strcmp(s->name, name) != 0)
		s = s->name_next;
	return s;
}

static void registry_unlink(struct session **slot, struct session *s, size_t next_offset)
{
	while (*slot && *slot != s)
		slot = (struct session **)((char *)*slot + next_offset);
	if (*slot)
		*slot = *(struct session **)((char *)s + next_offset);
}

static void registry_unlist(struct session *s)
{
	if (!s->listed)
		return;
	registry_unlink(&sessions.by_name[name_bucket(s->name)], s, offsetof(struct session, name_next));
	list_del(&s->in_listing);
	s->listed = false;
}

static bool session_visible(const struct session *s)
{
	return s->listed && s->state != SESSION_CREATING;
}

static void session_free(struct session *s)
{
	registry_unlink(&sessions.by_id[s->id % SESSION_HASH_BUCKETS], s, offsetof(struct session, id_next));
	list_del(&s->in_probes);
	list_del(&s->in_holds);
	exec_conn_close(s->shell.conn);
	for (int i = 0; i < STREAM_COUNT; i++)
		bytequeue_clear(&s->out[i].queue);
	bytequeue_clear(&s->input);
	bytequeue_clear(&s->transcript);
	settings_free(&s->settings);
	free(s);
}

void session_unref(struct session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

struct session_job *session_job_new(struct session *s, void (*run)(struct engine_job *),
					   fuse_req_t req)
{
	struct session_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->job.run = run;
	job->s = s;
	job->req = req;
	s->refs++;
	return job;
}

void session_job_done(struct session_job *job)
{
	session_unref(job->s);
	free(job);
}

static void session_inspect_run(struct engine_job *engine_job);
static void session_stat_locked(struct session *s, enum session_file file, struct stat *st);

/* RUNNING -> EXITING: the shell is gone. */
void session_exit(struct session *s)
{
	s->state = SESSION_EXITING;
	session_disconnect(s);
	bytequeue_clear(&s->input);
	session_flush_scanners(s);
	session_release_parked(s);
	for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
		session_notify_poll(s, (enum session_file)f);
	struct session_job *job = session_job_new(s, session_inspect_run, NULL);
	if (job)
		engine_submit(&job->job);
	else
		s->state = SESSION_EXITED;
	log_debug("session %s: shell exited", s->name);
}

static void session_close_run(struct engine_job *engine_job);

/* Unlists s and kills what it started; req (rmdir) is answered once that is done. */
int session_close(struct session *s, fuse_req_t req)
{
	struct session_job *job = session_job_new(s, session_close_run, req);

	if (!job)
		return -ENOMEM;
	registry_unlist(s);
	s->state = SESSION_CLOSING;
	session_disconnect(s);
	bytequeue_clear(&s->input);
	session_release_parked(s);
	session_unref(s);	/* the listing's reference; the job holds one */
	engine_submit(&job->job);
	return 0;
}

/* ---- engine jobs ---- */

static void session_inspect_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	struct docker_exec_status status = { 0 };
	char exec_id[DOCKER_EXEC_ID_MAX];
	char err[DOCKER_ERR_MAX];

	pthread_mutex_lock(&sessions.lock);
	strcpy(exec_id, s->shell.exec_id);
	pthread_mutex_unlock(&sessions.lock);
	int ret = docker_exec_inspect(sessions.cfg.docker, exec_id, &status, err);

	pthread_mutex_lock(&sessions.lock);
	if (ret < 0 || !status.has_exit_code) {
		log_error("session %s: cannot read the shell's exit code: %s", s->name,
			  ret < 0 ? err : "engine reports none");
		snprintf(s->last_error, sizeof(s->last_error), "exit code unknown");
	}
	/* A restart may have begun meanwhile: then this exit is old news. */
	if (s->state == SESSION_EXITING && strcmp(exec_id, s->shell.exec_id) == 0) {
		s->shell.exit_code = status.exit_code;
		s->state = SESSION_EXITED;
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static int errno_from_start(int ret)
{
	switch (ret) {
	case -ENOENT:
	case -ESRCH:
		return ESRCH;	/* container gone or stopped */
	case -ECONNREFUSED:
		return ECONNREFUSED;
	case -ETIMEDOUT:
		return ETIMEDOUT;
	default:
		return EIO;
	}
}

/* The shell is up once its pid came and, without a tty, both streams carried the set-up prompt. */
static bool session_shell_ready(const struct session_shell *sh)
{
	return sh->pid > 0 && (sh->tty || (sh->markers[STREAM_STDOUT] > 0 && sh->markers[STREAM_STDERR] > 0));
}

/* Pipe sessions: the first line installs the prompt markers (see prompt.h). */
static int session_send_setup(struct session *s, char err[DOCKER_ERR_MAX])
{
	char line[PROMPT_SETUP_MAX];
	int len = prompt_setup_line(s->token, line, sizeof(line));

	s->shell.setup_sent = true;
	/* A short first write into an empty socket goes out whole. */
	if (exec_conn_send(s->shell.conn, line, len) != len) {
		snprintf(err, DOCKER_ERR_MAX, "cannot send the prompt set-up line");
		return -EIO;
	}
	return 0;
}

/*
 * Engine thread: create and start the exec, then wait until the shell is
 * ready. Called with the lock held; drops it around every engine call.
 */
static int session_start_exec(struct session *s, char err[DOCKER_ERR_MAX])
{
	struct session_settings settings;
	const char *argv[PROCCTL_SHELL_ARGC];
	char exec_id[DOCKER_EXEC_ID_MAX];
	int64_t deadline = now_ns() + SESSION_START_TIMEOUT_MS * NSEC_PER_MSEC;
	int ret;

	if (settings_copy(&settings, &s->settings) < 0) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	const char **env = calloc(settings.env_count + 3, sizeof(*env));
	if (!env) {
		settings_free(&settings);
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	size_t envc = 0;
	env[envc++] = s->marker;
	if (settings.tty && !settings_has_env(&settings, "TERM"))
		env[envc++] = "TERM=xterm";
	for (size_t i = 0; i < settings.env_count; i++)
		env[envc++] = settings.env[i];
	procctl_shell_argv(settings.shell, settings.tty, argv);
	struct docker_exec_spec spec = {
		.container = sessions.cfg.container,
		.argv = argv,
		.env = env,
		.user = settings.user,
		.workdir = settings.workdir,
		.attach_stdin = true,
		.tty = settings.tty,
	};

	pthread_mutex_unlock(&sessions.lock);
	struct exec_conn *conn = NULL;
	ret = docker_exec_create(sessions.cfg.docker, &spec, exec_id, err);
	if (ret < 0)
		ret = -errno_from_start(ret);
	if (ret == 0) {
		ret = exec_conn_start(sessions.cfg.docker, exec_id, settings.tty,
				      SESSION_START_TIMEOUT_MS, &conn, err);
		if (ret < 0)
			ret = -errno_from_start(ret);
	}
	/* A tty starts with no size at all: give it one before the shell asks. */
	if (ret == 0 && settings.tty &&
	    docker_exec_resize(sessions.cfg.docker, exec_id, settings.cols, settings.rows, err) < 0)
		log_error("session %s: resize: %s", s->name, err);
	pthread_mutex_lock(&sessions.lock);
	free(env);
	if (ret < 0)
		goto out;

	struct session_shell *sh = &s->shell;
	strcpy(sh->exec_id, exec_id);
	sh->tty = settings.tty;
	sh->conn = conn;
	demux_init(&sh->demux, settings.tty);
	for (int i = 0; i < STREAM_COUNT; i++)
		prompt_scanner_init(&sh->scanner[i], s->token);
	for (;;) {
		enum pump_result result = session_pump_in(s);
		if (sh->pid > 0 && !sh->tty && !sh->setup_sent) {
			ret = session_send_setup(s, err);
			if (ret < 0)
				break;
		}
		if (session_shell_ready(sh))
			break;
		if (result == PUMP_ENDED || sh->startup_len >= sizeof(sh->startup) - 1) {
			snprintf(err, DOCKER_ERR_MAX, "shell did not start: %s",
				 sh->startup_len ? sh->startup : "exec ended at once");
			ret = sh->startup_len && strstr(sh->startup, "not found") ? -ENOENT : -EIO;
			break;
		}
		pthread_mutex_unlock(&sessions.lock);
		int64_t left_ms = (deadline - now_ns()) / NSEC_PER_MSEC;
		int ready = left_ms > 0 ? exec_conn_wait(conn, POLLIN, (int)left_ms) : 0;
		pthread_mutex_lock(&sessions.lock);
		if (ready <= 0) {
			snprintf(err, DOCKER_ERR_MAX, "shell did not start within %d ms",
				 SESSION_START_TIMEOUT_MS);
			ret = -ETIMEDOUT;
			break;
		}
	}
out:
	settings_free(&settings);
	return ret;
}

static void session_open_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	int ret = session_start_exec(s, err);
	if (ret == 0 && sessions.stopping) {
		snprintf(err, sizeof(err), "unmounting");
		ret = -ENODEV;
	}
	if (ret < 0) {
		log_error("mkdir %s: %s", s->name, err);
		registry_unlist(s);
		s->state = SESSION_CLOSED;
		fuse_reply_err(job->req, -ret);
		session_unref(s);	/* the listing's reference */
	} else {
		struct fuse_entry_param entry = { .ino = session_ino(s->id, SESSION_DIR) };
		s->state = SESSION_RUNNING;
		s->last_activity_ns = now_ns();
		session_update_events(s);
		session_stat_locked(s, SESSION_DIR, &entry.attr);
		fuse_reply_entry(job->req, &entry);
		log_debug("session %s: shell pid %d in %s", s->name, s->shell.pid, sessions.cfg.container);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* Engine thread, lock held: signal, restart and kill helpers take the session's shell pid. */
static int session_signal(struct session *s, const char *signal, enum procctl_target target,
			  char err[DOCKER_ERR_MAX])
{
	int pid = s->shell.pid;
	char marker[SESSION_MARKER_MAX];

	strcpy(marker, s->marker);
	pthread_mutex_unlock(&sessions.lock);
	int ret = procctl_signal(sessions.cfg.docker, sessions.cfg.container, signal, target,
				 marker, &pid, pid > 0 ? 1 : 0, err);
	pthread_mutex_lock(&sessions.lock);
	return ret;
}

/* RESTARTING: kill the old shell and all it started, then start a new one. */
static int session_restart(struct session *s, char err[DOCKER_ERR_MAX])
{
	int ret = session_signal(s, "KILL", PROCCTL_ALL, err);

	if (ret < 0)
		log_error("session %s: restart: processes may be left: %s", s->name, err);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	ret = session_start_exec(s, err);
	if (s->state != SESSION_RESTARTING)
		return -ESRCH;
	if (ret < 0) {
		s->state = SESSION_EXITED;
		s->shell.exit_code = -1;
		session_disconnect(s);
		session_release_parked(s);
		return ret;
	}
	s->state = SESSION_RUNNING;
	session_update_events(s);	/* input written meanwhile goes out now */
	session_release_parked(s);
	return 0;
}

void session_ctl_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	for (int i = 0; i < job->ctl.signal_count && ret == 0; i++) {
		/* Set before: the shell's newline may come before the helper's answer. */
		bool may_reach_shell = !strcmp(job->ctl.signals[i], "INT") || !strcmp(job->ctl.signals[i], "QUIT");
		s->shell.scanner[STREAM_STDERR].eat_newline |= may_reach_shell && !s->shell.tty;
		ret = session_signal(s, job->ctl.signals[i], PROCCTL_FOREGROUND, err);
		if (ret == 0 && may_reach_shell)
			s->shell.scanner[STREAM_STDERR].eat_newline = false;
		if (ret < 0)
			log_error("session %s: signal: %s", s->name, err);
		ret = ret < 0 ? ret : 0;
	}
	if (ret == 0 && job->ctl.resize && s->state == SESSION_RUNNING && s->shell.tty) {
		char exec_id[DOCKER_EXEC_ID_MAX];
		unsigned cols = s->settings.cols, rows = s->settings.rows;
		strcpy(exec_id, s->shell.exec_id);
		pthread_mutex_unlock(&sessions.lock);
		ret = docker_exec_resize(sessions.cfg.docker, exec_id, cols, rows, err);
		pthread_mutex_lock(&sessions.lock);
		if (ret < 0)
			log_error("session %s: resize: %s", s->name, err);
	}
	if (ret == 0 && job->ctl.restart) {
		ret = session_restart(s, err);
		if (ret < 0)
			log_error("session %s: restart: %s", s->name, err);
	}
	if (ret < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", err);
		fuse_reply_err(job->req, ret == -ESRCH ? ESRCH : EIO);
	} else {
		fuse_reply_write(job->req, job->ctl.reply_size);
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* Is the shell at its prompt with nothing left to read? Then the missing lines were eaten. */
void session_probe_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char exec_id[DOCKER_EXEC_ID_MAX];
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	int pid = s->shell.pid;
	strcpy(exec_id, s->shell.exec_id);
	pthread_mutex_unlock(&sessions.lock);
	int waiting = procctl_shell_waiting(sessions.cfg.docker, sessions.cfg.container, pid, err);
	pthread_mutex_lock(&sessions.lock);
	struct session_shell *sh = &s->shell;
	if (waiting < 0)
		log_error("session %s: cannot tell whether the shell waits: %s", s->name, err);
	if (s->state == SESSION_RUNNING && strcmp(exec_id, sh->exec_id) == 0) {
		sh->probing = false;
		if (waiting == 1) {
			uint64_t eaten = job->lines_sent - job->prompts;
			sh->lines_sent = sh->lines_sent - eaten > sh->prompts ? sh->lines_sent - eaten : sh->prompts;
			log_debug("session %s: %llu input lines were read by commands", s->name,
				  (unsigned long long)eaten);
			session_serve_readers(s, STREAM_STDOUT);
			session_serve_readers(s, STREAM_STDERR);
		}
	}
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

static void session_close_run(struct engine_job *engine_job)
{
	struct session_job *job = (struct session_job *)engine_job;
	struct session *s = job->s;
	char err[DOCKER_ERR_MAX] = "";

	pthread_mutex_lock(&sessions.lock);
	if (session_signal(s, "KILL", PROCCTL_ALL, err) < 0)
		log_error("session %s: processes may be left in %s: %s", s->name, sessions.cfg.container, err);
	s->state = SESSION_CLOSED;
	/* Pollers learn of the end here, on an engine thread: never from inside rmdir's handler. */
	for (int f = SESSION_STDIN; f <= SESSION_STDERR; f++)
		session_notify_poll(s, (enum session_file)f);
	if (job->req)
		fuse_reply_err(job->req, 0);
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- mkdir / rmdir ---- */

bool session_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SESSION_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

void session_mkdir(fuse_req_t req, const char *name)
{
	struct session *s = NULL;
	struct session_job *job = NULL;

	if (!session_name_valid(name)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&sessions.lock);
	if (registry_find_name(name)) {
		pthread_mutex_unlock(&sessions.lock);
		fuse_reply_err(req, EEXIST);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s || settings_copy(&s->settings, &sessions.cfg.defaults) < 0)
		goto nomem;
	if (random_hex(s->token, PROMPT_TOKEN_LEN / 2) < 0)
		goto nomem;
	s->id = sessions.next_id++;
	strcpy(s->name, name);
	snprintf(s->marker, sizeof(s->marker), "%s=%s.%010llu", PROCCTL_ENV_NAME,
		 sessions.mount_token, (unsigned long long)s->id);
	s->state = SESSION_CREATING;
	s->refs = 1;	/* the listing's */
	s->timeout_ms = sessions.cfg.timeout_ms;
	s->eof_when_idle = true;
	clock_gettime(CLOCK_REALTIME, &s->ctime);
	for (int i = 0; i < STREAM_COUNT; i++) {
		list_init(&s->out[i].readers);
		s->out[i].mtime = s->ctime;
	}
	list_init(&s->writers);
	list_init(&s->handles);
	list_init(&s->in_probes);
	list_init(&s->in_holds);
	job = session_job_new(s, session_open_run, req);
	if (!job)
		goto nomem;
	s->id_next = sessions.by_id[s->id % SESSION_HASH_BUCKETS];
	sessions.by_id[s->id % SESSION_HASH_BUCKETS] = s;
	s->name_next = sessions.by_name[name_bucket(name)];
	sessions.by_name[name_bucket(name)] = s;
	list_add_tail(&sessions.listing, &s->in_listing);
	s->listed = true;
	pthread_mutex_unlock(&sessions.lock);
	engine_submit(&job->job);
	return;
nomem:
	pthread_mutex_unlock(&sessions.lock);
	if (s)
		settings_free(&s->settings);
	free(s);
	fuse_reply_err(req, ENOMEM);
}

void session_rmdir(fuse_req_t req, const char *name)
{
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	struct session *s = registry_find_name(name);
	if (!s || !session_visible(s))
		ret = -ENOENT;
	else if (s->state == SESSION_RESTARTING)
		ret = -EBUSY;	/* the restart's engine job owns the shell until it is done */
	else
		ret = session_close(s, req);
	pthread_mutex_unlock(&sessions.lock);
	if (ret < 0)
		fuse_reply_err(req, -ret);
}

/* ---- lookups and attributes ---- */

/* Lock held: a new reference to s if the tree shows it, else NULL. */
static struct session *session_ref_visible(struct session *s)
{
	if (!s || !session_visible(s))
		return NULL;
	s->refs++;
	return s;
}

struct session *session_get_by_name(const char *name)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(registry_find_name(name));
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

struct session *session_get_by_id(uint64_t id)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(session_find_id(id));
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

void session_put(struct session *s)
{
	pthread_mutex_lock(&sessions.lock);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}

uint64_t session_id(const struct session *s)
{
	return s->id;
}

static void stat_common(struct stat *st, fuse_ino_t ino, mode_t mode, struct timespec when)
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

void session_root_stat(fuse_ino_t ino, struct stat *st)
{
	static struct timespec mounted;

	if (mounted.tv_sec == 0)
		clock_gettime(CLOCK_REALTIME, &mounted);
	stat_common(st, ino, S_IFDIR | 0755, mounted);
}

static void session_stat_locked(struct session *s, enum session_file file, struct stat *st)
{
	static const mode_t modes[SESSION_FILE_COUNT] = {
		[SESSION_DIR] = S_IFDIR | 0755,
		[SESSION_STDIN] = S_IFREG | 0200,
		[SESSION_STDOUT] = S_IFREG | 0400,
		[SESSION_STDERR] = S_IFREG | 0400,
		[SESSION_CTL] = S_IFREG | 0600,
		[SESSION_TRANSCRIPT] = S_IFREG | 0400,
	};

	stat_common(st, session_ino(s->id, file), modes[file], s->ctime);
	if (file == SESSION_STDOUT || file == SESSION_STDERR) {
		struct session_output *o = &s->out[file == SESSION_STDOUT ? STREAM_STDOUT : STREAM_STDERR];
		st->st_size = (off_t)o->produced;
		st->st_mtim = o->mtime;
	} else if (file == SESSION_TRANSCRIPT) {
		st->st_size = (off_t)s->transcript_end;
		if (s->transcript_end > 0)
			st->st_mtim = s->transcript_mtime;
	}
}

void session_stat(struct session *s, enum session_file file, struct stat *st)
{
	pthread_mutex_lock(&sessions.lock);
	session_stat_locked(s, file, st);
	pthread_mutex_unlock(&sessions.lock);
}

void session_list(void (*fn)(void *ctx, const char *name, uint64_t id), void *ctx)
{
	struct list_node *pos, *tmp;

	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (session_visible(s))
			fn(ctx, s->name, s->id);
	}
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- open files ---- */

int session_open(struct session *s, enum session_file file, int flags, struct session_handle **out)
{
	int accmode = flags & O_ACCMODE;
	bool allowed;

	switch (file) {
	case SESSION_STDIN:
		allowed = accmode == O_WRONLY;
		break;
	case SESSION_STDOUT:
	case SESSION_STDERR:
	case SESSION_TRANSCRIPT:
		allowed = accmode == O_RDONLY;
		break;
	case SESSION_CTL:
		allowed = true;
		break;
	default:
		return -EISDIR;
	}
	if (!allowed)
		return -EACCES;

	struct session_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&sessions.lock);
	h->s = s;
	h->file = file;
	h->deadline_ns = now_ns() + s->timeout_ms * NSEC_PER_MSEC;
	s->refs++;
	list_add_tail(&s->handles, &h->in_session);
	pthread_mutex_unlock(&sessions.lock);
	*out = h;
	return 0;
}

struct session *session_handle_session(struct session_handle *h)
{
	return h->s;
}

bool session_file_truncatable(enum session_file file)
{
	return file == SESSION_STDIN || file == SESSION_CTL;
}

static void session_handle_free(struct session_handle *h)
{
	list_del(&h->in_session);
	if (h->poll)
		fuse_pollhandle_destroy(h->poll);
	free(h->ctl_text);
	free(h);
}

void session_release(struct session_handle *h)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = h->s;
	session_handle_free(h);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}

/* ---- start and shutdown ---- */

int sessions_init(const struct sessions_config *cfg)
{
	if (random_hex(sessions.mount_token, 8) < 0)
		return -EIO;
	sessions.cfg = *cfg;
	sessions.next_id = 1;
	list_init(&sessions.listing);
	list_init(&sessions.parked);
	list_init(&sessions.probes);
	list_init(&sessions.holds);
	sessions.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	sessions.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sessions.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (sessions.epoll_fd < 0 || sessions.wake_fd < 0 || sessions.timer_fd < 0)
		return -errno;
	struct epoll_event wake = { .events = EPOLLIN, .data.u64 = IO_WAKE_ID };
	struct epoll_event timer = { .events = EPOLLIN, .data.u64 = IO_TIMER_ID };
	if (epoll_ctl(sessions.epoll_fd, EPOLL_CTL_ADD, sessions.wake_fd, &wake) < 0 ||
	    epoll_ctl(sessions.epoll_fd, EPOLL_CTL_ADD, sessions.timer_fd, &timer) < 0)
		return -errno;
	int err = pthread_create(&sessions.io_thread, NULL, io_main, NULL);
	if (err)
		return -err;
	sessions.io_running = true;
	return engine_start(SESSION_ENGINE_THREADS);
}

void sessions_shutdown(void)
{
	struct list_node *pos, *tmp;

	/*
	 * No FUSE request comes any more. Answer the parked ones; connections
	 * stay open until the shells are killed: closing them first would make
	 * every shell exit on EOF at once, and the engine, busy with all those
	 * exits, would start the kill helper late.
	 */
	pthread_mutex_lock(&sessions.lock);
	sessions.stopping = true;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (s->state == SESSION_RUNNING) {
			s->state = SESSION_CLOSING;
			session_update_events(s);	/* out of the I/O loop */
		}
		session_release_parked(s);
	}
	pthread_mutex_unlock(&sessions.lock);
	uint64_t one = 1;
	if (write(sessions.wake_fd, &one, sizeof(one)) < 0)
		log_error("cannot wake the I/O loop: %s", strerror(errno));
	if (sessions.io_running)
		pthread_join(sessions.io_thread, NULL);
	engine_stop();	/* pending mkdir/rmdir/ctl jobs finish and answer */

	/* One helper kills what every session of this mount started. */
	size_t npids = 0;
	int *pids = calloc(sessions.next_id, sizeof(*pids));
	for (size_t b = 0; pids && b < SESSION_HASH_BUCKETS; b++) {
		for (struct session *s = sessions.by_id[b]; s; s = s->id_next) {
			if (s->shell.pid > 0 && s->state != SESSION_CLOSED)
				pids[npids++] = s->shell.pid;
		}
	}
	char marker[SESSION_MARKER_MAX];
	char err[DOCKER_ERR_MAX];
	snprintf(marker, sizeof(marker), "%s=%s.", PROCCTL_ENV_NAME, sessions.mount_token);
	if (npids > 0 && procctl_signal(sessions.cfg.docker, sessions.cfg.container, "KILL",
					PROCCTL_ALL, marker, pids, npids, err) < 0)
		log_error("unmount: processes may be left in %s: %s", sessions.cfg.container, err);
	free(pids);

	/* Whatever is left is ours alone now: free it, open handles included. */
	for (size_t b = 0; b < SESSION_HASH_BUCKETS; b++) {
		while (sessions.by_id[b]) {
			struct session *s = sessions.by_id[b];
			list_for_each_safe(pos, tmp, &s->handles)
				session_handle_free(list_entry(pos, struct session_handle, in_session));
			registry_unlist(s);
			session_free(s);
		}
	}
	if (sessions.epoll_fd >= 0)
		close(sessions.epoll_fd);
	if (sessions.wake_fd >= 0)
		close(sessions.wake_fd);
	if (sessions.timer_fd >= 0)
		close(sessions.timer_fd);
}
