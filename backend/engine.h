/*
 * seshfs backend: the engine interface, what a container engine must offer
 * seshfs. Sessions call only these; Docker's API (docker.c) implements them,
 * and another protocol (Kubernetes pods/exec, say) would be one more
 * struct engine_ops.
 *
 * Every call blocks (bounded) and returns 0 or a negative errno, with one
 * human-readable line in err on failure (never logged here: the caller
 * decides). The errno says the cause the same way for every call:
 *   -ECONNREFUSED  the engine cannot be reached
 *   -ETIMEDOUT     it did not answer in time
 *   -ENOENT        no such container or exec
 *   -ESRCH         the container is not running (stopped, paused)
 *   -EIO           anything else
 */
#ifndef SESHFS_ENGINE_H
#define SESHFS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

#define ENGINE_ERR_MAX TRANSPORT_ERR_MAX
#define ENGINE_EXEC_ID_MAX 72

struct exec_conn;

/* What to run in a new exec. argv and env are NULL-terminated; env entries are "K=V". */
struct engine_exec_spec {
	const char *container;
	const char *const *argv;
	const char *const *env;
	const char *user;	/* NULL or "" for the container's default */
	const char *workdir;	/* NULL or "" for the container's default */
	bool attach_stdin;
	bool tty;
};

#define ENGINE_VERSION_MAX 64

enum engine_container_state {
	ENGINE_CONTAINER_RUNNING,
	ENGINE_CONTAINER_PAUSED,
	ENGINE_CONTAINER_EXITED,	/* created, exited, dead: not running */
};

struct engine_exec_status {
	bool has_exit_code;
	int exit_code;
};

#define ENGINE_CONTAINER_ID_MAX 72

/* A container to create (-o image=), like docker create --init. Lists are NULL-terminated. */
struct engine_container_spec {
	const char *name;
	const char *image;
	const char *const *entrypoint;	/* replaces the image's; it gets no arguments */
	const char *const *env;		/* "K=V" */
	const char *user;		/* NULL or "": the image's */
	const char *workdir;
	const char *const *labels;	/* "K=V" */
	long long memory;		/* bytes; 0: no limit */
	long long memory_swap;		/* bytes, memory included; 0: the engine's default */
	long long nano_cpus;		/* 1e9 per CPU; 0: no limit */
	long long pids;			/* 0: no limit */
	const char *network;		/* NULL: the engine's default */
	const char *const *binds;	/* "SRC:DST[:ro]" */
	const char *const *publish;	/* "[IP:]HOST:CONTAINER[/PROTO]" */
	const char *const *cap_drop;
	bool read_only;			/* with a tmpfs on /tmp */
	bool no_new_privileges;
	bool auto_remove;		/* the engine removes it once it stops */
};

struct engine;

struct engine_ops {
	const char *name;
	int (*exec_create)(struct engine *e, const struct engine_exec_spec *spec,
			   char id[ENGINE_EXEC_ID_MAX], char err[ENGINE_ERR_MAX]);
	/* Starts the exec and hands back its stream (see exec_conn.h). */
	int (*exec_attach)(struct engine *e, const char *exec_id, bool tty, int timeout_ms,
			   struct exec_conn **out, char err[ENGINE_ERR_MAX]);
	/* Terminal size of a tty exec. */
	int (*exec_resize)(struct engine *e, const char *exec_id, unsigned cols, unsigned rows,
			   char err[ENGINE_ERR_MAX]);
	int (*exec_inspect)(struct engine *e, const char *exec_id, struct engine_exec_status *st,
			    char err[ENGINE_ERR_MAX]);
	/*
	 * Runs a short command to completion; its output (stdout and stderr in
	 * order) is kept up to out_size bytes so a failure can be explained.
	 */
	int (*exec_run)(struct engine *e, const struct engine_exec_spec *spec, int timeout_ms,
			int *exit_code, char *out, size_t out_size, char err[ENGINE_ERR_MAX]);
	/* The container's state, and its full id if id is not NULL ("" if the engine gave none); -ENOENT if it does not exist. */
	int (*container_state)(struct engine *e, const char *container, enum engine_container_state *state,
			       char id[ENGINE_CONTAINER_ID_MAX], char err[ENGINE_ERR_MAX]);
	/* The engine's version, as it names it ("20.10.24"). */
	int (*version)(struct engine *e, char version[ENGINE_VERSION_MAX], char err[ENGINE_ERR_MAX]);
	/* The image is there, pulled if it was not: 0, -ENOENT if neither, or the call's error. */
	int (*image_ensure)(struct engine *e, const char *image, char err[ENGINE_ERR_MAX]);
	/* Creates a container (not started); its id in id. */
	int (*container_create)(struct engine *e, const struct engine_container_spec *spec,
				char id[ENGINE_CONTAINER_ID_MAX], char err[ENGINE_ERR_MAX]);
	int (*container_start)(struct engine *e, const char *id, char err[ENGINE_ERR_MAX]);
	/* Stops it (SIGTERM, then SIGKILL after timeout_s), and removes it unless keep. -ENOENT: gone already. */
	int (*container_end)(struct engine *e, const char *container, int timeout_s, bool keep,
			     char err[ENGINE_ERR_MAX]);
	/*
	 * Processes the memory limit killed in the container (by id), from its
	 * cgroup: -ENOENT where it cannot be read (a remote engine, say).
	 */
	int (*oom_kills)(struct engine *e, const char *container_id, unsigned long long *count);
	void (*free)(struct engine *e);
};

struct engine {
	const struct engine_ops *ops;
	struct transport transport;
};

/*
 * host_url: unix:///path or tcp://host:port; NULL means $DOCKER_HOST or the
 * default socket. tls: NULL or not enabled for a plain connection.
 */
struct engine *engine_open(const char *host_url, const struct transport_tls *tls, char err[ENGINE_ERR_MAX]);
void engine_free(struct engine *e);
/* Before the process forks (daemonizing): no thread of the engine's is left running. */
void engine_before_fork(struct engine *e);

static inline const char *engine_url(const struct engine *e)
{
	return e->transport.url;
}

/*
 * Does the container exist and run? 0 with its full id in id (for its
 * cgroup; "" if unknown), -ENOENT or -ESRCH (with err saying so), or the call's error.
 */
int engine_container_check(struct engine *e, const char *container, char id[ENGINE_CONTAINER_ID_MAX],
			   char err[ENGINE_ERR_MAX]);

/* The errno (see above) for an engine's HTTP status that is not a success. */
int engine_errno_from_status(long status);

#endif
