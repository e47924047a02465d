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

static bool ctl_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool ctl_word_is(const char *word, size_t len, const char *expected)
{
	return strlen(expected) == len && memcmp(word, expected, len) == 0;
}

/* "COLS ROWS", each 1..CTL_SIZE_MAX. */
static bool ctl_parse_size(const char *arg, size_t len, unsigned *cols, unsigned *rows)
{
	unsigned value[2] = { 0, 0 };
	int index = 0;
	size_t i = 0;

	for (; index < 2; index++) {
		while (i < len && ctl_is_space(arg[i]))
			i++;
		size_t digits = 0;
		for (; i < len && isdigit((unsigned char)arg[i]); i++, digits++) {
			value[index] = value[index] * 10 + (unsigned)(arg[i] - '0');
			if (value[index] > CTL_SIZE_MAX)
				return false;
		}
		if (digits == 0 || value[index] == 0)
			return false;
	}
	while (i < len && ctl_is_space(arg[i]))
		i++;
	*cols = value[0];
	*rows = value[1];
	return i == len;
}

/* K=V with K a shell variable name. */
static bool ctl_valid_env(const char *arg, size_t len, bool with_value)
{
	size_t name_len = 0;

	while (name_len < len && arg[name_len] != '=')
		name_len++;
	if (name_len == 0 || isdigit((unsigned char)arg[0]))
		return false;
	for (size_t i = 0; i < name_len; i++) {
		if (!isalnum((unsigned char)arg[i]) && arg[i] != '_')
			return false;
	}
	return with_value ? name_len < len : name_len == len;
}

static int ctl_parse_line(const char *line, size_t len, struct ctl_command *cmd, char err[CTL_ERR_MAX])
{
	size_t i = 0;

	while (i < len && ctl_is_space(line[i]))
		i++;
	const char *verb = line + i;
	while (i < len && !ctl_is_space(line[i]))
		i++;
	size_t verb_len = line + i - verb;
	while (i < len && ctl_is_space(line[i]))
		i++;
	/* The argument is the rest of the line, trailing blanks cut: paths and values may hold spaces. */
	const char *arg = line + i;
	size_t arg_len = len - i;
	while (arg_len > 0 && ctl_is_space(arg[arg_len - 1]))
		arg_len--;
	cmd->arg = arg;
	cmd->arg_len = arg_len;

	if (ctl_word_is(verb, verb_len, "timeout")) {
		cmd->verb = CTL_TIMEOUT;
		if (ctl_parse_seconds(arg, arg_len, &cmd->timeout_ms) == 0)
			return 0;
		snprintf(err, CTL_ERR_MAX, "timeout: '%.*s' is not a number of seconds >= 0",
			 (int)(arg_len > 40 ? 40 : arg_len), arg);
	} else if (ctl_word_is(verb, verb_len, "eof")) {
		cmd->verb = CTL_EOF;
		cmd->flag = ctl_word_is(arg, arg_len, "idle");
		if (cmd->flag || ctl_word_is(arg, arg_len, "deadline"))
			return 0;
		snprintf(err, CTL_ERR_MAX, "eof: expected idle or deadline");
	} else if (ctl_word_is(verb, verb_len, "signal")) {
		cmd->verb = CTL_SIGNAL;
		cmd->signal = ctl_signal_name(arg, arg_len);
		if (cmd->signal)
			return 0;
		snprintf(err, CTL_ERR_MAX, "signal: unknown signal '%.*s'",
			 (int)(arg_len > 40 ? 40 : arg_len), arg);
	} else if (ctl_word_is(verb, verb_len, "resize")) {
		cmd->verb = CTL_RESIZE;
		if (ctl_parse_size(arg, arg_len, &cmd->cols, &cmd->rows))
			return 0;
		snprintf(err, CTL_ERR_MAX, "resize: expected COLS ROWS, each 1 to %d", CTL_SIZE_MAX);
	} else if (ctl_word_is(verb, verb_len, "tty")) {
		cmd->verb = CTL_TTY;
		cmd->flag = ctl_word_is(arg, arg_len, "on");
		if (cmd->flag || ctl_word_is(arg, arg_len, "off"))
			return 0;
		snprintf(err, CTL_ERR_MAX, "tty: expected on or off");
	} else if (ctl_word_is(verb, verb_len, "restart")) {
		cmd->verb = CTL_RESTART;
		if (arg_len == 0)
			return 0;
		snprintf(err, CTL_ERR_MAX, "restart takes no argument");
	} else if (ctl_word_is(verb, verb_len, "shell") || ctl_word_is(verb, verb_len, "workdir")) {
		cmd->verb = verb[0] == 's' ? CTL_SHELL : CTL_WORKDIR;
		if (arg_len > 0 && arg_len < 4096)
			return 0;
		snprintf(err, CTL_ERR_MAX, "%.*s: expected a path", (int)verb_len, verb);
	} else if (ctl_word_is(verb, verb_len, "user")) {
		cmd->verb = CTL_USER;
		if (arg_len < 256 && !memchr(arg, ' ', arg_len))
			return 0;
		snprintf(err, CTL_ERR_MAX, "user: expected a user name or uid[:gid], or nothing");
	} else if (ctl_word_is(verb, verb_len, "env")) {
		cmd->verb = CTL_ENV;
		if (ctl_valid_env(arg, arg_len, true))
			return 0;
		snprintf(err, CTL_ERR_MAX, "env: expected NAME=VALUE");
	} else if (ctl_word_is(verb, verb_len, "unsetenv")) {
		cmd->verb = CTL_UNSETENV;
		if (ctl_valid_env(arg, arg_len, false))
			return 0;
		snprintf(err, CTL_ERR_MAX, "unsetenv: expected NAME");
	} else {
		snprintf(err, CTL_ERR_MAX, "unknown command '%.*s'", (int)(len > 60 ? 60 : len), line);
	}
	return -EINVAL;
}

static bool ctl_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!ctl_is_space(line[i]))
			return false;
	}
	return true;
}

int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS],
	      char err[CTL_ERR_MAX])
{
	int count = 0;

	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) : len;
		if (memchr(text, '\0', line_len)) {
			snprintf(err, CTL_ERR_MAX, "NUL byte in command");
			return -EINVAL;
		}
		if (!ctl_blank(text, line_len)) {
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
