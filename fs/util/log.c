/*
 * seshfs: logging (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "text.h"

#define LOG_LINE_MAX 1024

static bool log_to_stderr = true;
static bool log_debug_enabled;

void log_init(bool foreground, bool debug)
{
	log_to_stderr = foreground;
	log_debug_enabled = debug;
	if (!foreground)
		openlog("seshfs", LOG_PID, LOG_DAEMON);
}

/* Lines carry text from users and containers: escaped, they stay one printable line each. */
static void log_line(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	char shown[LOG_LINE_MAX];
	int len = vsnprintf(line, sizeof(line), fmt, ap);

	text_escape(line, len < 0 ? 0 : (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1,
		    shown, sizeof(shown));
	if (log_to_stderr)
		fprintf(stderr, "seshfs: %s\n", shown);
	else
		syslog(priority, "%s", shown);
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
