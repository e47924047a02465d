/*
 * seshfs: the command policy, set by whoever mounts. A text file, one rule
 * a line, # comments:
 *   allow WORD...   the allow-list: once any exists, every command word of
 *                   input the shell reads must be listed (see cmdline.h)
 *   deny REGEX      an input line matching it anywhere is refused
 *   dangerous       the built-in deny set (README.md lists it)
 */
#ifndef SESHFS_POLICY_H
#define SESHFS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "cmdline.h"

#define POLICY_ERR_MAX 512
/* A refusal's rule, as ctl, the log and the transcript show it. */
#define POLICY_RULE_MAX 256

struct policy;

/* The rules of text[0..len), a file's contents (name: the file). NULL with "NAME:LINE: reason" in err. */
struct policy *policy_parse(const char *text, size_t len, const char *name, char err[POLICY_ERR_MAX]);
struct policy *policy_load(const char *path, char err[POLICY_ERR_MAX]);
const char *policy_source(const struct policy *p);
void policy_free(struct policy *p);

enum policy_verdict {
	POLICY_PASS,
	POLICY_REFUSE,
	/* Only the allow-list refuses: fine if a program, not the shell, reads the lines. */
	POLICY_NOT_LISTED,
};

struct policy_refusal {
	char rule[POLICY_RULE_MAX];
	size_t line_start, line_len;	/* the refused line in the text checked */
};

/*
 * Checks complete lines (text[0..len), each ending in a newline). shell:
 * the shell reads them, so the allow-list applies as st follows the
 * syntax, and st advances if they pass; otherwise only deny rules apply
 * and st is left alone.
 */
enum policy_verdict policy_check(const struct policy *p, struct cmdline_state *st, bool shell, const char *text,
				 size_t len, struct policy_refusal *why);

#endif
