/*
 * seshfs: prompt marker scanner (see prompt.h).
 */
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_START '\036'
#define MARK_END '\037'

void prompt_scanner_init(struct prompt_scanner *sc, const char *token)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->token, sizeof(sc->token), "%s", token);
	sc->head_len = (size_t)snprintf(sc->head, sizeof(sc->head), "%c%s:", MARK_START, token);
}

void prompt_scanner_free(struct prompt_scanner *sc)
{
	free(sc->cwd);
	sc->cwd = NULL;
	sc->cwd_len = sc->cwd_size = 0;
	sc->in_cwd = false;
}

enum marker_match {
	MARKER_PARTIAL,
	MARKER_COMPLETE,
	MARKER_CWD,	/* complete up to the status: the CWD follows, up to \037 */
	MARKER_NO,
};

/*
 * Is m[0..len) a marker, the start of one, or neither? The candidate grows
 * one byte at a time, so "not yet long enough" is always PARTIAL.
 */
static enum marker_match marker_match(const struct prompt_scanner *sc, const char *m, size_t len,
				      enum prompt_kind *kind, int *status)
{
	size_t i = sc->head_len;

	if (memcmp(m, sc->head, len < sc->head_len ? len : sc->head_len) != 0)
		return MARKER_NO;
	if (len <= i)
		return MARKER_PARTIAL;
	if (m[i] == '2' || m[i] == '0' || m[i] == '3') {
		if (len == i + 1)
			return MARKER_PARTIAL;
		if (m[i + 1] != MARK_END)
			return MARKER_NO;
		*kind = m[i] == '2' ? PROMPT_CONTINUATION : m[i] == '3' ? PROMPT_CONTINUATION_STDERR : PROMPT_START;
		*status = 0;
		return MARKER_COMPLETE;
	}
	if (m[i] != '1')
		return MARKER_NO;
	if (len == ++i)
		return MARKER_PARTIAL;
	if (m[i] != ':')
		return MARKER_NO;
	int value = 0;
	size_t digits = 0;
	for (i++; i < len && m[i] >= '0' && m[i] <= '9'; i++, digits++)
		value = value * 10 + (m[i] - '0');
	if (digits > 3)
		return MARKER_NO;
	if (i == len)
		return MARKER_PARTIAL;
	if (digits == 0 || (m[i] != MARK_END && m[i] != ':'))
		return MARKER_NO;
	*kind = PROMPT_COMMAND;
	*status = value;
	return m[i] == MARK_END ? MARKER_COMPLETE : MARKER_CWD;
}

static bool prompt_newline(const struct prompt_scanner *sc, char c)
{
	return c == '\n' || (sc->crlf && c == '\r');
}

/* Feeds one byte to the held-back candidate. */
static void prompt_hold(struct prompt_scanner *sc, char c, const struct prompt_sink *sink)
{
	enum prompt_kind kind;
	int status;

	sc->held[sc->held_len++] = c;
	/* With eat_newline the candidate may start with the shell's newlines. */
	size_t skip = 0;
	size_t eat_max = sc->crlf ? PROMPT_EAT_MAX : 1;
	while (sc->eat_newline && skip < sc->held_len && skip < eat_max && prompt_newline(sc, sc->held[skip]))
		skip++;
	enum marker_match match = MARKER_PARTIAL;
	if (sc->held_len > skip)
		match = sc->held[skip] == MARK_START ?
			marker_match(sc, sc->held + skip, sc->held_len - skip, &kind, &status) :
			MARKER_NO;
	switch (match) {
	case MARKER_PARTIAL:
		break;
	case MARKER_COMPLETE:
		sc->held_len = 0;
		if (kind == PROMPT_START) {
			/* The shell's newline comes before a prompt, not before running a command. */
			if (skip > 0)
				sink->data(sink->ctx, sc->held, skip);
		} else {
			sc->eat_newline = false;
		}
		sink->marker(sink->ctx, kind, status, NULL, 0);
		break;
	case MARKER_CWD:
		sc->held_len = 0;
		sc->in_cwd = true;
		sc->cwd_status = status;
		sc->cwd_len = 0;
		break;
	case MARKER_NO: {
		/* Not ours: the first byte is output; the rest may still start a marker. */
		char rest[sizeof(sc->held)];
		size_t rest_len = sc->held_len - 1;
		memcpy(rest, sc->held + 1, rest_len);
		sc->held_len = 0;
		sink->data(sink->ctx, sc->held, 1);
		prompt_scan(sc, rest, rest_len, sink);
		break;
	}
	}
}

/* Takes CWD bytes up to the marker's end; returns how many it took. */
static size_t prompt_take_cwd(struct prompt_scanner *sc, const char *data, size_t len,
			      const struct prompt_sink *sink)
{
	const char *end = memchr(data, MARK_END, len);
	size_t n = end ? (size_t)(end - data) : len;

	/* Past PROMPT_CWD_MAX it is unknown: cwd_len says so, the bytes are not kept. */
	if (n > 0 && sc->cwd_len <= PROMPT_CWD_MAX) {
		size_t want = sc->cwd_len + n;
		if (want > PROMPT_CWD_MAX) {
			sc->cwd_len = PROMPT_CWD_MAX + 1;
		} else {
			if (want > sc->cwd_size) {
				size_t size = sc->cwd_size ? sc->cwd_size : 64;
				while (size < want)
					size *= 2;
				char *grown = realloc(sc->cwd, size);
				if (grown) {
					sc->cwd = grown;
					sc->cwd_size = size;
				}
			}
			if (want <= sc->cwd_size) {
				memcpy(sc->cwd + sc->cwd_len, data, n);
				sc->cwd_len = want;
			} else {
				sc->cwd_len = PROMPT_CWD_MAX + 1;	/* out of memory: unknown */
			}
		}
	}
	if (!end)
		return len;
	bool known = sc->cwd_len <= PROMPT_CWD_MAX;
	sc->in_cwd = false;
	sc->eat_newline = false;
	sink->marker(sink->ctx, PROMPT_COMMAND, sc->cwd_status, known ? (sc->cwd ? sc->cwd : "") : NULL,
		     known ? sc->cwd_len : 0);
	return n + 1;
}

void prompt_scan(struct prompt_scanner *sc, const char *data, size_t len, const struct prompt_sink *sink)
{
	while (len > 0) {
		if (sc->in_cwd) {
			size_t taken = prompt_take_cwd(sc, data, len, sink);
			data += taken;
			len -= taken;
			continue;
		}
		if (sc->held_len > 0) {
			prompt_hold(sc, *data, sink);
			data++;
			len--;
			continue;
		}
		const char *start = memchr(data, MARK_START, len);
		if (sc->eat_newline) {
			const char *limit = start ? start : data + len;
			for (const char *p = data; p < limit; p++) {
				if (prompt_newline(sc, *p)) {
					start = p;
					break;
				}
			}
		}
		size_t plain = start ? (size_t)(start - data) : len;
		if (plain > 0)
			sink->data(sink->ctx, data, plain);
		data += plain;
		len -= plain;
		if (len > 0) {
			sc->held[0] = *data;
			sc->held_len = 1;
			data++;
			len--;
		}
	}
}

void prompt_scan_flush(struct prompt_scanner *sc, const struct prompt_sink *sink)
{
	/* A marker cut off in its CWD was a marker: nothing of it is output. */
	sc->in_cwd = false;
	if (sc->held_len > 0)
		sink->data(sink->ctx, sc->held, sc->held_len);
	sc->held_len = 0;
}

int prompt_setup_line(const char *token, bool tty, bool merged, bool echo, char *buf, size_t size)
{
	/*
	 * The status is taken first: the hook's own commands would change $?.
	 * bash runs PROMPT_COMMAND in the shell itself (builtins, no fork, and
	 * $? is kept for the user; its variables are named so as not to clash
	 * with the user's); other shells get the mark from PS1's command
	 * substitution, a subshell per prompt. A working directory with the
	 * marker bytes in its name is reported empty (the case pattern holds
	 * those two bytes themselves). A terminal, or stderr merged into
	 * stdout, is one stream: one mark, on stdout.
	 */
	bool one_stream = tty || merged;
	char state[128];
	char mark[320];
	char continuation[128];

	snprintf(state, sizeof(state),
		 "_seshfs_s=$?; case $PWD in (*[\036\037]*) _seshfs_d=;; (*) _seshfs_d=$PWD;; esac");
	snprintf(mark, sizeof(mark), "%s; printf \"\\036%s:1:%%d:%%s\\037\" \"$_seshfs_s\" \"$_seshfs_d\" >&8%s%s%s",
		 state, token, one_stream ? "" : "; printf \"\\036", one_stream ? "" : token,
		 one_stream ? "" : ":1:%d\\037\" \"$_seshfs_s\" >&9");
	snprintf(continuation, sizeof(continuation), "printf \"\\036%s:2\\037\" >&8%s%s%s", token,
		 one_stream ? "" : "; printf \"\\036", one_stream ? "" : token,
		 one_stream ? "" : ":2\\037\" >&9");
	/*
	 * bash also prints PS0 (to stderr, decoding \nnn, no fork) once it has
	 * read a command: a shell inside its own "read" builtin is then not
	 * taken for a shell at its prompt. Its PS2 is printed the same way, on
	 * stderr only: a fork per continuation line (a long here-document)
	 * would cost a millisecond each. On a terminal its PS1 is the mark:
	 * bash reports finished jobs ("[1]+ Done") after PROMPT_COMMAND, just
	 * before it prints PS1, and a read that ends at the mark must have them.
	 * PROMPT_COMMAND sets PS1 anew each time (it takes effect at once): a
	 * user's PS1 (a sourced .bashrc) would end completion for good.
	 */
	char bash_hook[PROMPT_SETUP_MAX / 2];
	if (tty)
		snprintf(bash_hook, sizeof(bash_hook),
			 "_seshfs_p='\\036%s:1:${_seshfs_s}:${_seshfs_d}\\037'; PROMPT_COMMAND='%s; PS1=$_seshfs_p'",
			 token, state);
	else
		snprintf(bash_hook, sizeof(bash_hook), "PROMPT_COMMAND='%s'", mark);
	return snprintf(buf, size,
			"%sif [ -n \"${BASH_VERSION-}\" ]; then %s; PS1=; PS0='\\036%s:0\\037'; "
			"PS2='\\036%s:3\\037'; "
			"else PS1='$(%s)'; PS2='$(%s)'; fi; "
			"unset HISTFILE\n",
			tty && !echo ? "stty -echo; " : "", bash_hook, token, token, mark, continuation);
}
