/*
 * seshfs: completion, knowing when the shell has run everything written to
 * it (pipe sessions). The prompt markers (prompt.h) are taken out of the
 * output and counted against the lines written to stdin: the session is
 * idle (internal.h) when the shell prompted for a new command after reading
 * every line.
 *
 * Lines still unaccounted for at a prompt were either not read yet, or read
 * by a command (cat, read, a REPL) instead of the shell. Only the shell's
 * state tells which: once things are quiet, a probe (a helper exec) asks
 * whether the shell waits for input with no foreground child.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

/* Quiet time after a prompt, and after the last input, before asking the shell's state. */
#define COMPLETION_PROBE_DELAY_NS (100 * NSEC_PER_MSEC)

static void completion_probe_due(struct loop_timer *timer);

void completion_init(struct session *s)
{
	loop_timer_init(&s->probe, completion_probe_due);
}

/* The scanner's callbacks get one of these, to know which stream they scan. */
struct completion_scan {
	struct session *s;
	enum session_stream stream;
};

static void completion_push(void *ctx, const char *data, size_t len)
{
	struct completion_scan *scan = ctx;

	redaction_output(scan->s, scan->stream, data, len);
}

static void completion_data(void *ctx, const char *data, size_t len)
{
	struct completion_scan *scan = ctx;
	struct session_shell *sh = &scan->s->shell;

	/* Before the set-up prompt everything is start-up noise: banners, job control warnings. */
	if (sh->markers[scan->stream] == 0)
		return;
	if (sh->filter_noise && scan->stream == sh->stderr_stream)
		noise_filter(&sh->noise, data, len, completion_push, scan);
	else
		redaction_output(scan->s, scan->stream, data, len);
}

/* The working directory a PS1 marker reported; NULL: unknown. */
static void completion_cwd(struct session *s, const char *cwd, size_t len)
{
	if (cwd && s->cwd && strlen(s->cwd) == len && memcmp(s->cwd, cwd, len) == 0)
		return;	/* no allocation per prompt while it stays */
	free(s->cwd);
	s->cwd = cwd ? strndup(cwd, len) : NULL;	/* NULL (unknown) if out of memory too */
}

/* A prompt complete on both streams, in the shell's order. */
static void completion_prompt(struct session *s, enum prompt_kind kind, int status)
{
	struct session_shell *sh = &s->shell;

	sh->last_kind = kind;
	if (sh->events_done++ == 0) {
		history_prompt(s, kind, status, true);
		return;	/* the set-up line's prompt: no command of the user's ran */
	}
	sh->prompts++;
	history_prompt(s, kind, status, false);
	if (kind != PROMPT_COMMAND)
		return;
	sh->last_exit = status;
	sh->has_last_exit = true;
	/* A prompt nobody asked for (after an interrupt, say) must not leave the count behind. */
	if (sh->prompts > sh->lines_sent)
		sh->lines_sent = sh->prompts;
	if (sh->prompts < sh->lines_sent) {
		sh->probe_lines = sh->lines_sent;
		sh->probe_prompts = sh->prompts;
		loop_timer_set(sessions.loop, &s->probe, loop_now_ns() + COMPLETION_PROBE_DELAY_NS);
	} else {
		loop_timer_cancel(&s->probe);	/* the counts agree: nothing to ask */
	}
}

/* A stderr marker waits while stdout has not brought the both-stream markers before it (and its own). */
static bool completion_event_ready(const struct session_shell *sh, bool both)
{
	return sh->markers[STREAM_STDOUT] >= sh->both_done + (both ? 1 : 0);
}

/* Completes the waiting stderr markers that stdout has caught up with, in order. */
static void completion_settle(struct session *s)
{
	struct session_shell *sh = &s->shell;

	while (sh->pending_head < sh->pending_len &&
	       completion_event_ready(sh, sh->pending[sh->pending_head].both)) {
		struct completion_event e = sh->pending[sh->pending_head++];
		sh->both_done += e.both;
		completion_prompt(s, e.kind, e.status);
	}
	if (sh->pending_head == sh->pending_len)
		sh->pending_head = sh->pending_len = 0;
}

/* stderr brought a prompt marker: it completes now, or waits for stdout behind the ones waiting. */
static void completion_stderr_prompt(struct session *s, enum prompt_kind kind, int status)
{
	struct session_shell *sh = &s->shell;
	bool both = kind != PROMPT_CONTINUATION_STDERR;

	if (kind == PROMPT_CONTINUATION_STDERR)
		kind = PROMPT_CONTINUATION;
	if (sh->pending_len == 0 && completion_event_ready(sh, both)) {
		sh->both_done += both;
		completion_prompt(s, kind, status);
		return;
	}
	if (sh->pending_len == sh->pending_size) {
		size_t size = sh->pending_size ? 2 * sh->pending_size : 4;
		struct completion_event *grown = realloc(sh->pending, size * sizeof(*grown));
		if (!grown) {
			log_error("session %s: out of memory: a prompt is lost, reads end at their deadline",
				  s->name);
			return;
		}
		sh->pending = grown;
		sh->pending_size = size;
	}
	sh->pending[sh->pending_len++] = (struct completion_event){ kind, status, both };
}

static void completion_marker(void *ctx, enum prompt_kind kind, int status, const char *cwd, size_t cwd_len)
{
	struct completion_scan *scan = ctx;
	struct session *s = scan->s;
	struct session_shell *sh = &s->shell;

	/* The output before a marker is complete: a partial line held for redaction goes out. */
	redaction_prompt(s, scan->stream);
	/*
	 * The start marker comes on one stream only, in order with that stream's
	 * prompt markers: whatever the other stream brings, that order says
	 * whether the shell runs a command it read.
	 */
	sh->started[scan->stream] = kind == PROMPT_START;
	if (kind == PROMPT_START) {
		if (sh->filter_noise && scan->stream == sh->stderr_stream)
			noise_command_started(&sh->noise);
		return;
	}
	sh->markers[scan->stream]++;
	/* Only stdout's PS1 marker carries the working directory (a terminal's is stdout). */
	if (kind == PROMPT_COMMAND && scan->stream == STREAM_STDOUT)
		completion_cwd(s, cwd, cwd_len);
	if (sh->stderr_stream == STREAM_STDOUT) {
		/* One stream, a terminal's or stdout with stderr merged: each marker is a whole prompt. */
		completion_prompt(s, kind == PROMPT_CONTINUATION_STDERR ? PROMPT_CONTINUATION : kind, status);
		return;
	}
	/*
	 * stderr has every prompt's marker; stdout those of the prompts marked on
	 * both (not bash's PS2: nothing ran since the last prompt, so stdout has
	 * nothing to drain). A prompt is complete once stdout caught up with it.
	 */
	if (scan->stream == STREAM_STDERR) {
		completion_stderr_prompt(s, kind, status);
		return;
	}
	completion_settle(s);
}

/* Nothing happened since the prompt that asked for the probe. */
static bool completion_probe_current(const struct session *s, uint64_t lines_sent, uint64_t prompts)
{
	const struct session_shell *sh = &s->shell;

	return s->state == SESSION_RUNNING && sh->last_kind == PROMPT_COMMAND && sh->lines_sent == lines_sent &&
	       sh->prompts == prompts && prompts < lines_sent && !sh->started[STREAM_STDOUT] &&
	       !sh->started[STREAM_STDERR];
}

void completion_feed(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	struct completion_scan scan = { s, stream };
	struct prompt_sink sink = { completion_data, completion_marker, &scan };

	prompt_scan(&s->shell.scanner[stream], data, len, &sink);
}

void completion_flush(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++) {
		struct completion_scan scan = { s, (enum session_stream)i };
		struct prompt_sink sink = { completion_data, completion_marker, &scan };
		prompt_scan_flush(&s->shell.scanner[i], &sink);
		if (s->shell.filter_noise && scan.stream == s->shell.stderr_stream)
			noise_flush(&s->shell.noise, completion_push, &scan);
	}
	redaction_flush_all(s);
}

struct completion_probe {
	struct session_job job;
	/* The counts at the prompt it asks about. */
	uint64_t lines_sent;
	uint64_t prompts;
};

/* Job: is the shell at its prompt with nothing left to read? Then the missing lines were eaten. */
static void completion_probe_run(struct job *j)
{
	struct completion_probe *probe = (struct completion_probe *)j;
	struct session *s = probe->job.s;
	char exec_id[ENGINE_EXEC_ID_MAX];
	char err[ENGINE_ERR_MAX] = "";
	struct procs_target t;

	pthread_mutex_lock(&sessions.lock);
	strcpy(exec_id, s->shell.exec_id);
	procs_target(s, &s->shell.id, &t);
	pthread_mutex_unlock(&sessions.lock);
	int waiting = procs_waiting(&t, err);
	pthread_mutex_lock(&sessions.lock);
	struct session_shell *sh = &s->shell;
	if (waiting < 0)
		log_error("session %s: cannot tell whether the shell waits: %s", s->name, err);
	if (s->state == SESSION_RUNNING && strcmp(exec_id, sh->exec_id) == 0) {
		sh->probing = false;
		if (waiting == 1 && completion_probe_current(s, probe->lines_sent, probe->prompts)) {
			log_debug("session %s: %llu input lines were read by commands", s->name,
				  (unsigned long long)(sh->lines_sent - sh->prompts));
			history_lines_eaten(s, sh->lines_sent - sh->prompts);
			sh->lines_sent = sh->prompts;
			stream_serve_readers(s, STREAM_STDOUT);
			stream_serve_readers(s, STREAM_STDERR);
		} else if ((sh->probe_lines != probe->lines_sent || sh->probe_prompts != probe->prompts) &&
			   completion_probe_current(s, sh->probe_lines, sh->probe_prompts)) {
			/* A later prompt asked while this probe was out. */
			loop_timer_set(sessions.loop, &s->probe, loop_now_ns());
		}
	}
	session_job_done(&probe->job);
	pthread_mutex_unlock(&sessions.lock);
}

static void completion_probe_due(struct loop_timer *timer)
{
	struct session *s = list_entry(timer, struct session, probe);
	struct session_shell *sh = &s->shell;
	int64_t now = loop_now_ns();

	if (sh->probing || !completion_probe_current(s, sh->probe_lines, sh->probe_prompts))
		return;
	/* Input sent just now may not have reached the shell: let it arrive first. */
	if (s->last_input_ns + COMPLETION_PROBE_DELAY_NS > now) {
		loop_timer_set(sessions.loop, timer, s->last_input_ns + COMPLETION_PROBE_DELAY_NS);
		return;
	}
	struct completion_probe *probe = session_job_new(s, completion_probe_run, NULL, sizeof(*probe));
	if (!probe)
		return;
	probe->lines_sent = sh->probe_lines;
	probe->prompts = sh->probe_prompts;
	sh->probing = true;
	jobs_submit(&probe->job.job);
}
