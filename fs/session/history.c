/*
 * seshfs: the history file, one line per command line the shell completed:
 *
 *     SEQ \t START \t DURATION \t EXIT \t COMMAND \n
 *
 * seshfs sees the lines written to stdin and the shell's prompts, not which
 * line the shell read: completion (completion.c) counts the k-th prompt
 * after the set-up as the answer to the k-th line. So the k-th line is
 * taken as read by the shell at its k-th prompt: a continuation prompt (PS2)
 * adds it to the entry being read, a command prompt (PS1) ends the entry
 * with its status. Lines that completion finds were read by commands (the
 * shell is back at its prompt with lines unaccounted for) are dropped from
 * the newest: a line a command reads that came in the same write as later
 * commands shifts their text (documented in the README).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "../util/text.h"
#include "internal.h"

/*
 * Each line's text is kept up to this; longer ones are cut. With redaction
 * the cut comes after it, so that a secret across the cut is found whole:
 * until then up to REDACT_HOLD_MAX of a line is kept, as much as a
 * redacted stream holds of a partial line.
 */
#define HISTORY_LINE_MAX 4096
/* Lines waiting for their prompt with their text kept; those past it are only counted. */
#define HISTORY_PENDING_MAX 256

struct history_line {
	struct list_node node;
	struct timespec written;	/* when its newline came */
	int64_t written_ns;
	size_t len;
	char text[];
};

void history_init(struct session *s)
{
	list_init(&s->history.lines);
}

static void history_drop_pending(struct session_history *hi)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &hi->lines) {
		list_del(pos);
		free(list_entry(pos, struct history_line, node));
	}
	hi->line_count = 0;
	hi->untracked = 0;
	hi->partial_len = 0;
	free(hi->entry);
	hi->entry = NULL;
	hi->entry_len = 0;
	hi->entry_open = false;
	hi->entry_has_text = false;
}

void history_free(struct session *s)
{
	history_drop_pending(&s->history);
	free(s->history.partial);
	s->history.partial = NULL;
	s->history.partial_size = 0;
	bytequeue_clear(&s->history.record.bytes);
}

/* A new shell (restart) reads nothing the old one was sent; the entries stay. */
void history_shell_reset(struct session *s)
{
	history_drop_pending(&s->history);
}

/* Appends to the line being written, up to what is kept of a line before it is redacted. */
static void history_partial_add(struct session_history *hi, const char *data, size_t len)
{
	size_t keep = sessions.cfg.redact ? REDACT_HOLD_MAX : HISTORY_LINE_MAX;
	size_t room = keep - hi->partial_len;

	if (len > room)
		len = room;
	if (len == 0)
		return;
	if (hi->partial_len + len > hi->partial_size) {
		size_t size = hi->partial_size ? 2 * hi->partial_size : HISTORY_LINE_MAX;
		while (size < hi->partial_len + len)
			size *= 2;
		char *grown = realloc(hi->partial, size);
		if (!grown) {
			/* Out of memory: the text is lost (never redacted in part), the line counts. */
			free(hi->partial);
			hi->partial = NULL;
			hi->partial_size = 0;
			hi->partial_len = keep;
			return;
		}
		hi->partial = grown;
		hi->partial_size = size;
	}
	memcpy(hi->partial + hi->partial_len, data, len);
	hi->partial_len += len;
}

/* The line written is complete: it waits for the prompt that says the shell read it, redacted. */
static void history_line_done(struct session *s, const struct timespec *now, int64_t now_ns)
{
	struct session_history *hi = &s->history;
	struct history_line *line = NULL;
	struct redaction_text redacted;
	const char *text = hi->partial;
	size_t len = hi->partial ? hi->partial_len : 0;

	if (redaction_history_line(s, text, len, &redacted)) {
		text = redacted.data;
		len = redacted.len;
	}
	if (len > HISTORY_LINE_MAX)
		len = HISTORY_LINE_MAX;
	if (hi->untracked == 0 && hi->line_count < HISTORY_PENDING_MAX)
		line = malloc(sizeof(*line) + len);
	if (line) {
		line->written = *now;
		line->written_ns = now_ns;
		line->len = len;
		if (len)
			memcpy(line->text, text, len);
		list_add_tail(&hi->lines, &line->node);
		hi->line_count++;
	} else {
		hi->untracked++;
	}
	free(redacted.data);
	hi->partial_len = 0;
}

void history_input(struct session *s, const char *buf, size_t size)
{
	struct session_history *hi = &s->history;
	struct timespec now;
	int64_t now_ns = loop_now_ns();

	clock_gettime(CLOCK_REALTIME, &now);
	while (size > 0) {
		const char *nl = memchr(buf, '\n', size);
		size_t len = nl ? (size_t)(nl - buf) : size;
		history_partial_add(hi, buf, len);
		if (!nl)
			return;
		history_line_done(s, &now, now_ns);
		buf += len + 1;
		size -= len + 1;
	}
}

void history_lines_eaten(struct session *s, uint64_t count)
{
	struct session_history *hi = &s->history;

	for (; count > 0 && hi->untracked > 0; count--)
		hi->untracked--;
	for (; count > 0 && !list_empty(&hi->lines); count--) {
		struct list_node *newest = hi->lines.prev;
		list_del(newest);
		free(list_entry(newest, struct history_line, node));
		hi->line_count--;
	}
}

/*
 * COMMAND's escapes: a tab \t, and text_escape's for the rest (\\, and
 * \xNN for control bytes, CR and ESC among them, and what is not UTF-8);
 * the newline between two lines is written by the caller.
 */
static bool history_entry_add(struct session_history *hi, const char *text, size_t len)
{
	/* The separator, every byte escaped (\xNN at most), and the final newline. */
	size_t size = hi->entry_len + 2 + 4 * len + 1;
	char *grown = realloc(hi->entry, size);

	if (!grown)
		return false;
	hi->entry = grown;
	if (hi->entry_open) {
		hi->entry[hi->entry_len++] = '\\';
		hi->entry[hi->entry_len++] = 'n';
	}
	for (size_t i = 0; i < len && !hi->entry_has_text; i++)
		hi->entry_has_text = text[i] != ' ' && text[i] != '\t';
	for (;;) {
		const char *tab = memchr(text, '\t', len);
		size_t piece = tab ? (size_t)(tab - text) : len;
		/* Room for the whole piece escaped: text_escape cuts nothing. */
		hi->entry_len += text_escape(text, piece, hi->entry + hi->entry_len, size - hi->entry_len);
		if (!tab)
			return true;
		hi->entry[hi->entry_len++] = '\\';
		hi->entry[hi->entry_len++] = 't';
		text += piece + 1;
		len -= piece + 1;
	}
}

/* The oldest pending line becomes part of the entry the shell reads. */
static void history_take_line(struct session *s)
{
	struct session_history *hi = &s->history;
	struct timespec written = hi->prompt_time;
	int64_t written_ns = hi->prompt_ns;
	const char *text = "";
	size_t len = 0;
	struct history_line *line = NULL;

	if (!list_empty(&hi->lines)) {
		line = list_entry(hi->lines.next, struct history_line, node);
		list_del(&line->node);
		hi->line_count--;
		text = line->text;
		len = line->len;
		if (line->written_ns > hi->prompt_ns) {
			written = line->written;
			written_ns = line->written_ns;
		}
	} else if (hi->untracked > 0) {
		hi->untracked--;
	} else {
		return;
	}
	if (!hi->entry_open) {
		hi->entry_start = written;
		hi->entry_start_ns = written_ns;
	}
	if (history_entry_add(hi, text, len))
		hi->entry_open = true;
	else
		log_error("session %s: out of memory, a history entry is lost", s->name);
	free(line);
}

/* Ends the entry being read: one line in the history file (not for an empty line). */
static void history_end_entry(struct session *s, int status)
{
	struct session_history *hi = &s->history;
	char start[CTL_TIME_MAX];
	char head[128];

	if (!hi->entry_open)
		return;
	if (hi->entry_has_text) {
		int64_t duration_ms = (loop_now_ns() - hi->entry_start_ns) / NSEC_PER_MSEC;
		ctl_format_time(&hi->entry_start, start, sizeof(start));
		int head_len = snprintf(head, sizeof(head), "%llu\t%s\t%lld.%03lld\t%d\t",
					(unsigned long long)++hi->entries, start, (long long)(duration_ms / 1000),
					(long long)(duration_ms % 1000), status);
		hi->entry[hi->entry_len] = '\n';	/* history_entry_add left room */
		record_append(&hi->record, head, (size_t)head_len, sessions.cfg.history_size, true);
		record_append(&hi->record, hi->entry, hi->entry_len + 1, sessions.cfg.history_size, true);
	}
	hi->entry_open = false;
	hi->entry_has_text = false;
	hi->entry_len = 0;
}

void history_prompt(struct session *s, enum prompt_kind kind, int status, bool setup)
{
	struct session_history *hi = &s->history;

	if (!setup)
		history_take_line(s);
	if (kind == PROMPT_COMMAND)
		history_end_entry(s, status);
	clock_gettime(CLOCK_REALTIME, &hi->prompt_time);
	hi->prompt_ns = loop_now_ns();
}

/* The shell exited: the line it was running (or reading) ends with its exit code. */
void history_shell_exited(struct session *s, int exit_code)
{
	history_take_line(s);
	history_end_entry(s, exit_code);
	history_drop_pending(&s->history);
}
