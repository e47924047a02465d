/*
 * seshfs backend: a session's cgroup (see cgroup.h).
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Rounds of freeze, kill, thaw; each waits for its victims a while. */
#define CGROUP_KILL_ROUNDS 20
#define CGROUP_FREEZE_WAIT_MS 50
#define CGROUP_EMPTY_WAIT_MS 50
/* How long rmdir is retried while the last members finish exiting. */
#define CGROUP_REMOVE_WAIT_MS 1000
#define CGROUP_POLL_NS (1000 * 1000)
#define CGROUP_PIDS_TEXT_MAX (64 * 1024)

struct cgroup {
	int count;
	struct {
		unsigned kinds;
		char *dir;	/* absolute: CGROUP_ROOT/MOUNT/PATH/NAME */
		char *path;	/* in the hierarchy, as /proc/PID/cgroup shows it: /PATH/NAME */
	} places[CGROUP_PLACES_MAX];
};

static const char *const cgroup_controllers[CGROUP_KINDS] = {
	[CGROUP_PIDS] = "pids",
	[CGROUP_MEMORY] = "memory",
	[CGROUP_CPUACCT] = "cpuacct",
	[CGROUP_FREEZER] = "freezer",
};

/* The kinds a v1 hierarchy's comma-separated controllers carry. */
static unsigned cgroup_kinds_of(const char *controllers, size_t len)
{
	unsigned kinds = 0;

	while (len > 0) {
		const char *comma = memchr(controllers, ',', len);
		size_t n = comma ? (size_t)(comma - controllers) : len;
		for (int k = 0; k < CGROUP_KINDS; k++) {
			if (strlen(cgroup_controllers[k]) == n && memcmp(controllers, cgroup_controllers[k], n) == 0)
				kinds |= 1u << k;
		}
		controllers += comma ? n + 1 : n;
		len -= comma ? n + 1 : n;
	}
	return kinds;
}

int cgroup_parse_places(const char *text, struct cgroup_place places[CGROUP_PLACES_MAX])
{
	struct cgroup_place unified = { 0 };
	int count = 0;

	while (*text) {
		const char *end = strchrnul(text, '\n');
		const char *colon1 = memchr(text, ':', (size_t)(end - text));
		const char *colon2 = colon1 ? memchr(colon1 + 1, ':', (size_t)(end - colon1 - 1)) : NULL;
		if (!colon1 || !colon2 || colon1 == text || colon2 + 1 == end || colon2[1] != '/')
			return -EINVAL;
		struct cgroup_place place = {
			.path = colon2 + 1,
			.path_len = (size_t)(end - colon2 - 1),
		};
		size_t controllers_len = (size_t)(colon2 - colon1 - 1);
		if (controllers_len == 0 && colon1 - text == 1 && text[0] == '0') {
			place.unified = true;
			place.kinds = CGROUP_ALL_KINDS;
			unified = place;
		} else if ((place.kinds = cgroup_kinds_of(colon1 + 1, controllers_len)) != 0) {
			if (controllers_len >= sizeof(place.mount) || count == CGROUP_PLACES_MAX)
				return -EINVAL;
			memcpy(place.mount, colon1 + 1, controllers_len);
			places[count++] = place;
		}
		text = *end ? end + 1 : end;
	}
	if (count == 0 && unified.unified)
		places[count++] = unified;
	return count;
}

int cgroup_parse_number(const char *text, unsigned long long *value)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	*value = strtoull(text, &end, 10);
	if (errno || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

int cgroup_parse_key(const char *text, const char *key, unsigned long long *value)
{
	size_t key_len = strlen(key);

	for (const char *line = text; *line; line = strchrnul(line, '\n'), line += *line == '\n') {
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ' ')
			return cgroup_parse_number(line + key_len + 1, value) == 0 ? 0 : -ENOENT;
	}
	return -ENOENT;
}

ssize_t cgroup_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;
			close(fd);
			return ret;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Writes text to dir/file: 0 or -errno. */
static int cgroup_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	int ret = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static ssize_t cgroup_read(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return cgroup_read_file(path, buf, size);
}

/* The directory of a kind, or NULL. */
static const char *cgroup_dir(const struct cgroup *cg, enum cgroup_kind kind)
{
	for (int i = 0; i < cg->count; i++) {
		if (cg->places[i].kinds & (1u << kind))
			return cg->places[i].dir;
	}
	return NULL;
}

static bool cgroup_unified(const struct cgroup *cg)
{
	return cg->count == 1 && cg->places[0].kinds == CGROUP_ALL_KINDS;
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < cg->count; i++) {
		free(cg->places[i].dir);
		free(cg->places[i].path);
	}
	free(cg);
}

int cgroup_session_create(int pid, const char *name, struct cgroup **out, char err[ENGINE_ERR_MAX])
{
	struct cgroup_place places[CGROUP_PLACES_MAX];
	char path[64], text[4096];
	struct cgroup *cg = calloc(1, sizeof(*cg));
	int ret, count;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (!cg) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = (int)cgroup_read_file(path, text, sizeof(text));
	if (ret < 0) {
		snprintf(err, ENGINE_ERR_MAX, "%s: %s", path, strerror(-ret));
		goto fail;
	}
	count = cgroup_parse_places(text, places);
	if (count <= 0) {
		snprintf(err, ENGINE_ERR_MAX, "%s names no pids, memory, cpuacct, freezer or v2 hierarchy", path);
		ret = -EOPNOTSUPP;
		goto fail;
	}
	for (int i = 0; i < count; i++) {
		const struct cgroup_place *p = &places[i];
		/* The container's own path "/" (a cgroup namespace) has no slash to add. */
		int trim = p->path_len == 1 ? 1 : 0;
		if (asprintf(&cg->places[i].path, "%.*s/%s", (int)(p->path_len - trim), p->path, name) < 0 ||
		    asprintf(&cg->places[i].dir, "%s%s%s%s", CGROUP_ROOT, p->unified ? "" : "/", p->mount,
			     cg->places[i].path) < 0) {
			cg->places[i].path = cg->places[i].dir = NULL;
			cg->count = i + 1;
			snprintf(err, ENGINE_ERR_MAX, "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
		cg->places[i].kinds = p->kinds;
		cg->count = i + 1;
		if (mkdir(cg->places[i].dir, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			snprintf(err, ENGINE_ERR_MAX, "mkdir %s: %s", cg->places[i].dir, strerror(errno));
			goto fail;
		}
	}
	*out = cg;
	return 0;
fail:
	cgroup_remove(cg, (char[ENGINE_ERR_MAX]){ 0 });
	cgroup_free(cg);
	return ret;
}

int cgroup_join(const struct cgroup *cg, int pid, char err[ENGINE_ERR_MAX])
{
	char text[16];

	snprintf(text, sizeof(text), "%d", pid);
	for (int i = 0; i < cg->count; i++) {
		int ret = cgroup_write(cg->places[i].dir, "cgroup.procs", text);
		if (ret < 0) {
			snprintf(err, ENGINE_ERR_MAX, "%s/cgroup.procs: %s", cg->places[i].dir, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* The members listed in text (one pid a line) into pids, at most max. */
static size_t cgroup_parse_pids(const char *text, int *pids, size_t max)
{
	size_t count = 0;

	for (const char *p = text; *p && count < max;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0 && pid < INT_MAX)
			pids[count++] = (int)pid;
		p = end + (*end == '\n');
	}
	return count;
}

int cgroup_pids(const struct cgroup *cg, int **pids, size_t *count)
{
	char *text = malloc(CGROUP_PIDS_TEXT_MAX);
	ssize_t len = text ? cgroup_read(cg->places[0].dir, "cgroup.procs", text, CGROUP_PIDS_TEXT_MAX) : -ENOMEM;
	size_t max = len > 0 ? (size_t)len / 2 + 1 : 1;

	*pids = NULL;
	*count = 0;
	if (len < 0) {
		free(text);
		return (int)len;
	}
	*pids = malloc(max * sizeof(**pids));
	if (!*pids) {
		free(text);
		return -ENOMEM;
	}
	*count = cgroup_parse_pids(text, *pids, max);
	free(text);
	return 0;
}

static void cgroup_nap(void)
{
	struct timespec ts = { 0, CGROUP_POLL_NS };

	nanosleep(&ts, NULL);
}

/* Is cg empty now? Waits up to ms for it: true once it is. */
static bool cgroup_wait_empty(const struct cgroup *cg, int ms)
{
	char text[16];

	for (int waited = 0;; waited++) {
		ssize_t len = cgroup_read(cg->places[0].dir, "cgroup.procs", text, sizeof(text));
		if (len == 0 || len == -ENOENT)
			return true;
		if (waited >= ms)
			return false;
		cgroup_nap();
	}
}

/* v1: freezes the members; true once all are frozen, within the bound. */
static bool cgroup_freeze(const char *freezer)
{
	char state[32];

	if (cgroup_write(freezer, "freezer.state", "FROZEN") < 0)
		return false;
	for (int waited = 0; waited < CGROUP_FREEZE_WAIT_MS; waited++) {
		if (cgroup_read(freezer, "freezer.state", state, sizeof(state)) < 0)
			return false;
		if (strncmp(state, "FROZEN", 6) == 0)
			return true;
		cgroup_nap();
	}
	return false;
}

/*
 * SIGKILLs pid through a pidfd. Unless the members are frozen (then none
 * exits, and no pid is given out again), the pid may have been reused since
 * cgroup.procs listed it: the process the pidfd holds must be a member still.
 */
static void cgroup_kill_member(const struct cgroup *cg, int pid, bool frozen)
{
	char path[64], text[4096], line[PATH_MAX + 2];
	int pidfd = pidfd_open(pid, 0);

	if (pidfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	snprintf(line, sizeof(line), ":%s\n", cg->places[0].path);
	if (frozen || (cgroup_read_file(path, text, sizeof(text)) > 0 && strstr(text, line)))
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
	close(pidfd);
}

/* One round: every member listed now gets SIGKILL. */
static void cgroup_kill_round(const struct cgroup *cg, bool frozen)
{
	int *pids;
	size_t count;

	if (cgroup_pids(cg, &pids, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++)
		cgroup_kill_member(cg, pids[i], frozen);
	free(pids);
}

void cgroup_kill_start(const struct cgroup *cg)
{
	if (!cgroup_unified(cg) || cgroup_write(cg->places[0].dir, "cgroup.kill", "1") < 0)
		cgroup_kill_round(cg, false);
}

int cgroup_kill(const struct cgroup *cg, char err[ENGINE_ERR_MAX])
{
	const char *freezer = cgroup_dir(cg, CGROUP_FREEZER);

	if (cgroup_wait_empty(cg, 0))
		return 0;
	/* v2 does it all in the kernel, forks racing with it included (Linux 5.14). */
	if (cgroup_unified(cg) && cgroup_write(cg->places[0].dir, "cgroup.kill", "1") == 0) {
		if (cgroup_wait_empty(cg, CGROUP_KILL_ROUNDS * CGROUP_EMPTY_WAIT_MS))
			return 0;
	} else {
		for (int round = 0; round < CGROUP_KILL_ROUNDS; round++) {
			bool frozen = !cgroup_unified(cg) && freezer && cgroup_freeze(freezer);
			cgroup_kill_round(cg, frozen);
			if (freezer && !cgroup_unified(cg))
				cgroup_write(freezer, "freezer.state", "THAWED");
			if (cgroup_wait_empty(cg, CGROUP_EMPTY_WAIT_MS))
				return 0;
		}
	}
	snprintf(err, ENGINE_ERR_MAX, "%s: members left after SIGKILL", cg->places[0].dir);
	return -EBUSY;
}

bool cgroup_frozen(const struct cgroup *cg)
{
	const char *freezer = cgroup_dir(cg, CGROUP_FREEZER);
	char text[256];
	unsigned long long frozen;

	if (!freezer)
		return false;
	if (cgroup_unified(cg))
		return cgroup_read(freezer, "cgroup.events", text, sizeof(text)) > 0 &&
		       cgroup_parse_key(text, "frozen", &frozen) == 0 && frozen;
	/* v1 shows the parent's state too: FREEZING or FROZEN while the container is paused. */
	return cgroup_read(freezer, "freezer.state", text, sizeof(text)) > 0 && strncmp(text, "THAWED", 6) != 0;
}

int cgroup_cpu_ns(const struct cgroup *cg, unsigned long long *ns)
{
	const char *dir = cgroup_dir(cg, CGROUP_CPUACCT);
	char text[4096];
	unsigned long long usec;

	if (!dir)
		return -ENOENT;
	if (cgroup_unified(cg)) {
		if (cgroup_read(dir, "cpu.stat", text, sizeof(text)) < 0 || cgroup_parse_key(text, "usage_usec", &usec))
			return -ENOENT;
		*ns = usec * 1000;
		return 0;
	}
	if (cgroup_read(dir, "cpuacct.usage", text, sizeof(text)) < 0)
		return -ENOENT;
	return cgroup_parse_number(text, ns);
}

int cgroup_memory(const struct cgroup *cg, unsigned long long *bytes)
{
	const char *dir = cgroup_dir(cg, CGROUP_MEMORY);
	char text[64];

	/* v2: memory.current exists only where the parent enables the memory controller for its children. */
	if (!dir || cgroup_read(dir, cgroup_unified(cg) ? "memory.current" : "memory.usage_in_bytes", text,
				sizeof(text)) < 0)
		return -ENOENT;
	return cgroup_parse_number(text, bytes);
}

int cgroup_remove(const struct cgroup *cg, char err[ENGINE_ERR_MAX])
{
	int ret = 0;

	for (int i = 0; i < cg->count; i++) {
		int waited = 0;
		while (rmdir(cg->places[i].dir) < 0 && errno != ENOENT) {
			if (errno != EBUSY || waited++ >= CGROUP_REMOVE_WAIT_MS) {
				ret = -errno;
				snprintf(err, ENGINE_ERR_MAX, "rmdir %s: %s", cg->places[i].dir, strerror(errno));
				break;
			}
			cgroup_nap();
		}
	}
	return ret;
}
