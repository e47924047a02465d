/*
 * seshfs backend: choosing an engine, and what every engine shares (see engine.h).
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "docker.h"

#define ENGINE_DEFAULT_HOST "unix:///var/run/docker.sock"

struct engine *engine_open(const char *host_url, const struct transport_tls *tls, char err[ENGINE_ERR_MAX])
{
	if (!host_url || !*host_url)
		host_url = getenv("DOCKER_HOST");
	if (!host_url || !*host_url)
		host_url = ENGINE_DEFAULT_HOST;
	return docker_engine_new(host_url, tls, err);
}

void engine_free(struct engine *e)
{
	if (e)
		e->ops->free(e);
}

int engine_container_check(struct engine *e, const char *container, char err[ENGINE_ERR_MAX])
{
	enum engine_container_state state;
	int ret = e->ops->container_state(e, container, &state, err);

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
