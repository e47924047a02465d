/*
 * Fuzz target: the command policy (fs/guard/policy.c) and the command
 * splitter under it (fs/guard/cmdline.c), fed a policy file and shell
 * input. Properties: a policy file either loads or is refused with
 * "p:LINE: reason"; a check that does not pass leaves the splitter's state
 * as it was; a refusal names a rule and a line inside the text; what only
 * the allow-list refuses passes or is refused by deny rules for a program;
 * the splitter reports the same words whether its state was copied or not.
 *
 * Input: the policy file up to a NUL byte (a fixed one if empty), then
 * shell input, checked a line at a time.
 */
#include <string.h>

#include "../../fs/guard/policy.h"
#include "fuzz.h"

struct reported {
	size_t count;
	uint64_t hash;
};

static void reported(void *ctx, const char *word, size_t len, bool checkable)
{
	struct reported *r = ctx;

	FUZZ_ASSERT(len <= CMDLINE_WORD_MAX);
	r->count++;
	r->hash = r->hash * 31 + len * 2 + checkable;
	for (size_t i = 0; i < len; i++)
		r->hash = r->hash * 131 + (unsigned char)word[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *policy_text = (const char *)data;
	const char *nul = memchr(policy_text, '\0', size);
	size_t policy_len = nul ? (size_t)(nul - policy_text) : size;
	const char *text = nul ? nul + 1 : "";
	size_t len = nul ? size - policy_len - 1 : 0;
	char err[POLICY_ERR_MAX];

	/* The fixed policy, compiled once: most inputs use it, and compiling is most of a run. */
	static const char fixed[] = "allow echo cat ls true\ndeny secret\ndangerous\n";
	static struct policy *fixed_policy;
	bool use_fixed = policy_len == 0;
	if (use_fixed && !fixed_policy)
		fixed_policy = policy_parse(fixed, strlen(fixed), "p", err);
	err[0] = '\0';
	struct policy *p = use_fixed ? fixed_policy : policy_parse(policy_text, policy_len, "p", err);
	if (!p) {
		FUZZ_ASSERT(strncmp(err, "p:", 2) == 0 && memchr(err, '\0', sizeof(err)));
		return 0;
	}

	struct cmdline_state st, before, plain, copied;
	struct reported once = { 0 }, twice = { 0 };
	cmdline_init(&st, CMDLINE_BASH);
	cmdline_init(&plain, CMDLINE_BASH);
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t line = nl ? (size_t)(nl - text) - at + 1 : len - at;
		struct policy_refusal why;

		before = st;
		enum policy_verdict v = policy_check(p, &st, POLICY_SHELL_PROMPT, text + at, line, &why);
		if (v != POLICY_PASS) {
			FUZZ_ASSERT(memcmp(&st, &before, sizeof(st)) == 0);
			FUZZ_ASSERT(why.rule[0] != '\0' && memchr(why.rule, '\0', sizeof(why.rule)));
			FUZZ_ASSERT(why.line_start + why.line_len <= line);
		}
		if (v == POLICY_NOT_LISTED) {
			v = policy_check(p, &st, POLICY_PROGRAM, text + at, line, &why);
			FUZZ_ASSERT(v != POLICY_NOT_LISTED && memcmp(&st, &before, sizeof(st)) == 0);
		}
		/* The splitter alone, on its state and on a copy: the same words. */
		copied = plain;
		int a = cmdline_feed(&plain, text + at, line, reported, &once);
		int b = cmdline_feed(&copied, text + at, line, reported, &twice);
		FUZZ_ASSERT(a == b && once.count == twice.count && once.hash == twice.hash);
		FUZZ_ASSERT(plain.depth >= 1 && plain.depth <= CMDLINE_DEPTH_MAX);
		FUZZ_ASSERT(plain.heredoc_count >= 0 && plain.heredoc_count <= CMDLINE_HEREDOC_MAX);
		at += line;
	}
	if (!use_fixed)
		policy_free(p);
	return 0;
}
