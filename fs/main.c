/*
 * seshfs: mount shells running in a Docker container as files.
 *
 *   seshfs [options] CONTAINER MOUNTPOINT
 *   seshfs -o image=REF[,limits...] [NAME] MOUNTPOINT   (a container of its own, fs/sandbox.c)
 *
 * Data path: kernel request -> fs/ops.c -> fs/session/ -> backend/ -> engine socket.
 */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../backend/context.h"
#include "../backend/engine.h"
#include "../backend/hostproc.h"
#include "../backend/procctl.h"
#include "detach.h"
#include "guard/policy.h"
#include "guard/redact.h"
#include "ops.h"
#include "reply.h"
#include "sandbox.h"
#include "session/ctl.h"
#include "session/session.h"
#include "session/settings.h"
#include "util/log.h"
#include "util/text.h"

#define SESHFS_VERSION "0.1.0"
#define SESHFS_DEFAULT_BUFSIZE (1024 * 1024)
#define SESHFS_DEFAULT_MAX_SESSIONS 4096
#define SESHFS_DEFAULT_PARKED_MAX (64 * 1024 * 1024)
#define SESHFS_MAX_SESSIONS_LIMIT 1000000
#define SESHFS_WARM_LIMIT 1000
#define SESHFS_SIZE_LIMIT ((size_t)1 << 30)	/* byte counts */

struct seshfs_options {
	char *container;
	char *docker_host;
	char *shell;
	char *user;
	char *workdir;
	char *timeout;
	char *idle_timeout;
	char *bufsize;
	char *transcript_size;
	char *history_size;
	char *max_sessions;
	char *warm;
	char *parked_max;
	char *stderr_mode;
	char *busy_input;
	char *transport;
	char *echo;
	char *policy;
	char *redact;
	char *context;
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	int tls_verify;
	int tty;
	int lock_settings;
	struct sandbox_options sandbox;
	char *second;		/* the second non-option: the mount point */
	struct session_settings *defaults;	/* env= entries go straight here */
	bool bad_setting;
};

enum {
	SESHFS_KEY_ENV,
	SESHFS_KEY_VOLUME,
	SESHFS_KEY_PUBLISH,
	SESHFS_KEY_LABEL,
	SESHFS_KEY_CAP_DROP,
};

#define SESHFS_OPT(t, p, v) { t, offsetof(struct seshfs_options, p), v }

static const struct fuse_opt seshfs_opts[] = {
	SESHFS_OPT("docker_host=%s", docker_host, 0),
	SESHFS_OPT("shell=%s", shell, 0),
	SESHFS_OPT("user=%s", user, 0),
	SESHFS_OPT("workdir=%s", workdir, 0),
	SESHFS_OPT("timeout=%s", timeout, 0),
	SESHFS_OPT("idle_timeout=%s", idle_timeout, 0),
	SESHFS_OPT("bufsize=%s", bufsize, 0),
	SESHFS_OPT("transcript_size=%s", transcript_size, 0),
	SESHFS_OPT("history_size=%s", history_size, 0),
	SESHFS_OPT("max_sessions=%s", max_sessions, 0),
	SESHFS_OPT("warm=%s", warm, 0),
	SESHFS_OPT("parked_max=%s", parked_max, 0),
	SESHFS_OPT("stderr=%s", stderr_mode, 0),
	SESHFS_OPT("busy_input=%s", busy_input, 0),
	SESHFS_OPT("transport=%s", transport, 0),
	SESHFS_OPT("echo=%s", echo, 0),
	SESHFS_OPT("context=%s", context, 0),
	SESHFS_OPT("tls_ca=%s", tls_ca, 0),
	SESHFS_OPT("tls_cert=%s", tls_cert, 0),
	SESHFS_OPT("tls_key=%s", tls_key, 0),
	SESHFS_OPT("tls_verify", tls_verify, 1),
	SESHFS_OPT("policy=%s", policy, 0),
	SESHFS_OPT("redact=%s", redact, 0),
	SESHFS_OPT("lock_settings", lock_settings, 1),
	SESHFS_OPT("tty", tty, 1),
	SESHFS_OPT("image=%s", sandbox.image, 0),
	SESHFS_OPT("name=%s", sandbox.name, 0),
	SESHFS_OPT("memory=%s", sandbox.memory, 0),
	SESHFS_OPT("memory_swap=%s", sandbox.memory_swap, 0),
	SESHFS_OPT("cpus=%s", sandbox.cpus, 0),
	SESHFS_OPT("pids=%s", sandbox.pids, 0),
	SESHFS_OPT("network=%s", sandbox.network, 0),
	SESHFS_OPT("read_only", sandbox.read_only, 1),
	SESHFS_OPT("no_new_privileges", sandbox.no_new_privileges, 1),
	SESHFS_OPT("keep", sandbox.keep, 1),
	FUSE_OPT_KEY("env=", SESHFS_KEY_ENV),
	FUSE_OPT_KEY("volume=", SESHFS_KEY_VOLUME),
	FUSE_OPT_KEY("publish=", SESHFS_KEY_PUBLISH),
	FUSE_OPT_KEY("label=", SESHFS_KEY_LABEL),
	FUSE_OPT_KEY("cap_drop=", SESHFS_KEY_CAP_DROP),
	FUSE_OPT_END
};

/* The options that take a count: one row each. */
struct seshfs_count {
	const char *name;
	size_t option;		/* its text in struct seshfs_options */
	size_t config;		/* its size_t in struct sessions_config */
	size_t min, max;
	const char *range;	/* what the error line says it must be */
};

#define SESHFS_BYTES "bytes (K/M suffix allowed)"
#define SESHFS_COUNT(name, min, max, range) \
	{ #name, offsetof(struct seshfs_options, name), offsetof(struct sessions_config, name), min, max, range }

static const struct seshfs_count seshfs_counts[] = {
	SESHFS_COUNT(bufsize, 4096, SESHFS_SIZE_LIMIT, "4096 to 1G " SESHFS_BYTES),
	SESHFS_COUNT(transcript_size, 0, SESHFS_SIZE_LIMIT, "0 to 1G " SESHFS_BYTES),
	SESHFS_COUNT(history_size, 0, SESHFS_SIZE_LIMIT, "0 to 1G " SESHFS_BYTES),
	SESHFS_COUNT(max_sessions, 1, SESHFS_MAX_SESSIONS_LIMIT, "1 to 1000000"),
	SESHFS_COUNT(warm, 0, SESHFS_WARM_LIMIT, "0 to 1000"),
	SESHFS_COUNT(parked_max, 0, SESHFS_SIZE_LIMIT, "0 to 1G " SESHFS_BYTES),
};

/* Parses the count options given into cfg; false after one line on stderr. */
static bool seshfs_parse_counts(const struct seshfs_options *opts, struct sessions_config *cfg)
{
	for (size_t i = 0; i < sizeof(seshfs_counts) / sizeof(seshfs_counts[0]); i++) {
		const struct seshfs_count *c = &seshfs_counts[i];
		const char *text = *(char *const *)((const char *)opts + c->option);
		char shown[TEXT_SHOWN_MAX + 1];

		if (!text || ctl_parse_bytes(text, strlen(text), c->min, c->max,
					     (size_t *)((char *)cfg + c->config)) == 0)
			continue;
		text_escape(text, strlen(text), shown, sizeof(shown));
		fprintf(stderr, "seshfs: %s '%s' must be %s\n", c->name, shown, c->range);
		return false;
	}
	return true;
}

static void seshfs_usage(const char *progname)
{
	printf("usage: %s [options] CONTAINER MOUNTPOINT\n"
	       "       %s -o image=REF[,...] [NAME] MOUNTPOINT\n\n"
	       "seshfs options:\n"
	       "    -o docker_host=URL     unix:///path, tcp://host:port or ssh://[user@]host[:port]\n"
	       "                           (default: $DOCKER_HOST, else unix:///var/run/docker.sock)\n"
	       "    -o context=NAME        the docker CLI's context NAME (default: as $DOCKER_CONTEXT,\n"
	       "                           then the CLI's current context, unless $DOCKER_HOST)\n"
	       "    -o tls_verify          TLS to a tcp:// engine, its certificate verified\n"
	       "                           (default: as $DOCKER_TLS_VERIFY, $DOCKER_TLS)\n"
	       "    -o tls_ca=FILE,tls_cert=FILE,tls_key=FILE  TLS files (default: ca.pem,\n"
	       "                           cert.pem, key.pem in $DOCKER_CERT_PATH or ~/.docker)\n"
	       "    -o timeout=SECONDS     read timeout of new sessions (default: 1)\n"
	       "    -o idle_timeout=SECONDS close sessions unused for this long (default: never)\n"
	       "    -o shell=PATH          shell started by mkdir (default: /bin/bash if the\n"
	       "                           container has it, else /bin/sh)\n"
	       "    -o user=USER           user the shell runs as (default: the container's)\n"
	       "    -o workdir=PATH        working directory of the shell (default: the container's)\n"
	       "    -o env=NAME=VALUE      environment variable of the shell (repeatable)\n"
	       "    -o tty                 sessions get a pseudo-terminal (default: pipes)\n"
	       "    -o echo=on|off         a tty echoes input (default: on)\n"
	       "    -o stderr=merged|separate  merged: the shell's stderr goes to stdout,\n"
	       "                           one ordered stream (default: separate)\n"
	       "    -o busy_input=refuse|queue  refuse: stdin writes while a command runs\n"
	       "                           fail with EBUSY (default: queue)\n"
	       "    -o transport=auto|fifo|exec  how a shell's stdin, stdout and stderr travel:\n"
	       "                           FIFOs inside the container (a local engine, seshfs\n"
	       "                           root, no tty), or the engine's exec stream; auto\n"
	       "                           takes FIFOs where it can; fifo fails a start that\n"
	       "                           cannot with EOPNOTSUPP (default: auto)\n"
	       "    -o bufsize=BYTES       output held per stream before the shell is paused,\n"
	       "                           suffix K or M allowed (default: 1M)\n"
	       "    -o max_sessions=N      sessions at most; mkdir beyond fails with EMFILE\n"
	       "                           (default: 4096)\n"
	       "    -o warm=N              keep N shells started for mkdir to take at once;\n"
	       "                           they count toward max_sessions (default: 0)\n"
	       "    -o parked_max=BYTES    stdin writes waiting for room hold at most this much,\n"
	       "                           all sessions together; a write beyond fails with\n"
	       "                           ENOBUFS (suffix K or M allowed, default: 64M)\n"
	       "    -o history_size=BYTES  history kept in each session's history file, 0 for\n"
	       "                           none, suffix K or M allowed (default: 1M)\n"
	       "    -o transcript_size=BYTES history kept in each session's transcript, 0 for\n"
	       "                           none, suffix K or M allowed (default: 1M)\n"
	       "    -o policy=FILE         stdin lines are checked against FILE's allow, deny\n"
	       "                           and dangerous rules; refused writes fail with EACCES\n"
	       "    -o lock_settings       ctl refuses shell, user, env, unsetenv and workdir\n"
	       "                           (implied by policy=)\n"
	       "    -o redact=FILE|default secrets matching FILE's rules (REGEX<TAB>REPLACEMENT,\n"
	       "                           or default) are replaced in all seshfs shows\n"
	       "    -o image=REF           a container of its own from REF, ended at unmount;\n"
	       "                           with name=NAME, memory=SIZE, memory_swap=SIZE, cpus=N,\n"
	       "                           pids=N, network=NAME, volume=SRC:DST[:ro], publish=\n"
	       "                           [IP:]HOST:PORT, read_only, cap_drop=CAP,\n"
	       "                           no_new_privileges, label=K=V, keep (like docker run's)\n\n",
	       progname, progname);
}

/*
 * A start setting given as a mount option gets the check of the ctl command
 * of its name (session/ctl.h); if it fails, one line on stderr says why.
 * cmd's argument points into value.
 */
static bool seshfs_setting_valid(const char *name, const char *value, struct ctl_command *cmd)
{
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	char shown[TEXT_SHOWN_MAX + 1];
	char *line = NULL;
	int len = asprintf(&line, "%s %s", name, value);
	int count = len < 0 ? -ENOMEM : ctl_parse(line, (size_t)len, cmds, err);

	if (count == 1) {
		/* The argument points into line: point it at the same bytes of value. */
		*cmd = cmds[0];
		cmd->arg = value + (cmds[0].arg - line - (strlen(name) + 1));
		free(line);
		return true;
	}
	free(line);
	text_escape(value, strlen(value), shown, sizeof(shown));
	fprintf(stderr, "seshfs: -o %s=%s: expected %s=%s\n", name, shown, name, ctl_command_usage(name));
	return false;
}

/*
 * The default shell is bash where the container has it: its prompt hook
 * needs no fork, so a round trip is faster than with a POSIX sh.
 */
static bool seshfs_has_bash(struct engine *engine, const char *container)
{
	char err[ENGINE_ERR_MAX];
	int has_bash = procctl_executable(engine, container, "/bin/bash", err);

	if (has_bash < 0)
		fprintf(stderr, "seshfs: cannot tell whether %s has /bin/bash, starting /bin/sh: %s\n",
			container, err);
	return has_bash == 1;
}

/* The options that repeat, each into its list. */
static struct sandbox_list *seshfs_list(struct seshfs_options *opts, int key, size_t *prefix)
{
	static const struct {
		int key;
		const char *prefix;
		size_t list;
	} lists[] = {
		{ SESHFS_KEY_VOLUME, "volume=", offsetof(struct seshfs_options, sandbox.volumes) },
		{ SESHFS_KEY_PUBLISH, "publish=", offsetof(struct seshfs_options, sandbox.publish) },
		{ SESHFS_KEY_LABEL, "label=", offsetof(struct seshfs_options, sandbox.labels) },
		{ SESHFS_KEY_CAP_DROP, "cap_drop=", offsetof(struct seshfs_options, sandbox.cap_drop) },
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (lists[i].key == key) {
			*prefix = strlen(lists[i].prefix);
			return (struct sandbox_list *)((char *)opts + lists[i].list);
		}
	}
	return NULL;
}

/*
 * The non-options: CONTAINER, then MOUNTPOINT; with image= the one given
 * alone is the mount point (main sorts that out once every option is known).
 */
static int seshfs_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct seshfs_options *opts = data;
	size_t prefix;
	struct sandbox_list *list = seshfs_list(opts, key, &prefix);
	(void)outargs;

	if (key == FUSE_OPT_KEY_NONOPT && (!opts->container || !opts->second)) {
		char **slot = opts->container ? &opts->second : &opts->container;
		*slot = strdup(arg);
		return *slot ? 0 : -1;
	}
	if (list)
		return sandbox_list_add(list, arg + prefix);
	if (key == SESHFS_KEY_ENV) {
		struct ctl_command cmd;
		if (!seshfs_setting_valid("env", arg + strlen("env="), &cmd)) {
			opts->bad_setting = true;
			return 0;
		}
		return settings_setenv(opts->defaults, cmd.arg, cmd.arg_len) == 0 ? 0 : -1;
	}
	return 1;
}

/* One of TLS's files: the option's (which must be there), else the default's if it is there. */
static bool seshfs_tls_file(const char *given, const char *dir, const char *name, bool required,
			    char **out)
{
	char *path = NULL;

	if (given)
		path = strdup(given);
	else if (asprintf(&path, "%s/%s", dir, name) < 0)
		path = NULL;
	if (!path)
		return false;
	if (access(path, R_OK) == 0) {
		*out = path;
		return true;
	}
	if (given || required) {
		char shown[TEXT_SHOWN_MAX + 1];
		int saved = errno;
		text_escape(path, strlen(path), shown, sizeof(shown));
		fprintf(stderr, "seshfs: %s: %s\n", shown, strerror(saved));
		free(path);
		return false;
	}
	free(path);
	return true;
}

/*
 * TLS as the docker CLI sets it up: on with DOCKER_TLS_VERIFY or DOCKER_TLS
 * (non-empty) or a tls_ option; verifying with DOCKER_TLS_VERIFY or
 * tls_verify; files from the options, else DOCKER_CERT_PATH or ~/.docker.
 * false after one line on stderr.
 */
static bool seshfs_tls(const struct seshfs_options *opts, const struct context_endpoint *ep,
		       struct transport_tls *tls, char *files[3])
{
	const char *verify_env = getenv("DOCKER_TLS_VERIFY"), *tls_env = getenv("DOCKER_TLS");
	const char *dir = getenv("DOCKER_CERT_PATH"), *home = getenv("HOME");
	char *home_dir = NULL;

	if (ep->name) {
		/* A context carries its own TLS files (docker context create --docker ca=,cert=,key=). */
		if (opts->tls_verify || opts->tls_ca || opts->tls_cert || opts->tls_key) {
			fprintf(stderr, "seshfs: tls_ options are for docker_host, not for context %s\n", ep->name);
			return false;
		}
		tls->enabled = ep->tls_dir != NULL;
		tls->verify = tls->enabled && ep->tls_verify;
		bool ok = !tls->enabled || (seshfs_tls_file(NULL, ep->tls_dir, "ca.pem", tls->verify, &files[0]) &&
					    seshfs_tls_file(NULL, ep->tls_dir, "cert.pem", false, &files[1]) &&
					    seshfs_tls_file(NULL, ep->tls_dir, "key.pem", false, &files[2]));
		tls->ca = files[0];
		tls->cert = files[1];
		tls->key = files[2];
		return ok;
	}
	tls->verify = opts->tls_verify || (verify_env && *verify_env);
	tls->enabled = tls->verify || (tls_env && *tls_env) || opts->tls_ca || opts->tls_cert || opts->tls_key;
	if (!tls->enabled)
		return true;
	if ((!dir || !*dir) && asprintf(&home_dir, "%s/.docker", home ? home : "") < 0)
		return false;
	bool ok = seshfs_tls_file(opts->tls_ca, dir && *dir ? dir : home_dir, "ca.pem", tls->verify, &files[0]) &&
		  seshfs_tls_file(opts->tls_cert, dir && *dir ? dir : home_dir, "cert.pem", false, &files[1]) &&
		  seshfs_tls_file(opts->tls_key, dir && *dir ? dir : home_dir, "key.pem", false, &files[2]);
	free(home_dir);
	tls->ca = files[0];
	tls->cert = files[1];
	tls->key = files[2];
	return ok;
}

/* The log shows what the mount's rules redact (set once, before any thread starts). */
static const struct redact_rules *seshfs_log_rules;

static ssize_t seshfs_log_redact(const char *line, size_t len, char **out)
{
	return redact_text(seshfs_log_rules, line, len, out);
}

/* The guard rails' files: loaded before mounting, so that a bad rule mounts nothing. */
static bool seshfs_load_guards(const struct seshfs_options *opts, struct sessions_config *cfg)
{
	char err[POLICY_ERR_MAX > REDACT_ERR_MAX ? POLICY_ERR_MAX : REDACT_ERR_MAX];
	char shown[sizeof(err) * 4];

	if (opts->policy && !(cfg->policy = policy_load(opts->policy, err)))
		goto fail;
	if (opts->redact && !(cfg->redact = redact_load(opts->redact, err)))
		goto fail;
	cfg->lock_settings = opts->lock_settings || cfg->policy;
	if (cfg->redact) {
		seshfs_log_rules = cfg->redact;
		log_set_filter(seshfs_log_redact);
	}
	return true;
fail:
	text_escape(err, strlen(err), shown, sizeof(shown));
	fprintf(stderr, "seshfs: %s\n", shown);
	return false;
}

/* Every session holds a connection to the engine: allow as many as the hard limit does. */
static void seshfs_raise_fd_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmdline = { 0 };
	struct fuse_loop_config *loop_config = NULL;
	struct fuse_session *se = NULL;
	struct engine *engine = NULL;
	struct sessions_config cfg = {
		.version = SESHFS_VERSION,
		.timeout_ms = 1000,
		.bufsize = SESHFS_DEFAULT_BUFSIZE,
		.transcript_size = SESHFS_DEFAULT_BUFSIZE,
		.history_size = SESHFS_DEFAULT_BUFSIZE,
		.max_sessions = SESHFS_DEFAULT_MAX_SESSIONS,
		.parked_max = SESHFS_DEFAULT_PARKED_MAX,
		.defaults = {
			.echo = true,
			.cols = SETTINGS_DEFAULT_COLS,
			.rows = SETTINGS_DEFAULT_ROWS,
		},
	};
	struct seshfs_options opts = { .defaults = &cfg.defaults };
	struct sandbox sandbox = { 0 };
	struct transport_tls tls = { 0 };
	struct context_endpoint endpoint = { 0 };
	char *tls_files[3] = { NULL, NULL, NULL };
	char err[ENGINE_ERR_MAX];
	int ret = 1;

	if (fuse_opt_parse(&args, &opts, seshfs_opts, seshfs_opt_proc) == -1 || opts.bad_setting)
		goto out_args;
	/* The mount point goes back to libfuse's parser (it resolves the path). */
	char **mount_arg = opts.second ? &opts.second : opts.sandbox.image ? &opts.container : NULL;
	if (mount_arg && fuse_opt_add_arg(&args, *mount_arg) != 0)
		goto out_args;
	if (mount_arg) {
		free(*mount_arg);
		*mount_arg = NULL;
	}
	if (fuse_parse_cmdline(&args, &cmdline) != 0)
		goto out_args;
	if (cmdline.show_help) {
		seshfs_usage(argv[0]);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (cmdline.show_version) {
		printf("seshfs version %s\n", SESHFS_VERSION);
		fflush(stdout);	/* fuse_lowlevel_version runs fusermount3, which writes directly */
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if ((!opts.container && !opts.sandbox.image) || !cmdline.mountpoint) {
		fprintf(stderr, "usage: %s [options] CONTAINER MOUNTPOINT (see --help)\n", argv[0]);
		goto out_args;
	}
	/* statfs always asks the filesystem: a dead one's cached attributes do not hide it. */
	struct statfs mountpoint_fs;
	if (statfs(cmdline.mountpoint, &mountpoint_fs) < 0 && errno == ENOTCONN) {
		fprintf(stderr, "seshfs: %s is still mounted by a filesystem that died; "
			"fusermount3 -u %s frees it\n", cmdline.mountpoint, cmdline.mountpoint);
		goto out_args;
	}
	if (opts.timeout && ctl_parse_seconds(opts.timeout, strlen(opts.timeout), &cfg.timeout_ms) < 0) {
		fprintf(stderr, "seshfs: timeout '%s' is not a number of seconds >= 0\n", opts.timeout);
		goto out_args;
	}
	if (!seshfs_parse_counts(&opts, &cfg))
		goto out_args;
	if (opts.idle_timeout &&
	    ctl_parse_seconds(opts.idle_timeout, strlen(opts.idle_timeout), &cfg.idle_timeout_ms) < 0) {
		fprintf(stderr, "seshfs: idle_timeout '%s' is not a number of seconds >= 0\n",
			opts.idle_timeout);
		goto out_args;
	}
	struct ctl_command checked;
	if ((opts.shell && !seshfs_setting_valid("shell", opts.shell, &checked)) ||
	    (opts.user && !seshfs_setting_valid("user", opts.user, &checked)) ||
	    (opts.workdir && !seshfs_setting_valid("workdir", opts.workdir, &checked)))
		goto out_args;
	if (opts.stderr_mode) {
		if (!seshfs_setting_valid("stderr", opts.stderr_mode, &checked))
			goto out_args;
		cfg.defaults.stderr_merged = checked.flag;
	}
	if (opts.busy_input) {
		if (!seshfs_setting_valid("busy_input", opts.busy_input, &checked))
			goto out_args;
		cfg.refuse_busy_input = checked.flag;
	}
	if (opts.transport && strcmp(opts.transport, "auto") != 0) {
		if (strcmp(opts.transport, "fifo") != 0 && strcmp(opts.transport, "exec") != 0) {
			char shown[64];
			text_escape(opts.transport, strlen(opts.transport), shown, sizeof(shown));
			fprintf(stderr, "seshfs: transport '%s' must be auto, fifo or exec\n", shown);
			goto out_args;
		}
		cfg.transport = opts.transport[0] == 'f' ? SESSIONS_TRANSPORT_FIFO : SESSIONS_TRANSPORT_EXEC;
	}
	if (opts.echo) {
		if (!seshfs_setting_valid("echo", opts.echo, &checked))
			goto out_args;
		cfg.defaults.echo = checked.flag;
	}
	if (opts.tty && opts.policy) {
		fprintf(stderr, "seshfs: -o tty and -o policy= do not mix: a terminal's keys (^C, ^U, ...) "
			"change a line after the policy checked it\n");
		goto out_args;
	}
	if (!seshfs_load_guards(&opts, &cfg))
		goto out_args;
	cfg.defaults.tty = opts.tty;
	cfg.defaults.shell = strdup(opts.shell ? opts.shell : "/bin/sh");
	cfg.defaults.user = strdup(opts.user ? opts.user : "");
	cfg.defaults.workdir = strdup(opts.workdir ? opts.workdir : "");
	if (!cfg.defaults.shell || !cfg.defaults.user || !cfg.defaults.workdir)
		goto out_args;
	seshfs_raise_fd_limit();
	/* No thread has started yet and /dev/fuse is not open: the detacher gets neither. */
	detach_start(cmdline.mountpoint, cmdline.foreground);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "seshfs: cannot initialise libcurl\n");
		goto out_args;
	}
	char context_err[CONTEXT_ERR_MAX];
	if (context_resolve(opts.docker_host, opts.context, &endpoint, context_err) < 0) {
		fprintf(stderr, "seshfs: %s\n", context_err);
		goto out_curl;
	}
	if (!seshfs_tls(&opts, &endpoint, &tls, tls_files))
		goto out_curl;
	engine = engine_open(endpoint.host, &tls, err);
	if (!engine) {
		char shown[ENGINE_ERR_MAX * 4];	/* it quotes the host as given: one line whatever it holds */
		text_escape(err, strlen(err), shown, sizeof(shown));
		fprintf(stderr, "seshfs: %s\n", shown);
		goto out_curl;
	}
	if (opts.sandbox.image) {
		if (sandbox_start(engine, &opts.sandbox, opts.container ? opts.container : opts.sandbox.name,
				  cmdline.mountpoint, &cfg.defaults, &sandbox) < 0)
			goto out_engine;
		cfg.container = sandbox.name;
		cfg.own_container = true;
		cfg.status_lines = (const char *const *)sandbox.status_lines;
	} else {
		cfg.container = opts.container;
	}
	/* Check before mounting, so that a typo mounts nothing. */
	if (engine_container_check(engine, cfg.container, cfg.container_id, err) < 0) {
		fprintf(stderr, "seshfs: %s\n", err);
		goto out_sandbox;
	}
	cfg.engine = engine;
	/* FIFOs on an engine out of reach would fail every mkdir: refuse the mount instead. */
	if (cfg.transport == SESSIONS_TRANSPORT_FIFO && hostproc_engine_local(engine_url(engine), err) < 0) {
		fprintf(stderr, "seshfs: -o transport=fifo: %s\n", err);
		goto out_sandbox;
	}
	if (!opts.shell && seshfs_has_bash(engine, cfg.container) &&
	    settings_set_string(&cfg.defaults.shell, "/bin/bash", strlen("/bin/bash")) < 0)
		goto out_sandbox;

	/*
	 * Permissions are checked by fs/ops.c, not the kernel (default_permissions
	 * would cost a GETATTR per open of a file whose attributes are not cached).
	 * auto_unmount: fusermount3 unmounts once seshfs is gone, however it died,
	 * so that the mount point is free again at once.
	 */
	/* fsname: mount(8) and /proc/mounts show the container, as sshfs shows its host. */
	char *fsname = NULL;
	if (asprintf(&fsname, "-ofsname=%s", cfg.container) < 0)
		fsname = NULL;
	bool added = fsname && fuse_opt_add_arg(&args, fsname) == 0 &&
		     fuse_opt_add_arg(&args, "-osubtype=seshfs") == 0 && fuse_opt_add_arg(&args, "-oauto_unmount") == 0;
	free(fsname);
	if (!added)
		goto out_sandbox;
	se = fuse_session_new(&args, &seshfs_ops, sizeof(seshfs_ops), NULL);
	if (!se)
		goto out_sandbox;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmdline.mountpoint) != 0)
		goto out_signals;
	detach_arm();
	if (!cmdline.foreground)
		engine_before_fork(engine);	/* a thread would not survive the fork */
	fuse_daemonize(cmdline.foreground);
	log_init(cmdline.foreground, cmdline.debug);

	/* Threads start after fuse_daemonize: they would not survive its fork. */
	int init_ret = reply_start(se);
	if (init_ret == 0)
		init_ret = sessions_init(&cfg);
	if (init_ret < 0) {
		log_error("cannot start: %s", strerror(-init_ret));
	} else {
		log_info("mounted %s on %s (engine %s%s%s)", cfg.container, cmdline.mountpoint, engine_url(engine),
			 endpoint.name ? ", context " : "", endpoint.name ? endpoint.name : "");
		if (cfg.transport == SESSIONS_TRANSPORT_AUTO && hostproc_engine_local(engine_url(engine), err) < 0)
			log_info("shells use the engine's exec stream, not FIFOs: %s", err);
		if (cmdline.singlethread) {
			ret = fuse_session_loop(se);
		} else {
			loop_config = fuse_loop_cfg_create();
			fuse_loop_cfg_set_clone_fd(loop_config, cmdline.clone_fd);
			/* UINT_MAX means "not given": keep libfuse's defaults then. */
			if (cmdline.max_idle_threads != UINT_MAX)
				fuse_loop_cfg_set_idle_threads(loop_config, cmdline.max_idle_threads);
			if (cmdline.max_threads != UINT_MAX)
				fuse_loop_cfg_set_max_threads(loop_config, cmdline.max_threads);
			ret = fuse_session_loop_mt(se, loop_config);
		}
		/* The loop returns the signal number after SIGINT/SIGTERM/SIGHUP: a clean stop. */
		ret = ret != 0 && ret != SIGINT && ret != SIGTERM && ret != SIGHUP;
	}
	/*
	 * Stopping already: a SIGTERM now (a supervisor's, a second Ctrl-C) must
	 * not cut the clean-up short (shells, the sandbox). libfuse leaves a
	 * handler that is not its own in place when it removes its handlers.
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sessions_shutdown();
	reply_stop();
	fuse_session_unmount(se);
	detach_disarm();
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_sandbox:
	sandbox_end(engine, &sandbox);
	sandbox_free(&sandbox);
out_engine:
	engine_free(engine);
out_curl:
	curl_global_cleanup();
out_args:
	fuse_loop_cfg_destroy(loop_config);
	free(cmdline.mountpoint);
	free(opts.container);
	free(opts.docker_host);
	settings_free(&cfg.defaults);
	free(opts.shell);
	free(opts.user);
	free(opts.workdir);
	free(opts.idle_timeout);
	free(opts.timeout);
	free(opts.bufsize);
	free(opts.transcript_size);
	free(opts.history_size);
	free(opts.max_sessions);
	free(opts.warm);
	free(opts.parked_max);
	free(opts.stderr_mode);
	free(opts.busy_input);
	free(opts.transport);
	free(opts.echo);
	free(opts.policy);
	free(opts.redact);
	free(opts.second);
	sandbox_options_free(&opts.sandbox);
	free(opts.context);
	context_endpoint_free(&endpoint);
	free(opts.tls_ca);
	free(opts.tls_cert);
	free(opts.tls_key);
	for (int i = 0; i < 3; i++)
		free(tls_files[i]);
	log_set_filter(NULL);
	policy_free((struct policy *)cfg.policy);
	redact_free((struct redact_rules *)cfg.redact);
	fuse_opt_free_args(&args);
	return ret;
}
