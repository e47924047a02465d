/*
 * seshfs: bash's terminal noise filter (see noise.h).
 */
#include "noise.h"

#include <string.h>

/* The lines, '#' standing for one or more digits. */
static const struct {
	const char *line;
	bool first_after_start;	/* only as the first line after the shell read a command */
} noise_lines[] = {
	{ "bash: [#: # (#)] tcsetattr: Inappropriate ioctl for device\n", false },
	{ "[#] #\n", true },	/* after the tcsetattr lines of the command's earlier jobs, if any */
};
#define NOISE_LINES (sizeof(noise_lines) / sizeof(noise_lines[0]))

enum noise_match {
	NOISE_PARTIAL,
	NOISE_COMPLETE,
	NOISE_NO,
};

static bool noise_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Is line[0..len) the noise line p, the start of one, or neither? */
static enum noise_match noise_match_one(const char *p, const char *line, size_t len)
{
	size_t i = 0;

	while (*p) {
		if (i == len)
			return NOISE_PARTIAL;
		if (*p != '#') {
			if (line[i++] != *p++)
				return NOISE_NO;
			continue;
		}
		if (!noise_digit(line[i]))
			return NOISE_NO;
		while (i < len && noise_digit(line[i]) && i < NOISE_LINE_MAX)
			i++;
		p++;
	}
	return i == len ? NOISE_COMPLETE : NOISE_NO;
}

static bool noise_line_applies(const struct noise_filter *nf, size_t i)
{
	return !noise_lines[i].first_after_start || nf->after_start;
}

/* Is line[0..len) a noise line, the start of one, or neither? */
static enum noise_match noise_match(const struct noise_filter *nf, const char *line, size_t len)
{
	enum noise_match best = NOISE_NO;

	for (size_t i = 0; i < NOISE_LINES && best != NOISE_COMPLETE; i++) {
		enum noise_match match = noise_line_applies(nf, i) ? noise_match_one(noise_lines[i].line, line, len) :
				 NOISE_NO;
		if (match != NOISE_NO)
			best = match;
	}
	return best;
}

static bool noise_may_start(const struct noise_filter *nf, char c)
{
	for (size_t i = 0; i < NOISE_LINES; i++) {
		if (noise_line_applies(nf, i) && noise_lines[i].line[0] == c)
			return true;
	}
	return false;
}

void noise_command_started(struct noise_filter *nf)
{
	nf->after_start = true;
}

void noise_init(struct noise_filter *nf)
{
	memset(nf, 0, sizeof(*nf));
	nf->line_start = true;
}

/* Feeds one byte to the held candidate. */
static void noise_hold(struct noise_filter *nf, char c, noise_sink out, void *ctx)
{
	nf->held[nf->held_len++] = c;
	enum noise_match match = nf->held_len == NOISE_LINE_MAX ? NOISE_NO : noise_match(nf, nf->held, nf->held_len);

	if (match == NOISE_PARTIAL)
		return;
	/* A line of output ends the lines bash prints first; its own noise does not. */
	if (match == NOISE_NO) {
		out(ctx, nf->held, nf->held_len);
		nf->after_start = false;
	}
	nf->line_start = c == '\n';
	nf->held_len = 0;
}

void noise_filter(struct noise_filter *nf, const char *data, size_t len, noise_sink out, void *ctx)
{
	while (len > 0) {
		if (nf->held_len > 0 || (nf->line_start && noise_may_start(nf, data[0]))) {
			noise_hold(nf, data[0], out, ctx);
			data++;
			len--;
			continue;
		}
		/* Plain bytes up to and including the next newline go out as they are. */
		const char *nl = memchr(data, '\n', len);
		size_t plain = nl ? (size_t)(nl - data) + 1 : len;
		out(ctx, data, plain);
		nf->line_start = nl != NULL;
		nf->after_start = false;
		data += plain;
		len -= plain;
	}
}

void noise_flush(struct noise_filter *nf, noise_sink out, void *ctx)
{
	if (nf->held_len > 0)
		out(ctx, nf->held, nf->held_len);
	nf->held_len = 0;
}
