/*
 * seshfs backend: which engine to reach, as the docker CLI decides it:
 * the mount's docker_host or context option, else DOCKER_HOST, else
 * DOCKER_CONTEXT, else the CLI's current context (config.json), else the
 * default socket. Named contexts come from the CLI's context store
 * ($DOCKER_CONFIG or ~/.docker: contexts/meta/ID/meta.json, their TLS files
 * in contexts/tls/ID/docker/).
 */
#ifndef SESHFS_CONTEXT_H
#define SESHFS_CONTEXT_H

#include <stdbool.h>

#define CONTEXT_ERR_MAX 256

struct context_endpoint {
	char *name;		/* the context's; NULL: the default (DOCKER_HOST, TLS from the environment) */
	char *host;		/* the engine's address; NULL: DOCKER_HOST or the default socket */
	char *tls_dir;		/* a named context's TLS files (ca.pem, cert.pem, key.pem); NULL: none */
	bool tls_verify;	/* not SkipTLSVerify */
};

/* host_opt, context_opt: the mount's options, or NULL. 0, or -1 with one line in err. */
int context_resolve(const char *host_opt, const char *context_opt, struct context_endpoint *ep,
		    char err[CONTEXT_ERR_MAX]);
void context_endpoint_free(struct context_endpoint *ep);

#endif
