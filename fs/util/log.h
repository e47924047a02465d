/*
 * seshfs: log lines go to stderr in the foreground, to syslog once daemonized.
 */
#ifndef SESHFS_LOG_H
#define SESHFS_LOG_H

#include <stdbool.h>

#include <stddef.h>
#include <sys/types.h>

void log_init(bool foreground, bool debug);
/*
 * A filter every line passes before it is escaped and written (redaction):
 * a malloc'd copy in *out and its length, 0 to keep the line, -1 to drop it.
 */
typedef ssize_t (*log_filter)(const char *line, size_t len, char **out);
void log_set_filter(log_filter filter);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
