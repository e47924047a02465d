/*
 * seshfs: writing the ctl file of a session (reading it: ctl_status.c).
 *
 * A write takes one command per line, one row of ctl_commands each: all lines are parsed
 * and applied to a staged change before anything takes effect, so a bad
 * line changes nothing. Engine work (signals, resize, restart) runs as a
 * job that answers the write when done. Adding a command is one row plus
 * its validate and apply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "../util/text.h"
#include "ctl.h"
#include "internal.h"

#define CTL_PATH_MAX 4096

/* What one ctl write does, staged before any of it takes effect. */
struct ctl_change {
	struct session *s;
	struct session_settings settings;	/* a copy of the session's, changed */
	int64_t timeout_ms;
	bool eof_when_idle;
	bool refuse_busy_input;
	int64_t quiet_ms;
	int signal_count;
	const char *signals[CTL_MAX_COMMANDS];
	bool resize;
	bool restart;
	bool expect_changed;
	struct regex *expect;	/* the new pattern, compiled; NULL: off */
};

/* ---- validate: the argument is well-formed (no session needed) ---- */

static int ctl_check_seconds(struct ctl_command *cmd)
{
	return ctl_parse_seconds(cmd->arg, cmd->arg_len, &cmd->number);
}

/* The argument is one of the row's "a|b" choices; flag: it is the first. */
static int ctl_check_choice(struct ctl_command *cmd)
{
	const char *usage = cmd->def->usage;
	size_t first = strcspn(usage, "|");

	cmd->flag = cmd->arg_len == first && memcmp(cmd->arg, usage, first) == 0;
	if (cmd->flag || (strlen(usage + first + 1) == cmd->arg_len &&
			  memcmp(cmd->arg, usage + first + 1, cmd->arg_len) == 0))
		return 0;
	return -EINVAL;
}

static int ctl_check_signal(struct ctl_command *cmd)
{
	cmd->signal = ctl_signal_name(cmd->arg, cmd->arg_len);
	return cmd->signal ? 0 : -EINVAL;
}

static int ctl_check_size(struct ctl_command *cmd)
{
	return ctl_parse_size(cmd->arg, cmd->arg_len, &cmd->cols, &cmd->rows) ? 0 : -EINVAL;
}

/* Settings go to the engine as JSON strings: UTF-8 only. */
static int ctl_check_path(struct ctl_command *cmd)
{
	return cmd->arg_len > 0 && cmd->arg_len < CTL_PATH_MAX && text_valid_utf8(cmd->arg, cmd->arg_len) ?
	       0 : -EINVAL;
}

static int ctl_check_user(struct ctl_command *cmd)
{
	return cmd->arg_len < SETTINGS_USER_MAX && !memchr(cmd->arg, ' ', cmd->arg_len) &&
	       text_valid_utf8(cmd->arg, cmd->arg_len) ? 0 : -EINVAL;
}

static int ctl_check_assignment(struct ctl_command *cmd)
{
	return ctl_valid_env(cmd->arg, cmd->arg_len, true) && text_valid_utf8(cmd->arg, cmd->arg_len) ?
	       0 : -EINVAL;
}

static int ctl_check_name(struct ctl_command *cmd)
{
	return ctl_valid_env(cmd->arg, cmd->arg_len, false) ? 0 : -EINVAL;
}

/* A pattern, or nothing (off). */
static int ctl_check_pattern(struct ctl_command *cmd)
{
	return text_valid_utf8(cmd->arg, cmd->arg_len) ? 0 : -EINVAL;
}

static int ctl_check_nothing(struct ctl_command *cmd)
{
	return cmd->arg_len == 0 ? 0 : -EINVAL;
}

/* ---- apply: stage the command's effect in the change ---- */

static int ctl_apply_signal(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	if (c->s->state != SESSION_RUNNING || c->s->shell.id.pid <= 0) {
		snprintf(err, CTL_ERR_MAX, "signal: the shell is not running");
		return -ESRCH;
	}
	c->signals[c->signal_count++] = cmd->signal;
	return 0;
}

static int ctl_apply_resize(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	c->settings.cols = cmd->cols;
	c->settings.rows = cmd->rows;
	c->resize = true;
	return 0;
}

/* The generic appliers set the field of the change that the row's offset names. */
static void *ctl_field(struct ctl_change *c, const struct ctl_command *cmd)
{
	return (char *)c + cmd->def->field;
}

static int ctl_apply_string(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	return settings_set_string(ctl_field(c, cmd), cmd->arg, cmd->arg_len);
}

/* A choice: true for the first of the row's "a|b". */
static int ctl_apply_flag(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	*(bool *)ctl_field(c, cmd) = cmd->flag;
	return 0;
}

/* A terminal's keys (^C, ^U, ...) change a line after the policy checked it: no tty under one. */
static int ctl_apply_tty(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	if (cmd->flag && sessions.cfg.policy) {
		snprintf(err, CTL_ERR_MAX, "tty: a terminal and -o policy= do not mix");
		return -EPERM;
	}
	return ctl_apply_flag(c, cmd, err);
}

static int ctl_apply_ms(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	*(int64_t *)ctl_field(c, cmd) = cmd->number;
	return 0;
}

static int ctl_apply_env(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	return settings_setenv(&c->settings, cmd->arg, cmd->arg_len);
}

static int ctl_apply_unsetenv(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	(void)err;
	settings_unsetenv(&c->settings, cmd->arg, cmd->arg_len);
	return 0;
}

static int ctl_apply_expect(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	char reason[REGEX_ERR_MAX];
	struct regex *re = NULL;

	if (cmd->arg_len > 0 && !(re = regex_compile(cmd->arg, cmd->arg_len, true, reason))) {
		snprintf(err, CTL_ERR_MAX, "expect: %s", reason);
		return -EINVAL;
	}
	regex_free(c->expect);	/* an earlier expect line of the same write */
	c->expect = re;
	c->expect_changed = true;
	return 0;
}

static int ctl_apply_restart(struct ctl_change *c, const struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	enum session_state state = c->s->state;
	(void)cmd;

	if (state != SESSION_RUNNING && state != SESSION_EXITING && state != SESSION_EXITED) {
		snprintf(err, CTL_ERR_MAX, "restart: the session is %s", session_state_name(c->s));
		return -EBUSY;
	}
	c->restart = true;
	return 0;
}

#define FIELD(name) offsetof(struct ctl_change, name)

static const struct ctl_cmdtab ctl_commands[] = {
	{ "timeout", "SECONDS", ctl_check_seconds, ctl_apply_ms, FIELD(timeout_ms), false, false },
	{ "eof", "idle|deadline", ctl_check_choice, ctl_apply_flag, FIELD(eof_when_idle), false, false },
	{ "signal", "INT|TERM|KILL|HUP|QUIT|USR1|USR2", ctl_check_signal, ctl_apply_signal, 0, false, false },
	{ "resize", "COLS ROWS, each 1 to 10000", ctl_check_size, ctl_apply_resize, 0, false, false },
	{ "tty", "on|off", ctl_check_choice, ctl_apply_tty, FIELD(settings.tty), false, false },
	{ "echo", "on|off", ctl_check_choice, ctl_apply_flag, FIELD(settings.echo), false, false },
	{ "stderr", "merged|separate", ctl_check_choice, ctl_apply_flag, FIELD(settings.stderr_merged), false,
	  false },
	{ "busy_input", "refuse|queue", ctl_check_choice, ctl_apply_flag, FIELD(refuse_busy_input), false, false },
	{ "quiet", "SECONDS", ctl_check_seconds, ctl_apply_ms, FIELD(quiet_ms), false, false },
	{ "shell", "PATH (UTF-8)", ctl_check_path, ctl_apply_string, FIELD(settings.shell), false, true },
	{ "workdir", "PATH (UTF-8)", ctl_check_path, ctl_apply_string, FIELD(settings.workdir), false, true },
	{ "user", "a user name or uid[:gid] (UTF-8), or nothing", ctl_check_user, ctl_apply_string,
	  FIELD(settings.user), false, true },
	{ "env", "NAME=VALUE (UTF-8)", ctl_check_assignment, ctl_apply_env, 0, false, true },
	{ "unsetenv", "NAME", ctl_check_name, ctl_apply_unsetenv, 0, false, true },
	{ "restart", "no argument", ctl_check_nothing, ctl_apply_restart, 0, false, false },
	{ "expect", "a regular expression (PCRE2), or nothing for off", ctl_check_pattern, ctl_apply_expect, 0,
	  true, false },
};

const char *ctl_command_usage(const char *name)
{
	for (size_t row = 0; row < sizeof(ctl_commands) / sizeof(ctl_commands[0]); row++) {
		if (strcmp(ctl_commands[row].name, name) == 0)
			return ctl_commands[row].usage;
	}
	return NULL;
}

/* ---- the parser ---- */

static bool ctl_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!ctl_is_space(line[i]))
			return false;
	}
	return true;
}

/* A line is a command word, blanks, then its argument: the rest of the line, trailing blanks cut. */
static int ctl_parse_line(const char *line, size_t len, struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	size_t i = 0;

	while (i < len && ctl_is_space(line[i]))
		i++;
	const char *verb = line + i;
	while (i < len && !ctl_is_space(line[i]))
		i++;
	size_t verb_len = line + i - verb;
	while (i < len && ctl_is_space(line[i]))
		i++;
	memset(cmd, 0, sizeof(*cmd));
	for (size_t row = 0; row < sizeof(ctl_commands) / sizeof(ctl_commands[0]); row++) {
		cmd->def = &ctl_commands[row];
		if (strlen(cmd->def->name) != verb_len || memcmp(cmd->def->name, verb, verb_len) != 0)
			continue;
		cmd->arg = line + i;
		cmd->arg_len = len - i;
		while (!cmd->def->verbatim && cmd->arg_len > 0 && ctl_is_space(cmd->arg[cmd->arg_len - 1]))
			cmd->arg_len--;
		if (cmd->def->validate(cmd) == 0)
			return 0;
		snprintf(err, CTL_ERR_MAX, "%s: expected %s", cmd->def->name, cmd->def->usage);
		return -EINVAL;
	}
	snprintf(err, CTL_ERR_MAX, "unknown command '%.*s'", (int)(len > 60 ? 60 : len), line);
	return -EINVAL;
}

int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS], char err[CTL_ERR_MAX])
{
	int count = 0;

	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) : len;
		if (memchr(text, '\0', line_len)) {
			snprintf(err, CTL_ERR_MAX, "NUL byte in command");
			return -EINVAL;
		}
		if (!ctl_blank(text, line_len)) {
			if (count == CTL_MAX_COMMANDS) {
				snprintf(err, CTL_ERR_MAX, "more than %d commands in one write", CTL_MAX_COMMANDS);
				return -EINVAL;
			}
			if (ctl_parse_line(text, line_len, &cmds[count], err) < 0)
				return -EINVAL;
			count++;
		}
		text += nl ? line_len + 1 : line_len;
		len -= nl ? line_len + 1 : line_len;
	}
	if (count == 0) {
		snprintf(err, CTL_ERR_MAX, "empty command");
		return -EINVAL;
	}
	return count;
}

/* ---- the engine work of a write ---- */

struct ctl_job {
	struct session_job job;
	struct shell_id shell;	/* the shell the write was for (a restart resets the session's at once) */
	size_t reply_size;	/* the write's length, reported once all is done */
	int signal_count;
	const char *signals[CTL_MAX_COMMANDS];
	bool resize;
	bool restart;
};

/* Job: signals, then resize, then restart, in that order; then the write is answered. */
static void ctl_run(struct job *j)
{
	struct ctl_job *job = (struct ctl_job *)j;
	struct session *s = job->job.s;
	char err[ENGINE_ERR_MAX] = "";
	int ret = 0;

	pthread_mutex_lock(&sessions.lock);
	for (int i = 0; i < job->signal_count && ret == 0; i++) {
		/* Set before: the shell's newline may come before the helper's answer. */
		bool may_reach_shell = !strcmp(job->signals[i], "INT") || !strcmp(job->signals[i], "QUIT");
		/* At a continuation prompt nothing runs: Ctrl-C is for the shell, which drops the partial line. */
		bool drop_line = !strcmp(job->signals[i], "INT") && session_continuing(s);
		struct prompt_scanner *sc = &s->shell.scanner[s->shell.stderr_stream];
		sc->eat_newline |= may_reach_shell;
		ret = shell_signal(s, &job->shell, job->signals[i], drop_line ? PROCCTL_SHELL : PROCCTL_FOREGROUND, err);
		/*
		 * Without a terminal only a shell that got the signal prints that
		 * newline; on one, the terminal's job control prints it whenever its
		 * foreground job ends by the signal.
		 */
		if (ret != 1 && may_reach_shell && !s->shell.tty)
			sc->eat_newline = false;
		if (ret < 0)
			log_error("session %s: signal: %s", s->name, err);
		ret = ret < 0 ? ret : 0;
	}
	if (ret == 0 && job->resize) {
		ret = shell_resize(s, err);
		if (ret < 0)
			log_error("session %s: resize: %s", s->name, err);
	}
	if (ret == 0 && job->restart) {
		ret = shell_restart(s, &job->shell, err);
		if (ret < 0)
			log_error("session %s: restart: %s", s->name, err);
	}
	if (ret < 0) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", err);
		reply_err(job->job.req, -ret);
	} else {
		reply_written(job->job.req, job->reply_size);
	}
	session_job_done(&job->job);
	pthread_mutex_unlock(&sessions.lock);
}

/* Stages every command; 0, or -errno with err set and nothing changed. */
static int ctl_stage(struct ctl_change *c, const struct ctl_command *cmds, int count, char err[CTL_ERR_MAX])
{
	if (settings_copy(&c->settings, &c->s->settings) < 0) {
		snprintf(err, CTL_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	c->timeout_ms = c->s->timeout_ms;
	c->eof_when_idle = c->s->eof_when_idle;
	c->refuse_busy_input = c->s->refuse_busy_input;
	c->quiet_ms = c->s->quiet_ms;
	for (int i = 0; i < count; i++) {
		bool locked = cmds[i].def->locked && sessions.cfg.lock_settings;
		int ret = locked ? -EPERM : cmds[i].def->apply(c, &cmds[i], err);
		if (locked)
			snprintf(err, CTL_ERR_MAX, "%s: locked by the mount (lock_settings)", cmds[i].def->name);
		if (ret < 0) {
			if (ret == -ENOMEM)
				snprintf(err, CTL_ERR_MAX, "out of memory");
			settings_free(&c->settings);
			regex_free(c->expect);
			return ret;
		}
	}
	return 0;
}

void ctl_write(struct req *req, struct session_handle *h, const char *buf, size_t size)
{
	struct session *s = h->s;
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	struct ctl_change change = { .s = s };
	struct ctl_job *job = NULL;
	char err[CTL_ERR_MAX];
	int count = ctl_parse(buf, size, cmds, err);
	int ret = count < 0 ? count : 0;

	pthread_mutex_lock(&sessions.lock);
	if (ret < 0) {
		log_info("session %s: ctl: %s", s->name, err);
		goto out;
	}
	ret = ctl_stage(&change, cmds, count, err);
	if (ret < 0)
		goto out;
	if (change.signal_count > 0 || change.resize || change.restart) {
		job = session_job_new(s, ctl_run, req, sizeof(*job));
		if (!job) {
			settings_free(&change.settings);
			regex_free(change.expect);
			snprintf(err, sizeof(err), "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		job->shell = s->shell.id;
		job->reply_size = size;
		job->signal_count = change.signal_count;
		memcpy(job->signals, change.signals, sizeof(job->signals));
		job->resize = change.resize;
		job->restart = change.restart;
	}
	/* Commit: nothing can fail from here on. */
	settings_free(&s->settings);
	s->settings = change.settings;
	s->timeout_ms = change.timeout_ms;
	s->eof_when_idle = change.eof_when_idle;
	s->refuse_busy_input = change.refuse_busy_input;
	s->quiet_ms = change.quiet_ms;
	if (change.expect_changed) {
		expect_set(s, change.expect);
		stream_serve_readers(s, STREAM_STDOUT);	/* the new pattern applies to waiting reads */
		stream_serve_readers(s, STREAM_STDERR);
	}
	if (change.restart)
		shell_begin_restart(s);
	s->last_error[0] = '\0';
	pthread_mutex_unlock(&sessions.lock);
	if (job)
		jobs_submit(&job->job.job);
	else
		reply_written(req, size);
	return;
out:
	snprintf(s->last_error, sizeof(s->last_error), "%s", err);
	pthread_mutex_unlock(&sessions.lock);
	reply_err(req, -ret);
}
