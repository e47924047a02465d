/*
 * seshfs: MOUNTPOINT/status, what a health check reads: "key value" lines,
 * computed when the file is opened. The engine is asked by a job, one at a
 * time: opens that come while it asks wait for its answer. An open the
 * engine has not answered within STATUS_ENGINE_WAIT_NS is answered without
 * it ("engine unreachable"), so a hung engine holds one job thread at most.
 * Reads serve the text made at open, so one cat sees one snapshot.
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

/* What the engine said, or would not. */
struct status_findings {
	bool engine_ok;
	char engine_version[ENGINE_VERSION_MAX];
	int container_ret;
	enum engine_container_state container_state;
};

/* An open waiting for the engine's answer, or for its deadline. */
struct status_wait {
	struct req *req;
	struct loop_timer deadline;
	struct list_node node;
};

/* The one query out to the engine, and the opens waiting for it. */
static struct {
	struct job job;
	bool asking;
	struct status_findings findings;	/* the job's alone while asking */
	struct list_node waiting;
} status_query = { .waiting = { &status_query.waiting, &status_query.waiting } };

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

static const char *status_container_state(const struct status_findings *b)
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
static struct status_text *status_make(const struct status_findings *b, bool engine_answered)
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
	for (const char *const *line = sessions.cfg.status_lines; line && *line; line++) {
		const char *space = strchr(*line, ' ');
		char key[32];
		snprintf(key, sizeof(key), "%.*s", (int)(space - *line), *line);
		status_line(t, key, space + 1);
	}
	snprintf(number, sizeof(number), "%zu", sessions.listed);
	status_line(t, "sessions", number);
	snprintf(number, sizeof(number), "%zu", warm_ready());
	status_line(t, "warm", number);
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
	/* The container's name and the engine's texts are redacted like everything shown. */
	char *redacted;
	int ret = redaction_text(t->data, t->len, &redacted);
	if (ret < 0)
		goto fail;
	if (ret > 0) {
		free(t->data);
		t->data = redacted;
		t->len = strlen(redacted);
	}
	return t;
fail:
	free(t);
	return NULL;
}

/* Answers one waiting open and frees its wait. */
static void status_answer(struct status_wait *w, const struct status_findings *findings, bool engine_answered)
{
	struct status_text *t = status_make(findings, engine_answered);

	list_del(&w->node);
	loop_timer_cancel(&w->deadline);
	if (!t)
		reply_err(w->req, ENOMEM);
	else if (reply_open(w->req, t) < 0)
		status_release(t);	/* the opener is gone */
	free(w);
}

static void status_engine_late(struct loop_timer *timer)
{
	struct status_wait *w = list_entry(timer, struct status_wait, deadline);

	log_info("status: the engine did not answer within %d ms", (int)(STATUS_ENGINE_WAIT_NS / NSEC_PER_MSEC));
	status_answer(w, NULL, false);
}

/* Job: ask the engine, then answer every open still waiting. */
static void status_ask_engine(struct job *j)
{
	struct status_findings *f = &status_query.findings;
	struct engine *e = sessions.cfg.engine;
	char err[ENGINE_ERR_MAX];
	struct list_node *pos, *tmp;
	(void)j;

	f->engine_ok = e->ops->version(e, f->engine_version, err) == 0;
	if (!f->engine_ok)
		log_info("status: %s", err);
	f->container_ret = f->engine_ok ? e->ops->container_state(e, sessions.cfg.container, &f->container_state, NULL, err) :
					  -ECONNREFUSED;
	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &status_query.waiting)
		status_answer(list_entry(pos, struct status_wait, node), f, true);
	status_query.asking = false;
	pthread_mutex_unlock(&sessions.lock);
}

void status_open(struct req *req)
{
	struct status_wait *w = calloc(1, sizeof(*w));

	if (!w) {
		reply_err(req, ENOMEM);
		return;
	}
	w->req = req;
	loop_timer_init(&w->deadline, status_engine_late);
	pthread_mutex_lock(&sessions.lock);
	list_add_tail(&status_query.waiting, &w->node);
	loop_timer_set(sessions.loop, &w->deadline, loop_now_ns() + STATUS_ENGINE_WAIT_NS);
	if (!status_query.asking) {
		status_query.asking = true;
		status_query.job.run = status_ask_engine;
		jobs_submit(&status_query.job);
	}
	pthread_mutex_unlock(&sessions.lock);
}

void status_read(struct req *req, void *fh, size_t size, off_t off)
{
	const struct status_text *t = fh;

	/* release may free t while the reply is written. */
	if (off < 0 || (size_t)off >= t->len)
		reply_buf(req, NULL, 0);
	else
		reply_buf_copy(req, t->data + off, t->len - (size_t)off < size ? t->len - (size_t)off : size);
}

void status_release(void *fh)
{
	struct status_text *t = fh;

	free(t->data);
	free(t);
}
