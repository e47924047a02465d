/*
 * seshfs backend: the Docker exec stream demultiplexer.
 *
 * Without a TTY the engine frames output: an 8-byte header
 * {type, 0, 0, 0, size as big-endian uint32} then size bytes of payload,
 * type 1 for stdout and 2 for stderr. With a TTY the stream is raw
 * (everything is stdout). demux_feed() takes bytes as they come, in any
 * split, and hands each payload piece to the sink in order.
 */
#ifndef SESHFS_DEMUX_H
#define SESHFS_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum demux_stream {
	DEMUX_STDOUT = 1,
	DEMUX_STDERR = 2,
};

typedef void (*demux_sink)(void *ctx, enum demux_stream stream, const char *data, size_t len);

struct demux {
	bool raw;
	unsigned char header[8];
	size_t header_len;
	uint32_t payload_left;
	enum demux_stream stream;
};

void demux_init(struct demux *dm, bool raw);
/* Returns 0, or -EPROTO on a frame type the engine never sends (the stream is garbage). */
int demux_feed(struct demux *dm, const char *data, size_t len, demux_sink sink, void *ctx);

#endif
