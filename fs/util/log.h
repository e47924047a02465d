/*
 * seshfs: log lines go to stderr in the foreground, to syslog once daemonized.
 */
#ifndef SESHFS_LOG_H
#define SESHFS_LOG_H

#include <stdbool.h>

void log_init(bool foreground, bool debug);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
