/*
 * seshfs backend: shell start-up and in-container signals (see procctl.h).
 */
#include "procctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PROCCTL_TIMEOUT_MS 15000
#define PROCCTL_BUSY 3
#define PROCCTL_SHELL_SIGNALED 4
#define PROCCTL_SHELL_GONE 5

/*
 * $0 is the shell, $1 "pipe" or "tty", $2 "merged" or "separate", $3 "ask"
 * or "stay". The shell must exist before the first line says "PID DIALECT"
 * (procctl.h). With "ask" it then reads one line on stdin: "-", or a
 * directory that holds the FIFOs in, out and err (../backend/fifo.h); it
 * moves stdin, stdout and stderr onto them and says "fifo" on fd 7, a copy
 * of the exec's stdout kept open so that the exec stream still ends only
 * with the shell; or "exec" on stdout if it could not open them (then it
 * stays on the exec stream, as with "-"). The shell runs
 * interactively (so that it prompts, see prompt.h) with private copies of
 * stdout and stderr on fds 8 and 9 for the prompt markers (merged: its fd 2
 * is then stdout, and every marker comes on stdout alone, as on a tty: see
 * prompt_setup_line), without start-up files and without line editing (a
 * tty's echo is the terminal's own). bash without history expansion: a `!`
 * in a line (`x=!!`) would run text nobody wrote there; and without its
 * history list, which grows every line of a multi-line command into one
 * entry (a 750 KB heredoc took bash 28 s instead of 0.1 s). Busybox ash
 * reads an interactive stdin with fgets(), which a SIGCHLD (a background job
 * ending) turns into end of input for good; given its stdin as a script it
 * reads with EINTR-safe read(2) and still expands PS1 before each command.
 *
 * The dialect is found without running the shell (a program that is no
 * shell may never return): by its name, then the names along its symlinks
 * (/bin/sh -> busybox, -> dash), then busybox by identity (the same file as
 * busybox in PATH: a hard link) or by content (a copy: an ELF file that
 * says BusyBox). Anything else is a POSIX sh. A bare name is looked up in
 * PATH by hand: busybox's `command -v` answers an applet's name, not a path.
 */
static const char procctl_shell_wrapper[] =
	"command -v \"$0\" >/dev/null 2>&1 || { echo \"shell $0 not found\"; exit 127; }\n"
	"path_find() {\n"
	"  rest=$PATH:\n"
	"  while [ -n \"$rest\" ]; do\n"
	"    dir=${rest%%:*} rest=${rest#*:}\n"
	"    [ -f \"${dir:-.}/$1\" ] && [ -x \"${dir:-.}/$1\" ] && { found=${dir:-.}/$1; return 0; }\n"
	"  done\n"
	"  return 1\n"
	"}\n"
	"file=$0 dialect=sh hops=0\n"
	"case $0 in */*) ;; *) path_find \"$0\" && file=$found ;; esac\n"
	"while :; do\n"
	"  case ${file##*/} in bash) dialect=bash ;; dash) dialect=dash ;; busybox*) dialect=ash ;; esac\n"
	"  [ $dialect = sh ] && [ -L \"$file\" ] && [ $hops -lt 16 ] || break\n"
	"  link=$(ls -ld \"$file\" </dev/null 2>/dev/null) || break\n"
	"  link=${link#* -> } hops=$((hops + 1))\n"
	"  case $link in /*) file=$link ;; *) file=${file%/*}/$link ;; esac\n"
	"done\n"
	"if [ $dialect = sh ] && [ -f \"$file\" ]; then\n"
	"  if path_find busybox && [ \"$file\" -ef \"$found\" ]; then dialect=ash\n"
	"  else case $(head -c 4 \"$file\" </dev/null 2>/dev/null) in\n"
	"    ?ELF) grep -q -F BusyBox \"$file\" </dev/null 2>/dev/null && dialect=ash ;;\n"
	"  esac; fi\n"
	"fi\n"
	"echo \"$$ $dialect\"\n"
	"if [ \"$3\" = ask ] && read -r dir && [ \"$dir\" != - ]; then\n"
	"  if { command exec 3<\"$dir/in\" 4>\"$dir/out\" 5>\"$dir/err\"; } 2>/dev/null; then\n"
	"    exec 7>&1 <&3 >&4 2>&5 3<&- 4>&- 5>&-\n"
	"    echo fifo >&7\n"
	"  else\n"
	"    exec 3<&- 4>&- 5>&-\n"
	"    echo exec\n"
	"  fi\n"
	"fi\n"
	"exec 8>&1 9>&2\n"
	"[ \"$1:$2\" = pipe:merged ] && exec 2>&1\n"
	"unset ENV\n"
	"case $dialect in\n"
	"bash) exec \"$0\" --norc --noprofile --noediting +H +o history -i ;;\n"
	"ash) exec \"$0\" -i /dev/stdin ;;\n"
	"esac\n"
	"exec \"$0\" -i\n";

/*
 * $1 signal, or "waiting" to ask whether the shell waits for input (exit 0)
 * or runs something (exit 3), or "reading" whether a program it runs reads
 * the shell's stdin (exit 0) or not (exit 3), "reading-shell" the same
 * counting the shell itself (its read builtin); a signal exits 4 if it reached the shell
 * itself, and either exits 5 if the shell is gone; $2 foreground|shell|all, $3
 * marker (an extended regular expression matching environment entries),
 * then the shell pids.
 *
 * A process is the session's only while its environment carries the
 * marker: a pid the kernel gave to another process since is left alone, so
 * each pid is checked before it is signalled, by one grep over every environ
 * (a fork per pid would cost seconds with a thousand). "all" kills each shell's
 * process group (busybox kill takes -PGID, dash wants -- -PGID): an exec'd
 * shell leads its own group and, without job control, everything it starts
 * stays in it. A live leader without the marker means the pid was reused,
 * and the group is not ours; a group whose leader is gone is still the
 * shell's, since a group's id is not given out while it has members. What
 * left the group (setsid) still carries the marker, found by the same grep
 * (busybox grep -F stops at the NULs in there; a regex does not). The
 * helper runs as the sessions' user: root without CAP_SYS_PTRACE cannot
 * read another user's environ.
 */
static const char procctl_signal_script[] =
	"sig=$1 target=$2 marker=$3\n"
	"shift 3\n"
	"if [ \"$target\" = all ]; then\n"
	"  marked=$(grep -l -E -e \"$marker\" /proc/[0-9]*/environ 2>/dev/null)\n"
	"  for pid; do\n"
	"    case $marked in *\"/proc/$pid/environ\"*) ;; *) [ -d \"/proc/$pid\" ] && continue ;; esac\n"
	"    kill -s \"$sig\" \"-$pid\" 2>/dev/null || kill -s \"$sig\" -- \"-$pid\" 2>/dev/null\n"
	"  done\n"
	"  for file in $marked; do\n"
	"    file=${file#/proc/}; kill -s \"$sig\" \"${file%/environ}\" 2>/dev/null\n"
	"  done\n"
	"  exit 0\n"
	"fi\n"
	"grep -q -E -e \"$marker\" \"/proc/$1/environ\" 2>/dev/null || exit 5\n"
	"[ \"$target\" = shell ] && { kill -s \"$sig\" \"$1\"; exit 4; }\n"
	"shell=$1 table=\n"
	"for dir in /proc/[0-9]*; do\n"
	"  pid=${dir#/proc/}\n"
	"  [ \"$pid\" = \"$$\" ] && continue\n"
	"  ppid= ign=\n"
	"  { while read -r key value rest; do\n"
	"      case $key in PPid:) ppid=$value ;; SigIgn:) ign=$value; break ;; esac\n"
	"    done < \"$dir/status\"; } 2>/dev/null\n"
	"  [ -n \"$ppid\" ] && [ -n \"$ign\" ] && table=\"$table $pid:$ppid:$ign\"\n"
	"done\n"
	"# The shell's children that do not ignore SIGINT, then their descendants.\n"
	"picked=' ' changed=1\n"
	"while [ $changed = 1 ]; do\n"
	"  changed=0\n"
	"  for entry in $table; do\n"
	"    pid=${entry%%:*} rest=${entry#*:}\n"
	"    ppid=${rest%%:*} ign=${rest#*:}\n"
	"    case $picked in *\" $pid \"*) continue ;; esac\n"
	"    case $picked in\n"
	"      *\" $ppid \"*) ;;\n"
	"      *) [ \"$ppid\" = \"$shell\" ] && [ $((0x$ign & 2)) -eq 0 ] || continue ;;\n"
	"    esac\n"
	"    picked=\"$picked$pid \" changed=1\n"
	"  done\n"
	"done\n"
	"set -- $picked\n"
	"# Busy unless asleep reading input: in wait() a child runs, and a shell that polls its\n"
	"# input is inside a builtin (busybox's read) while at its prompt it blocks in read().\n"
	"# A terminal's read sleeps in wait_woken: that is a prompt, not a wait for a child.\n"
	"shell_busy() {\n"
	"  read -r pid comm st rest < /proc/$shell/stat || return 0\n"
	"  read -r wchan < /proc/$shell/wchan\n"
	"  case $st:$wchan in S:wait_woken) return 1 ;; S:*wait*|S:*poll*|S:*select*) return 0 ;; S:*) return 1 ;; esac\n"
	"}\n"
	"# Reading: a foreground process on the shell's stdin, asleep in a read (or a poll, a REPL's);\n"
	"# reading-shell: the shell itself too (seshfs knows it runs a command: its read builtin).\n"
	"case $sig in reading|reading-shell)\n"
	"  [ \"$sig\" = reading-shell ] && set -- \"$shell\" \"$@\"\n"
	"  for pid; do\n"
	"    [ /proc/$pid/fd/0 -ef /proc/$shell/fd/0 ] || continue\n"
	"    wchan=; read -r wchan < /proc/$pid/wchan 2>/dev/null  # no newline there: read fails, yet sets it\n"
	"    case $wchan in *read*|*poll*|*select*|wait_woken|pipe_wait) exit 0 ;; esac\n"
	"  done\n"
	"  exit 3 ;;\n"
	"esac\n"
	"if [ \"$sig\" = waiting ]; then\n"
	"  [ $# -eq 0 ] && ! shell_busy && exit 0\n"
	"  exit 3\n"
	"fi\n"
	"status=0\n"
	"# Like Ctrl-C: an interactive shell that is running something aborts it on INT.\n"
	"case $sig in INT|QUIT) shell_busy && { set -- \"$@\" $shell; status=4; } ;; esac\n"
	"[ $# -eq 0 ] || kill -s \"$sig\" \"$@\" 2>/dev/null\n"
	"exit $status\n";

/*
 * The mount's watchdog: $1 the mount's marker, $2 "own" if seshfs made the
 * container (-o image=). seshfs writes "+PID" for
 * each shell it starts and "-PID" once that shell is cleaned up, and "="
 * when it stops cleanly (its own clean-up ran: nothing to do); it never
 * closes the watchdog's stdin while it lives. EOF means seshfs is gone:
 * then every process with the marker dies, and the groups of the shells it
 * was told of (those it cannot inspect, another user's, included), and
 * every member of the mount's session cgroups (cgroup.h: on a local engine
 * the container sees them, read-only, under /sys/fs/cgroup), and a
 * container of seshfs's own ends: its init forwards TERM to the keep-alive,
 * and the engine removes it (auto-remove). It runs
 * as root and carries no session marker, so no session's clean-up kills it.
 * One line, so that ps shows it whole; it starts with its name.
 */
static const char procctl_watchdog_script[] =
	": seshfs-watchdog; marker=$1 shells=' '; "
	"while read -r line; do p=${line#?}; case $line:$shells in "
	"=*) exit 0 ;; "
	"+*) shells=\"$shells$p \" ;; -*\" $p \"*) shells=\"${shells%% $p *} ${shells#* $p }\" ;; esac; done; "
	/* One grep -L for every shell: a readable environ without the marker is a reused pid. */
	"files=; for pid in $shells; do files=\"$files /proc/$pid/environ\"; done; "
	"reused=$(grep -L -E -e \"$marker\" $files 2>/dev/null); "
	"for pid in $shells; do case $reused in *\"/proc/$pid/environ\"*) continue ;; esac; "
	"kill -s KILL \"-$pid\" 2>/dev/null || kill -s KILL -- \"-$pid\" 2>/dev/null; done; "
	"for file in $(grep -l -E -e \"$marker\" /proc/[0-9]*/environ 2>/dev/null); do "
	"file=${file#/proc/}; kill -s KILL \"${file%/environ}\" 2>/dev/null; done; "
	/* The sessions' cgroups: read-only in here, their cgroup.procs list the container's pids. */
	"t=${marker#*=}; t=${t%\\\\.}; for round in 1 2 3; do "
	"for file in /sys/fs/cgroup/seshfs-$t-*/cgroup.procs /sys/fs/cgroup/*/seshfs-$t-*/cgroup.procs; do "
	"[ -r \"$file\" ] && while read -r pid; do kill -s KILL \"$pid\"; done < \"$file\"; done 2>/dev/null; done; "
	"[ \"$2\" = own ] && kill -s TERM 1";

void procctl_watchdog_argv(const char *marker, bool own_container, const char *argv[PROCCTL_WATCHDOG_ARGC])
{
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = procctl_watchdog_script;
	argv[3] = "seshfs-watchdog";
	argv[4] = marker;
	argv[5] = own_container ? "own" : "attached";
	argv[6] = NULL;
}

void procctl_shell_argv(const char *shell, bool tty, bool stderr_merged, bool ask_fifo,
			const char *argv[PROCCTL_SHELL_ARGC])
{
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = procctl_shell_wrapper;
	argv[3] = shell;
	argv[4] = tty ? "tty" : "pipe";
	argv[5] = stderr_merged ? "merged" : "separate";
	argv[6] = ask_fifo ? "ask" : "stay";
	argv[7] = NULL;
}

static const char *const procctl_target_names[] = {
	[PROCCTL_FOREGROUND] = "foreground",
	[PROCCTL_SHELL] = "shell",
	[PROCCTL_ALL] = "all",
};

/* Runs the helper script; returns its exit code or -errno. */
static int procctl_run(struct engine *e, const struct procctl_scope *scope, const char *signal,
		       enum procctl_target target, const int *shell_pids, size_t npids,
		       char err[ENGINE_ERR_MAX])
{
	const char **argv = calloc(npids + 8, sizeof(*argv));
	char (*pid_text)[16] = calloc(npids + 1, sizeof(*pid_text));
	char output[256];
	int exit_code = 0;
	int ret = -ENOMEM;
	size_t argc = 0;

	if (!argv || !pid_text) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		goto out;
	}
	argv[argc++] = "/bin/sh";
	argv[argc++] = "-c";
	argv[argc++] = procctl_signal_script;
	argv[argc++] = "seshfs-signal";
	argv[argc++] = signal;
	argv[argc++] = procctl_target_names[target];
	argv[argc++] = scope->marker;
	for (size_t i = 0; i < npids; i++) {
		snprintf(pid_text[i], sizeof(pid_text[i]), "%d", shell_pids[i]);
		argv[argc++] = pid_text[i];
	}
	argv[argc] = NULL;

	struct engine_exec_spec spec = {
		.container = scope->container,
		.argv = argv,
		.user = scope->user,
	};
	ret = e->ops->exec_run(e, &spec, PROCCTL_TIMEOUT_MS, &exit_code, output, sizeof(output), err);
	if (ret == 0) {
		ret = exit_code;
		if (exit_code != 0 && exit_code != PROCCTL_BUSY && exit_code != PROCCTL_SHELL_SIGNALED &&
		    exit_code != PROCCTL_SHELL_GONE)
			snprintf(err, ENGINE_ERR_MAX, "signal helper exited %d: %.160s", exit_code, output);
	}
out:
	free(pid_text);
	free(argv);
	return ret;
}

/* The helper's exit codes that are not answers. */
static int procctl_failure(int ret, char err[ENGINE_ERR_MAX])
{
	if (ret == PROCCTL_SHELL_GONE) {
		snprintf(err, ENGINE_ERR_MAX, "the shell is gone");
		return -ESRCH;
	}
	return ret > 0 ? -EIO : ret;
}

int procctl_signal(struct engine *e, const struct procctl_scope *scope, const char *signal,
		   enum procctl_target target, const int *shell_pids, size_t npids, char err[ENGINE_ERR_MAX])
{
	int ret = procctl_run(e, scope, signal, target, shell_pids, npids, err);

	if (ret == 0 || ret == PROCCTL_SHELL_SIGNALED)
		return ret == PROCCTL_SHELL_SIGNALED;
	return procctl_failure(ret, err);
}

int procctl_shell_waiting(struct engine *e, const struct procctl_scope *scope, int shell_pid,
			  char err[ENGINE_ERR_MAX])
{
	int ret = procctl_run(e, scope, "waiting", PROCCTL_FOREGROUND, &shell_pid, 1, err);

	if (ret == 0 || ret == PROCCTL_BUSY)
		return ret == 0;
	return procctl_failure(ret, err);
}

int procctl_stdin_reader(struct engine *e, const struct procctl_scope *scope, int shell_pid, bool shell_counts,
			 char err[ENGINE_ERR_MAX])
{
	int ret = procctl_run(e, scope, shell_counts ? "reading-shell" : "reading", PROCCTL_FOREGROUND, &shell_pid,
			      1, err);

	if (ret == 0 || ret == PROCCTL_BUSY)
		return ret == 0;
	return procctl_failure(ret, err);
}

int procctl_executable(struct engine *e, const char *container, const char *path, char err[ENGINE_ERR_MAX])
{
	const char *argv[] = { "/bin/sh", "-c", "test -f \"$1\" && test -x \"$1\"", "seshfs-test", path, NULL };
	struct engine_exec_spec spec = { .container = container, .argv = argv };
	char output[128];
	int exit_code = -1;
	int ret = e->ops->exec_run(e, &spec, PROCCTL_TIMEOUT_MS, &exit_code, output, sizeof(output), err);

	if (ret < 0)
		return ret;
	if (exit_code != 0 && exit_code != 1) {
		snprintf(err, ENGINE_ERR_MAX, "test -x exited %d: %.80s", exit_code, output);
		return -EIO;
	}
	return exit_code == 0;
}
