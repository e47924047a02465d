/*
 * seshfs: redaction (-o redact=, rules in ../guard/redact.h) of all a
 * session shows: output on its way to the stdout and stderr buffers (so
 * st_size and offsets count redacted bytes), input on its way to the
 * transcript, history lines, ctl values, status and the log. The original
 * text reaches no buffer a reader can reach.
 *
 * A partial line waits for its newline, or until REDACTION_QUIET_NS pass
 * without a byte, the shell prompts, an expect pattern would match it, or
 * REDACT_HOLD_MAX bytes wait; then it goes out matched as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

#define REDACTION_QUIET_NS (50 * NSEC_PER_MSEC)

static void redaction_quiet(struct loop_timer *timer);

void redaction_init(struct session *s)
{
	for (int i = 0; i < REDACTION_HELD_COUNT; i++) {
		struct redaction_held *h = &s->redaction.held[i];
		h->s = s;
		h->which = (uint8_t)i;
		loop_timer_init(&h->quiet, redaction_quiet);
	}
}

void redaction_free(struct session *s)
{
	for (int i = 0; i < REDACTION_HELD_COUNT; i++) {
		loop_timer_cancel(&s->redaction.held[i].quiet);
		redact_stream_free(&s->redaction.held[i].rs);
	}
	redact_stream_free(&s->redaction.history);
}

/* Where a held stream's redacted bytes go. */
static void redaction_sink(void *ctx, const char *data, size_t len)
{
	struct redaction_held *h = ctx;

	if (h->which == REDACTION_INPUT)
		transcript_record(h->s, data, len);
	else
		stream_push(h->s, (enum session_stream)h->which, data, len);
}

static void redaction_failed(struct session *s, int ret)
{
	if (ret < 0)
		log_error("session %s: out of memory, or the rules grew a text beyond bounds: "
			  "output that could not be redacted was dropped", s->name);
}

/* The held partial line goes out as it is; prompt: an open key block ends too. */
static void redaction_flush(struct redaction_held *h, bool prompt)
{
	loop_timer_cancel(&h->quiet);
	if (redact_held(&h->rs) == 0 && !(prompt && h->rs.in_block))
		return;
	redaction_failed(h->s, redact_flush(sessions.cfg.redact, &h->rs, prompt, redaction_sink, h));
}

static void redaction_quiet(struct loop_timer *timer)
{
	struct redaction_held *h = list_entry(timer, struct redaction_held, quiet);

	redaction_flush(h, false);
	if (h->which != REDACTION_INPUT)
		stream_serve_readers(h->s, (enum session_stream)h->which);
}

/* Would the partial line held, as it is, end the output with an expect match? */
static bool redaction_expected(struct session *s, struct redaction_held *h)
{
	char *text;

	if (!s->expect.re || s->expect.matched || h->rs.in_block)
		return false;
	ssize_t len = redact_text(sessions.cfg.redact, h->rs.held, h->rs.held_len, &text);
	if (len < 0)
		return true;	/* out of memory: let it go now rather than hang a read */
	bool matched = expect_would_match(s, (enum session_stream)h->which, text, (size_t)len);
	free(text);
	return matched;
}

static void redaction_feed(struct redaction_held *h, const char *data, size_t len)
{
	redaction_failed(h->s, redact_feed(sessions.cfg.redact, &h->rs, data, len, redaction_sink, h));
	if (redact_held(&h->rs) == 0)
		loop_timer_cancel(&h->quiet);
	else if (h->which != REDACTION_INPUT && redaction_expected(h->s, h))
		redaction_flush(h, false);
	else
		loop_timer_set(sessions.loop, &h->quiet, loop_now_ns() + REDACTION_QUIET_NS);
}

void redaction_output(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	if (!sessions.cfg.redact)
		stream_push(s, stream, data, len);
	else
		redaction_feed(&s->redaction.held[stream], data, len);
}

void redaction_input(struct session *s, const char *data, size_t len)
{
	if (!sessions.cfg.redact)
		transcript_record(s, data, len);
	else
		redaction_feed(&s->redaction.held[REDACTION_INPUT], data, len);
}

void redaction_prompt(struct session *s, enum session_stream stream)
{
	if (!sessions.cfg.redact)
		return;
	redaction_flush(&s->redaction.held[REDACTION_INPUT], false);
	redaction_flush(&s->redaction.held[stream], true);
}

void redaction_flush_all(struct session *s)
{
	if (!sessions.cfg.redact)
		return;
	for (int i = 0; i < REDACTION_HELD_COUNT; i++)
		redaction_flush(&s->redaction.held[i], true);
}

bool redaction_history_line(struct session *s, const char *line, size_t len, struct redaction_text *out)
{
	struct redact_stream *rs = &s->redaction.history;
	uint64_t matches = rs->matches;
	bool was_in_block = rs->in_block;

	memset(out, 0, sizeof(*out));
	if (!sessions.cfg.redact)
		return false;
	/* Its own stream, so that a key block over lines is masked whole. */
	ssize_t got = redact_line(sessions.cfg.redact, rs, line, len, &out->data);
	if (got < 0)
		return true;	/* the text is lost, never shown as it was */
	if (rs->matches == matches && !was_in_block && !rs->in_block) {
		free(out->data);	/* unchanged: the caller keeps its own */
		out->data = NULL;
		return false;
	}
	out->len = (size_t)got;
	if (out->len > 0 && out->data[out->len - 1] == '\n')
		out->len--;
	return true;
}

int redaction_text(const char *text, size_t len, char **out)
{
	*out = NULL;
	if (!sessions.cfg.redact)
		return 0;
	return redact_text(sessions.cfg.redact, text, len, out) < 0 ? -1 : 1;
}

uint64_t redaction_count(const struct session *s)
{
	uint64_t count = 0;

	for (int i = 0; i < REDACTION_HELD_COUNT; i++)
		count += s->redaction.held[i].rs.matches;
	return count;
}
