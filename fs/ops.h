/*
 * seshfs: the FUSE low-level operations table.
 */
#ifndef SESHFS_OPS_H
#define SESHFS_OPS_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops seshfs_ops;

#endif
