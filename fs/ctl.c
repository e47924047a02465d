/*
 * seshfs: ctl command parser (see ctl.h).
 */
#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const ctl_signals[] = { "INT", "TERM", "KILL", "HUP", "QUIT", "USR1", "USR2" };

int ctl_parse_seconds(const char *text, size_t len, int64_t *ms)
{
	int64_t whole = 0;
	int64_t frac_ms = 0;
	int frac_digits = 0;
	size_t i = 0;

	if (len == 0 || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	for (; i < len && isdigit((unsigned char)text[i]); i++) {
		whole = whole * 10 + (text[i] - '0');
		if (whole > CTL_TIMEOUT_MAX_MS / 1000)
			return -EINVAL;
	}
	if (i < len && text[i] == '.') {
		i++;
		if (i == len)
			return -EINVAL;
		for (; i < len && isdigit((unsigned char)text[i]); i++, frac_digits++) {
			if (frac_digits < 3)
				frac_ms = frac_ms * 10 + (text[i] - '0');
		}
		if (frac_digits == 0)
			return -EINVAL;
		for (int d = frac_digits; d < 3; d++)
			frac_ms *= 10;
	}
	if (i != len)
		return -EINVAL;
	*ms = whole * 1000 + frac_ms;
	return 0;
}

void ctl_format_seconds(int64_t ms, char *buf, size_t size)
{
	int64_t frac = ms % 1000;

	if (frac == 0) {
		snprintf(buf, size, "%lld", (long long)(ms / 1000));
		return;
	}
	int width = 3;
	while (frac % 10 == 0) {
		frac /= 10;
		width--;
	}
	snprintf(buf, size, "%lld.%0*lld", (long long)(ms / 1000), width, (long long)frac);
}

static const char *ctl_signal_name(const char *word, size_t len)
{
	if (len > 3 && strncasecmp(word, "SIG", 3) == 0) {
		word += 3;
		len -= 3;
	}
	for (size_t i = 0; i < sizeof(ctl_signals) / sizeof(ctl_signals[0]); i++) {
		if (strlen(ctl_signals[i]) == len && strncasecmp(word, ctl_signals[i], len) == 0)
			return ctl_signals[i];
	}
	return NULL;
}

/* Splits one line into at most two words; returns the word count, or 3 for "too many". */
static int ctl_words(const char *line, size_t len, const char *word[2], size_t word_len[2])
{
	int count = 0;
	size_t i = 0;

	for (;;) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == len)
			return count;
		if (count == 2)
			return 3;
		word[count] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		word_len[count] = line + i - word[count];
		count++;
	}
}

static int ctl_parse_line(const char *line, size_t len, struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	const char *word[2];
	size_t word_len[2];
	int count = ctl_words(line, len, word, word_len);

	if (count == 2 && word_len[0] == 7 && memcmp(word[0], "timeout", 7) == 0) {
		cmd->verb = CTL_TIMEOUT;
		if (ctl_parse_seconds(word[1], word_len[1], &cmd->timeout_ms) < 0) {
			snprintf(err, CTL_ERR_MAX, "timeout: '%.*s' is not a number of seconds >= 0",
				 (int)word_len[1], word[1]);
			return -EINVAL;
		}
		return 0;
	}
	if (count == 2 && word_len[0] == 6 && memcmp(word[0], "signal", 6) == 0) {
		cmd->verb = CTL_SIGNAL;
		cmd->signal = ctl_signal_name(word[1], word_len[1]);
		if (!cmd->signal) {
			snprintf(err, CTL_ERR_MAX, "signal: unknown signal '%.*s'", (int)word_len[1], word[1]);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, CTL_ERR_MAX, "unknown command '%.*s'", (int)(len > 60 ? 60 : len), line);
	return -EINVAL;
}

int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS],
	      char err[CTL_ERR_MAX])
{
	int count = 0;

	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) : len;
		const char *word[2];
		size_t word_len[2];

		if (memchr(text, '\0', line_len)) {
			snprintf(err, CTL_ERR_MAX, "NUL byte in command");
			return -EINVAL;
		}
		if (ctl_words(text, line_len, word, word_len) > 0) {
			if (count == CTL_MAX_COMMANDS) {
				snprintf(err, CTL_ERR_MAX, "more than %d commands in one write", CTL_MAX_COMMANDS);
				return -EINVAL;
			}
			if (ctl_parse_line(text, line_len, &cmds[count], err) < 0)
				return -EINVAL;
			count++;
		}
		text += nl ? line_len + 1 : line_len;
		len -= nl ? line_len + 1 : line_len;
	}
	if (count == 0) {
		snprintf(err, CTL_ERR_MAX, "empty command");
		return -EINVAL;
	}
	return count;
}
