/*
 * Fuzz target: the prompt-marker scanner (fs/session/prompt.c), fed what a
 * shell and its programs print. Properties: whatever the split of the
 * input, the output (bytes, and markers with their working directory in
 * their places) is what a plain whole-buffer reading of the marker grammar
 * gives; nothing else is eaten.
 *
 * Input: byte 0 sets eat_newline (bit 0) and crlf (bit 1) and seeds the
 * split points; the rest is the stream. The token is fixed (see prompt.dict).
 */
#include <string.h>

#include "../../fs/session/prompt.h"
#include "fuzz.h"

#define TOKEN "0123456789abcdef"

/*
 * Events as bytes: data bytes as 'd' b; markers as 'm' kind status/256
 * status%256, then 'c' len/256 len%256 and the bytes of a known working
 * directory, or '-' for none or one too long to keep.
 */
struct events {
	uint8_t *bytes;
	size_t len;
};

static void on_data(void *ctx, const char *data, size_t len)
{
	struct events *e = ctx;
	FUZZ_ASSERT(len > 0);
	for (size_t i = 0; i < len; i++) {
		e->bytes[e->len++] = 'd';
		e->bytes[e->len++] = (uint8_t)data[i];
	}
}

static void on_marker(void *ctx, enum prompt_kind kind, int status, const char *cwd, size_t cwd_len)
{
	struct events *e = ctx;
	FUZZ_ASSERT(kind == PROMPT_START || kind == PROMPT_COMMAND || kind == PROMPT_CONTINUATION ||
		    kind == PROMPT_CONTINUATION_STDERR);
	FUZZ_ASSERT(status >= 0 && status <= 999);
	FUZZ_ASSERT(kind == PROMPT_COMMAND || status == 0);
	e->bytes[e->len++] = 'm';
	e->bytes[e->len++] = (uint8_t)kind;
	e->bytes[e->len++] = (uint8_t)(status >> 8);
	e->bytes[e->len++] = (uint8_t)status;
	if (cwd) {
		FUZZ_ASSERT(kind == PROMPT_COMMAND && cwd_len <= PROMPT_CWD_MAX);
		FUZZ_ASSERT(!memchr(cwd, '\037', cwd_len));
		e->bytes[e->len++] = 'c';
		e->bytes[e->len++] = (uint8_t)(cwd_len >> 8);
		e->bytes[e->len++] = (uint8_t)cwd_len;
		memcpy(e->bytes + e->len, cwd, cwd_len);
		e->len += cwd_len;
	} else {
		e->bytes[e->len++] = '-';
	}
}

/*
 * Length of the marker at in[0..len), 0 if there is none. *cwd is where a
 * working directory starts (its end is the marker's end - 1), or NULL; a
 * marker cut off in its working directory runs to the end and *ended is false.
 */
static size_t reference_marker(const uint8_t *in, size_t len, enum prompt_kind *kind, int *status,
			       const uint8_t **cwd, bool *ended)
{
	static const char head[] = "\036" TOKEN ":";
	size_t h = sizeof(head) - 1;

	*cwd = NULL;
	*ended = true;
	if (len < h + 2 || memcmp(in, head, h) != 0)
		return 0;
	if ((in[h] == '0' || in[h] == '2' || in[h] == '3') && in[h + 1] == '\037') {
		*kind = in[h] == '0' ? PROMPT_START : in[h] == '2' ? PROMPT_CONTINUATION : PROMPT_CONTINUATION_STDERR;
		*status = 0;
		return h + 2;
	}
	if (in[h] != '1' || in[h + 1] != ':')
		return 0;
	size_t i = h + 2;
	int value = 0;
	while (i < len && i - (h + 2) < 4 && in[i] >= '0' && in[i] <= '9')
		value = value * 10 + (in[i++] - '0');
	size_t digits = i - (h + 2);
	if (digits == 0 || digits > 3 || i == len || (in[i] != '\037' && in[i] != ':'))
		return 0;
	*kind = PROMPT_COMMAND;
	*status = value;
	if (in[i] == '\037')
		return i + 1;
	*cwd = in + i + 1;
	const uint8_t *end = memchr(*cwd, '\037', len - (i + 1));
	if (!end) {
		*ended = false;
		return len;
	}
	return (size_t)(end - in) + 1;
}

static bool reference_newline(uint8_t c, bool crlf)
{
	return c == '\n' || (crlf && c == '\r');
}

static void reference_scan(const uint8_t *in, size_t len, bool eat_newline, bool crlf, struct events *e)
{
	enum prompt_kind kind;
	int status;
	const uint8_t *cwd;
	bool ended;

	for (size_t at = 0; at < len;) {
		size_t skip = 0;
		while (eat_newline && at + skip < len && skip < (crlf ? PROMPT_EAT_MAX : 1u) &&
		       reference_newline(in[at + skip], crlf))
			skip++;
		size_t marker = reference_marker(in + at + skip, len - at - skip, &kind, &status, &cwd, &ended);
		if (marker) {
			size_t cwd_len = cwd ? (size_t)(in + at + skip + marker - 1 - cwd) : 0;
			if (kind == PROMPT_START && skip > 0)
				on_data(e, (const char *)in + at, skip);	/* not eaten before PS0 */
			if (ended)
				on_marker(e, kind, status, cwd && cwd_len <= PROMPT_CWD_MAX ? (const char *)cwd : NULL,
					  cwd_len);
			if (kind != PROMPT_START)
				eat_newline = false;
			at += skip + marker;
		} else {
			on_data(e, (const char *)in + at, 1);
			at++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool eat_newline = data[0] & 1;
	bool crlf = data[0] & 2;
	uint32_t seed = data[0] | 1u;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	/* At most 2 event bytes per input byte (a marker's events are shorter than it). */
	struct events want = { malloc(2 * len + 1), 0 };
	struct events got = { malloc(2 * len + 1), 0 };
	struct prompt_sink sink = { on_data, on_marker, &got };
	struct prompt_scanner sc;

	reference_scan(in, len, eat_newline, crlf, &want);
	prompt_scanner_init(&sc, TOKEN);
	sc.eat_newline = eat_newline;
	sc.crlf = crlf;
	for (size_t at = 0; at < len;) {
		size_t piece = fuzz_piece(&seed, len - at, 40);
		prompt_scan(&sc, (const char *)in + at, piece, &sink);
		FUZZ_ASSERT(sc.held_len <= sizeof(sc.held));
		at += piece;
	}
	prompt_scan_flush(&sc, &sink);
	prompt_scanner_free(&sc);
	FUZZ_ASSERT(got.len == want.len && memcmp(got.bytes, want.bytes, got.len) == 0);
	free(want.bytes);
	free(got.bytes);
	return 0;
}
