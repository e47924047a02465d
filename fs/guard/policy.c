/*
 * seshfs: the command policy (see policy.h).
 */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/file.h"
#include "../util/regex.h"
#include "../util/text.h"

#define POLICY_REASON_MAX FILE_REASON_MAX

struct policy_deny {
	struct regex *re;
	struct regex *rest;	/* \A(?:PATTERN): a match where the text starts; NULL where that does not compile */
	const char *name;	/* what a refusal names: "deny PATTERN", or the built-in rule */
	char *owned_name;
};

struct policy {
	char *source;
	char **allowed;		/* sorted, for bsearch */
	size_t allowed_count;
	struct policy_deny *deny;
	size_t deny_count;
	/*
	 * Every deny pattern in one (?|...|...): one match per line finds
	 * whether any matches (a branch reset keeps each one's group numbers).
	 * NULL when they do not combine (duplicate group names): each alone.
	 */
	struct regex *any_deny;
	struct regex *any_rest;	/* the same, anchored at the text's start */
};

/*
 * The built-in deny set ("dangerous"): a name and a pattern each. They look
 * at the line's text, not its syntax: quoted, the same words are refused too.
 */
static const char *const policy_dangerous[][2] = {
	{ "dangerous (rm -r of / ~ or *)",
	  "\\brm\\s+(?=(?:[^;&|\\n]*\\s)?-(?:[a-zA-Z]*[rR]|-recursive\\b))(?:[^;&|\\n]*\\s)?[\"']?"
	  "(?:/\\*?|~/?\\*?|\\$HOME/?\\*?|\\$\\{HOME\\}/?\\*?|\\*)[\"']?(?=\\s|$|[;&|)])" },
	{ "dangerous (rm --no-preserve-root)", "\\brm\\s[^;&|\\n]*--no-preserve-root\\b" },
	{ "dangerous (mkfs)", "\\bmk(?:fs|e2fs)\\b" },
	{ "dangerous (dd onto a device)", "\\bdd\\b[^;&|\\n]*\\bof=/dev/(?!null\\b|zero\\b|stdout\\b|stderr\\b|fd/)" },
	{ "dangerous (fork bomb)", "([\\w:]+)\\s*\\(\\)\\s*\\{\\s*\\1\\s*\\|\\s*\\1\\s*&\\s*\\}" },
	{ "dangerous (shutdown)",
	  "(?:^|[;&|({`]|\\$\\(|\\b(?:then|do|else|sudo|exec|nohup)\\s)\\s*(?:shutdown|reboot|halt|poweroff)\\b|"
	  "\\bsystemctl\\s+(?:poweroff|reboot|halt)\\b|\\binit\\s+[06]\\b" },
	{ "dangerous (chmod -R 777 /)",
	  "\\bchmod\\s+(?=(?:[^;&|\\n]*\\s)?-(?:[a-zA-Z]*R|-recursive\\b))(?:[^;&|\\n]*\\s)?[0-7]?777\\s+"
	  "(?:[^;&|\\n]*\\s)?[\"']?/[\"']?(?=\\s|$|[;&|)])" },
	{ "dangerous (write to a disk)",
	  "(?:>|\\btee\\s+(?:-\\S+\\s+)*|\\bof=)\\s*/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\\d|mmcblk\\d)" },
};

/* Quotes and backslashes the shell removes from a word: set -"H" is set -H. */
#define POLICY_Q "['\"\\\\]*"

/*
 * Every policy's: seshfs turns bash's history expansion off, since !! and
 * !$ would run text no check saw. set -H, set -o histexpand and shopt -so
 * histexpand (any flags around them, quoted or not) would turn it on.
 */
static const char *const policy_histexpand[2] = {
	"histexpand (bash history expansion)",
	"\\b(?:s" POLICY_Q "e" POLICY_Q "t|s" POLICY_Q "h" POLICY_Q "o" POLICY_Q "p" POLICY_Q "t)\\b[^;&|\\n]*?"
	"(?:\\s[$'\"\\\\]*-[a-zA-Z'\"\\\\]*H|h" POLICY_Q "i" POLICY_Q "s" POLICY_Q "t" POLICY_Q "e" POLICY_Q "x" POLICY_Q "p"
	POLICY_Q "a" POLICY_Q "n" POLICY_Q "d)",
};

static bool policy_add_deny(struct policy *p, const char *pattern, size_t len, const char *name,
			    char reason[POLICY_REASON_MAX])
{
	char why[REGEX_ERR_MAX];
	struct policy_deny *grown = realloc(p->deny, (p->deny_count + 1) * sizeof(*grown));

	if (!grown) {
		snprintf(reason, POLICY_REASON_MAX, "out of memory");
		return false;
	}
	p->deny = grown;
	struct policy_deny *d = &p->deny[p->deny_count];
	memset(d, 0, sizeof(*d));
	if (!(d->re = regex_compile(pattern, len, false, why))) {
		snprintf(reason, POLICY_REASON_MAX, "deny: %s", why);
		return false;
	}
	p->deny_count++;
	char *anchored = NULL;
	int anchored_len = asprintf(&anchored, "\\A(?:%.*s\\E)", (int)len, pattern);
	if (anchored_len > 0)
		d->rest = regex_compile(anchored, (size_t)anchored_len, false, why);
	free(anchored);
	if (!name && asprintf(&d->owned_name, "deny %.*s", (int)len, pattern) < 0) {
		d->owned_name = NULL;
		snprintf(reason, POLICY_REASON_MAX, "out of memory");
		return false;
	}
	d->name = name ? name : d->owned_name;
	return true;
}

static bool policy_add_allowed(struct policy *p, const char *word, size_t len, char reason[POLICY_REASON_MAX])
{
	char **grown = realloc(p->allowed, (p->allowed_count + 1) * sizeof(*grown));

	if (!grown || !(grown[p->allowed_count] = strndup(word, len))) {
		if (grown)
			p->allowed = grown;
		snprintf(reason, POLICY_REASON_MAX, "out of memory");
		return false;
	}
	p->allowed = grown;
	p->allowed_count++;
	return true;
}

static bool policy_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line of the file; false with the reason. */
static bool policy_line(void *ctx, const char *line, size_t len, char reason[POLICY_REASON_MAX])
{
	struct policy *p = ctx;
	size_t i = 0;

	while (len > 0 && policy_blank(line[len - 1]))
		len--;
	while (i < len && policy_blank(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return true;
	const char *verb = line + i;
	while (i < len && !policy_blank(line[i]))
		i++;
	size_t verb_len = (size_t)(line + i - verb);
	while (i < len && policy_blank(line[i]))
		i++;
	const char *arg = line + i;
	size_t arg_len = len - i;
	if (!text_valid_utf8(line, len)) {
		snprintf(reason, POLICY_REASON_MAX, "not valid UTF-8");
		return false;
	}
	if (verb_len == 5 && memcmp(verb, "allow", 5) == 0) {
		if (arg_len == 0) {
			snprintf(reason, POLICY_REASON_MAX, "allow: expected one or more command names");
			return false;
		}
		for (size_t w = 0; w < arg_len;) {
			size_t end = w;
			while (end < arg_len && !policy_blank(arg[end]))
				end++;
			if (!policy_add_allowed(p, arg + w, end - w, reason))
				return false;
			for (w = end; w < arg_len && policy_blank(arg[w]); w++)
				;
		}
		return true;
	}
	if (verb_len == 4 && memcmp(verb, "deny", 4) == 0) {
		if (arg_len == 0) {
			snprintf(reason, POLICY_REASON_MAX, "deny: expected a regular expression");
			return false;
		}
		return policy_add_deny(p, arg, arg_len, NULL, reason);
	}
	if (verb_len == 9 && memcmp(verb, "dangerous", 9) == 0 && arg_len == 0) {
		for (size_t r = 0; r < sizeof(policy_dangerous) / sizeof(policy_dangerous[0]); r++) {
			const char *pattern = policy_dangerous[r][1];
			if (!policy_add_deny(p, pattern, strlen(pattern), policy_dangerous[r][0], reason))
				return false;
		}
		return true;
	}
	snprintf(reason, POLICY_REASON_MAX, "unknown rule '%.*s' (expected allow WORD..., deny REGEX or dangerous)",
		 (int)(verb_len > 40 ? 40 : verb_len), verb);
	return false;
}

static struct regex *policy_combine(const struct policy *p, bool anchored)
{
	char why[REGEX_ERR_MAX];
	char *pattern = NULL;
	size_t size = 0;
	FILE *f = p->deny_count > 1 ? open_memstream(&pattern, &size) : NULL;

	if (!f)
		return NULL;
	fputs(anchored ? "\\A(?|" : "(?|", f);
	for (size_t i = 0; i < p->deny_count; i++)
		fprintf(f, "%s(?:%s)", i ? "|" : "", regex_pattern(p->deny[i].re));
	fputs(")", f);
	struct regex *re = fclose(f) == 0 ? regex_compile(pattern, size, false, why) : NULL;
	free(pattern);
	return re;
}

static int policy_compare_words(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct policy *policy_parse(const char *text, size_t len, const char *name, char err[POLICY_ERR_MAX])
{
	struct policy *p = calloc(1, sizeof(*p));

	if (!p || !(p->source = strdup(name))) {
		snprintf(err, POLICY_ERR_MAX, "%s: out of memory", name);
		goto fail;
	}
	if (!file_each_line(text, len, name, policy_line, p, err, POLICY_ERR_MAX))
		goto fail;
	if (p->allowed_count == 0 && p->deny_count == 0) {
		snprintf(err, POLICY_ERR_MAX, "%s: no rules", name);
		goto fail;
	}
	char reason[POLICY_REASON_MAX];
	if (!policy_add_deny(p, policy_histexpand[1], strlen(policy_histexpand[1]), policy_histexpand[0], reason)) {
		snprintf(err, POLICY_ERR_MAX, "%s: %s", name, reason);
		goto fail;
	}
	if (p->allowed_count > 0)
		qsort(p->allowed, p->allowed_count, sizeof(*p->allowed), policy_compare_words);
	p->any_deny = policy_combine(p, false);
	p->any_rest = policy_combine(p, true);
	return p;
fail:
	policy_free(p);
	return NULL;
}

struct policy *policy_load(const char *path, char err[POLICY_ERR_MAX])
{
	char *text;
	size_t len;
	char why[FILE_ERR_MAX];

	if (file_read_all(path, &text, &len, why) < 0) {
		snprintf(err, POLICY_ERR_MAX, "%s", why);
		return NULL;
	}
	struct policy *p = policy_parse(text, len, path, err);
	free(text);
	return p;
}

const char *policy_source(const struct policy *p)
{
	return p->source;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->allowed_count; i++)
		free(p->allowed[i]);
	free(p->allowed);
	for (size_t i = 0; i < p->deny_count; i++) {
		regex_free(p->deny[i].re);
		regex_free(p->deny[i].rest);
		free(p->deny[i].owned_name);
	}
	free(p->deny);
	regex_free(p->any_deny);
	regex_free(p->any_rest);
	free(p->source);
	free(p);
}

/* ---- checking input ---- */

/* What the splitter's callback needs: the allow-list, and the first command not on it. */
struct policy_scan {
	const struct policy *p;
	bool check;		/* the allow-list applies */
	bool refused;
	char rule[POLICY_RULE_MAX];
};

static bool policy_listed(const struct policy *p, const char *word, size_t len)
{
	char key[CMDLINE_WORD_MAX + 1];
	const char *k = key;

	if (memchr(word, '\0', len))
		return false;
	memcpy(key, word, len);
	key[len] = '\0';
	return bsearch(&k, p->allowed, p->allowed_count, sizeof(*p->allowed), policy_compare_words) != NULL;
}

static void policy_command(void *ctx, const char *word, size_t len, bool checkable)
{
	struct policy_scan *scan = ctx;

	if (!scan->check || scan->refused || (checkable && policy_listed(scan->p, word, len)))
		return;
	scan->refused = true;
	snprintf(scan->rule, sizeof(scan->rule), "allow (%.*s%s)", (int)(len > 64 ? 64 : len), word,
		 checkable ? " is not listed" : " is not a plain name");
}

/* The rule a match of which starts where text starts (as the start of a line: ^, \b), or NULL. */
static const char *policy_denied_at_start(const struct policy *p, const char *text, size_t len)
{
	if (p->any_rest && regex_match(p->any_rest, text, len) == 0)
		return NULL;
	for (size_t i = 0; i < p->deny_count; i++) {
		const struct policy_deny *d = &p->deny[i];
		if (regex_match(d->rest ? d->rest : d->re, text, len) == 1)
			return d->name;
	}
	return NULL;
}

/*
 * The rule that matches line, or NULL. rests: also any rest of it, as a
 * line of its own; a program may take the start of a line (read -n5) and
 * leave the rest to the shell, and nobody can see how much it took.
 */
static const char *policy_denied(const struct policy *p, const char *line, size_t len, bool rests)
{
	const char *denied = NULL;

	if (!p->any_deny || regex_match(p->any_deny, line, len) != 0) {
		for (size_t i = 0; i < p->deny_count && !denied; i++) {
			if (regex_match(p->deny[i].re, line, len) == 1)
				denied = p->deny[i].name;
		}
	}
	for (size_t k = 1; rests && !denied && k < len; k++)
		denied = policy_denied_at_start(p, line + k, len - k);
	return denied;
}

/* line[0..len), no newline, ends in a backslash that escapes the newline (NULs, which the shells drop, aside). */
bool policy_line_continues(const char *line, size_t len)
{
	size_t backslashes = 0;

	for (; len > 0 && (line[len - 1] == '\\' || line[len - 1] == '\0'); len--)
		backslashes += line[len - 1] == '\\';
	return backslashes % 2 == 1;
}

size_t policy_complete(const char *text, size_t len)
{
	for (size_t end = len; end > 0; end--) {
		if (text[end - 1] != '\n')
			continue;
		const char *start = memrchr(text, '\n', end - 1);
		size_t from = start ? (size_t)(start - text) + 1 : 0;
		if (!policy_line_continues(text + from, end - 1 - from))
			return end;
	}
	return 0;
}

static void policy_refusal(struct policy_refusal *why, const char *rule, size_t start, size_t len)
{
	snprintf(why->rule, sizeof(why->rule), "%s", rule);
	why->line_start = start;
	why->line_len = len;
}

enum policy_verdict policy_check(const struct policy *p, struct cmdline_state *st, enum policy_reader reader,
				 const char *text, size_t len, struct policy_refusal *why)
{
	bool shell = reader != POLICY_PROGRAM;
	/* At its prompt the shell reads a whole command before it runs any of it; after that, anyone may read. */
	bool whole = reader == POLICY_SHELL_PROMPT;
	struct cmdline_state next;
	struct policy_scan scan = { .p = p, .check = shell && p->allowed_count > 0 };
	enum policy_verdict verdict = POLICY_PASS;
	/* The logical line: physical lines joined where a backslash escapes the newline, NULs dropped. */
	char *logical = malloc(len + 1);
	size_t logical_len = 0, logical_start = 0;
	bool lost = false;

	if (!logical) {
		policy_refusal(why, "policy (out of memory)", 0, 0);
		return POLICY_REFUSE;
	}
	if (shell)
		cmdline_copy(&next, st);
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t line_len = nl ? (size_t)(nl - text) - start : len - start;
		const char *line = text + start;
		size_t physical = logical_len;
		for (size_t i = 0; i < line_len; i++) {
			if (line[i] != '\0')
				logical[logical_len++] = line[i];
		}
		bool continues = policy_line_continues(line, line_len);
		/* The line alone too: where the shell does not join it ('...', a comment), it is a line of its own. */
		const char *denied = policy_denied(p, logical + physical, logical_len - physical, !whole);
		if (!denied && !continues && physical > 0)
			denied = policy_denied(p, logical, logical_len, !whole);
		if (denied) {
			policy_refusal(why, denied, logical_start, start + line_len - logical_start);
			verdict = POLICY_REFUSE;
			break;
		}
		if (shell && !lost && cmdline_feed(&next, line, line_len + (nl != NULL), policy_command, &scan) < 0) {
			lost = true;	/* nothing the splitter says holds any more */
			whole = false;
			if (scan.check && !scan.refused) {
				scan.refused = true;
				snprintf(scan.rule, sizeof(scan.rule), "allow (input nested too deep to check)");
			}
		}
		if (scan.refused && verdict == POLICY_PASS) {
			/* Deny rules still look at every line: their refusal is the stronger. */
			policy_refusal(why, scan.rule, start, line_len);
			verdict = POLICY_NOT_LISTED;
		}
		start += line_len + (nl != NULL);
		if (continues) {
			logical_len--;	/* the backslash; the newline was never added */
			continue;
		}
		if (whole && (!shell || !cmdline_open(&next)))
			whole = false;
		logical_len = 0;
		logical_start = start;
	}
	free(logical);
	if (verdict == POLICY_PASS && shell) {
		if (lost)
			cmdline_init(&next, (enum cmdline_dialect)st->dialect);	/* what it lost track of starts afresh */
		cmdline_copy(st, &next);
	}
	return verdict;
}
