/*
 * seshfs backend: the Docker Engine API as an engine (see docker.h).
 *
 * Idle curl handles are kept in a small pool so that each calling thread
 * reuses a live connection; a handle is never used by two threads at once.
 */
#include "docker.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_conn.h"
#include "exec_run.h"

#define DOCKER_POOL_MAX 4
#define DOCKER_CONNECT_TIMEOUT_MS 5000L
#define DOCKER_REQUEST_TIMEOUT_MS 30000L
#define DOCKER_BODY_MAX (4 << 20)

struct docker {
	struct engine engine;
	pthread_mutex_t pool_lock;
	CURL *pool[DOCKER_POOL_MAX];
	int pool_len;
};

struct docker_body {
	char *data;
	size_t len;
	bool too_large;
};

static size_t docker_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct docker_body *body = userdata;
	size_t n = size * nmemb;

	if (body->len + n > DOCKER_BODY_MAX) {
		body->too_large = true;
		return 0;
	}
	char *grown = realloc(body->data, body->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + body->len, ptr, n);
	body->data = grown;
	body->len += n;
	body->data[body->len] = '\0';
	return n;
}

static CURL *docker_handle_take(struct docker *d)
{
	CURL *curl = NULL;

	pthread_mutex_lock(&d->pool_lock);
	if (d->pool_len > 0)
		curl = d->pool[--d->pool_len];
	pthread_mutex_unlock(&d->pool_lock);
	return curl ? curl : curl_easy_init();
}

static void docker_handle_give(struct docker *d, CURL *curl)
{
	pthread_mutex_lock(&d->pool_lock);
	if (d->pool_len < DOCKER_POOL_MAX) {
		d->pool[d->pool_len++] = curl;
		curl = NULL;
	}
	pthread_mutex_unlock(&d->pool_lock);
	if (curl)
		curl_easy_cleanup(curl);
}

/* The engine's {"message": "..."} error body, or the HTTP status if there is none. */
static void docker_error_message(const struct docker_body *body, long status, char err[ENGINE_ERR_MAX])
{
	json_t *root = body->data ? json_loads(body->data, 0, NULL) : NULL;
	const char *msg = root ? json_string_value(json_object_get(root, "message")) : NULL;

	if (msg)
		snprintf(err, ENGINE_ERR_MAX, "%s", msg);
	else
		snprintf(err, ENGINE_ERR_MAX, "engine answered HTTP %ld", status);
	json_decref(root);
}

/*
 * One request to the path that path_fmt makes (its %s arguments URL-safe
 * already). Returns 0 with *status a success (2xx) and *out the parsed JSON
 * body (NULL when empty); else -errno (engine.h), with err set.
 */
static int docker_request(struct docker *d, const char *method, json_t *request_body, long *status,
			  json_t **out, char err[ENGINE_ERR_MAX], const char *path_fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int docker_request(struct docker *d, const char *method, json_t *request_body, long *status,
			  json_t **out, char err[ENGINE_ERR_MAX], const char *path_fmt, ...)
{
	struct docker_body body = { 0 };
	struct curl_slist *headers = NULL;
	char *payload = NULL;
	char *path = NULL;
	char *url = NULL;
	int ret = -EIO;
	CURL *curl = docker_handle_take(d);
	int socket_errno = 0;
	char detail[CURL_ERROR_SIZE] = "";	/* curl's own words: a TLS error names its cause */
	va_list ap;

	if (out)
		*out = NULL;
	va_start(ap, path_fmt);
	if (vasprintf(&path, path_fmt, ap) < 0)
		path = NULL;
	va_end(ap);
	if (!curl || !path ||
	    asprintf(&url, "%s%s%s", d->engine.transport.base_url, DOCKER_API_PREFIX, path) < 0) {
		url = NULL;
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	transport_setup_curl(&d->engine.transport, curl, DOCKER_CONNECT_TIMEOUT_MS, &socket_errno);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, DOCKER_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, docker_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	if (request_body) {
		payload = json_dumps(request_body, JSON_COMPACT);
		if (!payload) {
			snprintf(err, ENGINE_ERR_MAX, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
	}

	CURLcode rc = curl_easy_perform(curl);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
		ret = transport_connect_errno(curl, socket_errno);
		snprintf(err, ENGINE_ERR_MAX, "cannot reach the Docker engine at %s: %s", d->engine.transport.url,
			 ret == -ECONNREFUSED ? curl_easy_strerror(rc) : strerror(-ret));
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err, ENGINE_ERR_MAX, "%s %s: %s", method, path,
			 body.too_large ? "response too large" : detail[0] ? detail : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status >= 300) {
		docker_error_message(&body, *status, err);
		ret = engine_errno_from_status(*status);
		goto out;
	}
	if (out && body.len > 0) {
		*out = json_loads(body.data, 0, NULL);
		if (!*out) {
			snprintf(err, ENGINE_ERR_MAX, "%s %s: malformed JSON answer", method, path);
			goto out;
		}
	}
	ret = 0;
out:
	if (curl)
		curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);	/* detail is this call's */
	curl_slist_free_all(headers);
	free(payload);
	free(path);
	free(url);
	free(body.data);
	if (curl)
		docker_handle_give(d, curl);
	return ret;
}

/* The container's name made safe for a URL path; free with curl_free. NULL: out of memory. */
static char *docker_escape(const char *container, char err[ENGINE_ERR_MAX])
{
	char *name = curl_easy_escape(NULL, container, 0);

	if (!name)
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
	return name;
}

static int docker_container_state(struct engine *e, const char *container, enum engine_container_state *state,
				  char id[ENGINE_CONTAINER_ID_MAX], char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	char *name = docker_escape(container, err);
	json_t *info = NULL;
	long status = 0;

	if (!name)
		return -ENOMEM;
	int ret = docker_request(d, "GET", NULL, &status, &info, err, "/containers/%s/json", name);
	json_t *st = json_object_get(info, "State");
	if (ret == 0 && !json_is_object(st)) {
		snprintf(err, ENGINE_ERR_MAX, "container inspect: no State in the answer");
		ret = -EIO;
	} else if (ret == 0) {
		*state = json_is_true(json_object_get(st, "Paused")) ? ENGINE_CONTAINER_PAUSED :
			 json_is_true(json_object_get(st, "Running")) ? ENGINE_CONTAINER_RUNNING :
			 ENGINE_CONTAINER_EXITED;
		const char *full = json_string_value(json_object_get(info, "Id"));
		if (id)
			snprintf(id, ENGINE_CONTAINER_ID_MAX, "%s", full && strlen(full) < ENGINE_CONTAINER_ID_MAX ? full : "");
	}
	json_decref(info);
	curl_free(name);
	return ret;
}

static int docker_version(struct engine *e, char version[ENGINE_VERSION_MAX], char err[ENGINE_ERR_MAX])
{
	json_t *info = NULL;
	long status = 0;
	int ret = docker_request((struct docker *)e, "GET", NULL, &status, &info, err, "/version");
	const char *text = json_string_value(json_object_get(info, "Version"));

	if (ret == 0 && !text) {
		snprintf(err, ENGINE_ERR_MAX, "version: no Version in the answer");
		ret = -EIO;
	} else if (ret == 0) {
		snprintf(version, ENGINE_VERSION_MAX, "%s", text);
	}
	json_decref(info);
	return ret;
}

static json_t *docker_string_array(const char *const *items)
{
	json_t *array = json_array();

	for (; array && items && *items; items++)
		json_array_append_new(array, json_string(*items));
	return array;
}

static int docker_exec_create(struct engine *e, const struct engine_exec_spec *spec,
			      char id[ENGINE_EXEC_ID_MAX], char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	char *name = docker_escape(spec->container, err);
	json_t *answer = NULL;
	json_t *request = NULL;
	long status = 0;
	int ret = -ENOMEM;

	if (!name)
		goto out;
	request = json_pack("{s:b, s:b, s:b, s:b, s:o, s:o, s:s, s:s}",
			    "AttachStdin", spec->attach_stdin,
			    "AttachStdout", 1, "AttachStderr", 1,
			    "Tty", spec->tty,
			    "Cmd", docker_string_array(spec->argv),
			    "Env", docker_string_array(spec->env),
			    "User", spec->user ? spec->user : "",
			    "WorkingDir", spec->workdir ? spec->workdir : "");
	if (!request) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		goto out;
	}
	ret = docker_request(d, "POST", request, &status, &answer, err, "/containers/%s/exec", name);
	if (ret < 0)
		goto out;
	const char *exec_id = json_string_value(json_object_get(answer, "Id"));
	if (status == 201 && exec_id && strlen(exec_id) < ENGINE_EXEC_ID_MAX) {
		strcpy(id, exec_id);
	} else {
		snprintf(err, ENGINE_ERR_MAX, "exec create: answer has no usable Id");
		ret = -EIO;
	}
out:
	json_decref(answer);
	json_decref(request);
	curl_free(name);
	return ret;
}

static int docker_exec_inspect(struct engine *e, const char *exec_id, struct engine_exec_status *st,
			       char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	json_t *info = NULL;
	long status = 0;
	int ret = docker_request(d, "GET", NULL, &status, &info, err, "/exec/%s/json", exec_id);

	if (ret == 0 && !info) {
		snprintf(err, ENGINE_ERR_MAX, "exec inspect: empty answer");
		ret = -EIO;
	}
	if (ret == 0) {
		json_t *code = json_object_get(info, "ExitCode");
		st->has_exit_code = json_is_integer(code);
		st->exit_code = st->has_exit_code ? (int)json_integer_value(code) : 0;
	}
	json_decref(info);
	return ret;
}

static int docker_exec_resize(struct engine *e, const char *exec_id, unsigned cols, unsigned rows,
			      char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	json_t *answer = NULL;
	long status = 0;
	int ret = docker_request(d, "POST", NULL, &status, &answer, err, "/exec/%s/resize?h=%u&w=%u",
				 exec_id, rows, cols);

	json_decref(answer);
	return ret;
}

static int docker_exec_attach(struct engine *e, const char *exec_id, bool tty, int timeout_ms,
			      struct exec_conn **out, char err[ENGINE_ERR_MAX])
{
	char path[128];
	const char *body = tty ? "{\"Detach\":false,\"Tty\":true}" : "{\"Detach\":false,\"Tty\":false}";

	snprintf(path, sizeof(path), "%s/exec/%s/start", DOCKER_API_PREFIX, exec_id);
	return exec_conn_start(&e->transport, path, body, timeout_ms, out, err);
}

/* Pulling answers 200 with a stream of progress objects: whether it worked, the image's presence says. */
static int docker_image_ensure(struct engine *e, const char *image, char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	char *name = docker_escape(image, err);
	long status = 0;

	if (!name)
		return -ENOMEM;
	int ret = docker_request(d, "GET", NULL, &status, NULL, err, "/images/%s/json", name);
	if (ret == -ENOENT) {
		ret = docker_request(d, "POST", NULL, &status, NULL, err, "/images/create?fromImage=%s", name);
		if (ret == 0 || ret == -EIO || ret == -ENOENT)
			ret = docker_request(d, "GET", NULL, &status, NULL, err, "/images/%s/json", name);
	}
	curl_free(name);
	return ret;
}

/* "K=V" items as an object of K: V. */
static json_t *docker_labels(const char *const *items)
{
	json_t *object = json_object();

	for (; object && items && *items; items++) {
		const char *eq = strchr(*items, '=');
		char *key = eq ? strndup(*items, (size_t)(eq - *items)) : strdup(*items);
		if (key)
			json_object_set_new(object, key, json_string(eq ? eq + 1 : ""));
		free(key);
	}
	return object;
}

/* publish items ("[IP:]HOST:CONTAINER[/PROTO]") into PortBindings and ExposedPorts; false if one is malformed. */
static bool docker_ports(const char *const *items, json_t *bindings, json_t *exposed, char err[ENGINE_ERR_MAX])
{
	for (; items && *items; items++) {
		char ip[64] = "", host[16] = "", port[16] = "", proto[8] = "tcp";
		const char *last = strrchr(*items, ':');
		const char *first = strchr(*items, ':');
		int n = 0;
		if (first && first != last)
			n = sscanf(*items, "%63[^:]:%15[0-9]:%15[0-9]/%7[a-z]", ip, host, port, proto);
		else if (first)
			n = sscanf(*items, "%15[0-9]:%15[0-9]/%7[a-z]", host, port, proto) + 1;
		if (n < 3) {
			snprintf(err, ENGINE_ERR_MAX, "publish '%.64s': expected [IP:]HOST:CONTAINER[/PROTO]", *items);
			return false;
		}
		char key[32];
		snprintf(key, sizeof(key), "%s/%s", port, proto);
		json_t *list = json_object_get(bindings, key);
		if (!list) {
			list = json_array();
			json_object_set_new(bindings, key, list);
		}
		json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", host));
		json_object_set_new(exposed, key, json_object());
	}
	return true;
}

static int docker_container_create(struct engine *e, const struct engine_container_spec *spec,
				   char id[ENGINE_CONTAINER_ID_MAX], char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	json_t *bindings = json_object(), *exposed = json_object();
	json_t *host = NULL, *request = NULL, *answer = NULL;
	char *name = docker_escape(spec->name, err);
	long status = 0;
	int ret = -ENOMEM;

	if (!name || !bindings || !exposed)
		goto out;
	if (!docker_ports(spec->publish, bindings, exposed, err)) {
		ret = -EINVAL;
		goto out;
	}
	host = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:b, s:o}",
			 "Init", 1, "AutoRemove", spec->auto_remove,
			 "Memory", (json_int_t)spec->memory, "MemorySwap", (json_int_t)spec->memory_swap,
			 "NanoCpus", (json_int_t)spec->nano_cpus, "PidsLimit", (json_int_t)spec->pids,
			 "Binds", docker_string_array(spec->binds), "PortBindings", json_incref(bindings),
			 "ReadonlyRootfs", spec->read_only, "CapDrop", docker_string_array(spec->cap_drop));
	if (host && spec->network)
		json_object_set_new(host, "NetworkMode", json_string(spec->network));
	if (host && spec->read_only)
		json_object_set_new(host, "Tmpfs", json_pack("{s:s}", "/tmp", "rw,exec"));
	if (host && spec->no_new_privileges)
		json_object_set_new(host, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
	/* stdin open, nobody attached: the keep-alive reads it and never gets a line. */
	request = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:b, s:o, s:o}",
			    "Image", spec->image, "Entrypoint", docker_string_array(spec->entrypoint),
			    "Cmd", json_array(), "Env", docker_string_array(spec->env),
			    "User", spec->user ? spec->user : "", "WorkingDir", spec->workdir ? spec->workdir : "",
			    "Labels", docker_labels(spec->labels), "OpenStdin", 1, "ExposedPorts", json_incref(exposed),
			    "HostConfig", json_incref(host));
	if (!host || !request) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		goto out;
	}
	ret = docker_request(d, "POST", request, &status, &answer, err, "/containers/create?name=%s", name);
	if (ret < 0)
		goto out;
	const char *text = json_string_value(json_object_get(answer, "Id"));
	if (!text || strlen(text) >= ENGINE_CONTAINER_ID_MAX) {
		snprintf(err, ENGINE_ERR_MAX, "container create: answer has no usable Id");
		ret = -EIO;
		goto out;
	}
	strcpy(id, text);
	ret = 0;
out:
	if (ret == -ENOMEM && err[0] == '\0')
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
	json_decref(answer);
	json_decref(request);
	json_decref(host);
	json_decref(bindings);
	json_decref(exposed);
	curl_free(name);
	return ret;
}

static int docker_container_start(struct engine *e, const char *id, char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	char *name = docker_escape(id, err);
	long status = 0;

	if (!name)
		return -ENOMEM;
	int ret = docker_request(d, "POST", NULL, &status, NULL, err, "/containers/%s/start", name);
	curl_free(name);
	return ret;
}

static int docker_container_end(struct engine *e, const char *container, int timeout_s, bool keep,
				char err[ENGINE_ERR_MAX])
{
	struct docker *d = (struct docker *)e;
	char *name = docker_escape(container, err);
	long status = 0;

	if (!name)
		return -ENOMEM;
	int ret = docker_request(d, "POST", NULL, &status, NULL, err, "/containers/%s/stop?t=%d", name, timeout_s);
	if (status == 304)
		ret = 0;	/* stopped already */
	if (!keep && ret == 0) {
		/* Auto-remove may have taken it, or be at it (409). */
		ret = docker_request(d, "DELETE", NULL, &status, NULL, err, "/containers/%s?force=1", name);
		if (ret == -ENOENT || status == 409)
			ret = 0;
	}
	curl_free(name);
	return ret;
}

static int docker_oom_count(FILE *f, unsigned long long *count)
{
	char line[128];

	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "oom_kill %llu", count) == 1)
			return 0;
	return -ENOENT;
}

/*
 * The cgroup's count of OOM kills, on the host (a local engine's
 * containers): cgroup v2 memory.events or v1 memory.oom_control, under
 * the cgroupfs or the systemd driver's path.
 */
static int docker_oom_kills(struct engine *e, const char *container_id, unsigned long long *count)
{
	static const char *const paths[] = {
		"/sys/fs/cgroup/docker/%s/memory.events",
		"/sys/fs/cgroup/system.slice/docker-%s.scope/memory.events",
		"/sys/fs/cgroup/memory/docker/%s/memory.oom_control",
		"/sys/fs/cgroup/memory/system.slice/docker-%s.scope/memory.oom_control",
	};

	if (strncmp(engine_url(e), "unix://", 7) != 0)
		return -ENOENT;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), paths[i], container_id);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int ret = docker_oom_count(f, count);
		fclose(f);
		/* v1 counts a kill in the cgroup it happened in: add the sessions' cgroups below. */
		char *slash = strrchr(path, '/');
		DIR *dir = NULL;
		if (ret == 0 && strstr(path, "oom_control") && slash && (*slash = '\0', dir = opendir(path))) {
			struct dirent *d;
			while ((d = readdir(dir))) {
				char child[sizeof(path) + 300];
				unsigned long long n;
				if (d->d_type != DT_DIR || d->d_name[0] == '.')
					continue;
				snprintf(child, sizeof(child), "%s/%.255s/memory.oom_control", path, d->d_name);
				FILE *cf = fopen(child, "r");
				if (cf && docker_oom_count(cf, &n) == 0)
					*count += n;
				if (cf)
					fclose(cf);
			}
			closedir(dir);
		}
		return ret;
	}
	return -ENOENT;
}

static void docker_free(struct engine *e)
{
	struct docker *d = (struct docker *)e;

	for (int i = 0; i < d->pool_len; i++)
		curl_easy_cleanup(d->pool[i]);
	pthread_mutex_destroy(&d->pool_lock);
	transport_cleanup(&d->engine.transport);
	free(d);
}

static const struct engine_ops docker_ops = {
	.name = "docker",
	.exec_create = docker_exec_create,
	.exec_attach = docker_exec_attach,
	.exec_resize = docker_exec_resize,
	.exec_inspect = docker_exec_inspect,
	.exec_run = exec_run,
	.container_state = docker_container_state,
	.version = docker_version,
	.image_ensure = docker_image_ensure,
	.container_create = docker_container_create,
	.container_start = docker_container_start,
	.container_end = docker_container_end,
	.oom_kills = docker_oom_kills,
	.free = docker_free,
};

struct engine *docker_engine_new(const char *url, const struct transport_tls *tls, char err[ENGINE_ERR_MAX])
{
	struct docker *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return NULL;
	}
	d->engine.ops = &docker_ops;
	pthread_mutex_init(&d->pool_lock, NULL);
	if (transport_init(&d->engine.transport, url, tls, err) < 0) {
		pthread_mutex_destroy(&d->pool_lock);
		free(d);
		return NULL;
	}
	return &d->engine;
}
