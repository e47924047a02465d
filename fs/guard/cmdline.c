/*
 * seshfs: the command words of shell input (see cmdline.h). A stack of
 * frames follows the nesting: command lists ($(...) and backquotes open
 * one), quotes, ${...}, and the parentheses of arithmetic and arrays. The
 * word being read belongs to the innermost command list; quotes and
 * expansions inside it add to that word.
 */
#include "cmdline.h"

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
	struct cmdline_frame *f = &r->st->frames[r->st->depth++];
	memset(f, 0, offsetof(struct cmdline_frame, word));
	f->kind = (uint8_t)kind;
	f->close = close;
	f->phase = CMDLINE_COMMAND;
}

static void frame_pop(struct cmdline_run *r)
{
	if (r->st->depth > 1)
		r->st->depth--;
}

static char next_char(const struct cmdline_run *r)
{
	return r->p < r->end ? *r->p : '\0';
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
	f->word_long = f->word_quoted = f->word_expands = f->word_glob = f->word_bracket = false;
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
	r->fn(r->ctx, f->word, f->word_len, !f->word_expands && !f->word_glob && !f->word_long);
}

static void heredoc_add(struct cmdline_run *r, const struct cmdline_frame *f)
{
	struct cmdline_state *st = r->st;

	if (f->word_long || f->word_len >= CMDLINE_DELIM_MAX || st->heredoc_count == CMDLINE_HEREDOC_MAX) {
		r->failed = true;	/* its body would never end: nothing after could be checked */
		return;
	}
	struct cmdline_heredoc *h = &st->heredocs[st->heredoc_count++];
	memcpy(h->delim, f->word, f->word_len);
	h->len = f->word_len;
	h->strip = f->heredoc_strip;
}

/* A reserved word in command position: what it makes of the words after it. */
static bool word_reserved(struct cmdline_frame *f)
{
	static const char *const plain[] = { "!", "time", "if", "then", "else", "elif", "fi", "while", "until",
					     "do", "done", "{", "}" };

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (word_is(f, plain[i]))
			return true;
	}
	if (word_is(f, "for") || word_is(f, "select"))
		f->phase = CMDLINE_FOR_HEADER;
	else if (word_is(f, "case"))
		f->phase = CMDLINE_CASE_WORD;
	else if (word_is(f, "esac"))
		f->case_depth -= f->case_depth > 0;
	else if (word_is(f, "function"))
		f->phase = CMDLINE_FUNCTION_NAME;
	else if (word_is(f, "[["))
		f->phase = CMDLINE_TEST;
	else
		return false;
	return true;
}

/* The word just read ends: what it is depends on where it stands. */
static void word_end(struct cmdline_run *r, struct cmdline_frame *f)
{
	if (!f->in_word)
		return;
	f->in_word = false;
	if (f->redirect) {
		if (f->heredoc)
			heredoc_add(r, f);
		f->redirect = f->heredoc = false;
		return;
	}
	switch (f->phase) {
	case CMDLINE_COMMAND:
		if (word_reserved(f) || f->word_name == NAME_ASSIGNMENT)
			return;
		f->pending = true;	/* reported unless "()" makes it a function's name */
		f->phase = CMDLINE_ARGS;
		return;
	case CMDLINE_TEST:
		if (word_is(f, "]]"))
			f->phase = CMDLINE_ARGS;
		return;
	case CMDLINE_CASE_WORD:
		if (word_is(f, "in")) {
			f->case_depth++;
			f->phase = CMDLINE_PATTERN;
		}
		return;
	case CMDLINE_PATTERN:
		if (word_is(f, "esac")) {
			f->case_depth--;
			f->phase = CMDLINE_ARGS;
		}
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
	f->redirect = f->heredoc = false;
	/* A case's patterns and its header may span lines and "|"-separated alternatives. */
	if (f->phase == CMDLINE_PATTERN && c != ')')
		return;
	if (f->phase == CMDLINE_CASE_WORD && c == '\n')
		return;
	f->phase = CMDLINE_COMMAND;
}

/* $ in owner's word; owner NULL: where words do not matter (inside ${...} or arithmetic). */
static void dollar(struct cmdline_run *r, struct cmdline_frame *owner, bool in_dquote)
{
	char c = next_char(r);
	char quote_close = owner ? 0 : SILENT;

	if (c == '(' || c == '{') {
		r->p++;
		if (owner)
			word_expand(owner);
		if (c == '{')
			frame_push(r, CMDLINE_PARAM, 0);
		else if (next_char(r) == '(')
			r->p++, frame_push(r, CMDLINE_NOCMD, 'D');
		else
			frame_push(r, CMDLINE_COMMANDS, ')');
	} else if ((c == '\'' || c == '"') && !in_dquote) {
		r->p++;
		if (owner) {
			word_start(owner);
			owner->word_quoted = true;
		}
		frame_push(r, c == '"' ? CMDLINE_DQUOTE : CMDLINE_ANSI, quote_close);
	} else if (owner) {
		word_expand(owner);
		word_add(owner, '$', false);
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
	if (f->pending && function_parens(r)) {
		f->pending = false;
		f->phase = CMDLINE_COMMAND;
		return;
	}
	report_pending(r, f);
	if (f->phase == CMDLINE_COMMAND && next_char(r) == '(') {
		r->p++;
		frame_push(r, CMDLINE_NOCMD, 'D');	/* (( arithmetic )) */
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
		separate(r, f, ')');
		return;
	}
	separate(r, f, ')');
	if (f->parens > 0)
		f->parens--;
	else if (f->close == ')')
		frame_pop(r);
}

static void step_commands(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	if (f->pending && !is_blank(c) && c != '(')
		report_pending(r, f);
	switch (c) {
	case ' ':
	case '\t':
		word_end(r, f);
		break;
	case '\n':
		separate(r, f, c);
		r->st->in_body = r->st->heredoc_count > 0;
		break;
	case '#':
		if (f->in_word) {
			word_add(f, c, false);
			break;
		}
		while (r->p < r->end && *r->p != '\n')
			r->p++;
		break;
	case '\\':
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
		if (f->close == '`') {
			separate(r, f, c);
			frame_pop(r);
		} else {
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
			if (f->case_depth > 0)
				f->phase = CMDLINE_PATTERN;	/* ;; ;& ;;& end a case item */
			break;
		}
		separate(r, f, c);
		break;
	case '&':
		if (next_char(r) == '>') {
			redirection(r, f, c);
		} else if (f->phase == CMDLINE_TEST && next_char(r) == '&') {
			r->p++;
			word_end(r, f);
		} else {
			r->p += next_char(r) == '&';
			separate(r, f, c);
		}
		break;
	case '|':
		if ((f->phase == CMDLINE_TEST && next_char(r) == '|') || f->phase == CMDLINE_PATTERN) {
			r->p += next_char(r) == '|';
			word_end(r, f);
		} else {
			r->p += next_char(r) == '|' || next_char(r) == '&';
			separate(r, f, c);
		}
		break;
	case '<':
	case '>':
		if (f->phase == CMDLINE_TEST)
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
			separate(r, f, c);
			break;
		}
		word_add(f, c, false);
		break;
	default:
		word_add(f, c, false);
		break;
	}
}

static void step_quoted(struct cmdline_run *r, struct cmdline_frame *f, char c)
{
	struct cmdline_frame *owner = f->close == SILENT ? NULL : frame_owner(r);

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
		} else if (owner) {
			word_add(owner, c, true);
		}
		break;
	case CMDLINE_DQUOTE:
		if (c == '"') {
			frame_pop(r);
		} else if (c == '\\' && r->p < r->end && strchr("$`\"\\\n", *r->p)) {
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
		if (c == '\\') {
			r->p += r->p < r->end;
		} else if (c == '\'' || c == '"') {
			frame_push(r, c == '"' ? CMDLINE_DQUOTE : CMDLINE_SQUOTE, SILENT);
		} else if (c == '$') {
			dollar(r, NULL, false);
		} else if (c == '`') {
			frame_push(r, CMDLINE_COMMANDS, '`');
		} else if (f->kind == CMDLINE_PARAM) {
			if (c == '{')
				f->braces++;
			else if (c == '}' && f->braces-- == 0)
				frame_pop(r);
		} else if (c == '(') {
			f->parens++;
		} else if (c == ')') {
			if (f->parens > 0) {
				f->parens--;
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

/* A heredoc body line: the first waiting delimiter on a line of its own ends that body. */
static void heredoc_line(struct cmdline_state *st, const char *line, size_t len)
{
	struct cmdline_heredoc *h = &st->heredocs[0];

	if (len > 0 && line[len - 1] == '\n')
		len--;
	while (h->strip && len > 0 && *line == '\t')
		line++, len--;
	if (len != h->len || memcmp(line, h->delim, len) != 0)
		return;
	memmove(st->heredocs, st->heredocs + 1, --st->heredoc_count * sizeof(st->heredocs[0]));
	st->in_body = st->heredoc_count > 0;
}

int cmdline_feed(struct cmdline_state *st, const char *line, size_t len, cmdline_command_fn fn, void *ctx)
{
	struct cmdline_run r = { st, fn, ctx, line, line + len, false };

	if (st->in_body) {
		heredoc_line(st, line, len);
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
