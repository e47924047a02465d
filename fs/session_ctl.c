/*
 * seshfs: the ctl file of a session: "key value" status lines to read,
 * commands to write (see ctl.h); engine work a command needs is handed to
 * session_ctl_run on an engine thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session_internal.h"

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

/* Appends printf output to a growing string; *failed sticks once memory runs out. */
static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void text_append(char **text, size_t *len, bool *failed, const char *fmt, ...)
{
	va_list ap;
	char *piece;

	if (*failed)
		return;
	va_start(ap, fmt);
	int n = vasprintf(&piece, fmt, ap);
	va_end(ap);
	char *grown = n < 0 ? NULL : realloc(*text, *len + n + 1);
	if (!grown) {
		if (n >= 0)
			free(piece);
		*failed = true;
		return;
	}
	memcpy(grown + *len, piece, n + 1);
	free(piece);
	*text = grown;
	*len += n;
}

static int session_ctl_format(struct session *s, char **text, size_t *len)
{
	const struct session_shell *sh = &s->shell;
	const struct session_settings *set = &s->settings;
	char timeout[32];
	bool failed = false;

	*text = NULL;
	*len = 0;
	ctl_format_seconds(s->timeout_ms, timeout, sizeof(timeout));
	text_append(text, len, &failed, "state %s\n", session_state_name(s));
	if (s->state == SESSION_RUNNING && !sh->tty)
		text_append(text, len, &failed, "activity %s\n", session_idle(s) ? "idle" : "busy");
	if (sh->has_last_exit)
		text_append(text, len, &failed, "last_exit %d\n", sh->last_exit);
	if (s->state == SESSION_EXITED)
		text_append(text, len, &failed, "exit_code %d\n", sh->exit_code);
	text_append(text, len, &failed, "timeout %s\neof %s\ncontainer %s\nexec_id %s\npid %d\n",
		    timeout, s->eof_when_idle ? "idle" : "deadline", sessions.cfg.container,
		    sh->exec_id, sh->pid);
	text_append(text, len, &failed, "shell %s\ntty %s\nsize %u %u\n", set->shell,
		    set->tty ? "on" : "off", set->cols, set->rows);
	if (set->user[0])
		text_append(text, len, &failed, "user %s\n", set->user);
	if (set->workdir[0])
		text_append(text, len, &failed, "workdir %s\n", set->workdir);
	for (size_t i = 0; i < set->env_count; i++)
		text_append(text, len, &failed, "env %s\n", set->env[i]);
	text_append(text, len, &failed, "transcript_start %llu\n",
		    (unsigned long long)session_transcript_start(s));
	if (s->last_error[0])
		text_append(text, len, &failed, "error %s\n", s->last_error);
	if (failed) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

void session_ctl_read(fuse_req_t req, struct session_handle *h, size_t size, off_t off)
{
	pthread_mutex_lock(&sessions.lock);
	if (off == 0 || !h->ctl_text) {
		free(h->ctl_text);
		if (session_ctl_format(h->s, &h->ctl_text, &h->ctl_len) < 0) {
			pthread_mutex_unlock(&sessions.lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	size_t start = (size_t)off < h->ctl_len ? (size_t)off : h->ctl_len;
	size_t n = h->ctl_len - start < size ? h->ctl_len - start : size;
	fuse_reply_buf(req, h->ctl_text + start, n);
	pthread_mutex_unlock(&sessions.lock);
}

/* Applies the start settings of a ctl write to a copy, so that a failure changes nothing. */
static int session_apply_settings(struct session *s, const struct ctl_command *cmds, int count)
{
	struct session_settings next;
	int ret = settings_copy(&next, &s->settings);

	for (int i = 0; i < count && ret == 0; i++) {
		const struct ctl_command *c = &cmds[i];
		switch (c->verb) {
		case CTL_SHELL:
			ret = settings_set_string(&next.shell, c->arg, c->arg_len);
			break;
		case CTL_USER:
			ret = settings_set_string(&next.user, c->arg, c->arg_len);
			break;
		case CTL_WORKDIR:
			ret = settings_set_string(&next.workdir, c->arg, c->arg_len);
			break;
		case CTL_ENV:
			ret = settings_setenv(&next, c->arg, c->arg_len);
			break;
		case CTL_UNSETENV:
			settings_unsetenv(&next, c->arg, c->arg_len);
			break;
		case CTL_TTY:
			next.tty = c->flag;
			break;
		case CTL_RESIZE:
			next.cols = c->cols;
			next.rows = c->rows;
			break;
		default:
			break;
		}
	}
	if (ret < 0) {
		settings_free(&next);
		return ret;
	}
	settings_free(&s->settings);
	s->settings = next;
	return 0;
}

void session_ctl_write(fuse_req_t req, struct session *s, const char *buf, size_t size)
{
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	int count = ctl_parse(buf, size, cmds, err);
	struct session_ctl_actions actions = { .reply_size = size };
	struct session_job *queued = NULL;
	int errnum = 0;

	pthread_mutex_lock(&sessions.lock);
	if (count < 0) {
		log_info("session %s: ctl: %s", s->name, err);
		errnum = EINVAL;
		goto out;
	}
	for (int i = 0; i < count; i++) {
		if (cmds[i].verb == CTL_SIGNAL)
			actions.signals[actions.signal_count++] = cmds[i].signal;
		actions.resize |= cmds[i].verb == CTL_RESIZE;
		actions.restart |= cmds[i].verb == CTL_RESTART;
	}
	if (actions.signal_count > 0 && (s->state != SESSION_RUNNING || s->shell.pid <= 0)) {
		snprintf(err, sizeof(err), "signal: the shell is not running");
		errnum = ESRCH;
		goto out;
	}
	if (actions.restart && s->state != SESSION_RUNNING && s->state != SESSION_EXITING &&
	    s->state != SESSION_EXITED) {
		snprintf(err, sizeof(err), "restart: the session is %s", session_state_name(s));
		errnum = EBUSY;
		goto out;
	}
	/* The job is made before the settings change, so that a failure changes nothing. */
	bool needs_engine = actions.signal_count > 0 || actions.resize || actions.restart;
	if (needs_engine)
		queued = session_job_new(s, session_ctl_run, req);
	if ((needs_engine && !queued) || session_apply_settings(s, cmds, count) < 0) {
		if (queued)
			session_job_done(queued);
		snprintf(err, sizeof(err), "out of memory");
		errnum = ENOMEM;
		goto out;
	}
	if (queued)
		queued->ctl = actions;
	for (int i = 0; i < count; i++) {
		if (cmds[i].verb == CTL_TIMEOUT)
			s->timeout_ms = cmds[i].timeout_ms;
		else if (cmds[i].verb == CTL_EOF)
			s->eof_when_idle = cmds[i].flag;
	}
	if (actions.restart) {
		/* The old shell's connection goes now; its unread output stays for readers. */
		s->state = SESSION_RESTARTING;
		session_disconnect(s);
		bytequeue_clear(&s->input);
		session_serve_writers(s);
		memset(&s->shell, 0, sizeof(s->shell));
	}
	s->last_error[0] = '\0';
	pthread_mutex_unlock(&sessions.lock);
	if (queued)
		engine_submit(&queued->job);
	else
		fuse_reply_write(req, size);
	return;
out:
	snprintf(s->last_error, sizeof(s->last_error), "%s", err);
	pthread_mutex_unlock(&sessions.lock);
	fuse_reply_err(req, errnum);
}
