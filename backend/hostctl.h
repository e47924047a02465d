/*
 * seshfs backend: a session's processes controlled from the host.
 *
 * On a local engine (hostproc.h) seshfs sees the shell as a host process,
 * so what procctl.h's helper exec does inside the container (signals, the
 * waiting probe, the reader probe) is done here through the host's /proc,
 * in microseconds instead of an exec's tens of milliseconds, with the same
 * answers. Every process is signalled through a pidfd opened first and
 * checked after: its start time must be the one seen when it was picked, so
 * a pid the kernel gave out again is never signalled. A process group is
 * signalled by kill(-PGID) (a pidfd reaches a group only from Linux 6.9),
 * once its leader, the shell, proved itself.
 */
#ifndef SESHFS_HOSTCTL_H
#define SESHFS_HOSTCTL_H

#include <stdbool.h>

#include "cgroup.h"
#include "engine.h"
#include "procctl.h"

/* A shell as the host sees it. */
struct hostctl_shell {
	int pid;
	unsigned long long start_time;	/* /proc/PID/stat field 22 */
};

/* What /proc/PID/stat says of a process. */
struct hostctl_stat {
	char state;			/* R, S, D, T, Z... */
	int ppid;
	unsigned long long start_time;
};

/* Parses /proc/PID/stat's text (the command name may hold spaces and parentheses): 0, or -EINVAL. */
int hostctl_parse_stat(const char *text, struct hostctl_stat *out);

/*
 * Is the process whose /proc/PID/stat reads text the one that started at
 * start_time? A pid reused since has another start time.
 */
bool hostctl_same_process(const char *stat_text, unsigned long long start_time);

/* Is the host process pid still the one that started at start_time? */
bool hostctl_alive(int pid, unsigned long long start_time);

/* The number of a signal name procctl_signal takes ("INT"), or -EINVAL. */
int hostctl_signal_number(const char *name);

/*
 * procctl_signal's work from the host: the same targets and answers (1 if
 * the shell itself got it, 0 if not, -ESRCH once the shell is gone,
 * -EBUSY while cg is frozen (the container paused, as the engine refuses
 * an exec then), -errno). PROCCTL_ALL (KILL only) kills the shell's group
 * and every member of cg. command_runs: seshfs sent a command the shell
 * has not finished, so PROCCTL_FOREGROUND waits (bounded) until the shell
 * has started it; every signal waits (bounded) until its targets handled it.
 */
int hostctl_signal(const struct hostctl_shell *shell, const struct cgroup *cg, const char *signal,
		   enum procctl_target target, bool command_runs, char err[ENGINE_ERR_MAX]);

/* procctl_shell_waiting's answer from the host, once the shell is at rest (bounded): 1, 0, -ESRCH, -errno. */
int hostctl_shell_waiting(const struct hostctl_shell *shell, char err[ENGINE_ERR_MAX]);

/*
 * procctl_stdin_reader's answer from the host: 1, 0, -ESRCH, -errno. A
 * "no" waits (bounded) until the shell and its command are at rest: a
 * program just started may not have reached its first read.
 */
int hostctl_stdin_reader(const struct hostctl_shell *shell, bool shell_counts, char err[ENGINE_ERR_MAX]);

#endif
