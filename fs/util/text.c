/*
 * seshfs: escaping and checking text (see text.h).
 */
#include "text.h"

#include <stdio.h>

/* The length of the well-formed UTF-8 character at text (len > 0), or 0 if there is none. */
static size_t utf8_char_len(const unsigned char *text, size_t len)
{
	unsigned c = text[0];
	size_t n;
	unsigned min;

	if (c < 0x80)
		return c != 0;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	unsigned code = c & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((text[i] & 0xc0) != 0x80)
			return 0;
		code = code << 6 | (text[i] & 0x3f);
	}
	if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
		return 0;
	return n;
}

bool text_valid_utf8(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;

	while (len > 0) {
		size_t n = utf8_char_len(p, len);
		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

size_t text_escape(const char *text, size_t len, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t used = 0;

	if (size == 0)
		return 0;
	while (len > 0) {
		size_t n = utf8_char_len(p, len);
		/* C1 controls (U+0080..U+009F, c2 80..c2 9f) act on terminals like C0 ones. */
		bool c1 = n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
		bool plain = (n > 1 && !c1) || (n == 1 && p[0] >= 0x20 && p[0] < 0x7f && p[0] != '\\');
		size_t need = plain ? n : p[0] == '\\' ? 2 : 4;
		if (used + need >= size)
			break;
		if (plain) {
			for (size_t i = 0; i < n; i++)
				out[used++] = (char)p[i];
		} else if (p[0] == '\\') {
			out[used++] = '\\';
			out[used++] = '\\';
		} else {
			snprintf(out + used, 5, "\\x%02x", p[0]);
			used += 4;
		}
		n = plain ? n : 1;
		p += n;
		len -= n;
	}
	out[used] = '\0';
	return used;
}
