/*
 * seshfs: reading a small file whole (rules files given at mount).
 */
#ifndef SESHFS_FILE_H
#define SESHFS_FILE_H

#include <stddef.h>

#define FILE_ERR_MAX 448
/* Rules files are small: a bigger one is a mistake (a wrong path). */
#define FILE_SIZE_MAX (16 * 1024 * 1024)

/* *text (malloc'd, NUL-terminated) and *len, or -1 with "PATH: reason" in err. */
int file_read_all(const char *path, char **text, size_t *len, char err[FILE_ERR_MAX]);

#endif
