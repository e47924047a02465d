/*
 * Fuzz target: bash's terminal-noise filter (fs/session/noise.c), fed what
 * a shell's stderr carries. Properties: whatever the split of the input,
 * the output is the input without exactly the whole noise lines, as a
 * plain line-by-line reading finds them; nothing else is eaten.
 *
 * Input: byte 0 seeds the split points; the rest is the stream, where a
 * byte 0x1e at a line start stands for "the shell read a command" (PS0).
 */
#include <string.h>

#include "../../fs/session/noise.h"
#include "fuzz.h"

struct output {
	uint8_t *bytes;
	size_t len;
};

static void sink(void *ctx, const char *data, size_t len)
{
	struct output *o = ctx;

	FUZZ_ASSERT(len > 0);
	memcpy(o->bytes + o->len, data, len);
	o->len += len;
}

/* Digits at *p, at least one: advances past them. */
static bool digits(const uint8_t *line, size_t len, size_t *p)
{
	size_t start = *p;

	while (*p < len && line[*p] >= '0' && line[*p] <= '9')
		(*p)++;
	return *p > start;
}

static bool literal(const uint8_t *line, size_t len, size_t *p, const char *text)
{
	size_t n = strlen(text);

	if (len - *p < n || memcmp(line + *p, text, n) != 0)
		return false;
	*p += n;
	return true;
}

/* The whole line (newline included) is the tcsetattr line (0), the job line (1), or neither (-1). */
static int reference_noise(const uint8_t *line, size_t len)
{
	size_t p = 0;

	if (literal(line, len, &p, "bash: [") && digits(line, len, &p) && literal(line, len, &p, ": ") &&
	    digits(line, len, &p) && literal(line, len, &p, " (") && digits(line, len, &p) &&
	    literal(line, len, &p, ")] tcsetattr: Inappropriate ioctl for device\n") && p == len)
		return 0;
	p = 0;
	if (literal(line, len, &p, "[") && digits(line, len, &p) && literal(line, len, &p, "] ") &&
	    digits(line, len, &p) && literal(line, len, &p, "\n") && p == len)
		return 1;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t seed = data[0] | 1u;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	struct output want = { malloc(len + 1), 0 };
	struct output got = { malloc(len + 1), 0 };
	struct noise_filter nf;

	/* The reference, line by line; an event counts only at a line start. */
	bool after_start = false;
	for (size_t at = 0; at < len;) {
		if (in[at] == 0x1e) {
			after_start = true;
			at++;
			continue;
		}
		const uint8_t *nl = memchr(in + at, '\n', len - at);
		size_t line = nl ? (size_t)(nl - (in + at)) + 1 : len - at;
		/* An event inside a line is none: the line is its bytes around it. */
		uint8_t text[NOISE_LINE_MAX];
		size_t text_len = 0;
		for (size_t i = 0; i < line && text_len < sizeof(text); i++) {
			if (in[at + i] != 0x1e)
				text[text_len++] = in[at + i];
		}
		int kind = nl && text_len < NOISE_LINE_MAX ? reference_noise(text, text_len) : -1;
		if (kind == 0 || (kind == 1 && after_start))
			goto next;	/* dropped; bash's own noise keeps the window open */
		for (size_t i = 0; i < line; i++) {
			if (in[at + i] != 0x1e)
				want.bytes[want.len++] = in[at + i];
		}
		after_start = false;
next:
		at += line;
	}
	noise_init(&nf);
	bool line_start = true;
	for (size_t at = 0; at < len;) {
		if (in[at] == 0x1e) {
			if (line_start)
				noise_command_started(&nf);
			at++;
			continue;
		}
		const uint8_t *event = memchr(in + at, 0x1e, len - at);
		size_t run = event ? (size_t)(event - (in + at)) : len - at;
		size_t piece = fuzz_piece(&seed, run, 40);
		noise_filter(&nf, (const char *)in + at, piece, sink, &got);
		line_start = in[at + piece - 1] == '\n';
		at += piece;
	}
	noise_flush(&nf, sink, &got);
	FUZZ_ASSERT(got.len == want.len && memcmp(got.bytes, want.bytes, got.len) == 0);
	free(want.bytes);
	free(got.bytes);
	return 0;
}
