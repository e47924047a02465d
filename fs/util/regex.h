/*
 * seshfs: regular expressions (PCRE2) for patterns users give: compiled in
 * UTF-8 mode that also matches invalid UTF-8 safely, with match and heap
 * limits, so that no pattern can make a match run away. A compiled pattern
 * may be matched by several threads at once.
 */
#ifndef SESHFS_REGEX_H
#define SESHFS_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define REGEX_ERR_MAX 112
/* Groups a search reports at most: the whole match and $1 to $9. */
#define REGEX_SPANS_MAX 10
/* A span of a group that took no part in the match. */
#define REGEX_UNSET ((size_t)-1)

struct regex;

struct regex_span {
	size_t start, end;
};

/*
 * ^ and $ match at line starts and ends (multiline). ends_with: a match
 * must end where the text ends. NULL with a reason in err on a bad pattern.
 */
struct regex *regex_compile(const char *pattern, size_t len, bool ends_with, char err[REGEX_ERR_MAX]);
/* 1 match, 0 none, -1 the limits stopped the match (taken as none). */
int regex_match(const struct regex *re, const char *text, size_t len);
/*
 * The leftmost match in text[0..len) starting at from or later: 1 with
 * spans[0] the match and spans[1..count) its groups, 0 none, -1 limits.
 * With \K the match reported starts later than the text it matched, which
 * starts at spans[count] when count is REGEX_SPANS_MAX + 1.
 */
int regex_search(const struct regex *re, const char *text, size_t len, size_t from, struct regex_span *spans,
		 int count);
/* Capturing groups in the pattern. */
int regex_groups(const struct regex *re);
/* The pattern as given. */
const char *regex_pattern(const struct regex *re);
void regex_free(struct regex *re);

#endif
