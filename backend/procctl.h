/*
 * seshfs backend: processes of a session inside the container.
 *
 * The engine has no call to signal an exec, and a host pid is useless on a
 * remote engine. So each shell is started through /bin/sh, which prints its
 * in-container pid and the shell's dialect (sh, bash, ash or dash: the names
 * of guard/cmdline.h) on the first stdout line, "PID DIALECT", and then execs
 * the shell; every process a session starts inherits the environment entry
 * SESHFS_SESSION=<mount token>.<session id>. Signals are sent by a short
 * helper exec that looks through /proc inside the container.
 */
#ifndef SESHFS_PROCCTL_H
#define SESHFS_PROCCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

#define PROCCTL_ENV_NAME "SESHFS_SESSION"

enum procctl_target {
	/* Children of the shells that do not ignore SIGINT (background jobs of a
	 * shell without job control do), and their descendants; for INT and QUIT
	 * also the shell itself while it runs something, as Ctrl-C would. */
	PROCCTL_FOREGROUND,
	/* The shell alone: at a continuation prompt, INT makes it drop the partial line. */
	PROCCTL_SHELL,
	/* The shells' process groups and every process carrying the marker. */
	PROCCTL_ALL,
};

#define PROCCTL_SHELL_ARGC 8

/*
 * argv for the exec that runs shell (a path or a name on PATH); NULL-terminated.
 * stderr_merged: the shell's fd 2 is its stdout (pipe sessions; a tty merges anyway).
 * ask_fifo: after the first line the wrapper waits for one line on stdin,
 * the directory of FIFOs to move onto or "-" (see procctl.c).
 */
void procctl_shell_argv(const char *shell, bool tty, bool stderr_merged, bool ask_fifo,
			const char *argv[PROCCTL_SHELL_ARGC]);

#define PROCCTL_WATCHDOG_ARGC 7

/*
 * argv for the mount's watchdog exec (see procctl.c); NULL-terminated.
 * own_container: seshfs made the container, which ends with seshfs.
 */
void procctl_watchdog_argv(const char *marker, bool own_container, const char *argv[PROCCTL_WATCHDOG_ARGC]);

/* Whose processes a helper acts on. */
struct procctl_scope {
	const char *container;
	const char *user;	/* the helper runs as the sessions' user ("": the container's) */
	/* What every process of theirs carries in its environment: an extended regular expression */
	const char *marker;
};

/*
 * Sends signal (a name such as "INT") to the target processes, each proven
 * the scope's by its marker first. Returns 1 if the shell itself got it
 * (see PROCCTL_FOREGROUND), 0 if not, -ESRCH if the shell is gone, -errno
 * if the helper failed.
 */
int procctl_signal(struct engine *e, const struct procctl_scope *scope, const char *signal,
		   enum procctl_target target, const int *shell_pids, size_t npids, char err[ENGINE_ERR_MAX]);

/*
 * Does the shell wait for input: asleep outside wait(), with no foreground
 * child? 1 yes, 0 no, -ESRCH if it is gone, -errno when the helper could not tell.
 */
int procctl_shell_waiting(struct engine *e, const struct procctl_scope *scope, int shell_pid,
			  char err[ENGINE_ERR_MAX]);

/*
 * Asked while a command runs: does it read the shell's stdin now, a program
 * it runs asleep in a read or poll on it? shell_counts: the caller knows the
 * shell runs a command, so the shell reading is its read builtin. 1 yes, 0
 * no, -ESRCH if the shell is gone, -errno when the helper could not tell.
 */
int procctl_stdin_reader(struct engine *e, const struct procctl_scope *scope, int shell_pid, bool shell_counts,
			 char err[ENGINE_ERR_MAX]);

/* Is path an executable file in the container? 1 yes, 0 no, -errno when the helper failed. */
int procctl_executable(struct engine *e, const char *container, const char *path, char err[ENGINE_ERR_MAX]);

#endif
