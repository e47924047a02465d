/*
 * seshfs: bash's terminal noise, taken out of its stderr.
 *
 * An interactive bash whose stderr is not a terminal (a pipe session) tries
 * to restore the terminal's state after every foreground job a signal ended
 * (`yes | head`: SIGPIPE) and reports the failure on its stderr:
 *
 *     bash: [565: 2 (255)] tcsetattr: Inappropriate ioctl for device
 *
 * No program wrote that and there is no terminal: it is prompt noise. So is
 * the job line it prints for a command line started with & ("[1] 14"),
 * which busybox ash and dash do not print ($! has the pid); as a program
 * could print such a line too, it is dropped only where bash prints it: before
 * any other line since the shell read a command (its PS0 marker). The
 * filter drops exactly such whole lines (at the start of a line) and passes
 * every other byte through; a line that only starts like one is held back
 * until it is told apart, never eaten.
 */
#ifndef SESHFS_NOISE_H
#define SESHFS_NOISE_H

#include <stdbool.h>
#include <stddef.h>

#define NOISE_LINE_MAX 96

struct noise_filter {
	bool line_start;	/* the next byte starts a line */
	bool after_start;	/* no line but noise since the shell read a command */
	char held[NOISE_LINE_MAX];
	size_t held_len;
};

typedef void (*noise_sink)(void *ctx, const char *data, size_t len);

void noise_init(struct noise_filter *nf);
/* The shell read a command line (its PS0 marker came on this stream). */
void noise_command_started(struct noise_filter *nf);
void noise_filter(struct noise_filter *nf, const char *data, size_t len, noise_sink out, void *ctx);
/* End of stream: whatever was held back is output after all. */
void noise_flush(struct noise_filter *nf, noise_sink out, void *ctx);

#endif
