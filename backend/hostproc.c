/*
 * seshfs backend: the host's view of a process in a local container (see
 * hostproc.h). Everything comes from the host's /proc; the parsers of its
 * text are pure, for the unit tests.
 */
#include "hostproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

/* /proc/PID/status and cgroup are a few KB; more is cut (the lines needed come early). */
#define HOSTPROC_TEXT_MAX 8192

int hostproc_engine_local(const char *engine_url, char why[ENGINE_ERR_MAX])
{
	if (strncmp(engine_url, "unix://", 7) != 0) {
		snprintf(why, ENGINE_ERR_MAX, "the engine is not local (not a unix socket)");
		return -EOPNOTSUPP;
	}
	if (geteuid() != 0) {
		snprintf(why, ENGINE_ERR_MAX, "seshfs is not root: the container's processes are out of its reach");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The value of "KEY:" at a line's start in text, or NULL. */
static const char *status_field(const char *text, const char *key)
{
	size_t key_len = strlen(key);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ':')
			return line + key_len + 1;
	}
	return NULL;
}

int hostproc_parse_status(const char *text, struct hostproc_status *st)
{
	const char *nspid = status_field(text, "NSpid");
	const char *uid = status_field(text, "Uid");
	const char *gid = status_field(text, "Gid");
	char *end;

	memset(st, 0, sizeof(*st));
	if (!uid || !gid)
		return -EINVAL;
	unsigned long long u = strtoull(uid, &end, 10);
	if (end == uid || (*end != '\t' && *end != ' '))
		return -EINVAL;
	unsigned long long g = strtoull(gid, &end, 10);
	if (end == gid || (*end != '\t' && *end != ' '))
		return -EINVAL;
	st->uid = (uid_t)u;
	st->gid = (gid_t)g;
	if (!nspid)
		return 0;	/* a kernel before 4.1: no NSpid (nspid_count stays 0) */
	for (const char *p = nspid;;) {
		while (*p == '\t' || *p == ' ')
			p++;
		if (*p == '\n' || *p == '\0')
			break;
		long value = strtol(p, &end, 10);
		if (end == p || value <= 0 || value > INT32_MAX)
			return -EINVAL;
		st->nspid_last = (int)value;
		st->nspid_count++;
		p = end;
	}
	return 0;
}

int hostproc_parse_stat_start(const char *text, unsigned long long *start_time)
{
	/* The command name may hold spaces and ')': the fields start after the last ')'. */
	const char *p = strrchr(text, ')');
	char *end;

	if (!p)
		return -EINVAL;
	p++;
	/* After ')' comes field 3 (state); the start time is field 22. */
	for (int field = 2; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	*start_time = strtoull(p, &end, 10);
	return end == p || (*end != ' ' && *end != '\n' && *end != '\0') ? -EINVAL : 0;
}

bool hostproc_cgroup_names(const char *text, const char *container_id)
{
	size_t id_len = strlen(container_id);

	if (id_len == 0)
		return false;
	/* The id as a whole path component's part: /docker/ID, libpod-ID.scope, docker-ID.scope. */
	for (const char *p = text; (p = strstr(p, container_id)); p += id_len) {
		char before = p == text ? '\n' : p[-1];
		char after = p[id_len];
		if ((before == '/' || before == '-') && (after == '\n' || after == '\0' || after == '.' || after == '/'))
			return true;
	}
	return false;
}

/* Reads /proc/PID/NAME into buf (NUL-terminated): 0 or -errno (-ESRCH once the process is gone). */
static int hostproc_read(int pid, const char *name, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = errno == ESRCH ? -ESRCH : -errno;
			close(fd);
			return ret;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return 0;
}

static int hostproc_start_time(int pid, unsigned long long *start_time)
{
	char text[1024];
	int ret = hostproc_read(pid, "stat", text, sizeof(text));

	if (ret < 0)
		return ret;
	return hostproc_parse_stat_start(text, start_time) < 0 ? -ESRCH : 0;
}

static int pid_descending(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

/* Every numeric entry of /proc, newest pids first: a shell just started is found soon. */
static int hostproc_list(int **pids, size_t *count)
{
	DIR *dir = opendir("/proc");
	size_t n = 0, size = 0;
	int *list = NULL;
	struct dirent *d;

	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT32_MAX)
			continue;
		if (n == size) {
			int *grown = realloc(list, (size ? 2 * size : 512) * sizeof(*list));
			if (!grown) {
				free(list);
				closedir(dir);
				return -ENOMEM;
			}
			list = grown;
			size = size ? 2 * size : 512;
		}
		list[n++] = (int)pid;
	}
	closedir(dir);
	qsort(list, n, sizeof(*list), pid_descending);
	*pids = list;
	*count = n;
	return 0;
}

/* Is host pid the process with ns_pid in container_id? 1 yes, 0 no, -EOPNOTSUPP no NSpid, -errno. */
static int hostproc_match(int pid, const char *container_id, int ns_pid, struct hostproc_status *st)
{
	char text[HOSTPROC_TEXT_MAX];

	if (hostproc_read(pid, "status", text, sizeof(text)) < 0 || hostproc_parse_status(text, st) < 0)
		return 0;	/* gone meanwhile, or not a process to us */
	if (st->nspid_count == 0)
		return -EOPNOTSUPP;
	/* One field: a process of the host's own pid namespace, not a container's. */
	if (st->nspid_count < 2 || st->nspid_last != ns_pid)
		return 0;
	if (hostproc_read(pid, "cgroup", text, sizeof(text)) < 0)
		return 0;
	return hostproc_cgroup_names(text, container_id);
}

int hostproc_find(const char *container_id, int ns_pid, struct hostproc *out, char err[ENGINE_ERR_MAX])
{
	struct hostproc_status st;
	int *pids = NULL;
	size_t count = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->pidfd = -1;
	if (!container_id[0]) {
		snprintf(err, ENGINE_ERR_MAX, "the engine gave no container id");
		return -EOPNOTSUPP;
	}
	ret = hostproc_list(&pids, &count);
	if (ret < 0) {
		snprintf(err, ENGINE_ERR_MAX, "cannot list /proc: %s", strerror(-ret));
		return ret;
	}
	ret = -ESRCH;
	snprintf(err, ENGINE_ERR_MAX, "no host process has pid %d in the container", ns_pid);
	for (size_t i = 0; i < count; i++) {
		int match = hostproc_match(pids[i], container_id, ns_pid, &st);
		if (match == -EOPNOTSUPP) {
			snprintf(err, ENGINE_ERR_MAX, "/proc shows no NSpid lines (kernel before 4.1)");
			ret = match;
			break;
		}
		if (match <= 0)
			continue;
		unsigned long long start;
		if (hostproc_start_time(pids[i], &start) < 0)
			break;	/* it just exited */
		int pidfd = pidfd_open(pids[i], 0);
		if (pidfd < 0) {
			if (errno != ESRCH)
				snprintf(err, ENGINE_ERR_MAX, "pidfd_open: %s", strerror(errno));
			ret = errno == ESRCH ? -ESRCH : errno == ENOSYS ? -EOPNOTSUPP : -errno;
			break;
		}
		/* The same start time once the pidfd is open: it holds that very process, not a reused pid's. */
		unsigned long long again;
		if (hostproc_start_time(pids[i], &again) < 0 || again != start) {
			close(pidfd);
			break;
		}
		*out = (struct hostproc){ .pid = pids[i], .pidfd = pidfd, .start_time = start,
					  .uid = st.uid, .gid = st.gid };
		ret = 0;
		break;
	}
	free(pids);
	return ret;
}

bool hostproc_alive(const struct hostproc *p)
{
	unsigned long long start;

	if (p->pid <= 0 || p->pidfd < 0)
		return false;
	/* Signal 0 through the pidfd: ESRCH once it exited, whoever has the pid now. */
	if (pidfd_send_signal(p->pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
		return false;
	return hostproc_start_time(p->pid, &start) == 0 && start == p->start_time;
}

int hostproc_signal(const struct hostproc *p, int sig)
{
	if (p->pid <= 0 || p->pidfd < 0)
		return -ESRCH;
	return pidfd_send_signal(p->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

void hostproc_close(struct hostproc *p)
{
	if (p->pid > 0 && p->pidfd >= 0)
		close(p->pidfd);
	*p = (struct hostproc){ .pid = 0, .pidfd = -1 };
}
