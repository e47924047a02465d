/*
 * seshfs backend: a session's cgroup, a child of its container's.
 *
 * On a local engine (hostproc.h) every process of a session lives in a
 * cgroup of its own below the container's, so what belongs to a session is
 * exact: a process that clears its environment and leaves the shell's group
 * (env -i setsid) is still in it, and killing the cgroup kills it too. Its
 * directories come from the shell's /proc/HOSTPID/cgroup: with cgroup v1 one
 * per hierarchy a session needs (pids, memory, cpuacct, freezer), each
 * mounted at /sys/fs/cgroup/<controllers>; with v2 the one "0::PATH" under
 * /sys/fs/cgroup. The engine removes a container's cgroups with their
 * children, so a session's outlives a killed seshfs only as long as its
 * container does.
 */
#ifndef SESHFS_CGROUP_H
#define SESHFS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* What a session's cgroup is used for; a hierarchy may carry several. */
enum cgroup_kind {
	CGROUP_PIDS,		/* the member list (cgroup.procs) */
	CGROUP_MEMORY,
	CGROUP_CPUACCT,
	CGROUP_FREEZER,		/* v1: stops the members while they are killed */
	CGROUP_KINDS,
};

#define CGROUP_ALL_KINDS ((1u << CGROUP_KINDS) - 1)
#define CGROUP_PLACES_MAX CGROUP_KINDS
#define CGROUP_MOUNT_MAX 64

/* Where the container's cgroup is in one hierarchy, as /proc/PID/cgroup says. */
struct cgroup_place {
	unsigned kinds;			/* 1 << enum cgroup_kind */
	bool unified;			/* v2: every kind, mounted at CGROUP_ROOT itself */
	char mount[CGROUP_MOUNT_MAX];	/* v1: the hierarchy's directory under CGROUP_ROOT */
	const char *path;		/* into the parsed text: up to the line's end */
	size_t path_len;
};

/*
 * The places of /proc/PID/cgroup's text a session's cgroup needs: the v1
 * hierarchies that carry a kind of enum cgroup_kind, or else the v2 one (a
 * hybrid system's v2 hierarchy carries no controller). Returns their count
 * (0: none of them), or -EINVAL for a line that is not "ID:CONTROLLERS:/PATH".
 */
int cgroup_parse_places(const char *text, struct cgroup_place places[CGROUP_PLACES_MAX]);

/* The number that starts text (cpuacct.usage, memory.current): 0, or -EINVAL. */
int cgroup_parse_number(const char *text, unsigned long long *value);

/* The value of the "key N" line of text (cpu.stat): 0, or -ENOENT. */
int cgroup_parse_key(const char *text, const char *key, unsigned long long *value);

/* Reads a small pseudo-file (/proc, cgroupfs) whole, NUL-terminated: its length, or -errno. */
ssize_t cgroup_read_file(const char *path, char *buf, size_t size);

struct cgroup;

/*
 * Makes the cgroup named name below the one of every hierarchy the host
 * process pid is in (one made earlier is taken as it is: a restart's). 0
 * and *out, or -errno with err set; nothing is left made on failure.
 */
int cgroup_session_create(int pid, const char *name, struct cgroup **out, char err[ENGINE_ERR_MAX]);

/*
 * Moves the host process pid into cg, in every hierarchy: what it starts
 * from then on is born inside. The caller knows pid is still its process
 * (hostctl_alive). 0, or -errno with err set.
 */
int cgroup_join(const struct cgroup *cg, int pid, char err[ENGINE_ERR_MAX]);

/* The members' host pids (malloc'd); 0, or -errno. */
int cgroup_pids(const struct cgroup *cg, int **pids, size_t *count);

/*
 * SIGKILLs every member and waits until none is left, bounded: v2 through
 * cgroup.kill; v1 by rounds of freeze, SIGKILL each member through a pidfd,
 * thaw (a frozen member cannot fork or exit, so its pid is not reused). 0,
 * -EBUSY if members are left at the bound, or -errno; err says why.
 */
int cgroup_kill(const struct cgroup *cg, char err[ENGINE_ERR_MAX]);

/*
 * SIGKILLs the members there are now, without waiting: many cgroups killed
 * one after another then die together; cgroup_kill makes sure of each.
 */
void cgroup_kill_start(const struct cgroup *cg);

/* Are the members frozen: the container paused (docker pause), or a kill under way? */
bool cgroup_frozen(const struct cgroup *cg);

/* CPU time the members used, the ones gone included: 0, or -ENOENT / -EINVAL when it cannot be read. */
int cgroup_cpu_ns(const struct cgroup *cg, unsigned long long *ns);

/* Memory charged to the members now: 0, or -ENOENT (v2 without the memory controller) / -EINVAL. */
int cgroup_memory(const struct cgroup *cg, unsigned long long *bytes);

/* Removes the (empty) directories, retrying a while those busy emptying: 0, or -errno with err set. */
int cgroup_remove(const struct cgroup *cg, char err[ENGINE_ERR_MAX]);

void cgroup_free(struct cgroup *cg);

#endif
