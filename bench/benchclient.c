/*
 * seshfs benchmark client: the same measurements over two channels.
 *
 *   benchclient raw CONTAINER roundtrip N   a persistent exec through seshfs's backend
 *   benchclient fs  SESSIONDIR roundtrip N  a seshfs session's stdin/stdout files
 *   benchclient fs  SESSIONDIR openclose N  the same, each file opened and closed per
 *                                           command, as echo > stdin; cat stdout does
 *   benchclient raw CONTAINER hooked SHELL N  roundtrip on a raw exec started as seshfs
 *                                           starts a session: the same wrapper and prompt hook
 *   benchclient raw CONTAINER open N        exec create + start until the shell's first output
 *   benchclient raw CONTAINER stream MIB    dd if=/dev/zero bs=1M count=MIB, read to the end
 *   benchclient fs  SESSIONDIR stream MIB   the same command through stdin/stdout
 *   benchclient fs  SESSIONDIR textstream MIB  MIB of text lines (a log's) through stdout
 *   benchclient fs  SESSIONDIR write N      N stdin writes of "true": each write() alone
 *   benchclient raw CONTAINER fifo HOSTPID SHELL roundtrip|openclose N
 *                                           the same shell on bare FIFOs: made from the
 *                                           host under /proc/HOSTPID/root/tmp, the exec's
 *                                           shell moved onto them, marked as seshfs marks
 *                                           it; completion is both streams' prompt marker
 *
 * Prints one line: "median_us=... mean_us=..." or "mib_per_s=...".
 * The raw side is the floor: no FUSE, no session layer, same engine calls.
 * The hooked raw exec separates the cost of completion (the shell's prompt
 * hook) from the cost of the relay through FUSE. The FIFO mode is the floor
 * of a local engine: no relay at all, the host process on one end of a pipe
 * and the shell on the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../backend/demux.h"
#include "../backend/engine.h"
#include "../backend/exec_conn.h"
#include "../backend/procctl.h"
#include "../fs/session/prompt.h"

#define READ_CHUNK (256 * 1024)
#define FIFO_WAIT_MS 10000

/* A shell to talk to: a raw exec, a session's two files, or FIFOs. */
struct channel {
	struct exec_conn *conn;
	struct demux demux;
	int in_fd;
	int out_fd;
	bool fifo;		/* out_fd is a non-blocking FIFO: poll it, with a bound */
	struct channel *err;	/* the shell's stderr, where its completion marker also comes */
	char pending[READ_CHUNK];	/* demuxed stdout not yet consumed */
	size_t pending_len;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "benchclient: %s\n", what);
	exit(1);
}

static void keep_stdout(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct channel *t = ctx;

	if (stream != DEMUX_STDOUT)
		return;
	if (t->pending_len + len > sizeof(t->pending))
		die("stdout burst larger than the buffer");
	memcpy(t->pending + t->pending_len, data, len);
	t->pending_len += len;
}

static struct exec_conn *raw_start(struct engine *e, const char *container, const char *const *argv,
				   bool attach_stdin)
{
	char id[ENGINE_EXEC_ID_MAX];
	char err[ENGINE_ERR_MAX];
	struct engine_exec_spec spec = {
		.container = container,
		.argv = argv,
		.attach_stdin = attach_stdin,
	};

	if (e->ops->exec_create(e, &spec, id, err) < 0)
		die(err);
	struct exec_conn *conn;
	if (e->ops->exec_attach(e, id, false, 10000, &conn, err) < 0)
		die(err);
	return conn;
}

static void send_all(struct channel *t, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = t->conn ? exec_conn_send(t->conn, buf, len) : write(t->in_fd, buf, len);
		if (t->conn && n == -EAGAIN) {
			exec_conn_wait(t->conn, POLLOUT, 1000);
			continue;
		}
		if (n <= 0)
			die("send failed");
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads more stdout into t->pending; returns bytes added, 0 at end of stream. */
static size_t read_more(struct channel *t)
{
	size_t before = t->pending_len;

	if (!t->conn) {
		struct pollfd p = { .fd = t->out_fd, .events = POLLIN };
		if (t->fifo && poll(&p, 1, FIFO_WAIT_MS) == 0)
			die("no output from the FIFO within its bound");
		ssize_t n = read(t->out_fd, t->pending + t->pending_len, sizeof(t->pending) - t->pending_len);
		if (n < 0)
			die("read failed");
		t->pending_len += (size_t)n;
		return (size_t)n;
	}
	static char buf[READ_CHUNK / 2];
	for (;;) {
		ssize_t n = exec_conn_recv(t->conn, buf, sizeof(buf));
		if (n == -EAGAIN) {
			exec_conn_wait(t->conn, POLLIN, 10000);
			continue;
		}
		if (n <= 0)
			return 0;
		demux_feed(&t->demux, buf, (size_t)n, keep_stdout, t);
		if (t->pending_len > before)
			return t->pending_len - before;
	}
}

static void read_until(struct channel *t, const char *token)
{
	size_t len = strlen(token);

	for (;;) {
		char *hit = memmem(t->pending, t->pending_len, token, len);
		if (hit) {
			size_t used = (size_t)(hit - t->pending) + len;
			memmove(t->pending, t->pending + used, t->pending_len - used);
			t->pending_len -= used;
			return;
		}
		if (read_more(t) == 0)
			die("stream ended before the token came");
	}
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_times(double *us, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += us[i];
	qsort(us, (size_t)n, sizeof(*us), compare_double);
	printf("median_us=%.1f mean_us=%.1f p90_us=%.1f n=%d\n", us[n / 2], sum / n, us[n * 9 / 10], n);
}

/* Through seshfs, reads on until EOF: the session's completion signal. */
static void read_to_eof(struct channel *t)
{
	while (read_more(t) > 0)
		t->pending_len = 0;
}

/* Until the shell waits again: EOF through seshfs, else its prompt marker (on both streams). */
static void read_to_completion(struct channel *t, const char *prompt_mark)
{
	if (!t->conn && !t->fifo) {
		read_to_eof(t);
		return;
	}
	if (!prompt_mark)
		return;
	read_until(t, prompt_mark);
	if (t->err)
		read_until(t->err, prompt_mark);
}

/*
 * Each command is sent when the shell waits: through seshfs, after its
 * completion (EOF); on a hooked raw exec or FIFOs, after the prompt marker; on
 * a plain raw exec, after the token (it has no completion). Measured: until
 * the token is back, and until completion where there is one.
 */
static void roundtrip(struct channel *t, int n, const char *prompt_mark)
{
	double *us = calloc((size_t)n, sizeof(*us));
	double *done_us = calloc((size_t)n, sizeof(*done_us));
	char cmd[64], token[64];

	/* A warm-up command, so that both sides start from a shell that waits. */
	bool completes = (!t->conn && !t->fifo) || prompt_mark;

	send_all(t, "echo warm\n", 10);
	read_until(t, "warm\n");
	read_to_completion(t, prompt_mark);
	for (int i = 0; i < n; i++) {
		int len = snprintf(cmd, sizeof(cmd), "echo tok%d\n", i);
		snprintf(token, sizeof(token), "tok%d\n", i);
		double start = now_us();
		send_all(t, cmd, (size_t)len);
		read_until(t, token);
		us[i] = now_us() - start;
		read_to_completion(t, prompt_mark);
		done_us[i] = now_us() - start;
	}
	print_times(us, n);
	if (completes) {
		printf("completion: ");
		print_times(done_us, n);
	}
	free(us);
	free(done_us);
}

/* Text like a busy log's: words, numbers, key=value pairs. */
#define TEXT_LINE "2026-11-27T05:12:00.123Z INFO worker-17 handled request id=8f2c1 path=/api/v1/items status=200 bytes=5120 in 12ms"

static void stream(struct channel *t, long mib, const char *ready_token, bool text)
{
	char cmd[256];
	unsigned long long total = (unsigned long long)mib << 20, got = 0;

	if (ready_token)
		read_until(t, ready_token);
	double start = now_us();
	if (!t->conn) {
		int len = text ? snprintf(cmd, sizeof(cmd), "yes '%s' | head -c %llu\n", TEXT_LINE, total) :
				 snprintf(cmd, sizeof(cmd), "dd if=/dev/zero bs=1M count=%ld 2>/dev/null\n", mib);
		send_all(t, cmd, (size_t)len);
	}
	got = t->pending_len;
	t->pending_len = 0;
	while (got < total) {
		size_t n = read_more(t);
		if (n == 0)
			break;
		got += n;
		t->pending_len = 0;
	}
	double seconds = (now_us() - start) / 1e6;
	if (got != total)
		die("stream: byte count differs from what was written");
	printf("mib_per_s=%.1f seconds=%.3f\n", mib / seconds, seconds);
}

/* A raw exec of shell, started and marked the way a seshfs session is. */
static void raw_hooked(struct engine *e, const char *container, const char *shell, int n)
{
	const char *argv[PROCCTL_SHELL_ARGC];
	const char *token = "0123456789abcdef";
	char setup[PROMPT_SETUP_MAX], mark[64];
	struct channel t = { 0 };

	procctl_shell_argv(shell, false, false, false, argv);
	t.conn = raw_start(e, container, argv, true);
	demux_init(&t.demux, false);
	read_until(&t, "\n");	/* the wrapper's pid line */
	int len = prompt_setup_line(token, false, false, true, setup, sizeof(setup));
	if (len < 0 || (size_t)len >= sizeof(setup))
		die("prompt set-up line too long");
	send_all(&t, setup, (size_t)len);
	snprintf(mark, sizeof(mark), "\036%s:1:", token);
	read_until(&t, mark);	/* the set-up line's own prompt */
	roundtrip(&t, n, mark);
	exec_conn_close(t.conn);
}

static void raw_open(struct engine *e, const char *container, int n)
{
	const char *argv[] = { "/bin/sh", "-c", "echo $$; exec /bin/sh", NULL };
	double *us = calloc((size_t)n, sizeof(*us));

	for (int i = 0; i < n; i++) {
		struct channel t = { 0 };
		double start = now_us();
		t.conn = raw_start(e, container, argv, true);
		demux_init(&t.demux, false);
		read_until(&t, "\n");
		us[i] = now_us() - start;
		exec_conn_close(t.conn);	/* stdin closes: the shell exits */
	}
	print_times(us, n);
	free(us);
}

/* n writes of "true\n" to stdin, each timed alone (the shell runs them behind). */
static void writes(struct channel *t, int n)
{
	double *us = calloc((size_t)n, sizeof(*us));
	static const char line[] = "true\n";

	for (int i = 0; i < n; i++) {
		double start = now_us();
		if (write(t->in_fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
			die("stdin write");
		us[i] = now_us() - start;
	}
	print_times(us, n);
	free(us);
}

/*
 * Open stdin, write, close; open stdout, read to completion, close: the way
 * the README shows. Through seshfs completion is EOF; on FIFOs (prompt_mark)
 * the marker on stdout, then on stderr (err, held open as seshfs holds it).
 */
static void openclose(const char *in_path, const char *out_path, struct channel *err, const char *prompt_mark,
		      int n)
{
	double *us = calloc((size_t)n, sizeof(*us));
	char cmd[64], token[64];
	static struct channel out;

	out.fifo = prompt_mark != NULL;
	out.err = err;
	for (int i = -1; i < n; i++) {	/* -1: a warm-up */
		int len = snprintf(cmd, sizeof(cmd), "echo tok%d\n", i);
		snprintf(token, sizeof(token), "tok%d\n", i);
		double start = now_us();
		int fd = open(in_path, O_WRONLY | O_TRUNC);
		if (fd < 0 || write(fd, cmd, (size_t)len) != len || close(fd) < 0)
			die("stdin");
		out.out_fd = open(out_path, O_RDONLY | (out.fifo ? O_NONBLOCK : 0));
		if (out.out_fd < 0)
			die("stdout");
		out.pending_len = 0;
		read_until(&out, token);
		read_to_completion(&out, prompt_mark);
		close(out.out_fd);
		if (i >= 0)
			us[i] = now_us() - start;
	}
	print_times(us, n);
	free(us);
}

/* A FIFO of the container's, made from the host, owned by the container's user. */
static void fifo_make(const char *path, const struct stat *owner)
{
	if (mkfifo(path, 0600) < 0 || chown(path, owner->st_uid, owner->st_gid) < 0)
		die("cannot make a FIFO in the container");
}

/*
 * raw_hooked's shell on bare FIFOs in a private directory of the container's
 * /tmp, made from the host (as root) through /proc/HOSTPID/root: the exec's
 * shell redirects itself onto them before the wrapper runs and never writes
 * to the exec stream. The host keeps stdin open read-write (the shell sees no
 * EOF between open/close rounds) and readers on stdout and stderr (no
 * SIGPIPE between them), and for a held-open round trip unlinks the FIFOs once
 * both ends are open, as seshfs does.
 */
static void raw_fifo(struct engine *e, const char *container, const char *host_pid, const char *shell,
		     const char *mode, int n)
{
	const char *argv[PROCCTL_SHELL_ARGC];
	const char *token = "0123456789abcdef";
	char dir[64], host_dir[128], in_path[160], out_path[160], err_path[160];
	char setup[PROMPT_SETUP_MAX], mark[64];
	static struct channel t, err;
	struct stat owner;
	char *script;

	snprintf(dir, sizeof(dir), "/tmp/.seshfs-bench-%d", (int)getpid());
	snprintf(host_dir, sizeof(host_dir), "/proc/%s", host_pid);
	if (stat(host_dir, &owner) < 0)
		die("no such host pid");
	snprintf(host_dir, sizeof(host_dir), "/proc/%s/root%s", host_pid, dir);
	snprintf(in_path, sizeof(in_path), "%s/in", host_dir);
	snprintf(out_path, sizeof(out_path), "%s/out", host_dir);
	snprintf(err_path, sizeof(err_path), "%s/err", host_dir);
	if (mkdir(host_dir, 0700) < 0 || chown(host_dir, owner.st_uid, owner.st_gid) < 0)
		die("cannot make the FIFOs' directory in the container");
	fifo_make(in_path, &owner);
	fifo_make(out_path, &owner);
	fifo_make(err_path, &owner);
	t.in_fd = open(in_path, O_RDWR);
	t.out_fd = open(out_path, O_RDONLY | O_NONBLOCK);
	err.out_fd = open(err_path, O_RDONLY | O_NONBLOCK);
	if (t.in_fd < 0 || t.out_fd < 0 || err.out_fd < 0)
		die("cannot open the FIFOs");
	t.fifo = err.fifo = true;
	t.err = &err;
	err.in_fd = -1;

	procctl_shell_argv(shell, false, false, false, argv);
	if (asprintf(&script, "exec <%s/in >%s/out 2>%s/err\n%s", dir, dir, dir, argv[2]) < 0)
		die("out of memory");
	argv[2] = script;
	struct exec_conn *conn = raw_start(e, container, argv, false);
	read_until(&t, "\n");	/* the wrapper's pid line, on the FIFO already */
	int len = prompt_setup_line(token, false, false, true, setup, sizeof(setup));
	if (len < 0 || (size_t)len >= sizeof(setup))
		die("prompt set-up line too long");
	send_all(&t, setup, (size_t)len);
	snprintf(mark, sizeof(mark), "\036%s:1:", token);
	read_to_completion(&t, mark);	/* the set-up line's own prompt */
	bool held = strcmp(mode, "roundtrip") == 0;
	if (held) {
		unlink(in_path);
		unlink(out_path);
		unlink(err_path);
		rmdir(host_dir);
		roundtrip(&t, n, mark);
	} else if (strcmp(mode, "openclose") == 0) {
		openclose(in_path, out_path, &err, mark, n);
	} else {
		die("fifo: unknown mode");
	}
	close(t.in_fd);	/* EOF: the shell exits */
	close(t.out_fd);
	close(err.out_fd);
	if (!held) {
		unlink(in_path);
		unlink(out_path);
		unlink(err_path);
		rmdir(host_dir);
	}
	exec_conn_close(conn);
	free(script);
}

int main(int argc, char **argv)
{
	bool hooked = argc == 6 && strcmp(argv[3], "hooked") == 0;	/* the modes with SHELL */
	bool fifo = argc == 8 && strcmp(argv[3], "fifo") == 0;

	if (argc != 5 && !hooked && !fifo)
		die("usage: benchclient raw|fs CONTAINER|SESSIONDIR roundtrip|open|stream|hooked [SHELL] N\n"
		    "       benchclient raw CONTAINER fifo HOSTPID SHELL roundtrip|openclose N");
	const char *mode = argv[3];
	long n = strtol(argv[argc - 1], NULL, 10);
	struct channel t = { .in_fd = -1, .out_fd = -1 };

	if (strcmp(argv[1], "fs") == 0 && strcmp(mode, "openclose") == 0) {
		char in_path[4096], out_path[4096];
		snprintf(in_path, sizeof(in_path), "%s/stdin", argv[2]);
		snprintf(out_path, sizeof(out_path), "%s/stdout", argv[2]);
		openclose(in_path, out_path, NULL, NULL, (int)n);
		return 0;
	}
	if (strcmp(argv[1], "fs") == 0) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/stdin", argv[2]);
		t.in_fd = open(path, O_WRONLY);
		snprintf(path, sizeof(path), "%s/stdout", argv[2]);
		t.out_fd = open(path, O_RDONLY);
		if (t.in_fd < 0 || t.out_fd < 0)
			die("cannot open the session's files (set its timeout first)");
		if (strcmp(mode, "roundtrip") == 0)
			roundtrip(&t, (int)n, NULL);
		else if (strcmp(mode, "stream") == 0 || strcmp(mode, "textstream") == 0)
			stream(&t, n, NULL, strcmp(mode, "textstream") == 0);
		else if (strcmp(mode, "write") == 0)
			writes(&t, (int)n);
		else
			die("fs: unknown mode");
		return 0;
	}

	char err[ENGINE_ERR_MAX];
	struct engine *e = engine_open(NULL, NULL, err);
	if (!e)
		die(err);
	if (strcmp(mode, "roundtrip") == 0) {
		const char *sh[] = { "/bin/sh", NULL };
		t.conn = raw_start(e, argv[2], sh, true);
		demux_init(&t.demux, false);
		roundtrip(&t, (int)n, NULL);
	} else if (hooked) {
		raw_hooked(e, argv[2], argv[4], (int)n);
	} else if (fifo) {
		raw_fifo(e, argv[2], argv[4], argv[5], argv[6], (int)n);
	} else if (strcmp(mode, "open") == 0) {
		raw_open(e, argv[2], (int)n);
	} else if (strcmp(mode, "stream") == 0) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "dd if=/dev/zero bs=1M count=%ld 2>/dev/null", n);
		const char *dd[] = { "/bin/sh", "-c", cmd, NULL };
		t.conn = raw_start(e, argv[2], dd, false);
		demux_init(&t.demux, false);
		stream(&t, n, NULL, false);
	} else {
		die("raw: unknown mode");
	}
	exec_conn_close(t.conn);
	engine_free(e);
	return 0;
}
