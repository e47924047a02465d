/*
 * seshfs: the ctl file's language.
 *
 * Writing: one command per line, all parsed before any is applied, so a
 * bad line changes nothing:
 *   timeout SECONDS    read timeout for later opens (decimal, >= 0)
 *   eof idle|deadline  reads end when the shell is idle (default), or only at the deadline
 *   signal NAME        INT TERM KILL HUP QUIT USR1 USR2 (SIG prefix optional)
 *   resize COLS ROWS   terminal size (tty sessions)
 *   shell PATH | user NAME | workdir PATH | env K=V | unsetenv K | tty on|off
 *                      start settings, applied by the next restart
 *   restart            closes the shell and starts a new one with the settings
 */
#ifndef SESHFS_CTL_H
#define SESHFS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_COMMANDS 16
#define CTL_ERR_MAX 128
#define CTL_TIMEOUT_MAX_MS (INT64_C(1000000000) * 1000)
#define CTL_SIZE_MAX 10000

enum ctl_verb {
	CTL_TIMEOUT,
	CTL_EOF,
	CTL_SIGNAL,
	CTL_RESIZE,
	CTL_SHELL,
	CTL_USER,
	CTL_WORKDIR,
	CTL_ENV,
	CTL_UNSETENV,
	CTL_TTY,
	CTL_RESTART,
};

struct ctl_command {
	enum ctl_verb verb;
	int64_t timeout_ms;	/* CTL_TIMEOUT */
	bool flag;		/* CTL_EOF: true = idle; CTL_TTY: on */
	const char *signal;	/* CTL_SIGNAL: canonical name without SIG, static */
	unsigned cols, rows;	/* CTL_RESIZE */
	const char *arg;	/* CTL_SHELL .. CTL_UNSETENV: points into the parsed text */
	size_t arg_len;
};

/* Returns the number of commands, or -EINVAL with a one-line reason in err. */
int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS],
	      char err[CTL_ERR_MAX]);

/* Parses a timeout in seconds ("1", "0.25"); -EINVAL if malformed or out of range. */
int ctl_parse_seconds(const char *text, size_t len, int64_t *ms);
/* Formats milliseconds as seconds without trailing zeros ("1", "0.25"). */
void ctl_format_seconds(int64_t ms, char *buf, size_t size);

#endif
