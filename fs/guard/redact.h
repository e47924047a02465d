/*
 * seshfs: secret redaction. Rules, one a line of a file: REGEX <TAB>
 * REPLACEMENT (in which $1..$9 are the match's groups and $$ a dollar);
 * the line "default" includes the built-in set. Rules apply one after
 * another, each to what the ones before left, and a match never spans two
 * lines. Private key blocks span lines: from the BEGIN line to the END
 * line they are one unit, replaced by one text.
 *
 * A line with terminal escapes (colours, titles, links) is searched twice:
 * as it is, and as a terminal shows it, escapes taken out, so that an
 * escape next to or inside a secret hides nothing. A match in what a
 * terminal shows replaces the text from its first byte to its last, the
 * escapes among them included; those around it stay.
 *
 * A stream holds back a line until it is complete, so that a secret split
 * across writes is still found whole; whoever feeds it decides when a
 * partial line has waited long enough and flushes it, matched as it is.
 */
#ifndef SESHFS_REDACT_H
#define SESHFS_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REDACT_ERR_MAX 512
/* A partial line is held at most this long, and a key block without END masks at most this much. */
#define REDACT_HOLD_MAX (64 * 1024)

struct redact_rules;

/*
 * The rules of text[0..len), a file's contents (name: the file, for
 * errors). NULL with "NAME:LINE: reason" in err.
 */
struct redact_rules *redact_parse(const char *text, size_t len, const char *name, char err[REDACT_ERR_MAX]);
/* arg: a file's path, or "default" for the built-in set alone. */
struct redact_rules *redact_load(const char *arg, char err[REDACT_ERR_MAX]);
/* The file they came from, or "default". */
const char *redact_source(const struct redact_rules *rules);
void redact_free(struct redact_rules *rules);

typedef void (*redact_sink)(void *ctx, const char *data, size_t len);
struct redact_escape;

struct redact_stream {
	char *held;		/* the partial last line */
	size_t held_len, held_size;
	bool in_block;		/* inside a private key block: its lines are dropped */
	size_t block_bytes;
	uint64_t matches;	/* replacements so far */
	char *scratch[2];	/* rules apply from one into the other */
	size_t scratch_size[2];
	char *shown;		/* a text with escapes, as a terminal shows it */
	size_t *shown_at;	/* where each of its bytes stands in the text */
	struct redact_escape *escapes;	/* the escape sequences taken out */
	size_t shown_size, shown_at_size, escapes_size;
};

/*
 * Redacted complete lines go to sink, the partial last one is held (and
 * matched as it is once REDACT_HOLD_MAX bytes wait). -1 when out of memory:
 * then what could not be redacted was dropped, never passed on.
 */
int redact_feed(const struct redact_rules *rules, struct redact_stream *rs, const char *data, size_t len,
		redact_sink sink, void *ctx);
/*
 * The held partial line goes out, matched as it is. prompt: the output
 * that printed it ended, and so does a key block still open (masked whole);
 * otherwise a block's lines stay held, to find its END.
 */
int redact_flush(const struct redact_rules *rules, struct redact_stream *rs, bool prompt, redact_sink sink,
		 void *ctx);
/* Bytes held back. */
size_t redact_held(const struct redact_stream *rs);
void redact_stream_free(struct redact_stream *rs);

/*
 * One text, not a stream (a ctl value, a log line): the redacted copy in
 * *out (malloc'd, NUL-terminated) and its length; -1 when out of memory.
 */
ssize_t redact_text(const struct redact_rules *rules, const char *text, size_t len, char **out);
/*
 * One whole line (no newline) through rs, which keeps what spans lines (a
 * key block): what came out in *out as redact_text gives it (its newline
 * included, or nothing inside a block).
 */
ssize_t redact_line(const struct redact_rules *rules, struct redact_stream *rs, const char *line, size_t len,
		    char **out);

#endif
