/*
 * seshfs: the command policy, set by whoever mounts. A text file, one rule
 * a line, # comments:
 *   allow WORD...   the allow-list: once any exists, every command word of
 *                   input the shell reads must be listed (see cmdline.h)
 *   deny REGEX      an input line matching it anywhere is refused
 *   dangerous       the built-in deny set (README.md lists it)
 * Every policy also refuses turning bash's history expansion on.
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

/* Who reads the text checked. */
enum policy_reader {
	POLICY_SHELL_PROMPT,	/* the shell, at its prompt: it reads the first command whole */
	POLICY_SHELL,		/* the shell, but a command it runs may read any line first */
	POLICY_PROGRAM,		/* a program the shell runs */
};

/*
 * Checks complete lines (text[0..len), each ending in a newline, the last
 * not continued: see policy_complete). For the shell the allow-list
 * applies as st follows the syntax, and st advances if they pass; for a
 * program only deny rules apply and st is left alone. Deny rules match
 * each line, and the logical line the shell runs (lines joined where a
 * backslash escapes the newline, which it removes; NULs dropped). Where a
 * command may read before the shell does, they match every rest of a line
 * too (text[k..] for any k, as a line of its own): a program may take the
 * start of a line and leave the rest to the shell.
 */
enum policy_verdict policy_check(const struct policy *p, struct cmdline_state *st, enum policy_reader reader,
				 const char *text, size_t len, struct policy_refusal *why);
/* line[0..len), without its newline, ends in a backslash that escapes the newline (NULs aside). */
bool policy_line_continues(const char *line, size_t len);
/* Where text's complete lines end: after the last newline no backslash escapes (0: none). */
size_t policy_complete(const char *text, size_t len);

#endif
