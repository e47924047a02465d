/*
 * seshfs backend: a session's processes controlled from the host (see
 * hostctl.h). The logic is procctl.c's signal script's, read from the
 * host's /proc: keep the two alike.
 */
#include "hostctl.h"
#include "hostproc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A session's foreground processes looked at, at most: a fork bomb is not walked whole. */
#define HOSTCTL_PICKED_MAX 4096
#define HOSTCTL_STAT_MAX 1024
/* How long a probe or a signal waits at most for the shell to be at rest, and how often it looks. */
#define HOSTCTL_SETTLE_MS 100
#define HOSTCTL_SETTLE_NAP_NS (1000 * 1000)

static const struct {
	const char *name;
	int number;
} hostctl_signals[] = {
	{ "INT", SIGINT }, { "TERM", SIGTERM }, { "KILL", SIGKILL }, { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

int hostctl_signal_number(const char *name)
{
	for (size_t i = 0; i < sizeof(hostctl_signals) / sizeof(hostctl_signals[0]); i++) {
		if (strcmp(name, hostctl_signals[i].name) == 0)
			return hostctl_signals[i].number;
	}
	return -EINVAL;
}

int hostctl_parse_stat(const char *text, struct hostctl_stat *out)
{
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so fields count from its last ')'. */
	const char *field = strrchr(text, ')');

	if (!field || sscanf(field, ") %c %d", &out->state, &out->ppid) != 2)
		return -EINVAL;
	return hostproc_parse_stat_start(text, &out->start_time);
}

bool hostctl_same_process(const char *stat_text, unsigned long long start_time)
{
	struct hostctl_stat st;

	return hostctl_parse_stat(stat_text, &st) == 0 && st.start_time == start_time;
}

/* /proc/PID/FILE into buf: its length, or -errno. */
static ssize_t hostctl_read(int pid, const char *file, char *buf, size_t size)
{
	char path[400];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return cgroup_read_file(path, buf, size);
}

static int hostctl_stat(int pid, struct hostctl_stat *st)
{
	char text[HOSTCTL_STAT_MAX];

	if (hostctl_read(pid, "stat", text, sizeof(text)) < 0 || hostctl_parse_stat(text, st) < 0)
		return -ESRCH;
	return 0;
}

bool hostctl_alive(int pid, unsigned long long start_time)
{
	char text[HOSTCTL_STAT_MAX];

	return hostctl_read(pid, "stat", text, sizeof(text)) > 0 && hostctl_same_process(text, start_time);
}

/*
 * Sends sig to pid through a pidfd, if the process the pidfd holds started
 * at start_time: checked after opening, so the pid cannot be given out
 * again between the check and the signal. 0, or -ESRCH.
 */
static int hostctl_send(int pid, unsigned long long start_time, int sig)
{
	int pidfd = pidfd_open(pid, 0);
	int ret = -ESRCH;

	if (pidfd < 0)
		return -ESRCH;
	if (hostctl_alive(pid, start_time))
		ret = pidfd_send_signal(pidfd, sig, NULL, 0) < 0 ? -errno : 0;
	close(pidfd);
	return ret;
}

/* Does pid ignore SIGINT (a background job of a shell without job control does)? */
static bool hostctl_ignores_int(int pid)
{
	char text[4096];
	unsigned long long ignored;

	if (hostctl_read(pid, "status", text, sizeof(text)) < 0)
		return true;	/* gone: not picked */
	const char *line = strstr(text, "\nSigIgn:");
	return !line || sscanf(line + 8, "%llx", &ignored) != 1 || (ignored & (1ull << (SIGINT - 1)));
}

struct hostctl_procs {
	struct hostctl_shell procs[HOSTCTL_PICKED_MAX];
	size_t count;
};

/* Adds pid's children, from every thread's children file; with_int_only: those that do not ignore SIGINT. */
static void hostctl_add_children(struct hostctl_procs *picked, int pid, bool with_int_only)
{
	char path[64];
	struct dirent *entry;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *tasks = opendir(path);
	if (!tasks)
		return;
	while ((entry = readdir(tasks)) && picked->count < HOSTCTL_PICKED_MAX) {
		char file[300], text[4096];
		if (entry->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "task/%s/children", entry->d_name);
		if (hostctl_read(pid, file, text, sizeof(text)) <= 0)
			continue;
		for (char *p = text, *end; picked->count < HOSTCTL_PICKED_MAX; p = end) {
			long child = strtol(p, &end, 10);
			struct hostctl_stat st;
			if (end == p)
				break;
			if (child <= 0 || child >= INT_MAX || hostctl_stat((int)child, &st) < 0 ||
			    (with_int_only && hostctl_ignores_int((int)child)))
				continue;
			picked->procs[picked->count++] = (struct hostctl_shell){ (int)child, st.start_time };
		}
	}
	closedir(tasks);
}

/* The shell's children that do not ignore SIGINT, then their descendants (as procctl.c's script picks). */
static struct hostctl_procs *hostctl_foreground(const struct hostctl_shell *shell)
{
	struct hostctl_procs *picked = calloc(1, sizeof(*picked));

	if (!picked)
		return NULL;
	hostctl_add_children(picked, shell->pid, true);
	for (size_t i = 0; i < picked->count; i++)
		hostctl_add_children(picked, picked->procs[i].pid, false);
	return picked;
}

/* The kernel function pid sleeps in ("" when running). */
static void hostctl_wchan(int pid, char *wchan, size_t size)
{
	if (hostctl_read(pid, "wchan", wchan, size) < 0)
		wchan[0] = '\0';
}

/*
 * Busy unless asleep reading input: in wait() a child runs, and a shell
 * that polls its input is inside a builtin (busybox's read), while at its
 * prompt it blocks in read(). A terminal's read sleeps in wait_woken: that
 * is a prompt, not a wait for a child.
 */
static bool hostctl_shell_busy(const struct hostctl_shell *shell)
{
	struct hostctl_stat st;
	char wchan[128];

	if (hostctl_stat(shell->pid, &st) < 0)
		return true;
	hostctl_wchan(shell->pid, wchan, sizeof(wchan));
	if (st.state != 'S')
		return true;
	if (strcmp(wchan, "wait_woken") == 0)
		return false;
	return strstr(wchan, "wait") || strstr(wchan, "poll") || strstr(wchan, "select");
}

static int hostctl_gone(char err[ENGINE_ERR_MAX])
{
	snprintf(err, ENGINE_ERR_MAX, "the shell is gone");
	return -ESRCH;
}

/*
 * The shell's group, if it is still the shell's: its leader proved by its
 * start time, or gone (a group's id is not given out while it has members).
 */
static void hostctl_kill_group(const struct hostctl_shell *shell, int sig)
{
	if (shell->pid <= 0)
		return;	/* kill(-0) would be seshfs's own group */
	int pidfd = pidfd_open(shell->pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH)
			kill(-shell->pid, sig);
		return;
	}
	if (hostctl_alive(shell->pid, shell->start_time))
		kill(-shell->pid, sig);
	close(pidfd);
}

/*
 * Are the shell and what it runs at rest: asleep, none running or halfway
 * through a fork or an exec? for_child: and the shell waits for a child
 * (a command runs). seshfs's helper exec took 60-90 ms, which let a shell
 * that was just sent a line read it and start its command before anything
 * was looked at; from the host it is looked at within microseconds.
 */
static bool hostctl_at_rest(const struct hostctl_shell *shell, const struct hostctl_procs *picked, bool for_child)
{
	struct hostctl_stat st;
	char wchan[128];

	if (hostctl_stat(shell->pid, &st) < 0)
		return true;	/* gone: nothing to wait for */
	if (st.state != 'S')
		return false;
	if (for_child) {
		hostctl_wchan(shell->pid, wchan, sizeof(wchan));
		if (!strstr(wchan, "wait") || strcmp(wchan, "wait_woken") == 0)
			return false;
	}
	for (size_t i = 0; i < picked->count; i++) {
		if (hostctl_stat(picked->procs[i].pid, &st) == 0 && (st.state == 'R' || st.state == 'D'))
			return false;
	}
	return true;
}

/*
 * The shell's foreground processes once it is at rest (hostctl_at_rest),
 * or as they are after HOSTCTL_SETTLE_MS; done(picked) may end the wait
 * sooner. NULL when out of memory.
 */
static struct hostctl_procs *hostctl_settle(const struct hostctl_shell *shell, bool for_child,
					    bool (*done)(const struct hostctl_shell *shell,
							 const struct hostctl_procs *picked, void *ctx),
					    void *ctx)
{
	for (int waited = 0;; waited++) {
		struct hostctl_procs *picked = hostctl_foreground(shell);
		if (!picked || waited >= HOSTCTL_SETTLE_MS || (done && done(shell, picked, ctx)) ||
		    hostctl_at_rest(shell, picked, for_child))
			return picked;
		free(picked);
		nanosleep(&(struct timespec){ 0, HOSTCTL_SETTLE_NAP_NS }, NULL);
	}
}

/*
 * Waits (bounded) until the signalled processes have handled it: each gone,
 * or asleep again (a signal it blocks or ignores leaves it asleep). A trap
 * then ran before whatever comes next (a restart's SIGKILL), as it did while
 * a helper exec took 60-90 ms per signal.
 */
static void hostctl_wait_handled(const struct hostctl_procs *signalled)
{
	for (int waited = 0; waited < HOSTCTL_SETTLE_MS; waited++) {
		size_t busy = 0;
		for (size_t i = 0; i < signalled->count && !busy; i++) {
			struct hostctl_stat st;
			const struct hostctl_shell *p = &signalled->procs[i];
			busy = hostctl_stat(p->pid, &st) == 0 && st.start_time == p->start_time &&
			       (st.state == 'R' || st.state == 'D');
		}
		if (!busy)
			return;
		nanosleep(&(struct timespec){ 0, HOSTCTL_SETTLE_NAP_NS }, NULL);
	}
}

int hostctl_signal(const struct hostctl_shell *shell, const struct cgroup *cg, const char *signal,
		   enum procctl_target target, bool command_runs, char err[ENGINE_ERR_MAX])
{
	int sig = hostctl_signal_number(signal);
	int ret = 0;

	if (sig < 0 || (target == PROCCTL_ALL && sig != SIGKILL)) {
		snprintf(err, ENGINE_ERR_MAX, "cannot send %s that way", signal);
		return -EINVAL;
	}
	if (target == PROCCTL_ALL) {
		hostctl_kill_group(shell, sig);
		return cg ? cgroup_kill(cg, err) : 0;
	}
	if (!hostctl_alive(shell->pid, shell->start_time))
		return hostctl_gone(err);
	/* The engine refuses the helper's exec then: a signal fails the same on every engine. */
	if (cg && cgroup_frozen(cg)) {
		snprintf(err, ENGINE_ERR_MAX, "the container is paused");
		return -EBUSY;
	}
	if (target == PROCCTL_SHELL)
		return hostctl_send(shell->pid, shell->start_time, sig) < 0 ? hostctl_gone(err) : 1;
	/* A command was just sent: it is what the signal is for, once the shell started it. */
	struct hostctl_procs *picked = command_runs ? hostctl_settle(shell, true, NULL, NULL) : hostctl_foreground(shell);
	if (!picked) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	/* Like Ctrl-C: an interactive shell that is running something aborts it on INT. */
	if ((sig == SIGINT || sig == SIGQUIT) && hostctl_shell_busy(shell))
		ret = hostctl_send(shell->pid, shell->start_time, sig) == 0;
	for (size_t i = 0; i < picked->count; i++)
		hostctl_send(picked->procs[i].pid, picked->procs[i].start_time, sig);
	hostctl_wait_handled(picked);
	free(picked);
	return ret;
}

int hostctl_shell_waiting(const struct hostctl_shell *shell, char err[ENGINE_ERR_MAX])
{
	if (!hostctl_alive(shell->pid, shell->start_time))
		return hostctl_gone(err);
	struct hostctl_procs *picked = hostctl_settle(shell, false, NULL, NULL);
	if (!picked) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	int waiting = picked->count == 0 && !hostctl_shell_busy(shell);
	free(picked);
	/* What was read may be another process's by now. */
	return hostctl_alive(shell->pid, shell->start_time) ? waiting : hostctl_gone(err);
}

/* Is pid asleep reading (or polling, a REPL) the file the shell's stdin is? */
static bool hostctl_reads(int pid, const struct stat *input)
{
	char path[64], wchan[128];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/0", pid);
	if (stat(path, &st) < 0 || st.st_dev != input->st_dev || st.st_ino != input->st_ino)
		return false;
	hostctl_wchan(pid, wchan, sizeof(wchan));
	return strstr(wchan, "read") || strstr(wchan, "poll") || strstr(wchan, "select") ||
	       strcmp(wchan, "wait_woken") == 0 || strcmp(wchan, "pipe_wait") == 0;
}

struct hostctl_reader {
	const struct stat *input;
	bool shell_counts;	/* seshfs knows the shell runs a command, so its reading is its read builtin */
	bool reads;
};

static bool hostctl_reader_found(const struct hostctl_shell *shell, const struct hostctl_procs *picked, void *ctx)
{
	struct hostctl_reader *r = ctx;

	r->reads = r->shell_counts && hostctl_reads(shell->pid, r->input);
	for (size_t i = 0; i < picked->count && !r->reads; i++)
		r->reads = hostctl_reads(picked->procs[i].pid, r->input);
	return r->reads;
}

int hostctl_stdin_reader(const struct hostctl_shell *shell, bool shell_counts, char err[ENGINE_ERR_MAX])
{
	char path[64];
	struct stat input;
	struct hostctl_reader r = { &input, shell_counts, false };

	snprintf(path, sizeof(path), "/proc/%d/fd/0", shell->pid);
	if (!hostctl_alive(shell->pid, shell->start_time) || stat(path, &input) < 0)
		return hostctl_gone(err);
	/* Asked while a command runs: a program it starts may not have reached its first read yet. */
	struct hostctl_procs *picked = hostctl_settle(shell, !shell_counts, hostctl_reader_found, &r);
	if (!picked) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	if (!r.reads)
		hostctl_reader_found(shell, picked, &r);	/* the last look, at rest or at the bound */
	free(picked);
	return hostctl_alive(shell->pid, shell->start_time) ? r.reads : hostctl_gone(err);
}
