/*
 * seshfs: the command words of shell input (see cmdline.h). A stack of
 * frames follows the nesting: command lists ($(...) and backquotes open
 * one), quotes, ${...}, and the parentheses of arithmetic and arrays. The
 * word being read belongs to the innermost command list; quotes and
 * expansions inside it add to that word.
 */
#include "cmdline.h"

#include <stdlib.h>
#include <string.h>

/* Is the word so far NAME=..., NAME+=... or NAME[...]=...: an assignment, not a command? */
enum cmdline_name {
	NAME_START,
	NAME_CHARS,
	NAME_SUBSCRIPT,
	NAME_SUBSCRIPT_END,
	NAME_PLUS,
	NAME_ASSIGNMENT,
	NAME_NOT,
};

/* Has a command come since the last separator? ; & | need one before them, ) one since its (. */
enum cmdline_empty {
	EMPTY_NO,
	EMPTY_YES,
	EMPTY_NEWLINE,		/* only a newline since the last command: "(a\n)" is fine, "a\n;" is not */
};

/* How far into ${...}: the operator after the name decides how quotes read. */
enum cmdline_param_part {
	PARAM_START,
	PARAM_PREFIX,		/* ${# or ${! */
	PARAM_NAME,
	PARAM_INDEX,		/* [...] after the name */
	PARAM_AFTER,		/* the name is complete */
	PARAM_PATTERN,		/* # % /: a pattern, where every shell reads quotes */
	PARAM_WORD,		/* any other operator */
};

/* The close of a quote whose text adds to no word (inside ${...} or arithmetic). */
#define SILENT '-'

struct cmdline_run {
	struct cmdline_state *st;
	cmdline_command_fn fn;
	void *ctx;
	const char *p, *end;
	bool failed;
};

static struct cmdline_frame *frame_top(struct cmdline_run *r)
{
	return &r->st->frames[r->st->depth - 1];
}

/* The command list the current word belongs to (frames[0] is one). */
static struct cmdline_frame *frame_owner(struct cmdline_run *r)
{
	int i = r->st->depth - 1;

	while (r->st->frames[i].kind != CMDLINE_COMMANDS)
		i--;
	return &r->st->frames[i];
}

static void frame_push(struct cmdline_run *r, enum cmdline_frame_kind kind, char close)
{
	if (r->st->depth == CMDLINE_DEPTH_MAX) {
		r->failed = true;
		return;
	}
	struct cmdline_frame *parent = &r->st->frames[r->st->depth - 1];
	struct cmdline_frame *f = &r->st->frames[r->st->depth++];
	memset(f, 0, offsetof(struct cmdline_frame, word));
	f->kind = (uint8_t)kind;
	f->close = close;
	f->phase = CMDLINE_COMMAND;
	f->empty = EMPTY_YES;
	f->heredocs_before = (uint8_t)r->st->heredoc_count;
	if (kind == CMDLINE_PARAM)
		f->dquoted = parent->kind == CMDLINE_DQUOTE || parent->kind == CMDLINE_BODY ||
			     (parent->kind == CMDLINE_PARAM && parent->dquoted);
}

static void report_unsure(struct cmdline_run *r, const char *what);

static void frame_pop(struct cmdline_run *r)
{
	const struct cmdline_frame *f = frame_top(r);

	/* $(cat <<E) or `cat <<E`: where the shells read that body is not followed. */
	if (f->kind == CMDLINE_COMMANDS && r->st->heredoc_count > f->heredocs_before)
		report_unsure(r, "<< inside $(...)");
	if (r->st->depth > 1)
		r->st->depth--;
}

static char next_char(const struct cmdline_run *r)
{
	return r->p < r->end ? *r->p : '\0';
}

static enum cmdline_dialect run_dialect(const struct cmdline_run *r)
{
	return (enum cmdline_dialect)r->st->dialect;
}

/*
 * Something whose commands cannot be told from its text, in this dialect:
 * reported as a command word that is not checkable (what describes it),
 * so that the allow-list refuses the line.
 */
static void report_unsure(struct cmdline_run *r, const char *what)
{
	r->fn(r->ctx, what, strlen(what), false);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static void word_start(struct cmdline_frame *f)
{
	if (f->in_word)
		return;
	f->in_word = true;
	f->word_len = 0;
	f->word_long = f->word_quoted = f->word_expands = f->word_lossy = f->word_glob = f->word_bracket = false;
	f->word_brace = false;
	f->word_name = NAME_START;
}

static enum cmdline_name name_next(enum cmdline_name state, char c, bool quoted)
{
	if (quoted && state != NAME_ASSIGNMENT)
		return NAME_NOT;
	switch (state) {
	case NAME_START:
		return is_name_start(c) ? NAME_CHARS : NAME_NOT;
	case NAME_CHARS:
		return is_name_char(c) ? NAME_CHARS : c == '=' ? NAME_ASSIGNMENT : c == '+' ? NAME_PLUS :
		       c == '[' ? NAME_SUBSCRIPT : NAME_NOT;
	case NAME_SUBSCRIPT:
		return c == ']' ? NAME_SUBSCRIPT_END : NAME_SUBSCRIPT;
	case NAME_SUBSCRIPT_END:
		return c == '=' ? NAME_ASSIGNMENT : c == '+' ? NAME_PLUS : NAME_NOT;
	case NAME_PLUS:
		return c == '=' ? NAME_ASSIGNMENT : NAME_NOT;
	default:
		return state;
	}
}

/* One character of the word, as the shell sees it after quote removal. */
static void word_add(struct cmdline_frame *f, char c, bool quoted)
{
	word_start(f);
	f->word_quoted |= quoted;
	f->word_name = (uint8_t)name_next((enum cmdline_name)f->word_name, c, quoted);
	/* A glob: the file it finds runs. A [ is one only with a ] after it. */
	if (!quoted && (c == '*' || c == '?' || (c == ']' && f->word_bracket)))
		f->word_glob = true;
	if (!quoted && c == '{')
		f->word_brace = true;
	if (!quoted && c == '[')
		f->word_bracket = true;
	if (f->word_len < CMDLINE_WORD_MAX)
		f->word[f->word_len++] = c;
	else
		f->word_long = true;
}

/* An expansion in the word: what runs is not its text. */
static void word_expand(struct cmdline_frame *f)
{
	word_start(f);
	f->word_expands = true;
	f->word_name = (uint8_t)(f->word_name == NAME_ASSIGNMENT ? NAME_ASSIGNMENT : NAME_NOT);
}

static bool word_is(const struct cmdline_frame *f, const char *text)
{
	size_t len = strlen(text);

	return !f->word_quoted && !f->word_expands && f->word_len == len && memcmp(f->word, text, len) == 0;
}

static void report_pending(struct cmdline_run *r, struct cmdline_frame *f)
{
	if (!f->pending)
		return;
	f->pending = false;
	/* bash expands {a,b} in a command word to other words. */
	bool braces = f->word_brace && run_dialect(r) != CMDLINE_ASH && run_dialect(r) != CMDLINE_DASH;
	r->fn(r->ctx, f->word, f->word_len, !f->word_expands && !f->word_glob && !f->word_long && !braces);
}

/*
 * The variables whose values the shell runs as code when it prompts or
 * checks mail: an assignment to one is a command that runs later.
 */
static const char *const cmdline_prompt_names[] = { "PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND", "MAILPATH" };

/* The prompt variable text names (PS1=..., read PS1, -vPS1: options take their value attached), or NULL. */
static const char *names_prompt(const char *text, size_t len)
{
	bool option = len > 0 && text[0] == '-';

	for (size_t i = 0; i < len; i++) {
		if ((text[i] != 'P' && text[i] != 'M') || (i > 0 && text[i - 1] == '$') ||
		    (i > 0 && !option && is_name_char(text[i - 1])))
			continue;
		for (size_t n = 0; n < sizeof(cmdline_prompt_names) / sizeof(cmdline_prompt_names[0]); n++) {
			size_t name_len = strlen(cmdline_prompt_names[n]);
			if (len - i >= name_len && memcmp(text + i, cmdline_prompt_names[n], name_len) == 0 &&
			    (i + name_len == len || !is_name_char(text[i + name_len])))
				return cmdline_prompt_names[n];
		}
	}
	return NULL;
}

static void heredoc_add(struct cmdline_run *r, const struct cmdline_frame *f)
{
	struct cmdline_state *st = r->st;

	if (f->word_long || f->word_len >= CMDLINE_DELIM_MAX || st->heredoc_count == CMDLINE_HEREDOC_MAX) {
		r->failed = true;	/* its body would never end: nothing after could be checked */
		return;
	}
	/* <<$(x) and <<${x} end at the text as written, which word does not hold. */
	if (f->word_lossy)
		report_unsure(r, "<<$(...)");
	if (st->in_body)
		report_unsure(r, "<< in a heredoc's body");
	struct cmdline_heredoc *h = &st->heredocs[st->heredoc_count++];
	memcpy(h->delim, f->word, f->word_len);
	h->len = f->word_len;
	h->strip = f->heredoc_strip;
	h->quoted = f->word_quoted;
	h->frame = (uint8_t)(st->depth - 1);
}

enum cmdline_keyword {
	KEYWORD_NONE,		/* a command */
	KEYWORD_RESERVED,
	KEYWORD_BOTH,		/* an unknown sh: a command in some shells, reserved in others */
};

/*
 * The reserved words that are not in every shell, and the dialects that
 * have them (the others run a command of that name): bash, ash, dash.
 */
static const struct {
	const char *word;
	bool in[CMDLINE_DIALECT_COUNT];
} cmdline_some_reserved[] = {
	{ "time", { [CMDLINE_BASH] = true } },	/* ash runs its applet, dash /usr/bin/time */
	{ "select", { [CMDLINE_BASH] = true } },
	{ "coproc", { [CMDLINE_BASH] = true } },
	{ "[[", { [CMDLINE_BASH] = true } },	/* ash: a builtin (see ash_test) */
	{ "function", { [CMDLINE_BASH] = true, [CMDLINE_ASH] = true } },
};

static enum cmdline_keyword keyword_kind(const struct cmdline_run *r, const struct cmdline_frame *f)
{
	static const char *const everywhere[] = { "!", "if", "then", "else", "elif", "fi", "while", "until",
						  "do", "done", "{", "}", "for", "case", "esac" };
	enum cmdline_dialect d = run_dialect(r);

	for (size_t i = 0; i < sizeof(everywhere) / sizeof(everywhere[0]); i++) {
		if (word_is(f, everywhere[i]))
			return KEYWORD_RESERVED;
	}
	for (size_t i = 0; i < sizeof(cmdline_some_reserved) / sizeof(cmdline_some_reserved[0]); i++) {
		if (!word_is(f, cmdline_some_reserved[i].word))
			continue;
		if (d != CMDLINE_POSIX)
			return cmdline_some_reserved[i].in[d] ? KEYWORD_RESERVED : KEYWORD_NONE;
		/* [[ is neither: its effect refuses the line. */
		return word_is(f, "[[") ? KEYWORD_RESERVED : KEYWORD_BOTH;
	}
	return KEYWORD_NONE;
}

/*
 * bash throws away the rest of a line it cannot parse, and reads the next
 * as new: the splitter, still inside whatever the rest opened (a quote, a
 * heredoc), would not see that line's commands. Refused instead.
 */
static void syntax_error(struct cmdline_run *r)
{
	report_unsure(r, "syntax error");
}

/* The line ends with heredocs waiting: their bodies come next, the first one's now. */
static void body_start(struct cmdline_run *r)
{
	r->st->in_body = true;
	if (!r->st->heredocs[0].quoted)
		frame_push(r, CMDLINE_BODY, SILENT);	/* its $(...) and `...` run */
}

/* A reserved word that closes what another opened: a syntax error if none is open. */
static void keyword_close(struct cmdline_run *r, uint8_t *open, bool closes)
{
	if (*open == 0)
		syntax_error(r);
	else
		*open -= closes;
}

/* A reserved word in command position: what it makes of the words after it. */
static void keyword_effect(struct cmdline_run *r, struct cmdline_frame *f)
{
	static const char *const want_command[] = { "if", "then", "else", "elif", "while", "until", "do", "coproc" };
	bool empty = false;

	for (size_t i = 0; i < sizeof(want_command) / sizeof(want_command[0]); i++)
		empty |= word_is(f, want_command[i]);
	/* {; is a syntax error everywhere; "! ;" in ash and dash, not in bash. */
	empty |= word_is(f, "{") || (word_is(f, "!") && run_dialect(r) != CMDLINE_BASH);
	f->empty = empty ? EMPTY_YES : EMPTY_NO;	/* "then ;" is a syntax error, "fi ;" is not */
	f->after_compound = word_is(f, "fi") || word_is(f, "done") || word_is(f, "esac");
	if (word_is(f, "if"))
		f->ifs += f->ifs < UINT8_MAX;
	else if (word_is(f, "then") || word_is(f, "else") || word_is(f, "elif"))
		keyword_close(r, &f->ifs, false);
	else if (word_is(f, "fi"))
		keyword_close(r, &f->ifs, true);
	else if (word_is(f, "while") || word_is(f, "until"))
		f->loops += f->loops < UINT8_MAX;
	else if (word_is(f, "do"))
		keyword_close(r, &f->loops, false);
	else if (word_is(f, "done"))
		keyword_close(r, &f->loops, true);
	else if (word_is(f, "time"))
		f->after_time = run_dialect(r) == CMDLINE_BASH || run_dialect(r) == CMDLINE_POSIX;
	else if (word_is(f, "coproc"))
		f->after_coproc = true;
	else if (word_is(f, "{"))
		f->groups += f->groups < UINT8_MAX;	/* {; {<f `{` */
	if (word_is(f, "for") || word_is(f, "select")) {
		f->phase = CMDLINE_FOR_HEADER;
		f->header_words = 0;
		f->loops += f->loops < UINT8_MAX;
	} else if (word_is(f, "case")) {
		f->phase = CMDLINE_CASE_WORD;
		f->header_words = 0;
	} else if (word_is(f, "esac")) {
		keyword_close(r, &f->case_depth, true);
	} else if (word_is(f, "function")) {
		f->phase = CMDLINE_FUNCTION_NAME;
	} else if (word_is(f, "[[")) {
		/* bash's test; under an unknown sh it may be ash's builtin, whose words && and || separate nothing. */
		if (run_dialect(r) == CMDLINE_POSIX) {
			report_unsure(r, "[[");
			f->phase = CMDLINE_ARGS;
		} else {
			f->phase = CMDLINE_TEST;
		}
	}
}

static bool closes_compound(const struct cmdline_frame *f)
{
	static const char *const closing[] = { "then", "else", "elif", "fi", "do", "done", "esac", "}" };

	for (size_t i = 0; i < sizeof(closing) / sizeof(closing[0]); i++) {
		if (word_is(f, closing[i]))
			return true;
	}
	return false;
}

/* The word just read ends: what it is depends on where it stands. */
static void word_end(struct cmdline_run *r, struct cmdline_frame *f)
{
	if (!f->in_word)
		return;
	f->in_word = false;
	if (f->operator_open == '|' && f->phase == CMDLINE_COMMAND && word_is(f, "!"))
		syntax_error(r);	/* a | ! b */
	f->operator_open = 0;
	if (f->redirect) {
		if (f->heredoc)
			heredoc_add(r, f);
		f->redirect = f->heredoc = false;
		return;
	}
	/* (a) b, fi b, [[ a ]] b: after a compound command only a word that closes another may come. */
	if (f->after_compound && !closes_compound(f))
		syntax_error(r);
	f->after_compound = false;
	/* Wherever the name stands: PS1=..., export PS1=..., read PS1, printf -vPS1, for PS1 in ... */
	const char *prompt = names_prompt(f->word, f->word_len);
	if (prompt)
		report_unsure(r, prompt);
	/* busybox ash reads && and || after any [[ word as that command's words, up to a ]] word. */
	if (run_dialect(r) == CMDLINE_ASH && word_is(f, "[["))
		f->ash_test = true;
	else if (word_is(f, "]]"))
		f->ash_test = false;
	bool after_time = f->after_time, after_coproc = f->after_coproc;
	f->after_time = f->after_coproc = false;
	f->empty = EMPTY_NO;
	switch (f->phase) {
	case CMDLINE_COMMAND:
		if (f->word_name == NAME_ASSIGNMENT)
			return;
		/* bash's ]] with no [[ open: a syntax error (ash and dash run a command of that name). */
		if (word_is(f, "]]") && run_dialect(r) != CMDLINE_ASH && run_dialect(r) != CMDLINE_DASH)
			syntax_error(r);
		if (after_time && word_is(f, "-p")) {
			f->empty = EMPTY_YES;
			return;
		}
		switch (keyword_kind(r, f)) {
		case KEYWORD_BOTH:
			r->fn(r->ctx, f->word, f->word_len, true);
			keyword_effect(r, f);
			return;
		case KEYWORD_RESERVED:
			keyword_effect(r, f);
			return;
		default:
			break;
		}
		f->pending = true;	/* reported unless "()" makes it a function's name */
		/* coproc NAME { ...; }: NAME, or the command; what follows may be a command too. */
		f->phase = after_coproc ? CMDLINE_COMMAND : CMDLINE_ARGS;
		if (after_coproc)
			report_pending(r, f);
		return;
	case CMDLINE_FOR_HEADER:
		/* for NAME do ...: no separator needed before do (nor before bash's {). */
		if (f->header_words == 1 && (word_is(f, "do") || word_is(f, "{")))
			f->phase = CMDLINE_COMMAND;
		else
			f->header_words += f->header_words < 2;
		return;
	case CMDLINE_TEST:
		if (word_is(f, "]]")) {
			f->phase = CMDLINE_ARGS;
			f->after_compound = true;
		}
		return;
	case CMDLINE_CASE_WORD:
		f->header_words += f->header_words < 2;
		if (f->header_words > 1 && !word_is(f, "in"))
			syntax_error(r);	/* case WORD then anything but in */
		if (word_is(f, "in") && f->header_words > 1) {
			f->case_depth++;
			f->phase = CMDLINE_PATTERN;
			f->header_words = 0;
		}
		return;
	case CMDLINE_PATTERN:
		/* header_words: 0 before a pattern (esac may come), 1 after one, 2 after its |. */
		if (f->header_words == 0 && word_is(f, "esac")) {
			f->case_depth--;
			f->phase = CMDLINE_ARGS;
			f->after_compound = true;
			return;
		}
		if (f->header_words == 1)
			syntax_error(r);	/* case x in a b) */
		f->header_words = 1;
		return;
	case CMDLINE_FUNCTION_NAME:
		f->phase = CMDLINE_COMMAND;
		return;
	default:
		return;
	}
}

/* A command ends (; & | newline and the like): the next word is a command again. */
static void separate(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	word_end(r, f);
	report_pending(r, f);
	if (f->redirect)
		syntax_error(r);	/* a redirection with no word after it: echo > ; x */
	f->redirect = f->heredoc = false;
	f->ash_test = false;
	f->after_compound = false;
	/* Newlines may come before a case's pattern, nowhere else in it: case x in a|<newline>b) */
	if (f->phase == CMDLINE_PATTERN && c != ')') {
		if (c != '\n' || f->header_words != 0)
			syntax_error(r);
		return;
	}
	if (f->phase == CMDLINE_CASE_WORD && c == '\n') {
		if (f->header_words == 0)
			syntax_error(r);	/* case with no word before the newline */
		return;
	}
	f->phase = CMDLINE_COMMAND;
	if (c != '\n')
		f->empty = EMPTY_YES;
	else if (f->empty == EMPTY_NO)
		f->empty = EMPTY_NEWLINE;
}

/* ; & | && ||: with no command before them, a syntax error. */
static void separate_command(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	word_end(r, f);
	if (f->empty != EMPTY_NO || (c == '|' && f->after_time) || f->phase == CMDLINE_CASE_WORD ||
	    f->phase == CMDLINE_FUNCTION_NAME || (f->phase == CMDLINE_FOR_HEADER && f->header_words == 0))
		syntax_error(r);	/* time; is bash's, time | is not; case ;, function ;, for ; */
	separate(r, f, c);
}

/*
 * Where (( or $(( opened (p after both parentheses), bash looks for the
 * parenthesis that balances the second: arithmetic if another ')' follows
 * it at once, otherwise subshells or a command substitution. 1 arithmetic,
 * 0 commands, -1 when this line cannot tell (the close is on a later line,
 * or a comment, heredoc or case inside needs more than a count).
 */
static int arith_ahead(const struct cmdline_run *r)
{
	int depth = 0;
	char quote = 0;

	for (const char *p = r->p; p < r->end; p++) {
		char c = *p;
		if (quote) {
			if (c == '\\' && quote != '\'')
				p++;
			else if (c == quote || (quote == 'A' && c == '\''))
				quote = 0;
			continue;
		}
		bool word_start = p == r->p || !(is_name_char(p[-1]) || p[-1] == '$' || p[-1] == '{');
		switch (c) {
		case '\\':
			p++;
			break;
		case '"':
		case '`':
			quote = c;
			break;
		case '\'':
			quote = p > r->p && p[-1] == '$' ? 'A' : '\'';	/* A: $'...', where \' is no close */
			break;
		case '(':
			depth++;
			break;
		case ')':
			if (depth-- > 0)
				break;
			if (p + 1 == r->end)
				return -1;
			return p[1] == ')';
		case '#':
			if (word_start)
				return -1;
			break;
		case '<':
			if (p + 1 < r->end && p[1] == '<')
				return -1;
			break;
		case '\n':
			return -1;
		default:
			if (c == 'c' && word_start && r->end - p > 4 && memcmp(p, "case", 4) == 0 && !is_name_char(p[4]))
				return -1;
			break;
		}
	}
	return -1;
}

/*
 * (( or $(( read, p after them; f is the command list (( stands in. bash
 * decides by looking ahead (arith_ahead); busybox ash and dash have no ((
 * command (two subshells) and read $(( as arithmetic always.
 */
static void arithmetic(struct cmdline_run *r, struct cmdline_frame *f, bool dollar)
{
	enum cmdline_dialect d = run_dialect(r);
	bool arith = dollar;

	if (d == CMDLINE_BASH || d == CMDLINE_POSIX) {
		int ahead = arith_ahead(r);
		/* An unknown sh: bash may expand what ash reads in quotes, or read commands where ash reads arithmetic. */
		if (ahead < 0 || (d == CMDLINE_POSIX && (dollar ? ahead == 0 : ahead == 1)))
			report_unsure(r, dollar ? "$((...))" : "((...))");
		else if (d == CMDLINE_BASH)
			arith = ahead == 1;
		/* An unknown sh's (( are subshells, as in ash: they hold what bash's arithmetic would run. */
	}
	if (arith) {
		if (!dollar) {
			f->empty = EMPTY_NO;	/* (( ... )) is a command */
			f->after_compound = true;
		}
		frame_push(r, CMDLINE_NOCMD, 'D');
	} else if (dollar) {
		frame_push(r, CMDLINE_COMMANDS, ')');	/* $( (...) ...) */
		if (!r->failed)
			frame_top(r)->parens++;
	} else {
		separate(r, f, '(');
		f->parens += 2;
	}
}

/* for (( ...; ...; ... )): bash's alone; the others refuse the line, so does the splitter. */
static void arithmetic_for(struct cmdline_run *r, struct cmdline_frame *f)
{
	enum cmdline_dialect d = run_dialect(r);

	if ((d != CMDLINE_BASH && d != CMDLINE_POSIX) || arith_ahead(r) != 1)
		report_unsure(r, "for ((...))");
	frame_push(r, CMDLINE_NOCMD, 'D');
	f->header_words = 1;	/* do or { may follow at once */
}

/* $ in owner's word; owner NULL: where words do not matter (inside ${...} or arithmetic). */
static void dollar(struct cmdline_run *r, struct cmdline_frame *owner, bool in_dquote)
{
	char c = next_char(r);
	char quote_close = owner ? 0 : SILENT;
	enum cmdline_dialect d = run_dialect(r);

	if (c == '(' || c == '{' || (c == '[' && (d == CMDLINE_BASH || d == CMDLINE_POSIX))) {
		r->p++;
		if (owner) {
			word_expand(owner);
			owner->word_lossy = true;
		}
		if (c == '{') {
			frame_push(r, CMDLINE_PARAM, 0);
		} else if (c == '[') {
			/* bash's $[...] is arithmetic; elsewhere $ and [ are characters, and ; separates. */
			if (d == CMDLINE_POSIX)
				report_unsure(r, "$[...]");
			frame_push(r, CMDLINE_NOCMD, ']');
		} else if (next_char(r) == '(') {
			r->p++;
			arithmetic(r, owner, true);
		} else {
			frame_push(r, CMDLINE_COMMANDS, ')');
		}
	} else if ((c == '"' || (c == '\'' && d != CMDLINE_DASH)) && !in_dquote) {	/* dash has no $'...' */
		r->p++;
		if (owner) {
			word_start(owner);
			owner->word_quoted = true;
			owner->word_lossy |= c == '\'';
		}
		frame_push(r, c == '"' ? CMDLINE_DQUOTE : CMDLINE_ANSI, quote_close);
	} else {
		if (owner) {
			word_expand(owner);
			word_add(owner, '$', false);
		}
		if (c == '$') {	/* $$ is the shell's pid: $$(x) opens nothing */
			r->p++;
			if (owner)
				word_add(owner, '$', false);
		}
	}
}

/* Opens a quote in the owner's word. */
static void quote(struct cmdline_run *r, struct cmdline_frame *owner, enum cmdline_frame_kind kind)
{
	word_start(owner);
	owner->word_quoted = true;
	owner->word_name = (uint8_t)name_next((enum cmdline_name)owner->word_name, '\'', true);
	frame_push(r, kind, 0);
}

/* < or >: a redirection, its target the next word; or a process substitution. */
static void redirection(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	/* 2>&1: digits right before the operator name a descriptor, not a word. */
	bool digits = f->in_word && !f->word_quoted && !f->word_expands && f->word_len > 0;
	for (size_t i = 0; digits && i < f->word_len; i++)
		digits = f->word[i] >= '0' && f->word[i] <= '9';
	if (digits)
		f->in_word = false;
	word_end(r, f);
	report_pending(r, f);
	if (next_char(r) == '(') {
		r->p++;
		word_expand(f);
		frame_push(r, CMDLINE_COMMANDS, ')');
		return;
	}
	/* > <<E: no word for the first; case x <, for x >, function <: no redirection there. */
	if (f->redirect || (f->phase != CMDLINE_COMMAND && f->phase != CMDLINE_ARGS))
		syntax_error(r);
	if (c == '<' && next_char(r) == '<') {
		r->p++;
		if (next_char(r) == '<') {
			r->p++;	/* <<< here-string */
		} else {
			f->heredoc = true;
			f->heredoc_strip = next_char(r) == '-';
			r->p += f->heredoc_strip;
		}
	} else if (next_char(r) == '&' || next_char(r) == '>' || next_char(r) == '|') {
		r->p++;
	}
	f->redirect = true;
	f->empty = EMPTY_NO;	/* "> f" alone is a command */
}

/* "NAME ()": NAME is a function being defined, not a command. Consumes the "()". */
static bool function_parens(struct cmdline_run *r)
{
	const char *q = r->p;

	while (q < r->end && is_blank(*q))
		q++;
	if (q == r->end || *q != ')')
		return false;
	r->p = q + 1;
	return true;
}

static void open_paren(struct cmdline_run *r, struct cmdline_frame *f)
{
	if (f->in_word && f->word_name == NAME_ASSIGNMENT && f->word_len > 0 && f->word[f->word_len - 1] == '=') {
		frame_push(r, CMDLINE_NOCMD, ')');	/* NAME=(...): an array's words */
		return;
	}
	word_end(r, f);
	if (f->phase == CMDLINE_TEST || f->phase == CMDLINE_PATTERN)
		return;
	if (f->after_compound)
		syntax_error(r);	/* (a) (b) */
	f->operator_open = 0;
	if (f->pending && function_parens(r)) {
		f->pending = false;
		f->phase = CMDLINE_COMMAND;
		return;
	}
	report_pending(r, f);
	if (f->phase != CMDLINE_COMMAND && !(f->phase == CMDLINE_FOR_HEADER && f->header_words == 0 && next_char(r) == '('))
		syntax_error(r);	/* echo a (b), select (, case ( */
	if (f->phase == CMDLINE_COMMAND && next_char(r) == '(') {
		r->p++;
		arithmetic(r, f, false);
		return;
	}
	if (f->phase == CMDLINE_FOR_HEADER && f->header_words == 0 && next_char(r) == '(') {
		r->p++;
		arithmetic_for(r, f);
		return;
	}
	separate(r, f, '(');
	f->parens++;
}

static void close_paren(struct cmdline_run *r, struct cmdline_frame *f)
{
	if (f->phase == CMDLINE_TEST) {
		word_end(r, f);
		return;
	}
	if (f->phase == CMDLINE_PATTERN) {
		word_end(r, f);
		if (f->header_words != 1)
			syntax_error(r);	/* case x in ), case x in a|) */
		separate(r, f, ')');
		return;
	}
	word_end(r, f);
	bool empty = f->empty == EMPTY_YES;
	if (f->operator_open)
		syntax_error(r);	/* (a |), $(a &&) */
	separate(r, f, ')');
	if (f->parens > 0 && empty)
		syntax_error(r);	/* () runs nothing: a syntax error (an empty $() is not) */
	f->empty = EMPTY_NO;	/* (a) ; b */
	if (f->parens > 0) {
		f->parens--;
		f->after_compound = true;
	} else if (f->close == ')')
		frame_pop(r);
	else
		syntax_error(r);
}

/* Is the innermost command substitution a backquoted one? */
static bool in_backquotes(const struct cmdline_run *r)
{
	for (int i = r->st->depth - 1; i > 0; i--) {
		const struct cmdline_frame *f = &r->st->frames[i];
		if (f->kind == CMDLINE_COMMANDS && f->close == '`')
			return true;
	}
	return false;
}

/*
 * A backquote ends the innermost backquoted text wherever it stands, in
 * quotes or $(...) too: the shells look for it before they read the text.
 * Otherwise it opens one. Closes what is inside, true if there was any.
 */
static bool backquote_close(struct cmdline_run *r)
{
	struct cmdline_state *st = r->st;

	if (!in_backquotes(r))
		return false;
	bool unfinished = false;
	while (frame_top(r)->kind != CMDLINE_COMMANDS || frame_top(r)->close != '`') {
		st->depth--;
		unfinished = true;	/* a quote or $( open */
	}
	struct cmdline_frame *f = frame_top(r);
	word_end(r, f);
	/* `{`, `a |`, `"`: bash and dash fail, busybox ash reads on into the text after the backquote. */
	if (unfinished || f->parens || f->groups || f->ifs || f->loops || f->case_depth || f->operator_open ||
	    (f->phase != CMDLINE_COMMAND && f->phase != CMDLINE_ARGS))
		syntax_error(r);
	separate(r, f, '`');
	frame_pop(r);
	return true;
}

/*
 * Inside backquotes the shell first takes a backslash away from \$ \` and
 * \\, then reads the text: a \$( there runs, a \` nests. Not followed.
 */
static void backslash_in_backquotes(struct cmdline_run *r)
{
	if (r->p < r->end && strchr("$`\\", *r->p) && in_backquotes(r))
		report_unsure(r, "`...\\...`");
}

static void step_commands(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	bool test = f->phase == CMDLINE_TEST || f->ash_test;

	/* bash reads x[...]= whole, operators and blanks in the brackets too (ash and dash do not). */
	if (f->in_word && f->word_name == NAME_SUBSCRIPT && f->phase == CMDLINE_COMMAND && c != '\n' &&
	    strchr(" \t;&|<>()", c) && run_dialect(r) != CMDLINE_ASH && run_dialect(r) != CMDLINE_DASH) {
		if (run_dialect(r) == CMDLINE_POSIX)
			report_unsure(r, "x[...]=");
		word_add(f, c, false);
		return;
	}
	if (f->pending && !is_blank(c) && c != '(')
		report_pending(r, f);
	/* An operator right after ]] or esac ends the test or the patterns first: [[ -n x ]]&& y, esac|y. */
	if ((test || f->phase == CMDLINE_PATTERN) && f->in_word && strchr(";&|<>()\n", c) &&
	    (word_is(f, "]]") || word_is(f, "esac"))) {
		word_end(r, f);
		test = f->phase == CMDLINE_TEST || f->ash_test;
	}
	switch (c) {
	case ' ':
	case '\t':
		word_end(r, f);
		break;
	case '\n':
		separate(r, f, c);
		/* Not at a newline inside "$( ... " opened after the <<: the shell reads on. */
		if (!r->st->in_body && r->st->heredoc_count > 0 && r->st->heredocs[0].frame >= r->st->depth - 1)
			body_start(r);
		break;
	case '#':
		if (f->in_word) {
			word_add(f, c, false);
			break;
		}
		/* A comment inside backquotes ends where they do. */
		while (r->p < r->end && *r->p != '\n' && (*r->p != '`' || f->close != '`'))
			r->p++;
		break;
	case '\\':
		backslash_in_backquotes(r);
		if (r->p < r->end && *r->p++ != '\n')
			word_add(f, r->p[-1], true);
		break;
	case '\'':
		quote(r, f, CMDLINE_SQUOTE);
		break;
	case '"':
		quote(r, f, CMDLINE_DQUOTE);
		break;
	case '`':
		if (!backquote_close(r)) {
			word_expand(f);
			frame_push(r, CMDLINE_COMMANDS, '`');
		}
		break;
	case '$':
		dollar(r, f, false);
		break;
	case ';':
		if (next_char(r) == ';' || next_char(r) == '&') {
			r->p += next_char(r) == ';' && r->p + 1 < r->end && r->p[1] == '&' ? 2 : 1;
			separate(r, f, c);
			if (f->case_depth > 0) {
				f->phase = CMDLINE_PATTERN;	/* ;; ;& ;;& end a case item */
				f->header_words = 0;
			} else
				syntax_error(r);
			break;
		}
		separate_command(r, f, c);
		break;
	case '&':
		/* &> is bash's and ash's; in dash (and so maybe an unknown sh) & ends the command. */
		if (next_char(r) == '>' && (run_dialect(r) == CMDLINE_BASH || run_dialect(r) == CMDLINE_ASH)) {
			redirection(r, f, c);
		} else if (test && next_char(r) == '&') {
			r->p++;
			word_end(r, f);
		} else {
			bool and = next_char(r) == '&';
			r->p += and;
			separate_command(r, f, c);
			f->operator_open = and ? '&' : 0;
		}
		break;
	case '|':
		if (f->phase == CMDLINE_PATTERN) {
			word_end(r, f);
			if (f->header_words != 1 || next_char(r) == '|')
				syntax_error(r);	/* case x in |a), a||b) */
			r->p += next_char(r) == '|';
			f->header_words = 2;
		} else if (test && next_char(r) == '|') {
			r->p++;
			word_end(r, f);
		} else {
			bool or = next_char(r) == '|';
			r->p += or || next_char(r) == '&';
			separate_command(r, f, c);
			f->operator_open = or ? '&' : '|';
		}
		break;
	case '<':
	case '>':
		/* In a test < and > compare, but <(...) is still a process substitution. */
		if (f->phase == CMDLINE_TEST && next_char(r) != '(')
			word_end(r, f);
		else
			redirection(r, f, c);
		break;
	case '(':
		open_paren(r, f);
		break;
	case ')':
		close_paren(r, f);
		break;
	case '{':
	case '}':
		/* Reserved words where a command starts: a group. Elsewhere a word's character. */
		if (!f->in_word && f->phase == CMDLINE_COMMAND &&
		    (c == '}' || r->p == r->end || is_blank(*r->p) || *r->p == '\n')) {
			if (c == '{' && f->after_compound)
				syntax_error(r);	/* (a) { b; } */
			if (c == '{')
				f->groups += f->groups < UINT8_MAX;
			else
				keyword_close(r, &f->groups, true);
			separate(r, f, c);
			f->empty = c == '{' ? EMPTY_YES : EMPTY_NO;
			f->operator_open = 0;
			f->after_compound = c == '}';
			break;
		}
		word_add(f, c, false);
		break;
	default:
		word_add(f, c, false);
		break;
	}
}

/*
 * A character of ${...} before its operator: true when that is all it is.
 * The operator (or an index's text) is left to be read as usual.
 */
static bool param_name(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	switch (f->part) {
	case PARAM_START:
		if (c == '#' || c == '!') {
			f->part = PARAM_PREFIX;
			return true;
		}
		/* fall through */
	case PARAM_PREFIX:
		if (c != '\0' && strchr("@*#?-$!", c)) {
			f->part = PARAM_AFTER;
			return true;
		}
		/* fall through */
	case PARAM_NAME:
		if (is_name_char(c)) {
			f->part = PARAM_NAME;
			if (f->word_len < CMDLINE_WORD_MAX)
				f->word[f->word_len++] = c;	/* the name, for ${PS1:=...} */
			return true;
		}
		if (c == '[' && f->part == PARAM_NAME) {
			f->part = PARAM_INDEX;
			return true;
		}
		break;
	case PARAM_INDEX:
		if (c == ']')
			f->part = PARAM_AFTER;
		return c == ']';
	default:
		break;
	}
	/* ${'} and the like: a bad substitution, refused (how far the shells read it differs). */
	if (c == '\0' || !strchr("}:-=?+#%/^,@", c))
		syntax_error(r);
	f->part = c == '#' || c == '%' || c == '/' ? PARAM_PATTERN : PARAM_WORD;
	if ((c == '=' || (c == ':' && next_char(r) == '=')) && names_prompt(f->word, f->word_len))
		report_unsure(r, names_prompt(f->word, f->word_len));
	/* ${x@P} expands the value as a prompt, which runs the $(...) in it. */
	if (c == '@' && next_char(r) == 'P' && run_dialect(r) != CMDLINE_ASH && run_dialect(r) != CMDLINE_DASH)
		report_unsure(r, "${...@P}");
	return false;
}

/*
 * A ' inside "${...}", outside a pattern (# % /, where it quotes in every
 * shell): ash and dash read a character; bash ends it at the next ', but
 * expands what is between as in double quotes ("${x-'$(cmd)'}" runs cmd).
 */
static void param_squote(struct cmdline_run *r)
{
	enum cmdline_dialect d = run_dialect(r);

	if (d == CMDLINE_ASH || d == CMDLINE_DASH)
		return;
	if (d == CMDLINE_POSIX)
		report_unsure(r, "\"${...'...}\"");
	frame_push(r, CMDLINE_DSQUOTE, SILENT);
}

/* Are ' and " quotes inside $((...))? In bash; ash and dash read characters. */
static bool arith_quotes(struct cmdline_run *r)
{
	enum cmdline_dialect d = run_dialect(r);

	if (d == CMDLINE_POSIX)
		report_unsure(r, "$((...'...))");
	return d == CMDLINE_BASH || d == CMDLINE_POSIX;
}

static void step_quoted(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	struct cmdline_frame *owner = f->close == SILENT ? NULL : frame_owner(r);

	if (c == '`' && backquote_close(r))
		return;
	if (c == '\\' && (f->kind == CMDLINE_SQUOTE || f->kind == CMDLINE_ANSI))
		backslash_in_backquotes(r);	/* \` ends no quote there */
	switch (f->kind) {
	case CMDLINE_SQUOTE:
		if (c == '\'')
			frame_pop(r);
		else if (owner)
			word_add(owner, c, true);
		break;
	case CMDLINE_ANSI:
		if (c == '\'') {
			frame_pop(r);
		} else if (c == '\\' && r->p < r->end) {
			r->p++;
			if (owner)
				word_expand(owner);	/* \n, \x41: its text is not what runs */
			/* A shell without $'...' (dash) reads a ' after the backslash as the close. */
			if (run_dialect(r) == CMDLINE_POSIX)
				report_unsure(r, "$'...\\'");
		} else if (owner) {
			word_add(owner, c, true);
		}
		break;
	case CMDLINE_DQUOTE:
	case CMDLINE_DSQUOTE:
	case CMDLINE_BODY:
		if ((c == '"' && f->kind == CMDLINE_DQUOTE) || (c == '\'' && f->kind == CMDLINE_DSQUOTE)) {
			frame_pop(r);
		} else if (c == '\\' && r->p < r->end && strchr("$`\"\\\n", *r->p)) {
			backslash_in_backquotes(r);
			if (*r->p++ != '\n' && owner)
				word_add(owner, r->p[-1], true);
		} else if (c == '$') {
			dollar(r, owner, true);
		} else if (c == '`') {
			if (owner)
				word_expand(owner);
			frame_push(r, CMDLINE_COMMANDS, '`');
		} else if (owner) {
			word_add(owner, c, true);
		}
		break;
	default:	/* PARAM and NOCMD: no words of their own; quotes and commands nest */
		if (f->kind == CMDLINE_PARAM && f->part < PARAM_PATTERN && param_name(r, f, c))
			break;
		if (c == '\\') {
			backslash_in_backquotes(r);
			r->p += r->p < r->end;
		} else if (c == '\'' && f->kind == CMDLINE_PARAM && f->dquoted && f->part != PARAM_PATTERN) {
			param_squote(r);
		} else if ((c == '\'' || c == '"') && f->close == 'D' && !arith_quotes(r)) {
			/* a character of the expression */
		} else if (c == '\'' && f->close == 'D') {
			frame_push(r, CMDLINE_DSQUOTE, SILENT);	/* bash expands inside it all the same */
		} else if (c == '\'' || c == '"') {
			frame_push(r, c == '"' ? CMDLINE_DQUOTE : CMDLINE_SQUOTE, SILENT);
		} else if (c == '$') {
			/* $'...' inside "${...}": bash's (extquote), a $ and a character in ash and dash. */
			bool plain = f->kind == CMDLINE_PARAM && f->dquoted && run_dialect(r) != CMDLINE_BASH;
			if (plain && run_dialect(r) == CMDLINE_POSIX && next_char(r) == '\'')
				report_unsure(r, "\"${...$'...'}\"");
			dollar(r, NULL, plain);
		} else if (c == '`') {
			frame_push(r, CMDLINE_COMMANDS, '`');
		} else if ((c == '<' || c == '>') && next_char(r) == '(' && f->kind == CMDLINE_PARAM) {
			r->p++;
			frame_push(r, CMDLINE_COMMANDS, ')');	/* bash's ${x+>(cmd)} runs cmd */
		} else if (f->kind == CMDLINE_PARAM) {
			if (c == '}')
				frame_pop(r);	/* a { inside opens nothing: ${x-{} is "{" */
		} else if (f->close == ')' && c != '\0' && strchr(";&|<>", c)) {
			syntax_error(r);	/* x=(a;b), x=(<): bash refuses them */
		} else if (f->close == ']') {	/* bash's $[...] */
			if (c == '[')
				f->parens++;
			else if (c == ']' && f->parens-- == 0)
				frame_pop(r);
		} else if (c == '(') {
			f->parens++;
		} else if (c == ')') {
			if (f->parens > 0) {
				f->parens--;
			} else if (f->close == 'D' && next_char(r) != ')' &&
				   (run_dialect(r) == CMDLINE_ASH || run_dialect(r) == CMDLINE_DASH)) {
				/* ash and dash read $(( on to a "))": a lone ) is the expression's */
			} else {
				r->p += f->close == 'D' && next_char(r) == ')';
				frame_pop(r);
			}
		}
		break;
	}
}

static const char *const cmdline_dialect_names[CMDLINE_DIALECT_COUNT] = {
	[CMDLINE_POSIX] = "sh",
	[CMDLINE_BASH] = "bash",
	[CMDLINE_ASH] = "ash",
	[CMDLINE_DASH] = "dash",
};

const char *cmdline_dialect_name(enum cmdline_dialect dialect)
{
	return dialect < CMDLINE_DIALECT_COUNT ? cmdline_dialect_names[dialect] : "sh";
}

int cmdline_dialect_parse(const char *name)
{
	for (int i = 0; i < CMDLINE_DIALECT_COUNT; i++) {
		if (strcmp(name, cmdline_dialect_names[i]) == 0)
			return i;
	}
	return -1;
}

void cmdline_init(struct cmdline_state *st, enum cmdline_dialect dialect)
{
	memset(st, 0, offsetof(struct cmdline_state, frames));
	st->dialect = (uint8_t)dialect;
	st->depth = 0;
	struct cmdline_run r = { .st = st };
	frame_push(&r, CMDLINE_COMMANDS, 0);
}

void cmdline_copy(struct cmdline_state *dst, const struct cmdline_state *src)
{
	memcpy(dst, src, offsetof(struct cmdline_state, frames));
	memcpy(dst->frames, src->frames, (size_t)src->depth * sizeof(src->frames[0]));
}

/*
 * A heredoc body line: the first waiting delimiter on a line of its own
 * ends that body. Where the delimiter was not quoted, bash joins a line
 * ending in an unescaped backslash with the next before it compares
 * (busybox ash and dash do not).
 */
static bool heredoc_line(struct cmdline_run *r, const char *line, size_t len)
{
	struct cmdline_state *st = r->st;
	struct cmdline_heredoc *h = &st->heredocs[0];
	size_t backslashes = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	while (!st->joining && h->strip && len > 0 && *line == '\t')
		line++, len--;
	while (backslashes < len && line[len - 1 - backslashes] == '\\')
		backslashes++;
	if (!h->quoted && backslashes % 2 == 1 && run_dialect(r) != CMDLINE_ASH && run_dialect(r) != CMDLINE_DASH) {
		if (run_dialect(r) == CMDLINE_POSIX)
			report_unsure(r, "<<... \\");
		len--;
		if (st->joined_len + len > sizeof(st->joined)) {
			st->joined_long = true;
		} else {
			memcpy(st->joined + st->joined_len, line, len);
			st->joined_len += (uint8_t)len;
		}
		st->joining = true;
		return false;
	}
	bool ends = !st->joined_long && st->joined_len + len == h->len &&
		    memcmp(st->joined, h->delim, st->joined_len) == 0 &&
		    memcmp(line, h->delim + st->joined_len, len) == 0;
	st->joining = st->joined_long = false;
	st->joined_len = 0;
	if (ends)
		memmove(st->heredocs, st->heredocs + 1, --st->heredoc_count * sizeof(st->heredocs[0]));
	return ends;
}

/* A body's delimiter came: the next heredoc's body starts, if one waits. */
static void body_end(struct cmdline_run *r, bool expanded)
{
	struct cmdline_state *st = r->st;

	if (expanded) {
		if (frame_top(r)->kind != CMDLINE_BODY)
			report_unsure(r, "$( open at a heredoc's end");
		while (st->depth > 1 && st->frames[st->depth - 1].kind != CMDLINE_BODY)
			st->depth--;
		frame_pop(r);
	}
	st->in_body = false;
	if (st->heredoc_count > 0)
		body_start(r);
}

static int feed(struct cmdline_state *st, const char *line, size_t len, cmdline_command_fn fn, void *ctx)
{
	struct cmdline_run r = { st, fn, ctx, line, line + len, false };

	if (st->in_body) {
		bool expanded = !st->heredocs[0].quoted;
		if (heredoc_line(&r, line, len)) {
			body_end(&r, expanded);
			return r.failed ? -1 : 0;
		}
		if (!expanded)
			return 0;
	}
	while (r.p < r.end && !r.failed) {
		char c = *r.p++;
		struct cmdline_frame *f = frame_top(&r);
		if (f->kind == CMDLINE_COMMANDS)
			step_commands(&r, f, c);
		else
			step_quoted(&r, f, c);
	}
	return r.failed ? -1 : 0;
}

int cmdline_feed(struct cmdline_state *st, const char *line, size_t len, cmdline_command_fn fn, void *ctx)
{
	if (!memchr(line, '\0', len))
		return feed(st, line, len, fn, ctx);
	/* The shells drop NUL bytes from their input (mk\0fs runs mkfs): so does the splitter. */
	char *kept = malloc(len);
	size_t kept_len = 0;
	if (!kept)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (line[i] != '\0')
			kept[kept_len++] = line[i];
	}
	int ret = feed(st, kept, kept_len, fn, ctx);
	free(kept);
	return ret;
}

bool cmdline_open(const struct cmdline_state *st)
{
	const struct cmdline_frame *top = &st->frames[0];

	return st->depth > 1 || st->in_body || st->heredoc_count > 0 || top->parens > 0 || top->case_depth > 0 ||
	       top->phase != CMDLINE_COMMAND || top->in_word;
}
