/*
 * seshfs backend: run a command to completion (see exec_run.h).
 */
#include "exec_run.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "demux.h"
#include "exec_conn.h"

struct exec_run_output {
	char *buf;
	size_t size;
	size_t len;
};

static void exec_run_keep(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct exec_run_output *out = ctx;
	(void)stream;

	if (out->size == 0)
		return;
	size_t room = out->size - 1 - out->len;
	if (len > room)
		len = room;
	memcpy(out->buf + out->len, data, len);
	out->len += len;
	out->buf[out->len] = '\0';
}

int exec_run(struct engine *e, const struct engine_exec_spec *spec, int timeout_ms,
	     int *exit_code, char *out, size_t out_size, char err[ENGINE_ERR_MAX])
{
	struct exec_run_output output = { .buf = out, .size = out_size };
	struct engine_exec_status status;
	struct exec_conn *conn = NULL;
	struct demux dm;
	char id[ENGINE_EXEC_ID_MAX];
	char buf[4096];
	long deadline = exec_conn_now_ms() + timeout_ms;
	int ret;

	if (out_size > 0)
		out[0] = '\0';
	ret = e->ops->exec_create(e, spec, id, err);
	if (ret < 0)
		return ret;
	ret = e->ops->exec_attach(e, id, spec->tty, timeout_ms, &conn, err);
	if (ret < 0)
		return ret;
	demux_init(&dm, spec->tty);
	for (;;) {
		ssize_t n = exec_conn_recv(conn, buf, sizeof(buf));
		if (n == -EAGAIN) {
			long left = deadline - exec_conn_now_ms();
			if (left <= 0 || exec_conn_wait(conn, POLLIN, (int)left) <= 0) {
				snprintf(err, ENGINE_ERR_MAX, "exec %.12s did not finish in %d ms", id, timeout_ms);
				ret = -ETIMEDOUT;
				goto out;
			}
			continue;
		}
		if (n <= 0)
			break;
		if (demux_feed(&dm, buf, n, exec_run_keep, &output) < 0) {
			snprintf(err, ENGINE_ERR_MAX, "exec %.12s: malformed stream", id);
			ret = -EPROTO;
			goto out;
		}
	}
	ret = e->ops->exec_inspect(e, id, &status, err);
	if (ret == 0 && !status.has_exit_code) {
		snprintf(err, ENGINE_ERR_MAX, "exec %.12s ended without an exit code", id);
		ret = -EIO;
	}
	if (ret == 0)
		*exit_code = status.exit_code;
out:
	exec_conn_close(conn);
	return ret;
}
