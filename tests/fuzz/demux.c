/*
 * Fuzz target: the exec stream demultiplexer (backend/demux.c), fed what
 * an engine (or anything posing as one) sends. Properties: the payload
 * bytes come out per stream exactly as a plain whole-buffer decoder reads
 * them, whatever the split of the input; a bad frame type is -EPROTO at
 * the same place.
 *
 * Input: byte 0 picks raw mode (bit 0) and seeds the split points; the
 * rest is the stream.
 */
#include <errno.h>
#include <string.h>

#include "../../backend/demux.h"
#include "fuzz.h"

struct output {
	uint8_t *bytes;	/* each byte tagged by its stream: 2 bytes per byte */
	size_t len;
};

static void output_add(struct output *o, enum demux_stream stream, const uint8_t *data, size_t len)
{
	FUZZ_ASSERT(stream == DEMUX_STDOUT || stream == DEMUX_STDERR);
	for (size_t i = 0; i < len; i++) {
		o->bytes[o->len++] = (uint8_t)stream;
		o->bytes[o->len++] = data[i];
	}
}

static void sink(void *ctx, enum demux_stream stream, const char *data, size_t len)
{
	FUZZ_ASSERT(len > 0);
	output_add(ctx, stream, (const uint8_t *)data, len);
}

/* The frame format read the obvious way; returns 0 or -EPROTO. */
static int reference_decode(const uint8_t *in, size_t len, bool raw, struct output *o)
{
	if (raw) {
		output_add(o, DEMUX_STDOUT, in, len);
		return 0;
	}
	size_t at = 0;
	while (len - at >= 8) {
		if (in[at] > 2)
			return -EPROTO;
		enum demux_stream stream = in[at] == 2 ? DEMUX_STDERR : DEMUX_STDOUT;
		size_t size = (size_t)in[at + 4] << 24 | (size_t)in[at + 5] << 16 | (size_t)in[at + 6] << 8 | in[at + 7];
		at += 8;
		size_t take = size < len - at ? size : len - at;
		output_add(o, stream, in + at, take);
		at += take;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool raw = data[0] & 1;
	uint32_t seed = data[0] | 1u;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	struct output want = { malloc(2 * len + 1), 0 };
	struct output got = { malloc(2 * len + 1), 0 };
	struct demux dm;
	int want_ret = reference_decode(in, len, raw, &want);
	int got_ret = 0;

	demux_init(&dm, raw);
	for (size_t at = 0; at < len && got_ret == 0;) {
		size_t piece = fuzz_piece(&seed, len - at, 13);
		got_ret = demux_feed(&dm, (const char *)in + at, piece, sink, &got);
		at += piece;
	}
	FUZZ_ASSERT(got_ret == want_ret);
	FUZZ_ASSERT(got.len == want.len && memcmp(got.bytes, want.bytes, got.len) == 0);
	free(want.bytes);
	free(got.bytes);
	return 0;
}
