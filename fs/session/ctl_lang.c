/*
 * seshfs: values of the ctl language (see ctl_lang.h).
 */
#include "ctl_lang.h"

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

int ctl_parse_bytes(const char *text, size_t len, size_t min, size_t max, size_t *bytes)
{
	unsigned shift = 0;
	size_t value = 0;
	size_t i = 0;

	if (len > 0 && (text[len - 1] == 'K' || text[len - 1] == 'k'))
		shift = 10;
	else if (len > 0 && (text[len - 1] == 'M' || text[len - 1] == 'm'))
		shift = 20;
	if (shift)
		len--;
	if (len == 0)
		return -EINVAL;
	for (; i < len && isdigit((unsigned char)text[i]); i++) {
		value = value * 10 + (size_t)(text[i] - '0');
		/* Checked at each digit, so neither the digits nor the shift can wrap. */
		if (value > (max >> shift))
			return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	value <<= shift;
	if (value < min)
		return -EINVAL;
	*bytes = value;
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

void ctl_format_time(const struct timespec *when, char *buf, size_t size)
{
	struct tm tm;
	char date[24];

	gmtime_r(&when->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", date, when->tv_nsec / 1000000);
}

const char *ctl_signal_name(const char *word, size_t len)
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

bool ctl_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

bool ctl_parse_size(const char *arg, size_t len, unsigned *cols, unsigned *rows)
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

bool ctl_valid_env(const char *arg, size_t len, bool with_value)
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
