/*
 * seshfs: the ctl language (see ctl.c): the command table and its parser.
 */
#ifndef SESHFS_CTL_H
#define SESHFS_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_lang.h"

struct ctl_command;
struct ctl_change;

/* One ctl command: a row of ctl.c's table. */
struct ctl_cmdtab {
	const char *name;
	const char *usage;	/* what the argument must be, for the error line */
	/* Is the argument well-formed? Parses it into the command; 0 or -EINVAL. */
	int (*validate)(struct ctl_command *cmd);
	/* Stages the command in a write's change; 0 or -errno with err set. */
	int (*apply)(struct ctl_change *change, const struct ctl_command *cmd, char err[CTL_ERR_MAX]);
	size_t field;		/* the field of the change a generic apply sets */
	bool verbatim;		/* the argument keeps its trailing blanks */
	bool locked;		/* a start setting that steps around a policy: EPERM under lock_settings */
};

struct ctl_command {
	const struct ctl_cmdtab *def;
	const char *arg;	/* the rest of the line, pointing into the parsed text */
	size_t arg_len;
	int64_t number;		/* timeout: milliseconds */
	bool flag;		/* a choice: the first of the row's usage */
	const char *signal;	/* canonical name without SIG, static */
	unsigned cols, rows;
};

/* What the argument of the command name must be (its row's usage). */
const char *ctl_command_usage(const char *name);

/* Returns the number of commands, or -EINVAL with a one-line reason in err. */
int ctl_parse(const char *text, size_t len, struct ctl_command cmds[CTL_MAX_COMMANDS], char err[CTL_ERR_MAX]);

#endif
