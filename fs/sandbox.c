/*
 * seshfs: sandboxes (see sandbox.h).
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util/log.h"
#include "util/text.h"

#define SANDBOX_STOP_SECONDS 2
#define SANDBOX_STATE_DIR "/var/lib/seshfs"
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

/*
 * The host's records of the containers seshfs created and has not removed
 * yet: a file per container, named by its id, holding the engine and the
 * mount point. Only a recorded container is ever swept: a container that
 * merely carries the labels (given by hand, or copied by docker commit) is
 * not seshfs's to remove. Under /var/lib, not /run: they outlive a reboot of
 * this host, which ends nothing on a remote engine. The directory, made
 * owner-only, in dir; false after one log line.
 */
static bool sandbox_records_dir(char dir[PATH_MAX])
{
	const char *state = getenv("STATE_DIRECTORY");	/* systemd's, for StateDirectory=seshfs */
	const char *reason = NULL;
	struct stat st;

	if (!state || !*state)
		state = SANDBOX_STATE_DIR;
	if (snprintf(dir, PATH_MAX, "%s/sandboxes", state) >= PATH_MAX)
		reason = strerror(ENAMETOOLONG);
	else if ((mkdir(state, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
		 stat(dir, &st) < 0 || eaccess(dir, W_OK) < 0)
		reason = strerror(errno);
	else if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		reason = "not a directory that only seshfs's user may write";
	if (!reason)
		return true;
	log_error("sandbox records: %s: %s; a sandbox a killed seshfs leaves will not be swept", dir, reason);
	return false;
}

/* Container ids are hex: a record's name is one, and nothing else is taken for one. */
static bool sandbox_id_valid(const char *id)
{
	size_t len = strspn(id, "0123456789abcdef");

	return len > 0 && len < ENGINE_CONTAINER_ID_MAX && !id[len];
}

/*
 * The container's record, written before it starts: a temporary file,
 * synced, renamed into place. A failure is a log line, and no record.
 */
static void sandbox_record(struct sandbox *sb, const char *dir, const char *engine, const char *mountpoint)
{
	char temporary[PATH_MAX];
	json_t *record = json_pack("{s:s, s:s, s:s}", "engine", engine, "mountpoint", mountpoint, "name", sb->name);
	int fd = -1, saved = 0;

	if (!record) {
		saved = ENOMEM;
		goto out;
	}
	if (!sandbox_id_valid(sb->id) || snprintf(temporary, sizeof(temporary), "%s/.%s", dir, sb->id) >= PATH_MAX ||
	    snprintf(sb->record, sizeof(sb->record), "%s/%s", dir, sb->id) >= PATH_MAX) {
		saved = EINVAL;
		goto out;
	}
	errno = 0;
	fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || json_dumpfd(record, fd, JSON_COMPACT) < 0 || fsync(fd) < 0 || rename(temporary, sb->record) < 0) {
		saved = errno ? errno : EIO;
		unlink(temporary);
		goto out;
	}
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* the rename, durable */
	if (dir_fd >= 0) {
		fsync(dir_fd);
		close(dir_fd);
	}
out:
	if (fd >= 0)
		close(fd);
	json_decref(record);
	if (saved) {
		log_error("sandbox records: cannot record container %.12s in %s: %s", sb->id, dir, strerror(saved));
		sb->record[0] = '\0';
	}
}

/* The record dir/id: this engine's (true), and on this mount point (*here), or another engine's. */
static bool sandbox_record_read(const char *dir, const char *id, const char *engine, const char *mountpoint,
				bool *here)
{
	char path[PATH_MAX];
	json_t *record = NULL;
	bool engines = false;

	if (snprintf(path, sizeof(path), "%s/%s", dir, id) < PATH_MAX &&
	    (record = json_load_file(path, 0, NULL))) {
		const char *its_engine = json_string_value(json_object_get(record, "engine"));
		const char *its_mountpoint = json_string_value(json_object_get(record, "mountpoint"));
		engines = its_engine && strcmp(its_engine, engine) == 0;
		*here = its_mountpoint && strcmp(its_mountpoint, mountpoint) == 0;
	}
	json_decref(record);
	return engines;
}

/*
 * Containers a killed seshfs left on this mount point: each recorded one
 * removed, with a log line, and its record with it. The engine's records
 * of containers that went by themselves (the watchdog ended them) go too,
 * whatever their mount point: they would pile up otherwise.
 */
static void sandbox_sweep(struct engine *e, const char *dir, const char *mountpoint)
{
	DIR *records = opendir(dir);
	struct dirent *entry;

	if (!records) {
		log_error("sandbox records: %s: %s", dir, strerror(errno));
		return;
	}
	while ((entry = readdir(records))) {
		const char *id = entry->d_name;
		enum engine_container_state state;
		char err[ENGINE_ERR_MAX];
		bool here = false;
		int ret;

		if (!sandbox_id_valid(id) || !sandbox_record_read(dir, id, engine_url(e), mountpoint, &here))
			continue;
		if (!here) {
			if (e->ops->container_state(e, id, &state, NULL, err) == -ENOENT)
				unlinkat(dirfd(records), id, 0);
			continue;
		}
		ret = e->ops->container_end(e, id, 0, false, err);
		if (ret < 0 && ret != -ENOENT) {
			log_error("container %.12s, left by an earlier seshfs on this mount point: %s", id, err);
			continue;
		}
		if (ret == 0)
			log_info("removed container %.12s, left by an earlier seshfs on this mount point", id);
		unlinkat(dirfd(records), id, 0);
	}
	closedir(records);
}

/*
 * After container_end's ret: a container that is gone loses its record; one
 * that may still be there keeps it, for the next mount's sweep.
 */
static void sandbox_forget(struct sandbox *sb, int ret)
{
	if (sb->record[0] && (ret == 0 || ret == -ENOENT) && unlink(sb->record) < 0 && errno != ENOENT)
		log_error("sandbox records: %s: %s", sb->record, strerror(errno));
	sb->record[0] = '\0';
	sb->id[0] = '\0';
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
	char path[PATH_MAX], records[PATH_MAX], host[256], err[ENGINE_ERR_MAX], shown[TEXT_SHOWN_MAX + 1];
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
	bool recording = sandbox_records_dir(records);
	/* A live mount here has a live seshfs: its container is not left over. */
	if (recording && statfs(path, &fs) == 0 && fs.f_type != FUSE_SUPER_MAGIC)
		sandbox_sweep(e, records, path);
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
		ret = e->ops->container_create(e, &spec, sb->id, err);
	/* Recorded before it starts: a seshfs killed once it runs has left a record of it. */
	if (ret == 0 && recording && !o->keep)
		sandbox_record(sb, records, engine_url(e), path);
	if (ret == 0 && (ret = e->ops->container_start(e, sb->id, err)) < 0) {
		char ignored[ENGINE_ERR_MAX];
		sandbox_forget(sb, e->ops->container_end(e, sb->id, 0, false, ignored));
	}
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
	sandbox_forget(sb, ret);
}

void sandbox_free(struct sandbox *sb)
{
	for (size_t i = 0; i < SANDBOX_STATUS_LINES; i++)
		free(sb->status_lines[i]);
}
