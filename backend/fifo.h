/*
 * seshfs backend: FIFOs inside a local container for a shell's stdin,
 * stdout and stderr (see hostproc.h).
 *
 * A private directory (random name, 0700) holds three FIFOs, in, out and
 * err, on the first writable place of /tmp and /dev/shm inside the
 * container's root. Every path is resolved from a directory fd of
 * /proc/HOSTPID/root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS): a
 * symlink the container plants there never leads onto the host. The entries
 * belong to the user the host sees the shell run as. seshfs's own ends are
 * open before the shell opens its: out and err read-only, in read-write
 * (there is always a writer, so the shell's open of in does not wait), all
 * non-blocking. Once the shell has opened its ends the names go
 * (fifo_remove); the FIFOs live on in the open fds.
 */
#ifndef SESHFS_FIFO_H
#define SESHFS_FIFO_H

#include "engine.h"
#include "hostproc.h"

enum fifo_end {
	FIFO_IN,	/* the shell's stdin: seshfs writes */
	FIFO_OUT,	/* its stdout: seshfs reads */
	FIFO_ERR,	/* its stderr */
	FIFO_COUNT,
};

/* ".seshfs-" + 16 hex digits; "/dev/shm/" + that */
#define FIFO_NAME_MAX 32
#define FIFO_PATH_MAX 48

/* Zeroed: empty. The fds are open while name is set. */
struct fifo_dir {
	char name[FIFO_NAME_MAX];	/* the directory's name in the place; "" once removed */
	char path[FIFO_PATH_MAX];	/* the directory as the shell sees it */
	int place_fd;			/* the writable place (O_PATH) */
	int dir_fd;			/* the private directory (O_PATH) */
};

/*
 * Makes the directory and FIFOs inside hp's root, for hp's uid and gid, and
 * opens seshfs's ends into fds (O_CLOEXEC). 0, or -errno with err saying
 * why: -EROFS when no place is writable (a read-only root without a
 * writable tmpfs), -ESRCH once hp is gone. Nothing is left on failure.
 */
int fifo_create(const struct hostproc *hp, struct fifo_dir *dir, int fds[FIFO_COUNT], char err[ENGINE_ERR_MAX]);

/* Removes the FIFOs and the directory, and closes its fds; the open FIFOs work on. dir may be empty. */
void fifo_remove(struct fifo_dir *dir);

#endif
