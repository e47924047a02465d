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

#endif
