/*
 * seshfs unit tests: the check macro and its counts, shared by the files
 * of the unit-tests program.
 */
#ifndef SESHFS_UNIT_H
#define SESHFS_UNIT_H

#include <stdbool.h>
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

/* reply_stub.c: the answers a test allows, and what they were. */
struct reply_stub {
	bool answers;		/* reply_err, reply_written and the interrupt calls may come */
	bool interrupted;	/* requests were interrupted before they were watched */
	int replies;
	int last_err;		/* the last reply's errno, 0 for reply_written */
};
extern struct reply_stub reply_stub;

/* unit_guard.c: the command splitter, the policy, redaction. */
void test_guard(void);

#endif
