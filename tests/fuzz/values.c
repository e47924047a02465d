/*
 * Fuzz target: the values mount options and ctl commands take
 * (fs/session/ctl_lang.c): seconds, byte counts, terminal sizes, variable
 * names, signal names. Properties: each accepts exactly what a plain
 * reading of its grammar accepts, with the same value, and a formatted
 * duration reads back as itself.
 *
 * Input: byte 0 picks the parser; the rest is the text.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../../fs/session/ctl_lang.h"
#include "fuzz.h"

/* digits [. digits], at most 10^9 seconds: -1 if not that, else milliseconds */
static int64_t reference_seconds(const char *t, size_t len)
{
	size_t i = 0;
	__int128 whole = 0;
	int64_t frac = 0;
	int frac_digits = 0;

	while (i < len && isdigit((unsigned char)t[i])) {
		whole = whole * 10 + (t[i++] - '0');
		if (whole > ((__int128)1 << 100))
			whole = (__int128)1 << 100;
	}
	if (i == 0)
		return -1;
	if (i < len && t[i] == '.') {
		size_t first = ++i;
		while (i < len && isdigit((unsigned char)t[i])) {
			if (frac_digits++ < 3)
				frac = frac * 10 + (t[i] - '0');
			i++;
		}
		if (i == first)
			return -1;
		for (int d = frac_digits; d < 3; d++)
			frac *= 10;
	}
	if (i != len || whole > CTL_TIMEOUT_MAX_MS / 1000)
		return -1;
	return (int64_t)whole * 1000 + frac;
}

/* digits [K|M], min..max: -1 if not that, else the count */
static __int128 reference_bytes(const char *t, size_t len, size_t min, size_t max)
{
	__int128 value = 0;
	size_t i = 0;

	while (i < len && isdigit((unsigned char)t[i])) {
		value = value * 10 + (t[i++] - '0');
		if (value > ((__int128)1 << 100))
			value = (__int128)1 << 100;
	}
	if (i == 0)
		return -1;
	if (i < len && strchr("KkMm", t[i]) && t[i]) {
		value <<= tolower((unsigned char)t[i]) == 'k' ? 10 : 20;
		i++;
	}
	if (i != len || value < min || value > max)
		return -1;
	return value;
}

static void check_seconds(const char *text, size_t len)
{
	int64_t ms = -1;
	int ret = ctl_parse_seconds(text, len, &ms);
	int64_t want = reference_seconds(text, len);

	FUZZ_ASSERT((ret == 0) == (want >= 0));
	if (ret < 0)
		return;
	FUZZ_ASSERT(ms == want);
	char shown[32];
	int64_t again = -1;
	ctl_format_seconds(ms, shown, sizeof(shown));
	FUZZ_ASSERT(ctl_parse_seconds(shown, strlen(shown), &again) == 0 && again == ms);
}

static void check_bytes(const char *text, size_t len, size_t min, size_t max)
{
	size_t bytes = 0;
	int ret = ctl_parse_bytes(text, len, min, max, &bytes);
	__int128 want = reference_bytes(text, len, min, max);

	FUZZ_ASSERT((ret == 0) == (want >= 0));
	if (ret == 0)
		FUZZ_ASSERT(bytes == (size_t)want);
}

static void check_size(const char *text, size_t len)
{
	unsigned cols = 0, rows = 0;

	if (ctl_parse_size(text, len, &cols, &rows))
		FUZZ_ASSERT(cols >= 1 && cols <= CTL_SIZE_MAX && rows >= 1 && rows <= CTL_SIZE_MAX);
}

static void check_env(const char *text, size_t len)
{
	size_t name = 0;

	while (name < len && text[name] != '=')
		name++;
	bool ok = name > 0 && !isdigit((unsigned char)text[0]);
	for (size_t i = 0; i < name; i++)
		ok = ok && (isalnum((unsigned char)text[i]) || text[i] == '_');
	FUZZ_ASSERT(ctl_valid_env(text, len, true) == (ok && name < len));
	FUZZ_ASSERT(ctl_valid_env(text, len, false) == (ok && name == len));
}

static void check_signal(const char *text, size_t len)
{
	const char *name = ctl_signal_name(text, len);

	if (name)
		FUZZ_ASSERT(len >= strlen(name) && strncasecmp(text + len - strlen(name), name, strlen(name)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;

	switch (data[0] % 6) {
	case 0: check_seconds(text, len); break;
	case 1: check_bytes(text, len, 0, (size_t)1 << 30); break;
	case 2: check_bytes(text, len, 4096, (size_t)1 << 30); break;
	case 3: check_size(text, len); break;
	case 4: check_env(text, len); break;
	case 5: check_signal(text, len); break;
	}
	return 0;
}
