/*
 * seshfs backend: a shell's FIFOs inside its container (see fifo.h).
 */
#include "fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The writable places tried, in order, relative to the container's root. */
static const char *const fifo_places[] = { "tmp", "dev/shm" };
static const char *const fifo_names[FIFO_COUNT] = { [FIFO_IN] = "in", [FIFO_OUT] = "out", [FIFO_ERR] = "err" };

/* openat2 without symlinks; in_root: absolute paths and ".." stay inside dirfd (the container's root). */
static int fifo_openat(int dirfd, const char *path, int flags, bool in_root)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_NO_SYMLINKS | (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH),
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static int fifo_random_name(char name[FIFO_NAME_MAX])
{
	unsigned char random[8];
	int len = snprintf(name, FIFO_NAME_MAX, ".seshfs-");

	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		return -EIO;
	for (size_t i = 0; i < sizeof(random); i++)
		len += snprintf(name + len, FIFO_NAME_MAX - len, "%02x", random[i]);
	return 0;
}

/*
 * The private directory in the first place of root that takes it, 0700 and
 * root's until its FIFOs are made. 0, or -errno (the last place's) with err.
 */
static int fifo_make_dir(int root_fd, struct fifo_dir *dir, char err[ENGINE_ERR_MAX])
{
	int ret = -EROFS;
	int len = 0;

	err[0] = '\0';
	for (size_t i = 0; i < sizeof(fifo_places) / sizeof(fifo_places[0]); i++) {
		int place = fifo_openat(root_fd, fifo_places[i], O_PATH | O_DIRECTORY, true);
		if (place >= 0) {
			ret = fifo_random_name(dir->name);
			if (ret == 0)
				ret = mkdirat(place, dir->name, 0700) < 0 ? -errno : 0;
			if (ret == 0) {
				dir->place_fd = place;
				snprintf(dir->path, sizeof(dir->path), "/%s/%s", fifo_places[i], dir->name);
				dir->dir_fd = fifo_openat(place, dir->name, O_PATH | O_DIRECTORY, false);
				if (dir->dir_fd >= 0)
					return 0;
				ret = dir->dir_fd;
				unlinkat(place, dir->name, AT_REMOVEDIR);
			}
			close(place);
		} else {
			ret = place;
		}
		if (len >= 0 && len < ENGINE_ERR_MAX)
			len += snprintf(err + len, ENGINE_ERR_MAX - len, "%s/%s: %s", i ? "; " : "no writable place: ",
					fifo_places[i], strerror(-ret));
	}
	dir->name[0] = '\0';
	/* Neither a read-only root nor a missing /dev/shm is an error of seshfs's: no place. */
	return ret == -ENOENT || ret == -EACCES || ret == -EPERM ? -EROFS : ret;
}

/* Makes one FIFO for uid/gid and opens seshfs's end: the fd, or -errno. */
static int fifo_make(const struct fifo_dir *dir, enum fifo_end end, const struct hostproc *hp)
{
	const char *name = fifo_names[end];
	struct stat st;

	if (mkfifoat(dir->dir_fd, name, 0600) < 0 ||
	    fchownat(dir->dir_fd, name, hp->uid, hp->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	int fd = fifo_openat(dir->dir_fd, name, (end == FIFO_IN ? O_RDWR : O_RDONLY) | O_NONBLOCK, false);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int fifo_create(const struct hostproc *hp, struct fifo_dir *dir, int fds[FIFO_COUNT], char err[ENGINE_ERR_MAX])
{
	char root[64];
	int made = 0;
	int ret;

	memset(dir, 0, sizeof(*dir));
	snprintf(root, sizeof(root), "/proc/%d/root", hp->pid);
	int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		ret = errno == ENOENT ? -ESRCH : -errno;
		snprintf(err, ENGINE_ERR_MAX, "cannot open %s: %s", root, strerror(errno));
		return ret;
	}
	/* The pid is the shell's still, so root is its container's. */
	if (!hostproc_alive(hp)) {
		close(root_fd);
		snprintf(err, ENGINE_ERR_MAX, "the shell is gone");
		return -ESRCH;
	}
	ret = fifo_make_dir(root_fd, dir, err);
	close(root_fd);
	if (ret < 0)
		return ret;
	for (; made < FIFO_COUNT; made++) {
		fds[made] = fifo_make(dir, (enum fifo_end)made, hp);
		if (fds[made] < 0) {
			ret = fds[made];
			snprintf(err, ENGINE_ERR_MAX, "cannot make the FIFO %s/%s: %s", dir->path, fifo_names[made],
				 strerror(-ret));
			goto fail;
		}
	}
	/* Last: until now only root could reach into the directory. */
	if (fchownat(dir->dir_fd, "", hp->uid, hp->gid, AT_EMPTY_PATH) < 0) {
		ret = -errno;
		snprintf(err, ENGINE_ERR_MAX, "cannot give %s to uid %u: %s", dir->path, (unsigned)hp->uid,
			 strerror(errno));
		goto fail;
	}
	return 0;
fail:
	while (made-- > 0)
		close(fds[made]);
	fifo_remove(dir);
	return ret;
}

void fifo_remove(struct fifo_dir *dir)
{
	if (!dir->name[0])
		return;
	for (int end = 0; end < FIFO_COUNT; end++)
		unlinkat(dir->dir_fd, fifo_names[end], 0);
	/* Not empty when the shell's user put something there: then it stays, harmless. */
	unlinkat(dir->place_fd, dir->name, AT_REMOVEDIR);
	close(dir->dir_fd);
	close(dir->place_fd);
	dir->name[0] = '\0';
}
