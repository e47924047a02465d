/*
 * seshfs: the session registry: ids and names, references, open handles and
 * the jobs that hold a session (see internal.h).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct sessions_state sessions = {
	/* Held for microseconds: spinning a little beats sleeping on a 2-core machine. */
	.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP,
};

static unsigned name_bucket(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % SESSION_HASH_BUCKETS;
}

struct session *session_find_id(uint64_t id)
{
	struct session *s = sessions.by_id[id % SESSION_HASH_BUCKETS];

	while (s && s->id != id)
		s = s->id_next;
	return s;
}

struct session *session_find_name(const char *name)
{
	struct session *s = sessions.by_name[name_bucket(name)];

	while (s && strcmp(s->name, name) != 0)
		s = s->name_next;
	return s;
}

static void registry_unlink(struct session **slot, struct session *s, size_t next_offset)
{
	while (*slot && *slot != s)
		slot = (struct session **)((char *)*slot + next_offset);
	if (*slot)
		*slot = *(struct session **)((char *)s + next_offset);
}

void session_register(struct session *s)
{
	unsigned id_bucket = s->id % SESSION_HASH_BUCKETS;

	s->id_next = sessions.by_id[id_bucket];
	sessions.by_id[id_bucket] = s;
}

void session_list_add(struct session *s)
{
	unsigned bucket = name_bucket(s->name);

	s->name_next = sessions.by_name[bucket];
	sessions.by_name[bucket] = s;
	list_add_tail(&sessions.listing, &s->in_listing);
	s->listed = true;
	sessions.listed++;
}

/* Out of the tree: its name is free again; the id stays for open files. */
void session_unlist(struct session *s)
{
	if (!s->listed)
		return;
	registry_unlink(&sessions.by_name[name_bucket(s->name)], s, offsetof(struct session, name_next));
	list_del(&s->in_listing);
	s->listed = false;
	sessions.listed--;
}

bool session_visible(const struct session *s)
{
	return s->listed && s->state != SESSION_CREATING;
}

static void session_free(struct session *s)
{
	registry_unlink(&sessions.by_id[s->id % SESSION_HASH_BUCKETS], s, offsetof(struct session, id_next));
	list_del(&s->in_closing);
	loop_timer_cancel(&s->probe);
	loop_timer_cancel(&s->buffered);
	for (int i = 0; i < STREAM_COUNT; i++)
		loop_timer_cancel(&s->out[i].hold);
	exec_conn_close(s->shell.conn);
	for (int i = 0; i < STREAM_COUNT; i++)
		bytequeue_clear(&s->out[i].queue);
	bytequeue_clear(&s->input);
	bytequeue_clear(&s->transcript.bytes);
	history_free(s);
	expect_free(s);
	redaction_free(s);
	input_free(s);
	for (int i = 0; i < STREAM_COUNT; i++)
		prompt_scanner_free(&s->shell.scanner[i]);
	free(s->shell.pending);
	free(s->cwd);
	procs_free(s);
	settings_free(&s->settings);
	free(s);
}

void session_ref(struct session *s)
{
	s->refs++;
}

void session_unref(struct session *s)
{
	if (--s->refs == 0)
		session_free(s);
}

void session_free_all(void)
{
	struct list_node *pos, *tmp;

	for (size_t b = 0; b < SESSION_HASH_BUCKETS; b++) {
		while (sessions.by_id[b]) {
			struct session *s = sessions.by_id[b];
			list_for_each_safe(pos, tmp, &s->handles)
				session_handle_free(list_entry(pos, struct session_handle, in_session));
			session_unlist(s);
			session_free(s);
		}
	}
}

void *session_job_new(struct session *s, void (*run)(struct job *), struct req *req, size_t size)
{
	struct session_job *job = calloc(1, size);

	if (!job)
		return NULL;
	job->job.run = run;
	job->s = s;
	job->req = req;
	s->refs++;
	return job;
}

void session_job_done(struct session_job *job)
{
	session_unref(job->s);
	free(job);
}

void session_notify_poll(struct session *s, enum session_file file)
{
	struct list_node *pos, *tmp;

	list_for_each_safe(pos, tmp, &s->handles) {
		struct session_handle *h = list_entry(pos, struct session_handle, in_session);
		if (h->file == file && h->poll) {
			poll_handle_notify(h->poll);
			h->poll = NULL;
		}
	}
}

void session_scope(const struct session *s, const struct shell_id *id, struct procctl_scope *scope)
{
	scope->container = sessions.cfg.container;
	scope->user = id->user;
	scope->marker = s->marker;
}

void session_handle_attach(struct session *s, struct session_handle *h)
{
	h->s = s;
	s->refs++;
	list_add_tail(&s->handles, &h->in_session);
}

/* Frees h; the caller drops its reference to the session. */
void session_handle_free(struct session_handle *h)
{
	list_del(&h->in_session);
	if (h->poll)
		poll_handle_free(h->poll);
	free(h->ctl_text);
	free(h);
}

/* ---- lookups for fs/ (take the lock) ---- */

/* A new reference to s if the tree shows it, else NULL. */
static struct session *session_ref_visible(struct session *s)
{
	if (!s || !session_visible(s))
		return NULL;
	s->refs++;
	return s;
}

struct session *session_get_by_name(const char *name)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(session_find_name(name));
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

struct session *session_get_by_id(uint64_t id)
{
	pthread_mutex_lock(&sessions.lock);
	struct session *s = session_ref_visible(session_find_id(id));
	pthread_mutex_unlock(&sessions.lock);
	return s;
}

void session_put(struct session *s)
{
	pthread_mutex_lock(&sessions.lock);
	session_unref(s);
	pthread_mutex_unlock(&sessions.lock);
}

void session_list(void (*fn)(void *ctx, const char *name, uint64_t id), void *ctx)
{
	struct list_node *pos, *tmp;

	pthread_mutex_lock(&sessions.lock);
	list_for_each_safe(pos, tmp, &sessions.listing) {
		struct session *s = list_entry(pos, struct session, in_listing);
		if (session_visible(s))
			fn(ctx, s->name, s->id);
	}
	pthread_mutex_unlock(&sessions.lock);
}
