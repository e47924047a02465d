/*
 * seshfs: reading a small file whole (see file.h).
 */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int file_read_all(const char *path, char **text, size_t *len, char err[FILE_ERR_MAX])
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	size_t used = 0, size = 0;

	if (!f) {
		snprintf(err, FILE_ERR_MAX, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (used + 4096 + 1 > size) {
			size = size ? 2 * size : 8192;
			char *grown = size <= FILE_SIZE_MAX ? realloc(data, size) : NULL;
			if (!grown) {
				snprintf(err, FILE_ERR_MAX, "%s: %s", path,
					 size > FILE_SIZE_MAX ? "bigger than 16 MiB" : "out of memory");
				goto fail;
			}
			data = grown;
		}
		size_t n = fread(data + used, 1, size - used - 1, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, FILE_ERR_MAX, "%s: cannot read it", path);
		goto fail;
	}
	fclose(f);
	data[used] = '\0';
	*text = data;
	*len = used;
	return 0;
fail:
	fclose(f);
	free(data);
	return -1;
}

bool file_each_line(const char *text, size_t len, const char *name, file_line_fn fn, void *ctx, char *err,
		    size_t err_size)
{
	char reason[FILE_REASON_MAX];

	for (unsigned line_no = 1; len > 0; line_no++) {
		const char *nl = memchr(text, '\n', len);
		size_t line_len = nl ? (size_t)(nl - text) : len;
		if (!fn(ctx, text, line_len, reason)) {
			snprintf(err, err_size, "%s:%u: %s", name, line_no, reason);
			return false;
		}
		text += nl ? line_len + 1 : line_len;
		len -= nl ? line_len + 1 : line_len;
	}
	return true;
}
