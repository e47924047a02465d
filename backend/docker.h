/*
 * seshfs backend: a small Docker Engine API client.
 *
 * Request/response calls (ping, inspect, exec create) go through libcurl.
 * docker_exec_attach() starts an exec and hijacks its connection: the
 * returned struct exec_conn carries the raw stream (see exec_conn.h).
 *
 * Functions return 0 or a negative errno and, on failure, write one
 * human-readable line into err (never logged here: the caller decides).
 */
#ifndef SESHFS_DOCKER_H
#define SESHFS_DOCKER_H

#include <stdbool.h>
#include <stddef.h>

#define DOCKER_API_PREFIX "/v1.41"
#define DOCKER_ERR_MAX 256
#define DOCKER_EXEC_ID_MAX 72

struct docker;

/* What to run in a new exec. argv and env are NULL-terminated; env entries are "K=V". */
struct docker_exec_spec {
	const char *container;
	const char *const *argv;
	const char *const *env;
	const char *user;	/* NULL or "" for the container's default */
	const char *workdir;	/* NULL or "" for the container's default */
	bool attach_stdin;
	bool tty;
};

struct docker_exec_status {
	bool running;
	bool has_exit_code;
	int exit_code;
};

/* host_url: unix:///path or tcp://host:port; NULL means $DOCKER_HOST or the default socket. */
struct docker *docker_new(const char *host_url, char err[DOCKER_ERR_MAX]);
void docker_free(struct docker *d);
const char *docker_host_url(const struct docker *d);

/*
 * Checks that the engine answers and the container exists and runs.
 * -ECONNREFUSED engine unreachable, -ENOENT no such container,
 * -ESRCH container not running, -EIO anything else.
 */
int docker_container_check(struct docker *d, const char *container, char err[DOCKER_ERR_MAX]);

int docker_exec_create(struct docker *d, const struct docker_exec_spec *spec,
		       char id[DOCKER_EXEC_ID_MAX], char err[DOCKER_ERR_MAX]);
int docker_exec_inspect(struct docker *d, const char *exec_id,
			struct docker_exec_status *st, char err[DOCKER_ERR_MAX]);
/* Terminal size of a tty exec. */
int docker_exec_resize(struct docker *d, const char *exec_id, unsigned cols, unsigned rows,
		       char err[DOCKER_ERR_MAX]);

/* Read-only access for exec_conn.c, which opens its own connection. */
struct docker_endpoint {
	const char *unix_path;	/* set for unix:// hosts */
	const char *base_url;	/* "http://localhost" or "http://host:port" */
	const char *host_header;
};
void docker_endpoint(const struct docker *d, struct docker_endpoint *ep);

#endif
