/*
 * seshfs unit tests: the check macro and its counts, shared by the files
 * of the unit-tests program.
 */
#ifndef SESHFS_UNIT_H
#define SESHFS_UNIT_H

#include <stdio.h>

extern int unit_passed;
extern int unit_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (cond) {                                                    \
			unit_passed++;                                         \
		} else {                                                       \
			unit_failed++;                                         \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
		}                                                              \
	} while (0)

/* unit_guard.c: the command splitter, the policy, redaction. */
void test_guard(void);

#endif
