/*
 * seshfs backend: the exec stream demultiplexer (see demux.h).
 */
#include "demux.h"

#include <errno.h>

void demux_init(struct demux *dm, bool raw)
{
	*dm = (struct demux){ .raw = raw, .stream = DEMUX_STDOUT };
}

int demux_feed(struct demux *dm, const char *data, size_t len, demux_sink sink, void *ctx)
{
	if (dm->raw) {
		if (len > 0)
			sink(ctx, DEMUX_STDOUT, data, len);
		return 0;
	}
	while (len > 0) {
		if (dm->payload_left == 0) {
			size_t take = sizeof(dm->header) - dm->header_len;
			if (take > len)
				take = len;
			for (size_t i = 0; i < take; i++)
				dm->header[dm->header_len + i] = (unsigned char)data[i];
			dm->header_len += take;
			data += take;
			len -= take;
			if (dm->header_len < sizeof(dm->header))
				return 0;
			dm->header_len = 0;
			/* Type 0 (stdin) is only echoed by engines for a TTY; treat it as stdout. */
			if (dm->header[0] > DEMUX_STDERR)
				return -EPROTO;
			dm->stream = dm->header[0] == DEMUX_STDERR ? DEMUX_STDERR : DEMUX_STDOUT;
			dm->payload_left = (uint32_t)dm->header[4] << 24 | (uint32_t)dm->header[5] << 16 |
					   (uint32_t)dm->header[6] << 8 | (uint32_t)dm->header[7];
			continue;
		}
		size_t take = dm->payload_left < len ? dm->payload_left : len;
		sink(ctx, dm->stream, data, take);
		dm->payload_left -= take;
		data += take;
		len -= take;
	}
	return 0;
}
