/*
 * seshfs backend: transports, how bytes reach an engine.
 *
 * A transport is parsed from the engine's address (unix:///path,
 * tcp://host:port, ssh://[user@]host[:port]). It sets up libcurl for request/response calls and for
 * the connect-only connections that exec streams are hijacked from, and it
 * names the stream operations that move a hijacked connection's bytes:
 * plain recv/send on the socket, where there is no TLS, so the data path
 * costs one syscall per read. A stream operation set whose library buffers
 * bytes (TLS) reports them with pending(), since epoll cannot see them.
 */
#ifndef SESHFS_TRANSPORT_H
#define SESHFS_TRANSPORT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TRANSPORT_ERR_MAX 256

struct transport_stream;

/* Non-blocking: a byte count, 0 for EOF (recv), or -EAGAIN / -EPIPE / -EIO. */
struct transport_stream_ops {
	ssize_t (*recv)(struct transport_stream *ts, void *buf, size_t len);
	ssize_t (*send)(struct transport_stream *ts, const void *buf, size_t len);
	/* Bytes received and buffered by the transport, invisible to epoll. */
	size_t (*pending)(const struct transport_stream *ts);
};

struct transport_stream {
	const struct transport_stream_ops *ops;
	CURL *curl;
	curl_socket_t fd;
	int socket_errno;	/* see transport_setup_curl */
	bool maybe_more;	/* TLS: the last read filled its buffer, the library may hold more */
	char detail[CURL_ERROR_SIZE];	/* curl's words for a failed connect */
};

/* TLS to a tcp:// engine, as the docker CLI's DOCKER_TLS_VERIFY and DOCKER_CERT_PATH set it up. */
struct transport_tls {
	bool enabled;
	bool verify;		/* check the engine's certificate against ca */
	const char *ca;		/* PEM files; NULL: none */
	const char *cert;
	const char *key;
};

#define TRANSPORT_SSH_ARGC 13

/*
 * ssh://: curl connects to a private unix socket, and each connection
 * accepted there becomes the stdin and stdout of one ssh running docker
 * system dial-stdio on the engine's host, as the docker CLI does.
 */
struct transport_ssh {
	char *argv[TRANSPORT_SSH_ARGC];	/* NULL-terminated */
	char *dir;			/* private (0700): holds the socket */
	int listen_fd;
	pthread_mutex_t lock;
	pid_t acceptor_pid;		/* the process whose thread accepts (0: none yet) */
	pthread_t acceptor;
	bool stopping;			/* transport_quiesce: the next connection ends the thread */
};

struct transport {
	char *url;		/* as given, for messages */
	char *unix_path;	/* unix:// and ssh:// (the private socket) */
	struct transport_ssh *ssh;	/* ssh:// only */
	char *base_url;		/* "http://localhost", "http://host:port" or "https://host:port" */
	char *host_header;
	struct transport_tls tls;	/* its strings owned */
	const struct transport_stream_ops *stream_ops;
};

/* 0, or -EINVAL / -ENOMEM with a line in err. tls: NULL or not enabled for none. */
int transport_init(struct transport *t, const char *url, const struct transport_tls *tls,
		   char err[TRANSPORT_ERR_MAX]);
void transport_cleanup(struct transport *t);
/* Before a fork (fuse_daemonize): no thread of the transport's is left; the next connection starts one. */
void transport_quiesce(struct transport *t);
/*
 * Points curl at the engine (URL base, socket, timeouts, no signals). The
 * errno of a socket that could not be made goes to *socket_errno, which
 * must live as long as the request.
 */
void transport_setup_curl(const struct transport *t, CURL *curl, long connect_timeout_ms, int *socket_errno);

/*
 * The errno for a connection curl could not make: what the system said when
 * it is about this process (EMFILE, ENFILE, ENOMEM, ENOBUFS), else
 * ECONNREFUSED (nobody answers at the engine's address). Negative.
 */
int transport_connect_errno(CURL *curl, int socket_errno);

/*
 * Connects a stream (blocking, bounded by timeout_ms). 0, -ECONNREFUSED
 * (the engine cannot be reached), -ETIMEDOUT or -ENOMEM, with a line in err.
 */
int transport_connect(const struct transport *t, struct transport_stream *ts, int timeout_ms,
		      char err[TRANSPORT_ERR_MAX]);
void transport_close(struct transport_stream *ts);

#endif
