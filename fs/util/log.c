/*
 * seshfs: logging (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "text.h"

#define LOG_LINE_MAX 1024

static bool log_to_stderr = true;
static bool log_debug_enabled;
static log_filter log_line_filter;

void log_init(bool foreground, bool debug)
{
	log_to_stderr = foreground;
	log_debug_enabled = debug;
	if (!foreground)
		openlog("seshfs", LOG_PID, LOG_DAEMON);
}

void log_set_filter(log_filter filter)
{
	log_line_filter = filter;
}

/*
 * Lines carry text from users and containers: filtered whole (a secret cut
 * in two would pass), then escaped, they stay one printable line each.
 */
static void log_line(int priority, const char *fmt, va_list ap)
{
	char shown[LOG_LINE_MAX];
	char *line = NULL, *filtered = NULL;
	int n = vasprintf(&line, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	ssize_t filtered_len = n >= 0 && log_line_filter ? log_line_filter(line, len, &filtered) : 0;

	if (n < 0 || filtered_len < 0)
		goto out;
	if (filtered)
		text_escape(filtered, (size_t)filtered_len, shown, sizeof(shown));
	else
		text_escape(line, len, shown, sizeof(shown));
	if (log_to_stderr)
		fprintf(stderr, "seshfs: %s\n", shown);
	else
		syslog(priority, "%s", shown);
out:
	if (n >= 0)
		free(line);
	free(filtered);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_ERR, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_INFO, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_enabled)
		return;
	va_start(ap, fmt);
	log_line(LOG_DEBUG, fmt, ap);
	va_end(ap);
}
