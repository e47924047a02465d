/*
 * seshfs: a FIFO of bytes kept in fixed-size chunks.
 *
 * Memory follows the bytes held, not a reserved capacity, so an idle
 * session costs nothing here. Readers take bytes straight out of the
 * chunks (bytequeue_peek fills an iovec for fuse_reply_iov) and then
 * bytequeue_drop them: no copy on the way to the kernel.
 */
#ifndef SESHFS_BYTEQUEUE_H
#define SESHFS_BYTEQUEUE_H

#include <stddef.h>
#include <sys/uio.h>

struct bytequeue_chunk;

struct bytequeue {
	struct bytequeue_chunk *head;
	struct bytequeue_chunk *tail;
	size_t len;
};

/* Returns 0 or -ENOMEM (then nothing was added). */
int bytequeue_push(struct bytequeue *q, const char *data, size_t len);
/* Up to max bytes from the front as at most iov_max iovecs; returns the iovec count. */
int bytequeue_peek(const struct bytequeue *q, size_t max, struct iovec *iov, int iov_max);
/* The same, starting offset bytes from the front. */
int bytequeue_peek_at(const struct bytequeue *q, size_t offset, size_t max, struct iovec *iov, int iov_max);
void bytequeue_drop(struct bytequeue *q, size_t len);
void bytequeue_clear(struct bytequeue *q);

#endif
