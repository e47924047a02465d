/*
 * seshfs fuzz targets: each file defines LLVMFuzzerTestOneInput for one
 * parser fed by a user or a container. Built with libFuzzer by
 * scripts/fuzz.sh; built with replay.c in every other build, so the suite
 * runs each seed corpus once as a regression test.
 */
#ifndef SESHFS_FUZZ_H
#define SESHFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property is a crash, which both libFuzzer and the replay report. */
#define FUZZ_ASSERT(cond)                                                                 \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                          \
		}                                                                         \
	} while (0)

/*
 * The next piece to feed, 1 to max bytes but no more than left: the split
 * points come from a small generator seeded by the input, so a crash replays.
 */
static inline size_t fuzz_piece(uint32_t *seed, size_t left, size_t max)
{
	*seed = *seed * 1103515245u + 12345u;
	size_t piece = 1 + (*seed >> 16) % max;
	return piece < left ? piece : left;
}

#endif
