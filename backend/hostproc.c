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
#include <limits.h>
#include <pthread.h>
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

/* Adds pid to *list (grown as needed): 0 or -ENOMEM. */
static int hostproc_add(int **list, size_t *n, size_t *size, long pid)
{
	if (*n == *size) {
		size_t grown_size = *size ? 2 * *size : 512;
		int *grown = realloc(*list, grown_size * sizeof(**list));
		if (!grown)
			return -ENOMEM;
		*list = grown;
		*size = grown_size;
	}
	(*list)[(*n)++] = (int)pid;
	return 0;
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
		if (hostproc_add(&list, &n, &size, pid) < 0) {
			free(list);
			closedir(dir);
			return -ENOMEM;
		}
	}
	closedir(dir);
	qsort(list, n, sizeof(*list), pid_descending);
	*pids = list;
	*count = n;
	return 0;
}

/* Is name one of the comma-separated controllers of list[0..len)? */
static bool hostproc_has_controller(const char *list, size_t len, const char *name)
{
	size_t name_len = strlen(name);

	for (const char *c = list, *end = list + len; c < end; ) {
		const char *comma = memchr(c, ',', (size_t)(end - c));
		const char *c_end = comma ? comma : end;
		if ((size_t)(c_end - c) == name_len && memcmp(c, name, name_len) == 0)
			return true;
		c = c_end + 1;
	}
	return false;
}

int hostproc_procs_path(const char *text, const char *container_id, char *path, size_t size)
{
	char cgroup[HOSTPROC_TEXT_MAX], unified[HOSTPROC_TEXT_MAX] = "";
	int n;

	/* Lines of "ID:CONTROLLERS:PATH"; v2's has no controllers. */
	for (const char *line = text; *line; ) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *controllers = memchr(line, ':', len);
		const char *colon = controllers ? memchr(controllers + 1, ':', len - (size_t)(controllers + 1 - line)) : NULL;
		size_t cgroup_len = colon ? len - (size_t)(colon + 1 - line) : 0;
		line += len + (eol ? 1 : 0);
		if (!colon || cgroup_len >= sizeof(cgroup))
			continue;
		memcpy(cgroup, colon + 1, cgroup_len);
		cgroup[cgroup_len] = '\0';
		if (!hostproc_cgroup_names(cgroup, container_id))
			continue;
		/* v1: the pids hierarchy lists every member; else the unified one (v2). */
		if (hostproc_has_controller(controllers + 1, (size_t)(colon - controllers - 1), "pids")) {
			n = snprintf(path, size, "/sys/fs/cgroup/pids%s/cgroup.procs", cgroup);
			return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
		}
		if (colon == controllers + 1)
			memcpy(unified, cgroup, cgroup_len + 1);
	}
	if (!unified[0])
		return -ENOENT;
	n = snprintf(path, size, "/sys/fs/cgroup%s/cgroup.procs", unified);
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/*
 * The container's own cgroup.procs, learnt from the first of its processes
 * found by the whole scan: a few pids to look at instead of all of /proc.
 * One mount is one container: one entry.
 */
static struct {
	pthread_mutex_t lock;
	char container_id[ENGINE_CONTAINER_ID_MAX];
	char procs[PATH_MAX];
} hostproc_cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void hostproc_cache_learn(const char *container_id, int pid)
{
	char text[HOSTPROC_TEXT_MAX];
	char procs[PATH_MAX];

	if (hostproc_read(pid, "cgroup", text, sizeof(text)) < 0 ||
	    hostproc_procs_path(text, container_id, procs, sizeof(procs)) < 0 || access(procs, R_OK) < 0)
		return;
	pthread_mutex_lock(&hostproc_cache.lock);
	snprintf(hostproc_cache.container_id, sizeof(hostproc_cache.container_id), "%s", container_id);
	snprintf(hostproc_cache.procs, sizeof(hostproc_cache.procs), "%s", procs);
	pthread_mutex_unlock(&hostproc_cache.lock);
}

/* The pids the container's cgroup.procs lists, newest first: 0, or -ENOENT when it is not known. */
static int hostproc_cache_list(const char *container_id, int **pids, size_t *count)
{
	char procs[PATH_MAX] = "";
	size_t n = 0, size = 0;
	int *list = NULL;
	char line[32];

	pthread_mutex_lock(&hostproc_cache.lock);
	if (strcmp(hostproc_cache.container_id, container_id) == 0)
		snprintf(procs, sizeof(procs), "%s", hostproc_cache.procs);
	pthread_mutex_unlock(&hostproc_cache.lock);
	FILE *f = procs[0] ? fopen(procs, "re") : NULL;
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		long pid = strtol(line, NULL, 10);
		if (pid > 0 && pid <= INT32_MAX && hostproc_add(&list, &n, &size, pid) < 0) {
			free(list);
			fclose(f);
			return -ENOMEM;
		}
	}
	fclose(f);
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

/* Looks for the process among pids: 0 and *out, -ESRCH (err says so), or another -errno. */
static int hostproc_search(const int *pids, size_t count, const char *container_id, int ns_pid,
			   struct hostproc *out, char err[ENGINE_ERR_MAX])
{
	struct hostproc_status st;

	snprintf(err, ENGINE_ERR_MAX, "no host process has pid %d in the container", ns_pid);
	for (size_t i = 0; i < count; i++) {
		int match = hostproc_match(pids[i], container_id, ns_pid, &st);
		if (match == -EOPNOTSUPP) {
			snprintf(err, ENGINE_ERR_MAX, "/proc shows no NSpid lines (kernel before 4.1)");
			return match;
		}
		if (match <= 0)
			continue;
		unsigned long long start;
		if (hostproc_start_time(pids[i], &start) < 0)
			return -ESRCH;	/* it just exited */
		int pidfd = pidfd_open(pids[i], 0);
		if (pidfd < 0) {
			if (errno != ESRCH)
				snprintf(err, ENGINE_ERR_MAX, "pidfd_open: %s", strerror(errno));
			return errno == ESRCH ? -ESRCH : errno == ENOSYS ? -EOPNOTSUPP : -errno;
		}
		/* The same start time once the pidfd is open: it holds that very process, not a reused pid's. */
		unsigned long long again;
		if (hostproc_start_time(pids[i], &again) < 0 || again != start) {
			close(pidfd);
			return -ESRCH;
		}
		*out = (struct hostproc){ .pid = pids[i], .pidfd = pidfd, .start_time = start,
					  .uid = st.uid, .gid = st.gid };
		return 0;
	}
	return -ESRCH;
}

int hostproc_find(const char *container_id, int ns_pid, struct hostproc *out, char err[ENGINE_ERR_MAX])
{
	int *pids = NULL;
	size_t count = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->pidfd = -1;
	if (!container_id[0]) {
		snprintf(err, ENGINE_ERR_MAX, "the engine gave no container id");
		return -EOPNOTSUPP;
	}
	if (hostproc_cache_list(container_id, &pids, &count) == 0) {
		ret = hostproc_search(pids, count, container_id, ns_pid, out, err);
		free(pids);
		if (ret == 0)
			return 0;
	}
	ret = hostproc_list(&pids, &count);
	if (ret < 0) {
		snprintf(err, ENGINE_ERR_MAX, "cannot list /proc: %s", strerror(-ret));
		return ret;
	}
	ret = hostproc_search(pids, count, container_id, ns_pid, out, err);
	free(pids);
	if (ret == 0)
		hostproc_cache_learn(container_id, out->pid);
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
