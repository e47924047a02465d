/*
 * seshfs: text that came from a user or a container, made safe to show.
 */
#ifndef SESHFS_TEXT_H
#define SESHFS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Shown texts (an error line, a log line's quoted part) keep at most this many bytes. */
#define TEXT_SHOWN_MAX 200

/* Is text[0..len) well-formed UTF-8 (no overlong forms, surrogates or NULs)? */
bool text_valid_utf8(const char *text, size_t len);

/*
 * Copies text[0..len) into out (size bytes, NUL-terminated) with every
 * control byte (C0, DEL, and the bytes of a C1 control character),
 * backslash and byte that is not part of well-formed UTF-8 written as \xNN (a backslash as \\), so the result is one printable line.
 * It stops before a character that would not fit whole. Returns its length.
 */
size_t text_escape(const char *text, size_t len, char *out, size_t size);

#endif
