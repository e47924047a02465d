/*
 * seshfs backend: run a short command in a container to completion, over
 * any engine's exec create, attach and inspect: create + start + read the
 * stream to its end + inspect, all bounded by timeout_ms. Engines whose
 * protocol can do better (one request) implement engine_ops.exec_run
 * themselves; Docker's is this.
 */
#ifndef SESHFS_EXEC_RUN_H
#define SESHFS_EXEC_RUN_H

#include "engine.h"

int exec_run(struct engine *e, const struct engine_exec_spec *spec, int timeout_ms,
	     int *exit_code, char *out, size_t out_size, char err[ENGINE_ERR_MAX]);

#endif
