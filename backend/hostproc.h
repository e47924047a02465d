/*
 * seshfs backend: the host's view of a process in a local container.
 *
 * When the engine runs on this machine (its socket is a unix socket) and
 * seshfs is root, every process the engine starts in a container is also a
 * host process: /proc/HOSTPID/status's NSpid line ends with the pid it has
 * inside, /proc/HOSTPID/cgroup names the container's id, and
 * /proc/HOSTPID/root is the container's root filesystem. Sessions use this
 * to move a shell's stdin, stdout and stderr onto FIFOs (no engine relay),
 * to keep its processes in a cgroup of their own, and to signal and inspect
 * them without a helper exec. Anywhere else (docker-in-docker, a remote or
 * rootless engine, seshfs not root) hostproc_find says why it cannot.
 *
 * A host pid is only ever used together with the process's start time (or
 * through its pidfd), so a pid the kernel gave out again is never touched.
 */
#ifndef SESHFS_HOSTPROC_H
#define SESHFS_HOSTPROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"

/* A verified host process. */
struct hostproc {
	int pid;				/* host pid */
	int pidfd;				/* pidfd_open(pid): polls readable once it exits; -1: none */
	unsigned long long start_time;		/* /proc/PID/stat field 22: tells a reused pid */
	uid_t uid;				/* real ids as the host sees them (user namespaces mapped) */
	gid_t gid;
};

/*
 * Can this mount see its engine's processes: seshfs is root and the engine's
 * url is a unix socket? 0, or -EOPNOTSUPP with the reason in why (one line,
 * for ctl's transport_reason and the log).
 */
int hostproc_engine_local(const char *engine_url, char why[ENGINE_ERR_MAX]);

/*
 * Finds the host process whose pid inside its namespace is ns_pid and whose
 * cgroup names container_id (the engine's full id), and opens its pidfd.
 * 0 and *out; -ESRCH if there is none (gone, or not in that container);
 * -EOPNOTSUPP if /proc cannot show it (no NSpid: another pid namespace, such
 * as docker-in-docker); err says which.
 */
int hostproc_find(const char *container_id, int ns_pid, struct hostproc *out, char err[ENGINE_ERR_MAX]);

/* Is p still the process hostproc_find found (not exited, pid not reused)? */
bool hostproc_alive(const struct hostproc *p);

/* Sends sig through the pidfd: 0, -ESRCH once it exited, or -errno. */
int hostproc_signal(const struct hostproc *p, int sig);

/* Closes the pidfd; p is then empty (pid 0). */
void hostproc_close(struct hostproc *p);

/* ---- the parsers of /proc's text (pure) ---- */

struct hostproc_status {
	int nspid_last;		/* the pid in the innermost namespace */
	int nspid_count;	/* NSpid's fields: 1 in the host's own namespace; 0 no NSpid line */
	uid_t uid;		/* real */
	gid_t gid;
};

/* /proc/PID/status: 0, or -EINVAL if its Uid, Gid or NSpid line is not what the kernel writes. */
int hostproc_parse_status(const char *text, struct hostproc_status *st);

/* /proc/PID/stat: field 22, counted after the last ')' (the name may hold any byte). 0 or -EINVAL. */
int hostproc_parse_stat_start(const char *text, unsigned long long *start_time);

/* Does /proc/PID/cgroup text put the process under the container with this full id? */
bool hostproc_cgroup_names(const char *text, const char *container_id);

/*
 * The cgroup.procs file that lists the container's processes, from a
 * member's /proc/PID/cgroup text: v1's pids hierarchy, else the unified
 * one. 0, -ENOENT if the text names the container in neither, -ENAMETOOLONG.
 */
int hostproc_procs_path(const char *text, const char *container_id, char *path, size_t size);

#endif
