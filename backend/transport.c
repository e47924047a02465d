/*
 * seshfs backend: transports (see transport.h).
 */
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Plain sockets: curl connected, the stream is read and written directly. */
static ssize_t plain_recv(struct transport_stream *ts, void *buf, size_t len)
{
	ssize_t got = recv(ts->fd, buf, len, MSG_DONTWAIT);

	if (got < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -EIO;
	return got;
}

static ssize_t plain_send(struct transport_stream *ts, const void *buf, size_t len)
{
	ssize_t n = send(ts->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN :
		       errno == EPIPE || errno == ECONNRESET ? -EPIPE : -EIO;
	return n;
}

static size_t plain_pending(const struct transport_stream *ts)
{
	(void)ts;
	return 0;
}

static const struct transport_stream_ops plain_stream_ops = {
	.recv = plain_recv,
	.send = plain_send,
	.pending = plain_pending,
};

int transport_init(struct transport *t, const char *url, char err[TRANSPORT_ERR_MAX])
{
	memset(t, 0, sizeof(*t));
	t->stream_ops = &plain_stream_ops;
	if (strncmp(url, "unix://", 7) == 0) {
		if (url[7] != '/') {
			snprintf(err, TRANSPORT_ERR_MAX, "docker host '%s': unix socket path must be absolute", url);
			return -EINVAL;
		}
		t->unix_path = strdup(url + 7);
		t->base_url = strdup("http://localhost");
		t->host_header = strdup("localhost");
	} else if (strncmp(url, "tcp://", 6) == 0 && url[6] != '\0') {
		const char *hostport = url + 6;
		t->host_header = strndup(hostport, strcspn(hostport, "/"));
		if (t->host_header && asprintf(&t->base_url, "http://%s", t->host_header) < 0)
			t->base_url = NULL;
	} else {
		snprintf(err, TRANSPORT_ERR_MAX, "docker host '%s': expected unix:///path or tcp://host:port", url);
		return -EINVAL;
	}
	t->url = strdup(url);
	if (!t->url || !t->base_url || !t->host_header || (url[0] == 'u' && !t->unix_path)) {
		transport_cleanup(t);
		snprintf(err, TRANSPORT_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void transport_cleanup(struct transport *t)
{
	free(t->url);
	free(t->unix_path);
	free(t->base_url);
	free(t->host_header);
	memset(t, 0, sizeof(*t));
}

int transport_connect_errno(CURL *curl, int socket_errno)
{
	long os_errno = socket_errno;

	if (os_errno == 0)
		curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
	switch (os_errno) {
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case ENOBUFS:
		return -(int)os_errno;
	default:
		return -ECONNREFUSED;
	}
}

/* curl makes its sockets here, so that a failure keeps its errno (curl reports none for it). */
static curl_socket_t transport_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	int *socket_errno = clientp;
	curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
	(void)purpose;

	*socket_errno = fd == CURL_SOCKET_BAD ? errno : 0;
	return fd;
}

void transport_setup_curl(const struct transport *t, CURL *curl, long connect_timeout_ms, int *socket_errno)
{
	*socket_errno = 0;
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, transport_open_socket);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, socket_errno);
	if (t->unix_path)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
}

int transport_connect(const struct transport *t, struct transport_stream *ts, int timeout_ms,
		      char err[TRANSPORT_ERR_MAX])
{
	char *url = NULL;

	memset(ts, 0, sizeof(*ts));
	ts->fd = CURL_SOCKET_BAD;
	ts->ops = t->stream_ops;
	ts->curl = curl_easy_init();
	if (!ts->curl || asprintf(&url, "%s/", t->base_url) < 0) {
		transport_close(ts);
		snprintf(err, TRANSPORT_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(ts->curl, CURLOPT_URL, url);
	transport_setup_curl(t, ts->curl, timeout_ms, &ts->socket_errno);
	curl_easy_setopt(ts->curl, CURLOPT_CONNECT_ONLY, 1L);
	/* curl only connects: the stream is read into seshfs's buffers, not curl's. */
	curl_easy_setopt(ts->curl, CURLOPT_BUFFERSIZE, 1024L);
	CURLcode rc = curl_easy_perform(ts->curl);
	free(url);
	if (rc != CURLE_OK) {
		int ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
			  transport_connect_errno(ts->curl, ts->socket_errno);
		snprintf(err, TRANSPORT_ERR_MAX, "cannot reach the Docker engine at %s: %s", t->url,
			 ret == -ECONNREFUSED || ret == -ETIMEDOUT ? curl_easy_strerror(rc) : strerror(-ret));
		transport_close(ts);
		return ret;
	}
	curl_easy_getinfo(ts->curl, CURLINFO_ACTIVESOCKET, &ts->fd);
	return 0;
}

void transport_close(struct transport_stream *ts)
{
	if (ts->curl)
		curl_easy_cleanup(ts->curl);
	ts->curl = NULL;
	ts->fd = CURL_SOCKET_BAD;
}
