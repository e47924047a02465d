/*
 * seshfs backend: the Docker Engine API as an engine (see docker.h).
 *
 * Idle curl handles are kept in a small pool so that each calling thread
 * reuses a live connection; a handle is never used by two threads at once.
 */
#include "docker.h"

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
	va_list ap;

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
			 body.too_large ? "response too large" : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (*status < 200 || *status >= 300) {
		docker_error_message(&body, *status, err);
		ret = engine_errno_from_status(*status);
		goto out;
	}
	if (body.len > 0) {
		*out = json_loads(body.data, 0, NULL);
		if (!*out) {
			snprintf(err, ENGINE_ERR_MAX, "%s %s: malformed JSON answer", method, path);
			goto out;
		}
	}
	ret = 0;
out:
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
				  char err[ENGINE_ERR_MAX])
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
	.free = docker_free,
};

struct engine *docker_engine_new(const char *url, char err[ENGINE_ERR_MAX])
{
	struct docker *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return NULL;
	}
	d->engine.ops = &docker_ops;
	pthread_mutex_init(&d->pool_lock, NULL);
	if (transport_init(&d->engine.transport, url, err) < 0) {
		pthread_mutex_destroy(&d->pool_lock);
		free(d);
		return NULL;
	}
	return &d->engine;
}
