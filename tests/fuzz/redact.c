/*
 * Fuzz target: redaction (fs/guard/redact.c), its rules file and the
 * output it redacts. Properties: a rules file either loads or is refused
 * with "r:LINE: reason"; a stream split anywhere comes out as the whole
 * text does (rules whose lookarounds or anchors see past a line are left
 * out: those may see the line before); the built-in set, applied to its
 * own output, changes nothing.
 *
 * Input: byte 0 seeds the split points; then the rules file up to a NUL
 * byte ("default" if the rules are empty), then the output to redact.
 */
#include <string.h>

#include "../../fs/guard/redact.h"
#include "fuzz.h"

struct output {
	char *bytes;
	size_t len, size;
};

static void sink(void *ctx, const char *data, size_t len)
{
	struct output *o = ctx;

	FUZZ_ASSERT(len > 0);
	if (o->len + len > o->size) {
		o->size = 2 * (o->len + len);
		o->bytes = realloc(o->bytes, o->size);
		FUZZ_ASSERT(o->bytes);
	}
	memcpy(o->bytes + o->len, data, len);
	o->len += len;
}

/* Lookarounds, subject anchors, option changes and verbs see past the line. */
static bool rules_line_local(const char *rules, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (rules[i] == '(' && (rules[i + 1] == '*' || (rules[i + 1] == '?' && i + 2 < len &&
								  rules[i + 2] != ':' && rules[i + 2] != 'i')))
			return false;
		if (rules[i] == '\\' && strchr("AzZG", rules[i + 1]) && rules[i + 1] != '\0')
			return false;
		if (rules[i] == '\\')
			i++;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t seed = data[0] | 1u;
	const char *rules_text = (const char *)data + 1;
	const char *nul = memchr(rules_text, '\0', size - 1);
	size_t rules_len = nul ? (size_t)(nul - rules_text) : size - 1;
	const char *text = nul ? nul + 1 : "";
	size_t len = nul ? size - 1 - rules_len - 1 : 0;
	char err[REDACT_ERR_MAX];
	bool builtin = rules_len == 0;

	/* The built-in set, compiled once: most inputs use it, and compiling is most of a run. */
	static struct redact_rules *builtin_rules;
	if (builtin && !builtin_rules)
		builtin_rules = redact_parse("default", strlen("default"), "r", err);
	if (builtin)
		rules_text = "default", rules_len = strlen(rules_text);
	err[0] = '\0';
	struct redact_rules *r = builtin ? builtin_rules : redact_parse(rules_text, rules_len, "r", err);
	if (!r) {
		FUZZ_ASSERT(strncmp(err, "r:", 2) == 0 && memchr(err, '\0', sizeof(err)));
		return 0;
	}
	if (len > 4 * REDACT_HOLD_MAX / 8)
		len = 4 * REDACT_HOLD_MAX / 8;	/* below the hold's bound, where splits may differ */

	/* Rules that grow a text beyond bounds fail (it is dropped): then splits may fail elsewhere. */
	char *whole = NULL;
	ssize_t whole_len = redact_text(r, text, len, &whole);
	bool failed = whole_len < 0;

	struct redact_stream rs = { 0 };
	struct output got = { 0 };
	for (size_t at = 0; at < len;) {
		size_t piece = fuzz_piece(&seed, len - at, 64);
		failed |= redact_feed(r, &rs, text + at, piece, sink, &got) < 0;
		at += piece;
	}
	failed |= redact_flush(r, &rs, true, sink, &got) < 0;
	FUZZ_ASSERT(redact_held(&rs) == 0 && !rs.in_block);
	FUZZ_ASSERT(!builtin || !failed);
	if (!failed && rules_line_local(rules_text, rules_len))
		FUZZ_ASSERT(got.len == (size_t)whole_len && (got.len == 0 || memcmp(got.bytes, whole, got.len) == 0));

	if (builtin && !failed) {
		char *again;
		ssize_t again_len = redact_text(r, whole, (size_t)whole_len, &again);
		FUZZ_ASSERT(again_len == whole_len && memcmp(again, whole, (size_t)whole_len) == 0);
		free(again);
	}
	free(whole);
	free(got.bytes);
	redact_stream_free(&rs);
	if (!builtin)
		redact_free(r);
	return 0;
}
