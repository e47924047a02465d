/*
 * seshfs: prompt marker scanner (see prompt.h).
 */
#include "prompt.h"

#include <stdio.h>
#include <string.h>

#define MARK_START '\036'
#define MARK_END '\037'

void prompt_scanner_init(struct prompt_scanner *sc, const char *token)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->token, sizeof(sc->token), "%s", token);
	sc->head_len = (size_t)snprintf(sc->head, sizeof(sc->head), "%c%s:", MARK_START, token);
}

enum marker_match {
	MARKER_PARTIAL,
	MARKER_COMPLETE,
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
	if (m[i] == '2' || m[i] == '0') {
		if (len == i + 1)
			return MARKER_PARTIAL;
		if (m[i + 1] != MARK_END)
			return MARKER_NO;
		*kind = m[i] == '2' ? PROMPT_CONTINUATION : PROMPT_START;
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
	if (digits == 0 || m[i] != MARK_END)
		return MARKER_NO;
	*kind = PROMPT_COMMAND;
	*status = value;
	return MARKER_COMPLETE;
}

/* Feeds one byte to the held-back candidate. */
static void prompt_hold(struct prompt_scanner *sc, char c, const struct prompt_sink *sink)
{
	enum prompt_kind kind;
	int status;

	sc->held[sc->held_len++] = c;
	/* With eat_newline the candidate may start with the shell's newline. */
	size_t skip = sc->held[0] == '\n' ? 1 : 0;
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
		sc->eat_newline = false;
		sink->marker(sink->ctx, kind, status);
		break;
	case MARKER_NO: {
		/* Not ours: the first byte is output; the rest may still start a marker. */
		char rest[PROMPT_MARKER_MAX];
		size_t rest_len = sc->held_len - 1;
		memcpy(rest, sc->held + 1, rest_len);
		sc->held_len = 0;
		sink->data(sink->ctx, sc->held, 1);
		prompt_scan(sc, rest, rest_len, sink);
		break;
	}
	}
}

void prompt_scan(struct prompt_scanner *sc, const char *data, size_t len, const struct prompt_sink *sink)
{
	while (len > 0) {
		if (sc->held_len > 0) {
			prompt_hold(sc, *data, sink);
			data++;
			len--;
			continue;
		}
		const char *start = memchr(data, MARK_START, len);
		if (sc->eat_newline) {
			const char *newline = memchr(data, '\n', start ? (size_t)(start - data) : len);
			if (newline)
				start = newline;
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
	if (sc->held_len > 0)
		sink->data(sink->ctx, sc->held, sc->held_len);
	sc->held_len = 0;
}

int prompt_setup_line(const char *token, char *buf, size_t size)
{
	/*
	 * The status is taken first: the hook's own commands would change $?.
	 * bash runs PROMPT_COMMAND in the shell itself (builtins, no fork, and
	 * $? is kept for the user); other shells get the mark from PS1's
	 * command substitution, a subshell per prompt.
	 */
	char mark[160];

	snprintf(mark, sizeof(mark),
		 "s=$?; printf \"\\036%s:1:%%d\\037\" \"$s\" >&8; printf \"\\036%s:1:%%d\\037\" \"$s\" >&9",
		 token, token);
	/*
	 * bash also prints PS0 (to stderr, decoding \nnn, no fork) once it has
	 * read a command: a shell inside its own "read" builtin is then not
	 * taken for a shell at its prompt.
	 */
	return snprintf(buf, size,
			"if [ -n \"${BASH_VERSION-}\" ]; then PROMPT_COMMAND='%s'; PS1=; PS0='\\036%s:0\\037'; "
			"else PS1='$(%s)'; fi; "
			"PS2='$(printf \"\\036%s:2\\037\" >&8; printf \"\\036%s:2\\037\" >&9)'; "
			"unset HISTFILE\n",
			mark, token, mark, token, token);
}
