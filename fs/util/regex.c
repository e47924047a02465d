/*
 * seshfs: regular expressions over PCRE2 (see regex.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on one match: steps of the matcher, and its backtracking memory in KiB. */
#define REGEX_MATCH_LIMIT 1000000
#define REGEX_HEAP_LIMIT_KIB 1024

struct regex {
	pcre2_code *code;
	pcre2_match_context *context;
	pcre2_match_data *match;	/* reused: one match at a time (regex.h) */
	char *pattern;
};

struct regex *regex_compile(const char *pattern, size_t len, bool ends_with, char err[REGEX_ERR_MAX])
{
	struct regex *re = calloc(1, sizeof(*re));
	int code;
	PCRE2_SIZE offset;
	uint32_t options = PCRE2_MULTILINE | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (ends_with ? PCRE2_ENDANCHORED : 0);

	if (!re || !(re->pattern = strndup(pattern, len)) || !(re->context = pcre2_match_context_create(NULL)) ||
	    !(re->match = pcre2_match_data_create(1, NULL))) {
		snprintf(err, REGEX_ERR_MAX, "out of memory");
		goto fail;
	}
	re->code = pcre2_compile((PCRE2_SPTR)pattern, len, options, &code, &offset, NULL);
	if (!re->code) {
		char reason[96];
		pcre2_get_error_message(code, (PCRE2_UCHAR *)reason, sizeof(reason));
		snprintf(err, REGEX_ERR_MAX, "%s at offset %zu", reason, (size_t)offset);
		goto fail;
	}
	pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);	/* where it fails, the interpreter matches */
	pcre2_set_match_limit(re->context, REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(re->context, REGEX_HEAP_LIMIT_KIB);
	return re;
fail:
	regex_free(re);
	return NULL;
}

int regex_match(struct regex *re, const char *text, size_t len)
{
	int ret = pcre2_match(re->code, (PCRE2_SPTR)text, len, 0, 0, re->match, re->context);

	if (ret >= 0)
		return 1;
	return ret == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

const char *regex_pattern(const struct regex *re)
{
	return re->pattern;
}

void regex_free(struct regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	pcre2_match_data_free(re->match);
	pcre2_match_context_free(re->context);
	free(re->pattern);
	free(re);
}
