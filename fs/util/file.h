/*
 * seshfs: reading a small file whole (rules files given at mount).
 */
#ifndef SESHFS_FILE_H
#define SESHFS_FILE_H

#include <stdbool.h>
#include <stddef.h>

#define FILE_ERR_MAX 448
/* Rules files are small: a bigger one is a mistake (a wrong path). */
#define FILE_SIZE_MAX (16 * 1024 * 1024)

/* *text (malloc'd, NUL-terminated) and *len, or -1 with "PATH: reason" in err. */
int file_read_all(const char *path, char **text, size_t *len, char err[FILE_ERR_MAX]);

#define FILE_REASON_MAX 256

/* One line of a rules file (no newline): false with the reason why it is bad. */
typedef bool (*file_line_fn)(void *ctx, const char *line, size_t len, char reason[FILE_REASON_MAX]);

/*
 * Calls fn for each line of text[0..len); the first bad one stops it with
 * "NAME:LINE: reason" in err (err_size bytes), and false.
 */
bool file_each_line(const char *text, size_t len, const char *name, file_line_fn fn, void *ctx, char *err,
		    size_t err_size);

#endif
