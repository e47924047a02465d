/*
 * seshfs backend: run a short command in a container to completion.
 *
 * create + start + read the stream to its end + inspect, all bounded by
 * timeout_ms. Output (stdout and stderr, in order) is kept up to out_size
 * bytes so a failure can be explained.
 */
#ifndef SESHFS_EXEC_RUN_H
#define SESHFS_EXEC_RUN_H

#include "docker.h"

int exec_run(struct docker *d, const struct docker_exec_spec *spec, int timeout_ms,
	     int *exit_code, char *out, size_t out_size, char err[DOCKER_ERR_MAX]);

#endif
