/*
 * seshfs: a session's processes: its cgroup (backend/cgroup.h), and what is
 * done to them (signals, the waiting and reader probes, the final kill)
 * from the host when seshfs sees the shell there (backend/hostctl.h), or
 * else by the helper exec inside the container (backend/procctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../util/log.h"
#include "internal.h"

void procs_target(struct session *s, const struct shell_id *id, struct procs_target *t)
{
	t->id = *id;
	/* A shell that did not join it is not in it, nor is what it started. */
	t->cgroup = id->in_cgroup ? s->cgroup : NULL;
	t->command_runs = s->state == SESSION_RUNNING && !session_idle(s) && !session_continuing(s);
	session_scope(s, &t->id, &t->scope);
}

int procs_join(struct session *s, int host_pid, unsigned long long host_start, char err[ENGINE_ERR_MAX])
{
	struct cgroup *cg = s->cgroup;
	char name[64];
	int ret = 0;

	/* Unique on the host: the mount's token and the session's id, as in its marker. */
	snprintf(name, sizeof(name), "seshfs-%s-%010llu", sessions.mount_token, (unsigned long long)s->id);
	pthread_mutex_unlock(&sessions.lock);
	if (!cg)
		ret = cgroup_session_create(host_pid, name, &cg, err);
	if (ret == 0 && !hostctl_alive(host_pid, host_start)) {
		snprintf(err, ENGINE_ERR_MAX, "the shell is gone");
		ret = -ESRCH;
	}
	if (ret == 0)
		ret = cgroup_join(cg, host_pid, err);
	pthread_mutex_lock(&sessions.lock);
	if (cg)
		s->cgroup = cg;	/* made here: the session removes it when it goes */
	s->shell.id.in_cgroup = ret == 0 && s->shell.id.host_pid == host_pid;
	return ret;
}

int procs_signal(const struct procs_target *t, const char *signal, enum procctl_target target,
		 char err[ENGINE_ERR_MAX])
{
	struct hostctl_shell shell = { t->id.host_pid, t->id.host_start };

	/* Everything the session started is in its cgroup; without one, the helper finds it by the marker. */
	if (target == PROCCTL_ALL ? t->cgroup != NULL : shell.pid > 0)
		return hostctl_signal(&shell, t->cgroup, signal, target, t->command_runs, err);
	return procctl_signal(sessions.cfg.engine, &t->scope, signal, target, &t->id.pid, t->id.pid > 0 ? 1 : 0,
			      err);
}

int procs_waiting(const struct procs_target *t, char err[ENGINE_ERR_MAX])
{
	struct hostctl_shell shell = { t->id.host_pid, t->id.host_start };

	if (shell.pid > 0)
		return hostctl_shell_waiting(&shell, err);
	return procctl_shell_waiting(sessions.cfg.engine, &t->scope, t->id.pid, err);
}

int procs_reader(const struct procs_target *t, bool shell_counts, char err[ENGINE_ERR_MAX])
{
	struct hostctl_shell shell = { t->id.host_pid, t->id.host_start };

	if (shell.pid > 0)
		return hostctl_stdin_reader(&shell, shell_counts, err);
	if (t->id.pid <= 0)
		return 0;
	return procctl_stdin_reader(sessions.cfg.engine, &t->scope, t->id.pid, shell_counts, err);
}

void procs_end_start(struct session *s)
{
	struct cgroup *cg = s->cgroup;

	if (!cg)
		return;
	pthread_mutex_unlock(&sessions.lock);
	cgroup_kill_start(cg);
	pthread_mutex_lock(&sessions.lock);
}

int procs_end(struct session *s)
{
	struct procs_target t;
	char err[ENGINE_ERR_MAX];

	if (!s->cgroup)
		return -EOPNOTSUPP;
	/* A failed restart left no shell; what the old ones started is in the cgroup. */
	bool whole = s->shell.id.in_cgroup || s->shell.id.pid == 0;
	procs_target(s, &s->shell.id, &t);
	t.cgroup = s->cgroup;
	pthread_mutex_unlock(&sessions.lock);
	int ret = procs_signal(&t, "KILL", PROCCTL_ALL, err);
	if (ret == 0 && cgroup_remove(t.cgroup, err) < 0)
		log_error("session %s: its cgroup stays: %s", s->name, err);
	pthread_mutex_lock(&sessions.lock);
	if (ret < 0)
		log_error("session %s: clean-up: %s", s->name, err);
	return ret < 0 || whole ? ret : -EOPNOTSUPP;	/* -EOPNOTSUPP: the helper finds the rest */
}

void procs_free(struct session *s)
{
	cgroup_free(s->cgroup);
	s->cgroup = NULL;
}
