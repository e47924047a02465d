/*
 * seshfs: the command words of shell input, for the policy's allow-list.
 *
 * Input is fed a line at a time; the splitter reports the first word of
 * every simple command, unquoted, as the shell would run it. Commands are
 * separated by ; & | && || newline ( ) { } (a redirection such as 2>&1
 * separates nothing); $(...), <(...), >(...) and backquotes are looked
 * inside. Skipped: leading NAME=value assignments, redirections and their
 * targets, reserved words (! time if then else elif fi for while until do
 * done case esac select function coproc [[, as the dialect has them), the
 * words of for/case headers, case patterns, [[ ... ]] and (( ... )),
 * function names, comments, heredoc bodies, and the lines an open quote
 * continues. NUL bytes are dropped first, as the shells drop them. Where it
 * cannot tell what the shell will run (or the shells of an unknown sh
 * disagree), it reports a description of the construct as a command word
 * that is not checkable, so the allow-list refuses the line. The state
 * carries over lines, and is a plain struct: copy it to check input
 * without committing.
 */
#ifndef SESHFS_CMDLINE_H
#define SESHFS_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_DEPTH_MAX 16
#define CMDLINE_WORD_MAX 128
#define CMDLINE_HEREDOC_MAX 8
#define CMDLINE_DELIM_MAX 64

/*
 * The shell whose grammar is followed: they differ (bash has the reserved
 * words [[ and coproc, the (( command, $[...] and |&; busybox ash has none
 * of those but a [[ builtin, function, &> and $'...'; dash has none of
 * them, and reads ' inside "${x:-...}" as a character, as ash does). The
 * session's wrapper says which shell it started.
 */
enum cmdline_dialect {
	CMDLINE_POSIX,		/* another POSIX sh: the constructs of them all are followed */
	CMDLINE_BASH,
	CMDLINE_ASH,		/* busybox ash */
	CMDLINE_DASH,
	CMDLINE_DIALECT_COUNT,
};

/* Where the next word of a command list stands. */
enum cmdline_phase {
	CMDLINE_COMMAND,	/* the command word, or an assignment or reserved word before it */
	CMDLINE_ARGS,		/* arguments: nothing to report */
	CMDLINE_FOR_HEADER,	/* for/select NAME in WORDS: up to the separator */
	CMDLINE_CASE_WORD,	/* case WORD: up to "in" */
	CMDLINE_PATTERN,	/* case patterns: up to ")", or esac */
	CMDLINE_FUNCTION_NAME,	/* function NAME */
	CMDLINE_TEST,		/* [[ ... ]]: operators there separate nothing */
};

enum cmdline_frame_kind {
	CMDLINE_COMMANDS,	/* a command list: the top level, $(...), <(...), `...` */
	CMDLINE_SQUOTE,		/* '...' */
	CMDLINE_DQUOTE,		/* "..." */
	CMDLINE_DSQUOTE,	/* '...' inside bash's "${x:-...}": ends at ', expands as "..." */
	CMDLINE_BODY,		/* a heredoc's body, its delimiter unquoted: expands as "..." */
	CMDLINE_ANSI,		/* $'...' */
	CMDLINE_PARAM,		/* ${...} */
	CMDLINE_NOCMD,		/* $((...)), ((...)), NAME=(...): words that are not commands */
};

struct cmdline_frame {
	uint8_t kind;		/* enum cmdline_frame_kind */
	char close;		/* COMMANDS: ')' or '`', 0 at the top; NOCMD: ')' once, or 'D' for "))" */
	uint8_t parens;		/* COMMANDS, NOCMD: '(' opened inside, not closed yet */
	uint8_t part;		/* PARAM: how far into ${...} (enum in cmdline.c) */
	bool dquoted;		/* PARAM: inside "...", where the shells read ' apart */
	/* COMMANDS only, from here on. */
	uint8_t phase;		/* enum cmdline_phase */
	uint8_t case_depth;	/* open case ... esac */
	uint8_t heredocs_before;	/* heredocs waiting when this list opened */
	uint8_t header_words;	/* FOR_HEADER, CASE_WORD: words read after for/select/case; PATTERN: see cmdline.c */
	bool ash_test;		/* busybox ash after a [[ word: && and || are words up to ]] */
	/* What the shell refuses to parse (see syntax_error in cmdline.c). */
	uint8_t empty;		/* no command yet since the last separator (enum in cmdline.c) */
	uint8_t ifs, loops, groups;	/* open if ... fi, for/while ... done, { ... } */
	bool after_time;	/* bash's time: -p may follow */
	bool after_coproc;	/* bash's coproc: NAME may come before the compound */
	bool after_compound;	/* ) } fi done esac ]] )) just closed one: only a closing word may follow */
	char operator_open;	/* | (also |&), or & for && and ||: the command after it is still due */
	bool redirect;		/* the next word is a redirection's target */
	bool heredoc;		/* ... a heredoc's delimiter */
	bool heredoc_strip;	/* <<-: the body's leading tabs go */
	bool pending;		/* word holds a command word, reported unless "()" follows */
	bool in_word;
	bool word_quoted;	/* some of it was quoted: not a reserved word */
	bool word_expands;	/* $ or a backquote: its text is not what runs */
	bool word_lossy;	/* an expansion's text is missing from word */
	bool word_glob;		/* nor with * ? [...] unquoted */
	bool word_bracket;	/* an unquoted [ came */
	bool word_brace;	/* an unquoted { came: bash's {a,b} */
	uint8_t word_name;	/* enum in cmdline.c: is it NAME=... so far */
	uint8_t word_len;
	bool word_long;		/* longer than CMDLINE_WORD_MAX */
	char word[CMDLINE_WORD_MAX];
};

struct cmdline_heredoc {
	char delim[CMDLINE_DELIM_MAX];
	uint8_t len;
	bool strip;
	bool quoted;		/* no expansion in the body, nor backslash-newline */
	uint8_t frame;		/* the command list it was read in: a newline there starts the body */
};

struct cmdline_state {
	uint8_t dialect;	/* enum cmdline_dialect */
	int depth;		/* frames in use; frames[0] is the top level */
	int heredoc_count;	/* delimiters waiting, oldest first */
	bool in_body;		/* lines are heredoc bodies until the delimiters are met */
	/* bash joins body lines ending in a backslash before it looks for the delimiter. */
	bool joining;
	bool joined_long;
	uint8_t joined_len;
	char joined[CMDLINE_DELIM_MAX];
	struct cmdline_heredoc heredocs[CMDLINE_HEREDOC_MAX];
	struct cmdline_frame frames[CMDLINE_DEPTH_MAX];
};

/*
 * A command word: word[0..len) unquoted. checkable is false when the text
 * is not what the shell will run (an expansion, a glob, cut short).
 */
typedef void (*cmdline_command_fn)(void *ctx, const char *word, size_t len, bool checkable);

void cmdline_init(struct cmdline_state *st, enum cmdline_dialect dialect);
/* "bash", "ash", "dash", "sh"; and back: -1 for a name that is none of them. */
const char *cmdline_dialect_name(enum cmdline_dialect dialect);
int cmdline_dialect_parse(const char *name);
/* *dst = *src, copying only the frames in use. */
void cmdline_copy(struct cmdline_state *dst, const struct cmdline_state *src);
/*
 * Feeds one line, its newline included (the last may lack it). 0, or -1
 * when the input nests deeper or names longer heredoc delimiters than the
 * splitter follows: then nothing about it can be trusted.
 */
int cmdline_feed(struct cmdline_state *st, const char *line, size_t len, cmdline_command_fn fn, void *ctx);
/*
 * After a line: the shell reads on before it runs anything (a quote, a
 * heredoc, a parenthesis or case open; a backslash escaped the newline).
 * Compounds such as if ... fi are not followed: false there.
 */
bool cmdline_open(const struct cmdline_state *st);
#endif
