/*
 * seshfs backend: exec start and connection hijack.
 */
#include "exec_conn.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define EXEC_HEADER_MAX 8192

struct exec_conn {
	CURL *curl;
	curl_socket_t fd;
	/* Stream bytes that arrived in the same read as the response headers. */
	char *early;
	size_t early_len;
	size_t early_off;
};

static long exec_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int exec_conn_wait(const struct exec_conn *c, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int exec_conn_fd(const struct exec_conn *c)
{
	return c->fd;
}

ssize_t exec_conn_recv(struct exec_conn *c, void *buf, size_t len)
{
	size_t n = 0;

	if (c->early_off < c->early_len) {
		n = c->early_len - c->early_off;
		if (n > len)
			n = len;
		memcpy(buf, c->early + c->early_off, n);
		c->early_off += n;
		return n;
	}
	/* Plain sockets only (no TLS): curl connected, the stream is ours to read directly. */
	ssize_t got = recv(c->fd, buf, len, MSG_DONTWAIT);
	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : errno == EINTR ? -EAGAIN : -EIO;
	return got;
}

ssize_t exec_conn_send(struct exec_conn *c, const void *buf, size_t len)
{
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN :
		       errno == EPIPE || errno == ECONNRESET ? -EPIPE : -EIO;
	return n;
}

void exec_conn_close_write(struct exec_conn *c)
{
	shutdown(c->fd, SHUT_WR);
}

void exec_conn_close(struct exec_conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->early);
	free(c);
}

/* Sends all of buf before the deadline. */
static int exec_send_all(struct exec_conn *c, const char *buf, size_t len, long deadline_ms)
{
	while (len > 0) {
		ssize_t n = exec_conn_send(c, buf, len);
		if (n == -EAGAIN) {
			long left = deadline_ms - exec_now_ms();
			if (left <= 0 || exec_conn_wait(c, POLLOUT, (int)left) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return (int)n;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Reads the response head into head (NUL-terminated); bytes past the blank
 * line are kept in c->early for the stream or the error body.
 */
static int exec_read_head(struct exec_conn *c, char *head, size_t cap, long deadline_ms)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(c->fd, head + len, cap - 1 - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			long left = deadline_ms - exec_now_ms();
			if (left <= 0 || exec_conn_wait(c, POLLIN, (int)left) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return -ECONNRESET;
		len += (size_t)n;
		head[len] = '\0';
		char *end = strstr(head, "\r\n\r\n");
		if (end) {
			size_t head_len = end + 4 - head;
			c->early_len = len - head_len;
			if (c->early_len > 0) {
				c->early = malloc(c->early_len);
				if (!c->early)
					return -ENOMEM;
				memcpy(c->early, end + 4, c->early_len);
			}
			end[2] = '\0';
			return 0;
		}
		if (len + 1 >= cap)
			return -EPROTO;
	}
}

/* The error body after a non-101 answer: whatever arrived with the head, plus a bounded read. */
static void exec_read_error(struct exec_conn *c, int status, long deadline_ms,
			    char err[DOCKER_ERR_MAX])
{
	char body[2048];
	size_t len = 0;

	while (len + 1 < sizeof(body)) {
		ssize_t n = exec_conn_recv(c, body + len, sizeof(body) - 1 - len);
		if (n == -EAGAIN) {
			long left = deadline_ms - exec_now_ms();
			if (left <= 0 || exec_conn_wait(c, POLLIN, (int)(left < 200 ? left : 200)) <= 0)
				break;
			continue;
		}
		if (n <= 0)
			break;
		len += n;
		body[len] = '\0';
		if (memchr(body, '}', len))
			break;
	}
	body[len] = '\0';
	json_t *root = json_loads(strchr(body, '{') ? strchr(body, '{') : body,
				  JSON_DISABLE_EOF_CHECK, NULL);
	const char *msg = json_string_value(json_object_get(root, "message"));
	if (msg)
		snprintf(err, DOCKER_ERR_MAX, "exec start: %s", msg);
	else
		snprintf(err, DOCKER_ERR_MAX, "exec start: engine answered HTTP %d", status);
	json_decref(root);
}

int exec_conn_start(struct docker *d, const char *exec_id, bool tty, int timeout_ms,
		    struct exec_conn **out, char err[DOCKER_ERR_MAX])
{
	struct docker_endpoint ep;
	char *url = NULL;
	char *request = NULL;
	char head[EXEC_HEADER_MAX];
	long deadline_ms = exec_now_ms() + timeout_ms;
	struct exec_conn *c = calloc(1, sizeof(*c));
	int status = 0;
	int ret = -ENOMEM;

	*out = NULL;
	if (!c) {
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	docker_endpoint(d, &ep);
	c->curl = curl_easy_init();
	if (!c->curl || asprintf(&url, "%s/", ep.base_url) < 0) {
		url = NULL;
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		goto fail;	/* ret is -ENOMEM */
	}
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (ep.unix_path)
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, ep.unix_path);
	curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	/* curl only connects; the stream is read with recv() into seshfs's buffers. */
	curl_easy_setopt(c->curl, CURLOPT_BUFFERSIZE, 1024L);
	CURLcode rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		snprintf(err, DOCKER_ERR_MAX, "cannot reach the Docker engine at %s: %s",
			 docker_host_url(d), curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		goto fail;
	}
	curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &c->fd);

	const char *body = tty ? "{\"Detach\":false,\"Tty\":true}" : "{\"Detach\":false,\"Tty\":false}";
	int request_len = asprintf(&request,
				   "POST %s/exec/%s/start HTTP/1.1\r\n"
				   "Host: %s\r\n"
				   "Content-Type: application/json\r\n"
				   "Connection: Upgrade\r\n"
				   "Upgrade: tcp\r\n"
				   "Content-Length: %zu\r\n"
				   "\r\n%s",
				   DOCKER_API_PREFIX, exec_id, ep.host_header, strlen(body), body);
	if (request_len < 0) {
		request = NULL;
		snprintf(err, DOCKER_ERR_MAX, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	ret = exec_send_all(c, request, request_len, deadline_ms);
	if (ret == 0)
		ret = exec_read_head(c, head, sizeof(head), deadline_ms);
	if (ret < 0) {
		snprintf(err, DOCKER_ERR_MAX, "exec start: %s", strerror(-ret));
		ret = ret == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
		goto fail;
	}
	/* Only the status code matters: engines differ in the headers they send. */
	if (sscanf(head, "HTTP/%*d.%*d %d", &status) != 1) {
		snprintf(err, DOCKER_ERR_MAX, "exec start: malformed answer from the engine");
		ret = -EIO;
		goto fail;
	}
	if (status != 101 && status != 200) {
		exec_read_error(c, status, deadline_ms, err);
		ret = status == 404 ? -ENOENT : status == 409 ? -ESRCH : -EIO;
		goto fail;
	}
	free(request);
	free(url);
	*out = c;
	return 0;
fail:
	free(request);
	free(url);
	exec_conn_close(c);
	return ret;
}
