/*
 * seshfs: the ctl file's language.
 *
 * Writing: one command per line, all parsed before any is applied, so a
 * bad line changes nothing:
 *   timeout SECONDS    decimal, >= 0 (milliseconds precision)
 *   signal NAME        INT TERM KILL HUP QUIT USR1 USR2 (SIG prefix optional)
 * Reading: "key value" lines, formatted by ctl_format().
 */
#ifndef SESHFS_CTL_H
#define SESHFS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAX_COMMANDS 16
#define CTL_ERR_MAX 128
#define CTL_TIMEOUT_MAX_MS (INT64_C(1000000000) * 1000)

enum ctl_verb {
	CTL_TIMEOUT,
	CTL_SIGNAL,
};

struct ctl_command {
	enum ctl_verb verb;
	int64_t timeout_ms;	/* CTL_TIMEOUT */
	const char *signal;	/* CTL_SIGNAL: canonical name without SIG, static */
};

/* Returns the number of commands, or -EINVAL with a one-line reason in err. */
int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS],
	      char err[CTL_ERR_MAX]);

/* Parses a timeout in seconds ("1", "0.25"); -EINVAL if malformed or out of range. */
int ctl_parse_seconds(const char *text, size_t len, int64_t *ms);
/* Formats milliseconds as seconds without trailing zeros ("1", "0.25"). */
void ctl_format_seconds(int64_t ms, char *buf, size_t size);

#endif
