/*
 * seshfs: session start settings (see settings.h).
 */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int settings_set_string(char **field, const char *value, size_t len)
{
	char *copy = strndup(value, len);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

int settings_copy(struct session_settings *dst, const struct session_settings *src)
{
	struct session_settings copy = *src;

	copy.shell = strdup(src->shell);
	copy.user = strdup(src->user);
	copy.workdir = strdup(src->workdir);
	copy.env = calloc(src->env_count + 1, sizeof(*copy.env));
	copy.env_count = 0;
	if (!copy.shell || !copy.user || !copy.workdir || !copy.env)
		goto fail;
	for (; copy.env_count < src->env_count; copy.env_count++) {
		copy.env[copy.env_count] = strdup(src->env[copy.env_count]);
		if (!copy.env[copy.env_count])
			goto fail;
	}
	*dst = copy;
	return 0;
fail:
	settings_free(&copy);
	return -ENOMEM;
}

void settings_free(struct session_settings *s)
{
	for (size_t i = 0; s->env && i < s->env_count; i++)
		free(s->env[i]);
	free(s->env);
	free(s->shell);
	free(s->user);
	free(s->workdir);
	memset(s, 0, sizeof(*s));
}

static size_t settings_name_len(const char *assignment, size_t len)
{
	const char *eq = memchr(assignment, '=', len);

	return eq ? (size_t)(eq - assignment) : len;
}

static ssize_t settings_env_index(const struct session_settings *s, const char *name, size_t name_len)
{
	for (size_t i = 0; i < s->env_count; i++) {
		if (strncmp(s->env[i], name, name_len) == 0 && s->env[i][name_len] == '=')
			return (ssize_t)i;
	}
	return -1;
}

bool settings_has_env(const struct session_settings *s, const char *name)
{
	return settings_env_index(s, name, strlen(name)) >= 0;
}

int settings_setenv(struct session_settings *s, const char *assignment, size_t len)
{
	ssize_t index = settings_env_index(s, assignment, settings_name_len(assignment, len));
	char *copy = strndup(assignment, len);

	if (!copy)
		return -ENOMEM;
	if (index >= 0) {
		free(s->env[index]);
		s->env[index] = copy;
		return 0;
	}
	/* One spare slot keeps the array NULL-terminated for the exec's Env. */
	char **grown = realloc(s->env, (s->env_count + 2) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	grown[s->env_count++] = copy;
	grown[s->env_count] = NULL;
	s->env = grown;
	return 0;
}

void settings_unsetenv(struct session_settings *s, const char *name, size_t len)
{
	ssize_t index = settings_env_index(s, name, len);

	if (index < 0)
		return;
	free(s->env[index]);
	memmove(&s->env[index], &s->env[index + 1], (s->env_count - (size_t)index) * sizeof(*s->env));
	s->env_count--;
}
