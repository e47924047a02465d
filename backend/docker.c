/*
 * seshfs backend: Docker Engine request/response calls over libcurl.
 *
 * Idle curl handles are kept in a small pool so that each calling thread
 * reuses a live connection; a handle is never used by two threads at once.
 */
#include "docker.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKER_DEFAULT_HOST "unix:///var/run/docker.sock"
#define DOCKER_POOL_MAX 4
#define DOCKER_CONNECT_TIMEOUT_MS 5000L
#define DOCKER_REQUEST_TIMEOUT_MS 30000L
#define DOCKER_BODY_MAX (4 << 20)

struct docker {
	char *host_url;
	char *unix_path;
	char *base_url;
	char *host_header;
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

static int docker_parse_host(struct docker *d, const char *url, char err[DOCKER_ERR_MAX])
{
	if (strncmp(url, "unix://", 7) == 0) {
		if (url[7] != '/') {
			snprintf(err, DOCKER_ERR_MAX, "docker host '%s': unix socket path must be absolute", url);
			return -EINVAL;
		}
		d->unix_path = strdup(url + 7);
		d->base_url = strdup("http://localhost");
		d->host_header = strdup("localhost");
	} else if (strncmp(url, "tcp://", 6) == 0 && url[6] != '\0') {
		const char *hostport = url + 6;
		size_t n = strcspn(hostport, "/");
		d->host_header = strndup(hostport, n);
		if (d->host_header && asprintf(&d->base_url, "http://%s", d->host_header) < 0)
			d->base_url = NULL;
	} else {
		snprintf(err, DOCKER_ERR_MAX, "docker host '%s': expected unix:///path or tcp://host:port", url);
		return -EINVAL;
	}
	if (!d->base_url || !d->host_header || (url[0] == 'u' && !d->unix_path)) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

struct docker *docker_new(const char *host_url, char err[DOCKER_ERR_MAX])
{
	struct docker *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return NULL;
	}
	if (!host_url || !*host_url)
		host_url = getenv("DOCKER_HOST");
	if (!host_url || !*host_url)
		host_url = DOCKER_DEFAULT_HOST;
	d->host_url = strdup(host_url);
	pthread_mutex_init(&d->pool_lock, NULL);
	if (!d->host_url || docker_parse_host(d, host_url, err) < 0) {
		if (!d->host_url)
			snprintf(err, DOCKER_ERR_MAX, "out of memory");
		docker_free(d);
		return NULL;
	}
	return d;
}

void docker_free(struct docker *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->pool_len; i++)
		curl_easy_cleanup(d->pool[i]);
	pthread_mutex_destroy(&d->pool_lock);
	free(d->host_url);
	free(d->unix_path);
	free(d->base_url);
	free(d->host_header);
	free(d);
}

const char *docker_host_url(const struct docker *d)
{
	return d->host_url;
}

void docker_endpoint(const struct docker *d, struct docker_endpoint *ep)
{
	ep->unix_path = d->unix_path;
	ep->base_url = d->base_url;
	ep->host_header = d->host_header;
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
static void docker_error_message(const struct docker_body *body, long status,
				 char err[DOCKER_ERR_MAX])
{
	json_t *root = body->data ? json_loads(body->data, 0, NULL) : NULL;
	const char *msg = root ? json_string_value(json_object_get(root, "message")) : NULL;

	if (msg)
		snprintf(err, DOCKER_ERR_MAX, "%s", msg);
	else
		snprintf(err, DOCKER_ERR_MAX, "engine answered HTTP %ld", status);
	json_decref(root);
}

/*
 * One request. On success *status holds the HTTP status and *out the parsed
 * JSON body (NULL when empty). Returns -ECONNREFUSED when the engine cannot
 * be reached at all.
 */
static int docker_request(struct docker *d, const char *method, const char *path,
			  json_t *request_body, long *status, json_t **out,
			  char err[DOCKER_ERR_MAX])
{
	struct docker_body body = { 0 };
	struct curl_slist *headers = NULL;
	char *payload = NULL;
	char *url = NULL;
	int ret = -EIO;
	CURL *curl = docker_handle_take(d);

	*out = NULL;
	if (!curl || asprintf(&url, "%s%s%s", d->base_url, DOCKER_API_PREFIX, path) < 0) {
		url = NULL;
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	if (d->unix_path)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, d->unix_path);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, DOCKER_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, DOCKER_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, docker_body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	if (request_body) {
		payload = json_dumps(request_body, JSON_COMPACT);
		if (!payload) {
			snprintf(err, DOCKER_ERR_MAX, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
	}

	CURLcode rc = curl_easy_perform(curl);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
		snprintf(err, DOCKER_ERR_MAX, "cannot reach the Docker engine at %s: %s",
			 d->host_url, curl_easy_strerror(rc));
		ret = -ECONNREFUSED;
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err, DOCKER_ERR_MAX, "%s %s: %s", method, path,
			 body.too_large ? "response too large" : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300) {
		if (body.len > 0) {
			*out = json_loads(body.data, 0, NULL);
			if (!*out) {
				snprintf(err, DOCKER_ERR_MAX, "%s %s: malformed JSON answer", method, path);
				goto out;
			}
		}
	} else {
		docker_error_message(&body, *status, err);
	}
	ret = 0;
out:
	curl_slist_free_all(headers);
	free(payload);
	free(url);
	free(body.data);
	if (curl)
		docker_handle_give(d, curl);
	return ret;
}

static char *docker_escape(const char *s)
{
	char *escaped = curl_easy_escape(NULL, s, 0);
	char *copy = escaped ? strdup(escaped) : NULL;

	curl_free(escaped);
	return copy;
}

int docker_container_check(struct docker *d, const char *container, char err[DOCKER_ERR_MAX])
{
	char *name = docker_escape(container);
	char *path = NULL;
	json_t *info = NULL;
	long status = 0;
	int ret;

	if (!name || asprintf(&path, "/containers/%s/json", name) < 0) {
		path = NULL;
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ret = docker_request(d, "GET", path, NULL, &status, &info, err);
	if (ret < 0)
		goto out;
	if (status == 404) {
		snprintf(err, DOCKER_ERR_MAX, "container '%s' does not exist", container);
		ret = -ENOENT;
	} else if (status != 200 || !info) {
		ret = -EIO;
	} else if (!json_is_true(json_object_get(json_object_get(info, "State"), "Running"))) {
		snprintf(err, DOCKER_ERR_MAX, "container '%s' is not running", container);
		ret = -ESRCH;
	}
out:
	json_decref(info);
	free(path);
	free(name);
	return ret;
}

static json_t *docker_string_array(const char *const *items)
{
	json_t *array = json_array();

	for (; array && items && *items; items++)
		json_array_append_new(array, json_string(*items));
	return array;
}

int docker_exec_create(struct docker *d, const struct docker_exec_spec *spec,
		       char id[DOCKER_EXEC_ID_MAX], char err[DOCKER_ERR_MAX])
{
	char *name = docker_escape(spec->container);
	char *path = NULL;
	json_t *answer = NULL;
	json_t *request = NULL;
	long status = 0;
	int ret = -ENOMEM;

	if (!name || asprintf(&path, "/containers/%s/exec", name) < 0) {
		path = NULL;
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		goto out;
	}
	request = json_pack("{s:b, s:b, s:b, s:b, s:o, s:o, s:s, s:s}",
			    "AttachStdin", spec->attach_stdin,
			    "AttachStdout", 1, "AttachStderr", 1,
			    "Tty", spec->tty,
			    "Cmd", docker_string_array(spec->argv),
			    "Env", docker_string_array(spec->env),
			    "User", spec->user ? spec->user : "",
			    "WorkingDir", spec->workdir ? spec->workdir : "");
	if (!request) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		goto out;
	}
	ret = docker_request(d, "POST", path, request, &status, &answer, err);
	if (ret < 0)
		goto out;
	const char *exec_id = json_string_value(json_object_get(answer, "Id"));
	if (status == 201 && exec_id && strlen(exec_id) < DOCKER_EXEC_ID_MAX) {
		strcpy(id, exec_id);
	} else if (status == 404) {
		ret = -ENOENT;
	} else if (status == 409) {
		ret = -ESRCH;	/* paused or not running: the engine's message says which */
	} else {
		if (status == 201)
			snprintf(err, DOCKER_ERR_MAX, "exec create: answer has no usable Id");
		ret = -EIO;
	}
out:
	json_decref(answer);
	json_decref(request);
	free(path);
	free(name);
	return ret;
}

int docker_exec_inspect(struct docker *d, const char *exec_id,
			struct docker_exec_status *st, char err[DOCKER_ERR_MAX])
{
	char *path = NULL;
	json_t *info = NULL;
	long status = 0;
	int ret;

	if (asprintf(&path, "/exec/%s/json", exec_id) < 0) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = docker_request(d, "GET", path, NULL, &status, &info, err);
	free(path);
	if (ret < 0)
		goto out;
	if (status == 404) {
		ret = -ENOENT;
		goto out;
	}
	if (status != 200 || !info) {
		ret = -EIO;
		goto out;
	}
	json_t *code = json_object_get(info, "ExitCode");
	st->running = json_is_true(json_object_get(info, "Running"));
	st->has_exit_code = json_is_integer(code);
	st->exit_code = st->has_exit_code ? (int)json_integer_value(code) : 0;
out:
	json_decref(info);
	return ret;
}

int docker_exec_resize(struct docker *d, const char *exec_id, unsigned cols, unsigned rows,
		       char err[DOCKER_ERR_MAX])
{
	char *path = NULL;
	json_t *answer = NULL;
	long status = 0;
	int ret;

	if (asprintf(&path, "/exec/%s/resize?h=%u&w=%u", exec_id, rows, cols) < 0) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = docker_request(d, "POST", path, NULL, &status, &answer, err);
	free(path);
	json_decref(answer);
	if (ret == 0 && (status < 200 || status >= 300))
		ret = status == 404 ? -ENOENT : -EIO;
	return ret;
}
