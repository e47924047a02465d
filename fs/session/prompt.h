/*
 * seshfs: prompt markers, how a session knows the shell is waiting for input.
 *
 * The shell runs interactively with PS1 and PS2 set (by the first line
 * seshfs sends it, so they are never exported to child shells) to a command
 * substitution that prints nothing as the prompt but writes a marker to
 * private copies of stdout and stderr (fds 8 and 9):
 *
 *     \036 TOKEN :1: STATUS \037     before reading a new command (PS1)
 *     \036 TOKEN :1: STATUS : CWD \037  the same, with the working directory
 *                                 (on stdout only: fd 8)
 *     \036 TOKEN :2 \037             before reading a continuation line (PS2)
 *     \036 TOKEN :3 \037             the same, printed by bash itself (no
 *                                 fork): on its stderr only
 *     \036 TOKEN :0 \037             after reading a command, before running it
 *                                 (bash's PS0, on the shell's stderr only)
 *
 * TOKEN is random per session. The marker is written after everything the
 * last command wrote to that stream, so a marker on both streams means both
 * are drained up to the prompt. Where the shell's stdout and stderr are one
 * stream (a terminal, or stderr merged into stdout) the markers come on
 * stdout only, :0 and :3 included (bash's stderr is that stream), and in a
 * terminal bash's PS1 itself is its :1 marker, after the job reports it
 * prints before prompting. The scanner passes every other byte through
 * unchanged and strips markers; a byte sequence that only starts like a
 * marker is held back until it is told apart, never eaten. Once a marker's
 * head and status are read, it is one: its CWD runs to the next \037, and
 * is given as unknown (NULL) if longer than PROMPT_CWD_MAX.
 */
#ifndef SESHFS_PROMPT_H
#define SESHFS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#define PROMPT_TOKEN_LEN 16
/* \036 + token + ":1:" + up to 3 status digits + \037 */
#define PROMPT_MARKER_MAX (1 + PROMPT_TOKEN_LEN + 3 + 3 + 1)
/* The newline bytes eaten before a marker after an interrupt: two CRLFs on a terminal. */
#define PROMPT_EAT_MAX 4
/* The shell line that installs the markers; fits PROMPT_TOKEN_LEN hex digits. */
#define PROMPT_SETUP_MAX 1024
/* The longest working directory a marker reports (PATH_MAX). */
#define PROMPT_CWD_MAX 4096

enum prompt_kind {
	PROMPT_START = 0,	/* PS0: the shell runs the command it read */
	PROMPT_COMMAND = 1,	/* PS1: the shell waits for a new command */
	PROMPT_CONTINUATION = 2,	/* PS2: the shell waits for the rest of one */
	PROMPT_CONTINUATION_STDERR = 3,	/* PS2 printed by bash itself: on stderr only */
};

struct prompt_sink {
	void (*data)(void *ctx, const char *data, size_t len);
	/* cwd: PROMPT_COMMAND with a working directory, else NULL. */
	void (*marker)(void *ctx, enum prompt_kind kind, int status, const char *cwd, size_t cwd_len);
	void *ctx;
};

struct prompt_scanner {
	char token[PROMPT_TOKEN_LEN + 1];
	char head[PROMPT_TOKEN_LEN + 3];	/* \036 TOKEN : */
	size_t head_len;
	char held[PROMPT_MARKER_MAX + PROMPT_EAT_MAX];
	size_t held_len;
	/*
	 * Set when the shell was interrupted: an interactive shell prints one
	 * newline before its next prompt, which is dropped with the marker.
	 * Cleared by the next prompt marker (PS0 is not a prompt). On a terminal
	 * (crlf) that is up to two CRLFs, all on the one stream.
	 */
	bool eat_newline;
	bool crlf;
	/* Inside a marker's CWD: its status, and the bytes so far (heap, grown as needed). */
	bool in_cwd;
	int cwd_status;
	char *cwd;
	size_t cwd_len;
	size_t cwd_size;
};

void prompt_scanner_init(struct prompt_scanner *sc, const char *token);
/* Frees what the scanner holds; init makes it usable again. */
void prompt_scanner_free(struct prompt_scanner *sc);
void prompt_scan(struct prompt_scanner *sc, const char *data, size_t len, const struct prompt_sink *sink);
/* End of stream: whatever was held back is user output after all. */
void prompt_scan_flush(struct prompt_scanner *sc, const struct prompt_sink *sink);

/*
 * The line seshfs sends first: sets PS1/PS2 to the marker hooks. Returns
 * its length. tty, or merged (the shell's stderr is its stdout): the
 * markers go to stdout once; echo off turns the terminal's echo off.
 */
int prompt_setup_line(const char *token, bool tty, bool merged, bool echo, char *buf, size_t size);

#endif
