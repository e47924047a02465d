/*
 * seshfs backend: transports (see transport.h).
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

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

/*
 * TLS: curl's connection, through curl_easy_recv/send. OpenSSL may hold
 * decrypted bytes the socket no longer shows; curl cannot say how many, so
 * a read that filled its buffer counts as "maybe more" until one comes back
 * short.
 */
static ssize_t tls_recv(struct transport_stream *ts, void *buf, size_t len)
{
	size_t got = 0;
	CURLcode rc = curl_easy_recv(ts->curl, buf, len, &got);

	ts->maybe_more = rc == CURLE_OK && got == len && len > 0;
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	return rc == CURLE_OK ? (ssize_t)got : -EIO;
}

static ssize_t tls_send(struct transport_stream *ts, const void *buf, size_t len)
{
	size_t sent = 0;
	CURLcode rc = curl_easy_send(ts->curl, buf, len, &sent);

	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	return rc == CURLE_OK ? (ssize_t)sent : rc == CURLE_SEND_ERROR ? -EPIPE : -EIO;
}

static size_t tls_pending(const struct transport_stream *ts)
{
	return ts->maybe_more;
}

static const struct transport_stream_ops tls_stream_ops = {
	.recv = tls_recv,
	.send = tls_send,
	.pending = tls_pending,
};

/* The TLS settings, copied; false when out of memory. */
static bool transport_tls_copy(struct transport_tls *dst, const struct transport_tls *src)
{
	*dst = *src;
	dst->ca = src->ca ? strdup(src->ca) : NULL;
	dst->cert = src->cert ? strdup(src->cert) : NULL;
	dst->key = src->key ? strdup(src->key) : NULL;
	return (!src->ca || dst->ca) && (!src->cert || dst->cert) && (!src->key || dst->key);
}

/*
 * ssh://[user@]host[:port] -> ssh's argv, as the docker CLI runs it: batch
 * mode (no prompt can come), the user's own configuration and known hosts.
 * The host comes after "--", and one starting with '-' is refused too: ssh
 * would take "-oProxyCommand=..." for an option, and run it.
 */
static int transport_ssh_argv(struct transport_ssh *ssh, const char *spec, char err[TRANSPORT_ERR_MAX])
{
	const char *at = strchr(spec, '@');
	const char *host = at ? at + 1 : spec;
	size_t host_len = strcspn(host, ":/");
	const char *port = host[host_len] == ':' ? host + host_len + 1 : NULL;
	int argc = 0;

	if (host_len == 0 || (at && at == spec) || (port && (!*port || strspn(port, "0123456789") != strlen(port)))) {
		snprintf(err, TRANSPORT_ERR_MAX, "docker host 'ssh://%.100s': expected ssh://[user@]host[:port]", spec);
		return -EINVAL;
	}
	if (host[0] == '-') {
		snprintf(err, TRANSPORT_ERR_MAX,
			 "docker host 'ssh://%.100s': a host cannot start with '-' (ssh would take it for an option)", spec);
		return -EINVAL;
	}
	ssh->argv[argc++] = strdup("ssh");
	ssh->argv[argc++] = strdup("-o");
	ssh->argv[argc++] = strdup("BatchMode=yes");
	if (at) {
		ssh->argv[argc++] = strdup("-l");
		ssh->argv[argc++] = strndup(spec, (size_t)(at - spec));
	}
	if (port) {
		ssh->argv[argc++] = strdup("-p");
		ssh->argv[argc++] = strdup(port);
	}
	ssh->argv[argc++] = strdup("--");
	ssh->argv[argc++] = strndup(host, host_len);
	ssh->argv[argc++] = strdup("docker");
	ssh->argv[argc++] = strdup("system");
	ssh->argv[argc++] = strdup("dial-stdio");
	for (int i = 0; i < argc; i++) {
		if (!ssh->argv[i]) {
			snprintf(err, TRANSPORT_ERR_MAX, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * A connection the private socket accepted: ssh gets it as stdin and
 * stdout (its stderr is seshfs's: what it says about keys and hosts shows),
 * and is nobody's child.
 */
static void transport_ssh_spawn(const struct transport_ssh *ssh, int fd)
{
	pid_t child = fork();

	if (child == 0) {
		/* Only async-signal-safe calls from here: the parent has threads. */
		if (fork() != 0)
			_exit(0);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execvp(ssh->argv[0], ssh->argv);
		_exit(127);
	}
	if (child > 0)
		waitpid(child, NULL, 0);
	close(fd);
}

static void *transport_ssh_accept(void *arg)
{
	struct transport_ssh *ssh = arg;

	for (;;) {
		int fd = accept4(ssh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_mutex_lock(&ssh->lock);
		bool stopping = ssh->stopping;
		pthread_mutex_unlock(&ssh->lock);
		if (fd >= 0 && stopping) {
			close(fd);	/* transport_quiesce's own connection */
			return NULL;
		}
		if (fd >= 0)
			transport_ssh_spawn(ssh, fd);
		else if (errno != EINTR && errno != ECONNABORTED)
			return NULL;	/* shut down */
	}
}

/*
 * curl is about to connect: make sure this process accepts on the private
 * socket (a fork, fuse_daemonize's, keeps the socket but not the thread).
 */
static curl_socket_t transport_ssh_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct transport_ssh *ssh = clientp;
	bool running;
	(void)purpose;

	pthread_mutex_lock(&ssh->lock);
	running = ssh->acceptor_pid == getpid() ||
		  pthread_create(&ssh->acceptor, NULL, transport_ssh_accept, ssh) == 0;
	if (running)
		ssh->acceptor_pid = getpid();
	pthread_mutex_unlock(&ssh->lock);
	if (!running)
		return CURL_SOCKET_BAD;
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static int transport_ssh_init(struct transport *t, const char *spec, char err[TRANSPORT_ERR_MAX])
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct transport_ssh *ssh = calloc(1, sizeof(*ssh));
	char dir[] = "/tmp/seshfs-ssh-XXXXXX";

	if (!ssh) {
		snprintf(err, TRANSPORT_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	t->ssh = ssh;
	ssh->listen_fd = -1;
	pthread_mutex_init(&ssh->lock, NULL);
	int ret = transport_ssh_argv(ssh, spec, err);
	if (ret < 0)
		return ret;
	if (!mkdtemp(dir) || !(ssh->dir = strdup(dir)) ||
	    asprintf(&t->unix_path, "%s/engine.sock", dir) < 0) {
		t->unix_path = NULL;
		snprintf(err, TRANSPORT_ERR_MAX, "ssh: a private socket: %s", strerror(errno));
		return -EIO;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->unix_path);
	ssh->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ssh->listen_fd < 0 || bind(ssh->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(ssh->listen_fd, 64) < 0) {
		snprintf(err, TRANSPORT_ERR_MAX, "ssh: a private socket: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

void transport_quiesce(struct transport *t)
{
	struct transport_ssh *ssh = t->ssh;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (!ssh || ssh->acceptor_pid != getpid())
		return;
	pthread_mutex_lock(&ssh->lock);
	ssh->stopping = true;
	pthread_mutex_unlock(&ssh->lock);
	/* A connection of its own wakes the thread in accept(). */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->unix_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		shutdown(ssh->listen_fd, SHUT_RDWR);	/* cannot wake it: it ends, and ssh with it */
	pthread_join(ssh->acceptor, NULL);
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&ssh->lock);
	ssh->stopping = false;
	ssh->acceptor_pid = 0;
	pthread_mutex_unlock(&ssh->lock);
}

static void transport_ssh_cleanup(struct transport *t)
{
	struct transport_ssh *ssh = t->ssh;

	if (!ssh)
		return;
	if (ssh->listen_fd >= 0) {
		shutdown(ssh->listen_fd, SHUT_RDWR);	/* the acceptor's accept fails: it returns */
		if (ssh->acceptor_pid == getpid())
			pthread_join(ssh->acceptor, NULL);
		close(ssh->listen_fd);
	}
	if (t->unix_path)
		unlink(t->unix_path);	/* the private socket, in ssh->dir */
	if (ssh->dir)
		rmdir(ssh->dir);
	for (int i = 0; i < TRANSPORT_SSH_ARGC; i++)
		free(ssh->argv[i]);
	free(ssh->dir);
	pthread_mutex_destroy(&ssh->lock);
	free(ssh);
}

int transport_init(struct transport *t, const char *url, const struct transport_tls *tls,
		   char err[TRANSPORT_ERR_MAX])
{
	bool use_tls = tls && tls->enabled;

	memset(t, 0, sizeof(*t));
	t->stream_ops = use_tls ? &tls_stream_ops : &plain_stream_ops;
	if (use_tls && strncmp(url, "tcp://", 6) != 0) {
		snprintf(err, TRANSPORT_ERR_MAX, "docker host '%s': TLS needs a tcp://host:port engine", url);
		return -EINVAL;
	}
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
		if (t->host_header && asprintf(&t->base_url, "%s://%s", use_tls ? "https" : "http", t->host_header) < 0)
			t->base_url = NULL;
	} else if (strncmp(url, "ssh://", 6) == 0) {
		int ret = transport_ssh_init(t, url + 6, err);
		if (ret < 0) {
			transport_cleanup(t);
			return ret;
		}
		t->base_url = strdup("http://localhost");
		t->host_header = strdup("localhost");
	} else {
		snprintf(err, TRANSPORT_ERR_MAX,
			 "docker host '%s': expected unix:///path, tcp://host:port or ssh://[user@]host[:port]", url);
		return -EINVAL;
	}
	t->url = strdup(url);
	if (!t->url || !t->base_url || !t->host_header || (url[0] != 't' && !t->unix_path) ||
	    (use_tls && !transport_tls_copy(&t->tls, tls))) {
		transport_cleanup(t);
		snprintf(err, TRANSPORT_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void transport_cleanup(struct transport *t)
{
	transport_ssh_cleanup(t);	/* first: it removes the private socket at unix_path */
	free(t->url);
	free(t->unix_path);
	free(t->base_url);
	free(t->host_header);
	free((char *)t->tls.ca);
	free((char *)t->tls.cert);
	free((char *)t->tls.key);
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
	if (t->ssh) {
		curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, transport_ssh_open);
		curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, t->ssh);
	} else {
		curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, transport_open_socket);
		curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, socket_errno);
	}
	if (t->unix_path)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, t->unix_path);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	if (!t->tls.enabled)
		return;
	/* As the docker CLI: verified, the engine's certificate must chain to ca and name its host. */
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, t->tls.verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, t->tls.verify ? 2L : 0L);
	if (t->tls.ca)
		curl_easy_setopt(curl, CURLOPT_CAINFO, t->tls.ca);
	if (t->tls.cert)
		curl_easy_setopt(curl, CURLOPT_SSLCERT, t->tls.cert);
	if (t->tls.key)
		curl_easy_setopt(curl, CURLOPT_SSLKEY, t->tls.key);
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
	curl_easy_setopt(ts->curl, CURLOPT_ERRORBUFFER, ts->detail);
	/* curl only connects: the stream is read into seshfs's buffers, not curl's. */
	curl_easy_setopt(ts->curl, CURLOPT_BUFFERSIZE, 1024L);
	CURLcode rc = curl_easy_perform(ts->curl);
	free(url);
	if (rc != CURLE_OK) {
		int ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
			  transport_connect_errno(ts->curl, ts->socket_errno);
		snprintf(err, TRANSPORT_ERR_MAX, "cannot reach the Docker engine at %.60s: %.150s", t->url,
			 ret == -ECONNREFUSED || ret == -ETIMEDOUT ? ts->detail[0] ? ts->detail : curl_easy_strerror(rc) :
			 strerror(-ret));
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
