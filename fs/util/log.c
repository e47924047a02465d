/*
 * seshfs: logging (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

static bool log_to_stderr = true;
static bool log_debug_enabled;

void log_init(bool foreground, bool debug)
{
	log_to_stderr = foreground;
	log_debug_enabled = debug;
	if (!foreground)
		openlog("seshfs", LOG_PID, LOG_DAEMON);
}

static void log_line(int priority, const char *fmt, va_list ap)
{
	if (log_to_stderr) {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "seshfs: %s\n", line);
	} else {
		vsyslog(priority, fmt, ap);
	}
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
