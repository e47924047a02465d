/*
 * seshfs: reading the ctl file: "key value" lines, one row of ctl_keys
 * each, every value escaped (util/text.h). Adding a key is one row plus
 * its function.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/text.h"
#include "internal.h"

const char *session_state_name(const struct session *s)
{
	switch (s->state) {
	case SESSION_CREATING:
		return "starting";
	case SESSION_RUNNING:
		return "running";
	case SESSION_RESTARTING:
		return "restarting";
	case SESSION_EXITING:
	case SESSION_EXITED:
		return "exited";
	default:
		return "closed";
	}
}

/* A growing text; failed sticks once memory runs out. */
struct ctl_text {
	char *data;
	size_t len;
	bool failed;
};

static void ctl_line(struct ctl_text *t, const char *key, size_t max, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Appends "key value\n", the value redacted (-o redact=) and escaped
 * (text.h): values hold text from users and containers, and a reader
 * parses one key per line. max bounds the escaped value (0: no bound).
 */
static void ctl_line(struct ctl_text *t, const char *key, size_t max, const char *fmt, ...)
{
	va_list ap;
	char *value, *redacted;

	if (t->failed)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&value, fmt, ap);
	va_end(ap);
	int ret = n < 0 ? 0 : redaction_text(value, (size_t)n, &redacted);
	if (ret != 0) {
		free(value);
		value = redacted;
		n = ret < 0 ? -1 : (int)strlen(redacted);
	}
	size_t room = n < 0 ? 0 : max ? max + 1 : 4 * (size_t)n + 1;
	char *grown = n < 0 ? NULL : realloc(t->data, t->len + strlen(key) + 1 + room + 1);
	if (grown) {
		size_t len = (size_t)sprintf(grown + t->len, "%s ", key);
		len += text_escape(value, (size_t)n, grown + t->len + len, room);
		grown[t->len + len++] = '\n';
		t->data = grown;
		t->len += len;
	}
	if (n >= 0)
		free(value);
	t->failed = !grown;
}

static void key_state(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", session_state_name(s));
}

static void key_activity(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->state == SESSION_RUNNING)
		ctl_line(t, key, 0, "%s", session_idle(s) ? "idle" : session_continuing(s) ? "continuation" : "busy");
}

static void key_last_exit(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->shell.has_last_exit)
		ctl_line(t, key, 0, "%d", s->shell.last_exit);
}

static void key_exit_code(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->state == SESSION_EXITED && s->shell.has_exit_code)
		ctl_line(t, key, 0, "%d", s->shell.exit_code);
}

static void key_commands(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%llu", (unsigned long long)s->history.entries);
}

static void ctl_time_line(struct ctl_text *t, const char *key, const struct timespec *when)
{
	char text[CTL_TIME_MAX];

	ctl_format_time(when, text, sizeof(text));
	ctl_line(t, key, 0, "%s", text);
}

static void key_created(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_time_line(t, key, &s->ctime);
}

/* The transcript's mtime: the last stdin write or output (recorded even with transcript_size=0). */
static void key_last_active(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_time_line(t, key, s->transcript.mtime.tv_sec ? &s->transcript.mtime : &s->ctime);
}

static void key_expect(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->expect.re)
		ctl_line(t, key, 0, "%s", regex_pattern(s->expect.re));
}

static void key_cwd(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->cwd)
		ctl_line(t, key, 0, "%s", s->cwd);
}

static void ctl_seconds_line(struct ctl_text *t, const char *key, int64_t ms)
{
	char seconds[32];

	ctl_format_seconds(ms, seconds, sizeof(seconds));
	ctl_line(t, key, 0, "%s", seconds);
}

static void key_timeout(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_seconds_line(t, key, s->timeout_ms);
}

static void key_eof(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->eof_when_idle ? "idle" : "deadline");
}

static void key_quiet(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_seconds_line(t, key, s->quiet_ms);
}

static void key_busy_input(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->refuse_busy_input ? "refuse" : "queue");
}

static void key_stderr(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->settings.stderr_merged ? "merged" : "separate");
}

static void key_container(struct ctl_text *t, const char *key, const struct session *s)
{
	(void)s;
	ctl_line(t, key, 0, "%s", sessions.cfg.container);
}

static void key_exec_id(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->shell.exec_id);
}

static void key_pid(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%d", s->shell.id.pid);
}

/* Known once the shell's start got that far: its pid line answered. */
static void key_transport(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->shell.attached)
		ctl_line(t, key, 0, "%s", s->shell.transport == SHELL_TRANSPORT_FIFO ? "fifo" : "exec");
}

/* Why a shell that could have had FIFOs has the exec stream. */
static void key_transport_reason(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->shell.attached && s->shell.transport_reason[0])
		ctl_line(t, key, 0, "%s", s->shell.transport_reason);
}

static void key_shell(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->settings.shell);
}

/* Whose grammar the policy follows: the shell the wrapper found it started. */
static void key_dialect(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->shell.id.pid > 0)
		ctl_line(t, key, 0, "%s", cmdline_dialect_name((enum cmdline_dialect)s->shell.dialect));
}

static void key_tty(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->settings.tty ? "on" : "off");
}

static void key_echo(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%s", s->settings.echo ? "on" : "off");
}

static void key_size(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%u %u", s->settings.cols, s->settings.rows);
}

static void key_user(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->settings.user[0])
		ctl_line(t, key, 0, "%s", s->settings.user);
}

static void key_workdir(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->settings.workdir[0])
		ctl_line(t, key, 0, "%s", s->settings.workdir);
}

static void key_env(struct ctl_text *t, const char *key, const struct session *s)
{
	for (size_t i = 0; i < s->settings.env_count; i++)
		ctl_line(t, key, 0, "%s", s->settings.env[i]);
}

static void key_transcript_start(struct ctl_text *t, const char *key, const struct session *s)
{
	ctl_line(t, key, 0, "%llu", (unsigned long long)record_start(&s->transcript));
}

static void key_error(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->last_error[0])
		ctl_line(t, key, TEXT_SHOWN_MAX, "%s", s->last_error);
}

/* From the container's cgroup, a file read on the host: no engine call, no wait. */
static void key_oom_kills(struct ctl_text *t, const char *key, const struct session *s)
{
	struct engine *e = sessions.cfg.engine;
	unsigned long long count;
	(void)s;

	if (sessions.cfg.container_id[0] && e->ops->oom_kills(e, sessions.cfg.container_id, &count) == 0)
		ctl_line(t, key, 0, "%llu", count);
}

/* The session's cgroup (procs.c): what its processes used, files read on the host. */
static void key_cpu_seconds(struct ctl_text *t, const char *key, const struct session *s)
{
	unsigned long long ns;

	if (s->cgroup && cgroup_cpu_ns(s->cgroup, &ns) == 0)
		ctl_line(t, key, 0, "%llu.%03llu", ns / 1000000000, ns / 1000000 % 1000);
}

static void key_memory(struct ctl_text *t, const char *key, const struct session *s)
{
	unsigned long long bytes;

	if (s->cgroup && cgroup_memory(s->cgroup, &bytes) == 0)
		ctl_line(t, key, 0, "%llu", bytes);
}

static void key_policy(struct ctl_text *t, const char *key, const struct session *s)
{
	(void)s;
	if (sessions.cfg.policy)
		ctl_line(t, key, 0, "%s", policy_source(sessions.cfg.policy));
}

static void key_refused(struct ctl_text *t, const char *key, const struct session *s)
{
	if (sessions.cfg.policy)
		ctl_line(t, key, 0, "%llu", (unsigned long long)s->admission.refused);
}

static void key_last_refusal(struct ctl_text *t, const char *key, const struct session *s)
{
	if (s->admission.last_refusal)
		ctl_line(t, key, TEXT_SHOWN_MAX, "%s", s->admission.last_refusal);
}

static void key_redacted(struct ctl_text *t, const char *key, const struct session *s)
{
	if (sessions.cfg.redact)
		ctl_line(t, key, 0, "%llu", (unsigned long long)redaction_count(s));
}

/* The keys in the order they are shown; a row may show no line (not applicable) or several. */
static const struct {
	const char *key;
	void (*show)(struct ctl_text *t, const char *key, const struct session *s);
} ctl_keys[] = {
	{ "state", key_state },
	{ "activity", key_activity },
	{ "last_exit", key_last_exit },
	{ "exit_code", key_exit_code },
	{ "commands", key_commands },
	{ "created", key_created },
	{ "last_active", key_last_active },
	{ "cwd", key_cwd },
	{ "timeout", key_timeout },
	{ "eof", key_eof },
	{ "quiet", key_quiet },
	{ "expect", key_expect },
	{ "busy_input", key_busy_input },
	{ "container", key_container },
	{ "oom_kills", key_oom_kills },
	{ "cpu_seconds", key_cpu_seconds },
	{ "memory", key_memory },
	{ "exec_id", key_exec_id },
	{ "pid", key_pid },
	{ "transport", key_transport },
	{ "transport_reason", key_transport_reason },
	{ "shell", key_shell },
	{ "dialect", key_dialect },
	{ "tty", key_tty },
	{ "echo", key_echo },
	{ "stderr", key_stderr },
	{ "size", key_size },
	{ "user", key_user },
	{ "workdir", key_workdir },
	{ "env", key_env },
	{ "transcript_start", key_transcript_start },
	{ "error", key_error },
	{ "policy", key_policy },
	{ "refused", key_refused },
	{ "last_refusal", key_last_refusal },
	{ "redacted", key_redacted },
};

/* A read at offset 0 takes a snapshot; reads further on continue it. */
void ctl_read(struct req *req, struct session_handle *h, size_t size, off_t off, int flags)
{
	(void)flags;
	pthread_mutex_lock(&sessions.lock);
	if (off == 0 || !h->ctl_text) {
		struct ctl_text t = { 0 };
		for (size_t i = 0; i < sizeof(ctl_keys) / sizeof(ctl_keys[0]); i++)
			ctl_keys[i].show(&t, ctl_keys[i].key, h->s);
		free(h->ctl_text);
		h->ctl_text = t.failed ? NULL : t.data;
		h->ctl_len = t.failed ? 0 : t.len;
		if (t.failed) {
			free(t.data);
			pthread_mutex_unlock(&sessions.lock);
			reply_err(req, ENOMEM);
			return;
		}
	}
	size_t start = (size_t)off < h->ctl_len ? (size_t)off : h->ctl_len;
	size_t n = h->ctl_len - start < size ? h->ctl_len - start : size;
	reply_buf(req, h->ctl_text ? h->ctl_text + start : "", n);
	pthread_mutex_unlock(&sessions.lock);
}
