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
	struct transport_stream stream;
	/* Stream bytes that arrived in the same read as the response headers. */
	char *early;
	size_t early_len;
	size_t early_off;
};

long exec_conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int exec_conn_wait(const struct exec_conn *c, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->stream.fd, .events = events };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int exec_conn_fd(const struct exec_conn *c)
{
	return c->stream.fd;
}

ssize_t exec_conn_recv(struct exec_conn *c, void *buf, size_t len)
{
	if (c->early_off < c->early_len) {
		size_t n = c->early_len - c->early_off;
		if (n > len)
			n = len;
		memcpy(buf, c->early + c->early_off, n);
		c->early_off += n;
		return n;
	}
	return c->stream.ops->recv(&c->stream, buf, len);
}

ssize_t exec_conn_send(struct exec_conn *c, const void *buf, size_t len)
{
	return c->stream.ops->send(&c->stream, buf, len);
}

size_t exec_conn_pending(const struct exec_conn *c)
{
	return c->early_len - c->early_off + c->stream.ops->pending(&c->stream);
}

void exec_conn_close(struct exec_conn *c)
{
	if (!c)
		return;
	transport_close(&c->stream);
	free(c->early);
	free(c);
}

/* Sends all of buf before the deadline. */
static int exec_send_all(struct exec_conn *c, const char *buf, size_t len, long deadline_ms)
{
	while (len > 0) {
		ssize_t n = exec_conn_send(c, buf, len);
		if (n == -EAGAIN) {
			long left = deadline_ms - exec_conn_now_ms();
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
		ssize_t n = c->stream.ops->recv(&c->stream, head + len, cap - 1 - len);
		if (n == -EAGAIN) {
			long left = deadline_ms - exec_conn_now_ms();
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
			    char err[ENGINE_ERR_MAX])
{
	char body[2048];
	size_t len = 0;

	while (len + 1 < sizeof(body)) {
		ssize_t n = exec_conn_recv(c, body + len, sizeof(body) - 1 - len);
		if (n == -EAGAIN) {
			long left = deadline_ms - exec_conn_now_ms();
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
		snprintf(err, ENGINE_ERR_MAX, "exec start: %s", msg);
	else
		snprintf(err, ENGINE_ERR_MAX, "exec start: engine answered HTTP %d", status);
	json_decref(root);
}

int exec_conn_start(const struct transport *t, const char *path, const char *body,
		    int timeout_ms, struct exec_conn **out, char err[ENGINE_ERR_MAX])
{
	char *request = NULL;
	char head[EXEC_HEADER_MAX];
	long deadline_ms = exec_conn_now_ms() + timeout_ms;
	struct exec_conn *c = calloc(1, sizeof(*c));
	int status = 0;
	int ret;

	*out = NULL;
	if (!c) {
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	ret = transport_connect(t, &c->stream, timeout_ms, err);
	if (ret < 0)
		goto fail;
	int request_len = asprintf(&request,
				   "POST %s HTTP/1.1\r\n"
				   "Host: %s\r\n"
				   "Content-Type: application/json\r\n"
				   "Connection: Upgrade\r\n"
				   "Upgrade: tcp\r\n"
				   "Content-Length: %zu\r\n"
				   "\r\n%s",
				   path, t->host_header, strlen(body), body);
	if (request_len < 0) {
		request = NULL;
		snprintf(err, ENGINE_ERR_MAX, "out of memory");
		ret = -ENOMEM;
		goto fail;
	}
	ret = exec_send_all(c, request, request_len, deadline_ms);
	if (ret == 0)
		ret = exec_read_head(c, head, sizeof(head), deadline_ms);
	if (ret < 0) {
		snprintf(err, ENGINE_ERR_MAX, "exec start: %s", strerror(-ret));
		ret = ret == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
		goto fail;
	}
	/* Only the status code matters: engines differ in the headers they send. */
	if (sscanf(head, "HTTP/%*d.%*d %d", &status) != 1) {
		snprintf(err, ENGINE_ERR_MAX, "exec start: malformed answer from the engine");
		ret = -EIO;
		goto fail;
	}
	if (status != 101 && status != 200) {
		exec_read_error(c, status, deadline_ms, err);
		ret = engine_errno_from_status(status);
		goto fail;
	}
	free(request);
	*out = c;
	return 0;
fail:
	free(request);
	exec_conn_close(c);
	return ret;
}
