/*
 * What the command splitter (fs/guard/cmdline.c) reports for shell input,
 * for the differential test (run.py), which compares it with what bash,
 * busybox ash and dash run.
 *
 *   splitter-report DIALECT < CASES
 *
 * DIALECT: bash, ash, dash or sh. Each line of CASES is one input, hex
 * encoded (so that it may hold newlines and NUL bytes), checked from a
 * fresh state. The input is fed as the policy feeds it: one physical line
 * at a time, each with its newline. One line out per case:
 *   ok WORDS     the splitter followed it all
 *   fail WORDS   cmdline_feed returned -1: the policy refuses the input
 * WORDS: the command words reported, in order, each " c:HEX" (checkable)
 * or " u:HEX" (not checkable: the policy refuses it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fs/guard/cmdline.h"

static void report_word(void *ctx, const char *word, size_t len, bool checkable)
{
	FILE *out = ctx;

	fprintf(out, " %c:", checkable ? 'c' : 'u');
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", (unsigned char)word[i]);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes text[0..len) in place; the decoded length, or -1 if it is not hex. */
static long hex_decode(char *text, size_t len)
{
	if (len % 2 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		text[i / 2] = (char)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

static void report_case(enum cmdline_dialect dialect, const char *input, size_t len, char **words, size_t *words_len)
{
	struct cmdline_state st;
	bool failed = false;
	FILE *out = open_memstream(words, words_len);

	if (!out) {
		perror("splitter-report: open_memstream");
		exit(2);
	}
	cmdline_init(&st, dialect);
	for (size_t start = 0; start < len && !failed;) {
		const char *nl = memchr(input + start, '\n', len - start);
		size_t line_len = nl ? (size_t)(nl - input) - start + 1 : len - start;
		failed = cmdline_feed(&st, input + start, line_len, report_word, out) < 0;
		start += line_len;
	}
	fclose(out);
	printf("%s%s\n", failed ? "fail" : "ok", *words);
}

int main(int argc, char **argv)
{
	int dialect = argc == 2 ? cmdline_dialect_parse(argv[1]) : -1;
	char *line = NULL, *words = NULL;
	size_t size = 0, words_len = 0;
	ssize_t got;
	int status = 0;

	if (dialect < 0) {
		fprintf(stderr, "usage: splitter-report bash|ash|dash|sh < hex-encoded-inputs\n");
		return 2;
	}
	while ((got = getline(&line, &size, stdin)) >= 0) {
		if (got > 0 && line[got - 1] == '\n')
			got--;
		long len = hex_decode(line, (size_t)got);
		if (len < 0) {
			fprintf(stderr, "splitter-report: a line that is not hex\n");
			status = 2;
			break;
		}
		report_case((enum cmdline_dialect)dialect, line, (size_t)len, &words, &words_len);
		free(words);
		words = NULL;
		/* The runner waits for each answer before it sends the next input. */
		fflush(stdout);
	}
	free(line);
	return status;
}
