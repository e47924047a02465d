/*
 * seshfs: the FUSE side of the reply port (session/reply.h).
 */
#ifndef SESHFS_REPLY_FUSE_H
#define SESHFS_REPLY_FUSE_H

#include <fuse_lowlevel.h>

/*
 * How long the kernel may keep names and attributes that change only
 * through seshfs (and are invalidated when they change otherwise).
 */
#define FS_CACHE_SECONDS 3600.0

/* Starts the thread that sends invalidations to se's kernel; 0 or -errno. */
int reply_start(struct fuse_session *se);
/* Sends what is queued, then stops it; before the session is unmounted. */
void reply_stop(void);

#endif
