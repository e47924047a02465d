/*
 * seshfs backend: the hijacked connection of a started exec.
 *
 * exec_conn_start() sends POST /exec/ID/start with "Upgrade: tcp" over a
 * curl CONNECT_ONLY connection and waits (bounded) for "101 UPGRADED".
 * After that the connection carries the exec's raw stream: stdin bytes go
 * out as they are, output comes back framed (see demux.h) unless tty.
 *
 * curl makes the connection (unix socket or TCP; TLS is not supported) and
 * the stream is then read and written on its socket directly.
 *
 * exec_conn_send/recv never block: they return a byte count, 0 for EOF
 * (recv only), or -EAGAIN / -EPIPE / -EIO. A connection must be used by
 * one thread at a time.
 */
#ifndef SESHFS_EXEC_CONN_H
#define SESHFS_EXEC_CONN_H

#include <stdbool.h>
#include <sys/types.h>

#include "docker.h"

struct exec_conn;

/* 0 and *out, or -ECONNREFUSED (engine unreachable), -ETIMEDOUT, -ENOENT/-ESRCH, -EIO. */
int exec_conn_start(struct docker *d, const char *exec_id, bool tty, int timeout_ms,
		    struct exec_conn **out, char err[DOCKER_ERR_MAX]);
int exec_conn_fd(const struct exec_conn *c);
ssize_t exec_conn_recv(struct exec_conn *c, void *buf, size_t len);
ssize_t exec_conn_send(struct exec_conn *c, const void *buf, size_t len);
/* Half-close: the exec's process sees EOF on its stdin. */
void exec_conn_close_write(struct exec_conn *c);
void exec_conn_close(struct exec_conn *c);

/* Blocks until the fd is ready for events or timeout_ms pass: 1 ready, 0 timeout, -errno. */
int exec_conn_wait(const struct exec_conn *c, short events, int timeout_ms);

#endif
