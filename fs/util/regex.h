/*
 * seshfs: regular expressions (PCRE2) for patterns users give: compiled in
 * UTF-8 mode that also matches invalid UTF-8 safely, with match and heap
 * limits, so that no pattern can make a match run away.
 */
#ifndef SESHFS_REGEX_H
#define SESHFS_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#define REGEX_ERR_MAX 112

struct regex;

/*
 * ^ and $ match at line starts and ends (multiline). ends_with: a match
 * must end where the text ends. NULL with a reason in err on a bad pattern.
 */
struct regex *regex_compile(const char *pattern, size_t len, bool ends_with, char err[REGEX_ERR_MAX]);
/* 1 match, 0 none, -1 the limits stopped the match (taken as none). One match at a time per re. */
int regex_match(struct regex *re, const char *text, size_t len);
/* The pattern as given. */
const char *regex_pattern(const struct regex *re);
void regex_free(struct regex *re);

#endif
