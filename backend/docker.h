/*
 * seshfs backend: the Docker Engine API (also served by Podman) as an
 * engine (see engine.h). Request/response calls go through libcurl; exec
 * start hijacks its connection (exec_conn.c). Paths use DOCKER_API_PREFIX.
 */
#ifndef SESHFS_DOCKER_H
#define SESHFS_DOCKER_H

#include "engine.h"

#define DOCKER_API_PREFIX "/v1.41"

/* The engine at url (see transport.h), or NULL with a line in err. */
struct engine *docker_engine_new(const char *url, const struct transport_tls *tls, char err[ENGINE_ERR_MAX]);

#endif
