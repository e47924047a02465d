/*
 * seshfs backend: the docker CLI's contexts (see context.h).
 */
#include "context.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *context_config_dir(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	char *path = NULL;

	if (dir && *dir)
		return strdup(dir);
	if (asprintf(&path, "%s/.docker", home ? home : "") < 0)
		return NULL;
	return path;
}

/* config.json's currentContext, or NULL. */
static char *context_current(const char *config_dir)
{
	char *path = NULL;
	char *name = NULL;

	if (asprintf(&path, "%s/config.json", config_dir) < 0)
		return NULL;
	json_t *config = json_load_file(path, 0, NULL);
	const char *current = json_string_value(json_object_get(config, "currentContext"));
	if (current && *current)
		name = strdup(current);
	json_decref(config);
	free(path);
	return name;
}

/* The context called name in the store: its host, and its id (the directory's name). */
static int context_find(const char *config_dir, const char *name, struct context_endpoint *ep,
			char err[CONTEXT_ERR_MAX])
{
	char *meta_dir = NULL;
	DIR *dir = NULL;
	struct dirent *entry;
	int ret = -1;

	if (asprintf(&meta_dir, "%s/contexts/meta", config_dir) < 0) {
		snprintf(err, CONTEXT_ERR_MAX, "out of memory");
		return -1;
	}
	dir = opendir(meta_dir);
	while (dir && ret < 0 && (entry = readdir(dir))) {
		char *path = NULL;
		if (entry->d_name[0] == '.' || asprintf(&path, "%s/%s/meta.json", meta_dir, entry->d_name) < 0)
			continue;
		json_t *meta = json_load_file(path, 0, NULL);
		free(path);
		const char *found = json_string_value(json_object_get(meta, "Name"));
		json_t *docker = json_object_get(json_object_get(meta, "Endpoints"), "docker");
		const char *host = json_string_value(json_object_get(docker, "Host"));
		if (found && strcmp(found, name) == 0) {
			struct stat st;
			char *tls = NULL;
			ep->name = strdup(name);
			ep->host = host && *host ? strdup(host) : NULL;
			ep->tls_verify = !json_is_true(json_object_get(docker, "SkipTLSVerify"));
			if (asprintf(&tls, "%s/../tls/%s/docker", meta_dir, entry->d_name) >= 0 && stat(tls, &st) == 0 &&
			    S_ISDIR(st.st_mode))
				ep->tls_dir = tls;
			else
				free(tls);
			ret = 0;
		}
		json_decref(meta);
	}
	if (dir)
		closedir(dir);
	free(meta_dir);
	if (ret < 0)
		snprintf(err, CONTEXT_ERR_MAX, "context '%.64s' not found in %.120s/contexts", name, config_dir);
	return ret;
}

int context_resolve(const char *host_opt, const char *context_opt, struct context_endpoint *ep,
		    char err[CONTEXT_ERR_MAX])
{
	const char *host_env = getenv("DOCKER_HOST");
	const char *context_env = getenv("DOCKER_CONTEXT");
	char *config_dir = NULL, *current = NULL;
	const char *name = NULL;
	int ret = 0;

	memset(ep, 0, sizeof(*ep));
	if (host_opt && context_opt) {
		snprintf(err, CONTEXT_ERR_MAX, "docker_host and context cannot be given together");
		return -1;
	}
	/* The docker CLI's order: --context, --host, DOCKER_HOST, DOCKER_CONTEXT, currentContext. */
	if (context_opt)
		name = context_opt;
	else if (host_opt || (host_env && *host_env))
		name = NULL;
	else if (context_env && *context_env)
		name = context_env;
	else if ((config_dir = context_config_dir()) && (current = context_current(config_dir)))
		name = current;
	if (name && strcmp(name, "default") != 0) {
		if (!config_dir && !(config_dir = context_config_dir())) {
			snprintf(err, CONTEXT_ERR_MAX, "out of memory");
			ret = -1;
		} else {
			ret = context_find(config_dir, name, ep, err);
		}
	} else if (host_opt && !(ep->host = strdup(host_opt))) {
		snprintf(err, CONTEXT_ERR_MAX, "out of memory");
		ret = -1;
	}
	free(config_dir);
	free(current);
	if (ret < 0)
		context_endpoint_free(ep);
	return ret;
}

void context_endpoint_free(struct context_endpoint *ep)
{
	free(ep->name);
	free(ep->host);
	free(ep->tls_dir);
	memset(ep, 0, sizeof(*ep));
}
