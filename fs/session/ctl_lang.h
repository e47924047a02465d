/*
 * seshfs: the values the ctl language (ctl.c) and the mount options take:
 * pure parsers and formatters, no session state.
 */
#ifndef SESHFS_CTL_LANG_H
#define SESHFS_CTL_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CTL_MAX_COMMANDS 16
#define CTL_ERR_MAX 128
#define CTL_TIMEOUT_MAX_MS (INT64_C(1000000000) * 1000)
#define CTL_SIZE_MAX 10000

/* Parses a timeout in seconds ("1", "0.25"); -EINVAL if malformed or out of range. */
int ctl_parse_seconds(const char *text, size_t len, int64_t *ms);
/*
 * Parses a byte count for a mount option: decimal digits and an optional K or
 * M suffix (1024-based), min <= value <= max; -EINVAL otherwise. No sign, no
 * spaces: strtoull would take both, and wrap "-1" to 2^64-1.
 */
int ctl_parse_bytes(const char *text, size_t len, size_t min, size_t max, size_t *bytes);
/* Formats milliseconds as seconds without trailing zeros ("1", "0.25"). */
void ctl_format_seconds(int64_t ms, char *buf, size_t size);
/* UTC, ISO 8601 with milliseconds: 2026-11-26T22:10:01.123Z (buf: CTL_TIME_MAX bytes). */
#define CTL_TIME_MAX 32
void ctl_format_time(const struct timespec *when, char *buf, size_t size);
/* The canonical name (INT, KILL, ...; SIG prefix and case ignored), or NULL. */
const char *ctl_signal_name(const char *word, size_t len);
/* "COLS ROWS", each 1..CTL_SIZE_MAX. */
bool ctl_parse_size(const char *arg, size_t len, unsigned *cols, unsigned *rows);
/* NAME=VALUE (with_value) or NAME, NAME a shell variable name. */
bool ctl_valid_env(const char *arg, size_t len, bool with_value);
bool ctl_is_space(char c);

#endif
