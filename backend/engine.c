/*
 * seshfs backend: choosing an engine, and what every engine shares (see engine.h).
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docker.h"

#define ENGINE_DEFAULT_SOCKET "/var/run/docker.sock"
#define ENGINE_PODMAN_SOCKET "/run/podman/podman.sock"

/*
 * No DOCKER_HOST: Docker's socket, else Podman's Docker-compatible one where
 * only it exists (rootful, then rootless under $XDG_RUNTIME_DIR).
 */
static char *engine_default_host(void)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	char *rootless = NULL;
	char *url = NULL;

	if (access(ENGINE_DEFAULT_SOCKET, F_OK) != 0) {
		if (access(ENGINE_PODMAN_SOCKET, F_OK) == 0)
			return strdup("unix://" ENGINE_PODMAN_SOCKET);
		if (runtime && *runtime && asprintf(&rootless, "%s/podman/podman.sock", runtime) >= 0 &&
		    access(rootless, F_OK) == 0 && asprintf(&url, "unix://%s", rootless) < 0)
			url = NULL;
		free(rootless);
		if (url)
			return url;
	}
	return strdup("unix://" ENGINE_DEFAULT_SOCKET);
}

struct engine *engine_open(const char *host_url, const struct transport_tls *tls, char err[ENGINE_ERR_MAX])
{
	char *fallback = NULL;

	if (!host_url || !*host_url)
		host_url = getenv("DOCKER_HOST");
	if ((!host_url || !*host_url) && !(host_url = fallback = engine_default_host())) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return NULL;
	}
	struct engine *e = docker_engine_new(host_url, tls, err);
	free(fallback);
	return e;
}

void engine_before_fork(struct engine *e)
{
	transport_quiesce(&e->transport);
}

void engine_free(struct engine *e)
{
	if (e)
		e->ops->free(e);
}

int engine_container_check(struct engine *e, const char *container, char id[ENGINE_CONTAINER_ID_MAX],
			   char err[ENGINE_ERR_MAX])
{
	enum engine_container_state state;
	int ret = e->ops->container_state(e, container, &state, id, err);

	if (ret == -ENOENT)
		snprintf(err, ENGINE_ERR_MAX, "container '%s' does not exist", container);
	if (ret == 0 && state != ENGINE_CONTAINER_RUNNING) {
		snprintf(err, ENGINE_ERR_MAX, "container '%s' is not running", container);
		ret = -ESRCH;
	}
	return ret;
}

int engine_errno_from_status(long status)
{
	switch (status) {
	case 404:
		return -ENOENT;
	case 409:
		return -ESRCH;	/* conflict: the container is paused or not running */
	case 408:
	case 504:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}
