/*
 * seshfs: the detacher, a small process of seshfs's own that detaches the
 * mount once seshfs is gone (kill -9, a crash). fusermount3's auto_unmount
 * does the same from userspace checks that sometimes lose a race and leave
 * the mount point dead (ENOTCONN); the detacher does not depend on them.
 *
 * It holds neither /dev/fuse nor the engine's connections, and nothing on
 * the mount (its working directory is /). Its only link to seshfs is a pipe
 * whose write end seshfs alone holds: EOF means seshfs died. It then
 * detaches the mount at the mount point (umount2 MNT_DETACH) if the topmost
 * mount there is still the one seshfs made (mount id, device and type as
 * /proc/self/mountinfo showed them just after mounting). After a clean
 * unmount seshfs tells it so and it exits without doing anything.
 *
 * Root only (umount2); otherwise one log line and fusermount3 alone.
 */
#ifndef SESHFS_DETACH_H
#define SESHFS_DETACH_H

#include <stdbool.h>

/*
 * Forks the detacher for mountpoint (an absolute path). Before any thread
 * starts and before /dev/fuse is opened: the child must hold neither.
 */
void detach_start(const char *mountpoint, bool foreground);
/* Once the mount is made: tells the detacher which mount is seshfs's. */
void detach_arm(void);
/* After a clean unmount: the detacher exits and does nothing. */
void detach_disarm(void);

#endif
