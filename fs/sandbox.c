/*
 * seshfs: sandboxes (see sandbox.h).
 */
#include "sandbox.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/log.h"
#include "util/text.h"

#define SANDBOX_STOP_SECONDS 2
#define SANDBOX_ORPHANS_MAX 16
#define FUSE_SUPER_MAGIC 0x65735546

/*
 * The container's only process besides its init: it reads a stdin nobody
 * writes to, so it runs until a signal ends it (any image with /bin/sh).
 */
static const char *const sandbox_keepalive[] = {
	"/bin/sh", "-c", "while read -r _; do :; done", "seshfs-keepalive", NULL,
};

int sandbox_list_add(struct sandbox_list *l, const char *item)
{
	char **grown = realloc(l->items, (l->count + 2) * sizeof(*grown));

	if (!grown)
		return -1;
	l->items = grown;
	if (!(l->items[l->count] = strdup(item)))
		return -1;
	l->items[++l->count] = NULL;
	return 0;
}

static void sandbox_list_free(struct sandbox_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
}

void sandbox_options_free(struct sandbox_options *o)
{
	free(o->image);
	free(o->name);
	free(o->memory);
	free(o->memory_swap);
	free(o->cpus);
	free(o->pids);
	free(o->network);
	sandbox_list_free(&o->volumes);
	sandbox_list_free(&o->publish);
	sandbox_list_free(&o->labels);
	sandbox_list_free(&o->cap_drop);
}

/* docker run's sizes: a number with b, k, m or g (either case); bytes. */
static bool sandbox_size(const char *text, long long *bytes)
{
	char *end;
	double value = strtod(text, &end);
	long long unit = 1;

	switch (*end) {
	case 'g': case 'G': unit <<= 10; /* fall through */
	case 'm': case 'M': unit <<= 10; /* fall through */
	case 'k': case 'K': unit <<= 10; /* fall through */
	case 'b': case 'B': end++; break;
	default: break;
	}
	if (end == text || *end || !(value > 0) || value * (double)unit > (double)LLONG_MAX / 2)
		return false;
	*bytes = (long long)(value * (double)unit);
	return true;
}

static bool sandbox_count(const char *text, long long *count)
{
	char *end;

	errno = 0;
	*count = strtoll(text, &end, 10);
	return end != text && !*end && !errno && *count > 0;
}

static bool sandbox_cpus(const char *text, long long *nano)
{
	char *end;
	double cpus = strtod(text, &end);

	if (end == text || *end || !(cpus > 0) || cpus > 4096)
		return false;
	*nano = (long long)(cpus * 1e9);
	return true;
}

/* A limit's text into its number; false after a line on stderr. */
static bool sandbox_limit(const char *name, const char *text, bool (*parse)(const char *, long long *),
			  const char *form, long long *out)
{
	char shown[TEXT_SHOWN_MAX + 1];

	if (!text || parse(text, out))
		return true;
	text_escape(text, strlen(text), shown, sizeof(shown));
	fprintf(stderr, "seshfs: %s '%s' must be %s\n", name, shown, form);
	return false;
}

static int sandbox_status_line(struct sandbox *sb, size_t *n, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (*n == SANDBOX_STATUS_LINES || asprintf(&sb->status_lines[*n], "%s %s", key, value) < 0)
		return -1;
	(*n)++;
	return 0;
}

/* Containers a killed seshfs left on this mount point: removed, with a log line each. */
static void sandbox_sweep(struct engine *e, const char *const *labels)
{
	char (*ids)[ENGINE_CONTAINER_ID_MAX] = calloc(SANDBOX_ORPHANS_MAX, sizeof(*ids));
	char err[ENGINE_ERR_MAX];
	size_t count = 0;

	if (!ids || e->ops->containers_labelled(e, labels, "seshfs.keep", ids, SANDBOX_ORPHANS_MAX, &count, err) < 0) {
		if (ids)
			log_error("cannot look for containers left by an earlier seshfs: %s", err);
		free(ids);
		return;
	}
	for (size_t i = 0; i < count && i < SANDBOX_ORPHANS_MAX; i++) {
		int ret = e->ops->container_end(e, ids[i], 0, false, err);
		if (ret < 0 && ret != -ENOENT)
			log_error("container %.12s, left by an earlier seshfs on this mount point: %s", ids[i], err);
		else
			log_info("removed container %.12s, left by an earlier seshfs on this mount point", ids[i]);
	}
	free(ids);
}

int sandbox_start(struct engine *e, const struct sandbox_options *o, const char *name, const char *mountpoint,
		  const struct session_settings *defaults, struct sandbox *sb)
{
	struct engine_container_spec spec = {
		.image = o->image,
		.entrypoint = sandbox_keepalive,
		.user = defaults->user,
		.workdir = defaults->workdir,
		.network = o->network,
		.binds = (const char *const *)o->volumes.items,
		.publish = (const char *const *)o->publish.items,
		.cap_drop = (const char *const *)o->cap_drop.items,
		.read_only = o->read_only,
		.no_new_privileges = o->no_new_privileges,
		.auto_remove = !o->keep,
	};
	char path[PATH_MAX], host[256], err[ENGINE_ERR_MAX], shown[TEXT_SHOWN_MAX + 1];
	char *mine[3] = { NULL, NULL, NULL };
	struct sandbox_list labels = { 0 };
	struct statfs fs;
	size_t lines = 0;
	int ret = -1;

	const char **env = calloc(defaults->env_count + 1, sizeof(*env));	/* NULL-terminated */

	memset(sb, 0, sizeof(*sb));
	sb->keep = o->keep;
	if (!env)
		goto oom;
	for (size_t i = 0; i < defaults->env_count; i++)
		env[i] = defaults->env[i];
	spec.env = env;
	if (!sandbox_limit("memory", o->memory, sandbox_size, "a size such as 512m or 1g", &spec.memory) ||
	    !sandbox_limit("memory_swap", o->memory_swap, sandbox_size, "a size such as 1g", &spec.memory_swap) ||
	    !sandbox_limit("cpus", o->cpus, sandbox_cpus, "a number of CPUs such as 1.5", &spec.nano_cpus) ||
	    !sandbox_limit("pids", o->pids, sandbox_count, "a number of processes", &spec.pids))
		goto out;
	if (!realpath(mountpoint, path)) {
		fprintf(stderr, "seshfs: %s: %s\n", mountpoint, strerror(errno));
		goto out;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (asprintf(&mine[0], "seshfs.mountpoint=%s", path) < 0 || asprintf(&mine[1], "seshfs.host=%s", host) < 0)
		goto oom;
	/* A live mount here has a live seshfs: its container is not left over. */
	if (statfs(path, &fs) == 0 && fs.f_type != FUSE_SUPER_MAGIC)
		sandbox_sweep(e, (const char *const *)mine);
	for (size_t i = 0; i < o->labels.count; i++) {
		if (sandbox_list_add(&labels, o->labels.items[i]) < 0)
			goto oom;
	}
	if (sandbox_list_add(&labels, mine[0]) < 0 || sandbox_list_add(&labels, mine[1]) < 0 ||
	    (o->keep && sandbox_list_add(&labels, "seshfs.keep=1") < 0))
		goto oom;
	spec.labels = (const char *const *)labels.items;
	if (name) {
		snprintf(sb->name, sizeof(sb->name), "%s", name);
	} else {
		unsigned char random[4] = { 0 };
		if (getrandom(random, sizeof(random), 0) < 0)
			log_error("getrandom: %s", strerror(errno));
		snprintf(sb->name, sizeof(sb->name), "seshfs-%02x%02x%02x%02x", random[0], random[1], random[2],
			 random[3]);
	}
	spec.name = sb->name;

	text_escape(o->image, strlen(o->image), shown, sizeof(shown));
	ret = e->ops->image_ensure(e, o->image, err);
	if (ret == -ENOENT) {
		fprintf(stderr, "seshfs: image '%s' not found\n", shown);
		goto out;
	}
	if (ret == 0)
		ret = e->ops->container_run(e, &spec, sb->id, err);
	if (ret < 0) {
		text_escape(err, strlen(err), shown, sizeof(shown));
		fprintf(stderr, "seshfs: cannot start a container from '%s': %s\n", o->image, shown);
		goto out;
	}
	if (sandbox_status_line(sb, &lines, "image", o->image) < 0 ||
	    sandbox_status_line(sb, &lines, "memory", o->memory) < 0 ||
	    sandbox_status_line(sb, &lines, "memory_swap", o->memory_swap) < 0 ||
	    sandbox_status_line(sb, &lines, "cpus", o->cpus) < 0 || sandbox_status_line(sb, &lines, "pids", o->pids) < 0 ||
	    sandbox_status_line(sb, &lines, "network", o->network ? o->network : "default") < 0) {
		sandbox_end(e, sb);
		goto oom;
	}
	ret = 0;
	goto out;
oom:
	fprintf(stderr, "seshfs: out of memory\n");
	ret = -1;
out:
	free(mine[0]);
	free(mine[1]);
	free(env);
	sandbox_list_free(&labels);
	return ret < 0 ? -1 : 0;
}

void sandbox_end(struct engine *e, struct sandbox *sb)
{
	char err[ENGINE_ERR_MAX];

	if (!sb->id[0])
		return;
	int ret = e->ops->container_end(e, sb->id, SANDBOX_STOP_SECONDS, sb->keep, err);
	if (ret < 0 && ret != -ENOENT)
		log_error("container %s: %s", sb->name, err);
	sb->id[0] = '\0';
}

void sandbox_free(struct sandbox *sb)
{
	for (size_t i = 0; i < SANDBOX_STATUS_LINES; i++)
		free(sb->status_lines[i]);
}
