/*
 * seshfs: how a session's shell is started (mount defaults, changed through
 * ctl, applied at mkdir and restart).
 */
#ifndef SESHFS_SETTINGS_H
#define SESHFS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#define SETTINGS_DEFAULT_COLS 80
#define SETTINGS_DEFAULT_ROWS 24
#define SETTINGS_USER_MAX 256	/* user names, with the NUL */

struct session_settings {
	char *shell;
	char *user;	/* "" = the container's default user */
	char *workdir;	/* "" = the container's default directory */
	char **env;	/* "K=V", env_count of them */
	size_t env_count;
	bool tty;
	bool echo;		/* tty: the terminal echoes input */
	bool stderr_merged;	/* the shell's fd 2 is its stdout: one ordered stream */
	unsigned cols;
	unsigned rows;
};

/* All return 0 or -ENOMEM; on failure the destination is unchanged. */
int settings_copy(struct session_settings *dst, const struct session_settings *src);
void settings_free(struct session_settings *s);
int settings_set_string(char **field, const char *value, size_t len);
/* Adds or replaces NAME=VALUE. */
int settings_setenv(struct session_settings *s, const char *assignment, size_t len);
void settings_unsetenv(struct session_settings *s, const char *name, size_t len);
bool settings_has_env(const struct session_settings *s, const char *name);

#endif
