/*
 * seshfs: the detacher (see detach.h).
 */
#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

#define DETACH_TYPE_MAX 32
#define DETACH_DISARMED 'u'

/* A mount as /proc/self/mountinfo shows it. */
struct detach_mount {
	int id;
	unsigned major, minor;
	char type[DETACH_TYPE_MAX];
};

static char detach_path[PATH_MAX];
static int detach_fd = -1;	/* seshfs's end of the socket pair */

/* mountinfo writes a space, tab, newline or backslash in a path as \ooo: decoded in place. */
static void detach_unescape(char *field)
{
	char *out = field;

	for (const char *in = field; *in; out++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' &&
		    in[3] <= '7') {
			*out = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 4;
		} else {
			*out = *in++;
		}
	}
	*out = '\0';
}

/* The topmost mount on path (the last one mountinfo lists there): false if there is none. */
static bool detach_find(const char *path, struct detach_mount *found)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t size = 0;
	bool any = false;

	if (!f)
		return false;
	/* ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS */
	while (getline(&line, &size, f) > 0) {
		struct detach_mount m = { 0 };
		const char *separator = strstr(line, " - ");
		int point = 0;

		if (sscanf(line, "%d %*d %u:%u %*s %n", &m.id, &m.major, &m.minor, &point) < 3 || !point ||
		    !separator || sscanf(separator + 3, "%31s", m.type) != 1)
			continue;
		char *end = strchr(line + point, ' ');
		if (!end)
			continue;
		*end = '\0';
		detach_unescape(line + point);
		if (strcmp(line + point, path) == 0) {
			*found = m;
			any = true;
		}
	}
	free(line);
	fclose(f);
	return any;
}

/* len bytes from fd: false at EOF (or an error) before them. */
static bool detach_receive(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/*
 * The detacher itself: waits as long as seshfs lives (seshfs's own waits
 * are bounded), then detaches what it was told is seshfs's mount.
 */
static void __attribute__((noreturn)) detach_run(int fd, bool foreground)
{
	struct detach_mount mine, now;
	char disarmed;
	int sock = fcntl(fd, F_DUPFD, 3), null = open("/dev/null", O_RDWR);

	setsid();	/* signals to seshfs's job (^C, ^Z, a hangup) are not its */
	prctl(PR_SET_NAME, "seshfs-detach");
	signal(SIGPIPE, SIG_IGN);
	/* Nothing of its parent's but the log: a directory or fd it kept could hold the mount or a pipe open. */
	if (sock < 0 || null < 0 || chdir("/") < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (!foreground && dup2(null, 2) < 0))
		_exit(1);
	close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0U, 0);
	log_init(foreground, false);
	if (!detach_receive(sock, &mine, sizeof(mine)) || detach_receive(sock, &disarmed, 1))
		_exit(0);
	if (!detach_find(detach_path, &now) || now.id != mine.id || now.major != mine.major ||
	    now.minor != mine.minor || strcmp(now.type, mine.type) != 0)
		_exit(0);	/* fusermount3 was first, or the mount point holds another mount now */
	if (umount2(detach_path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		log_info("died without unmounting: the mount on %s is detached", detach_path);
	else if (errno != EINVAL)	/* EINVAL: fusermount3 came in between */
		log_error("died without unmounting: cannot detach the mount on %s: %s", detach_path, strerror(errno));
	_exit(0);
}

void detach_start(const char *mountpoint, bool foreground)
{
	int fds[2], status = 0;

	if (geteuid() != 0) {
		log_info("not root: a killed seshfs's mount is left to fusermount3 (auto_unmount), "
			 "which may leave it dead until fusermount3 -u");
		return;
	}
	if (snprintf(detach_path, sizeof(detach_path), "%s", mountpoint) >= (int)sizeof(detach_path)) {
		log_error("cannot start the detacher: %s", strerror(ENAMETOOLONG));
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		log_error("cannot start the detacher: %s", strerror(errno));
		return;
	}
	/* Forked twice: the detacher is nobody's child, so it is never left a zombie. */
	pid_t child = fork();
	if (child == 0) {
		close(fds[1]);
		pid_t detacher = fork();
		if (detacher == 0)
			detach_run(fds[0], foreground);
		_exit(detacher < 0);
	}
	int saved = errno;
	close(fds[0]);
	if (child < 0 || waitpid(child, &status, 0) < 0 || status != 0) {
		log_error("cannot start the detacher: %s", child < 0 ? strerror(saved) : "fork failed");
		close(fds[1]);
		return;
	}
	detach_fd = fds[1];
}

void detach_arm(void)
{
	struct detach_mount mine;

	if (detach_fd < 0)
		return;
	if (!detach_find(detach_path, &mine) || strncmp(mine.type, "fuse", 4) != 0) {
		log_error("%s is not in /proc/self/mountinfo: a killed seshfs's mount is left to fusermount3",
			  detach_path);
		detach_disarm();
		return;
	}
	if (send(detach_fd, &mine, sizeof(mine), MSG_NOSIGNAL) != (ssize_t)sizeof(mine)) {
		log_error("cannot tell the detacher of the mount: %s", strerror(errno));
		close(detach_fd);
		detach_fd = -1;
	}
}

void detach_disarm(void)
{
	char disarmed = DETACH_DISARMED;

	if (detach_fd < 0)
		return;
	send(detach_fd, &disarmed, 1, MSG_NOSIGNAL);	/* failed: the detacher is gone already */
	close(detach_fd);
	detach_fd = -1;
}
