/*
 * seshfs unit tests for the pure parts: stream demux, ctl parser, byte queue,
 * prompt scanner, escaping; unit_guard.c the guard rails.
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/cgroup.h"
#include "../backend/demux.h"
#include "../backend/hostctl.h"
#include "../backend/hostproc.h"
#include "../fs/session/ctl.h"
#include "../fs/session/internal.h"
#include "../fs/session/prompt.h"
#include "../fs/util/bytequeue.h"
#include "../fs/util/text.h"
#include "unit.h"

int unit_passed;
int unit_failed;

struct collected {
	char out[256];
	size_t out_len;
	char err[256];
	size_t err_len;
	int pieces;
};

static void collect(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	struct collected *c = ctx;
	char *buf = stream == DEMUX_STDERR ? c->err : c->out;
	size_t *n = stream == DEMUX_STDERR ? &c->err_len : &c->out_len;

	memcpy(buf + *n, data, len);
	*n += len;
	c->pieces++;
}

static size_t frame(char *dst, int type, const char *payload)
{
	size_t len = strlen(payload);

	dst[0] = (char)type;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (char)(len >> 24);
	dst[5] = (char)(len >> 16);
	dst[6] = (char)(len >> 8);
	dst[7] = (char)len;
	memcpy(dst + 8, payload, len);
	return len + 8;
}

static void test_demux(void)
{
	char stream[256];
	size_t len = 0;

	len += frame(stream + len, 1, "hello ");
	len += frame(stream + len, 2, "oops\n");
	len += frame(stream + len, 1, "");
	len += frame(stream + len, 1, "world\n");

	/* Every split point, including one byte at a time, gives the same result. */
	for (size_t step = 1; step <= len; step++) {
		struct demux dm;
		struct collected c = { 0 };
		demux_init(&dm, false);
		int ret = 0;
		for (size_t off = 0; off < len && ret == 0; off += step)
			ret = demux_feed(&dm, stream + off, off + step > len ? len - off : step, collect, &c);
		CHECK(ret == 0);
		CHECK(c.out_len == 12 && memcmp(c.out, "hello world\n", 12) == 0);
		CHECK(c.err_len == 5 && memcmp(c.err, "oops\n", 5) == 0);
	}

	struct demux dm;
	struct collected c = { 0 };
	demux_init(&dm, false);
	char bad[9] = { 7, 0, 0, 0, 0, 0, 0, 1, 'x' };
	CHECK(demux_feed(&dm, bad, sizeof(bad), collect, &c) == -EPROTO);

	demux_init(&dm, true);
	memset(&c, 0, sizeof(c));
	CHECK(demux_feed(&dm, "\x01raw", 4, collect, &c) == 0);
	CHECK(c.out_len == 4 && memcmp(c.out, "\x01raw", 4) == 0 && c.err_len == 0);
}

static int parse(const char *text, struct ctl_command *cmds, char *err)
{
	return ctl_parse(text, strlen(text), cmds, err);
}

static void test_ctl(void)
{
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	int64_t ms = -1;
	char buf[32];

	CHECK(parse("timeout 5\n", cmds, err) == 1);
	CHECK(strcmp(cmds[0].def->name, "timeout") == 0 && cmds[0].number == 5000);
	CHECK(parse("timeout 0.25", cmds, err) == 1 && cmds[0].number == 250);
	CHECK(parse("timeout 0", cmds, err) == 1 && cmds[0].number == 0);
	CHECK(parse("timeout 1.23456", cmds, err) == 1 && cmds[0].number == 1234);
	CHECK(parse("  signal int \r\n\ntimeout 2\n", cmds, err) == 2);
	CHECK(strcmp(cmds[0].def->name, "signal") == 0 && strcmp(cmds[0].signal, "INT") == 0);
	CHECK(strcmp(cmds[1].def->name, "timeout") == 0 && cmds[1].number == 2000);
	CHECK(parse("signal SIGKILL", cmds, err) == 1 && strcmp(cmds[0].signal, "KILL") == 0);
	CHECK(parse("signal USR2", cmds, err) == 1 && strcmp(cmds[0].signal, "USR2") == 0);

	const char *bad[] = { "timeout -1", "timeout 1.", "timeout .5", "timeout 1e3", "timeout nan",
			      "timeout", "timeout 1 2", "signal", "signal STOP", "signal 9", "bogus",
			      "", "\n\n", "timeout 99999999999999", "timeout 5\nbogus" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(parse(bad[i], cmds, err) == -EINVAL);
	CHECK(parse("bogus x", cmds, err) == -EINVAL && strcmp(err, "unknown command 'bogus x'") == 0);
	CHECK(ctl_parse("timeout 1\0", 10, cmds, err) == -EINVAL);

	CHECK(ctl_parse_seconds("12", 2, &ms) == 0 && ms == 12000);
	ctl_format_seconds(1000, buf, sizeof(buf));
	CHECK(strcmp(buf, "1") == 0);
	ctl_format_seconds(250, buf, sizeof(buf));
	CHECK(strcmp(buf, "0.25") == 0);
	ctl_format_seconds(2005, buf, sizeof(buf));
	CHECK(strcmp(buf, "2.005") == 0);
	ctl_format_seconds(0, buf, sizeof(buf));
	CHECK(strcmp(buf, "0") == 0);

	size_t bytes = 0;
	const size_t gib = (size_t)1 << 30;
	CHECK(ctl_parse_bytes("1M", 2, 0, gib, &bytes) == 0 && bytes == 1 << 20);
	CHECK(ctl_parse_bytes("4k", 2, 4096, gib, &bytes) == 0 && bytes == 4096);
	CHECK(ctl_parse_bytes("1024M", 5, 0, gib, &bytes) == 0 && bytes == gib);
	const char *bad_bytes[] = { "", "M", "-1", " 5", "+5", "1025M", "5 ", "1G", "1MM",
				    "17592186044416M", "18446744073709551617" };
	for (size_t i = 0; i < sizeof(bad_bytes) / sizeof(bad_bytes[0]); i++)
		CHECK(ctl_parse_bytes(bad_bytes[i], strlen(bad_bytes[i]), 0, gib, &bytes) == -EINVAL);
	CHECK(ctl_parse_bytes("4095", 4, 4096, gib, &bytes) == -EINVAL);
}

static void test_escape(void)
{
	char out[TEXT_SHOWN_MAX + 1];

	text_escape("a\\b\x1b[0m\n\xff", 9, out, sizeof(out));
	CHECK(strcmp(out, "a\\\\b\\x1b[0m\\x0a\\xff") == 0);
	/* UTF-8 passes, but a C1 control (here CSI, U+009B) is escaped byte by byte. */
	text_escape("\xe2\x82\xac \xc2\x9b" "2J \xc2\xa0", 11, out, sizeof(out));
	CHECK(strcmp(out, "\xe2\x82\xac \\xc2\\x9b2J \xc2\xa0") == 0);
	/* A character that does not fit whole is left out. */
	CHECK(text_escape("ab\x01", 3, out, 6) == 2 && strcmp(out, "ab") == 0);
}

static void test_bytequeue(void)
{
	struct bytequeue q = { 0 };
	size_t total = 200000;
	char *in = malloc(total);
	char *out = malloc(total);
	size_t got = 0;

	for (size_t i = 0; i < total; i++)
		in[i] = (char)(i * 7 + i / 251);
	/* Pushes and pops of odd sizes across chunk boundaries keep every byte in order. */
	size_t pushed = 0;
	while (got < total) {
		size_t n = pushed < total ? (pushed * 13 + 1777) % 50000 + 1 : 0;
		if (n > total - pushed)
			n = total - pushed;
		CHECK(bytequeue_push(&q, in + pushed, n) == 0);
		pushed += n;
		struct iovec iov[8];
		int count = bytequeue_peek(&q, 30001, iov, 8);
		size_t taken = 0;
		for (int i = 0; i < count; i++) {
			memcpy(out + got + taken, iov[i].iov_base, iov[i].iov_len);
			taken += iov[i].iov_len;
		}
		bytequeue_drop(&q, taken);
		got += taken;
		CHECK(q.len == pushed - got);
	}
	CHECK(memcmp(in, out, total) == 0);
	CHECK(q.head == NULL && q.tail == NULL && q.len == 0);
	CHECK(bytequeue_push(&q, in, 10) == 0);
	bytequeue_clear(&q);
	CHECK(q.head == NULL && q.len == 0);
	free(in);
	free(out);
}

struct scanned {
	char data[1024];
	size_t len;
	char markers[128];	/* "1:0 2 0 1:127 1:0:/tmp " */
	size_t markers_len;
};

static void scanned_data(void *ctx, const char *data, size_t len)
{
	struct scanned *s = ctx;

	memcpy(s->data + s->len, data, len);
	s->len += len;
}

static void scanned_marker(void *ctx, enum prompt_kind kind, int status, const char *cwd, size_t cwd_len)
{
	struct scanned *s = ctx;

	if (kind == PROMPT_COMMAND && cwd)
		s->markers_len += sprintf(s->markers + s->markers_len, "1:%d:%.*s ", status, (int)cwd_len, cwd);
	else if (kind == PROMPT_COMMAND)
		s->markers_len += sprintf(s->markers + s->markers_len, "1:%d ", status);
	else
		s->markers_len += sprintf(s->markers + s->markers_len, "%d ", (int)kind);
}

static void test_prompt(void)
{
	const char *token = "0123456789abcdef";
	/* Output with real markers and look-alikes: wrong token, wrong kind, too many digits. */
	const char input[] =
		"out\036" "0123456789abcdef:1:0\037"
		"\036" "0123456789abcdeX:1:0\037"
		"a\036\036" "0123456789abcdef:2\037"
		"\036" "0123456789abcdef:0\037"
		"\036" "0123456789abcdef:0:\037"
		"\036" "0123456789abcdef:4\037"
		"\036" "0123456789abcdef:1:1234\037"
		"\036" "0123456789abcdef:1:\037"
		"\036" "0123456789abcdef:1:127\037"
		"\036" "0123456789abcdef:3\037"
		"\036" "0123456789abcdef:1:0:/tmp/a b\037"
		"\036" "0123456789abcdef:1:3:\037"
		"tail\036" "0123";
	const char expected[] =
		"out"
		"\036" "0123456789abcdeX:1:0\037"
		"a\036"
		"\036" "0123456789abcdef:0:\037"
		"\036" "0123456789abcdef:4\037"
		"\036" "0123456789abcdef:1:1234\037"
		"\036" "0123456789abcdef:1:\037"
		"tail";
	size_t len = sizeof(input) - 1;

	for (size_t step = 1; step <= len; step++) {
		struct prompt_scanner sc;
		struct scanned out = { 0 };
		struct prompt_sink sink = { scanned_data, scanned_marker, &out };
		prompt_scanner_init(&sc, token);
		for (size_t off = 0; off < len; off += step)
			prompt_scan(&sc, input + off, off + step > len ? len - off : step, &sink);
		CHECK(out.len == sizeof(expected) - 1 && memcmp(out.data, expected, out.len) == 0);
		CHECK(strcmp(out.markers, "1:0 2 0 1:127 3 1:0:/tmp/a b 1:3: ") == 0);
		/* A partial marker at the end is held back, and given back at the end of the stream. */
		prompt_scan_flush(&sc, &sink);
		CHECK(out.len == sizeof(expected) - 1 + 5 &&
		      memcmp(out.data + out.len - 5, "\036" "0123", 5) == 0);
		prompt_scanner_free(&sc);
	}

	/* After an interrupt the shell's newline before its prompt goes with the marker, once. */
	const char interrupted[] = "err\n\n\036" "0123456789abcdef:1:130\037" "a\n\036" "0123456789abcdef:1:0\037";
	for (size_t step = 1; step < sizeof(interrupted); step++) {
		struct prompt_scanner sc;
		struct scanned out = { 0 };
		struct prompt_sink sink = { scanned_data, scanned_marker, &out };
		prompt_scanner_init(&sc, token);
		sc.eat_newline = true;
		for (size_t off = 0; off < sizeof(interrupted) - 1; off += step)
			prompt_scan(&sc, interrupted + off,
				    off + step > sizeof(interrupted) - 1 ? sizeof(interrupted) - 1 - off : step, &sink);
		CHECK(out.len == 6 && memcmp(out.data, "err\na\n", 6) == 0);
		CHECK(strcmp(out.markers, "1:130 1:0 ") == 0);
		CHECK(!sc.eat_newline);
	}

	char line[PROMPT_SETUP_MAX];
	int n = prompt_setup_line(token, false, false, true, line, sizeof(line));
	CHECK(n > 0 && n < (int)sizeof(line) && line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1);
	CHECK(strstr(line, ">&9") != NULL);
	/* One stream (a terminal, stderr merged): the marks go to stdout only. */
	for (int tty = 0; tty <= 1; tty++) {
		n = prompt_setup_line(token, tty, !tty, false, line, sizeof(line));
		CHECK(n > 0 && n < (int)sizeof(line) && line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1);
		CHECK(strstr(line, ">&9") == NULL && strstr(line, ">&8") != NULL);
	}
}

/*
 * stdin writes that must wait for room (the queue is full): an interrupt
 * before the write was watched is EINTR, not a parked write nobody ends;
 * one after it is EINTR too; neither leaves bytes parked. Beyond parked_max
 * a write is ENOBUFS.
 */
static void test_input_write(void)
{
	struct session *s = calloc(1, sizeof(*s));
	struct session_handle h = { .s = s, .file = SESSION_STDIN };
	struct req *req = (struct req *)s;	/* a token: the stub never looks inside */
	static char data[8192];

	s->state = SESSION_RUNNING;
	list_init(&s->writers);
	list_init(&sessions.parked);
	sessions.cfg.bufsize = 4096;
	sessions.cfg.parked_max = 2 * sizeof(data);
	CHECK(bytequeue_push(&s->input, "x", 1) == 0);	/* a queue holding anything takes no 8 KiB write */
	reply_stub = (struct reply_stub){ .answers = true, .interrupted = true };

	input_write(req, &h, data, sizeof(data));
	CHECK(reply_stub.replies == 1 && reply_stub.last_err == EINTR);
	CHECK(list_empty(&s->writers) && sessions.parked_bytes == 0);
	session_req_interrupted(req);	/* had it been parked after all, it goes now */

	reply_stub = (struct reply_stub){ .answers = true };
	input_write(req, &h, data, sizeof(data));
	CHECK(reply_stub.replies == 0 && !list_empty(&s->writers) && sessions.parked_bytes == sizeof(data));
	session_req_interrupted(req);
	CHECK(reply_stub.replies == 1 && reply_stub.last_err == EINTR);
	CHECK(list_empty(&s->writers) && sessions.parked_bytes == 0);

	struct req *reqs = (struct req *)&h;
	input_write(req, &h, data, sizeof(data));
	input_write(reqs, &h, data, sizeof(data));
	CHECK(reply_stub.replies == 1 && sessions.parked_bytes == 2 * sizeof(data));
	input_write(req, &h, data, 1);	/* the cap is full */
	CHECK(reply_stub.replies == 2 && reply_stub.last_err == ENOBUFS);
	session_req_interrupted(req);
	session_req_interrupted(reqs);
	CHECK(list_empty(&s->writers) && sessions.parked_bytes == 0);

	reply_stub = (struct reply_stub){ 0 };
	bytequeue_clear(&s->input);
	free(s);
}

/* The host's /proc text: NSpid's last field, real ids, the start time after the last ')', the container's cgroup. */
static void test_hostproc(void)
{
	struct hostproc_status st;
	unsigned long long start = 0;
	const char *id = "a3d2a308a136b14a471f03e6e332c6ae65fc1136a17fa69473a30facc549fe20";

	CHECK(hostproc_parse_status("Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"
				    "NSpid:\t16620\t7\n", &st) == 0);
	CHECK(st.uid == 1000 && st.gid == 100 && st.nspid_count == 2 && st.nspid_last == 7);
	CHECK(hostproc_parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t311\n", &st) == 0);
	CHECK(st.nspid_count == 1 && st.nspid_last == 311);
	CHECK(hostproc_parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t9\t8\t1\n", &st) == 0);
	CHECK(st.nspid_count == 3 && st.nspid_last == 1);
	CHECK(hostproc_parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", &st) == 0 && st.nspid_count == 0);
	CHECK(hostproc_parse_status("Gid:\t0\t0\t0\t0\nNSpid:\t9\t8\n", &st) == -EINVAL);
	CHECK(hostproc_parse_status("Uid:\tx\nGid:\t0\t0\t0\t0\n", &st) == -EINVAL);
	/* "NSpidX:" is another key; "xUid:" is not at a line's start. */
	CHECK(hostproc_parse_status("NSpidX:\t5\t6\nxUid:\t5\nUid:\t2\t2\t2\t2\nGid:\t3\t3\t3\t3\n", &st) == 0);
	CHECK(st.uid == 2 && st.gid == 3 && st.nspid_count == 0);

	CHECK(hostproc_parse_stat_start("16620 (docker-init) S 16598 16620 16620 0 -1 4194560 996 3733 0 0 2 5 10 14 "
					"20 0 1 0 1378309 1044480 131 18446744073709551615\n", &start) == 0);
	CHECK(start == 1378309);
	/* A name with spaces and ") S 1 2": fields count from the last ')'. */
	CHECK(hostproc_parse_stat_start("42 (a) S 1 2 (b)) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n",
					&start) == 0);
	CHECK(start == 777);
	CHECK(hostproc_parse_stat_start("42 (a) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\n", &start) == -EINVAL);
	CHECK(hostproc_parse_stat_start("no paren", &start) == -EINVAL);

	char v1[512], v2[256], pod[256], other[256];
	snprintf(v1, sizeof(v1), "9:name=systemd:/docker/%s\n8:pids:/docker/%s\n0::/docker/%s\n", id, id, id);
	snprintf(v2, sizeof(v2), "0::/system.slice/docker-%s.scope\n", id);
	snprintf(pod, sizeof(pod), "0::/machine.slice/libpod-%s.scope/container\n", id);
	snprintf(other, sizeof(other), "0::/docker/x%s\n0::/docker/%.12s\n", id, id);
	CHECK(hostproc_cgroup_names(v1, id));
	CHECK(hostproc_cgroup_names(v2, id));
	CHECK(hostproc_cgroup_names(pod, id));
	CHECK(!hostproc_cgroup_names(other, id));
	CHECK(!hostproc_cgroup_names("0::/\n", id));
	CHECK(!hostproc_cgroup_names(v1, ""));

	/* Where the container's members are listed: v1's pids hierarchy first, else the unified one. */
	char path[256], want[256], hybrid[512];
	CHECK(hostproc_procs_path(v1, id, path, sizeof(path)) == 0);
	snprintf(want, sizeof(want), "/sys/fs/cgroup/pids/docker/%s/cgroup.procs", id);
	CHECK(strcmp(path, want) == 0);
	CHECK(hostproc_procs_path(v2, id, path, sizeof(path)) == 0);
	snprintf(want, sizeof(want), "/sys/fs/cgroup/system.slice/docker-%s.scope/cgroup.procs", id);
	CHECK(strcmp(path, want) == 0);
	snprintf(hybrid, sizeof(hybrid), "0::/docker/%s\n5:cpu,pids,memory:/docker/%s\n", id, id);
	CHECK(hostproc_procs_path(hybrid, id, path, sizeof(path)) == 0);
	snprintf(want, sizeof(want), "/sys/fs/cgroup/pids/docker/%s/cgroup.procs", id);
	CHECK(strcmp(path, want) == 0);
	snprintf(hybrid, sizeof(hybrid), "9:name=systemd:/docker/%s\n8:pidsx:/docker/%s\n", id, id);
	CHECK(hostproc_procs_path(hybrid, id, path, sizeof(path)) == -ENOENT);
	CHECK(hostproc_procs_path(other, id, path, sizeof(path)) == -ENOENT);
	CHECK(hostproc_procs_path(v1, id, path, 40) == -ENAMETOOLONG);
}

/* ---- a session's cgroup and its processes from the host ---- */

static bool place_is(const struct cgroup_place *p, const char *mount, const char *path, unsigned kinds)
{
	return strcmp(p->mount, mount) == 0 && p->path_len == strlen(path) && memcmp(p->path, path, p->path_len) == 0 &&
	       p->kinds == kinds;
}

static void test_cgroup(void)
{
	struct cgroup_place places[CGROUP_PLACES_MAX];
	unsigned long long value = 0;
	/* cgroup v1 with a v2 hierarchy beside it (hybrid), as Docker's cgroupfs driver shows it. */
	const char *v1 = "9:name=systemd:/docker/abc\n8:pids:/docker/abc\n7:blkio:/docker/abc\n"
			 "6:freezer:/docker/abc\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n"
			 "1:cpu:/docker/abc\n0::/docker/abc\n";

	CHECK(cgroup_parse_places(v1, places) == 4);
	CHECK(place_is(&places[0], "pids", "/docker/abc", 1u << CGROUP_PIDS));
	CHECK(place_is(&places[1], "freezer", "/docker/abc", 1u << CGROUP_FREEZER));
	CHECK(place_is(&places[2], "memory", "/docker/abc", 1u << CGROUP_MEMORY));
	CHECK(place_is(&places[3], "cpu,cpuacct", "/docker/abc", 1u << CGROUP_CPUACCT));
	CHECK(!places[0].unified);
	/* v2 alone: one place for everything, no trailing newline. */
	CHECK(cgroup_parse_places("0::/system.slice/docker-abc.scope", places) == 1);
	CHECK(places[0].unified && place_is(&places[0], "", "/system.slice/docker-abc.scope", CGROUP_ALL_KINDS));
	/* A cgroup namespace shows the container's own as the root. */
	CHECK(cgroup_parse_places("0::/\n", places) == 1 && place_is(&places[0], "", "/", CGROUP_ALL_KINDS));
	/* Only hierarchies a session needs; none at all is no error (the caller says what is missing). */
	CHECK(cgroup_parse_places("3:cpuset:/x\n5:devices:/x\n", places) == 0);
	CHECK(cgroup_parse_places("", places) == 0);
	const char *bad[] = { "pids:/x\n", "8:pids\n", "8:pids:x\n", ":pids:/x\n", "8:pids:\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(cgroup_parse_places(bad[i], places) == -EINVAL);

	CHECK(cgroup_parse_number("123456789\n", &value) == 0 && value == 123456789);
	CHECK(cgroup_parse_number("0", &value) == 0 && value == 0);
	CHECK(cgroup_parse_number("max\n", &value) == -EINVAL);
	CHECK(cgroup_parse_number("12 3\n", &value) == -EINVAL);
	CHECK(cgroup_parse_number("", &value) == -EINVAL);
	const char *cpu_stat = "usage_usec 2500123\nuser_usec 2000000\nsystem_usec 500123\n";
	CHECK(cgroup_parse_key(cpu_stat, "usage_usec", &value) == 0 && value == 2500123);
	CHECK(cgroup_parse_key(cpu_stat, "system_usec", &value) == 0 && value == 500123);
	CHECK(cgroup_parse_key(cpu_stat, "usage", &value) == -ENOENT);
	CHECK(cgroup_parse_key(cpu_stat, "nr_periods", &value) == -ENOENT);
}

static void test_hostctl(void)
{
	struct hostctl_stat st = { 0 };
	/* A command name may hold spaces and parentheses: fields count from the last ')'. */
	const char *stat = "4242 (a) b (c) S 4200 4242 4242 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 1378309 "
			   "1044480 131 18446744073709551615\n";

	CHECK(hostctl_parse_stat(stat, &st) == 0 && st.state == 'S' && st.ppid == 4200 && st.start_time == 1378309);
	CHECK(hostctl_parse_stat("4242 (sleep) R 1 4242", &st) == -EINVAL);
	CHECK(hostctl_parse_stat("", &st) == -EINVAL);
	/* The same pid with another start time is another process: never signalled. */
	CHECK(hostctl_same_process(stat, 1378309));
	CHECK(!hostctl_same_process(stat, 1378310));
	CHECK(!hostctl_same_process("4242 (sleep) S 1", 1378309));
	CHECK(hostctl_signal_number("INT") == SIGINT && hostctl_signal_number("KILL") == SIGKILL);
	CHECK(hostctl_signal_number("STOP") == -EINVAL);
}

int main(void)
{
	test_demux();
	test_ctl();
	test_bytequeue();
	test_prompt();
	test_escape();
	test_guard();
	test_input_write();
	test_hostproc();
	test_cgroup();
	test_hostctl();
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
