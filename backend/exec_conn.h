/*
 * seshfs backend: the hijacked connection of a started exec.
 *
 * exec_conn_start() sends the start request (POST PATH with "Upgrade: tcp")
 * over a connect-only transport stream and waits (bounded) for "101
 * UPGRADED". After that the connection carries the exec's raw stream: stdin
 * bytes go out as they are, output comes back framed (see demux.h) unless tty.
 *
 * exec_conn_send/recv never block: they return a byte count, 0 for EOF
 * (recv only), or -EAGAIN / -EPIPE / -EIO. A connection must be used by
 * one thread at a time.
 */
#ifndef SESHFS_EXEC_CONN_H
#define SESHFS_EXEC_CONN_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine.h"

struct exec_conn;

/* 0 and *out, or -errno as engine.h says. */
int exec_conn_start(const struct transport *t, const char *path, const char *body,
		    int timeout_ms, struct exec_conn **out, char err[ENGINE_ERR_MAX]);
int exec_conn_fd(const struct exec_conn *c);
ssize_t exec_conn_recv(struct exec_conn *c, void *buf, size_t len);
ssize_t exec_conn_send(struct exec_conn *c, const void *buf, size_t len);
/* Bytes that a recv would return although the socket has none (see transport.h). */
size_t exec_conn_pending(const struct exec_conn *c);
void exec_conn_close(struct exec_conn *c);

/* CLOCK_MONOTONIC in milliseconds, for the deadlines of the blocking calls. */
long exec_conn_now_ms(void);
/* Blocks until the fd is ready for events or timeout_ms pass: 1 ready, 0 timeout, -errno. */
int exec_conn_wait(const struct exec_conn *c, short events, int timeout_ms);

#endif
