/*
 * seshfs: MOUNTPOINT/status, what a health check reads: "key value" lines,
 * computed when the file is opened. The engine is asked by a job; if it has
 * not answered within STATUS_ENGINE_WAIT_NS, the open is answered without
 * it ("engine unreachable") and the job's late answer is dropped. Reads
 * serve the text made at open, so one cat sees one snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "../util/text.h"
#include "internal.h"

#define STATUS_ENGINE_WAIT_NS (900 * NSEC_PER_MSEC)

static const char *const status_request_names[STATUS_REQUEST_COUNT] = {
	[STATUS_LOOKUP] = "lookup", [STATUS_GETATTR] = "getattr", [STATUS_SETATTR] = "setattr",
	[STATUS_OPEN] = "open", [STATUS_READ] = "read", [STATUS_WRITE] = "write", [STATUS_FLUSH] = "flush",
	[STATUS_RELEASE] = "release", [STATUS_OPENDIR] = "opendir", [STATUS_READDIR] = "readdir",
	[STATUS_RELEASEDIR] = "releasedir", [STATUS_MKDIR] = "mkdir", [STATUS_RMDIR] = "rmdir",
	[STATUS_POLL] = "poll", [STATUS_LSEEK] = "lseek", [STATUS_XATTR] = "xattr", [STATUS_OTHER] = "other",
};

/* Counted by FUSE worker threads without the lock: relaxed atomics, read as they are. */
static uint64_t status_requests[STATUS_REQUEST_COUNT];

void status_count(enum status_request kind)
{
	__atomic_fetch_add(&status_requests[kind], 1, __ATOMIC_RELAXED);
}

struct status_text {
	char *data;
	size_t len;
};

/* One open: owned by the job and by the open until both are done with it. */
struct status_build {
	struct job job;
	struct req *req;		/* NULL once answered */
	struct loop_timer deadline;
	int refs;
	/* The job's findings. */
	bool engine_ok;
	char engine_version[ENGINE_VERSION_MAX];
	int container_ret;
	enum engine_container_state container_state;
};

static void status_line(struct status_text *t, const char *key, const char *value)
{
	char shown[TEXT_SHOWN_MAX + 1];
	size_t shown_len = text_escape(value, strlen(value), shown, sizeof(shown));
	char *grown = t->data ? realloc(t->data, t->len + strlen(key) + shown_len + 3) : NULL;

	if (!grown) {
		free(t->data);
		t->data = NULL;
		return;
	}
	t->data = grown;
	t->len += (size_t)sprintf(t->data + t->len, "%s %s\n", key, shown);
}

static const char *status_container_state(const struct status_build *b)
{
	if (b->container_ret == -ENOENT)
		return "missing";
	if (b->container_ret < 0)
		return NULL;
	switch (b->container_state) {
	case ENGINE_CONTAINER_RUNNING:
		return "running";
	case ENGINE_CONTAINER_PAUSED:
		return "paused";
	default:
		return "exited";
	}
}

/* The text from the build's findings (engine_ok false: the engine did not answer in time). */
static struct status_text *status_make(const struct status_build *b, bool engine_answered)
{
	struct status_text *t = calloc(1, sizeof(*t));
	char number[32];
	size_t busy = 0;
	struct list_node *pos, *tmp;

	if (!t || !(t->data = malloc(1)))
		goto fail;
	list_for_each_safe(pos, tmp, &sessions.listing) {
		const struct session *s = list_entry(pos, struct session, in_listing);
		busy += s->state == SESSION_RUNNING && !session_idle(s) && !session_continuing(s);
	}
	bool ok = engine_answered && b->engine_ok;
	const char *state = engine_answered ? status_container_state(b) : NULL;
	status_line(t, "engine", ok ? "ok" : "unreachable");
	if (ok)
		status_line(t, "engine_version", b->engine_version);
	status_line(t, "container", sessions.cfg.container);
	if (state)
		status_line(t, "container_state", state);
	snprintf(number, sizeof(number), "%zu", sessions.listed);
	status_line(t, "sessions", number);
	snprintf(number, sizeof(number), "%zu", busy);
	status_line(t, "busy", number);
	snprintf(number, sizeof(number), "%lld", (long long)((loop_now_ns() - sessions.started_ns) / (1000 * NSEC_PER_MSEC)));
	status_line(t, "uptime", number);
	status_line(t, "version", sessions.cfg.version);
	uint64_t total = 0;
	for (int i = 0; i < STATUS_REQUEST_COUNT; i++) {
		char key[32];
		uint64_t n = __atomic_load_n(&status_requests[i], __ATOMIC_RELAXED);
		total += n;
		snprintf(key, sizeof(key), "fuse_%s", status_request_names[i]);
		snprintf(number, sizeof(number), "%llu", (unsigned long long)n);
		status_line(t, key, number);
	}
	snprintf(number, sizeof(number), "%llu", (unsigned long long)total);
	status_line(t, "fuse_requests", number);
	if (!t->data)
		goto fail;
	return t;
fail:
	free(t);
	return NULL;
}

static void status_build_put(struct status_build *b)
{
	if (--b->refs == 0)
		free(b);
}

/* Answers the open, once: with the findings, or without the engine's. */
static void status_answer(struct status_build *b, bool engine_answered)
{
	struct req *req = b->req;

	if (!req)
		return;
	b->req = NULL;
	loop_timer_cancel(&b->deadline);
	struct status_text *t = status_make(b, engine_answered);
	if (!t)
		reply_err(req, ENOMEM);
	else if (reply_open(req, t) < 0)
		status_release(t);	/* the opener is gone */
	status_build_put(b);	/* the open's reference */
}

static void status_engine_late(struct loop_timer *timer)
{
	struct status_build *b = list_entry(timer, struct status_build, deadline);

	log_info("status: the engine did not answer within %d ms", (int)(STATUS_ENGINE_WAIT_NS / NSEC_PER_MSEC));
	status_answer(b, false);
}

/* Job: ask the engine. */
static void status_ask_engine(struct job *j)
{
	struct status_build *b = (struct status_build *)j;
	struct engine *e = sessions.cfg.engine;
	char err[ENGINE_ERR_MAX];

	b->engine_ok = e->ops->version(e, b->engine_version, err) == 0;
	if (!b->engine_ok)
		log_info("status: %s", err);
	b->container_ret = b->engine_ok ? e->ops->container_state(e, sessions.cfg.container, &b->container_state, err) :
					  -ECONNREFUSED;
	pthread_mutex_lock(&sessions.lock);
	status_answer(b, true);
	status_build_put(b);	/* the job's reference */
	pthread_mutex_unlock(&sessions.lock);
}

void status_open(struct req *req)
{
	struct status_build *b = calloc(1, sizeof(*b));

	if (!b) {
		reply_err(req, ENOMEM);
		return;
	}
	b->job.run = status_ask_engine;
	b->req = req;
	b->refs = 2;
	loop_timer_init(&b->deadline, status_engine_late);
	pthread_mutex_lock(&sessions.lock);
	loop_timer_set(sessions.loop, &b->deadline, loop_now_ns() + STATUS_ENGINE_WAIT_NS);
	pthread_mutex_unlock(&sessions.lock);
	jobs_submit(&b->job);
}

void status_read(struct req *req, void *fh, size_t size, off_t off)
{
	const struct status_text *t = fh;

	if (off < 0 || (size_t)off >= t->len)
		reply_buf(req, NULL, 0);
	else
		reply_buf(req, t->data + off, t->len - (size_t)off < size ? t->len - (size_t)off : size);
}

void status_release(void *fh)
{
	struct status_text *t = fh;

	free(t->data);
	free(t);
}
