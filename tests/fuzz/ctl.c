/*
 * Fuzz target: the ctl language (fs/session/ctl.c), fed what a user writes
 * to ctl, and the escaping of what is shown back (fs/util/text.c).
 * Properties: a write is some commands or -EINVAL with a reason; each
 * parsed argument lies on its own line of the input; an error, once
 * escaped as the ctl error line and the log show it, is one printable
 * UTF-8 line, and unescaping it gives back the bytes it stands for.
 */
#include <errno.h>
#include <string.h>

#include "../../fs/session/ctl.h"
#include "../../fs/util/text.h"
#include "fuzz.h"

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Escapes text; checks the result is printable and unescapes to a prefix of text. */
static void check_escape(const char *text, size_t len, size_t size)
{
	char shown[TEXT_SHOWN_MAX + 1];
	size_t shown_len = text_escape(text, len, shown, size);
	size_t at = 0;

	FUZZ_ASSERT(shown_len < size && shown[shown_len] == '\0' && strlen(shown) == shown_len);
	FUZZ_ASSERT(text_valid_utf8(shown, shown_len));
	for (size_t i = 0; i < shown_len; i++) {
		unsigned char c = (unsigned char)shown[i];
		FUZZ_ASSERT(c >= 0x20 && c != 0x7f);
		/* No C1 control either (U+0080..U+009F). */
		FUZZ_ASSERT(c != 0xc2 || (unsigned char)shown[i + 1] >= 0xa0);
		if (c != '\\') {
			FUZZ_ASSERT(at < len && text[at] == shown[i]);
			at++;
			continue;
		}
		FUZZ_ASSERT(i + 1 < shown_len);
		if (shown[i + 1] == '\\') {
			FUZZ_ASSERT(at < len && text[at] == '\\');
			i++;
		} else {
			FUZZ_ASSERT(shown[i + 1] == 'x' && i + 3 < shown_len);
			int hi = hex(shown[i + 2]), lo = hex(shown[i + 3]);
			FUZZ_ASSERT(hi >= 0 && lo >= 0 && at < len && (unsigned char)text[at] == hi * 16 + lo);
			i += 3;
		}
		at++;
	}
	/* Only what did not fit is left out: a whole escape or character at most. */
	if (at < len)
		FUZZ_ASSERT(shown_len + 4 * 4 >= size - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct ctl_command cmds[CTL_MAX_COMMANDS];
	char err[CTL_ERR_MAX];
	int count = ctl_parse(text, size, cmds, err);

	FUZZ_ASSERT(count == -EINVAL || (count >= 1 && count <= CTL_MAX_COMMANDS));
	if (count < 0) {
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
		check_escape(err, strlen(err), sizeof(err));
	}
	for (int i = 0; i < count; i++) {
		FUZZ_ASSERT(cmds[i].def != NULL);
		FUZZ_ASSERT(cmds[i].arg >= text && cmds[i].arg + cmds[i].arg_len <= text + size);
		FUZZ_ASSERT(!memchr(cmds[i].arg, '\n', cmds[i].arg_len));
		if (i > 0)
			FUZZ_ASSERT(cmds[i].arg > cmds[i - 1].arg + cmds[i - 1].arg_len);
	}
	check_escape(text, size, TEXT_SHOWN_MAX + 1);
	check_escape(text, size, 1 + size % (TEXT_SHOWN_MAX + 1));
	return 0;
}
