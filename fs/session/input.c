/*
 * seshfs: stdin of a session. A write queues its bytes for the shell and
 * returns. The queue holds at most bufsize bytes: a write that does not fit
 * is parked with its bytes, like a writer of a full pipe, and queued once
 * the shell has read enough (one larger than bufsize goes in whole when
 * the queue is empty). Writers are admitted in order, under the lock, so
 * the bound holds however many write at once.
 *
 * Under -o policy= (../guard/policy.h) a write is admitted only if every
 * line of it passes; a refused one fails with EACCES and none of it is
 * sent. A partial last line, or one a backslash continues, is held back
 * until the line that completes it comes. Lines only the allow-list
 * refuses pass if a program the shell runs, not the shell, reads them:
 * while a command runs, a reader probe (a helper exec) says which, and the
 * write waits for its answer. Sessions under a policy have no terminal.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

/* Sends queued input until the socket is full. */
static void input_send(struct session *s)
{
	struct session_shell *sh = &s->shell;

	while (s->input.len > 0 && !sh->input_broken) {
		struct iovec iov;
		bytequeue_peek(&s->input, s->input.len, &iov, 1);
		ssize_t n = shell_send(s, iov.iov_base, iov.iov_len);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			log_error("session %s: stdin: %s", s->name, strerror((int)-n));
			sh->input_broken = true;
			bytequeue_clear(&s->input);
			break;
		}
		bytequeue_drop(&s->input, n);
	}
}

static uint64_t count_newlines(const char *buf, size_t size)
{
	uint64_t lines = 0;

	for (const char *nl = buf; (nl = memchr(nl, '\n', size - (size_t)(nl - buf))); nl++)
		lines++;
	return lines;
}

static bool input_fits(const struct session *s, size_t size)
{
	return s->input.len == 0 || s->input.len + size <= sessions.cfg.bufsize;
}

/* Takes the bytes of a write: 0, or -ENOMEM with nothing taken. */
static int input_queue(struct session *s, const char *buf, size_t size)
{
	if (bytequeue_push(&s->input, buf, size) < 0)
		return -ENOMEM;
	s->shell.lines_sent += count_newlines(buf, size);
	if (size > 0)
		s->shell.line_open = buf[size - 1] != '\n';
	redaction_input(s, buf, size);
	history_input(s, buf, size);
	expect_input(s);
	return 0;
}

static bool input_broken(const struct session *s)
{
	return s->shell.input_broken || (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING);
}

/* ---- the policy ---- */

/* What became of a write. */
enum admission {
	ADMISSION_ANSWERED,	/* queued or refused, and answered */
	ADMISSION_WAITING,	/* for the reader probe: answered later */
};

/* The shell, not a program it runs, reads what comes now. */
static bool input_shell_reads(const struct session *s)
{
	return s->state != SESSION_RUNNING || session_idle(s) || session_continuing(s);
}

static void input_refuse(struct session *s, struct req *req, const struct policy_refusal *why, const char *text)
{
	struct session_admission *a = &s->admission;
	const char *line = text + why->line_start;
	int len = why->line_len > INT32_MAX ? INT32_MAX : (int)why->line_len;
	char *record = NULL;

	a->refused++;
	a->partial_len = 0;	/* the refused line's start went with an earlier write */
	free(a->last_refusal);
	if (asprintf(&a->last_refusal, "%s: %.*s", why->rule, len, line) < 0)
		a->last_refusal = NULL;
	log_info("session %s: stdin refused by %s: %.*s", s->name, why->rule, len, line);
	int record_len = asprintf(&record, "[seshfs: refused by %s] %.*s\n", why->rule, len, line);
	if (record_len > 0)
		redaction_input(s, record, (size_t)record_len);
	free(record);
	reply_err(req, EACCES);
}

/* bash's PS0 came: a command runs, and the shell reading stdin is its read builtin. */
static bool input_command_started(const struct session *s)
{
	return s->shell.started[STREAM_STDOUT] || s->shell.started[STREAM_STDERR];
}

struct input_reader_probe {
	struct session_job job;
	bool command_started;	/* bash's PS0 came: the shell reading is its read builtin */
};

/* Job: does a program the shell runs read its stdin now? The writer at the head waits for the answer. */
static void input_reader_probe_run(struct job *j)
{
	struct input_reader_probe *probe = (struct input_reader_probe *)j;
	struct session_job *job = &probe->job;
	struct session *s = job->s;
	char err[ENGINE_ERR_MAX] = "";
	struct procs_target t;

	pthread_mutex_lock(&sessions.lock);
	procs_target(s, &s->shell.id, &t);
	bool started = probe->command_started || input_command_started(s);
	pthread_mutex_unlock(&sessions.lock);
	int reads = procs_reader(&t, started, err);
	pthread_mutex_lock(&sessions.lock);
	/* The start marker came while it looked: the shell reading is its read builtin after all. */
	if (reads == 0 && !started && input_command_started(s)) {
		pthread_mutex_unlock(&sessions.lock);
		reads = procs_reader(&t, true, err);
		pthread_mutex_lock(&sessions.lock);
	}
	if (reads < 0)
		log_error("session %s: cannot tell who reads stdin, taken as the shell: %s", s->name, err);
	s->admission.reader = reads == 1 ? READER_PROGRAM : READER_SHELL;
	input_pump_out(s);
	session_job_done(job);
	pthread_mutex_unlock(&sessions.lock);
}

/*
 * Whether lines only the allow-list refuses go to a program: 1 yes, 0 no
 * (refuse), -1 not known yet (a probe is out; the writer waits). A probe's
 * answer serves the write that asked, one that arrived before it went out.
 */
static int input_program_reads(struct session *s, int64_t arrived_ns)
{
	struct session_admission *a = &s->admission;

	if (input_shell_reads(s))
		return 0;
	if ((a->reader == READER_PROGRAM || a->reader == READER_SHELL) && a->reader_asked_ns >= arrived_ns) {
		bool program = a->reader == READER_PROGRAM;
		a->reader = READER_UNKNOWN;
		return program;
	}
	if (a->reader != READER_ASKING) {
		struct input_reader_probe *probe = session_job_new(s, input_reader_probe_run, NULL, sizeof(*probe));
		if (!probe)
			return 0;
		probe->command_started = input_command_started(s);
		a->reader = READER_ASKING;
		a->reader_asked_ns = loop_now_ns();
		jobs_submit(&probe->job.job);
	}
	return -1;
}

static bool input_hold(struct session_admission *a, const char *buf, size_t size)
{
	if (size == 0)
		return true;
	char *grown = realloc(a->partial, a->partial_len + size);
	if (!grown)
		return false;
	a->partial = grown;
	memcpy(a->partial + a->partial_len, buf, size);
	a->partial_len += size;
	return true;
}

/*
 * A write under the policy: what was held, then the write. Its complete
 * lines are checked and queued; the rest, a partial line or one a
 * backslash continues, is held until the line that completes it comes.
 */
static enum admission input_admit_checked(struct session *s, struct req *req, const char *buf, size_t size,
					  int64_t arrived_ns)
{
	struct session_admission *a = &s->admission;
	struct policy_refusal why;
	char *joined = NULL;
	const char *text = buf;
	size_t len = size;
	enum policy_verdict verdict;

	if (!memchr(buf, '\n', size)) {
		/* No line ends here: held after what was held, without copying that each time. */
		if (a->partial_len + size > sessions.cfg.bufsize) {
			snprintf(why.rule, sizeof(why.rule), "policy (a line longer than bufsize)");
			why.line_start = 0;
			why.line_len = size < 64 ? size : 64;
			goto refuse;
		}
		if (!input_hold(a, buf, size))
			goto fail;
		goto written;
	}
	if (a->partial_len > 0) {
		if (!(joined = malloc(a->partial_len + size)))
			goto fail;
		memcpy(joined, a->partial, a->partial_len);
		memcpy(joined + a->partial_len, buf, size);
		text = joined;
		len += a->partial_len;
	}
	size_t complete = policy_complete(text, len);
	if (len - complete > sessions.cfg.bufsize) {
		snprintf(why.rule, sizeof(why.rule), "policy (a line longer than bufsize)");
		why.line_start = complete;
		why.line_len = len - complete < 64 ? len - complete : 64;
		goto refuse;
	}
	if (complete == 0) {	/* a backslash continues the last line: nothing whole to check yet */
		if (!input_hold(a, buf, size))
			goto fail;
		goto written;
	}
	if (!a->syntax && !(a->syntax = malloc(sizeof(*a->syntax))))
		goto fail;
	if (!a->syntax_valid || session_idle(s)) {
		cmdline_init(a->syntax, (enum cmdline_dialect)s->shell.dialect);	/* at its prompt the shell has nothing open */
		a->syntax_valid = true;
	}
	verdict = policy_check(sessions.cfg.policy, a->syntax, input_shell_reads(s) ? POLICY_SHELL_PROMPT : POLICY_SHELL,
			       text, complete, &why);
	if (verdict == POLICY_NOT_LISTED) {
		int program = input_program_reads(s, arrived_ns);
		if (program < 0) {
			free(joined);
			return ADMISSION_WAITING;
		}
		if (program)
			verdict = policy_check(sessions.cfg.policy, a->syntax, POLICY_PROGRAM, text, complete, &why);
	}
	if (verdict != POLICY_PASS)
		goto refuse;
	if (input_queue(s, text, complete) < 0)
		goto fail;
	a->partial_len = 0;	/* text holds it: a copy */
	if (!input_hold(a, text + complete, len - complete)) {
		log_error("session %s: out of memory: a partial stdin line was dropped", s->name);
		a->partial_len = 0;
	}
written:
	free(joined);
	reply_written(req, size);
	return ADMISSION_ANSWERED;
refuse:
	input_refuse(s, req, &why, text);
	free(joined);
	return ADMISSION_ANSWERED;
fail:
	free(joined);
	reply_err(req, ENOMEM);
	return ADMISSION_ANSWERED;
}

/* A write that fits: queued (or, under the policy, checked first) and answered, or waiting. */
static enum admission input_admit(struct session *s, struct req *req, const char *buf, size_t size,
				  int64_t arrived_ns)
{
	if (sessions.cfg.policy)
		return input_admit_checked(s, req, buf, size, arrived_ns);
	if (input_queue(s, buf, size) < 0)
		reply_err(req, ENOMEM);
	else
		reply_written(req, size);
	return ADMISSION_ANSWERED;
}

void input_reset(struct session *s)
{
	s->admission.partial_len = 0;
	s->admission.syntax_valid = false;
	s->admission.reader = READER_UNKNOWN;
}

void input_free(struct session *s)
{
	free(s->admission.syntax);
	free(s->admission.partial);
	free(s->admission.last_refusal);
}

/* ---- writers ---- */

/* Writers waiting for room (or for the reader probe): admitted in order; EPIPE once the shell is gone. */
void input_serve_writers(struct session *s)
{
	while (!list_empty(&s->writers)) {
		struct parked *p = list_entry(s->writers.next, struct parked, in_queue);
		if (input_broken(s))
			reply_err(p->req, EPIPE);
		else if (!input_fits(s, p->size))
			break;
		else if (input_admit(s, p->req, p->data, p->size, p->opened_ns) == ADMISSION_WAITING)
			break;
		parked_finish(p);
	}
}

/* The connection can take more: send, and let writers waiting for room go on. */
void input_pump_out(struct session *s)
{
	input_send(s);
	input_serve_writers(s);
	session_watch_update(s);
	if (s->input.len <= sessions.cfg.bufsize)
		session_notify_poll(s, SESSION_STDIN);
}

void input_write(struct req *req, struct session_handle *h, const char *buf, size_t size)
{
	struct session *s = h->s;
	struct parked *p = NULL;
	int err = 0;

	/* Watched before looking: an interrupt that came first was answered by nobody (nothing was parked). */
	req_watch_interrupt(req);
	pthread_mutex_lock(&sessions.lock);
	int64_t now = s->last_activity_ns = s->last_input_ns = loop_now_ns();
	if (req_interrupted(req)) {
		err = EINTR;
	} else if (input_broken(s)) {	/* while restarting, input waits in the queue for the new shell */
		err = EPIPE;
	} else if (s->refuse_busy_input && s->state == SESSION_RUNNING && !s->shell.tty && !session_idle(s) &&
		   !session_continuing(s) && !s->expect.matched) {
		err = EBUSY;	/* a command runs: this input would be its, or wait behind it */
	} else if (list_empty(&s->writers) && input_fits(s, size) &&
		   input_admit(s, req, buf, size, now) == ADMISSION_ANSWERED) {
		/*
		 * Answered first, then sent: sending wakes the engine, which would
		 * otherwise run before the writer hears back.
		 */
		if (s->state == SESSION_RUNNING)
			input_send(s);
		session_watch_update(s);
	} else if (size > sessions.cfg.parked_max - sessions.parked_bytes) {
		/* Each waiting writer holds a copy: their number, not bufsize, would bound the memory. */
		log_error("session %s: a stdin write of %zu bytes refused (ENOBUFS): waiting writes hold %zu bytes, "
			  "parked_max is %zu", s->name, size, sessions.parked_bytes, sessions.cfg.parked_max);
		err = ENOBUFS;
	} else if (!(p = parked_new(req, parked_interrupted, size, s)) || !(p->data = malloc(size))) {
		free(p);
		err = ENOMEM;
	} else {
		/*
		 * Nothing is queued until it is admitted, so an interrupt leaves it
		 * unwritten (EINTR). The request's buffer is libfuse's until the
		 * handler returns: keep a copy.
		 */
		memcpy(p->data, buf, size);
		sessions.parked_bytes += size;
		p->opened_ns = now;
		parked_add(p, &s->writers);
	}
	pthread_mutex_unlock(&sessions.lock);
	if (err)
		reply_err(req, err);
}

unsigned input_poll(const struct session *s, enum session_file file)
{
	(void)file;
	if (s->state != SESSION_RUNNING && s->state != SESSION_RESTARTING)
		return POLLERR;
	return s->input.len <= sessions.cfg.bufsize ? POLLOUT | POLLWRNORM : 0;
}
