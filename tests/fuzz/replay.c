/*
 * seshfs fuzz replay: runs a fuzz target once on each file of the corpus
 * directories given (or files), for builds without libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *bigger = realloc(data, cap);
			if (!bigger) {
				free(data);
				fclose(f);
				return -1;
			}
			data = bigger;
		}
		size_t got = fread(data + size, 1, cap - size, f);
		if (got == 0)
			break;
		size += got;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	(*count)++;
	return 0;
}

static int replay_path(const char *path, size_t *count)
{
	struct stat st;
	int ret = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	DIR *dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	struct dirent *entry;
	while ((entry = readdir(dir)) && ret == 0) {
		if (entry->d_name[0] == '.')
			continue;
		char *child;
		if (asprintf(&child, "%s/%s", path, entry->d_name) < 0) {
			ret = -1;
			break;
		}
		ret = replay_path(child, count);
		free(child);
	}
	closedir(dir);
	return ret;
}

int main(int argc, char *argv[])
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) < 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "%s: no input to replay\n", argv[0]);
		return 1;
	}
	printf("%s: %zu inputs replayed\n", argv[0], count);
	return 0;
}
