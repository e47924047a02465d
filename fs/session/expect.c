/*
 * seshfs: ctl expect REGEX. A read of stdout or stderr also ends when the
 * output since the last input the shell was sent ends with a match on
 * either stream (a REPL's prompt, an installer's question): the same EOF
 * as completion's, held until the next write. Each stream's last
 * EXPECT_WINDOW bytes since that input are kept (the buffer grows with
 * them), so that a pattern set later applies to them too.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

#define EXPECT_WINDOW 4096

void expect_input(struct session *s)
{
	for (int i = 0; i < STREAM_COUNT; i++)
		s->expect.window_len[i] = 0;
	s->expect.matched = false;
}

static bool expect_check(struct session *s, enum session_stream stream)
{
	struct session_expect *ex = &s->expect;
	int ret = regex_match(ex->re, ex->window[stream], ex->window_len[stream]);

	if (ret < 0)
		log_info("session %s: expect: the pattern hit its match limits; taken as no match", s->name);
	return ret == 1;
}

/* Makes room for need bytes in the stream's window (grown as output comes, up to EXPECT_WINDOW). */
static bool expect_window_room(struct session_expect *ex, enum session_stream stream, size_t need)
{
	size_t size = ex->window_size[stream];

	if (need <= size)
		return true;
	while (size < need)
		size = size ? 2 * size : 64;
	if (size > EXPECT_WINDOW)
		size = EXPECT_WINDOW;
	char *grown = realloc(ex->window[stream], size);
	if (!grown)
		return false;
	ex->window[stream] = grown;
	ex->window_size[stream] = size;
	return true;
}

/*
 * Output of stream, markers taken out (whoever pushes it serves the
 * readers). Kept whether or not expect is set, so that setting it applies
 * to the output a waiting read already has.
 */
void expect_output(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	struct session_expect *ex = &s->expect;
	size_t old = ex->window_len[stream];
	size_t keep = len >= EXPECT_WINDOW ? 0 : old + len > EXPECT_WINDOW ? EXPECT_WINDOW - len : old;

	if (len == 0)
		return;
	if (len > EXPECT_WINDOW) {
		data += len - EXPECT_WINDOW;
		len = EXPECT_WINDOW;
	}
	if (!expect_window_room(ex, stream, keep + len)) {
		ex->window_len[stream] = 0;
		log_error("session %s: out of memory: expect misses output", s->name);
		return;
	}
	char *w = ex->window[stream];
	memmove(w, w + old - keep, keep);
	memcpy(w + keep, data, len);
	ex->window_len[stream] = keep + len;
	if (ex->re && !ex->matched && expect_check(s, stream))
		ex->matched = true;
}

bool expect_would_match(struct session *s, enum session_stream stream, const char *data, size_t len)
{
	struct session_expect *ex = &s->expect;

	if (!ex->re || ex->matched || len == 0)
		return false;
	if (len > EXPECT_WINDOW) {
		data += len - EXPECT_WINDOW;
		len = EXPECT_WINDOW;
	}
	size_t keep = ex->window_len[stream] < EXPECT_WINDOW - len ? ex->window_len[stream] : EXPECT_WINDOW - len;
	char *text = malloc(keep + len);
	if (!text)
		return true;	/* out of memory: let it through rather than hold a read */
	if (keep > 0)
		memcpy(text, ex->window[stream] + ex->window_len[stream] - keep, keep);
	memcpy(text + keep, data, len);
	bool matched = regex_match(ex->re, text, keep + len) == 1;
	free(text);
	return matched;
}

/* ctl expect: re (NULL: off) replaces the pattern; the output since the last input is matched at once. */
void expect_set(struct session *s, struct regex *re)
{
	struct session_expect *ex = &s->expect;

	regex_free(ex->re);
	ex->re = re;
	ex->matched = false;
	for (int i = 0; re && i < STREAM_COUNT && !ex->matched; i++)
		ex->matched = ex->window_len[i] > 0 && expect_check(s, (enum session_stream)i);
}

void expect_free(struct session *s)
{
	expect_set(s, NULL);
	for (int i = 0; i < STREAM_COUNT; i++)
		free(s->expect.window[i]);
}
