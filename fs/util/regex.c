/*
 * seshfs: regular expressions over PCRE2 (see regex.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on one match: steps of the matcher, and its backtracking memory in KiB. */
#define REGEX_MATCH_LIMIT 1000000
#define REGEX_HEAP_LIMIT_KIB 1024

struct regex {
	pcre2_code *code;
	pcre2_match_context *context;
	int groups;
	char *pattern;
};

/*
 * Each thread matches with match data of its own (a pattern is shared by
 * the threads that serve a session), made on its first match and freed
 * when it ends.
 */
static pthread_key_t regex_match_key;
static pthread_once_t regex_match_once = PTHREAD_ONCE_INIT;

static void regex_match_data_free(void *md)
{
	pcre2_match_data_free(md);
}

static void regex_match_key_create(void)
{
	pthread_key_create(&regex_match_key, regex_match_data_free);
}

static pcre2_match_data *regex_match_data(void)
{
	pthread_once(&regex_match_once, regex_match_key_create);
	pcre2_match_data *md = pthread_getspecific(regex_match_key);
	if (!md && (md = pcre2_match_data_create(REGEX_SPANS_MAX, NULL)) &&
	    pthread_setspecific(regex_match_key, md) != 0) {
		pcre2_match_data_free(md);
		md = NULL;
	}
	return md;
}

struct regex *regex_compile(const char *pattern, size_t len, bool ends_with, char err[REGEX_ERR_MAX])
{
	struct regex *re = calloc(1, sizeof(*re));
	int code;
	uint32_t groups = 0;
	PCRE2_SIZE offset;
	uint32_t options = PCRE2_MULTILINE | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (ends_with ? PCRE2_ENDANCHORED : 0);

	if (!re || !(re->pattern = strndup(pattern, len)) || !(re->context = pcre2_match_context_create(NULL))) {
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
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
	re->groups = (int)groups;
	pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);	/* where it fails, the interpreter matches */
	pcre2_set_match_limit(re->context, REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(re->context, REGEX_HEAP_LIMIT_KIB);
	return re;
fail:
	regex_free(re);
	return NULL;
}

int regex_search(const struct regex *re, const char *text, size_t len, size_t from, struct regex_span *spans,
		 int count)
{
	pcre2_match_data *md = regex_match_data();

	if (!md)
		return -1;
	int ret = pcre2_match(re->code, (PCRE2_SPTR)text, len, from, 0, md, re->context);
	if (ret < 0)
		return ret == PCRE2_ERROR_NOMATCH ? 0 : -1;
	/* ret 0: more groups than the match data holds; those beyond are not wanted anyway. */
	uint32_t set = ret == 0 ? REGEX_SPANS_MAX : (uint32_t)ret;
	const PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(md);
	for (int i = 0; i < count && i < REGEX_SPANS_MAX; i++) {
		bool took_part = (uint32_t)i < set && ovector[2 * i] != PCRE2_UNSET;
		spans[i].start = took_part ? ovector[2 * i] : REGEX_UNSET;
		spans[i].end = took_part ? ovector[2 * i + 1] : REGEX_UNSET;
	}
	if (count > REGEX_SPANS_MAX) {
		spans[REGEX_SPANS_MAX].start = pcre2_get_startchar(md);
		spans[REGEX_SPANS_MAX].end = ovector[1];
	}
	return 1;
}

int regex_match(const struct regex *re, const char *text, size_t len)
{
	return regex_search(re, text, len, 0, NULL, 0);
}

int regex_groups(const struct regex *re)
{
	return re->groups;
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
	pcre2_match_context_free(re->context);
	free(re->pattern);
	free(re);
}
